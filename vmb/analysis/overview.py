"""Everything :mod:`vmb.analysis` measures on a clip, in one pass.

:func:`analyze` resamples once, computes the onset envelope once (tempo, onset density) and the
4096-point STFT once (key, chords, brightness), so labelling an index costs one call per clip
instead of one per measure. The values equal those of the single-measure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmb.analysis.chords import Chord, chords_from_energy
from vmb.analysis.chromagram import CHROMA_HOP, CHROMA_N_FFT, chroma_from_power
from vmb.analysis.dynamics import (
    centroid_from_power,
    density_from_envelope,
    energy_from_measures,
    loudness_db,
)
from vmb.analysis.key import KeyEstimate, estimate_key_from_energy
from vmb.analysis.onset import onset_envelope_prepared
from vmb.analysis.spectral import ANALYSIS_SR, prepare, stft_power, to_mono
from vmb.analysis.tempo import TempoEstimate, tempo_from_envelope


@dataclass(frozen=True)
class AudioAnalysis:
    """The measures of one clip (see the functions of :mod:`vmb.analysis` for each).

    Attributes:
        duration_s: length of the clip.
        tempo: :func:`~vmb.analysis.estimate_tempo`.
        key: :func:`~vmb.analysis.estimate_key`.
        loudness_db: :func:`~vmb.analysis.loudness_db`.
        onset_density: :func:`~vmb.analysis.onset_density`, onsets per second.
        spectral_centroid_hz: :func:`~vmb.analysis.spectral_centroid_hz`.
        energy: :func:`~vmb.analysis.energy`, in ``[0, 1]``.
        chords: :func:`~vmb.analysis.estimate_chords` on the tracked beats (empty unless asked for).
    """

    duration_s: float
    tempo: TempoEstimate
    key: KeyEstimate
    loudness_db: float
    onset_density: float
    spectral_centroid_hz: float
    energy: float
    chords: tuple[Chord, ...] = field(default=())

    def to_dict(self) -> dict:
        """JSON-friendly summary (beat times and chords as lists)."""
        return {
            "duration_s": self.duration_s,
            "tempo_bpm": self.tempo.bpm,
            "tempo_confidence": self.tempo.confidence,
            "beats_s": [float(b) for b in self.tempo.beats_s],
            "key": self.key.key,
            "mode": self.key.mode,
            "key_confidence": self.key.confidence,
            "loudness_db": self.loudness_db,
            "onset_density": self.onset_density,
            "spectral_centroid_hz": self.spectral_centroid_hz,
            "energy": self.energy,
            "chords": [{"start_s": c.start_s, "end_s": c.end_s, "name": c.name} for c in self.chords],
        }


def analyze(audio: np.ndarray, sr: int, *, chords: bool = False) -> AudioAnalysis:
    """All measures of ``audio`` (``[T]`` or ``[C, T]`` at ``sr``); ``chords=True`` adds the
    chord sequence."""
    level = loudness_db(to_mono(audio, sr))
    x = prepare(audio, sr)
    duration = len(x) / ANALYSIS_SR
    env = onset_envelope_prepared(x)
    tempo = tempo_from_envelope(env)
    power = stft_power(x, CHROMA_N_FFT, CHROMA_HOP)
    chroma_energy = chroma_from_power(power)
    centroid = centroid_from_power(power)
    density = density_from_envelope(env)
    found = chords_from_energy(chroma_energy, duration, tempo.beats_s) if chords else []
    return AudioAnalysis(
        duration_s=duration,
        tempo=tempo,
        key=estimate_key_from_energy(chroma_energy),
        loudness_db=level,
        onset_density=density,
        spectral_centroid_hz=centroid,
        energy=energy_from_measures(level, density, centroid),
        chords=tuple(found),
    )
