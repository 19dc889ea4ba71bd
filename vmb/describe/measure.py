"""What the built-in describer measures on frames (numpy only).

Colour, on RGB frames ``[N, H, W, 3]`` uint8 (averaged over frames):

- ``brightness``: mean luma (Rec. 601), 0 (black) to 1 (white).
- ``saturation``: mean chroma (max - min of R, G, B), 0 (grey, black) to 1 (pure colour).
  Unlike HSV saturation it does not call a near-black pixel fully saturated, so a dark night
  does not count as vivid.
- ``warmth``: mean (R - B) / 255, -1 (blue) to +1 (red/orange).
- ``colourfulness``: Hasler & Süsstrunk's M (2003) on the 0-255 scale: about 0 for grey,
  15 slightly, 33 moderately, 45 averagely, 59 quite, 82 highly, 109+ extremely colourful.
- ``hue``: the circular mean hue in degrees [0, 360), each pixel weighted by its chroma;
  ``None`` when the frames are almost grey (mean chroma under ``min_saturation``).

Time, on windows of consecutive grey frames ``[F, h, w]`` uint8, ``step_s`` seconds apart:

- ``motion``: mean absolute difference between consecutive frames, 0 to 1, ignoring cuts.
- ``cut_rate``: cuts per second; a cut is a jump in the grey-level histogram (total variation
  distance over ``cut_histogram``) or a frame difference over ``cut_difference``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HISTOGRAM_BINS = 32


def colour_stats(frames: np.ndarray, min_saturation: float = 0.06) -> dict[str, float | None]:
    """Colour measurements of ``frames`` ``[N, H, W, 3]`` (or one ``[H, W, 3]``) uint8."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.size == 0:
        raise ValueError(f"colour_stats: expected [N, H, W, 3] frames, got shape {frames.shape}")
    rgb = frames.astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    high = rgb.max(axis=-1)
    low = rgb.min(axis=-1)
    chroma = high - low

    # Hasler & Süsstrunk colourfulness, per frame, on the 0-255 scale.
    rg = (r - g) * 255.0
    yb = (0.5 * (r + g) - b) * 255.0
    axes = (1, 2)
    m = np.sqrt(rg.std(axis=axes) ** 2 + yb.std(axis=axes) ** 2) + 0.3 * np.sqrt(
        rg.mean(axis=axes) ** 2 + yb.mean(axis=axes) ** 2
    )

    hue = None
    if float(chroma.mean()) >= min_saturation:
        # HSV hue in radians, weighted by chroma so grey and near-black pixels hardly vote.
        safe = np.maximum(chroma, 1e-6)
        h = np.where(
            high == r,
            ((g - b) / safe) % 6,
            np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4),
        ) * (np.pi / 3)
        angle = np.arctan2((chroma * np.sin(h)).sum(), (chroma * np.cos(h)).sum())
        hue = float(np.degrees(angle) % 360)
    return {
        "brightness": float((0.299 * r + 0.587 * g + 0.114 * b).mean()),
        "saturation": float(chroma.mean()),
        "warmth": float((r - b).mean()),
        "colourfulness": float(m.mean()),
        "hue": hue,
    }


def frame_colour(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame ``brightness``, ``saturation``, ``warmth`` and ``colourfulness`` ``[N]`` of
    frames ``[N, H, W, 3]`` uint8 (the same definitions as :func:`colour_stats`, not averaged)."""
    rgb = np.asarray(frames, np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    rg = (r - g) * 255.0
    yb = (0.5 * (r + g) - b) * 255.0
    axes = (1, 2)
    m = np.sqrt(rg.std(axis=axes) ** 2 + yb.std(axis=axes) ** 2) + 0.3 * np.sqrt(
        rg.mean(axis=axes) ** 2 + yb.mean(axis=axes) ** 2
    )
    return {
        "brightness": (0.299 * r + 0.587 * g + 0.114 * b).mean(axis=axes),
        "saturation": chroma.mean(axis=axes),
        "warmth": (r - b).mean(axis=axes),
        "colourfulness": m,
    }


def _histograms(window: np.ndarray) -> np.ndarray:
    """Normalised grey-level histograms ``[F, HISTOGRAM_BINS]`` of ``window`` ``[F, h, w]``."""
    frames = window.reshape(window.shape[0], -1)
    bins = (frames.astype(np.int32) * HISTOGRAM_BINS) >> 8
    offsets = np.arange(frames.shape[0])[:, None] * HISTOGRAM_BINS
    counts = np.bincount((bins + offsets).ravel(), minlength=frames.shape[0] * HISTOGRAM_BINS)
    counts = counts.reshape(frames.shape[0], HISTOGRAM_BINS).astype(np.float64)
    return counts / frames.shape[1]


def motion_stats(
    windows: Sequence[np.ndarray],
    step_s: float,
    cut_histogram: float = 0.35,
    cut_difference: float = 0.3,
) -> dict[str, float] | None:
    """``motion`` and ``cut_rate`` over windows of consecutive grey frames ``[F, h, w]``.

    Returns ``None`` when no window has two frames (a one-frame video).
    """
    diffs: list[np.ndarray] = []
    jumps: list[np.ndarray] = []
    for window in windows:
        if window.shape[0] < 2:
            continue
        frames = window.astype(np.int16)
        diffs.append(np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2)) / 255.0)
        hist = _histograms(window)
        jumps.append(0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1))
    if not diffs:
        return None
    diff = np.concatenate(diffs)
    jump = np.concatenate(jumps)
    cuts = (jump > cut_histogram) | (diff > cut_difference)
    still = diff[~cuts]
    return {
        "motion": float(still.mean()) if still.size else float(diff.mean()),
        "cut_rate": float(cuts.sum() / (diff.size * step_s)),
    }


__all__ = ["HISTOGRAM_BINS", "colour_stats", "frame_colour", "motion_stats"]
