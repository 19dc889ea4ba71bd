"""BuiltinGenerator end to end: the GenerationResult contract, errors, config, MIDI output."""

from __future__ import annotations

import dataclasses
import math

import mido
import numpy as np
import pytest

from vmb.config import load_config
from vmb.errors import ConfigError, UsageError
from vmb.generate import BuiltinGenerator as Exported
from vmb.generate.builtin import BuiltinGenerator


def test_generate_contract(renderer, make_bridges, tmp_path):
    gen = BuiltinGenerator(renderer=renderer, sample_rate=32000)
    bridges = make_bridges(genre="pop", mood=("happy",), tempo_bpm=116, key="G", mode="major", energy=0.6,
                           instruments=("piano", "bass", "drums", "synthesizer"))
    midi = tmp_path / "song.mid"
    result = gen.generate(bridges, 9.5, seed=11, midi_path=midi)
    assert result.audio.shape == (2, round(9.5 * 32000)) and result.audio.dtype == np.float32
    assert np.isfinite(result.audio).all()
    assert 1e-3 < np.abs(result.audio).max() <= 10 ** (-1 / 20) + 1e-6
    assert result.sample_rate == 32000 and result.seed == 11
    assert result.generator == gen.name
    assert gen.name == ("builtin-composer+numpy-synth" if renderer == "numpy"
                        else "builtin-composer+fluidsynth(FluidR3_GM.sf2)")
    assert result.bridges is bridges
    assert set(result.timings) == {"reference_analysis", "compose", "render"}
    assert renderer.replace("fluidsynth", "FluidSynth") in result.notes[0] or "numpy" in result.notes[0]
    assert any(n.startswith("composed G major, 116.0 BPM, pop") for n in result.notes)
    assert result.paths == {"midi": str(midi)}
    assert mido.MidiFile(midi).type == 1
    assert result.to_dict()["duration_s"] == pytest.approx(9.5)


def test_seeds(make_bridges):
    gen = BuiltinGenerator(renderer="numpy", sample_rate=16000)
    b = make_bridges(genre="folk", energy=0.5)
    a = gen.generate(b, 6.0, seed=5)
    again = gen.generate(b, 6.0, seed=5)
    other = gen.generate(b, 6.0, seed=6)
    assert np.array_equal(a.audio, again.audio)
    assert not np.array_equal(a.audio, other.audio)
    drawn = gen.generate(b, 6.0)
    assert isinstance(drawn.seed, int)
    assert np.array_equal(gen.generate(b, 6.0, seed=drawn.seed).audio, drawn.audio)


@pytest.mark.parametrize("duration, sr", [(0.3, 32000), (7.77, 22050), (13.0, 44100)])
def test_exact_length_any_rate(duration, sr, make_bridges):
    result = BuiltinGenerator(renderer="numpy", sample_rate=sr).generate(make_bridges(), duration, seed=0)
    assert result.audio.shape == (2, round(duration * sr))


@pytest.mark.parametrize("duration, sr", [(0.3333, 32000), (2.99999, 44100)])
def test_length_is_rounded_not_cut(duration, sr, renderer, make_bridges):
    """Lengths whose sample count rounds up (10665.6 -> 10666, 132299.56 -> 132300): rounding
    down instead would pass the lengths above, not these."""
    result = BuiltinGenerator(renderer=renderer, sample_rate=sr).generate(make_bridges(), duration, seed=0)
    assert result.audio.shape == (2, round(duration * sr)) != (2, int(duration * sr))


def test_fallback_is_said(monkeypatch, make_bridges):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = BuiltinGenerator().generate(make_bridges(), 3.0, seed=0)
    assert result.generator == "builtin-composer+numpy-synth"
    assert result.notes[0] == "fluidsynth not found on PATH; rendered with the numpy synthesiser"


def test_pinned_and_retrieved_references_are_followed_alike(reference_hits, make_bridges):
    gen = BuiltinGenerator(renderer="numpy")
    pinned = reference_hits["f#m"]
    broad = dataclasses.replace(pinned, track="broad", score=0.4, rank=1)
    arrangements = [gen.compose(make_bridges(references=[h], genre="pop", tempo_bpm=80, key="C", mode="major",
                                             text_weight=1.0, music_weight=3.0), 20.0, seed=1)
                    for h in (pinned, broad)]
    one, two = arrangements
    assert (one.key, one.mode, round(one.tempo_bpm, 3)) == (two.key, two.mode, round(two.tempo_bpm, 3))
    assert [c.chord for c in one.chords] == [c.chord for c in two.chords]
    result = gen.generate(make_bridges(references=[pinned], text_weight=1.0, music_weight=3.0), 5.0, seed=1)
    assert any(n.startswith("followed reference f#m (pinned)") for n in result.notes)
    assert result.timings["reference_analysis"] > 0


@pytest.mark.parametrize("duration", [0, -1.0, math.nan, math.inf, 1e5, "10"])
def test_bad_durations(duration, make_bridges):
    with pytest.raises(UsageError, match="duration"):
        BuiltinGenerator(renderer="numpy").generate(make_bridges(), duration)


def test_bad_weights_and_seeds(make_bridges):
    gen = BuiltinGenerator(renderer="numpy")
    with pytest.raises(UsageError, match="music_weight"):
        gen.generate(make_bridges(), 2.0, music_weight=-1.0)
    with pytest.raises(UsageError, match="text_weight"):
        gen.generate(make_bridges(), 2.0, text_weight=math.nan)
    with pytest.raises(UsageError, match="seed"):
        gen.generate(make_bridges(), 2.0, seed=-3)


def test_bad_construction():
    with pytest.raises(ConfigError, match="renderer"):
        BuiltinGenerator(renderer="timidity")
    with pytest.raises(ConfigError, match="sample_rate"):
        BuiltinGenerator(renderer="numpy", sample_rate=1000)


def test_from_config():
    cfg = load_config(profile="builtin", overrides=["generator.renderer=numpy", "generator.sample_rate=22050"])
    gen = BuiltinGenerator.from_config(cfg)
    assert gen.sample_rate == 22050 and gen.name == "builtin-composer+numpy-synth"
    assert Exported is BuiltinGenerator
