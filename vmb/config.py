"""Typed configuration: YAML profiles in ``configs/`` plus ``--set a.b=value`` overrides.

A config is built in three layers, each overriding the one before:

1. the defaults of the dataclasses below,
2. a YAML file (a profile in ``configs/`` or the user's ``--config FILE``),
3. ``--set key.sub=value`` overrides (values parsed as YAML scalars: ``3``, ``0.5``, ``true``,
   ``null``).

Unknown keys, values of the wrong type and values outside a fixed set of choices are a
:class:`~vmb.errors.ConfigError` that names the key and the file.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from vmb.errors import ConfigError

PROFILES = ("default", "builtin")


def configs_dir() -> Path:
    """The folder that holds the YAML profiles, vocabularies and prompts.

    ``VMB_CONFIGS`` overrides it; otherwise it is ``configs/`` of the vmb checkout.
    """
    env = os.environ.get("VMB_CONFIGS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "configs"


@dataclass
class DescriberConfig:
    kind: Literal["vlm", "visual"] = "visual"
    model: str = "OpenGVLab/InternVL3-1B-hf"
    num_frames: int = 8
    max_new_tokens: int = 256
    batch_size: int = 4
    trust_remote_code: bool = False


@dataclass
class EncoderConfig:
    kind: Literal["clap", "builtin"] = "builtin"
    model: str = "laion/larger_clap_music"
    batch_size: int = 8


@dataclass
class IndexConfig:
    path: str = "index/demo"


@dataclass
class RetrievalConfig:
    k_broad: int = 1
    k_targeted: int = 1
    allow_same_track: bool = False


@dataclass
class GeneratorConfig:
    kind: Literal["musicgen", "builtin"] = "builtin"
    model: str = "facebook/musicgen-melody"
    adapter: str | None = None
    duration_s: float | None = None
    text_weight: float = 3.0
    music_weight: float = 1.0
    top_k: int = 250
    temperature: float = 1.0
    quantize: Literal["none", "int8"] = "none"
    window_s: float = 30.0
    overlap_s: float = 10.0
    renderer: Literal["auto", "fluidsynth", "numpy"] = "auto"
    soundfont: str | None = None
    sample_rate: int = 48000  # built-in generator output rate (32000 still works)
    loudness_lufs: float = -14.0  # built-in generator's integrated loudness target


@dataclass
class Config:
    profile: str = "builtin"
    describer: DescriberConfig = field(default_factory=DescriberConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    seed: int | None = None
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: list[str] | tuple[str, ...], source: str = "--set") -> Config:
        """A copy with ``key.sub=value`` overrides applied."""
        data = self.to_dict()
        for item in overrides:
            key, value = parse_override(item)
            set_dotted(data, key, value, source)
        return build_config(data, source)


def parse_override(item: str) -> tuple[str, Any]:
    """``"generator.top_k=50"`` → ``("generator.top_k", 50)``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: unknown config key {'.'.join(parts[: i + 1])!r}")
        node = child
    if parts[-1] not in node:
        raise ConfigError(f"{source}: unknown config key {key!r}")
    node[parts[-1]] = value


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key, source)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(str(a) for a in args)
            raise ConfigError(f"{source}: {key} = {value!r} is not one of: {choices}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key} = {value!r} is not true/false")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} = {value!r} is not a number")
        if hint is int and float(value) != int(value):
            raise ConfigError(f"{source}: {key} = {value!r} is not a whole number")
        return hint(value)
    if hint is str:
        if value is None or isinstance(value, (dict, list)):
            raise ConfigError(f"{source}: {key} = {value!r} is not a string")
        return str(value)
    return value


def _build(cls: type, data: dict[str, Any], prefix: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown config key {prefix + unknown[0]!r}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, f"{prefix}{name}.", source)
        else:
            kwargs[name] = _coerce(value, hint, prefix + name, source)
    return cls(**kwargs)


def build_config(data: dict[str, Any], source: str = "config") -> Config:
    """A :class:`Config` from a (possibly partial) nested mapping, validated."""
    return _build(Config, data, "", source)


def load_config(
    path: str | os.PathLike | None = None,
    profile: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> Config:
    """Load a config: a YAML ``path``, else the named ``profile``, else the defaults.

    Raises:
        ConfigError: the file is missing or not YAML, a key is unknown, a value is wrong.
    """
    if path is not None:
        config = _load_yaml(Path(path))
    elif profile is not None:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
        config = _load_yaml(configs_dir() / f"{profile}.yaml")
    else:
        config = Config()
    return config.with_overrides(list(overrides)) if overrides else config


def _load_yaml(path: Path) -> Config:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if data is None:
        data = {}
    return build_config(data, str(path))
