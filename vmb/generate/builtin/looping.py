"""How a loop fits its length: a whole number of beats, so the beat runs on through the seam.

A piece that repeats must last exactly ``duration_s`` and hold a whole number of beats (else the
beat stumbles where the end meets the start). At a tempo ``T`` the length holds
``duration_s * T / 60`` beats, rarely a whole number, so something gives:

- **a tempo the user stated** ("110 bpm", kept exactly everywhere else) stays exact: when the
  length holds a whole number of beats it is used as it is; otherwise the body plays at exactly
  ``T`` and only the last bar(s) move, as few whole bars as keep their tempo within
  :data:`ZONE_SLACK` of ``T`` (the notes say which bars and by how much). Only when the piece
  is too short for that does the whole loop move, by at most half a beat over its length.
- **an inferred or blended tempo** moves the whole loop a little: to fit whole bars when that
  moves it by at most :data:`LOOP_TEMPO_SLACK`, else whole beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vmb.generate.builtin.tables import BEATS_PER_BAR

LOOP_TEMPO_SLACK = 0.03  # an open tempo moves at most this much to fit whole bars, else whole beats
ZONE_SLACK = 0.03  # a stated tempo: the bars that close the loop move at most this much
EXACT = 1e-6  # beats: a length this close to a whole number of beats fits as it is


@dataclass(frozen=True)
class LoopFit:
    """The loop's grid: ``beats`` in all (``bars`` bars, the last maybe partial) and the tempo
    changes ``(beat, bpm)`` from beat 0; ``body_bpm`` is the tempo of the first change."""

    beats: int
    bars: int
    changes: tuple[tuple[float, float], ...]
    note: str

    @property
    def body_bpm(self) -> float:
        return self.changes[0][1]


def fit_loop(duration_s: float, bpm: float, stated: bool) -> LoopFit:
    """The loop grid for ``duration_s`` seconds at ``bpm`` (see the module docstring)."""
    exact = duration_s * bpm / 60.0
    if stated:
        beats = max(1, round(exact))
        if abs(exact - beats) < EXACT:
            return LoopFit(beats, math.ceil(beats / BEATS_PER_BAR), ((0.0, bpm),),
                           f"{beats} beats in {duration_s:g} s at exactly the stated {bpm:.2f} BPM")
        # the last `zone` beats (whole bars) take the time the body at `bpm` leaves over
        for zone in range(BEATS_PER_BAR, beats, BEATS_PER_BAR):
            zone_s = duration_s - (beats - zone) * 60.0 / bpm
            zone_bpm = zone * 60.0 / zone_s if zone_s > 0 else math.inf
            if abs(zone_bpm / bpm - 1.0) <= ZONE_SLACK:
                bars = zone // BEATS_PER_BAR
                return LoopFit(beats, math.ceil(beats / BEATS_PER_BAR), ((0.0, bpm), (float(beats - zone), zone_bpm)),
                               f"{beats} beats in {duration_s:g} s: the stated {bpm:.2f} BPM is kept exactly, "
                               f"the last {bars} bar{'s' if bars > 1 else ''} play at {zone_bpm:.2f} BPM "
                               f"({(zone_bpm / bpm - 1) * 100:+.1f} %) so the loop closes on a beat "
                               f"({exact:.2f} beats at {bpm:.2f} BPM is not a whole number)")
        loop_bpm = beats * 60.0 / duration_s
        return LoopFit(beats, math.ceil(beats / BEATS_PER_BAR), ((0.0, loop_bpm),),
                       f"{beats} beats in {duration_s:g} s at {loop_bpm:.2f} BPM (stated {bpm:.2f}): too short "
                       f"to keep it and close on a beat ({exact:.2f} beats is not a whole number)")
    bars = max(1, round(duration_s * bpm / 60.0 / BEATS_PER_BAR))
    loop_bpm = bars * BEATS_PER_BAR * 60.0 / duration_s
    beats = bars * BEATS_PER_BAR
    if abs(loop_bpm / bpm - 1.0) > LOOP_TEMPO_SLACK:
        beats = max(1, round(exact))
        loop_bpm = beats * 60.0 / duration_s
        bars = math.ceil(beats / BEATS_PER_BAR)
    return LoopFit(beats, bars, ((0.0, loop_bpm),),
                   f"{beats} beats in {duration_s:g} s at {loop_bpm:.2f} BPM (asked {bpm:.2f})")
