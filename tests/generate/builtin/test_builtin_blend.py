"""Reading references (measured on real audio) and the documented blend of the two bridges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vmb.errors import MediaError
from vmb.generate.builtin import (
    BuiltinGenerator,
    analyze_reference,
    blend,
    load_tables,
    music_share,
)
from vmb.generate.builtin.reference import ReferenceFeatures
from vmb.generate.builtin.tables import PITCH_CLASSES, ChordSpec
from vmb.types import Bridges, Clip, ClipAttributes, Hit, MusicDescription, Wants


def fake_reference(tempo=100.0, key="F#", mode="minor", energy=0.8) -> ReferenceFeatures:
    bars = ((ChordSpec(0, "min"),), (ChordSpec(5, "min"),), (ChordSpec(10, "maj"),), (ChordSpec(3, "maj"),))
    return ReferenceFeatures("ref (pinned)", tempo, 0.5, key, mode, 0.7, bars, energy, (0.8, 1.0, 1.2, 1.0), 10.0)


DESCRIPTION = MusicDescription(genre="pop", tempo_bpm=80.0, key="C", mode="major", energy=0.2)


def test_music_share():
    assert music_share(3.0, 1.0) == pytest.approx(0.25)
    assert music_share(0.0, 2.0) == 1.0
    assert music_share(0.0, 0.0) == 0.0


@pytest.mark.parametrize("tw, mw", [(1.0, 0.0), (3.0, 1.0), (1.0, 1.0), (1.0, 3.0), (0.0, 1.0)])
def test_blend_rules(tw, mw):
    """Stated tempo, key and mode are kept whatever the weights; energy blends linearly."""
    tables = load_tables()
    ref = fake_reference()
    plan = blend(DESCRIPTION, tables, [ref], text_weight=tw, music_weight=mw)
    a = mw / (tw + mw)
    assert plan.music_share == pytest.approx(a)
    assert plan.tempo_bpm == 80.0 and "kept exactly" in plan.choices["tempo"]
    assert plan.energy == pytest.approx((1 - a) * 0.2 + a * 0.8)
    assert (plan.key, plan.mode) == ("C", "major")
    assert "description" in plan.choices["key"]
    assert plan.genre == "pop"  # categorical text attributes stay with the description


@pytest.mark.parametrize("tw, mw", [(1.0, 0.0), (3.0, 1.0), (1.0, 1.0), (1.0, 3.0), (0.0, 1.0)])
def test_open_attributes_blend(tw, mw):
    """A tempo class (no stated BPM) blends geometrically; an open key/mode takes the
    reference's from a share of one half."""
    tables = load_tables()
    plan = blend(MusicDescription(genre="pop", tempo_class="slow", energy=0.2), tables, [fake_reference()],
                 text_weight=tw, music_weight=mw)
    a = mw / (tw + mw)
    slow = tables.tempo_classes["slow"]["bpm"]
    assert plan.tempo_bpm == pytest.approx(math.exp((1 - a) * math.log(slow) + a * math.log(100.0)))
    assert (plan.key, plan.mode) == ("F#", "minor")  # open in the description: the reference's


@pytest.mark.parametrize("bpm", [30.0, 61.0, 110.0, 173.0, 200.0, 260.0])
def test_a_stated_bpm_is_kept_with_any_reference(bpm):
    plan = blend(MusicDescription(tempo_bpm=bpm), load_tables(), [fake_reference(tempo=175.8)],
                 text_weight=1.0, music_weight=3.0)
    assert plan.tempo_bpm == bpm


def test_reference_fills_what_the_description_lacks():
    tables = load_tables()
    plan = blend(MusicDescription(text="something"), tables, [fake_reference()],
                 attributes=ClipAttributes(genre="jazz", instruments=("piano",)), text_weight=10.0, music_weight=0.1)
    assert plan.tempo_bpm == pytest.approx(100.0)  # only the reference has a tempo
    assert plan.key == "F#" and plan.mode == "minor"
    assert plan.energy == pytest.approx(0.8)
    assert plan.genre == "jazz" and plan.instruments == ("piano",)


def test_what_a_mood_implies_is_the_description_side():
    """"calm" says slow, quiet and major (composer tables): blended like explicit fields."""
    tables = load_tables()
    calm = tables.mood_defaults["calm"]
    plan = blend(MusicDescription(mood=("calm",)), tables, [fake_reference()], text_weight=3.0, music_weight=1.0)
    assert plan.tempo_bpm == pytest.approx(math.exp(0.75 * math.log(calm["tempo_bpm"]) + 0.25 * math.log(100.0)))
    assert plan.energy == pytest.approx(0.75 * calm["energy"] + 0.25 * 0.8)
    assert plan.mode == calm["mode"]  # categorical, share below one half
    assert plan.key == "F#"  # a mood implies no key: the reference's
    assert "mood calm" in plan.choices["tempo"]


def test_wants_beat_both_bridges():
    tables = load_tables()
    plan = blend(DESCRIPTION, tables, [fake_reference()], wants=Wants(key="A#", mode="major", tempo="slow"),
                 text_weight=0.0, music_weight=1.0)
    assert (plan.key, plan.mode) == ("A#", "major")
    assert plan.tempo_bpm == 80.0  # a stated BPM is more precise than a tempo class want
    open_tempo = blend(MusicDescription(genre="pop"), tables, [fake_reference()], wants=Wants(tempo="slow"),
                       text_weight=0.0, music_weight=1.0)
    lo, hi = tables.tempo_classes["slow"]["range"]
    assert lo <= open_tempo.tempo_bpm < hi and "clamped" in open_tempo.choices["tempo"]


