"""Chroma, beat chroma and key on synthesized tonal music in all 24 keys."""

import numpy as np
import pytest

from vmb.analysis import beat_chroma, chroma, estimate_key, estimate_key_from_chroma
from vmb.analysis.reference_signals import cadence, chord_tone, harmonic_tone, midi_to_hz, triad
from vmb.errors import UsageError
from vmb.vocab import PITCH_CLASSES


def test_24_keys_from_scale_and_cadence():
    sr = 22050
    right = []
    for tonic in range(12):
        for mode in ("major", "minor"):
            est = estimate_key(cadence(tonic, mode, sr), sr)
            right.append((est.key, est.mode) == (PITCH_CLASSES[tonic], mode))
            assert 0.0 < est.confidence <= 1.0
    assert sum(right) >= 0.8 * 24, f"{sum(right)}/24 keys right"


@pytest.mark.parametrize("tonic, mode", [(3, "major"), (11, "minor")])
def test_key_at_48k(tonic, mode):
    est = estimate_key(cadence(tonic, mode, 48000), 48000)
    assert (est.key, est.mode) == (PITCH_CLASSES[tonic], mode)


def test_chroma_peaks_on_the_played_pitch_classes():
    sr = 32000
    x = chord_tone(triad(2, "maj", octave=4), 2.0, sr)  # D F# A
    c = chroma(x, sr)
    assert c.shape[0] == 12 and c.dtype == np.float32
    assert np.all((c >= 0) & (c <= 1))
    mean = c[:, 5:-5].mean(axis=1)
    assert set(np.argsort(mean)[-3:]) == {2, 6, 9}


def test_chroma_tolerates_detuning():
    sr = 22050
    # A4 played 30 cents sharp is still A
    x = harmonic_tone(midi_to_hz(69.3), 1.5, sr)
    assert int(np.argmax(chroma(x, sr).mean(axis=1))) == 9


def test_chroma_frames_follow_hop_length():
    sr = 48000
    x = harmonic_tone(440.0, 2.0, sr)
    assert chroma(x, sr, hop_length=4800).shape[1] == 1 + (len(x) - 1) // 4800
    with pytest.raises(UsageError, match="hop_length must be positive, got 0"):
        chroma(x, sr, hop_length=0)


def test_beat_chroma_averages_between_beats():
    sr = 22050
    a = chord_tone(triad(0, "maj"), 1.0, sr)   # C
    b = chord_tone(triad(9, "min"), 1.0, sr)   # Am
    x = np.concatenate([a, b])
    bc = beat_chroma(x, sr, np.array([0.0, 1.0]))
    assert bc.shape == (12, 2)
    assert set(np.argsort(bc[:, 0])[-3:]) == {0, 4, 7}
    assert set(np.argsort(bc[:, 1])[-3:]) == {9, 0, 4}
    assert beat_chroma(x, sr, np.array([])).shape == (12, 0)
    with pytest.raises(UsageError, match="strictly increasing"):
        beat_chroma(x, sr, np.array([1.0, 0.5]))


def test_key_from_chroma_profile_and_silence():
    profile = np.zeros(12)
    profile[[7, 9, 11, 0, 2, 4, 6]] = 1.0  # G major scale
    profile[7] = 2.0
    est = estimate_key_from_chroma(profile)
    assert (est.key, est.mode) == ("G", "major") and est.name == "G major"
    frames = np.repeat(profile[:, None], 5, axis=1)
    assert estimate_key_from_chroma(frames).key == "G"
    silent = estimate_key(np.zeros(22050, dtype=np.float32), 22050)
    assert silent.key == "" and silent.confidence == 0.0
    with pytest.raises(UsageError, match=r"got shape \(7,\)"):
        estimate_key_from_chroma(np.zeros(7))
