"""Names a package exports but imports only on first use (PEP 562 module ``__getattr__``).

The heavy parts (the pipeline, the describers, torch and Ray paths) stay out of ``import vmb``
and ``vmb --help``::

    __getattr__ = lazy_exports(__name__, {"Pipeline": "vmb.pipeline"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` in ``exports`` is imported from the
    module ``exports[name]`` when first asked for; any other name raises ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
