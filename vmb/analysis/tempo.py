"""Tempo and beats.

1. An accent envelope from the onset flux below 3 kHz (kick, bass, snare body, chords; the
   hi-hats left out), its autocorrelation weighted by a log-normal tempo prior (120 BPM,
   1.5 octaves) and reduced where half the period also repeats strongly: the period.
2. A metrical check against the usual octave error on a backbeat (kick on 1, snare on 2
   repeat best at two beats): fold the envelope onto the period; if the off-beat is nearly as
   strong as the beat, or clearly present and carrying the snare-like (200 Hz-3 kHz *and*
   above-3 kHz) onsets, the period is two beats: halve it, and check again.
3. Octave correction (:func:`_metrical_level`): the period's metrical relatives (x1/4 .. x4,
   ternary ratios too) are scored by pulse salience on the full-band accent envelope (the
   autocorrelation at the period, its multiples and its half) under a log-normal prior at
   100 BPM; a more salient relative replaces it. Only for clips whose beat-level pulse is not
   already steady (autocorrelation at the period under :data:`STEADY_PULSE`: drum loops and
   click tracks keep the reading of step 2). This fixes readings of slow chorales,
   pads and rags that the drum-oriented steps take at two or four times (or 2/3 of) the beat.
4. Dynamic-programming beat tracking at that period (Ellis 2007, "Beat tracking by dynamic
   programming"); the BPM is refined from the beat intervals.

Known limits: the beat level is a choice between metrical levels; music where an unaccented
pulse runs at twice the beat (equal eighth notes in the bass, a reggae skank) or with a
half-time feel can come out at double or half tempo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from vmb.analysis.onset import OnsetEnvelope, onset_envelope_prepared
from vmb.analysis.spectral import prepare

logger = logging.getLogger(__name__)

MIN_BPM = 40.0
MAX_BPM = 240.0
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.5  # standard deviation of the log-normal prior, in octaves
SILENCE_DB = -70.0  # mean log-mel level under which a clip counts as silent
TIGHTNESS = 100.0  # how strongly beat spacing sticks to the period (Ellis' alpha)
ACCENT_POWER = 1.5
HALF_PERIOD_WEIGHT = 0.25  # a period whose half also repeats strongly is probably two beats
MIDPOINT_RATIO = 0.5  # halve the period while the off-beat is at least this strong,
MIDPOINT_RATIO_SNARE = 0.25  # or at least this strong and
BACKBEAT_RATIO = 0.75  # has this much of the strongest snare-like onsets
SALIENCE_PRIOR_BPM = 100.0  # octave correction: prior on the beat a listener taps
SALIENCE_PRIOR_OCTAVES = 1.0
STEADY_PULSE = 0.8  # beat-level autocorrelation above which no octave correction is tried
DANCE_MAX_BPM = 180.0  # a reading up to here is only halved when the half is
HALVING_MARGIN = 2.2  # this many times more salient


@dataclass(frozen=True)
class TempoEstimate:
    """Tempo of a clip.

    Attributes:
        bpm: beats per minute (0.0 when there is no beat: silence, a steady tone, too short).
        beats_s: beat times in seconds ``[B]`` float64.
        confidence: autocorrelation of the onset envelope at the beat period, normalised by
            its value at lag 0, in ``[0, 1]`` (1 = perfectly periodic onsets).
    """

    bpm: float
    beats_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    confidence: float = 0.0


def estimate_tempo(audio: np.ndarray, sr: int, *, min_bpm: float = MIN_BPM, max_bpm: float = MAX_BPM,
                   prior_bpm: float = PRIOR_BPM) -> TempoEstimate:
    """Tempo and beats of ``audio`` (``[T]`` or ``[C, T]`` at ``sr``).

    Silence, a clip with no onsets, or one shorter than two periods of ``min_bpm`` give
    ``bpm=0.0, confidence=0.0`` (never an exception).
    """
    return tempo_from_envelope(onset_envelope_prepared(prepare(audio, sr)), min_bpm=min_bpm,
                               max_bpm=max_bpm, prior_bpm=prior_bpm)


def tempo_from_envelope(env: OnsetEnvelope, *, min_bpm: float = MIN_BPM, max_bpm: float = MAX_BPM,
                        prior_bpm: float = PRIOR_BPM) -> TempoEstimate:
    """:func:`estimate_tempo` from an onset envelope already computed."""
    n = len(env.strength)
    if n == 0 or float(np.max(env.level_db, initial=-200.0)) < SILENCE_DB:
        return TempoEstimate(0.0)
    novelty = _novelty(env)
    if not novelty.any():
        return TempoEstimate(0.0)
    fps = env.fps
    max_lag = int(60.0 * fps / min_bpm)
    if n < 2 * int(60.0 * fps / max_bpm) + 2:
        logger.warning("clip of %.2f s is too short to measure a tempo", n / fps)
        return TempoEstimate(0.0)
    acf = _autocorrelation(novelty - novelty.mean(), min(max_lag + 2, n // 2 + 1))
    if acf[0] <= 0:
        return TempoEstimate(0.0)
    acf = acf / acf[0]
    lag = _best_lag(acf, fps, min_bpm, max_bpm, prior_bpm)
    if lag is None:
        return TempoEstimate(0.0)
    period = _refine_lag(acf, lag)
    min_period = 60.0 * fps / max_bpm
    backbeat = _backbeat(env)
    while period / 2 >= min_period and _is_two_beats(novelty, backbeat, period):
        period /= 2
        lag = int(round(period))
    confidence = float(np.clip(acf[lag], 0.0, 1.0))
    if confidence < STEADY_PULSE:  # a steady drum-like pulse keeps its beat-level reading
        corrected = _metrical_level(env, period, min_bpm, max_bpm)
        if corrected is not None and abs(corrected / period - 1.0) > 0.05:
            period = corrected
            lag = int(round(period))
            confidence = float(np.clip(acf[min(lag, len(acf) - 1)], 0.0, 1.0))
    beats = _track_beats(novelty, period)
    bpm = 60.0 * fps / period
    if len(beats) >= 4:
        # the mean of the beat intervals near their median: finer than the lag grid, and blind
        # to a ritardando or a held final chord at the end
        ibis = np.diff(beats) / fps
        med = float(np.median(ibis))
        ibi = float(ibis[np.abs(ibis / med - 1.0) < 0.06].mean())
        if 0.9 * period / fps < ibi < 1.1 * period / fps:
            bpm = 60.0 / ibi
    return TempoEstimate(float(bpm), beats.astype(np.float64) / fps, confidence)


def _metrical_level(env: OnsetEnvelope, period: float, min_bpm: float, max_bpm: float) -> float | None:
    """Octave correction: among the metrical relatives of ``period`` (x 1/4 .. 4, and the
    ternary 2/3, 3/2, 3/4, 4/3), the period with the highest *pulse salience* under a
    log-normal prior (:data:`SALIENCE_PRIOR_BPM`, :data:`SALIENCE_PRIOR_OCTAVES`).

    Salience is measured on the full-band accent envelope (every instrument, so slow chorales,
    pads and rags count, not only drums): the autocorrelation at the period and its multiples
    (weights 1/k, k = 1..4: the beat repeats at bar level too) plus half the autocorrelation at
    half the period (a beat is subdivided; a syncopated 3/16 grouping is not). Halving a reading
    of up to :data:`DANCE_MAX_BPM` needs :data:`HALVING_MARGIN` times the salience (the half of
    a drum groove at 150 is as periodic as the groove). ``None`` when the envelope is flat."""
    flux = env.strength.astype(np.float64)
    if flux.std() <= 1e-6:
        return None
    fps = env.fps
    accents = _accents(flux, fps)
    n = len(accents)
    max_lag = min(n - 1, int(4 * 60.0 * fps / min_bpm) + 2)
    acf = _autocorrelation(accents - accents.mean(), max_lag)
    if acf[0] <= 0:
        return None
    acf = acf / acf[0]

    def at(lag: float) -> float:
        i = int(np.floor(lag))
        if lag < 1 or i + 1 >= len(acf):
            return 0.0
        f = lag - i
        return max(0.0, (1 - f) * acf[i] + f * acf[i + 1])

    def salience(p: float) -> float:
        bpm = 60.0 * fps / p
        half = at(p / 2)  # a beat is subdivided (a syncopated 3/16 grouping is not)
        s = sum(at(k * p) / k for k in range(1, 5)) + 0.5 * half
        return s * float(np.exp(-0.5 * (np.log2(bpm / SALIENCE_PRIOR_BPM) / SALIENCE_PRIOR_OCTAVES) ** 2))

    lo, hi = 60.0 * fps / max_bpm, 60.0 * fps / min_bpm
    cands = [period * r for r in (0.25, 1 / 3, 0.5, 2 / 3, 0.75, 4 / 3, 1.5, 2.0, 3.0, 4.0)]
    # each candidate refined to its local autocorrelation peak (the ratios are ideal, music is not)
    refined = []
    for c in cands:
        if not lo <= c <= hi:
            continue
        window = np.arange(max(1, int(c * 0.94)), min(len(acf) - 2, int(np.ceil(c * 1.06))) + 1)
        if len(window) == 0:
            continue
        best = int(window[np.argmax(acf[window])])
        refined.append(_refine_lag(acf, best) if 1 <= best < len(acf) - 1 else float(best))
    own = salience(period)
    best_p, best_s = period, own
    danceable = 60.0 * fps / period <= DANCE_MAX_BPM
    for c in refined:
        # halving a danceable tempo (drums at 150 are not eighths at 75) must win clearly
        margin = HALVING_MARGIN if danceable and c > 1.9 * period else 1.0
        sc = salience(c) / margin
        if sc > best_s:
            best_p, best_s = c, sc
    return best_p


def _novelty(env: OnsetEnvelope) -> np.ndarray:
    """Accent envelope for periodicity ``[F]`` float64.

    The flux of the bands under 200 Hz (kick, bass) and of 200 Hz-3 kHz (snare body, chords,
    melody), each scaled to unit standard deviation and summed, so a kick counts as much as a
    snare. Flux above 3 kHz (hi-hats, cymbals: usually the subdivision, not the beat) is left out.
    See :func:`_accents` for the rest.
    """
    parts = [s / s.std() for s in (env.low.astype(np.float64), env.mid.astype(np.float64)) if s.std() > 1e-6]
    if not parts:
        return np.zeros(len(env.strength))
    return _accents(np.sum(parts, axis=0), env.fps)


def _accents(flux: np.ndarray, fps: float) -> np.ndarray:
    """Local mean (1 s) removed, half-wave rectified, raised to :data:`ACCENT_POWER` so the
    loudest accents (beats where several instruments start) outweigh the subdivisions, and
    smoothed over ~20 ms (a one-frame click at a period that is not a whole number of frames
    would otherwise split its autocorrelation peak between two lags)."""
    from scipy.ndimage import gaussian_filter1d, uniform_filter1d

    o = flux - uniform_filter1d(flux, size=max(3, int(fps)), mode="nearest")
    o = np.maximum(o, 0.0) ** ACCENT_POWER
    return gaussian_filter1d(o, sigma=1.0, mode="constant")


def _backbeat(env: OnsetEnvelope) -> np.ndarray:
    """Accent envelope of snare-like onsets ``[F]``: the geometric mean of the (unit standard
    deviation) 200 Hz-3 kHz and above-3 kHz fluxes, high only where both rise at once (a snare
    or clap; not a bass note, not a hi-hat alone)."""
    m, h = env.mid.astype(np.float64), env.high.astype(np.float64)
    if m.std() <= 1e-6 or h.std() <= 1e-6:
        return np.zeros(len(m))
    return _accents(np.sqrt((m / m.std()) * (h / h.std())), env.fps)


def _is_two_beats(novelty: np.ndarray, backbeat: np.ndarray, period: float) -> bool:
    """Whether ``period`` spans two beats (kick on 1, snare on 2 autocorrelates best at two
    beats). Both envelopes are folded onto the period (mean over periods at each phase); the
    beat is the strongest phase of ``novelty`` and the off-beat lies half a period later (±2
    frames of timing slack). Two beats when the off-beat is nearly as strong as the beat, or
    when it is clearly there and is where the snare-like onsets are."""
    beat_fold, backbeat_fold = _fold(novelty, period), _fold(backbeat, period)
    if beat_fold is None or beat_fold.max() <= 0:
        return False
    p = len(beat_fold)
    beat = int(np.argmax(beat_fold))
    off = np.round(beat + period / 2 + np.arange(-2, 3)).astype(np.int64) % p
    ratio = float(beat_fold[off].max() / beat_fold[beat])
    if ratio >= MIDPOINT_RATIO:
        return True
    snare = float(backbeat_fold[off].max() / backbeat_fold.max()) if backbeat_fold.max() > 0 else 0.0
    return ratio >= MIDPOINT_RATIO_SNARE and snare >= BACKBEAT_RATIO


def _fold(x: np.ndarray, period: float) -> np.ndarray | None:
    """Mean of ``x`` over successive periods at each phase ``[round(period)]`` (None when the
    clip holds fewer than two periods)."""
    p = int(round(period))
    k = int((len(x) - p) // period)
    if k < 2 or p < 4:
        return None
    idx = np.round(np.arange(p)[:, None] + np.arange(k)[None, :] * period).astype(np.int64)
    return x[np.minimum(idx, len(x) - 1)].mean(axis=1)


def _autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased autocorrelation ``[max_lag]`` (each lag divided by its overlap length)."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n - 1)))
    spec = np.fft.rfft(x, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[:max_lag]
    return acf / (n - np.arange(max_lag))  # max_lag <= n // 2 + 1 at the callers


def _best_lag(acf: np.ndarray, fps: float, min_bpm: float, max_bpm: float, prior_bpm: float) -> int | None:
    lo = max(1, int(np.floor(60.0 * fps / max_bpm)))
    hi = min(len(acf) - 2, int(np.ceil(60.0 * fps / min_bpm)))
    if hi <= lo:
        return None
    lags = np.arange(lo, hi + 1)
    bpm = 60.0 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / PRIOR_OCTAVES) ** 2)
    half = np.maximum(acf[np.round(lags / 2).astype(np.int64)], 0.0)
    score = (np.maximum(acf[lags], 0.0) - HALF_PERIOD_WEIGHT * half) * prior
    if score.max() <= 0:
        return None
    return int(lags[np.argmax(score)])


def _refine_lag(acf: np.ndarray, lag: int) -> float:
    """Parabolic interpolation of the autocorrelation peak around ``lag``."""
    a, b, c = acf[lag - 1], acf[lag], acf[lag + 1]
    denom = a - 2 * b + c
    if denom >= 0:
        return float(lag)
    return float(lag + np.clip(0.5 * (a - c) / denom, -0.5, 0.5))


def _track_beats(novelty: np.ndarray, period: float) -> np.ndarray:
    """Ellis' dynamic programme: beat frame indices ``[B]`` that maximise onset strength at the
    beats minus a penalty ``TIGHTNESS * log(gap / period)^2`` on each gap."""
    n = len(novelty)
    sd = novelty.std()
    if sd <= 0:
        return np.zeros(0, dtype=np.int64)
    o = novelty / sd
    width = np.arange(-int(period), int(period) + 1)
    local = np.convolve(o, np.exp(-0.5 * (width * 32.0 / period) ** 2), mode="same")

    lo, hi = int(round(period / 2)), int(round(2 * period))
    # cum[hi + i] is the best score of a beat sequence ending at frame i; the candidate
    # predecessors of frame i, i - hi .. i - lo, are then the contiguous slice cum[i : i + span]
    span = hi - lo + 1
    penalty = -TIGHTNESS * np.log(np.arange(hi, lo - 1, -1) / period) ** 2
    cum = np.full(n + hi, -np.inf)
    back = np.full(n, -1, dtype=np.int64)
    started = False
    threshold = 0.01 * local.max()
    for i in range(n):
        cand = cum[i: i + span] + penalty
        j = int(np.argmax(cand))
        if started and cand[j] > -np.inf:
            cum[hi + i] = local[i] + cand[j]
            back[i] = i - hi + j
        else:
            cum[hi + i] = local[i]
            started = started or local[i] > threshold
    cum = cum[hi:]
    # last beat: the best-scoring end among the final two periods (the latest local maximum, as
    # in Ellis' paper, can land on an off-beat eighth and drag the last beats off the grid)
    if not started:
        return np.zeros(0, dtype=np.int64)
    tail = max(0, n - 2 * int(round(period)))
    i = tail + int(np.argmax(cum[tail:]))
    beats = []
    while i >= 0:
        beats.append(i)
        i = int(back[i])
    beats = np.asarray(beats[::-1], dtype=np.int64)
    return _trim_beats(beats, local)


def _trim_beats(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats that fall where the onset strength is weak (the DP keeps
    ticking through silence at the clip edges)."""
    if len(beats) == 0:
        return beats
    strength = local[beats]
    threshold = 0.5 * np.sqrt(np.mean(strength ** 2))
    keep = np.flatnonzero(strength >= threshold)
    if len(keep) == 0:
        return beats
    return beats[keep[0]: keep[-1] + 1]
