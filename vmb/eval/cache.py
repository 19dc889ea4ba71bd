"""Per-item cache of what eval computes on a file, so a rerun only computes what changed.

An entry is keyed by the file (absolute path, size, modification time) and the computation
(embedder and model, or measurement, and a version); it holds a few numpy arrays (no objects)
in one small file written atomically: ``VMBEVAL2``, the header's length (8 bytes, little
endian), a JSON header ``[[name, dtype, shape, nbytes], ...]``, then the arrays' raw bytes
(a tenth of what ``np.savez``'s zip costs for a 48-number row). The default folder is ``$VMB_HOME/cache/eval``, else
``$XDG_CACHE_HOME/vmb/eval`` (``~/.cache/vmb/eval``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from vmb.fileio import atomic_write_bytes

CACHE_VERSION = "eval-2"
MAGIC = b"VMBEVAL2"


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as bytes (see the module docstring); object arrays are refused (TypeError)."""
    header, blobs = [], []
    for name, value in arrays.items():
        a = np.asarray(value)  # (not ascontiguousarray: it turns a 0-d array into 1-d)
        if a.dtype.hasobject:
            raise TypeError(f"cache: array {name!r} holds Python objects")
        header.append([str(name), a.dtype.str, list(a.shape), a.nbytes])
        blobs.append(a.tobytes())
    head = json.dumps(header).encode()
    return MAGIC + len(head).to_bytes(8, "little") + head + b"".join(blobs)


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`pack_arrays`'s bytes; ValueError for anything damaged or truncated."""
    if data[:8] != MAGIC or len(data) < 16:
        raise ValueError("not a vmb eval cache entry")
    size = int.from_bytes(data[8:16], "little")
    header = json.loads(data[16 : 16 + size].decode("utf-8"))
    offset, out = 16 + size, {}
    for name, dtype, shape, nbytes in header:
        dt = np.dtype(dtype)
        if dt.hasobject or offset + nbytes > len(data) or nbytes != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("damaged vmb eval cache entry")
        out[name] = np.frombuffer(data[offset : offset + nbytes], dtype=dt).reshape(tuple(shape)).copy()
        offset += nbytes
    if offset != len(data):
        raise ValueError("damaged vmb eval cache entry (trailing bytes)")
    return out


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
        self._root = os.fspath(self.folder) if self.folder is not None else ""
        self._files: dict[str, str | None] = {}  # path -> "resolved|size|mtime", once per run
        self._made: set[str] = set()

    def _key(self, path: str | os.PathLike, computation: str) -> str | None:
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
        digest = hashlib.sha256(f"{CACHE_VERSION}|{identity}|{computation}".encode()).hexdigest()
        return os.path.join(self._root, digest[:2], f"{digest}.arrays")

    def has(self, path: str | os.PathLike, computation: str) -> bool:
        """Whether an entry for ``(path, computation)`` exists (not read, not counted)."""
        key = self._key(path, computation)
        return key is not None and os.path.isfile(key)

    def get(self, path: str | os.PathLike, computation: str) -> dict[str, np.ndarray] | None:
        key = self._key(path, computation)
        try:
            if key is None:
                raise FileNotFoundError
            with open(key, "rb") as handle:
                out = unpack_arrays(handle.read())
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):  # missing or damaged: recomputed
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, path: str | os.PathLike, computation: str, arrays: dict[str, np.ndarray]) -> None:
        key = self._key(path, computation)
        if key is None:
            return
        data = pack_arrays(arrays)
        try:
            folder = os.path.dirname(key)
            if folder not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(folder)
            atomic_write_bytes(key, data)
        except OSError:  # an unwritable cache only costs time
            self.folder = None
