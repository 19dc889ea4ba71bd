"""Chroma: the energy of each of the 12 pitch classes over time.

The STFT magnitude (93 ms window at 22.05 kHz, 5.4 Hz bins) is folded onto pitch classes by a
log-frequency filterbank: each bin between :data:`FMIN` and :data:`FMAX` gives its energy to the
pitch classes near its frequency with a Gaussian weight one semitone wide (wider where the bins
are coarser than a semitone), so tones up to a quarter-tone off A440 still land in their class.
"""

from __future__ import annotations

import functools

import numpy as np

from vmb.analysis.spectral import ANALYSIS_SR, frame_times, prepare, sparse_rows, stft_power

CHROMA_N_FFT = 4096
CHROMA_HOP = 1024  # at ANALYSIS_SR: 46 ms
FMIN = 27.5
FMAX = 5000.0
_SILENT_FRAME = 1e-4  # frames whose chroma energy is below this fraction of the loudest are zeroed


def default_hop_length(sr: int) -> int:
    """The default chroma hop in samples at ``sr`` (~46 ms)."""
    return max(1, int(round(CHROMA_HOP * sr / ANALYSIS_SR)))


@functools.lru_cache(maxsize=4)
def chroma_filterbank(sr: int = ANALYSIS_SR, n_fft: int = CHROMA_N_FFT, fmin: float = FMIN,
                      fmax: float = FMAX) -> np.ndarray:
    """Weights ``[12, n_fft // 2 + 1]`` float32 from STFT bins to pitch classes (row 0 = C)."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    weights = np.zeros((12, len(freqs)))
    inside = (freqs >= fmin) & (freqs <= fmax)
    f = freqs[inside]
    pitch = 69.0 + 12.0 * np.log2(f / 440.0)  # fractional MIDI pitch of each bin
    bin_semitones = 12.0 * np.log2((f + sr / n_fft / 2) / np.maximum(f - sr / n_fft / 2, 1e-3))
    sigma = np.maximum(0.5, 0.5 * bin_semitones)
    pcs = np.arange(12)[:, None]
    dist = (pitch[None, :] - pcs + 6.0) % 12.0 - 6.0  # circular distance to each class, semitones
    w = np.exp(-0.5 * (dist / sigma[None, :]) ** 2)
    weights[:, inside] = w / w.sum(axis=0, keepdims=True)
    return weights.astype(np.float32)


def chroma_prepared(x: np.ndarray, hop: float = CHROMA_HOP) -> np.ndarray:
    """Unnormalised chroma energy ``[12, F]`` of mono audio at :data:`ANALYSIS_SR`."""
    return chroma_from_power(stft_power(x, CHROMA_N_FFT, hop))


def chroma_from_power(power: np.ndarray) -> np.ndarray:
    """Chroma energy ``[12, F]`` from a power spectrogram ``[CHROMA_N_FFT // 2 + 1, F]``."""
    return np.asarray(_sparse_chroma_filterbank() @ power)


@functools.lru_cache(maxsize=1)
def _sparse_chroma_filterbank():
    return sparse_rows(chroma_filterbank())


def normalize_frames(energy: np.ndarray) -> np.ndarray:
    """Each frame (column) of ``[12, F]`` divided by its maximum; near-silent frames become 0."""
    peak = energy.max(axis=0, keepdims=True) if energy.size else energy
    floor = _SILENT_FRAME * float(peak.max(initial=0.0))
    out = np.zeros_like(energy, dtype=np.float32)
    keep = peak[0] > max(floor, 1e-12) if energy.size else np.zeros(0, bool)
    out[:, keep] = energy[:, keep] / peak[:, keep]
    return out


def chroma(audio: np.ndarray, sr: int, hop_length: int | None = None) -> np.ndarray:
    """Chroma ``[12, F]`` float32 in ``[0, 1]``, each frame divided by its largest class.

    Args:
        audio: ``[T]`` or ``[C, T]`` samples at ``sr``.
        hop_length: frame hop in samples at ``sr`` (default :func:`default_hop_length`);
            frame ``i`` is centred at ``i * hop_length / sr`` seconds.
    """
    hop_length = default_hop_length(sr) if hop_length is None else int(hop_length)
    if hop_length <= 0:
        from vmb.errors import UsageError

        raise UsageError(f"chroma hop_length must be positive, got {hop_length}")
    x = prepare(audio, sr)
    return normalize_frames(chroma_prepared(x, hop_length * ANALYSIS_SR / sr))


def _segment_means(energy: np.ndarray, times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of the frames of ``energy [12, F]`` whose time falls in each ``[edges[j], edges[j+1])``
    ``[12, len(edges) - 1]``; a segment with no frame takes its nearest frame."""
    out = np.zeros((12, len(edges) - 1), dtype=np.float64)
    if energy.shape[1] == 0:
        return out
    idx = np.searchsorted(times, edges)
    for j in range(len(edges) - 1):
        a, b = idx[j], idx[j + 1]
        if b > a:
            out[:, j] = energy[:, a:b].mean(axis=1)
        else:
            mid = 0.5 * (edges[j] + edges[j + 1])
            out[:, j] = energy[:, min(energy.shape[1] - 1, int(np.argmin(np.abs(times - mid))))]
    return out


def beat_chroma(audio: np.ndarray, sr: int, beats_s: np.ndarray) -> np.ndarray:
    """Chroma averaged between beats ``[12, B]`` float32: column ``j`` covers
    ``[beats_s[j], beats_s[j + 1])``, the last one up to the end of the audio. Normalised per
    column like :func:`chroma`."""
    beats = np.asarray(beats_s, dtype=np.float64).ravel()
    x = prepare(audio, sr)
    energy = chroma_prepared(x)
    times = frame_times(energy.shape[1], CHROMA_HOP, ANALYSIS_SR)
    end = max(len(x) / ANALYSIS_SR, float(beats[-1]) + 1e-3) if len(beats) else len(x) / ANALYSIS_SR
    return beat_chroma_from_energy(energy, times, beats, end)


def beat_chroma_from_energy(energy: np.ndarray, times: np.ndarray, beats: np.ndarray, end_s: float) -> np.ndarray:
    """:func:`beat_chroma` from chroma energy ``[12, F]`` already computed at ``times [F]``."""
    if len(beats) == 0:
        return np.zeros((12, 0), dtype=np.float32)
    if np.any(np.diff(beats) <= 0):
        from vmb.errors import UsageError

        raise UsageError("beats_s must be strictly increasing")
    edges = np.append(beats, end_s)
    return normalize_frames(_segment_means(energy, times, edges))
