"""vmb's per-user data home: the demo library and the caches, one place for every directory.

* :func:`data_home` — ``$VMB_HOME`` if set, else the platform's user data folder
  (``~/.local/share/vmb`` on Linux, ``~/Library/Application Support/vmb`` on macOS,
  ``%LOCALAPPDATA%\\vmb`` on Windows; :mod:`platformdirs`). The demo library lives in
  ``<data home>/index/demo`` (with its rendered audio in ``index/demo-audio``).
* :func:`cache_home` — ``$VMB_HOME/cache`` if ``VMB_HOME`` is set, else the platform's user cache
  folder (``~/.cache/vmb`` on Linux): measurements that can be made again (soundfont levels).
* :func:`file_lock` — an exclusive lock on a file (``fcntl.flock``), so that two processes that
  start at the same time build a shared thing once: the second waits, then finds it built.

Model weights are not here: they stay in the Hugging Face cache (``HF_HOME``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "VMB_HOME"


def data_home() -> Path:
    """The folder for vmb's per-user data (``$VMB_HOME`` overrides); not created here."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("vmb", appauthor=False))


def cache_home() -> Path:
    """The folder for vmb's caches (``$VMB_HOME/cache`` when ``VMB_HOME`` is set); not created."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser() / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir("vmb", appauthor=False))


@contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if missing, with its folder) for the block.

    Blocks until the lock is free. The lock goes with the process: a killed holder releases it.
    Where ``fcntl`` is missing (Windows) the block runs unlocked.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield path
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


__all__ = ["ENV", "cache_home", "data_home", "file_lock"]
