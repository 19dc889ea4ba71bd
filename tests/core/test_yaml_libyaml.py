"""vmb parses YAML with libyaml (fast start) and still counts aliases before building anything:
the same data as PyYAML's pure-Python safe loader, the same refusals of YAML bombs."""

from __future__ import annotations

import pytest
import yaml

from vmb import config
from vmb.config import configs_dir, parse_yaml
from vmb.errors import ConfigError


def test_libyaml_is_used_when_present():
    assert yaml.__with_libyaml__, "PyYAML without libyaml: configs parse 7x slower"
    assert config._SAFE_LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("name", ["composer.yaml", "vocab.yaml", "visual_rules.yaml", "builtin.yaml"])
def test_same_data_as_the_pure_python_safe_loader(name):
    text = (configs_dir() / name).read_text(encoding="utf-8")
    assert parse_yaml(text, name) == yaml.load(text, Loader=yaml.SafeLoader)


def test_alias_bomb_is_refused_before_it_expands():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi")
    )
    with pytest.raises(ConfigError, match="expands to more than"):
        parse_yaml(bomb, "bomb.yaml")


@pytest.mark.parametrize("depth", [150, 5000])
def test_deep_nesting_is_one_line(depth):
    with pytest.raises(ConfigError) as error:
        parse_yaml("[" * depth + "]" * depth, "deep.yaml")
    assert "\n" not in str(error.value) and "deep.yaml" in str(error.value)


def test_python_objects_are_refused():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_yaml("!!python/object/apply:os.system ['echo hi']", "evil.yaml")
