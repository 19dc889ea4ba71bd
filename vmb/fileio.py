"""Atomic file and folder writes: the one way vmb writes a file.

A temporary file (or folder) next to the target is renamed into place on success. A reader
never sees a half-written file, a failed write leaves the old file (or none), and the new file
gets the mode any newly created file would get (``mkstemp`` alone makes it 0600).

* :func:`atomic_path` — a temporary path for writers that write a file themselves (FFmpeg,
  soundfile, safetensors); :func:`atomic_write_bytes` / ``_text`` / ``_json`` for data in memory.
* :func:`atomic_folder` — a temporary folder that replaces a folder in one step
  (:func:`replace_folder`: ``renameat2(RENAME_EXCHANGE)`` on Linux, else rename aside first).
* ``fsync=True`` flushes the data to disk before the rename (checkpoints, resumable state).

Callers decide *whether* a target may be replaced (vmb never replaces what it did not create);
these helpers only make the replacement atomic.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; when the block succeeds it replaces ``path``.

    ``suffix`` lets writers that pick a format from the extension see the right one
    (e.g. ``".tmp.mp4"``). ``fsync`` flushes the file to disk before the rename.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if fsync:
            fsync_file(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def atomic_write_json(path: str | os.PathLike, data, indent: int | None = 2, fsync: bool = False) -> Path:
    """Write ``data`` as JSON (UTF-8, a final newline) to ``path`` atomically."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return atomic_write_text(path, text + "\n", fsync=fsync)


@contextmanager
def atomic_folder(target: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a new temporary folder next to ``target``; when the block succeeds it replaces
    ``target`` in one step (:func:`replace_folder`), else it is removed.

    ``fsync`` flushes every file written into it before the swap.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield work
        if fsync:
            fsync_folder(work)
        os.chmod(work, 0o777 & ~_umask())
        replace_folder(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def replace_folder(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put folder ``new`` at ``target``, replacing an existing ``target`` folder.

    On Linux the two folders are swapped atomically (``renameat2(RENAME_EXCHANGE)``) and the old
    one removed; elsewhere the old folder is renamed aside first (a reader may then briefly find
    no folder, never a mix).
    """
    new, target = Path(new), Path(target)
    if not target.exists() and not target.is_symlink():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def fsync_file(path: str | os.PathLike) -> None:
    """Flush ``path``'s data to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flush every regular file under ``folder`` to disk."""
    for p in Path(folder).rglob("*"):
        if p.is_file() and not p.is_symlink():
            fsync_file(p)


def read_limited(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, refusing (``OSError`` with a readable
    ``strerror``) a pipe, device or folder — which would hang or never end — and a file larger
    than ``max_bytes``. The one way vmb reads a small user file (configs, manifests, cue files)."""
    import errno
    import stat as stat_

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat_.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, device or folder)", str(path))
        if st.st_size > max_bytes:
            raise OSError(errno.EFBIG, f"larger than the {max_bytes} bytes allowed", str(path))
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than the {max_bytes} bytes allowed", str(path))
    return data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def find_files(folder: str | os.PathLike, extensions: frozenset[str] | set[str] | tuple[str, ...]) -> list[Path]:
    """Files under ``folder`` (recursive) whose suffix is one of ``extensions`` (lower case, with
    the dot), sorted by relative path; hidden files and folders are skipped."""
    folder = Path(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in extensions:
                found.append(Path(root) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())
