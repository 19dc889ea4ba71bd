"""Per-item computations for ``evaluate``: the cache, and each item's audio decoded once, the
next one while the current one is measured.

Decoding (libsndfile, FFmpeg), writing cache entries and measuring (FFT, BLAS) all run mostly
outside Python's lock, so with ``decode_ahead`` one background thread decodes item ``i + 1``
and writes item ``i``'s cache entries while item ``i`` is measured on the calling thread; only
items with a computation missing from the cache are decoded. At most the current item and the
next are held in memory; on a clean exit every cache entry is written before ``close`` returns.
``evaluate`` leaves it off by default: on the shared 2-core machine where it was measured
(``benchmarks/bench_eval.py``) the second thread cost more than it overlapped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vmb.errors import MediaError
from vmb.eval.cache import ItemCache

Decoded = tuple[np.ndarray, int] | MediaError


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
    started by ``decode_ahead``). Use as a context manager, or call :meth:`close`."""

    def __init__(self, cache: ItemCache, skipped: list[str], decode_ahead: bool = True):
        self.cache = cache
        self.skipped = skipped
        self._current: dict[Path, Decoded] = {}
        self._ahead: dict[Path, Future] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vmb-eval-decode") if decode_ahead else None

    def __enter__(self):
        """The runner itself."""
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = False) -> None:
        """Stop the background thread once its queue is done (``cancel``: drop what is queued;
        a dropped cache entry is computed again next time)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
        self._ahead.clear()

    def audio(self, path: Path) -> tuple[np.ndarray, int]:
        """``(mono [T], sr)``; raises the file's MediaError (once decoded, kept for the item)."""
        if path not in self._current:
            future = self._ahead.pop(path, None)
            self._current = {path: future.result() if future is not None else _decode(path)}
        got = self._current[path]
        if isinstance(got, MediaError):
            raise got
        return got

    def decode_ahead(self, path: Path, computations: list[str]) -> None:
        """Start decoding ``path`` in the background if one of ``computations`` is not cached
        (only the latest such request is kept)."""
        if self._pool is None or path in self._current or path in self._ahead:
            return
        if all(self.cache.has(path, c) for c in computations):
            return
        for stale in self._ahead.values():
            stale.cancel()
        self._ahead = {path: self._pool.submit(_decode, path)}

    def compute(self, path: Path, computation: str, fn: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        cached = self.cache.get(path, computation)
        if cached is not None:
            return cached
        arrays = fn()
        if self._pool is not None:
            self._pool.submit(self.cache.put, path, computation, arrays)
        else:
            self.cache.put(path, computation, arrays)
        return arrays
