"""Measured controllability: what was asked for is measured back on the RENDERED audio with
vmb.analysis (beat tracking, chroma key estimation, beat chroma, onsets, loudness) and, for the
key, with an independent tool too: librosa's constant-Q chroma correlated with the
Krumhansl-Kessler key profiles, written here."""

from __future__ import annotations

import numpy as np
import pytest
from generate.builtin.conftest import needs_fluidsynth

from vmb.analysis import beat_chroma, estimate_key, estimate_tempo, loudness_db, onset_density
from vmb.generate.builtin import BuiltinGenerator
from vmb.generate.builtin.tables import PITCH_CLASSES


def generate(renderer, bridges, duration, seed=0, **kw):
    result = BuiltinGenerator(renderer=renderer).generate(bridges, duration, seed=seed, **kw)
    return result.audio, result.sample_rate


def chroma_sequence(audio, sr):
    """Beat-synchronous chroma ``[12, B]`` on the audio's own beats."""
    return beat_chroma(audio, sr, estimate_tempo(audio, sr).beats_s)


def sequence_similarity(x, y, max_lag=8):
    """Mean per-beat Pearson correlation of two chroma sequences at their best alignment
    (lags up to ``max_lag`` beats either way; the pieces need not start on the same beat)."""
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        a, b = x[:, max(0, lag):], y[:, max(0, -lag):]
        n = min(a.shape[1], b.shape[1])
        cols = [np.corrcoef(a[:, i], b[:, i])[0, 1] for i in range(n) if a[:, i].std() > 0 and b[:, i].std() > 0]
        if len(cols) >= 4:
            best = max(best, float(np.mean(cols)))
    return best


@pytest.mark.parametrize("bpm", [70, 90, 120, 150])
def test_tempo_is_measured_as_asked(renderer, make_bridges, bpm):
    bridges = make_bridges(genre="pop", tempo_bpm=bpm, key="C", mode="major", energy=0.6)
    audio, sr = generate(renderer, bridges, max(12.0, 24 * 60 / bpm), seed=1)
    measured = estimate_tempo(audio, sr).bpm
    assert measured == pytest.approx(bpm, rel=0.04), f"asked {bpm} BPM, beat tracking measured {measured:.1f}"


KEYS_DEFAULT = [("C", "major"), ("D", "major"), ("E", "major"), ("F#", "major"), ("G#", "major"), ("A#", "major"),
                ("C#", "minor"), ("D#", "minor"), ("F", "minor"), ("G", "minor"), ("A", "minor"), ("B", "minor")]


def key_accuracy(renderer, make_bridges, keys, duration=16.0):
    wrong = []
    for i, (key, mode) in enumerate(keys):
        bridges = make_bridges(genre="pop", tempo_bpm=120, key=key, mode=mode, energy=0.5)
        audio, sr = generate(renderer, bridges, duration, seed=i)
        est = estimate_key(audio, sr)
        if (est.key, est.mode) != (key, mode):
            wrong.append(f"{key} {mode} -> {est.key} {est.mode}")
    return 1 - len(wrong) / len(keys), wrong


# Krumhansl & Kessler (1982) probe-tone ratings, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# styles that colour and accompany a key differently: triads with drums, 7ths with swing, 7ths
# with a boom-bap kit, power chords, four-on-the-floor, a tonic pedal with timpani
KEY_GENRES = ("pop", "jazz", "hip hop", "rock", "electronic", "cinematic")


def librosa_key(audio: np.ndarray, sr: int) -> tuple[str, str]:
    """Key by librosa: the mean constant-Q chroma of the whole piece correlated (Pearson) with
    the 24 rotations of the Krumhansl-Kessler profiles; the best is ``(tonic, mode)``."""
    import librosa
    from generate.builtin.listening import ANALYSIS_SR, mono

    profile = librosa.feature.chroma_cqt(y=mono(audio, sr), sr=ANALYSIS_SR).mean(axis=1)
    scores = {(PITCH_CLASSES[k], mode): np.corrcoef(profile, np.roll(template, k))[0, 1]
              for mode, template in (("major", KK_MAJOR), ("minor", KK_MINOR)) for k in range(12)}
    return max(scores, key=scores.get)


def librosa_key_accuracy(make_bridges, keys, duration):
    """Share of ``keys`` that librosa hears as asked, FluidSynth-rendered, genres in turn."""
    generator = BuiltinGenerator(renderer="fluidsynth", sample_rate=22050)
    wrong = []
    for i, (key, mode) in enumerate(keys):
        genre = KEY_GENRES[i % len(KEY_GENRES)]
        bridges = make_bridges(genre=genre, tempo_bpm=120, key=key, mode=mode, energy=0.5)
        result = generator.generate(bridges, duration, seed=i)
        heard = librosa_key(result.audio, result.sample_rate)
        if heard != (key, mode):
            wrong.append(f"{genre} {key} {mode} -> {' '.join(heard)}")
    return 1 - len(wrong) / len(keys), wrong


