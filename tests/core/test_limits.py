"""One definition of each input limit and default (vmb.limits), the same in the pipeline, the
config and the generators, and messages that name the limit."""

from __future__ import annotations

import pytest

from vmb.config import load_config
from vmb.errors import ConfigError, UsageError
from vmb.limits import DEFAULT_SEED, MAX_DURATION_S, MAX_WEIGHT, resolve_seed


def _pipeline():
    from vmb.pipeline import Pipeline

    return Pipeline(describer=None, retriever=None, generator=None, config=load_config(profile="builtin"))


def test_duration_limit_is_the_same_in_the_pipeline_and_the_builtin_generator():
    from vmb.generate.builtin import BuiltinGenerator
    from vmb.types import Bridges, MusicDescription

    pipe = _pipeline()
    pipe.check_inputs(text="x", duration_s=MAX_DURATION_S)
    with pytest.raises(UsageError, match=r"duration_s=1801.0: longer than the maximum of 1800 s \(vmb.limits"):
        pipe.check_inputs(text="x", duration_s=MAX_DURATION_S + 1)
    bridges = Bridges(description=MusicDescription(), text="", references=())
    with pytest.raises(UsageError, match="maximum of 1800 s"):
        BuiltinGenerator(renderer="numpy").compose(bridges, MAX_DURATION_S + 1)


def test_weight_range_is_the_same_everywhere():
    from vmb.generate.builtin import BuiltinGenerator
    from vmb.types import Bridges, MusicDescription

    pipe = _pipeline()
    pipe.check_inputs(text="x", text_weight=MAX_WEIGHT, music_weight=0)
    with pytest.raises(UsageError, match=r"music_weight=21: expected a number between 0 and 20"):
        pipe.check_inputs(text="x", music_weight=21)
    bridges = Bridges(description=MusicDescription(), text="", references=())
    with pytest.raises(UsageError, match=r"text_weight=25.0: expected a number between 0 and 20"):
        BuiltinGenerator(renderer="numpy").plan(bridges, text_weight=25.0)
    with pytest.raises(ConfigError, match=r"generator.text_weight = 25.0: expected a number between 0 and 20"):
        load_config(profile="builtin", overrides=["generator.text_weight=25"])


def test_config_checks_duration_and_seed_with_the_same_rules():
    with pytest.raises(ConfigError, match=r"generator.duration_s = 4000.0: longer than the maximum"):
        load_config(overrides=["generator.duration_s=4000"])
    with pytest.raises(ConfigError, match=r"seed = -2: expected a whole number"):
        load_config(overrides=["seed=-2"])
    assert load_config(overrides=["generator.duration_s=12", "seed=3"]).seed == 3


def test_one_default_seed_rule():
    assert resolve_seed(None) == DEFAULT_SEED
    assert resolve_seed(None, 42) == 42
    assert resolve_seed(7, 42) == 7
    with pytest.raises(UsageError, match="seed=-1"):
        resolve_seed(-1)
