"""Controllability pieces with known answers: tempo tolerance, key by KK profiles on real
(synthetic) cadences measured with librosa, ΔCLAP and zero-shot on a CLAP whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.eval import controllability as ctl
from vmb.vocab import load_vocab


def test_tempo_matches_with_and_without_octave():
    assert ctl.tempo_matches(120, 126) == (True, True)
    assert ctl.tempo_matches(120, 131) == (False, False)
    assert ctl.tempo_matches(70, 140) == (False, True)
    assert ctl.tempo_matches(70, 0) == (False, False)


@pytest.mark.parametrize(("tonic", "mode"), [(0, "major"), (9, "minor"), (2, "minor"), (7, "major")])
def test_key_and_mode_measured_on_a_cadence(tonic, mode):
    from vmb.analysis.reference_signals import cadence
    from vmb.vocab import PITCH_CLASSES

    audio = cadence(tonic, mode, 22050)
    m = ctl.measure_audio(np.asarray(audio).reshape(-1) if np.ndim(audio) == 1 else np.asarray(audio).mean(axis=0), 22050)
    assert (m.key, m.mode) == (PITCH_CLASSES[tonic], mode)
    assert m.lufs is not None and -60 < m.lufs < 0


def test_measured_tempo_of_a_drum_loop():
    from vmb.analysis.reference_signals import arrangement

    audio = np.asarray(arrangement(100.0, 12.0, 22050))
    mono = audio if audio.ndim == 1 else audio.mean(axis=0)
    m = ctl.measure_audio(mono, 22050)
    assert ctl.tempo_matches(100.0, m.tempo_bpm)[1]
    assert 0 < m.percussive_share < 1


class OneHotClap:
    """A CLAP stand-in: each vocabulary word's text embeds to its own axis."""

    def __init__(self, words):
        self.words = words

    def embed_text(self, texts):
        out = np.zeros((len(texts), len(self.words)), np.float32)
        for i, text in enumerate(texts):
            hit = max((w for w in self.words if w in text), key=len)
            out[i, self.words.index(hit)] = 1.0
        return out


def test_delta_clap_and_zero_shot_have_known_answers():
    instruments = list(load_vocab().instruments)
    clap = OneHotClap(instruments)
    audio = np.zeros(len(instruments), np.float32)
    audio[instruments.index("piano")] = 1.0
    assert ctl.delta_clap(clap, audio, "instrument", "piano") == pytest.approx(1.0)
    assert ctl.delta_clap(clap, audio, "instrument", "organ") == pytest.approx(-1.0 / (len(instruments) - 1))
    assert ctl.delta_clap(clap, audio, "instrument", "kazoo-not-in-vocab") is None
    shot = ctl.zero_shot_instruments(clap, audio, ["piano", "organ"])
    assert shot["piano"] == {"rank": 1, "ok": True} and shot["organ"]["rank"] > 1


def test_asked_attributes_from_a_result():
    result = {"bridges": {"description": {"tempo_bpm": 70.0, "tempo_class": "slow", "key": "Bb", "mode": "minor",
                                          "energy": 0.3, "instruments": ["piano"], "genre": "jazz", "mood": ["sad"]},
                          "wants": {"instrument": "violin"}}}
    asked = ctl.asked_attributes(result)
    assert asked == {"tempo_bpm": 70.0, "tempo_class": "slow", "key": "A#", "mode": "minor", "energy": 0.3,
                     "instruments": ["violin", "piano"]}
    assert ctl.asked_for_delta(asked, result) == {"genre": "jazz", "mood": "sad", "instrument": "violin",
                                                  "tempo": "slow", "mode": "minor"}
