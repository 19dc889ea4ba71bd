import json

import numpy as np
import pytest

from vmb.errors import UsageError
from vmb.types import Bridges, Clip, ClipAttributes, GenerationResult, Hit, MediaInput, MusicDescription, Wants
from vmb.vocab import load_vocab, normalize_key, parse_wants


def _bridges():
    desc = MusicDescription(
        genre="pop", mood=["happy", "fun"], instruments=("bass", "synthesizer", "drums"),
        tempo_bpm=124.0, tempo_class="fast", key="C", mode="major", energy=0.8, theme="summer",
        text="An uplifting and catchy pop track.", source="visual",
    )
    clip = Clip("c1", "/music/a.wav", 10.0, 10.0, 44100, "a pop clip",
                ClipAttributes(tempo_bpm=120.0, key="C", mode="major", mood=["happy"]), "a")
    hits = (Hit(clip, 0.9, 0, "broad"), Hit(clip, 0.8, 0, "targeted"))
    return Bridges(desc, desc.text + " with fast-paced tempo", hits, Wants(tempo="fast"), 3.0, 1.5)


def test_round_trip_through_json():
    bridges = _bridges()
    again = Bridges.from_dict(json.loads(json.dumps(bridges.to_dict())))
    assert again == bridges
    assert again.description.mood == ("happy", "fun")
    assert [h.track for h in again.by_track("targeted")] == ["targeted"]
    media = MediaInput("video", path="x.mp4", frames=np.zeros((2, 4, 4, 3), np.uint8), timestamps=(0.0, 1.0))
    assert MediaInput.from_dict(json.loads(json.dumps(media.to_dict()))).timestamps == (0.0, 1.0)


def test_generation_result_reports_duration():
    result = GenerationResult(np.zeros((2, 32000 * 3), np.float32), 32000, _bridges(), "builtin", seed=1)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["duration_s"] == pytest.approx(3.0)
    assert data["channels"] == 2


def test_vocab_maps_synonyms_and_keeps_unknown_out():
    vocab = load_vocab()
    assert vocab.canonical("mood", "Melancholic") == "sad"
    assert vocab.canonical("instrument", "Rhodes") == "electric piano"
    assert vocab.canonical("genre", "hip-hop") == "hip hop"
    assert vocab.canonical("genre", "zydeco-polka") is None
    text = "A melancholic electric guitar ballad with soft rhodes and a double bass"
    assert vocab.find_all("instrument", text) == ["electric guitar", "electric piano", "bass"]
    assert vocab.tempo_class(89.9) == "slow" and vocab.tempo_class(90) == "medium"
    assert vocab.tempo_class(120) == "fast"
    assert normalize_key("Bb") == "A#" and normalize_key("f sharp") == "F#" and normalize_key("H") is None


def test_parse_wants():
    wants = parse_wants(["genre=Jazz", "tempo=up-tempo", "instrument=sax"])
    assert wants == Wants(genre="jazz", tempo="fast", instrument="saxophone")
    assert wants.items()[0] == ("genre", "jazz")
    with pytest.raises(UsageError, match="unknown key 'colour'"):
        parse_wants(["colour=red"])
    with pytest.raises(UsageError, match="'polka' is not a known genre"):
        parse_wants(["genre=polka"])
    with pytest.raises(UsageError, match="expected key=value"):
        parse_wants(["genre"])


def test_timeline_fields_round_trip_and_old_json_loads():
    from vmb.types import Cut, Section

    d = MusicDescription(
        genre="rock",
        mood=("tense",),
        sections=(
            Section(0, 8, energy=0.1, mood=("calm", "dark"), tempo_class="slow", text="a calm opening"),
            Section(8, 16.5, energy=0.9, mood=("energetic",), tempo_class="fast", instruments=("drums",)),
        ),
        cuts=(Cut(8.0, 0.7), Cut(12.0, 1.0, "marker")),
        energy_curve=(0.1,) * 8 + (0.9,) * 9,
        sync="cuts",
    )
    again = MusicDescription.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d and again.duration_s == 16.5
    assert again.sections[1].instruments == ("drums",) and again.cuts[1].kind == "marker"
    old = {"genre": "pop", "mood": ["happy"], "text": "A happy pop track.", "source": "visual"}
    loaded = MusicDescription.from_dict(old)
    assert loaded.sections == () and loaded.cuts == () and loaded.energy_curve == ()
    assert loaded.sync is None and loaded.duration_s is None


def test_mood_antonyms_are_vocabulary_moods():
    from vmb.describe.schema import mood_antonyms

    moods = set(load_vocab().moods)
    pairs = mood_antonyms()
    assert frozenset(("happy", "sad")) in pairs and frozenset(("calm", "energetic")) in pairs
    assert all(len(pair) == 2 and pair <= moods for pair in pairs)
