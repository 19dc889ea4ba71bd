"""Per-item cache of what eval computes on a file, so a rerun only computes what changed.

An entry is keyed by the file (absolute path, size, modification time in ns; the content is
never read for the key) and the computation (embedder and model, or measurement, and a
version). It holds a few numpy arrays (no objects), packed by :func:`pack_arrays`:
``VMBEVAL2``, the header's length (8 bytes, little endian), a JSON header
``[[name, dtype, shape, nbytes], ...]``, then the arrays' raw bytes.

Entries live in *shards*, one folder per source folder (the hash of the items' parent folder,
so a run reads only the shards of the folders it measures), each shard one file written
atomically (:func:`vmb.fileio.atomic_write_bytes`) holding many entries: ``VMBSHRD1``, the
header's length, a JSON header ``{"version", "entries": [[key, path, offset, nbytes], ...]}``,
then the packed entries. A run reads a folder's shards once, keeps what it computes in memory
and writes it as one new shard when it ends, and every ``flush_every_s`` seconds before that, so
an interrupted run keeps its progress (one file per flush, not one per item). When a folder
holds more than ``MAX_SHARDS`` shards, the run that closes merges them into one, leaving out
entries whose file has changed or gone. Concurrent runs each write their own shards.

The default folder is ``$VMB_HOME/cache/eval``, else ``$XDG_CACHE_HOME/vmb/eval``
(``~/.cache/vmb/eval``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

import numpy as np

from vmb.fileio import atomic_write_bytes

CACHE_VERSION = "eval-3"
MAGIC = b"VMBEVAL2"
SHARD_MAGIC = b"VMBSHRD1"
SHARD_SUFFIX = ".vmbcache"
MAX_SHARDS = 8
FLUSH_EVERY_S = 20.0


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
    data = bytes(data)
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


def pack_shard(entries: dict[str, tuple[str, bytes]]) -> bytes:
    """A shard's bytes: ``{key: (source path, packed entry)}`` (see the module docstring)."""
    index, offset = [], 0
    for key, (path, blob) in entries.items():
        index.append([key, path, offset, len(blob)])
        offset += len(blob)
    head = json.dumps({"version": CACHE_VERSION, "entries": index}).encode()
    return SHARD_MAGIC + len(head).to_bytes(8, "little") + head + b"".join(blob for _, blob in entries.values())


def unpack_shard(data: bytes) -> dict[str, tuple[str, memoryview]]:
    """``{key: (source path, packed entry)}`` of a shard; ValueError if damaged, truncated or of
    another cache version (the entries themselves are checked when read)."""
    if data[:8] != SHARD_MAGIC or len(data) < 16:
        raise ValueError("not a vmb eval cache shard")
    size = int.from_bytes(data[8:16], "little")
    try:
        header = json.loads(data[16 : 16 + size].decode("utf-8"))
        if header.get("version") != CACHE_VERSION:
            raise ValueError("another vmb eval cache version")
        body = memoryview(data)[16 + size :]
        out = {}
        for key, path, offset, nbytes in header["entries"]:
            if offset < 0 or offset + nbytes > len(body):
                raise ValueError("truncated vmb eval cache shard")
            out[str(key)] = (str(path), body[offset : offset + nbytes])
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"damaged vmb eval cache shard ({exc})") from None
    if header["entries"] and max(o + n for _, _, o, n in header["entries"]) != len(body):
        raise ValueError("damaged vmb eval cache shard (trailing bytes)")
    return out


def default_cache_dir() -> Path:
    """``eval/`` in vmb's per-user cache (``VMB_HOME`` overrides, see :mod:`vmb.home`)."""
    from vmb.home import cache_home

    return Path(cache_home()) / "eval"


class _Group:
    """The shards of one source folder: what they hold, and what this run adds."""

    def __init__(self, folder: str):
        self.folder = folder
        self.entries: dict[str, tuple[str, bytes | memoryview]] = {}
        self.pending: dict[str, tuple[str, bytes]] = {}
        self.shards: list[str] = []  # shard files read or written by this run
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(SHARD_SUFFIX))
        except OSError:
            names = []
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as handle:
                    self.entries.update(unpack_shard(handle.read()))
            except (OSError, ValueError):  # missing (merged away meanwhile) or damaged: recomputed
                continue
            self.shards.append(path)


