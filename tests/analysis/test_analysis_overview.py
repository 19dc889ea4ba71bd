"""analyze(): every measure in one pass, equal to the single-measure functions."""

import json

import numpy as np
import pytest

from vmb.analysis import (
    analyze,
    energy,
    estimate_chords,
    estimate_key,
    estimate_tempo,
    loudness_db,
    onset_density,
    spectral_centroid_hz,
)
from vmb.analysis.reference_signals import arrangement


def test_analyze_equals_the_single_measures():
    sr = 44100
    mono = arrangement(110, 8.0, sr, progression=[(2, "min"), (10, "maj"), (5, "maj"), (0, "maj")])
    x = np.stack([mono, 0.8 * mono])
    a = analyze(x, sr, chords=True)
    t = estimate_tempo(x, sr)
    assert a.tempo.bpm == pytest.approx(t.bpm) and np.allclose(a.tempo.beats_s, t.beats_s)
    assert a.key == estimate_key(x, sr)
    assert a.loudness_db == pytest.approx(loudness_db(x))
    assert a.onset_density == pytest.approx(onset_density(x, sr))
    assert a.spectral_centroid_hz == pytest.approx(spectral_centroid_hz(x, sr))
    assert a.energy == pytest.approx(energy(x, sr))
    assert list(a.chords) == estimate_chords(x, sr)
    assert [c.name for c in a.chords][:4] == ["Dm", "A#", "F", "C"]
    assert a.duration_s == pytest.approx(8.0, abs=1e-3)
    d = json.loads(json.dumps(a.to_dict()))
    assert d["key"] == a.key.key and len(d["chords"]) == len(a.chords)


def test_analyze_silence():
    a = analyze(np.zeros(22050, dtype=np.float32), 22050, chords=True)
    assert (a.tempo.bpm, a.key.key, a.energy, a.loudness_db, a.chords) == (0.0, "", 0.0, -120.0, ())
