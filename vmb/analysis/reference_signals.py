"""Reference signals with known tempo, key and chords, to check the measurements against.

Click tracks and small arrangements (kick, snare, hi-hat, bass, chord pad, all synthesised with
numpy from harmonic tones and filtered noise) whose ground truth is known by construction. The
tests of :mod:`vmb.analysis` and ``benchmarks/bench_analysis.py`` use them; they are also handy to
sanity-check a renderer. Deterministic for a given ``seed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def harmonic_tone(freq: float, duration_s: float, sr: int, num_harmonics: int = 6,
                  attack_s: float = 0.01, release_s: float = 0.08, decay: float = 0.0) -> np.ndarray:
    """A tone with ``num_harmonics`` harmonics at amplitudes ``1/k`` ``[T]`` float32, peak ~1.

    ``decay`` (1/s) adds an exponential decay, as a plucked or struck string.
    """
    n = max(1, int(round(duration_s * sr)))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k in range(1, num_harmonics + 1):
        if k * freq < sr / 2:
            out += np.sin(2 * np.pi * k * freq * t) / k
    env = np.ones(n)
    a = min(n, max(1, int(attack_s * sr)))
    r = min(n - a, max(1, int(release_s * sr)))
    env[:a] = np.linspace(0, 1, a)
    if r > 0:
        env[n - r:] *= np.linspace(1, 0, r)
    if decay:
        env *= np.exp(-decay * t)
    out *= env
    return (out / max(1e-9, np.abs(out).max())).astype(np.float32)


def chord_tone(midi_notes: Sequence[float], duration_s: float, sr: int, **kw) -> np.ndarray:
    """The notes of a chord sounded together ``[T]`` float32, peak ~1."""
    tones = sum(harmonic_tone(midi_to_hz(m), duration_s, sr, **kw) for m in midi_notes)
    return (tones / max(1e-9, np.abs(tones).max())).astype(np.float32)


def triad(root_pc: int, quality: str, octave: int = 4) -> list[int]:
    """MIDI notes of a root-position triad: ``triad(0, "maj")`` = C4 E4 G4."""
    third = 4 if quality == "maj" else 3
    root = 12 * (octave + 1) + root_pc
    return [root, root + third, root + 7]


def click_track(bpm: float, duration_s: float, sr: int, accent_every: int = 4,
                click_hz: float = 1000.0) -> np.ndarray:
    """Short decaying clicks on every beat (the downbeat louder and higher) ``[T]`` float32."""
    n = int(round(duration_s * sr))
    out = np.zeros(n, dtype=np.float32)
    length = int(0.03 * sr)
    t = np.arange(length) / sr
    period = 60.0 / bpm
    for i, start in enumerate(np.arange(0.0, duration_s, period)):
        accent = accent_every and i % accent_every == 0
        f = click_hz * (1.5 if accent else 1.0)
        click = np.sin(2 * np.pi * f * t) * np.exp(-t / 0.006) * (1.0 if accent else 0.6)
        s = int(round(start * sr))
        e = min(n, s + length)
        out[s:e] += click[: e - s]
    return out


def _kick(sr: int) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    freq = 50 + 90 * np.exp(-t / 0.03)
    return (np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.09)).astype(np.float32)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.18 * sr)) / sr
    noise = rng.standard_normal(len(t)) * np.exp(-t / 0.045)
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    return (0.5 * noise + 0.6 * body).astype(np.float32)


def _hihat(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.05 * sr)) / sr
    noise = rng.standard_normal(len(t))
    noise = np.diff(noise, prepend=0.0)  # first difference tilts the noise towards the highs
    return (0.35 * noise * np.exp(-t / 0.012)).astype(np.float32)


def _place(out: np.ndarray, sound: np.ndarray, start_s: float, sr: int, gain: float = 1.0) -> None:
    s = int(round(start_s * sr))
    if s >= len(out):
        return
    e = min(len(out), s + len(sound))
    out[s:e] += gain * sound[: e - s]


def arrangement(bpm: float, duration_s: float, sr: int, progression: Sequence[tuple[int, str]] = ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
                beats_per_chord: int = 4, drums: bool = True, bass: bool = True, pad: bool = True,
                hihat: str = "eighths", kick: str = "backbeat", bass_notes_per_beat: int = 2,
                bass_offbeat_gain: float = 0.6,
                gain: float = 0.5, seed: int = 0) -> np.ndarray:
    """A pop-style loop ``[T]`` float32: drums, bass on the chord root, and a sustained chord
    pad changing every ``beats_per_chord`` beats through ``progression`` (pitch class,
    ``"maj"``/``"min"``) from time 0. Peak level ``gain``.

    Drums: ``kick="backbeat"`` puts the kick on beats 1 and 3 and the snare on 2 and 4,
    ``"four"`` the kick on every beat with the snare on 2 and 4 as well, ``"syncopated"`` the
    kick on 1, the and of 2, and 3; hi-hats play ``"eighths"``, ``"sixteenths"`` or
    ``"none"``. The bass plays ``bass_notes_per_beat`` notes a beat, those between the beats
    at ``bass_offbeat_gain`` of the level of those on them.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sr))
    out = np.zeros(n, dtype=np.float32)
    beat = 60.0 / bpm
    num_beats = int(np.ceil(duration_s / beat))
    if drums:
        kick_sound, snare, hat = _kick(sr), _snare(sr, rng), _hihat(sr, rng)
        for b in range(num_beats):
            t = b * beat
            if kick == "four" or b % 2 == 0:
                _place(out, kick_sound, t, sr, 0.9)
            if b % 2 == 1:
                _place(out, snare, t, sr, 0.9)
            if kick == "syncopated" and b % 4 == 1:
                _place(out, kick_sound, t + beat / 2, sr, 0.8)
            subdivisions = {"eighths": 2, "sixteenths": 4}.get(hihat, 0)
            for k in range(subdivisions):
                _place(out, hat, t + k * beat / subdivisions, sr, 0.5 if k else 0.7)
    chord_len = beat * beats_per_chord
    for c, start in enumerate(np.arange(0.0, duration_s, chord_len)):
        root, quality = progression[c % len(progression)]
        if pad:
            notes = triad(root, quality, octave=4)
            _place(out, 0.35 * chord_tone(notes, chord_len, sr, attack_s=0.02, release_s=0.05), start, sr)
        if bass:
            step = beat / bass_notes_per_beat
            note = harmonic_tone(midi_to_hz(12 * 3 + root), step, sr, num_harmonics=4, decay=3.0)
            for k in range(bass_notes_per_beat * beats_per_chord):
                accent = 1.0 if k % bass_notes_per_beat == 0 else bass_offbeat_gain
                _place(out, 0.45 * accent * note, start + k * step, sr)
    return (gain * out / max(1e-9, np.abs(out).max())).astype(np.float32)


def cadence(tonic_pc: int, mode: str, sr: int, chord_s: float = 0.8, seed: int = 0) -> np.ndarray:
    """The scale of the key (up an octave) then the cadence I–IV–V–I (i–iv–V–i in harmonic
    minor), played with harmonic tones ``[T]`` float32, peak 0.5."""
    del seed
    scale = MAJOR_SCALE if mode == "major" else HARMONIC_MINOR_SCALE
    base = 60 + tonic_pc
    parts = [harmonic_tone(midi_to_hz(base + s), 0.25, sr) for s in (*scale, 12)]
    minor = mode != "major"
    for degree, quality in ((0, "min" if minor else "maj"), (5, "min" if minor else "maj"), (7, "maj"), (0, "min" if minor else "maj")):
        notes = triad((tonic_pc + degree) % 12, quality, octave=4)
        notes.append(12 * 3 + (tonic_pc + degree) % 12)  # bass note
        parts.append(chord_tone(notes, chord_s, sr))
    out = np.concatenate(parts)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)
