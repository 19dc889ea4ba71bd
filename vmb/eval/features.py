"""vmb eval's built-in audio features: a 48-number description of a clip measured in one cheap
pass, for FD without model weights (``fd-features``; never called FAD).

Two views of the clip share the work, both at the file's own sample rate (no resampling):

* **spectral frames**: ``FRAMES_PER_S`` (4) Hann-windowed 64 ms frames a second (2048 samples
  at 32 kHz), spread evenly over the clip; one batched real FFT; the power spectrum up to
  11 025 Hz goes through two precomputed matrices (40 mel bands with the frame's power and
  centroid sum; the 12 pitch classes). Statistics over frames do not need every frame: a few
  a second give the means and spreads of all frames within the spread between clips (at
  10 s, 40 frames instead of the retrieval encoder's 430).
* **rhythm envelope**: the clip averaged down to ~2 kHz, the power of 64-point frames every
  20 ms below 200 Hz and from 200 Hz to 1 kHz (one matrix product with windowed cosines and
  sines, the frames' FFT at those bins), their positive log-power changes as accents; their
  autocorrelation under a tempo prior gives tempo and pulse clarity (the same approach as
  :mod:`vmb.analysis.tempo`'s first step, without its beat tracking).

=============  ====  ===================================================================
block          dims  what
=============  ====  ===================================================================
chroma         12    mean over frames of the 12 pitch-class energies (each frame max 1)
mfcc           26    mean and std of 13 MFCCs (40 mel bands up to 11 025 Hz, DCT-II)
spectral       6     mean and std of log2 centroid, log2 85 % rolloff, mel-band flatness
rhythm         2     log2(tempo / 120 BPM), pulse clarity (onset autocorrelation peak)
level          2     RMS level in dBFS / 20, std of the 20 ms level (62 Hz to 1 kHz) in dB / 20
=============  ====  ===================================================================

The values are the same whatever the file's sample rate (frequencies in Hz, power per window
normalised), so sets recorded at different rates compare fairly.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np
from scipy.fft import rfft

from vmb.feature_names import SPECTRAL_SHAPE_NAMES

EVAL_FEATURES_ID = "eval-features:v3"
FRAMES_PER_S = 4.0
FRAME_S = 0.064
MIN_FRAMES = 8
FMAX_HZ = 11025.0
N_MELS = 40
N_MFCC = 13
CHROMA_HZ = (55.0, 5000.0)
HOP_S = 0.02
SMOOTH_S = 0.02  # the accents' Gaussian smoothing (sigma)
ENVELOPE_SR = 2000.0  # the rhythm envelope's rate
ENVELOPE_N_FFT = 64
LOW_BAND_HZ, MID_BAND_HZ = 200.0, 1000.0
MIN_BPM, MAX_BPM, PRIOR_BPM = 40.0, 220.0, 120.0
LEVEL_FLOOR_DB = -120.0

EVAL_FEATURE_NAMES: tuple[str, ...] = (
    *(f"chroma_mean_{i}" for i in range(12)),
    *(f"mfcc_mean_{i}" for i in range(N_MFCC)),
    *(f"mfcc_std_{i}" for i in range(N_MFCC)),
    *SPECTRAL_SHAPE_NAMES,
    "tempo_log2",
    "pulse_clarity",
    "loudness",
    "loudness_std",
)

# Smallest per-dimension scale before FD: a reference set in which a feature barely varies (a few
# steady tones) must not turn small differences into huge distances.
_FLOORS = {"chroma": 0.02, "mfcc": 1.0, "log_": 0.1, "flatness": 0.02, "tempo": 0.1, "pulse": 0.15, "loudness": 0.1}


def feature_scale_floor() -> np.ndarray:
    """Per-dimension floor ``[48]`` of the scale the features are divided by before FD."""
    return np.asarray(
        [next(v for k, v in _FLOORS.items() if name.startswith(k)) for name in EVAL_FEATURE_NAMES], np.float32
    )


def frame_size(sr: int) -> int:
    """The FFT size at ``sr``: 64 ms rounded to a multiple of 64 samples (2048 at 32 kHz, 2816
    at 44.1 kHz, 3072 at 48 kHz: the same frame length and bin width, ~15.6 Hz, at every rate;
    sizes with small prime factors, so the FFT stays fast)."""
    return max(64, round(FRAME_S * sr / 64.0) * 64)


@lru_cache(maxsize=8)
def _plan(sr: int) -> dict:
    """Window and analysis matrices for a sample rate (built once).

    ``matrix [K, 40 + 2]`` maps the power of the ``K`` FFT bins up to 11 025 Hz to 40 mel bands
    (triangular, unit area), the frame's power and its frequency-weighted power (for the
    centroid), in power per window (the same level whatever ``n_fft``); ``chroma [C, 12]`` maps
    the bins from ``chroma_lo`` (55 Hz to 5 kHz) to the 12 pitch classes. For the rolloff the
    mel bands are scaled back to peak-1 triangles (``mel_widths [40]``), which sum to one
    across the spectrum, so their cumulative sum is the cumulative power, interpolated
    between the band centres (``rolloff_edges [41]``: 0 Hz, then the 40 centres).
    """
    from scipy.fft import dct

    from vmb.retrieve.encoders.features import mel_filterbank

    n_fft = frame_size(sr)
    fmax = min(FMAX_HZ, sr / 2)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    bins = int(np.searchsorted(freqs, fmax, side="right"))
    freqs = freqs[:bins]
    window = np.hanning(n_fft).astype(np.float32)
    mel = mel_filterbank(sr, n_fft, N_MELS, fmax=fmax)[:, :bins]  # [40, K]
    top = 2595.0 * np.log10(1.0 + fmax / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, top, N_MELS + 2) / 2595.0) - 1.0)  # mel_filterbank's
    rows = np.concatenate([mel, np.ones((1, bins)), freqs[None, :]]) / float(window.sum()) ** 2
    chroma = _chroma_map(freqs, sr / n_fft)  # [12, K]
    used = np.flatnonzero(chroma.any(axis=0))
    lo, hi = int(used[0]), int(used[-1]) + 1
    return {
        "n_fft": n_fft,
        "bins": bins,
        "window": window,
        "matrix": np.ascontiguousarray(rows.T, np.float32),  # [K, 42]
        "chroma_lo": lo,
        "chroma": np.ascontiguousarray(chroma[:, lo:hi].T, np.float32),  # [C, 12]
        "mel_widths": ((edges[2:] - edges[:-2]) / 2.0).astype(np.float32),  # [40]
        "rolloff_edges": np.concatenate([[0.0], edges[1:-1]]),  # [41]
        "dct_db": np.ascontiguousarray(  # [40, 13]: natural-log mel bands to MFCCs in dB
            (10.0 / np.log(10.0)) * dct(np.eye(N_MELS), type=2, axis=0, norm="ortho")[:N_MFCC].T, np.float32
        ),
    }


def _chroma_map(freqs: np.ndarray, bin_hz: float) -> np.ndarray:
    """``[12, K]``: each bin between 55 Hz and 5 kHz spread over the pitch classes near its
    pitch (Gaussian in semitones, as wide as the bin), columns summing to 1; other bins 0."""
    out = np.zeros((12, freqs.shape[0]))
    inside = (freqs >= CHROMA_HZ[0]) & (freqs <= CHROMA_HZ[1])
    f = freqs[inside]
    pitch = 69.0 + 12.0 * np.log2(f / 440.0)
    width = 12.0 * np.log2((f + bin_hz / 2) / np.maximum(f - bin_hz / 2, 1.0))
    sigma = np.maximum(width / 2, 0.5)
    classes = np.arange(12)[:, None]
    distance = (pitch[None, :] - classes + 6.0) % 12.0 - 6.0
    weights = np.exp(-0.5 * (distance / sigma[None, :]) ** 2)
    out[:, inside] = weights / weights.sum(axis=0, keepdims=True)
    return out


def _frames(mono: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """``[F, n_fft]`` (a strided view, no copy): ``FRAMES_PER_S`` frames a second (at least
    ``MIN_FRAMES``) at an even hop over ``mono`` ``[T]``, the last ending at the clip's end."""
    if mono.shape[0] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[0]))
    span = mono.shape[0] - n_fft
    count = 1 if span == 0 else max(MIN_FRAMES, round(FRAMES_PER_S * mono.shape[0] / sr))
    hop = max(1, span // (count - 1)) if count > 1 else 1
    count = min(count, span // hop + 1)
    start = span - hop * (count - 1)  # centre the frames: the same margin at both ends
    view = mono[start // 2 :]
    return np.lib.stride_tricks.as_strided(view, (count, n_fft), (hop * view.strides[0], view.strides[0]), writeable=False)


def _spectral(mono: np.ndarray, sr: int) -> np.ndarray:
    """chroma (12), MFCC mean/std (26), spectral shape mean/std (6): one FFT of the frames and
    two small matrix products; the per-frame values go into one ``[F, 28]`` matrix whose means
    and spreads are taken together."""
    plan = _plan(sr)
    frames = _frames(mono, sr, plan["n_fft"]) * plan["window"]  # [F, n_fft]
    spectrum = rfft(frames, axis=1, overwrite_x=True)[:, : plan["bins"]]  # [F, K] complex64
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)  # [F, K]
    out = power @ plan["matrix"]  # [F, 42]: 40 mel bands, total, frequency-weighted
    mel = out[:, :N_MELS]
    lo = plan["chroma_lo"]
    per_frame = np.empty((power.shape[0], 28), np.float32)  # chroma 12, mfcc 13, shape 3
    chroma = np.matmul(power[:, lo : lo + plan["chroma"].shape[0]], plan["chroma"], out=per_frame[:, :12])
    chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-20)
    log_mel = np.log(np.maximum(mel, 1e-12))  # natural log: flatness below; dB for the MFCCs
    np.matmul(log_mel, plan["dct_db"], out=per_frame[:, 12:25])
    total = np.maximum(out[:, N_MELS], 1e-20)
    np.log2(out[:, N_MELS + 1] / total + 1.0, out=per_frame[:, 25])  # centroid
    np.log2(_rolloff(mel * plan["mel_widths"], plan["rolloff_edges"]) + 1.0, out=per_frame[:, 26])
    geometric = np.exp(np.add.reduce(log_mel, axis=1) / N_MELS)
    np.divide(geometric, np.maximum(np.add.reduce(mel, axis=1) / N_MELS, 1e-12), out=per_frame[:, 27])  # flatness
    mean, std = _mean_std(per_frame)
    return np.concatenate([mean[:25], std[12:25], np.stack([mean[25:], std[25:]], 1).ravel()])


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard deviations ``[C]`` of the columns of ``x [F, C]`` (float64)."""
    mean = np.add.reduce(x, axis=0, dtype=np.float64) / x.shape[0]
    centred = x - mean
    return mean, np.sqrt(np.add.reduce(centred * centred, axis=0) / x.shape[0])


def _rolloff(bands: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``[F]`` Hz below which 85 % of each frame's power lies, from band powers ``[F, B]``
    (linear within the band that crosses 85 %); 0 for a silent frame."""
    cumulative = np.cumsum(bands, axis=1)
    target = 0.85 * cumulative[:, -1]
    index = np.minimum((cumulative < target[:, None]).sum(axis=1), bands.shape[1] - 1)
    rows = np.arange(bands.shape[0])
    before = np.where(index > 0, cumulative[rows, index - 1], 0.0)
    share = (target - before) / np.maximum(bands[rows, index], 1e-30)
    return edges[index] + np.clip(share, 0.0, 1.0) * (edges[index + 1] - edges[index])


@lru_cache(maxsize=8)
def _rhythm_plan(sr: int) -> dict:
    """Decimation factor, hop and band analysis matrix of the rhythm envelope at ``sr`` (built
    once). ``analysis [64, 2 J]``: the Hann-windowed cosines and sines of the ``J`` FFT bins of
    an ``ENVELOPE_N_FFT``-point frame between 0 and ``MID_BAND_HZ`` (the frame's FFT at those
    bins, as one matrix product); ``bands [2 J, 3]`` sums their squares below 200 Hz, from
    200 Hz up, and all of them."""
    factor = max(1, round(sr / ENVELOPE_SR))
    rate = sr / factor
    freqs = np.fft.rfftfreq(ENVELOPE_N_FFT, 1.0 / rate)
    keep = np.flatnonzero((freqs > 0) & (freqs < MID_BAND_HZ))  # [J]
    angle = 2.0 * np.pi * np.outer(np.arange(ENVELOPE_N_FFT), keep) / ENVELOPE_N_FFT  # [64, J]
    window = np.hanning(ENVELOPE_N_FFT)[:, None]
    low = freqs[keep] < LOW_BAND_HZ
    low = np.concatenate([low, low])
    bands = np.stack([low, ~low, np.ones_like(low)], axis=1)  # [2 J, 3]
    return {
        "factor": factor,
        "average": np.full(factor, 1.0 / factor, np.float32),
        "hop": max(1, round(HOP_S * rate)),
        "fps": rate / max(1, round(HOP_S * rate)),
        "analysis": np.ascontiguousarray(np.concatenate([np.cos(angle), np.sin(angle)], axis=1) * window, np.float32),
        "bands": bands.astype(np.float32),
    }


def _rhythm_and_level(mono: np.ndarray, sr: int) -> np.ndarray:
    """log2 tempo / 120, pulse clarity, RMS dBFS / 20, std of the 20 ms level in dB / 20.

    The clip is averaged down to ~2 kHz (blocks of ``sr / 2000`` samples); the power of its
    64-point Hann-windowed frames at 20 ms hops below 200 Hz (kick, bass) and from 200 Hz to
    1 kHz (snare body, chords) comes from one matrix product (:func:`_rhythm_plan`); their
    sum is the 20 ms level; their positive log-power changes, each scaled to unit spread and
    summed, are the accents (hi-hats left out: they mark the subdivision, not the beat; and
    they sit above what every sample rate keeps). Tempo and pulse clarity come from the
    accents' autocorrelation (:func:`_tempo`)."""
    mean_square = float(np.dot(mono, mono)) / max(mono.shape[0], 1)
    loudness = max(LEVEL_FLOOR_DB, 10.0 * math.log10(mean_square)) if mean_square > 0 else LEVEL_FLOOR_DB
    plan = _rhythm_plan(sr)
    factor, hop = plan["factor"], plan["hop"]
    n = mono.shape[0] // factor
    count = (n - ENVELOPE_N_FFT) // hop + 1 if n >= ENVELOPE_N_FFT else 0
    if count < 8:
        return np.asarray([0.0, 0.0, loudness / 20.0, 0.0])
    low_rate = mono[: n * factor].reshape(n, factor) @ plan["average"]  # [n] at ~2 kHz
    step = low_rate.strides[0]
    frames = np.ndarray((count, ENVELOPE_N_FFT), low_rate.dtype, low_rate, strides=(hop * step, step))  # a view
    parts = frames @ plan["analysis"]  # [count, 2 J]: real and imaginary parts
    bands = np.square(parts, out=parts) @ plan["bands"]  # [count, 3]: low, mid power and their sum
    log_bands = np.log10(np.maximum(bands, 1e-30))
    log_bands *= 10.0  # dB
    top = log_bands.max(axis=0)  # [3]
    np.maximum(log_bands, top - 80.0, out=log_bands)  # 80 dB below the loudest frame is silence
    flux = np.diff(log_bands[:, :2], axis=0)
    np.maximum(flux, 0.0, out=flux)
    _, spread = _mean_std(np.concatenate([flux, log_bands[1:, 2:]], axis=1))  # [3]: low, mid, level (from frame 2)
    use = (top[:2] > -290.0) & (spread[:2] > 1e-6)
    accents = flux[:, use] @ (1.0 / spread[:2][use]) if use.any() else np.zeros(count - 1)
    tempo, clarity = _tempo(_accents(accents, plan["fps"]), plan["fps"])
    return np.asarray([math.log2(max(tempo, 1.0) / PRIOR_BPM), clarity, loudness / 20.0, float(spread[2]) / 20.0])


@lru_cache(maxsize=8)
def _smoothing(fps: float) -> tuple[int, np.ndarray]:
    """The local-mean width (1 s, at least 3 frames) and the Gaussian kernel (sigma
    ``SMOOTH_S``, radius 4 sigma) of :func:`_accents`."""
    sigma = SMOOTH_S * fps
    x = np.arange(-int(4 * sigma + 0.5), int(4 * sigma + 0.5) + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    return max(3, int(fps)), kernel / kernel.sum()


def _accents(flux: np.ndarray, fps: float) -> np.ndarray:
    """Local mean (1 s) removed, half-wave rectified, raised to the power 1.5 (beats where
    several instruments start outweigh the subdivisions), smoothed over ~40 ms (a period that is
    not a whole number of hops keeps one peak)."""
    size, kernel = _smoothing(fps)
    left, right = size // 2, size - 1 - size // 2
    sums = np.cumsum(np.concatenate([np.zeros(1), flux[:1].repeat(left), flux, flux[-1:].repeat(right)]))
    local = sums[size:] - sums[:-size]  # the running sum over 1 s, edges repeated
    local /= -size
    local += flux
    o = np.maximum(local, 0.0, out=local)
    o *= np.sqrt(o)  # ** 1.5
    return np.convolve(o, kernel, mode="same")


@lru_cache(maxsize=32)
def _tempo_plan(n: int, fps: float) -> dict | None:
    """FFT size, candidate lags, their tempo prior and the unbiasing factors for an onset
    envelope of ``n`` frames at ``fps`` (built once per length); ``None`` when too short."""
    lo, hi = int(np.floor(60.0 * fps / MAX_BPM)), int(np.ceil(60.0 * fps / MIN_BPM))
    if n < 2 * lo + 2:
        return None
    size = 1 << int(np.ceil(np.log2(2 * n)))
    length = min(hi + 2, n)
    lags = np.arange(max(lo, 1), length - 1)
    if lags.size == 0:
        return None
    bpm = 60.0 * fps / lags
    return {
        "size": size,
        "length": length,
        "lags": lags,
        "prior": np.exp(-0.5 * np.log2(bpm / PRIOR_BPM) ** 2),
        "unbias": n / (n - np.arange(length)),
    }


def _tempo(onsets: np.ndarray, fps: float) -> tuple[float, float]:
    """``(bpm, clarity)`` from the autocorrelation of an onset envelope ``[n]`` at ``fps``:
    the lag between ``MIN_BPM`` and ``MAX_BPM`` with the highest autocorrelation weighted by a
    log-normal prior around 120 BPM (one octave wide), refined between lags by a parabola;
    clarity is the autocorrelation there (unbiased, interpolated: 1 for a perfectly periodic
    envelope, near 0 for noise). ``(0, 0)`` without onsets."""
    from scipy.fft import irfft

    x = onsets - float(np.add.reduce(onsets)) / max(onsets.shape[0], 1)
    plan = _tempo_plan(x.shape[0], fps)
    if plan is None or not np.any(x):
        return 0.0, 0.0
    spectrum = rfft(x, plan["size"])
    acf = irfft(spectrum.real**2 + spectrum.imag**2, plan["size"])[: plan["length"]]
    if acf[0] <= 0:
        return 0.0, 0.0
    acf = acf / acf[0] * plan["unbias"]  # unbiased: no lag-dependent decay
    lags = plan["lags"]
    best = int(lags[np.argmax(acf[lags] * plan["prior"])])
    a, b, c = acf[best - 1], acf[best], acf[best + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    clarity = b - 0.25 * (a - c) * shift
    return float(60.0 * fps / (best + shift)), min(1.0, max(0.0, float(clarity)))


def measure_features(mono: np.ndarray, sr: int) -> np.ndarray:
    """The feature vector ``[48]`` (float32, see the module table) of a mono clip ``[T]`` at ``sr``."""
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if mono.ndim != 1:
        raise ValueError(f"expected mono audio [T], got shape {mono.shape}")
    with one_blas_thread():
        return np.concatenate([_spectral(mono, sr), _rhythm_and_level(mono, sr)]).astype(np.float32)


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - comes with librosa (scikit-learn)
        return None
    return ThreadpoolController().select(user_api="blas")


_LIMITED = threading.local()


class _OneBlasThread:
    """The context of :func:`one_blas_thread` (nested uses cost nothing)."""

    def __enter__(self):
        self.limit = None
        if getattr(_LIMITED, "depth", 0) == 0:
            controller = _blas_controller()
            if controller is not None and not all(lib.get_num_threads() == 1 for lib in controller.lib_controllers):
                self.limit = controller.limit(limits=1)
        _LIMITED.depth = getattr(_LIMITED, "depth", 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        _LIMITED.depth -= 1
        if self.limit is not None:
            self.limit.restore_original_limits()


def one_blas_thread():
    """Context: numpy's BLAS on one thread for these small products (threads fighting over a
    loaded CPU make a [80, 700] x [700, 40] product ~100x slower); a no-op when it already runs
    on one, and inside another such context of the same thread. The controller is found once
    (~0.4 ms); wrap a loop over many clips in it, since each limit and restore costs a little."""
    return _OneBlasThread()
