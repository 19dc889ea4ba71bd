"""Video–music alignment: cuts against beats (BCS/BHS) and motion against loudness.

Music events are measured with librosa (an independent tool, not vmb's analysis): beats from
``librosa.beat.beat_track`` and onsets from ``librosa.onset.onset_detect`` on a mono 22.05 kHz
copy. Video cuts are jumps of the grey-level histogram (total variation distance over 0.35) or
of the mean absolute frame difference (over 0.3) between frames sampled at 10 fps — the
thresholds of vmb's visual describer.

Definitions, with the video's cuts as its rhythm events ``C`` and a tolerance ``tol`` (default
±0.1 s), counting only music events within the video's span:

- **BHS** (beat hit score) = share of cuts with a music beat or onset within ``tol``.
- **BCS** (beat coverage score) = number of music beats / number of cuts (after CMT and LORIS,
  where the reference rhythm's events are the denominator; 1 means as many beats as cuts).
- **beats on cuts** (the reverse of BHS) = share of music beats within ``tol`` of a cut.
- **motion–loudness** = Pearson correlation of the frame-difference motion curve and the music's
  RMS level in dB, both averaged over 0.5 s bins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vmb.eval.deps import require

ANALYSIS_SR = 22050
DEFAULT_TOLERANCE_S = 0.1
CUT_FPS = 10.0
CUT_HISTOGRAM = 0.35
CUT_DIFFERENCE = 0.3


@dataclass(frozen=True)
class MusicEvents:
    """Beat and onset times (seconds) and the tempo librosa measured on a clip."""

    beats: np.ndarray
    onsets: np.ndarray
    tempo_bpm: float
    duration_s: float


def music_events(mono: np.ndarray, sr: int) -> MusicEvents:
    """Beats, onsets and tempo of a mono clip ``[T]`` (librosa)."""
    librosa = require("librosa")

    from vmb.media import resample

    y = np.asarray(mono, np.float32)
    if sr != ANALYSIS_SR:
        y = resample(y[None, :], sr, ANALYSIS_SR)[0]
    duration = y.shape[0] / ANALYSIS_SR
    if not np.any(np.abs(y) > 1e-6):
        return MusicEvents(np.zeros(0), np.zeros(0), 0.0, duration)
    tempo, beats = librosa.beat.beat_track(y=y, sr=ANALYSIS_SR, units="time")
    onsets = librosa.onset.onset_detect(y=y, sr=ANALYSIS_SR, units="time")
    return MusicEvents(
        np.asarray(beats, np.float64), np.asarray(onsets, np.float64), float(np.atleast_1d(tempo)[0]), duration
    )


@dataclass(frozen=True)
class VideoRhythm:
    """Cut times and the motion curve of a video.

    Attributes:
        cuts: times (s) of the first frame after each cut ``[K]``.
        times: time of each motion value ``[F-1]`` (the later frame of each pair).
        motion: mean absolute grey difference of consecutive frames, 0..1, ``nan`` at cuts.
        duration_s: the span of the sampled frames.
    """

    cuts: np.ndarray
    times: np.ndarray
    motion: np.ndarray
    duration_s: float


def video_rhythm(path: str | os.PathLike, fps: float = CUT_FPS) -> VideoRhythm:
    """Cuts and motion of a video (frames at ``fps``, grey, at most 96 px a side).

    Raises:
        MediaError: the file is not a readable video.
    """
    from vmb.media import read_frames

    frames, stamps = read_frames(path, fps=fps, max_side=96)
    grey = frames.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    return rhythm_from_frames(grey / 255.0, np.asarray(stamps, np.float64))


def rhythm_from_frames(grey: np.ndarray, stamps: np.ndarray) -> VideoRhythm:
    """Cuts and motion from grey frames ``[F, H, W]`` in 0..1 and their times ``[F]``."""
    if grey.shape[0] < 2:
        span = float(stamps[-1]) if len(stamps) else 0.0
        return VideoRhythm(np.zeros(0), np.zeros(0), np.zeros(0), span)
    hist = np.stack([np.histogram(g, bins=32, range=(0.0, 1.0))[0] for g in grey]).astype(np.float64)
    hist /= hist.sum(axis=1, keepdims=True)
    jump = 0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1)
    diff = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    is_cut = (jump > CUT_HISTOGRAM) | (diff > CUT_DIFFERENCE)
    motion = np.where(is_cut, np.nan, diff)
    return VideoRhythm(stamps[1:][is_cut], stamps[1:], motion, float(stamps[-1] - stamps[0]))


def hits(events: np.ndarray, targets: np.ndarray, tolerance_s: float) -> np.ndarray:
    """For each event, whether a target lies within ``tolerance_s`` ``[len(events)]`` bool."""
    events = np.asarray(events, np.float64)
    targets = np.sort(np.asarray(targets, np.float64))
    if events.size == 0 or targets.size == 0:
        return np.zeros(events.shape, bool)
    pos = np.searchsorted(targets, events)
    left = targets[np.clip(pos - 1, 0, targets.size - 1)]
    right = targets[np.clip(pos, 0, targets.size - 1)]
    nearest = np.minimum(np.abs(events - left), np.abs(events - right))
    return nearest <= tolerance_s + 1e-9


@dataclass(frozen=True)
class BeatAlignment:
    """BCS/BHS of one video and its music (see the module docstring); ``None`` without cuts."""

    bhs: float | None
    bcs: float | None
    beats_on_cuts: float | None
    num_cuts: int
    num_beats: int
    tolerance_s: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def beat_alignment(
    cuts: np.ndarray,
    beats: np.ndarray,
    onsets: np.ndarray = (),
    span_s: float | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> BeatAlignment:
    """BHS, BCS and beats-on-cuts for cut times and music beat/onset times (seconds).

    Music events after ``span_s`` (the video's length) are not counted.
    """
    cuts = np.asarray(cuts, np.float64)
    beats = np.asarray(beats, np.float64)
    events = np.concatenate([beats, np.asarray(onsets, np.float64)])
    if span_s is not None:
        beats = beats[beats <= span_s + tolerance_s]
        events = events[events <= span_s + tolerance_s]
    if cuts.size == 0:
        return BeatAlignment(None, None, None, 0, int(beats.size), tolerance_s)
    bhs = float(hits(cuts, events, tolerance_s).mean())
    bcs = float(beats.size / cuts.size)
    on_cuts = float(hits(beats, cuts, tolerance_s).mean()) if beats.size else 0.0
    return BeatAlignment(bhs, bcs, on_cuts, int(cuts.size), int(beats.size), tolerance_s)


def loudness_curve(mono: np.ndarray, sr: int, hop_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``(times [F], RMS level in dB [F])`` of a mono clip (librosa RMS)."""
    librosa = require("librosa")

    hop = max(1, round(hop_s * sr))
    rms = librosa.feature.rms(y=np.asarray(mono, np.float32), frame_length=4 * hop, hop_length=hop)[0]
    times = librosa.frames_to_time(np.arange(rms.size), sr=sr, hop_length=hop)
    return times, 20.0 * np.log10(np.maximum(rms, 1e-5))


def _bin_means(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    out = np.full(edges.size - 1, np.nan)
    idx = np.digitize(times, edges) - 1
    for b in range(out.size):
        sel = (idx == b) & np.isfinite(values)
        if sel.any():
            out[b] = values[sel].mean()
    return out


def motion_loudness_correlation(
    rhythm: VideoRhythm, times: np.ndarray, level_db: np.ndarray, bin_s: float = 0.5
) -> float | None:
    """Pearson correlation of motion and loudness (a :func:`loudness_curve`) over ``bin_s``
    bins; ``None`` if either is constant or there are fewer than 4 bins."""
    if rhythm.times.size < 2 or len(times) < 2:
        return None
    end = min(float(rhythm.times[-1]), float(times[-1]))
    edges = np.arange(0.0, end + 1e-9, bin_s)
    if edges.size < 5:
        return None
    motion = _bin_means(rhythm.times, rhythm.motion, edges)
    loud = _bin_means(np.asarray(times), np.asarray(level_db), edges)
    ok = np.isfinite(motion) & np.isfinite(loud)
    if ok.sum() < 4 or np.std(motion[ok]) < 1e-9 or np.std(loud[ok]) < 1e-9:
        return None
    return float(np.corrcoef(motion[ok], loud[ok])[0, 1])