@needs_fluidsynth
def test_librosa_hears_the_asked_key(make_bridges):
    """Half of the 24 keys (every tonic once, major and minor, sharps included), each in another
    style (drums, 7ths, power chords, pedals), 16 s each (long enough for the A section to
    return varied) through FluidSynth: librosa's chroma with the Krumhansl-Kessler profiles
    names the asked key in at least 80 % (11 of 12 today; the harmony before this test, with
    chromatic substitutes in minor, scored 9 of 12)."""
    accuracy, wrong = librosa_key_accuracy(make_bridges, KEYS_DEFAULT, 16.0)
    assert accuracy >= 0.8, wrong


def test_librosa_key_finder_names_a_scale_it_is_given():
    """The test's own key finder is right on plain sounding scales and triads (so a wrong key
    in the test above is the music's, not the finder's)."""
    sr = 22050
    t = np.arange(int(0.25 * sr)) / sr
    for tonic, mode, steps in (("D", "major", (0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0)),
                               ("F#", "minor", (0, 2, 3, 5, 7, 8, 10, 12, 7, 3, 0))):
        base = 440.0 * 2 ** ((PITCH_CLASSES.index(tonic) - 9) / 12)
        tones = [np.sin(2 * np.pi * base * 2 ** (s / 12) * t) * np.hanning(len(t)) for s in steps]
        assert librosa_key(np.concatenate(tones).astype(np.float32), sr) == (tonic, mode)


def test_key_is_measured_as_asked(make_bridges):
    """Half of the 24 keys (every other tonic, both modes) in the default run."""
    accuracy, wrong = key_accuracy("numpy", make_bridges, KEYS_DEFAULT)
    assert accuracy >= 0.8, wrong


@pytest.mark.slow
def test_key_is_measured_as_asked_all_24_keys(renderer, make_bridges):
    keys = [(k, m) for m in ("major", "minor") for k in PITCH_CLASSES]
    accuracy, wrong = key_accuracy(renderer, make_bridges, keys)
    assert accuracy >= 0.8, wrong


@pytest.mark.slow
@needs_fluidsynth
def test_librosa_hears_all_24_keys(make_bridges):
    keys = [(k, m) for m in ("major", "minor") for k in PITCH_CLASSES]
    accuracy, wrong = librosa_key_accuracy(make_bridges, keys, 16.0)
    assert accuracy >= 0.8, wrong


@pytest.mark.parametrize("followed, unrelated", [("f#m", "eb"), ("eb", "f#m")])
def test_high_music_weight_follows_the_reference(renderer, make_bridges, reference_hits, followed, unrelated):
    """The description states no tempo or key; the reference is F# minor at 100 BPM (or
    E-flat major at 132). With music_weight high the output takes the reference's tempo, key and
    chord loop, so its chroma sequence matches the reference better than an unrelated one."""
    refs = {name: chroma_sequence(*_read(hit)) for name, hit in reference_hits.items()}
    bridges = make_bridges(references=[reference_hits[followed]], genre="pop", tempo_class="medium", energy=0.5)
    audio, sr = generate(renderer, bridges, 16.0, seed=2, text_weight=0.0, music_weight=1.0)
    out = chroma_sequence(audio, sr)
    with_followed = sequence_similarity(out, refs[followed])
    with_unrelated = sequence_similarity(out, refs[unrelated])
    assert with_followed > with_unrelated + 0.1, (with_followed, with_unrelated)
    ref_bpm = {"f#m": 100.0, "eb": 132.0}[followed]
    assert estimate_tempo(audio, sr).bpm == pytest.approx(ref_bpm, rel=0.04)


def test_high_text_weight_follows_the_description(make_bridges, reference_hits):
    bridges = make_bridges(references=[reference_hits["f#m"]], genre="pop", tempo_bpm=90, key="C", mode="major",
                           energy=0.5)
    audio, sr = generate("numpy", bridges, 16.0, seed=2, text_weight=1.0, music_weight=0.0)
    assert estimate_tempo(audio, sr).bpm == pytest.approx(90, rel=0.04)
    est = estimate_key(audio, sr)
    assert (est.key, est.mode) == ("C", "major")


def test_energy_raises_onset_density_and_loudness(renderer, make_bridges):
    measured = []
    for energy in (0.15, 0.5, 0.9):
        bridges = make_bridges(genre="pop", tempo_bpm=110, key="D", mode="major", energy=energy)
        audio, sr = generate(renderer, bridges, 12.0, seed=3)
        measured.append((onset_density(audio, sr), loudness_db(audio)))
    densities, levels = zip(*measured)
    assert densities[0] < densities[1] <= densities[2] and densities[0] < densities[2], densities
    # all mastered to the same integrated loudness: energy shows in density, not in level
    assert max(levels) - min(levels) < 4.0, levels


def _read(hit):
    from vmb.generate.builtin.reference import read_reference

    return read_reference(hit, sample_rate=32000)
