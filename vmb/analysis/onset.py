"""Onset strength: how much new sound starts in each ~12 ms frame, and the onsets picked from it.

The envelope is the spectral flux of a log-mel spectrogram (Böck & Widmer 2013, as in librosa's
``onset_strength``): the half-wave rectified frame-to-frame increase in dB, averaged over mel
bands. A second envelope restricted to the bands under ~200 Hz follows kick drum and bass,
which mark the beat more reliably than hi-hats, and one for 200 Hz-3 kHz (snare, chords); the
tempo estimator uses those two.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from vmb.analysis.spectral import ANALYSIS_SR, mel_filterbank, prepare, sparse_rows, stft_power

ONSET_N_FFT = 1024
ONSET_HOP = 256  # 11.6 ms at 22.05 kHz
ONSET_N_MELS = 64
LOW_BAND_HZ = 200.0
HIGH_BAND_HZ = 3000.0
_FLOOR_DB = -100.0  # absolute floor (re full scale): digital silence has no flux
_TOP_DB = 80.0


@dataclass(frozen=True)
class OnsetEnvelope:
    """Onset strength at ``fps`` frames per second.

    Attributes:
        strength: full-band flux ``[F]`` float32 in dB per band (0 where nothing starts).
        low: flux of the bands under :data:`LOW_BAND_HZ` ``[F]`` (kick drum, bass).
        mid: flux of the bands from :data:`LOW_BAND_HZ` to :data:`HIGH_BAND_HZ` ``[F]`` (snare
            body, chords, melody).
        high: flux of the bands above :data:`HIGH_BAND_HZ` ``[F]`` (hi-hats, cymbals, the noise
            of a snare).
        fps: frames per second (frame ``i`` is at ``i / fps`` seconds).
        level_db: log-mel spectrogram mean level per frame ``[F]`` in dBFS, for gating.
    """

    strength: np.ndarray
    low: np.ndarray
    mid: np.ndarray
    high: np.ndarray
    fps: float
    level_db: np.ndarray

    @property
    def times(self) -> np.ndarray:
        """Time in seconds of each frame ``[F]``."""
        return np.arange(len(self.strength)) / self.fps


def onset_envelope_prepared(x: np.ndarray) -> OnsetEnvelope:
    """:func:`onset_envelope` of mono audio already at :data:`ANALYSIS_SR`."""
    power = stft_power(x, ONSET_N_FFT, ONSET_HOP)
    mel = _sparse_mel() @ power  # [n_mels, F]
    # the filterbank is area-normalised; scale so a full-scale sine reads about 0 dB
    mel_db = 10.0 * np.log10(np.maximum(mel * (4.0 / ONSET_N_FFT), 1e-10))
    mel_db = np.maximum(mel_db, max(_FLOOR_DB, float(mel_db.max(initial=_FLOOR_DB)) - _TOP_DB))
    flux = np.zeros_like(mel_db)
    flux[:, 1:] = np.maximum(0.0, mel_db[:, 1:] - mel_db[:, :-1])
    centres = _mel_centres(ONSET_N_MELS)
    low_bands = centres < LOW_BAND_HZ
    mid_bands = (centres >= LOW_BAND_HZ) & (centres < HIGH_BAND_HZ)
    return OnsetEnvelope(
        strength=flux.mean(axis=0).astype(np.float32),
        low=flux[low_bands].mean(axis=0).astype(np.float32),
        mid=flux[mid_bands].mean(axis=0).astype(np.float32),
        high=flux[centres >= HIGH_BAND_HZ].mean(axis=0).astype(np.float32),
        fps=ANALYSIS_SR / ONSET_HOP,
        level_db=mel_db.mean(axis=0).astype(np.float32),
    )


@functools.lru_cache(maxsize=1)
def _sparse_mel():
    return sparse_rows(mel_filterbank(ANALYSIS_SR, ONSET_N_FFT, ONSET_N_MELS, 0.0, ANALYSIS_SR / 2))


def _mel_centres(n_mels: int) -> np.ndarray:
    fb = mel_filterbank(ANALYSIS_SR, ONSET_N_FFT, n_mels, 0.0, ANALYSIS_SR / 2)
    freqs = np.linspace(0, ANALYSIS_SR / 2, ONSET_N_FFT // 2 + 1)
    return freqs[np.argmax(fb, axis=1)]


def onset_envelope(audio: np.ndarray, sr: int) -> OnsetEnvelope:
    """Onset strength of ``audio`` (``[T]`` or ``[C, T]`` at ``sr``), ~86 frames per second."""
    return onset_envelope_prepared(prepare(audio, sr))


def pick_onsets(env: OnsetEnvelope, min_strength_db: float = 1.5) -> np.ndarray:
    """Frame indices of onsets ``[N]`` int: local maxima of the envelope (±30 ms) that stand
    ``delta`` above the mean of the surrounding ±100 ms, and at least 30 ms apart.

    ``delta`` is the larger of ``min_strength_db`` (an absolute rise, so steady noise does
    not count as onsets) and 7 % of the envelope's range (as librosa's ``onset_detect``).
    """
    s = env.strength.astype(np.float64)
    if len(s) < 3 or s.max() <= 0:
        return np.zeros(0, dtype=np.int64)
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    w_max = max(1, int(round(0.03 * env.fps)))
    w_avg = max(1, int(round(0.10 * env.fps)))
    local_max = maximum_filter1d(s, size=2 * w_max + 1, mode="constant")
    local_avg = uniform_filter1d(s, size=2 * w_avg + 1, mode="constant")
    delta = max(min_strength_db, 0.07 * (s.max() - s.min()))
    candidates = np.flatnonzero((s == local_max) & (s >= local_avg + delta))
    onsets: list[int] = []
    for i in candidates:
        if not onsets or i - onsets[-1] > w_max:
            onsets.append(int(i))
    return np.asarray(onsets, dtype=np.int64)


def onset_times(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times in seconds ``[N]`` float64."""
    env = onset_envelope(audio, sr)
    return pick_onsets(env) / env.fps
