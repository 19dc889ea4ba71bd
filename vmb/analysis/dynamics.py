"""Loudness, onset density and a single 0-1 energy score built from them and brightness."""

from __future__ import annotations

import numpy as np

from vmb.analysis.chromagram import CHROMA_HOP, CHROMA_N_FFT
from vmb.analysis.onset import onset_envelope_prepared, pick_onsets
from vmb.analysis.spectral import ANALYSIS_SR, prepare, stft_power, to_mono

LOUDNESS_FLOOR_DB = -120.0
SILENCE_DB = -80.0  # under this RMS level a clip has no energy at all

# energy = W_LOUD * loudness term + W_DENSITY * onset-density term + W_BRIGHT * brightness term
W_LOUD, W_DENSITY, W_BRIGHT = 0.5, 0.3, 0.2
LOUD_RANGE_DB = (-60.0, -6.0)  # RMS dBFS mapped linearly onto 0..1
DENSITY_SCALE = 4.0  # onsets/s at which the density term reaches 1 - 1/e
BRIGHT_RANGE_HZ = (250.0, 4000.0)  # spectral centroid mapped log-linearly onto 0..1
# the centroid uses the chroma's STFT so that vmb.analysis.analyze computes it only once
CENTROID_N_FFT, CENTROID_HOP = CHROMA_N_FFT, CHROMA_HOP


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
    return density_from_envelope(onset_envelope_prepared(x))


def density_from_envelope(env) -> float:
    """Onsets per second of an :class:`~vmb.analysis.onset.OnsetEnvelope`."""
    n = len(env.strength)
    return len(pick_onsets(env)) / (n / env.fps) if n else 0.0


def spectral_centroid_hz(audio: np.ndarray, sr: int) -> float:
    """Power-weighted mean frequency of the whole clip in Hz (0.0 for silence)."""
    x = prepare(audio, sr)
    if x.size == 0:
        return 0.0
    return centroid_from_power(stft_power(x, CENTROID_N_FFT, CENTROID_HOP))


def centroid_from_power(power: np.ndarray) -> float:
    """Spectral centroid in Hz of a power spectrogram ``[n_fft // 2 + 1, F]`` at
    :data:`~vmb.analysis.spectral.ANALYSIS_SR` (0.0 when it is all zeros)."""
    total = float(power.sum())
    if total <= 0:
        return 0.0
    n_fft = 2 * (power.shape[0] - 1)
    freqs = np.arange(power.shape[0]) * ANALYSIS_SR / n_fft
    return float(freqs @ power.sum(axis=1) / total)


def energy_from_measures(level_db: float, onsets_per_s: float, centroid_hz: float) -> float:
    """The :func:`energy` formula from its three measures."""
    if level_db < SILENCE_DB:
        return 0.0
    lo, hi = LOUD_RANGE_DB
    loud = np.clip((level_db - lo) / (hi - lo), 0.0, 1.0)
    dense = 1.0 - np.exp(-onsets_per_s / DENSITY_SCALE)
    flo, fhi = BRIGHT_RANGE_HZ
    bright = np.clip(np.log(max(centroid_hz, 1e-3) / flo) / np.log(fhi / flo), 0.0, 1.0)
    return float(W_LOUD * loud + W_DENSITY * dense + W_BRIGHT * bright)


def energy(audio: np.ndarray, sr: int) -> float:
    """Perceived energy in ``[0, 1]``:

    ``0.5 * L + 0.3 * D + 0.2 * B`` where ``L`` maps the RMS level (:func:`loudness_db`) from
    -60..-6 dBFS onto 0..1, ``D = 1 - exp(-onsets_per_second / 4)`` (:func:`onset_density`)
    and ``B`` maps the spectral centroid from 250 Hz..4 kHz onto 0..1 on a log scale (each term
    clipped to ``[0, 1]``). Clips under -80 dBFS score 0.
    """
    level = loudness_db(to_mono(audio, sr))
    if level < SILENCE_DB:
        return 0.0
    x = prepare(audio, sr)
    centroid = centroid_from_power(stft_power(x, CENTROID_N_FFT, CENTROID_HOP))
    return energy_from_measures(level, _density(x), centroid)
