"""Cutting tracks into clips: ``segment_s`` long, every ``hop_s`` seconds.

A track of ``duration`` seconds gives clips starting at 0, hop, 2·hop, ... while a whole
segment fits; a remaining tail of at least half a segment becomes one shorter last clip; a
track shorter than a segment (but at least ``MIN_CLIP_S``) is one clip.
"""

from __future__ import annotations

from vmb.errors import UsageError

MIN_CLIP_S = 1.0


def check_segmenting(segment_s: float, hop_s: float) -> None:
    """Raises UsageError for a non-positive segment or hop, or a hop longer than a segment
    would leave gaps (allowed, but not beyond twice the segment)."""
    if not segment_s > 0:
        raise UsageError(f"--segment-s {segment_s}: must be greater than 0")
    if not hop_s > 0:
        raise UsageError(f"--hop-s {hop_s}: must be greater than 0")
    if hop_s > 2 * segment_s:
        raise UsageError(
            f"--hop-s {hop_s}: more than twice --segment-s {segment_s} would skip most of each track"
        )


def segment_track(
    duration_s: float, segment_s: float = 10.0, hop_s: float = 10.0
) -> list[tuple[float, float]]:
    """``[(start_s, duration_s), ...]`` of the clips of a track of ``duration_s`` seconds."""
    check_segmenting(segment_s, hop_s)
    eps = 1e-6
    if duration_s < MIN_CLIP_S - eps:
        return []
    if duration_s <= segment_s + eps:
        return [(0.0, float(duration_s))]
    clips: list[tuple[float, float]] = []
    start = 0.0
    while start + segment_s <= duration_s + eps:
        clips.append((round(start, 6), float(segment_s)))
        start += hop_s
    tail = duration_s - start
    covered_to = clips[-1][0] + segment_s
    if tail >= segment_s / 2 - eps and duration_s - covered_to > eps:
        clips.append((round(start, 6), round(tail, 6)))
    return clips
