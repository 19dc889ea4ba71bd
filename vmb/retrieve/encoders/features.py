"""The built-in audio encoder: a vector of measured features, for audio-to-audio similarity.

Used for pinned references and audio queries when CLAP is not available. Everything is
measured in numpy (and :mod:`vmb.analysis`) on a mono 22.05 kHz copy of the clip:

=========  ====  ===========================================================
block      dims  what
=========  ====  ===========================================================
chroma     24    mean and std over frames of the 12 pitch-class energies
mfcc       40    mean and std of 20 MFCCs (40-band mel filterbank + DCT-II)
spectral   6     mean and std of log centroid, log 85 % rolloff, flatness
tempo      1     log2(BPM / 120)
loudness   1     RMS level in dBFS / 20
=========  ====  ===========================================================

The raw 72-vector is standardised with per-dimension statistics fitted on the clips of the
index it is stored in (kept in ``info.json``), then L2-normalised, so that every block counts
and the inner product is a cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmb.feature_names import SPECTRAL_SHAPE_NAMES
from vmb.retrieve.encoders.base import AudioClip, Encoder, l2_normalize

FEATURES_ID = "features:v1"
FEATURE_SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
N_MELS = 40
N_MFCC = 20
FEATURE_NAMES: tuple[str, ...] = (
    *(f"chroma_mean_{i}" for i in range(12)),
    *(f"chroma_std_{i}" for i in range(12)),
    *(f"mfcc_mean_{i}" for i in range(N_MFCC)),
    *(f"mfcc_std_{i}" for i in range(N_MFCC)),
    *SPECTRAL_SHAPE_NAMES,
    "tempo_log2",
    "loudness",
)


@dataclass(frozen=True)
class FeatureStats:
    """Per-dimension mean and std ``[F]`` used to standardise raw feature vectors."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray) -> FeatureStats:
        """Statistics of raw vectors ``[N, F]``; constant dimensions get std 1 (they drop out)."""
        raw = np.asarray(raw, dtype=np.float64)
        mean = raw.mean(axis=0)
        std = raw.std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)
        return cls(mean=mean.astype(np.float32), std=std.astype(np.float32))

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureStats:
        return cls(
            mean=np.asarray(data["mean"], np.float32), std=np.asarray(data["std"], np.float32)
        )


def mel_filterbank(
    sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular HTK-mel filters ``[n_mels, n_fft // 2 + 1]``, each of unit area (Slaney norm)."""
    fmax = fmax or sr / 2

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def power_spectrogram(mono: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Hann-windowed STFT power ``[n_fft // 2 + 1, F]`` of a mono signal ``[T]``."""
    if mono.shape[0] < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    return (np.abs(spectrum) ** 2).T.astype(np.float32)


def mfcc(power: np.ndarray, sr: int, n_mfcc: int = N_MFCC, n_mels: int = N_MELS) -> np.ndarray:
    """MFCCs ``[n_mfcc, F]`` from a power spectrogram ``[n_fft // 2 + 1, F]``."""
    from scipy.fft import dct

    n_fft = (power.shape[0] - 1) * 2
    mel = mel_filterbank(sr, n_fft, n_mels) @ power
    log_mel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return dct(log_mel, type=2, axis=0, norm="ortho")[:n_mfcc]


def spectral_shape(power: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame ``[3, F]``: log2 centroid (Hz), log2 85 % rolloff (Hz), flatness in [0, 1]."""
    freqs = np.linspace(0, sr / 2, power.shape[0])[:, None]
    total = power.sum(axis=0) + 1e-12
    centroid = (freqs * power).sum(axis=0) / total
    cumulative = np.cumsum(power, axis=0)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[-1:], axis=0), 0]
    flatness = np.exp(np.mean(np.log(power + 1e-12), axis=0)) / (power.mean(axis=0) + 1e-12)
    return np.stack([np.log2(centroid + 1.0), np.log2(rolloff + 1.0), flatness]).astype(np.float32)


def _mean_std(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x.mean(axis=1), x.std(axis=1)])


class FeaturesEncoder(Encoder):
    """Measured-feature vectors ``[N, 72]`` (see the module table).

    ``stats`` (fitted on an index's clips with :meth:`fit`, stored in ``info.json``) are
    needed by :meth:`embed_audio`; :meth:`measure` gives the raw vectors without them.
    """

    id = FEATURES_ID
    dim = len(FEATURE_NAMES)
    modalities = ("audio",)

    def __init__(self, stats: FeatureStats | None = None):
        self.stats = stats

    def measure(
        self,
        audio: np.ndarray,
        sr: int,
        tempo_bpm: float | None = None,
        loudness_db: float | None = None,
    ) -> np.ndarray:
        """The raw vector ``[72]`` of one clip ``[C, T]``; pass ``tempo_bpm`` / ``loudness_db``
        when already measured to skip measuring them again."""
        from vmb import analysis
        from vmb.media import resample

        audio = np.asarray(audio, dtype=np.float32)
        mono = audio if audio.ndim == 1 else audio.mean(axis=0)
        if sr != FEATURE_SAMPLE_RATE:
            mono = resample(mono[None, :], sr, FEATURE_SAMPLE_RATE)[0]
        sr = FEATURE_SAMPLE_RATE
        power = power_spectrogram(mono)
        chroma = np.asarray(analysis.chroma(mono, sr), dtype=np.float32)
        if tempo_bpm is None:
            tempo_bpm = analysis.estimate_tempo(mono, sr).bpm
        if loudness_db is None:
            loudness_db = analysis.loudness_db(mono)
        tempo_log2 = np.log2(max(float(tempo_bpm), 1.0) / 120.0)
        loudness = max(float(loudness_db), -120.0) / 20.0
        return np.concatenate(
            [
                _mean_std(chroma),
                _mean_std(mfcc(power, sr)),
                _mean_std(spectral_shape(power, sr)),
                [tempo_log2, loudness],
            ]
        ).astype(np.float32)

    def fit(self, raw: np.ndarray) -> FeatureStats:
        """Fit (and keep) the standardisation statistics on raw vectors ``[N, 72]``."""
        self.stats = FeatureStats.fit(raw)
        return self.stats

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        """Raw vectors ``[N, 72]`` → standardised, L2-normalised embeddings ``[N, 72]``."""
        if self.stats is None:
            raise ValueError(
                "FeaturesEncoder has no statistics: fit() it on an index's clips or load it with the index"
            )
        raw = np.atleast_2d(np.asarray(raw, dtype=np.float32))
        return l2_normalize((raw - self.stats.mean) / self.stats.std)

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        if len(clips) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.normalize(np.stack([self.measure(audio, sr) for audio, sr in clips]))
