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
import inspect
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from vmb.errors import ConfigError, show_value
from vmb.fileio import read_limited

PROFILES = ("default", "builtin")
DEMO_LIBRARY = "demo"  # the index.path that names the demo library in the data home (vmb.library)


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
    path: str = DEMO_LIBRARY  # a folder, or "demo": the demo library in the data home


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
class VideoConfig:
    # how read_frames decodes: PyAV, decord (the optional extra), or auto (decord only where it
    # was measured faster; see vmb/media/video_decord.py)
    backend: Literal["auto", "pyav", "decord"] = "auto"


@dataclass
class Config:
    profile: str = "builtin"
    describer: DescriberConfig = field(default_factory=DescriberConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
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


def loader_settings(loader: Callable[..., Any], config: Config, section: Any) -> dict[str, Any]:
    """The keyword arguments of ``loader`` (a component's ``from_pretrained``) that ``config``
    sets: every field of the top level (``device``, ``dtype``, ``threads``...) and of ``section``
    (``config.describer``, ``config.generator``...) that has the name of one of its parameters.

    The one rule of every ``from_config``: a config key and a loader keyword of the same name
    mean the same thing, so a key is passed on without being spelled out again.
    """
    parameters = inspect.signature(loader).parameters
    return {
        f.name: getattr(holder, f.name)
        for holder in (config, section)
        for f in dataclasses.fields(holder)
        if f.name in parameters and not dataclasses.is_dataclass(getattr(holder, f.name))
    }


MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 100


def parse_override(item: str) -> tuple[str, Any]:
    """``"generator.top_k=50"`` → ``("generator.top_k", 50)``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {show_value(item)}: expected key.sub=value")
    try:
        value = parse_yaml(raw, f"--set {key}") if raw.strip() else None
    except _NotYAML:
        value = raw
    return key, value


class _NotYAML(ConfigError):
    """Text that is not YAML (a plain string for ``--set``)."""


# libyaml's safe loader (about 7x faster than PyYAML's pure-Python one on configs/composer.yaml,
# measured); the same safe types, and the node tree is counted below before anything is built.
# libyaml itself refuses nesting deeper than 1000 levels while parsing.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, source: str) -> Any:
    """YAML ``text`` (safe types only) with bounded work: at most :data:`MAX_YAML_NODES` nodes
    once aliases are expanded (no "billion laughs"), :data:`MAX_YAML_DEPTH` levels, no
    recursive alias, no integer too long to convert.

    Raises:
        ConfigError: naming ``source`` and the problem, in one line.
    """
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, source)
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{source}: nested more than {MAX_YAML_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _NotYAML(f"{source}: not valid YAML ({first[:200]})") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        what = "an integer with too many digits" if "digits" in str(exc) else str(exc)[:120]
        raise ConfigError(f"{source}: a value is out of range ({what})") from None
    finally:
        loader.dispose()


def read_yaml_file(path: Path, what: str) -> Any:
    """The YAML data file ``path`` (one of vmb's tables) through :func:`parse_yaml`.

    Raises:
        ConfigError: ``path`` is missing (named as ``what``, e.g. "rule table") or not YAML.
    """
    try:
        return parse_yaml(path.read_text(encoding="utf-8"), str(path))  # libyaml, counted aliases
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def _check_expanded_size(root, source: str) -> None:
    """Count the nodes ``root`` expands to (aliases counted at every use), without expanding."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    active: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            depths[key] = 1 + max((depths[id(c)] for c in children), default=0)
            if sizes[key] > MAX_YAML_NODES:
                raise ConfigError(
                    f"{source}: expands to more than {MAX_YAML_NODES} values (nested aliases?)"
                )
            if depths[key] > MAX_YAML_DEPTH:
                raise ConfigError(f"{source}: nested more than {MAX_YAML_DEPTH} levels deep")
            continue
        if key in sizes:
            continue
        if key in active:
            raise ConfigError(f"{source}: a recursive alias (a value that contains itself)")
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: unknown config key {show_value('.'.join(parts[: i + 1]))}")
        node = child
    if parts[-1] not in node:
        raise ConfigError(f"{source}: unknown config key {show_value(key)}")
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
            raise ConfigError(f"{source}: {key} = {show_value(value)} is not one of: {choices}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key} = {show_value(value)} is not true/false")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} = {show_value(value)} is not a number")
        if hint is int and float(value) != int(value):
            raise ConfigError(f"{source}: {key} = {show_value(value)} is not a whole number")
        return hint(value)
    if hint is str:
        if value is None or isinstance(value, (dict, list)):
            raise ConfigError(f"{source}: {key} = {show_value(value)} is not a string")
        return str(value)
    return value


def _build(cls: type, data: dict[str, Any], prefix: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown config key {show_value(prefix + str(unknown[0]))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, f"{prefix}{name}.", source)
        else:
            kwargs[name] = _coerce(value, hint, prefix + name, source)
    return cls(**kwargs)


def build_config(data: dict[str, Any], source: str = "config") -> Config:
    """A :class:`Config` from a (possibly partial) nested mapping, validated (types, choices and
    the input limits of :mod:`vmb.limits`)."""
    config = _build(Config, data, "", source)
    _check_limits(config, source)
    return config


def _check_limits(config: Config, source: str) -> None:
    from vmb.limits import duration_problem, num_frames_problem, seed_problem, weight_problem

    g = config.generator
    checks = [
        ("generator.text_weight", g.text_weight, weight_problem),
        ("generator.music_weight", g.music_weight, weight_problem),
        ("describer.num_frames", config.describer.num_frames, num_frames_problem),
    ]
    if g.duration_s is not None:
        checks.append(("generator.duration_s", g.duration_s, duration_problem))
    if config.seed is not None:
        checks.append(("seed", config.seed, seed_problem))
    for key, value, problem_of in checks:
        problem = problem_of(value)
        if problem is not None:
            raise ConfigError(f"{source}: {key} = {show_value(value)}: {problem}")


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
            raise ConfigError(f"unknown profile {show_value(profile)}; choose one of: {', '.join(PROFILES)}")
        config = _load_yaml(configs_dir() / f"{profile}.yaml")
    else:
        config = Config()
    return config.with_overrides(list(overrides)) if overrides else config


def _load_yaml(path: Path) -> Config:
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = read_limited(path, MAX_CONFIG_BYTES).decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid YAML (not UTF-8 text)") from None
    data = parse_yaml(text, str(path))
    if data is None:
        data = {}
    return build_config(data, str(path))
