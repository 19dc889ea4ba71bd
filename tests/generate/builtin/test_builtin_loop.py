"""``--loop`` with a BPM the user typed: the tempo stays exact (the whole loop when its length
holds whole beats, else the body, with only the closing bars moved), the seam has no click, and
a tempo that was only inferred still moves the whole loop a little, as before."""

from __future__ import annotations

import pytest
from generate.builtin.conftest import needs_fluidsynth
from generate.builtin.listening import assert_seamless_loop

from vmb.describe.text import parse_text
from vmb.generate.builtin import BuiltinGenerator
from vmb.generate.builtin.looping import ZONE_SLACK, fit_loop
from vmb.types import Bridges, MusicDescription


def seconds_of(fit, beats):
    from vmb.generate.builtin.arrangement import TempoMap

    return float(TempoMap(fit.changes).seconds(beats))


@pytest.mark.parametrize("duration, bpm", [(30.0, 110.0), (20.0, 110.0), (7.3, 97.0), (61.7, 133.0), (45.0, 87.5)])
def test_a_stated_tempo_keeps_its_body_exact_and_closes_on_a_beat(duration, bpm):
    fit = fit_loop(duration, bpm, stated=True)
    assert seconds_of(fit, fit.beats) == pytest.approx(duration, abs=1e-9)  # whole beats fill the loop
    assert fit.body_bpm == bpm  # exact, not 3 % off
    if len(fit.changes) > 1:  # only the closing bars move, and little
        start, closing = fit.changes[1]
        assert start >= fit.beats - 16 and abs(closing / bpm - 1) <= ZONE_SLACK
        assert "kept exactly" in fit.note


def test_a_length_that_holds_whole_beats_is_not_touched():
    fit = fit_loop(30.0, 110.0, stated=True)  # 55 beats: not whole bars, but whole beats
    assert fit.changes == ((0.0, 110.0),) and fit.beats == 55
    assert fit_loop(30.0, 110.0, stated=False).body_bpm == pytest.approx(112.0)  # open: 14 whole bars


@pytest.mark.parametrize("duration, bpm", [(1.3, 110.0), (12.0, 87.5)])
def test_too_short_to_keep_it_says_why(duration, bpm):
    """2.38 beats, or 17.5 beats (half a beat over 3 % needs 17 beats of closing bars): the whole
    loop moves, by at most half a beat over its length, and the notes say why."""
    fit = fit_loop(duration, bpm, stated=True)
    assert seconds_of(fit, fit.beats) == pytest.approx(duration) and "too short" in fit.note
    assert abs(fit.body_bpm / bpm - 1) <= 0.5 / (fit.beats - 0.5) + 1e-12


def loop_bridges(text: str) -> Bridges:
    d = parse_text(text).replace(genre="electronic", energy=0.8)
    assert d.is_stated("tempo_bpm")
    return Bridges(description=d, text=d.text, text_weight=3.0, music_weight=1.0)


@pytest.mark.parametrize("renderer", ["numpy", pytest.param("fluidsynth", marks=needs_fluidsynth)])
def test_a_typed_bpm_loop_keeps_the_bpm_and_has_no_click(renderer):
    gen = BuiltinGenerator(renderer=renderer)
    b = loop_bridges("a house loop at 110 bpm")
    result = gen.generate(b, 20.0, seed=6, loop=True)
    assert_seamless_loop(result.audio, result.sample_rate, 20.0, 110, tolerance=0.02)
    arr = gen.compose(b, 20.0, seed=6, loop=True)
    assert arr.tempo_bpm == 110.0 and arr.tempo_map.changes[0] == (0.0, 110.0)
    assert any("kept exactly" in n for n in result.notes)


def test_an_open_tempo_still_moves_the_whole_loop():
    gen = BuiltinGenerator(renderer="numpy")
    d = MusicDescription(genre="electronic", tempo_bpm=110.0, energy=0.8, stated=())  # inferred
    arr = gen.compose(Bridges(description=d, text=""), 20.0, seed=6, loop=True)
    assert len(arr.tempo_map.changes) == 1 and arr.tempo_bpm != 110.0
    assert abs(arr.tempo_bpm / 110.0 - 1) <= 0.03
