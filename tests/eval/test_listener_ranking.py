"""FD on the built-in features ranks sets the way a listener would: the same clips ≈ 0 < other
real music < clicks, noise, silence. Real music: Bach chorales from the music21 corpus rendered
with FluidSynth and the General MIDI soundfont."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

SR = 22050
PIECES = {
    "A": [("bach/bwv103.6", (0,)), ("bach/bwv11.6", (46,))],  # piano, harp
    "B": [("bach/bwv10.7", (40, 40, 41, 42)), ("bach/bwv102.7", (73, 68, 71, 70))],  # strings, woodwinds
}


def render(work: str, programs: tuple[int, ...], seconds: float, tmp) -> np.ndarray:
    """The first ``seconds`` of a music21 corpus score, its parts given General MIDI
    ``programs`` (cycled), rendered with FluidSynth at 22.05 kHz, mono."""
    import mido
    from music21 import corpus

    from vmb.generate.builtin.render_fluidsynth import find_fluidsynth, find_soundfont, render_fluidsynth

    soundfont, _ = find_soundfont()
    if find_fluidsynth() is None or soundfont is None:
        pytest.skip("fluidsynth or a General MIDI soundfont is not installed")
    raw = tmp / (work.replace("/", "_") + ".raw.mid")
    corpus.parse(work).write("midi", fp=str(raw))
    midi = mido.MidiFile(str(raw))
    part = 0
    for track in midi.tracks:
        channels = {m.channel for m in track if m.type == "note_on"}
        if not channels:
            continue
        program = programs[part % len(programs)]
        part += 1
        kept = [m for m in track if m.type != "program_change"]
        track[:] = [mido.Message("program_change", channel=c, program=program, time=0) for c in sorted(channels)] + kept
    midi.save(str(tmp / (work.replace("/", "_") + ".mid")))
    audio = render_fluidsynth(tmp / (work.replace("/", "_") + ".mid"), soundfont, SR).mean(axis=0)
    return audio[: int(seconds * SR)]


def write_clips(folder, clips, sr):
    folder.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips):
        sf.write(str(folder / f"clip{i:02d}.wav"), np.asarray(clip, np.float32), sr)
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("listener")
    clips: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    for name, pieces in PIECES.items():
        for work, programs in pieces:
            audio = render(work, programs, 12.0, tmp)
            clips[name] += [audio[i * 3 * SR : (i + 1) * 3 * SR] for i in range(4)]
    rng = np.random.default_rng(0)
    n = len(clips["A"])
    clips["noise"] = [0.2 * rng.uniform(0.3, 1.0) * rng.standard_normal(3 * SR) for _ in range(n)]
    clips["clicks"] = []
    for i in range(n):
        y = np.zeros(3 * SR)
        y[:: int(SR * 60 / (90 + 10 * i))] = 0.9
        clips["clicks"].append(y)
    clips["silence"] = [np.zeros(3 * SR) + 1e-5 * rng.standard_normal(3 * SR) for _ in range(n)]
    return {name: write_clips(tmp / name, items, SR) for name, items in clips.items()}


def test_fd_on_builtin_features_ranks_sets_like_a_listener(sets):
    from vmb.eval import evaluate

    def fd(generated):
        report = evaluate(sets[generated], sets["A"], metrics="fd-features", bootstrap=0, cache_dir=None)
        return report.metric("fd-features").value

    same, other = fd("A"), fd("B")
    assert same == pytest.approx(0.0, abs=1e-6)
    assert other > 1.0
    for bad in ("clicks", "noise", "silence"):
        assert fd(bad) > 2 * other, bad