def test_harmony_share_follows_the_music_weight(make_bridges):
    """The fraction of body sections that play the reference loop is the music share."""
    gen = BuiltinGenerator(renderer="numpy")
    tables = load_tables()
    for tw, mw in ((1.0, 0.0), (3.0, 1.0), (1.0, 1.0), (0.0, 1.0)):
        plan = blend(MusicDescription(genre="pop", energy=0.5), tables, [fake_reference()], text_weight=tw,
                     music_weight=mw)
        from vmb.generate.builtin.composer import compose

        arr = compose(plan, 120.0, seed=0, tables=tables)
        body = [s for s in arr.sections if s.name in ("A", "B", "C")]
        share = sum(s.harmony == "reference" for s in body) / len(body)
        assert share == pytest.approx(mw / (tw + mw), abs=0.5 / len(body) + 1e-9)
        if mw / (tw + mw) == 1.0:
            # every body bar plays the loop, transposed to the chosen key (F# from the reference)
            names = [c.chord.name for c in arr.chords if arr.sections[1].start_bar * 4 <= c.start < arr.sections[-1].start_bar * 4]
            assert set(names) == {"F#m", "Bm", "E", "A"}
    assert gen.name == "builtin-composer+numpy-synth"


def test_reading_a_reference_clip(reference_hits):
    f = analyze_reference(reference_hits["f#m"])
    assert f.tempo_bpm == pytest.approx(100.0, rel=0.04)
    assert (f.key, f.mode) == ("F#", "minor")
    assert 0.0 < f.energy <= 1.0
    tonic = PITCH_CLASSES.index(f.key)
    played = [" ".join(c.name for c in bar) for bar in f.loop_in(tonic)]
    # the loop F#m Bm E A, from whichever bar the downbeat estimate starts on
    expected = ["F#m", "Bm", "E", "A"]
    assert len(played) >= 2
    start = expected.index(played[0]) if played[0] in expected else None
    assert start is not None, played
    hits = sum(p == expected[(start + i) % 4] for i, p in enumerate(played))
    assert hits >= 0.75 * len(played)
    assert len(f.bar_energy) == len(f.bars)


def test_an_unreadable_reference_names_the_file(tmp_path, make_bridges):
    bad = tmp_path / "missing.wav"
    hit = Hit(Clip(id="x", path=str(bad), start_s=0.0, duration_s=5.0, sample_rate=32000), 0.5, 0, "pinned")
    with pytest.raises(MediaError, match="missing.wav"):
        BuiltinGenerator(renderer="numpy").compose(make_bridges(references=[hit]), 5.0, seed=0)


def test_a_silent_reference_leaves_the_description_in_charge(tmp_path, make_bridges):
    from vmb.media import write_wav

    write_wav(tmp_path / "silence.wav", np.zeros((1, 5 * 32000), np.float32), 32000)
    hit = Hit(Clip(id="quiet", path=str(tmp_path / "silence.wav"), start_s=0.0, duration_s=5.0, sample_rate=32000),
              1.0, 0, "pinned")
    gen = BuiltinGenerator(renderer="numpy")
    result = gen.generate(make_bridges(references=[hit], genre="pop", tempo_bpm=100, key="E", mode="minor",
                                       text_weight=0.0, music_weight=1.0), 6.0, seed=0)
    assert "followed reference quiet (pinned): no beat found, no key found" in " ".join(result.notes)
    arr = gen.compose(make_bridges(references=[hit], genre="pop", tempo_bpm=100, key="E", mode="minor",
                                   text_weight=0.0, music_weight=1.0), 6.0, seed=0)
    assert (arr.tempo_bpm, arr.key, arr.mode) == (100.0, "E", "minor")
    assert "no chords" in arr.choices["harmony"]


def test_a_reference_of_the_opposite_mood_is_left_out(reference_hits):
    """A calm description does not follow a retrieved "fun, playful" reference (it would
    speed up and brighten the piece); a pinned one is followed but noted."""
    import dataclasses

    from vmb.generate.builtin.screening import screen_references

    tables = load_tables()
    calm = MusicDescription(mood=("calm",), text="a calm piano piece")
    hit = reference_hits["eb"]
    playful = dataclasses.replace(hit, clip=dataclasses.replace(hit.clip, attributes=ClipAttributes(
        mood=("fun", "playful"))), track="broad")
    feature = analyze_reference(hit)
    kept, hits, notes = screen_references(calm, [feature], [playful], tables)
    assert kept == [] and hits == [] and "left out" in notes[0] and "arousal" in notes[0]
    pinned = dataclasses.replace(playful, track="pinned")
    kept, _, notes = screen_references(calm, [feature], [pinned], tables)
    assert kept == [feature] and "pinned" in notes[0]
    similar = dataclasses.replace(playful, clip=dataclasses.replace(hit.clip, attributes=ClipAttributes(
        mood=("dreamy",))))
    kept, _, notes = screen_references(calm, [feature], [similar], tables)
    assert kept == [feature] and notes == []
    # through the generator: the plan ignores the left-out reference's tempo
    gen = BuiltinGenerator(renderer="numpy")
    bridges = Bridges(description=calm, text=calm.text, references=(playful,), text_weight=1.0, music_weight=3.0)
    plan, plan_notes = gen.plan(bridges)
    assert plan.reference is None and plan.tempo_bpm == tables.mood_defaults["calm"]["tempo_bpm"]
    assert any("left out" in n for n in plan_notes)
