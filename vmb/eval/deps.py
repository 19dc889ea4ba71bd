"""The optional packages of ``vmb eval`` (extra ``eval``), with one clear error when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from vmb.errors import ConfigError

EXTRA = {"librosa": "librosa", "pyloudnorm": "pyloudnorm", "matplotlib": "matplotlib"}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`ConfigError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"vmb eval needs the package {EXTRA.get(module.split('.')[0], module)}: pip install 'vmb[eval]'"
        ) from None
