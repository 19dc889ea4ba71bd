"""Shared signal plumbing of the measurements: mix-down, resampling, framed STFT, mel filterbank.

Every measurement works on mono audio at :data:`ANALYSIS_SR` (22.05 kHz): a fixed rate keeps the
frame sizes, and therefore the results, the same whatever rate the clip came at, and it halves the
work for 44.1/48 kHz audio.
"""

from __future__ import annotations

import functools

import numpy as np

from vmb.errors import MediaError

ANALYSIS_SR = 22050
MAX_CHANNELS = 64  # more "channels" than this means the array is [T, C]
_WHAT = "audio array"


def to_mono(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 ``[T]`` from ``[T]`` or ``[C, T]`` (channels averaged). Integer PCM is
    scaled to [-1, 1) by its full scale (int16: 32768).

    Raises:
        MediaError: not 1-D/2-D, more than 64 channels (a ``[T, C]`` array), non-numeric,
            NaN/inf samples, or a sample rate that is not positive.
    """
    if not (isinstance(sr, (int, np.integer, float)) and sr > 0):
        raise MediaError(_WHAT, f"sample rate must be a positive number, got {sr!r}")
    x = np.asarray(audio)
    if x.dtype.kind not in "fiu":
        raise MediaError(_WHAT, f"samples must be numbers, got dtype {x.dtype}")
    if x.dtype.kind == "i":
        x = x.astype(np.float64) / (np.iinfo(x.dtype).max + 1.0)
    elif x.dtype.kind == "u":  # unsigned PCM is centred on half its range
        half = (np.iinfo(x.dtype).max + 1.0) / 2
        x = (x.astype(np.float64) - half) / half
    if x.ndim == 2:
        if x.shape[0] > MAX_CHANNELS:
            raise MediaError(_WHAT, f"shape {x.shape} has {x.shape[0]} channels: expected [C, T] "
                                    f"(soundfile reads [T, C]; pass audio.T)")
        x = x.mean(axis=0) if x.shape[0] > 1 else x[0]
    elif x.ndim != 1:
        raise MediaError(_WHAT, f"expected [T] or [C, T] samples, got shape {tuple(np.shape(audio))}")
    x = x.astype(np.float32, copy=False)
    if x.size and not np.isfinite(x).all():
        raise MediaError(_WHAT, "contains NaN or infinite samples")
    return x


def prepare(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono ``[T]`` float32 at :data:`ANALYSIS_SR` (soxr resampling when ``sr`` differs)."""
    x = to_mono(audio, sr)
    if int(sr) != ANALYSIS_SR and x.size:
        import soxr

        x = soxr.resample(x, float(sr), float(ANALYSIS_SR), quality="MQ").astype(np.float32, copy=False)
    return x


def frame_signal(x: np.ndarray, n_fft: int, hop: float) -> np.ndarray:
    """Centred frames ``[F, n_fft]`` of ``x`` ``[T]``, frame ``i`` centred on sample ``i * hop``.

    ``hop`` may be fractional (frame starts are rounded), so frame times stay exact when a hop
    given at one sample rate is used at another. The signal is zero-padded by ``n_fft // 2``.
    """
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad))
    num = 1 + int(np.floor(max(len(x) - 1, 0) / hop)) if len(x) else 0
    if num == 0:
        return np.zeros((0, n_fft), dtype=np.float32)
    if float(hop).is_integer():
        view = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[:: int(hop)]
        return view[:num]
    starts = np.round(np.arange(num) * hop).astype(np.int64)
    return xp[starts[:, None] + np.arange(n_fft)[None, :]]


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def stft_power(x: np.ndarray, n_fft: int, hop: float) -> np.ndarray:
    """Power spectrogram ``[n_fft // 2 + 1, F]`` float32 (periodic Hann window, centred frames)."""
    import scipy.fft  # float32 FFT, several times faster than numpy's float64 one

    frames = frame_signal(x, n_fft, hop)
    if len(frames) == 0:
        return np.zeros((n_fft // 2 + 1, 0), dtype=np.float32)
    spec = scipy.fft.rfft(frames * _hann(n_fft), axis=1)
    return (spec.real * spec.real + spec.imag * spec.imag).T


def stft_magnitude(x: np.ndarray, n_fft: int, hop: float) -> np.ndarray:
    """Magnitude spectrogram ``[n_fft // 2 + 1, F]`` float32."""
    return np.sqrt(stft_power(x, n_fft, hop))


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney: linear below 1 kHz, logarithmic above
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters ``[n_mels, n_fft // 2 + 1]`` float32."""
    fmax = sr / 2 if fmax is None else fmax
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def sparse_rows(weights: np.ndarray, threshold: float = 1e-4):
    """``weights`` as a CSR matrix with entries under ``threshold`` x row max dropped.

    Filterbank products go through scipy.sparse: single-threaded and ~1 ms, where a threaded
    BLAS matmul of the same size stalls for up to 100 ms when the cores are busy.
    """
    import scipy.sparse

    keep = weights >= threshold * weights.max(axis=1, keepdims=True)
    return scipy.sparse.csr_matrix(np.where(keep, weights, 0.0).astype(np.float32))


def frame_times(num_frames: int, hop: float, sr: int) -> np.ndarray:
    """Centre time in seconds of each of ``num_frames`` frames ``[F]`` float64."""
    return np.arange(num_frames) * (hop / sr)
