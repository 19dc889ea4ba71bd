"""Where a value came from decides whether it is kept exactly: a BPM, key or mode the user typed
(or gave as a ``--want``) is *stated* and kept; one the describer measured in the picture is
*inferred* and blends with the references like a tempo class does. The notes say which."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from vmb.describe import describe
from vmb.generate.builtin import blend, load_tables
from vmb.generate.builtin.reference import ReferenceFeatures
from vmb.generate.builtin.tables import ChordSpec
from vmb.types import MusicDescription, Wants


def reference(tempo=175.8) -> ReferenceFeatures:
    bars = ((ChordSpec(6, "min"),), (ChordSpec(11, "min"),))
    return ReferenceFeatures("ref (pinned)", tempo, 0.5, "F#", "minor", 0.7, bars, 0.8, (1.0, 1.0), 10.0)


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    """A busy, saturated red picture (the visual describer reads a fast tempo and a key from it)."""
    rng = np.random.default_rng(0)
    pixels = np.clip(np.array([200, 40, 30]) + rng.normal(0, 40, (96, 128, 3)), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("pictures") / "red.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def test_a_tempo_measured_in_the_picture_is_inferred_and_blends(picture):
    d = describe(images=[picture], sync="off")
    assert d.tempo_bpm is not None and not d.is_stated("tempo_bpm")
    assert not d.is_stated("key") and not d.is_stated("mode")
    plan = blend(d, load_tables(), [reference()], text_weight=3.0, music_weight=1.0)
    expected = math.exp(0.75 * math.log(d.tempo_bpm) + 0.25 * math.log(175.8))
    assert plan.tempo_bpm == pytest.approx(expected)
    assert "inferred from the visuals" in plan.choices["tempo"] and "kept exactly" not in plan.choices["tempo"]


def test_a_typed_bpm_over_the_same_picture_is_kept_exactly(picture):
    d = describe(images=[picture], text="an upbeat funky bass groove at 110 bpm", sync="off")
    assert d.tempo_bpm == 110.0 and d.is_stated("tempo_bpm")
    assert not d.is_stated("key")  # the key still comes from the picture
    plan = blend(d, load_tables(), [reference()], text_weight=1.0, music_weight=3.0)
    assert plan.tempo_bpm == 110.0 and "stated: kept exactly" in plan.choices["tempo"]


def test_a_want_is_stated(picture):
    d = describe(images=[picture], sync="off", wants={"key": "D", "mode": "minor"})
    assert d.is_stated("key") and d.is_stated("mode") and not d.is_stated("tempo_bpm")
    plan = blend(d, load_tables(), [reference()], text_weight=0.0, music_weight=1.0)
    assert (plan.key, plan.mode) == ("D", "minor")
    assert plan.tempo_bpm == pytest.approx(175.8)  # all music: the inferred BPM gives way


def test_an_inferred_key_gives_way_to_the_reference_only_from_half_the_weight(picture):
    d = describe(images=[picture], sync="off")
    low = blend(d, load_tables(), [reference()], text_weight=3.0, music_weight=1.0)
    high = blend(d, load_tables(), [reference()], text_weight=1.0, music_weight=1.0)
    assert low.key == d.key and "inferred" in low.choices["key"]
    assert (high.key, high.mode) == ("F#", "minor")


def test_provenance_round_trips_and_old_json_counts_as_stated(picture):
    d = describe(images=[picture], text="at 96 bpm", sync="off")
    again = MusicDescription.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d and again.stated == d.stated and "tempo_bpm" in again.stated
    old = {k: v for k, v in d.to_dict().items() if k != "stated"}  # written before provenance
    legacy = MusicDescription.from_dict(old)
    assert legacy.stated is None and legacy.is_stated("tempo_bpm") and legacy.is_stated("key")
    plan = blend(legacy.replace(tempo_bpm=123.0), load_tables(), [reference()], text_weight=0.0,
                 music_weight=1.0)
    assert plan.tempo_bpm == 123.0  # as before: every set field of an old description is kept


def test_a_tempo_want_clamps_an_inferred_bpm_but_not_a_typed_one():
    tables = load_tables()
    lo, hi = tables.tempo_classes["slow"]["range"]
    inferred = MusicDescription(tempo_bpm=150.0, source="visual", stated=())
    plan = blend(inferred, tables, [reference()], wants=Wants(tempo="slow"), text_weight=0.0, music_weight=1.0)
    assert lo <= plan.tempo_bpm < hi
    typed = MusicDescription(tempo_bpm=150.0, source="text", stated=("tempo_bpm",))
    assert blend(typed, tables, [reference()], wants=Wants(tempo="slow")).tempo_bpm == 150.0
