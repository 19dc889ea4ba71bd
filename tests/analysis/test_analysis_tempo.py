"""Tempo and beats on click tracks and drum+bass+chord loops with known tempo."""

import numpy as np
import pytest

from vmb.analysis import estimate_tempo, onset_times
from vmb.analysis.reference_signals import arrangement, click_track
from vmb.errors import MediaError


def _rel_err(bpm, truth):
    return abs(bpm / truth - 1.0)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("bpm", [70, 90, 120, 150])
def test_click_track_tempo_and_beats(bpm, sr):
    x = click_track(bpm, 10.0, sr)
    est = estimate_tempo(x, sr)
    assert _rel_err(est.bpm, bpm) < 0.04, est.bpm
    assert est.confidence > 0.5
    # every tracked beat sits on a click (within 25 ms)
    clicks = np.arange(0.0, 10.0, 60.0 / bpm)
    err = np.abs(est.beats_s[:, None] - clicks[None, :]).min(axis=1)
    assert len(est.beats_s) >= 0.8 * len(clicks)
    assert np.median(err) < 0.025 and err.max() < 0.05


@pytest.mark.parametrize("bpm", [70, 90, 120, 150])
@pytest.mark.parametrize("style", [
    dict(),  # kick 1+3, snare 2+4, eighth hats, eighth bass
    dict(kick="four", bass_notes_per_beat=1, hihat="sixteenths"),
    dict(hihat="none", bass_notes_per_beat=1),
])
def test_drums_bass_chords_tempo(bpm, style):
    sr = 32000
    x = arrangement(bpm, 12.0, sr, seed=bpm, **style)
    est = estimate_tempo(x, sr)
    assert _rel_err(est.bpm, bpm) < 0.04, (est.bpm, style)
    beats = np.arange(0.0, 12.0, 60.0 / bpm)
    err = np.abs(est.beats_s[:, None] - beats[None, :]).min(axis=1)
    assert np.median(err) < 0.03


def test_stereo_is_mixed_down_and_rate_does_not_matter():
    mono = arrangement(100, 8.0, 44100)
    stereo = np.stack([mono, 0.5 * mono])
    a = estimate_tempo(stereo, 44100)
    b = estimate_tempo(mono[::2].copy(), 22050)
    assert _rel_err(a.bpm, 100) < 0.04 and _rel_err(b.bpm, 100) < 0.04


def test_silence_short_and_steady_tone_give_zero():
    sr = 22050
    assert estimate_tempo(np.zeros(sr * 4, dtype=np.float32), sr).bpm == 0.0
    assert estimate_tempo(np.zeros(0, dtype=np.float32), sr).bpm == 0.0
    short = estimate_tempo(click_track(120, 0.3, sr), sr)
    assert short.bpm == 0.0 and short.confidence == 0.0 and len(short.beats_s) == 0
    t = np.arange(sr * 4) / sr
    tone = estimate_tempo((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    assert tone.confidence < 0.2


def test_noise_is_less_confident_than_a_beat():
    sr = 22050
    noise = 0.1 * np.random.default_rng(0).standard_normal(sr * 8).astype(np.float32)
    assert estimate_tempo(noise, sr).confidence < estimate_tempo(arrangement(110, 8.0, sr), sr).confidence


def test_onsets_of_a_click_track():
    sr = 22050
    x = np.concatenate([np.zeros(sr // 4, dtype=np.float32), click_track(120, 6.0, sr)])
    times = onset_times(x, sr)
    clicks = 0.25 + np.arange(0.0, 6.0, 0.5)
    assert len(times) == len(clicks)
    assert np.abs(times - clicks).max() < 0.03


def test_bad_samples_raise_media_error():
    with pytest.raises(MediaError, match="NaN"):
        estimate_tempo(np.array([0.0, np.nan, 0.0], dtype=np.float32), 22050)
    with pytest.raises(MediaError, match="sample rate"):
        estimate_tempo(np.zeros(100, dtype=np.float32), 0)
    with pytest.raises(MediaError, match="shape"):
        estimate_tempo(np.zeros((2, 2, 2), dtype=np.float32), 22050)
    with pytest.raises(MediaError, match=r"\[T, C\]"):
        estimate_tempo(np.zeros((22050, 2), dtype=np.float32), 22050)
