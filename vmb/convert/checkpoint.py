"""Reading a checkpoint of another package safely, and writing the converted folder.

* :func:`load_weights` — ``torch.load(..., weights_only=True)`` of a file, with one-line errors
  for what is not a checkpoint (a text file, a damaged zip, a pickle of Python objects).
* :func:`flat_tensors` — the tensors of a (nested) state dict, checked to be tensors.
* :class:`CheckpointError` — the error for a file that cannot be converted: the path and why.
* :func:`check_out` — the output folder must not exist: an import never replaces a folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from vmb.errors import OutputError, VMBError

# What the first bytes of a torch.save file look like: a zip (torch >= 1.6) or a raw pickle
# (protocol 2+ starts with 0x80; torch's legacy format starts with a pickled magic number).
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"


class CheckpointError(VMBError):
    """A checkpoint file that cannot be converted: not a checkpoint, the wrong layout, missing or
    misshapen weights."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def load_weights(path: str | os.PathLike) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` (memory-mapped when the file
    is in torch's zip format), or :class:`CheckpointError` in one line.

    ``weights_only=True`` refuses any pickled object other than tensors, containers and plain
    values: a checkpoint cannot run code while it is read.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(path, "no such file") from None
    except OSError as exc:
        raise CheckpointError(path, f"cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(path, "not a regular file (a pipe, device or socket)")
    if info.st_size == 0:
        raise CheckpointError(path, "empty file, not a PyTorch checkpoint")
    with open(path, "rb") as handle:
        head = handle.read(4)
    is_zip = head.startswith(_ZIP_MAGIC)
    if not (is_zip or head.startswith(_PICKLE_MAGIC)):
        raise CheckpointError(path, "not a PyTorch checkpoint (neither torch's zip nor a pickle)")

    import warnings
    import zipfile

    import torch

    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except Exception as exc:
        if type(exc).__name__ == "UnpicklingError":  # what weights_only=True raises on objects
            lines = str(exc).strip().splitlines()
            detail = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), "")
            why = f" ({detail.strip()[:160]})" if detail else ""
            raise CheckpointError(
                path, f"holds Python objects other than weights, refused by weights_only=True{why}"
            ) from None
        if isinstance(exc, (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile, KeyError)):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(path, f"damaged or truncated checkpoint ({first[:160]})") from None
        raise


def flat_tensors(state: Any, path: str | os.PathLike, what: str = "state dict") -> dict[str, Any]:
    """``state`` as ``{name: tensor}``, or :class:`CheckpointError` naming the first value
    that is not a tensor."""
    import torch

    if not isinstance(state, dict) or not state:
        raise CheckpointError(path, f"the {what} is not a mapping of weights")
    out = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise CheckpointError(path, f"the {what} has a non-text key {name!r}")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"the {what} entry {name!r} is a {type(value).__name__}, not a tensor")
        out[name] = value
    return out


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Drop ``prefix`` from every key when all keys have it (``module.`` of DistributedDataParallel)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def check_out(out: str | os.PathLike) -> Path:
    """The output folder, which must not exist yet (an import never replaces a folder)."""
    out = Path(out).expanduser()
    if out.exists() or out.is_symlink():
        raise OutputError(out, "already exists; give a new folder with --out (an import never replaces one)")
    return out


def need(state: dict[str, Any], name: str, path, shape: tuple[int, ...] | None = None):
    """``state[name]``, checked to exist and to have ``shape`` (``-1`` matches any size)."""
    if name not in state:
        raise CheckpointError(path, f"missing weight {name!r}")
    tensor = state[name]
    if shape is not None and (
        len(tensor.shape) != len(shape) or any(s not in (-1, t) for s, t in zip(shape, tensor.shape))
    ):
        raise CheckpointError(
            path, f"weight {name!r} has shape {tuple(tensor.shape)}, expected {tuple(shape)}"
        )
    return tensor


__all__ = ["CheckpointError", "check_out", "flat_tensors", "load_weights", "need", "strip_prefix"]


def load_base(base: str, model_type: str, label: str, model_class: Any, processor_class: Any):
    """``(model, processor)`` of the transformers ``base`` a conversion starts from (float32),
    through :func:`vmb.hub.load_pretrained`.

    Raises:
        ModelUnavailable: ``base`` is neither a local folder nor in the cache (offline).
        ConfigError: ``base`` is not a ``model_type`` model (``label`` names it for the user).
    """
    import torch
    from transformers import AutoConfig

    from vmb.errors import ConfigError
    from vmb.hub import load_pretrained, quiet_transformers

    quiet_transformers()
    hint = f"give --base a local transformers {label} folder, or download it (vmb models pull ID)"
    config = load_pretrained(AutoConfig.from_pretrained, base, hint=hint)
    if config.model_type != model_type:
        raise ConfigError(f"--base {base}: a {config.model_type!r} model, not a transformers {label}")
    model = load_pretrained(model_class.from_pretrained, base, hint=hint, dtype=torch.float32)
    processor = load_pretrained(processor_class.from_pretrained, base, hint=hint)
    return model, processor
