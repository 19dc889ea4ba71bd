"""Per-item computations for ``evaluate``: the cache, and each item's audio decoded once, the
next ones while the current one is measured.

Decoding (libsndfile, FFmpeg) and measuring (FFT, BLAS, large numpy operations) run mostly
outside Python's lock, so with ``decode_ahead`` one background thread decodes the items that
:meth:`ItemRunner.plan` lists (only those with a computation missing from the cache), up to
``depth`` items ahead of the one being measured on the calling thread. At most the current
item and ``depth`` decoded ones are held in memory. Cache entries are kept in memory and
written by the cache itself (:class:`~vmb.eval.cache.ItemCache`), a shard at a time.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vmb.errors import MediaError
from vmb.eval.cache import ItemCache

Decoded = tuple[np.ndarray, int] | MediaError


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Threads eval uses unless told (decoding ahead, the FD bootstrap's two batches): 2 where
    this process may use two CPUs, else 1. Measured (``benchmarks/bench_eval.py``): on an
    otherwise idle 2-CPU machine two threads take 0.85x the time of one; at load 3.7 the two are
    the same, so the second thread is not held back on a busy machine."""
    return min(2, usable_cpus())


def _decode(path: Path) -> Decoded:
    """``(mono [T], sr)`` of ``path``, or the MediaError that reading it raised."""
    from vmb.media import read_audio

    try:
        audio, sr = read_audio(path, mono=True)
    except MediaError as exc:
        return exc
    return audio[0], sr


class ItemRunner:
    """``compute`` an item's arrays through the cache; ``audio`` decodes (or takes the decode
    started ahead, see :meth:`plan`). Use as a context manager, or call :meth:`close`.

    ``decode_ahead=None`` decodes ahead when :func:`default_threads` is 2.
    """

    def __init__(self, cache: ItemCache, skipped: list[str], decode_ahead: bool | None = None, depth: int = 2):
        self.cache = cache
        self.skipped = skipped
        self.depth = max(1, depth)
        self._current: dict[Path, Decoded] = {}
        self._ahead: OrderedDict[Path, Future] = OrderedDict()
        self._plan: list[Path] = []
        if decode_ahead is None:
            decode_ahead = default_threads() > 1
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vmb-eval-decode") if decode_ahead else None

    def __enter__(self):
        """The runner itself."""
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = False) -> None:
        """Stop the background thread (``cancel``: drop what is queued)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
        self._ahead.clear()
        self._plan = []

    def plan(self, items: Iterable[tuple[Path, Sequence[str]]]) -> None:
        """The ``(audio path, computations)`` to be measured next, in order: those with a
        computation not in the cache are decoded ahead (replaces an earlier plan)."""
        if self._pool is None:
            return
        self._plan = [path for path, computations in items if not all(self.cache.has(path, c) for c in computations)]
        self._plan.reverse()  # popped from the end
        self._refill()

    def _refill(self) -> None:
        while self._pool is not None and self._plan and len(self._ahead) < self.depth:
            path = self._plan.pop()
            if path not in self._ahead and path not in self._current:
                self._ahead[path] = self._pool.submit(_decode, path)

    def audio(self, path: Path) -> tuple[np.ndarray, int]:
        """``(mono [T], sr)``; raises the file's MediaError (once decoded, kept for the item)."""
        if path not in self._current:
            future = None
            if path in self._ahead:
                while future is None:  # decodes queued before this one will not be asked for
                    first, pending = self._ahead.popitem(last=False)
                    if first == path:
                        future = pending
                    else:
                        pending.cancel()
            self._current = {path: future.result() if future is not None else _decode(path)}
            self._refill()
        got = self._current[path]
        if isinstance(got, MediaError):
            raise got
        return got

    def compute(self, path: Path, computation: str, fn: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """``computation``'s arrays for ``path``: from the cache, else ``fn()`` (then cached)."""
        cached = self.cache.get(path, computation)
        if cached is not None:
            return cached
        arrays = fn()
        self.cache.put(path, computation, arrays)
        return arrays
