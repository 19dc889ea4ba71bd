"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import time


def timed(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Run each function once per round, interleaved; ``(seconds per name, last result)``."""
    durations: dict[str, list[float]] = {name: [] for name in fns}
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            durations[name].append(time.perf_counter() - start)
    return durations, results
