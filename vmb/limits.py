"""The input limits and defaults of a generation, defined once.

:meth:`vmb.pipeline.Pipeline.check_inputs`, the config (:func:`vmb.config.build_config`) and the
generators all check with these functions, so a value is accepted or refused by the same rule
everywhere, and the message names the limit and how to change what was asked.

* duration: above 0 and at most :data:`MAX_DURATION_S` seconds; the default is the video's
  length, else :data:`DEFAULT_DURATION_S`.
* guidance weights (``text_weight``, ``music_weight``): from 0 to :data:`MAX_WEIGHT`.
* seed: a whole number from 0 to :data:`MAX_SEED`; when none is given, the configured ``seed``,
  else :data:`DEFAULT_SEED` (:func:`resolve_seed`), so the same call makes the same music.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from vmb.errors import UsageError, show_value

MAX_DURATION_S = 1800.0
MIN_DURATION_S = 0.02  # one MusicGen frame (50 Hz); the built-in renderer needs no less either
MAX_NUM_FRAMES = 64  # frames a describer samples from a video (each is a model input)
DEFAULT_DURATION_S = 30.0
MAX_WEIGHT = 20.0
MAX_SEED = 2**31 - 1
DEFAULT_SEED = 0


def duration_problem(value: Any) -> str | None:
    """Why ``value`` is not an allowed duration in seconds, or ``None`` when it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return "expected a number of seconds"
    if value <= 0:
        return "must be greater than 0"
    if value < MIN_DURATION_S:
        return f"shorter than the minimum of {MIN_DURATION_S:g} s (one frame of music)"
    if value > MAX_DURATION_S:
        return (
            f"longer than the maximum of {MAX_DURATION_S:.0f} s (vmb.limits.MAX_DURATION_S); "
            "make a long piece in parts"
        )
    return None


def num_frames_problem(value: Any) -> str | None:
    """Why ``value`` is not an allowed number of video frames for a describer, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return "expected a whole number"
    if not 1 <= value <= MAX_NUM_FRAMES:
        return f"expected 1 to {MAX_NUM_FRAMES} (vmb.limits.MAX_NUM_FRAMES)"
    return None


def weight_problem(value: Any) -> str | None:
    """Why ``value`` is not an allowed guidance weight, or ``None`` when it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return f"expected a number between 0 and {MAX_WEIGHT:g}"
    if not 0 <= value <= MAX_WEIGHT:
        return f"expected a number between 0 and {MAX_WEIGHT:g} (vmb.limits.MAX_WEIGHT)"
    return None


def seed_problem(value: Any) -> str | None:
    """Why ``value`` is not an allowed seed, or ``None`` when it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= MAX_SEED:
        return f"expected a whole number from 0 to {MAX_SEED}"
    return None


def _check(problem: str | None, name: str, value: Any) -> None:
    if problem is not None:
        raise UsageError(f"{name}={show_value(value)}: {problem}")


def check_duration(value: Any, name: str = "duration_s") -> float:
    """``value`` as seconds, or :class:`UsageError` naming ``name`` and the limit."""
    _check(duration_problem(value), name, value)
    return float(value)


def check_weight(value: Any, name: str) -> float:
    """``value`` as a guidance weight, or :class:`UsageError` naming ``name`` and the range."""
    _check(weight_problem(value), name, value)
    return float(value)


def check_seed(value: Any, name: str = "seed") -> int | None:
    """``value`` as a seed (``None`` stays ``None``), or :class:`UsageError`."""
    if value is None:
        return None
    _check(seed_problem(value), name, value)
    return int(value)


def resolve_seed(seed: int | None, configured: int | None = None) -> int:
    """The one default-seed rule: ``seed``, else the configured seed, else :data:`DEFAULT_SEED`."""
    if seed is not None:
        return check_seed(seed)
    if configured is not None:
        return check_seed(configured, "seed (config)")
    return DEFAULT_SEED


__all__ = [
    "DEFAULT_DURATION_S",
    "DEFAULT_SEED",
    "MAX_DURATION_S",
    "MAX_SEED",
    "MAX_WEIGHT",
    "check_duration",
    "check_seed",
    "check_weight",
    "duration_problem",
    "num_frames_problem",
    "resolve_seed",
    "seed_problem",
    "weight_problem",
]
