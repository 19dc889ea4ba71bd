"""Fixtures of the built-in generator tests: renderers, descriptions and reference music.

Reference clips are standard MIDI files written here by hand (not by the composer under test),
rendered to wav through :func:`render_midi` and wrapped in :class:`Hit` s, the way the demo
index renders real scores.
"""

from __future__ import annotations

import os
import shutil

import mido
import pytest

from vmb.types import Bridges, Clip, Hit, MusicDescription

HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None and any(
    os.path.isfile(p) for p in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", os.environ.get("VMB_SOUNDFONT") or "")
)
needs_fluidsynth = pytest.mark.skipif(not HAVE_FLUIDSYNTH, reason="fluidsynth or the GM soundfont is not installed")
RENDERERS = [pytest.param("numpy", id="numpy"), pytest.param("fluidsynth", id="fluidsynth", marks=needs_fluidsynth)]


@pytest.fixture(params=RENDERERS)
def renderer(request) -> str:
    """Each renderer in turn (fluidsynth skipped where it is not installed)."""
    return request.param


@pytest.fixture
def require_fluidsynth() -> None:
    if not HAVE_FLUIDSYNTH:
        pytest.skip("fluidsynth or the GM soundfont is not installed")


@pytest.fixture(scope="session", autouse=True)
def _private_level_cache(tmp_path_factory):
    """Soundfont level measurements go to a temporary cache, not the user's."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


def bridges_for(references=(), text_weight=3.0, music_weight=1.0, wants=None, **fields) -> Bridges:
    description = MusicDescription(**fields)
    kwargs = {"wants": wants} if wants is not None else {}
    return Bridges(description=description, text=description.text, references=tuple(references),
                   text_weight=text_weight, music_weight=music_weight, **kwargs)


@pytest.fixture
def make_bridges():
    """``make_bridges(genre="pop", tempo_bpm=120, ...)`` → :class:`Bridges`."""
    return bridges_for


def write_progression_midi(path, bpm: float, chords: list[list[int]], bars: int = 8, program: int = 0,
                           drums: bool = True) -> str:
    """A four-to-the-bar loop: block chords on every beat, the root two octaves down on beats 1
    and 3 (acoustic bass), kick/snare/hat drums. ``chords``: MIDI notes per bar, cycled."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", channel=0, program=program, time=0))
    track.append(mido.Message("program_change", channel=1, program=32, time=0))
    events = []
    for bar in range(bars):
        notes = chords[bar % len(chords)]
        for beat in range(4):
            t = (bar * 4 + beat) * 480
            for n in notes:
                events.append((t, 1, mido.Message("note_on", channel=0, note=n, velocity=80)))
                events.append((t + 440, 0, mido.Message("note_off", channel=0, note=n, velocity=0)))
            if beat in (0, 2):
                events.append((t, 1, mido.Message("note_on", channel=1, note=notes[0] - 24, velocity=90)))
                events.append((t + 900, 0, mido.Message("note_off", channel=1, note=notes[0] - 24, velocity=0)))
            if drums:
                drum = 36 if beat % 2 == 0 else 38
                events.append((t, 1, mido.Message("note_on", channel=9, note=drum, velocity=90)))
                events.append((t + 100, 0, mido.Message("note_off", channel=9, note=drum, velocity=0)))
                events.append((t + 240, 1, mido.Message("note_on", channel=9, note=42, velocity=60)))
                events.append((t + 300, 0, mido.Message("note_off", channel=9, note=42, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - now))
        now = t
    mid.save(path)
    return str(path)


# F# minor, i iv VII III at 100 BPM, and (unrelated) E-flat major, I IV V vi at 132 BPM
F_SHARP_MINOR_LOOP = [[66, 69, 73], [71, 74, 78], [64, 68, 71], [69, 73, 76]]
E_FLAT_MAJOR_LOOP = [[63, 67, 70], [68, 72, 75], [70, 74, 77], [72, 75, 79]]


@pytest.fixture(scope="session")
def reference_hits(tmp_path_factory):
    """Two 10 s reference clips as pinned :class:`Hit` s: ``{"f#m": hit, "eb": hit}``.

    Rendered with the numpy synthesiser so the fixture works on every machine.
    """
    from vmb.generate.builtin import render_midi
    from vmb.media import write_wav

    folder = tmp_path_factory.mktemp("references")
    hits = {}
    for name, bpm, loop in (("f#m", 100.0, F_SHARP_MINOR_LOOP), ("eb", 132.0, E_FLAT_MAJOR_LOOP)):
        midi = write_progression_midi(folder / f"{name}.mid", bpm, loop)
        audio, sr, _ = render_midi(midi, sample_rate=32000, renderer="numpy", length_s=10.0)
        wav = folder / f"{name}.wav"
        write_wav(wav, audio, sr)
        clip = Clip(id=name, path=str(wav), start_s=0.0, duration_s=10.0, sample_rate=sr)
        hits[name] = Hit(clip=clip, score=0.9, rank=0, track="pinned")
    return hits


@pytest.fixture
def progression_midi(tmp_path):
    """``progression_midi(bpm, chords, bars=8)`` → path of a hand-written MIDI file."""

    def make(bpm=100.0, chords=F_SHARP_MINOR_LOOP, bars=8, **kw):
        return write_progression_midi(tmp_path / f"loop_{bpm:g}.mid", bpm, chords, bars, **kw)

    return make
