"""Loudness, onset density and energy."""

import numpy as np
import pytest

from vmb.analysis import energy, loudness_db, onset_density
from vmb.analysis.reference_signals import arrangement, chord_tone, click_track, triad


def test_loudness_of_a_sine_and_of_silence():
    sr = 22050
    t = np.arange(sr) / sr
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    assert loudness_db(sine) == pytest.approx(-3.01, abs=0.02)
    assert loudness_db(0.1 * sine) == pytest.approx(-23.01, abs=0.02)
    assert loudness_db(np.stack([sine, sine])) == pytest.approx(-3.01, abs=0.02)
    assert loudness_db(np.zeros(100, dtype=np.float32)) == -120.0
    assert loudness_db(np.zeros(0, dtype=np.float32)) == -120.0


def test_onset_density_counts_clicks_not_noise():
    sr = 22050
    assert onset_density(click_track(120, 8.0, sr), sr) == pytest.approx(2.0, abs=0.2)
    assert onset_density(click_track(60, 8.0, sr), sr) == pytest.approx(1.0, abs=0.15)
    noise = 0.2 * np.random.default_rng(1).standard_normal(sr * 4).astype(np.float32)
    assert onset_density(noise, sr) < 0.5
    assert onset_density(np.zeros(sr, dtype=np.float32), sr) == 0.0


def test_energy_orders_quiet_sparse_below_loud_dense():
    sr = 32000
    quiet_sparse = 0.05 * chord_tone(triad(0, "maj", octave=3), 8.0, sr, num_harmonics=3)
    mid = arrangement(90, 8.0, sr, hihat="none", gain=0.2)
    loud_dense = arrangement(150, 8.0, sr, hihat="sixteenths", gain=0.9)
    values = [energy(x, sr) for x in (quiet_sparse, mid, loud_dense)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values[0] < values[1] < values[2], values
    assert values[0] < 0.35 and values[2] > 0.6
    assert energy(np.zeros(sr, dtype=np.float32), sr) == 0.0


def test_integer_pcm_is_scaled_to_full_scale():
    sr = 22050
    t = np.arange(sr) / sr
    sine = np.sin(2 * np.pi * 440 * t)
    pcm16 = np.round(sine * 32767).astype(np.int16)
    assert loudness_db(pcm16) == pytest.approx(-3.01, abs=0.02)
    pcm8 = np.round(128 + sine * 127).astype(np.uint8)
    assert loudness_db(pcm8) == pytest.approx(-3.1, abs=0.1)
