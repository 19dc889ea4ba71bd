"""Chord sequences recovered from synthesized progressions."""

import numpy as np

from vmb.analysis import Chord, estimate_chords
from vmb.analysis.reference_signals import arrangement, chord_tone, triad

C_AM_F_G = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]


def test_c_am_f_g_with_given_beats():
    sr = 22050
    x = np.concatenate([chord_tone(triad(r, q), 2.0, sr) for r, q in C_AM_F_G])
    chords = estimate_chords(x, sr, beats_s=np.arange(0.0, 8.0, 0.5))
    assert [(c.root, c.quality) for c in chords] == C_AM_F_G
    assert [c.name for c in chords] == ["C", "Am", "F", "G"]
    starts = [c.start_s for c in chords]
    assert np.allclose(starts, [0.0, 2.0, 4.0, 6.0], atol=0.01)
    assert chords[-1].end_s == 8.0


def test_c_am_f_g_in_a_band_with_estimated_beats():
    sr = 32000
    x = arrangement(100, 2 * 4 * 4 * 0.6, sr, progression=C_AM_F_G)  # the loop twice
    chords = estimate_chords(x, sr)
    assert [(c.root, c.quality) for c in chords] == C_AM_F_G * 2
    bar = 4 * 0.6
    for i, c in enumerate(chords[1:], start=1):
        assert abs(c.start_s - i * bar) < 0.15
    assert all(isinstance(c, Chord) and c.end_s > c.start_s for c in chords)


def test_minor_and_major_on_the_same_root_are_told_apart():
    sr = 22050
    x = np.concatenate([chord_tone(triad(4, "min"), 2.0, sr), chord_tone(triad(4, "maj"), 2.0, sr)])
    chords = estimate_chords(x, sr, beats_s=np.arange(0.0, 4.0, 0.5))
    assert [c.name for c in chords] == ["Em", "E"]


def test_silence_has_no_chords():
    assert estimate_chords(np.zeros(22050 * 2, dtype=np.float32), 22050) == []
    assert estimate_chords(np.zeros(0, dtype=np.float32), 22050) == []
