"""Measurements on audio (numpy/scipy only): tempo and beats, chroma, key, chords, loudness and
energy. The index builder labels clips with them, the built-in composer reads references with
them, and the tests check rendered music with them.

Every function takes audio as mono ``[T]`` or ``[C, T]`` float samples (mixed down inside) and
its sample rate; internally the audio is resampled to 22.05 kHz. :func:`analyze` takes every
measure in one pass (one resampling, one onset envelope, one chroma STFT).
"""

from vmb.analysis.chords import Chord, chord_templates, estimate_chords
from vmb.analysis.chromagram import beat_chroma, chroma
from vmb.analysis.dynamics import energy, loudness_db, onset_density, spectral_centroid_hz
from vmb.analysis.key import KeyEstimate, estimate_key, estimate_key_from_chroma
from vmb.analysis.onset import onset_envelope, onset_times
from vmb.analysis.overview import AudioAnalysis, analyze
from vmb.analysis.spectral import ANALYSIS_SR
from vmb.analysis.tempo import TempoEstimate, estimate_tempo

__all__ = [
    "ANALYSIS_SR",
    "AudioAnalysis",
    "Chord",
    "KeyEstimate",
    "TempoEstimate",
    "analyze",
    "beat_chroma",
    "chord_templates",
    "chroma",
    "energy",
    "estimate_chords",
    "estimate_key",
    "estimate_key_from_chroma",
    "estimate_tempo",
    "loudness_db",
    "onset_density",
    "onset_envelope",
    "onset_times",
    "spectral_centroid_hz",
]
