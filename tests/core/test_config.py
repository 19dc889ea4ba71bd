import pytest

from vmb.config import Config, build_config, load_config
from vmb.errors import ConfigError


def test_profiles_load_into_typed_objects():
    default = load_config(profile="default")
    builtin = load_config(profile="builtin")
    assert default.generator.kind == "musicgen"
    assert default.describer.kind == "vlm"
    assert default.encoder.kind == "clap"
    assert builtin.generator.kind == "builtin"
    assert builtin.describer.kind == "visual"
    assert isinstance(builtin.generator.text_weight, float)


def test_set_overrides_parse_yaml_scalars():
    cfg = load_config(profile="builtin", overrides=["generator.top_k=50", "seed=7", "generator.adapter=null"])
    assert cfg.generator.top_k == 50
    assert cfg.seed == 7
    assert cfg.generator.adapter is None
    cfg = cfg.with_overrides(["generator.text_weight=2"])
    assert cfg.generator.text_weight == 2.0 and isinstance(cfg.generator.text_weight, float)


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="generator.top_kk"):
        load_config(profile="builtin", overrides=["generator.top_kk=3"])
    bad = tmp_path / "typo.yaml"
    bad.write_text("generator:\n  kind: builtin\n  tempreature: 0.9\n")
    with pytest.raises(ConfigError, match=r"typo.yaml.*generator.tempreature"):
        load_config(bad)


def test_bad_values_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="generator.kind"):
        load_config(overrides=["generator.kind=diffusion"])
    with pytest.raises(ConfigError, match="retrieval.k_broad"):
        load_config(overrides=["retrieval.k_broad=many"])
    with pytest.raises(ConfigError, match="retrieval.k_broad"):
        load_config(overrides=["retrieval.k_broad=1.5"])
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_config(overrides=["seed"])
    with pytest.raises(ConfigError, match="unknown profile"):
        load_config(profile="fancy")
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("generator: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)


def test_partial_mapping_keeps_defaults():
    cfg = build_config({"generator": {"duration_s": 12}})
    assert cfg.generator.duration_s == 12.0
    assert cfg.retrieval == Config().retrieval
