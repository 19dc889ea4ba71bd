"""`Pipeline.prepare` + `Pipeline.generate`: the two halves of `pipe(...)` an app calls apart to
show and edit the bridges; `pipe(...)` is exactly the two in a row."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vmb import Pipeline, UsageError
from vmb.config import load_config
from vmb.pipeline import Prepared


@pytest.fixture(scope="module")
def pipe(builtin_index) -> Pipeline:
    return Pipeline.from_config(load_config(profile="builtin"), index=builtin_index)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"video": "VIDEO", "wants": {"tempo": "fast"}, "seed": 5},
        {"text": "a sad piano piece at 70 bpm", "duration_s": 2.0, "seed": 2, "music_weight": 0.5},
        {"references": ["REF"], "duration_s": 1.5, "seed": 9},
    ],
)
def test_call_is_prepare_then_generate_bit_for_bit(pipe, video_file, reference_file, tmp_path, kwargs):
    swap = {"VIDEO": str(video_file), "REF": str(reference_file)}
    kwargs = {k: swap.get(v, v) if isinstance(v, str) else [swap.get(x, x) for x in v] if isinstance(v, list) else v
              for k, v in kwargs.items()}  # fmt: skip
    seed = kwargs.pop("seed")
    whole = pipe(**kwargs, seed=seed, midi_path=tmp_path / "whole.mid")
    prepared = pipe.prepare(**kwargs)
    assert isinstance(prepared, Prepared)
    assert {"decode", "describe", "retrieve"} <= set(prepared.timings)
    parts = pipe.generate(prepared, seed=seed, midi_path=tmp_path / "parts.mid")
    assert whole.audio.dtype == parts.audio.dtype and whole.audio.shape == parts.audio.shape
    assert whole.audio.tobytes() == parts.audio.tobytes()
    assert whole.bridges.to_dict() == parts.bridges.to_dict()
    assert whole.notes == parts.notes and whole.seed == parts.seed
    assert (tmp_path / "whole.mid").read_bytes() == (tmp_path / "parts.mid").read_bytes()


def test_the_generator_gets_the_edited_bridges(pipe):
    prepared = pipe.prepare(text="a calm piano piece at 70 bpm", duration_s=2.0)
    assert prepared.bridges.description.tempo_bpm == 70
    edited = prepared.replace(
        bridges=dataclasses.replace(
            prepared.bridges, description=prepared.bridges.description.replace(tempo_bpm=150.0), references=()
        )
    )
    a = pipe.generate(prepared, seed=1)
    b = pipe.generate(edited, seed=1)
    assert b.bridges.description.tempo_bpm == 150.0 and b.bridges.references == ()
    assert not np.array_equal(a.audio, b.audio)
    # the built-in composer's plan says where its tempo came from: the edited description
    assert any("150" in note for note in b.notes), b.notes


@pytest.mark.parametrize(
    "change, match",
    [
        ({"duration_s": 0.0}, "duration_s=0.0"),
        ({"bridges": "text_weight=-1"}, "text_weight=-1"),
        ({"bridges": "music_weight=99"}, "music_weight=99"),
    ],
)
def test_generate_checks_edited_values(pipe, change, match):
    prepared = pipe.prepare(text="folk", duration_s=1.0)
    if change.get("bridges"):
        name, value = change["bridges"].split("=")
        prepared = prepared.replace(bridges=dataclasses.replace(prepared.bridges, **{name: float(value)}))
    else:
        prepared = prepared.replace(**change)
    with pytest.raises(UsageError, match=match):
        pipe.generate(prepared, seed=0)


def test_generate_checks_the_seed(pipe):
    prepared = pipe.prepare(text="folk", duration_s=1.0)
    with pytest.raises(UsageError, match="seed=-3"):
        pipe.generate(prepared, seed=-3)
