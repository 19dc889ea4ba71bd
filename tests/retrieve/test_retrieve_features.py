"""The built-in audio encoder: measured features, standardised and L2-normalised."""

import numpy as np
import pytest

from vmb.retrieve.encoders.features import (
    FEATURE_NAMES,
    FeaturesEncoder,
    FeatureStats,
    mel_filterbank,
    mfcc,
    power_spectrogram,
    spectral_shape,
)

SR = 22050


def sine(freq, seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mel_filterbank_and_mfcc_shapes():
    fb = mel_filterbank(SR, 2048, 40)
    assert fb.shape == (40, 1025) and (fb >= 0).all()
    assert (fb.sum(axis=1) > 0).all()  # no empty band
    power = power_spectrogram(sine(440))
    assert power.shape[0] == 1025
    assert np.argmax(power[:, 5]) == round(440 / (SR / 2048))
    assert mfcc(power, SR).shape == (20, power.shape[1])


def test_spectral_shape_tracks_brightness():
    low = spectral_shape(power_spectrogram(sine(200)), SR).mean(axis=1)
    high = spectral_shape(power_spectrogram(sine(3000)), SR).mean(axis=1)
    assert high[0] > low[0] + 3  # log2 centroid: about 4 octaves apart
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    flat_noise = spectral_shape(power_spectrogram(noise), SR)[2].mean()
    assert flat_noise > 0.3 > low[2]


def test_similar_audio_is_closer_than_different_audio(make_track, tmp_path):
    from vmb.analysis.reference_signals import arrangement

    enc = FeaturesEncoder()
    clips = [
        (arrangement(120, 4.0, SR, seed=0)[None], SR),
        (arrangement(122, 4.0, SR, seed=1)[None], SR),
        (sine(880, 4.0)[None], SR),
        (sine(300, 4.0)[None] * 0.2, SR),
        (arrangement(80, 4.0, SR, drums=False, seed=2)[None], SR),
    ]
    raw = np.stack([enc.measure(a, sr) for a, sr in clips])
    assert raw.shape == (5, enc.dim) and enc.dim == len(FEATURE_NAMES) == 72
    with pytest.raises(ValueError, match="no statistics"):
        enc.normalize(raw)
    stats = enc.fit(raw)
    v = enc.embed_audio(clips)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(v, enc.normalize(raw), atol=1e-5)
    sims = v @ v.T
    assert sims[0, 1] > max(sims[0, 2], sims[0, 3])
    restored = FeatureStats.from_dict(stats.to_dict())
    np.testing.assert_array_equal(restored.mean, stats.mean)
