"""Loudness, onset density and a single 0-1 energy score built from them and brightness."""

from __future__ import annotations

import numpy as np

from vmb.analysis.onset import onset_envelope_prepared, pick_onsets
from vmb.analysis.spectral import ANALYSIS_SR, prepare, stft_power, to_mono

LOUDNESS_FLOOR_DB = -120.0
SILENCE_DB = -80.0  # under this RMS level a clip has no energy at all

# energy = W_LOUD * loudness term + W_DENSITY * onset-density term + W_BRIGHT * brightness term
W_LOUD, W_DENSITY, W_BRIGHT = 0.5, 0.3, 0.2
LOUD_RANGE_DB = (-60.0, -6.0)  # RMS dBFS mapped linearly onto 0..1
DENSITY_SCALE = 4.0  # onsets/s at which the density term reaches 1 - 1/e
BRIGHT_RANGE_HZ = (250.0, 4000.0)  # spectral centroid mapped log-linearly onto 0..1


def loudness_db(audio: np.ndarray) -> float:
    """RMS level in dBFS of ``[T]`` or ``[C, T]`` audio (channels averaged first; a full-scale
    sine reads -3.0), at least :data:`LOUDNESS_FLOOR_DB` (silence, empty audio)."""
    x = to_mono(audio, 1).astype(np.float64)
    if x.size == 0:
        return LOUDNESS_FLOOR_DB
    rms = float(np.sqrt(np.mean(x * x)))
    if rms <= 0:
        return LOUDNESS_FLOOR_DB
    return max(LOUDNESS_FLOOR_DB, 20.0 * np.log10(rms))


def onset_density(audio: np.ndarray, sr: int) -> float:
    """Onsets per second (peaks of the onset envelope, see :func:`~vmb.analysis.onset.pick_onsets`)."""
    x = prepare(audio, sr)
    if x.size == 0:
        return 0.0
    return _density(x)


def _density(x: np.ndarray) -> float:
    env = onset_envelope_prepared(x)
    return len(pick_onsets(env)) / (len(x) / ANALYSIS_SR)


def spectral_centroid_hz(audio: np.ndarray, sr: int) -> float:
    """Power-weighted mean frequency of the whole clip in Hz (0.0 for silence)."""
    x = prepare(audio, sr)
    if x.size == 0:
        return 0.0
    return _centroid(x)


def _centroid(x: np.ndarray) -> float:
    power = stft_power(x, 2048, 1024)
    total = float(power.sum())
    if total <= 0:
        return 0.0
    freqs = np.arange(power.shape[0]) * ANALYSIS_SR / 2048
    return float(freqs @ power.sum(axis=1) / total)


def energy(audio: np.ndarray, sr: int) -> float:
    """Perceived energy in ``[0, 1]``:

    ``0.5 * L + 0.3 * D + 0.2 * B`` where ``L`` maps the RMS level from -60..-6 dBFS onto 0..1,
    ``D = 1 - exp(-onsets_per_second / 4)`` and ``B`` maps the spectral centroid from
    250 Hz..4 kHz onto 0..1 on a log scale (each term clipped to ``[0, 1]``). Clips under
    -80 dBFS score 0.
    """
    x = prepare(audio, sr)
    level = loudness_db(x)
    if level < SILENCE_DB:
        return 0.0
    lo, hi = LOUD_RANGE_DB
    loud = np.clip((level - lo) / (hi - lo), 0.0, 1.0)
    dense = 1.0 - np.exp(-_density(x) / DENSITY_SCALE)
    flo, fhi = BRIGHT_RANGE_HZ
    centroid = max(_centroid(x), 1e-3)
    bright = np.clip(np.log(centroid / flo) / np.log(fhi / flo), 0.0, 1.0)
    return float(W_LOUD * loud + W_DENSITY * dense + W_BRIGHT * bright)