class ItemCache:
    """``get``/``put`` arrays for ``(file, computation)``; ``folder=None`` disables caching.

    A file's identity (absolute path, size, modification time) is read once per ``ItemCache``
    (one ``evaluate`` call): a file that changes during a run is seen as changed by the next.
    What ``put`` stores is written by :meth:`flush` (every ``flush_every_s`` seconds) and
    :meth:`close`; use the cache as a context manager or call ``close``.
    """

    def __init__(self, folder: str | os.PathLike | None, flush_every_s: float = FLUSH_EVERY_S):
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0
        self.misses = 0
        self.flush_every_s = flush_every_s
        self._root = os.fspath(self.folder) if self.folder is not None else ""
        self._files: dict[str, tuple[str, str] | None] = {}  # path -> (group folder, key prefix)
        self._groups: dict[str, _Group] = {}
        self._folders: dict[str, str] = {}  # source folder -> its shard folder
        self._last_flush = time.monotonic()

    def __enter__(self):
        """The cache itself."""
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _key(self, path: str | os.PathLike, computation: str) -> tuple[_Group, str, str] | None:
        """``(group, entry key, absolute path)``, or ``None`` without a cache or a readable file."""
        if self.folder is None:
            return None
        name = os.fspath(path)
        if name not in self._files:
            resolved = os.path.abspath(name)
            try:
                st = os.stat(resolved)
            except OSError:
                self._files[name] = None
            else:
                parent = os.path.dirname(resolved)
                folder = self._folders.get(parent)
                if folder is None:
                    digest = hashlib.sha256(parent.encode("utf-8", "surrogateescape")).hexdigest()
                    folder = self._folders[parent] = os.path.join(self._root, digest[:20])
                self._files[name] = (folder, f"{st.st_size}|{st.st_mtime_ns}|{resolved}")
        found = self._files[name]
        if found is None:
            return None
        folder, identity = found
        group = self._groups.get(folder)
        if group is None:
            group = self._groups[folder] = _Group(folder)
        return group, f"{CACHE_VERSION}|{computation}|{identity}", identity.split("|", 2)[2]

    def has(self, path: str | os.PathLike, computation: str) -> bool:
        """Whether an entry for ``(path, computation)`` exists (not read, not counted)."""
        found = self._key(path, computation)
        return found is not None and found[1] in found[0].entries

    def get(self, path: str | os.PathLike, computation: str) -> dict[str, np.ndarray] | None:
        found = self._key(path, computation)
        entry = found[0].entries.get(found[1]) if found is not None else None
        try:
            out = unpack_arrays(entry[1]) if entry is not None else None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):  # damaged: recomputed
            out = None
        if out is None:
            self.misses += 1
            return None
        self.hits += 1
        return out

    def put(self, path: str | os.PathLike, computation: str, arrays: dict[str, np.ndarray]) -> None:
        found = self._key(path, computation)
        if found is None:
            return
        group, key, source = found
        blob = pack_arrays(arrays)
        group.entries[key] = group.pending[key] = (source, blob)
        if time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        """Write what was put since the last flush: one new shard per source folder."""
        self._last_flush = time.monotonic()
        for group in self._groups.values():
            if not group.pending or self.folder is None:
                continue
            name = f"{time.time_ns():x}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SHARD_SUFFIX}"
            path = os.path.join(group.folder, name)
            try:
                os.makedirs(group.folder, exist_ok=True)
                atomic_write_bytes(path, pack_shard(group.pending))
            except OSError:  # an unwritable cache only costs time
                self.folder = None
                return
            group.shards.append(path)
            group.pending = {}

    def close(self) -> None:
        """Flush, then merge the shards of any folder that holds more than ``MAX_SHARDS``."""
        if self.folder is None:
            return
        self.flush()
        for group in self._groups.values():
            if len(group.shards) > MAX_SHARDS and self.folder is not None:
                self._merge(group)

    def _merge(self, group: _Group) -> None:
        """One shard with the folder's entries whose file is unchanged; the shards it replaces
        (those this run read or wrote; not ones another run wrote meanwhile) are removed."""
        current: dict[str, str | None] = {}
        keep = {}
        for key, (source, blob) in group.entries.items():
            if source not in current:
                try:
                    st = os.stat(source)
                    current[source] = f"{st.st_size}|{st.st_mtime_ns}|{source}"
                except OSError:
                    current[source] = None
            if current[source] is not None and key.endswith("|" + current[source]):
                keep[key] = (source, bytes(blob))
        name = f"{time.time_ns():x}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SHARD_SUFFIX}"
        try:
            atomic_write_bytes(os.path.join(group.folder, name), pack_shard(keep))
        except OSError:
            return
        for old in group.shards:
            try:
                os.unlink(old)
            except OSError:
                pass
        group.shards = [os.path.join(group.folder, name)]
