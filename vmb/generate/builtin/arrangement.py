"""What the composer writes: notes on tracks, sections, chords and a tempo map, in beats.

An :class:`Arrangement` is symbolic (times in quarter-note beats); :meth:`Arrangement.events`
turns it into :class:`NoteEvent` s in seconds through its tempo map, which is what the renderers
play and what :func:`vmb.generate.builtin.midi.read_midi` also produces from any MIDI file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vmb.generate.builtin.tables import PITCH_CLASSES, ChordSpec

DRUM_CHANNEL = 9


class _Voice:
    """What a track and a note event share: an instrument on a MIDI ``channel``."""

    channel: int

    @property
    def is_drums(self) -> bool:
        """On General MIDI's drum channel (10, here 0-based 9)."""
        return self.channel == DRUM_CHANNEL


@dataclass(frozen=True)
class Note:
    """One note: start and length in beats, MIDI pitch 0-127, velocity 1-127."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass
class Track(_Voice):
    """One instrument: a General MIDI ``program`` on a MIDI ``channel`` (9 = drums).

    ``volume`` and ``pan`` are MIDI controller values 0-127 (64 = centre); ``reverb`` is the
    send level (CC 91).
    """

    name: str
    role: str
    program: int
    channel: int
    notes: list[Note] = field(default_factory=list)
    volume: int = 100
    pan: int = 64
    reverb: int = 40


@dataclass(frozen=True)
class Section:
    """A span of bars with one role in the form: ``intro``, ``A``, ``B``, ``C``, ``ending``."""

    name: str
    start_bar: int
    bars: int
    energy: float
    harmony: str  # the letter whose progression it plays, "reference", or "cadence"
    moods: tuple[str, ...] = ()  # a planned section's own moods (empty: the piece's)


@dataclass(frozen=True)
class ChordEvent:
    start: float  # beats
    duration: float
    chord: ChordSpec


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: ``changes`` are ``(beat, bpm)`` sorted by beat, the first at 0.

    ``offset_s`` is the time of beat 0 (a *pickup*): the first tempo runs before it too, so the
    ``pickup_beats`` before beat 0 are negative beats and the beat grid is shifted by
    ``offset_s`` (a piece that hits cuts starts its first whole bar there).
    """

    changes: tuple[tuple[float, float], ...]
    offset_s: float = 0.0

    @property
    def pickup_beats(self) -> float:
        """Beats before beat 0 (``offset_s`` at the first tempo)."""
        return self.offset_s * self.changes[0][1] / 60.0

    def seconds(self, beats: np.ndarray | float) -> np.ndarray:
        """Beat positions → seconds, vectorised. Shape as the input."""
        b = np.asarray(beats, dtype=np.float64)
        starts = np.array([c[0] for c in self.changes])
        bpms = np.array([c[1] for c in self.changes])
        seg_s = np.diff(starts) * 60.0 / bpms[:-1]
        offsets = np.concatenate([[0.0], np.cumsum(seg_s)])
        i = np.clip(np.searchsorted(starts, b, side="right") - 1, 0, len(starts) - 1)
        return self.offset_s + offsets[i] + (b - starts[i]) * 60.0 / bpms[i]

    def beat_at(self, seconds: float) -> float:
        """The inverse of :meth:`seconds` for one time."""
        t = self.offset_s
        if seconds < t:  # in the pickup
            return (seconds - t) * self.changes[0][1] / 60.0
        for (b0, bpm), nxt in zip(self.changes, list(self.changes[1:]) + [None]):
            span_s = np.inf if nxt is None else (nxt[0] - b0) * 60.0 / bpm
            if seconds <= t + span_s:
                return b0 + (seconds - t) * bpm / 60.0
            t += span_s
        raise AssertionError("unreachable: the last tempo segment is unbounded")


@dataclass(frozen=True)
class NoteEvent(_Voice):
    """A note to sound, in seconds, with its instrument (what renderers consume)."""

    start_s: float
    duration_s: float
    pitch: int
    velocity: int
    program: int
    channel: int
    volume: int = 100
    pan: int = 64
    reverb: int = 40


@dataclass
class Arrangement:
    """A composed piece: tracks of notes in beats over a tempo map.

    Attributes:
        tempo_bpm: the body tempo (the ending may slow down, see ``tempo_map``).
        key, mode: the tonic's name (``"A"``) and ``"major"``/``"minor"``.
        duration_s: the length the piece was composed for; the last chord ends inside it.
        tracks, sections, chords: what is played, its form, and its harmony.
        choices: how each attribute was decided (description, reference, want, default).
        seed: the seed it was composed with.
    """

    tempo_bpm: float
    key: str
    mode: str
    duration_s: float
    tempo_map: TempoMap
    tracks: list[Track] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    chords: list[ChordEvent] = field(default_factory=list)
    genre: str = ""
    energy: float = 0.5
    beats_per_bar: int = 4
    choices: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    loop: bool = False  # the last bar leads into the first; notes may ring over the end

    def stems(self) -> dict[str, list[Track]]:
        """Tracks grouped by part for stems: ``{"drums": [...], "bass": [...], ...}``
        (timpani goes with the drums, the pad and arpeggio with the harmony)."""
        group = {"comp": "harmony", "pad": "harmony", "arp": "harmony", "timpani": "drums"}
        out: dict[str, list[Track]] = {}
        for t in self.tracks:
            out.setdefault(group.get(t.role, t.role), []).append(t)
        return out

    @property
    def tonic(self) -> int:
        return PITCH_CLASSES.index(self.key)

    def track(self, role: str) -> Track | None:
        return next((t for t in self.tracks if t.role == role), None)

    def events(self) -> list[NoteEvent]:
        """All notes in seconds, sorted by start time."""
        out: list[NoteEvent] = []
        for tr in self.tracks:
            if not tr.notes:
                continue
            starts = np.array([n.start for n in tr.notes])
            ends = np.array([n.start + n.duration for n in tr.notes])
            s0 = self.tempo_map.seconds(starts)
            s1 = self.tempo_map.seconds(ends)
            for n, a, b in zip(tr.notes, s0, s1):
                out.append(
                    NoteEvent(float(a), float(b - a), n.pitch, n.velocity, tr.program, tr.channel,
                              tr.volume, tr.pan, tr.reverb)
                )
        out.sort(key=lambda e: (e.start_s, e.channel, e.pitch))
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly overview (no notes)."""
        return {
            "tempo_bpm": round(self.tempo_bpm, 2),
            "key": self.key,
            "mode": self.mode,
            "genre": self.genre,
            "energy": round(self.energy, 3),
            "duration_s": self.duration_s,
            "form": [f"{s.name}:{s.bars}" for s in self.sections],
            "loop": self.loop,
            "tracks": {t.name: {"program": t.program, "notes": len(t.notes)} for t in self.tracks},
            "choices": dict(self.choices),
            "seed": self.seed,
        }
