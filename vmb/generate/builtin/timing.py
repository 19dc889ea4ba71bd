"""The beat grid of a piece that scores a picture: the tempo and phase that put the cuts on beats.

:func:`choose_grid` searches tempi within ``slack`` (8 %) of the planned tempo — or keeps the
planned tempo exactly when the user stated it — and every phase of the bar, and keeps the grid
that scores best:

    score = sum_i w_i * K(d_i) + 0.5 * sum_i w_i * s_i * K(D_i) - tie-break on the tempo change

with ``d_i`` the distance of cut ``i`` to its nearest beat, ``D_i`` to its nearest downbeat,
``K(d) = exp(-(d / 30 ms)^2)``, ``w_i`` the cut's weight (its strength, section boundaries 2)
and ``s_i`` its strength relative to the strongest: many cuts on beats first, the strongest on
downbeats. The phase is the time of a downbeat in ``[0, bar)``: the piece starts with a pickup
(an anacrusis) of that length before its first whole bar (see
:attr:`vmb.generate.builtin.arrangement.TempoMap.offset_s`).

A cut *lands on a beat* when it lies within :data:`HIT_TOLERANCE_S` of one; for random cut
times that happens with probability ``2 * tolerance / beat`` (:attr:`BeatGrid.chance`), the
figure the notes compare the hit rate with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmb.generate.builtin.tables import BEATS_PER_BAR

SLACK = 0.08  # the tempo may move this much from the plan's to hit cuts
HIT_TOLERANCE_S = 0.035  # a cut this close to a beat is on it
KERNEL_S = 0.03
PHASE_STEP_S = 0.004
MAX_CUTS = 200  # the strongest cuts that steer the search (all are reported)


@dataclass(frozen=True)
class BeatGrid:
    """A steady beat: ``bpm`` with a downbeat at ``offset_s`` (in ``[0, bar)``).

    ``cuts_s`` are the cut times it was chosen for, ``on_beat`` whether each lies within
    :data:`HIT_TOLERANCE_S` of a beat and ``on_downbeat`` of a downbeat.
    """

    bpm: float
    offset_s: float
    cuts_s: tuple[float, ...] = ()
    on_beat: tuple[bool, ...] = ()
    on_downbeat: tuple[bool, ...] = ()
    searched: str = ""

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def chance(self) -> float:
        """The share of random cut times that would land on a beat."""
        return min(1.0, 2.0 * HIT_TOLERANCE_S / self.beat_s)

    @property
    def hits(self) -> int:
        return int(sum(self.on_beat))

    def nearest_beat(self, time_s: float) -> int:
        """The index of the beat nearest ``time_s`` (beat 0 at ``offset_s``; negative before)."""
        return math.floor((time_s - self.offset_s) / self.beat_s + 0.5)

    def describe(self, limit: int = 200) -> str:
        """One line for the notes: hits against chance, and which cuts landed on a beat and
        which missed (times in seconds, at most ``limit`` of each)."""
        n = len(self.cuts_s)
        if not n:
            return "no cuts to hit"

        def times(hit: bool) -> str:
            chosen = [f"{t:.2f}" for t, h in zip(self.cuts_s, self.on_beat) if h == hit]
            more = f" (+{len(chosen) - limit} more)" if len(chosen) > limit else ""
            return ", ".join(chosen[:limit]) + more if chosen else "none"

        down = sum(self.on_downbeat)
        return (f"{self.hits} of {n} cuts on a beat ({self.hits / n:.0%}; chance {self.chance:.0%} "
                f"at {self.bpm:.2f} BPM, within {HIT_TOLERANCE_S * 1000:.0f} ms), {down} on a downbeat; "
                f"on a beat at {times(True)} s; missed {times(False)}")


def _distances(times: np.ndarray, beat_s: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Distance (s) of each time to the nearest point of the grids ``phase + k * beat_s``.

    Shapes: ``times [N]``, ``beat_s [G]`` and ``phase [G]`` broadcast → ``[G, N]``."""
    r = (times[None, :] - phase[:, None]) / beat_s[:, None]
    return np.abs(r - np.round(r)) * beat_s[:, None]


