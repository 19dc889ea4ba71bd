"""First checks of vmb.analysis on reference signals (fuller tests in the other test_analysis_* files)."""

import numpy as np

from vmb.analysis import estimate_chords, estimate_key, estimate_tempo, loudness_db
from vmb.analysis.reference_signals import arrangement, cadence


def test_tempo_key_chords_on_a_loop():
    sr = 22050
    x = arrangement(120, 8.0, sr)
    t = estimate_tempo(x, sr)
    assert abs(t.bpm / 120 - 1) < 0.04
    k = estimate_key(cadence(7, "major", sr), sr)
    assert (k.key, k.mode) == ("G", "major")
    names = [c.root for c in estimate_chords(x, sr)]
    assert names[:4] == [0, 9, 5, 7]


def test_silence_is_not_an_error():
    z = np.zeros(22050 * 3, dtype=np.float32)
    assert estimate_tempo(z, 22050).bpm == 0.0
    assert loudness_db(z) == -120.0
