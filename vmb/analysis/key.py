"""Key and mode: the mean chroma correlated with the 24 rotations of the Krumhansl-Kessler key
profiles (Krumhansl 1990, "Cognitive Foundations of Musical Pitch")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmb.analysis.chromagram import chroma_prepared
from vmb.analysis.spectral import prepare
from vmb.vocab import PITCH_CLASSES

# probe-tone ratings, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class KeyEstimate:
    """Key of a clip.

    Attributes:
        key: tonic, a name of :data:`vmb.vocab.PITCH_CLASSES` (``""`` when there is no pitch).
        mode: ``"major"`` or ``"minor"``.
        confidence: Pearson correlation of the mean chroma with the winning profile, clipped
            to ``[0, 1]`` (0 for silence).
    """

    key: str
    mode: str
    confidence: float

    @property
    def name(self) -> str:
        """``"A minor"``."""
        return f"{self.key} {self.mode}".strip()


def key_correlations(profile: np.ndarray) -> np.ndarray:
    """Correlation ``[2, 12]`` of a 12-bin pitch-class profile with every key: row 0 major,
    row 1 minor, column = tonic pitch class."""
    p = np.asarray(profile, dtype=np.float64)
    p = p - p.mean()
    out = np.zeros((2, 12))
    norm = np.linalg.norm(p)
    if norm == 0:
        return out
    for m, template in enumerate((KK_MAJOR, KK_MINOR)):
        t = template - template.mean()
        # rows of ``rolled`` are the template transposed to each tonic
        rolled = np.stack([np.roll(t, k) for k in range(12)])
        out[m] = rolled @ p / (np.linalg.norm(t) * norm)
    return out


def estimate_key_from_chroma(chroma: np.ndarray) -> KeyEstimate:
    """Key from chroma ``[12]`` (a profile) or ``[12, F]`` (frames, averaged)."""
    c = np.asarray(chroma, dtype=np.float64)
    if c.ndim == 2:
        c = c.mean(axis=1) if c.shape[1] else np.zeros(12)
    if c.shape != (12,):
        from vmb.errors import UsageError

        raise UsageError(f"chroma must be [12] or [12, F], got shape {np.shape(chroma)}")
    if not np.isfinite(c).all() or c.max() - c.min() <= 1e-12:
        return KeyEstimate("", "major", 0.0)
    corr = key_correlations(c)
    mode, tonic = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return KeyEstimate(PITCH_CLASSES[tonic], ("major", "minor")[mode], float(np.clip(corr[mode, tonic], 0.0, 1.0)))


def key_profile(energy: np.ndarray) -> np.ndarray:
    """Pitch-class profile ``[12]`` from chroma energy ``[12, F]``: each frame's magnitude
    chroma (square root of the energy) scaled to unit length, so every sounding frame gets one
    vote whatever its loudness, then summed. Near-silent frames (under 1e-4 of the loudest
    frame's energy) do not vote."""
    mag = np.sqrt(np.maximum(energy, 0.0))
    norm = np.linalg.norm(mag, axis=0)
    total = energy.sum(axis=0)
    voiced = total > 1e-4 * float(total.max(initial=0.0))
    if not voiced.any():
        return np.zeros(12)
    return (mag[:, voiced] / norm[voiced]).sum(axis=1)


def estimate_key(audio: np.ndarray, sr: int) -> KeyEstimate:
    """Key and mode of ``audio`` (``[T]`` or ``[C, T]`` at ``sr``) from its
    :func:`key_profile`."""
    return estimate_key_from_energy(chroma_prepared(prepare(audio, sr)))


def estimate_key_from_energy(energy: np.ndarray) -> KeyEstimate:
    """:func:`estimate_key` from chroma energy ``[12, F]`` already computed."""
    if energy.size == 0 or energy.max() <= 0:
        return KeyEstimate("", "major", 0.0)
    return estimate_key_from_chroma(key_profile(energy))