def choose_grid(
    cuts_s: Sequence[float],
    strengths: Sequence[float] | None = None,
    bpm: float = 120.0,
    free: bool = True,
    anchors_s: Sequence[float] = (),
    slack: float = SLACK,
) -> BeatGrid:
    """The tempo (``bpm`` within ``slack``, exactly ``bpm`` unless ``free``) and downbeat phase
    that put the most cuts on beats and the strongest on downbeats.

    Args:
        cuts_s: the cut times in seconds.
        strengths: each cut's strength 0..1 (default 1).
        bpm: the planned tempo.
        free: the tempo may move (``False``: the user stated it).
        anchors_s: section boundaries, weighted as the strongest cuts (they go on downbeats
            when they can); not reported as cuts.
    """
    cuts = np.asarray(list(cuts_s), np.float64)
    weights = np.ones_like(cuts) if strengths is None else np.clip(np.asarray(list(strengths), np.float64), 0.05, 1.0)
    anchors = np.asarray([a for a in anchors_s if a > 1e-6], np.float64)
    times = np.concatenate([cuts, anchors])
    w = np.concatenate([weights, np.full(len(anchors), 2.0)])
    if len(times) > MAX_CUTS:
        keep = np.argsort(-w, kind="stable")[:MAX_CUTS]
        times, w = times[keep], w[keep]
    rel = w / max(float(w.max()), 1e-9) if len(w) else w
    if not len(times):
        return BeatGrid(bpm=float(bpm), offset_s=0.0, searched="no cuts: the planned tempo, no pickup")
    if free:
        span = float(times.max()) + 1.0
        # tempo steps small enough that the grid drifts at most ~10 ms over the cuts
        count = int(np.clip(2 * slack * span / 0.01, 24, 600))
        bpms = bpm * np.exp(np.linspace(math.log(1 - slack), math.log(1 + slack), count))
        bpms = np.unique(np.append(bpms, bpm))
    else:
        bpms = np.array([float(bpm)])
    best = (-np.inf, float(bpm), 0.0)
    for chunk in np.array_split(bpms, max(1, len(bpms) // 32)):
        best = max(best, _best_in(times, w, rel, chunk, float(bpm)), key=lambda b: b[0])
    _, chosen, offset = best
    how = (f"tempo searched {bpm * (1 - slack):.1f}-{bpm * (1 + slack):.1f} BPM" if free
           else f"tempo kept at the stated {bpm:g} BPM")
    return grid_at(cuts, chosen, offset,
                   f"{how} and every phase; a pickup of {offset:.3f} s puts the first downbeat there")


def grid_at(cuts_s: Sequence[float], bpm: float, offset_s: float, searched: str = "") -> BeatGrid:
    """The grid of ``bpm`` with a downbeat at ``offset_s``, and which ``cuts_s`` fall on it."""
    cuts = np.asarray(list(cuts_s), np.float64)
    beat = 60.0 / bpm
    d = _distances(cuts, np.array([beat]), np.array([offset_s]))[0]
    dd = _distances(cuts, np.array([beat * BEATS_PER_BAR]), np.array([offset_s]))[0]
    return BeatGrid(
        bpm=float(bpm),
        offset_s=float(offset_s),
        cuts_s=tuple(float(t) for t in cuts),
        on_beat=tuple(bool(x) for x in d <= HIT_TOLERANCE_S + 1e-9),
        on_downbeat=tuple(bool(x) for x in dd <= HIT_TOLERANCE_S + 1e-9),
        searched=searched,
    )


def _best_in(times, w, rel, bpms: np.ndarray, planned: float) -> tuple[float, float, float]:
    """The best ``(score, bpm, downbeat phase)`` among ``bpms`` (every phase of the bar)."""
    beat_s = 60.0 / bpms  # [B]
    steps = math.ceil(float(beat_s.max()) / PHASE_STEP_S)
    frac = np.arange(steps) / steps  # phase as a fraction of a beat
    phase = (beat_s[:, None] * frac[None, :]).ravel()  # [B * P]
    beats = np.repeat(beat_s, steps)
    d = _distances(times, beats, phase)  # [B*P, N]
    beat_score = (np.exp(-(d / KERNEL_S) ** 2) * w).sum(axis=1)
    # the downbeat among the four beats of the bar: phase + j * beat
    best_total = np.full(len(phase), -np.inf)
    best_offset = np.zeros(len(phase))
    for j in range(BEATS_PER_BAR):
        off = phase + j * beats
        dd = _distances(times, beats * BEATS_PER_BAR, off)
        total = beat_score + 0.5 * (np.exp(-(dd / KERNEL_S) ** 2) * w * rel).sum(axis=1)
        better = total > best_total + 1e-9
        best_total = np.where(better, total, best_total)
        best_offset = np.where(better, off, best_offset)
    best_total = best_total - 0.02 * len(times) * np.abs(np.log(beats * planned / 60.0))
    i = int(np.argmax(best_total))
    return float(best_total[i]), float(60.0 / beats[i]), float(best_offset[i])


__all__ = ["HIT_TOLERANCE_S", "SLACK", "BeatGrid", "choose_grid", "grid_at"]
