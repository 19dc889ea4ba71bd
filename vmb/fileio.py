"""Atomic file writes: a temporary file next to the target, renamed into place on success.

A reader never sees a half-written file, a failed write leaves the old file (or none), and the
new file gets the mode any newly created file would get (``mkstemp`` alone makes it 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; when the block succeeds it replaces ``path``.

    ``suffix`` lets writers that pick a format from the extension see the right one
    (e.g. ``".tmp.mp4"``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


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
