"""Per-item cache of what eval computes on a file, so a rerun only computes what changed.

An entry is keyed by the file (absolute path, size, modification time) and the computation
(embedder and model, or measurement, and a version); it holds a few numpy arrays in an ``.npz``
written atomically. The default folder is ``$VMB_HOME/cache/eval``, else
``$XDG_CACHE_HOME/vmb/eval`` (``~/.cache/vmb/eval``).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from vmb.fileio import atomic_write_bytes

CACHE_VERSION = "eval-1"


def default_cache_dir() -> Path:
    """``eval/`` in vmb's per-user cache (``VMB_HOME`` overrides, see :mod:`vmb.home`)."""
    from vmb.home import cache_home

    return Path(cache_home()) / "eval"


class ItemCache:
    """``get``/``put`` arrays for ``(file, computation)``; ``folder=None`` disables caching.

    A file's identity (resolved path, size, modification time) is read once per ``ItemCache``
    (one ``evaluate`` call): a file that changes during a run is seen as changed by the next.
    """

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0
        self.misses = 0
        self._files: dict[str, str | None] = {}  # path -> "resolved|size|mtime", once per run
        self._made: set[Path] = set()

    def _key(self, path: str | os.PathLike, computation: str) -> Path | None:
        if self.folder is None:
            return None
        name = os.fspath(path)
        if name not in self._files:
            p = Path(path).resolve()
            try:
                st = p.stat()
                self._files[name] = f"{p}|{st.st_size}|{st.st_mtime_ns}"
            except OSError:
                self._files[name] = None
        identity = self._files[name]
        if identity is None:
            return None
        digest = hashlib.sha256(f"{CACHE_VERSION}|{identity}|{computation}".encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npz"

    def has(self, path: str | os.PathLike, computation: str) -> bool:
        """Whether an entry for ``(path, computation)`` exists (not read, not counted)."""
        key = self._key(path, computation)
        return key is not None and key.is_file()

    def get(self, path: str | os.PathLike, computation: str) -> dict[str, np.ndarray] | None:
        key = self._key(path, computation)
        if key is None or not key.is_file():
            self.misses += 1
            return None
        try:
            with np.load(key, allow_pickle=False) as data:
                out = {name: data[name] for name in data.files}
        except (OSError, ValueError):  # a damaged entry is recomputed
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, path: str | os.PathLike, computation: str, arrays: dict[str, np.ndarray]) -> None:
        key = self._key(path, computation)
        if key is None:
            return
        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        try:
            if key.parent not in self._made:
                key.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(key.parent)
            atomic_write_bytes(key, buffer.getvalue())
        except OSError:  # an unwritable cache only costs time
            self.folder = None
