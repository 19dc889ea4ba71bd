"""eval's built-in features (vmb/eval/features.py) measure what they say, checked against
closed forms and librosa; the same music gives the same vector at any sample rate; the
batched bootstrap FD equals the FD of each resample; threads change nothing but speed."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.eval.features import EVAL_FEATURE_NAMES, feature_scale_floor, measure_features

SR = 32000
NAMES = {name: i for i, name in enumerate(EVAL_FEATURE_NAMES)}


def sine(freq: float, seconds: float = 4.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def test_a_sine_reads_as_its_pitch_class_frequency_and_level():
    import librosa

    y = sine(440.0)
    v = measure_features(y, SR)
    chroma = v[:12]
    assert int(np.argmax(chroma)) == 9  # A
    librosa_chroma = librosa.feature.chroma_stft(y=y, sr=SR).mean(axis=1)
    assert int(np.argmax(librosa_chroma)) == 9
    centroid_hz = 2 ** v[NAMES["log_centroid_mean"]] - 1
    librosa_centroid = float(np.median(librosa.feature.spectral_centroid(y=y, sr=SR)))
    assert centroid_hz == pytest.approx(440.0, rel=0.05)
    assert centroid_hz == pytest.approx(librosa_centroid, rel=0.05)
    rolloff_hz = 2 ** v[NAMES["log_rolloff_mean"]] - 1
    assert 440 / 2 ** (1 / 3) < rolloff_hz < 440 * 2 ** (1 / 3)  # within the 1/3-octave band
    assert v[NAMES["loudness"]] * 20 == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)  # RMS dBFS
    assert v[NAMES["loudness_std"]] * 20 < 0.5  # a steady tone


def test_chroma_of_a_triad_and_flatness_of_noise_against_librosa():
    import librosa

    t = np.arange(4 * SR) / SR
    triad = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)).astype(np.float32) * 0.2
    top = set(np.argsort(measure_features(triad, SR)[:12])[-3:].tolist())
    assert top == {0, 4, 7}  # C, E, G
    assert set(np.argsort(librosa.feature.chroma_stft(y=triad, sr=SR).mean(axis=1))[-3:].tolist()) == {0, 4, 7}
    noise = (0.2 * np.random.default_rng(0).standard_normal(4 * SR)).astype(np.float32)
    flat_noise = measure_features(noise, SR)[NAMES["flatness_mean"]]
    flat_sine = measure_features(sine(440.0), SR)[NAMES["flatness_mean"]]
    assert flat_noise > 0.5 and flat_sine < 0.1
    assert float(librosa.feature.spectral_flatness(y=noise).mean()) > 10 * float(librosa.feature.spectral_flatness(y=sine(440.0)).mean())


@pytest.mark.parametrize("bpm", [75.0, 100.0, 128.0, 150.0])
def test_tempo_of_a_click_track_matches_the_truth_and_librosa(bpm):
    import librosa

    from vmb.analysis.reference_signals import click_track

    y = np.asarray(click_track(bpm, 12.0, SR), np.float32)
    v = measure_features(y, SR)
    tempo = 120.0 * 2 ** v[NAMES["tempo_log2"]]
    assert tempo == pytest.approx(bpm, rel=0.02)
    librosa_tempo = float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=SR)[0])[0])
    assert tempo == pytest.approx(librosa_tempo, rel=0.05) or tempo == pytest.approx(2 * librosa_tempo, rel=0.05) \
        or tempo == pytest.approx(librosa_tempo / 2, rel=0.05)
    clarity_clicks = v[NAMES["pulse_clarity"]]
    noise = (0.2 * np.random.default_rng(1).standard_normal(12 * SR)).astype(np.float32)
    assert clarity_clicks > 0.5 > measure_features(noise, SR)[NAMES["pulse_clarity"]]


def test_the_same_music_gives_the_same_vector_at_any_sample_rate():
    from vmb.analysis.reference_signals import arrangement
    from vmb.media import resample

    floor = feature_scale_floor()
    pulse = NAMES["pulse_clarity"]
    for bpm in (84.0, 140.0):
        music = np.asarray(arrangement(bpm, 8.0, 44100), np.float32)
        music = music.mean(axis=0) if music.ndim > 1 else music
        base = measure_features(music, 44100)
        for sr in (22050, 32000, 48000):
            other = measure_features(resample(music[None, :], 44100, sr)[0], sr)
            units = np.abs(other - base) / floor  # in units of the smallest scale FD divides by
            assert np.delete(units, pulse).max() < 0.6, (bpm, sr, EVAL_FEATURE_NAMES[int(np.argmax(units))])
            # pulse clarity is the least rate-stable number (the 10 ms grid against the beat)
            assert abs(other[pulse] - base[pulse]) < 0.2, (bpm, sr)


def test_short_and_silent_clips_give_finite_vectors():
    for y in (np.zeros(100, np.float32), np.zeros(3 * SR, np.float32), sine(440.0, seconds=0.05)):
        v = measure_features(y, SR)
        assert v.shape == (len(EVAL_FEATURE_NAMES),) and np.all(np.isfinite(v))


@pytest.mark.parametrize("n,dim", [(100, 12), (30, 12), (20, 48), (12, 4)])
def test_batched_bootstrap_fd_equals_the_fd_of_each_resample(n, dim):
    from vmb.eval import fd as F

    rng = np.random.default_rng(n + dim)
    gen = [rng.standard_normal((1 + i % 3, dim)) * np.linspace(0.3, 2.0, dim) for i in range(n)]
    ref = [rng.standard_normal((1, dim)) + 0.4 for _ in range(n)]
    xg, owner_g = F._rows(gen)
    xr, owner_r = F._rows(ref)
    wg = F._draw_counts(rng, n, 6)[:, owner_g]
    wr = F._draw_counts(rng, n, 6)[:, owner_r]
    exact = np.asarray(
        [F.fd_of_rows(np.repeat(xg, wg[i].astype(int), axis=0), np.repeat(xr, wr[i].astype(int), axis=0)) for i in range(6)]
    )
    by_cholesky = F._batched_fd(*F._weighted_stats(xg, wg), *F._weighted_stats(xr, wr))
    by_rows = F._batched_fd_rows(xg, wg, xr, wr)
    np.testing.assert_allclose(by_cholesky, exact, rtol=1e-4)
    np.testing.assert_allclose(by_rows, exact, rtol=1e-6)
    draws = F.bootstrap_fds(gen, ref, 50, np.random.default_rng(0))
    assert draws.shape == (50,) and np.all(draws > 0)


def test_threads_give_the_same_report_and_the_cache_is_complete(chord_sets, tmp_path):
    from vmb.eval import evaluate

    one = evaluate(chord_sets["gen"], chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "one", threads=1)
    two = evaluate(chord_sets["gen"], chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "two", threads=2)
    assert two.metric("fd-features").value == pytest.approx(one.metric("fd-features").value, rel=1e-12)
    assert two.metric("fd-features").details["ci_low"] == pytest.approx(one.metric("fd-features").details["ci_low"], rel=1e-9)
    again = evaluate(chord_sets["gen"], chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "two", threads=2)
    assert again.settings["cache"]["misses"] == 0 and again.settings["cache"]["hits"] == 10
    assert again.metric("fd-features").value == pytest.approx(one.metric("fd-features").value, rel=1e-12)


def test_bootstrap_draws_do_not_depend_on_the_threads():
    from vmb.eval import fd as F

    rng = np.random.default_rng(3)
    gen = [rng.standard_normal(8) for _ in range(40)]
    ref = [rng.standard_normal(8) + 0.2 for _ in range(40)]
    one = F.bootstrap_fds(gen, ref, 100, np.random.default_rng(0), threads=1)
    two = F.bootstrap_fds(gen, ref, 100, np.random.default_rng(0), threads=2)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("threads", [1, 2])
def test_an_unreadable_item_is_skipped_whichever_thread_decodes_it(chord_sets, tmp_path, threads):
    import shutil

    from vmb.eval import evaluate

    gen = tmp_path / "gen"
    shutil.copytree(chord_sets["gen"], gen)
    (gen / "s1.wav").write_bytes(b"RIFF not really a wav file")
    report = evaluate(gen, chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "cache", bootstrap=0, threads=threads)
    assert len(report.skipped) == 1 and report.skipped[0].startswith("generated s1: ")
    assert report.metric("fd-features").details["n"] == 4
    again = evaluate(gen, chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "cache", bootstrap=0, threads=threads)
    assert again.settings["cache"]["hits"] == 9 and again.skipped == report.skipped  # cached items are not decoded
