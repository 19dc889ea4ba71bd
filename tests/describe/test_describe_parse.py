"""The answer parser on realistic model answers."""

from __future__ import annotations

import pytest

from vmb.describe.parse import clean_text, find_json_object, parse_answer


def test_valid_json_all_fields():
    answer = (
        '{"genre": "Pop", "mood": ["uplifting", "catchy"], "instruments": ["bass", "synth", "drums"], '
        '"tempo_bpm": 124, "tempo_class": "fast", "key": "G", "mode": "major", "energy": 0.8, '
        '"theme": "summer party", "description": "An uplifting and catchy pop track, blending bass, '
        'synthesizer, drums which is perfect for nostalgic and fun moments."}'
    )
    parsed = parse_answer(answer)
    d = parsed.description
    assert parsed.found_json and parsed.notes == ()
    assert d.genre == "pop"
    assert d.mood == ("happy", "fun")  # uplifting -> happy, catchy -> fun
    assert d.instruments == ("bass", "synthesizer", "drums")
    assert (d.tempo_bpm, d.tempo_class) == (124.0, "fast")
    assert (d.key, d.mode, d.energy, d.theme) == ("G", "major", 0.8, "summer party")
    assert d.text.startswith("An uplifting and catchy pop track")
    assert d.source == "vlm"


def test_json_inside_prose():
    answer = (
        "Looking at the frames, the scene is calm and dark. Here is my description: "
        '{"genre": "ambient", "mood": "calm, dreamy", "tempo": 72, "key": "E minor"} '
        "I hope this fits the video."
    )
    d = parse_answer(answer).description
    assert d.genre == "ambient"
    assert d.mood == ("calm", "dreamy")
    assert (d.tempo_bpm, d.tempo_class) == (72.0, "slow")
    assert (d.key, d.mode) == ("E", "minor")
    assert "ambient" in d.text and "72 BPM" in d.text  # written from the fields


def test_fenced_json_with_trailing_comma_and_other_key_names():
    answer = (
        "Sure! Here is the description:\n```json\n"
        '{"Genre": "lo-fi hip-hop", "Emotion": ["Melancholic", "bittersweet"], '
        '"Instrumentation": ["Rhodes", "kalimba", "Drum machine"], "Tempo": "slow, around 75 BPM", '
        '"Key": "Am", "Energy": "low",}\n```\nLet me know if you need anything else.'
    )
    parsed = parse_answer(answer)
    d = parsed.description
    assert d.genre == "hip hop"
    assert d.mood == ("sad",)
    assert d.instruments == ("electric piano", "drums")
    assert (d.tempo_bpm, d.tempo_class) == (75.0, "slow")
    assert (d.key, d.mode, d.energy) == ("A", "minor", 0.2)
    # Out-of-vocabulary words are kept in the text, never invented into fields ("lo-fi" is a
    # name of hip hop, so "lo-fi hip-hop" leaves nothing over).
    assert set(parsed.unknown) == {"bittersweet", "kalimba"}
    for word in ("bittersweet", "kalimba"):
        assert word in d.text


def test_single_quoted_python_style_dict():
    d = parse_answer(
        "{'genre': 'Jazz', 'tempo': 'fast', 'mood': ['Playful'], 'mode': 'Minor'}"
    ).description
    assert (d.genre, d.tempo_class, d.tempo_bpm, d.mood, d.mode) == (
        "jazz",
        "fast",
        None,
        ("playful",),
        "minor",
    )


def test_synonyms_and_case_map_onto_vocabularies():
    answer = '{"genre": "EDM", "mood": ["Joyful", "HIGH-ENERGY"], "instruments": ["Violin", "Trumpet", "Sax"]}'
    d = parse_answer(answer).description
    assert d.genre == "electronic"
    assert d.mood == ("happy", "energetic")
    assert d.instruments == ("strings", "brass", "saxophone")


def test_missing_fields_stay_empty():
    parsed = parse_answer('{"genre": "folk", "mood": "nostalgic"}')
    d = parsed.description
    assert (d.genre, d.mood) == ("folk", ("nostalgic",))
    assert d.instruments == () and d.tempo_bpm is None and d.tempo_class is None
    assert d.key is None and d.mode is None and d.energy is None and d.theme is None
    assert d.text == "A nostalgic folk track."


def test_no_json_at_all_falls_back_to_text_with_a_note():
    answer = "I think a soft, calm piano piece at 70 bpm would fit these frames nicely."
    parsed = parse_answer(answer)
    d = parsed.description
    assert not parsed.found_json
    assert d.text == answer
    # Fields stay empty even though the prose names vocabulary words.
    assert d.genre is None and d.mood == () and d.instruments == () and d.tempo_bpm is None
    assert len(parsed.notes) == 1 and "no usable JSON" in parsed.notes[0]


def test_garbage_and_empty_answers():
    parsed = parse_answer('beat"}beat\x00calm{ta?\ufffd')
    assert not parsed.found_json
    assert parsed.description.text == 'beat"}beatcalm{ta?'
    empty = parse_answer("   ")
    assert empty.description.text == "" and "empty answer" in empty.notes[0]


def test_json_without_known_keys_is_not_a_description():
    parsed = parse_answer('The frames show {"objects": ["car", "tree"]} and a road.')
    assert not parsed.found_json
    assert parsed.description.genre is None


def test_nested_wrapper_and_list_of_objects():
    assert find_json_object('{"music": {"genre": "rock", "bpm": 140}}') == {
        "genre": "rock",
        "bpm": 140,
    }
    assert parse_answer('[{"genre": "blues"}]').description.genre == "blues"


def test_cut_off_answer_is_closed_and_read():
    d = parse_answer('```json\n{"genre": "metal", "tempo_bpm": 180, "mood": ["dark"').description
    assert d.genre == "metal"
    assert d.tempo_bpm == 180.0


@pytest.mark.parametrize(
    "value, expected",
    [(0.4, 0.4), ("7", 0.7), (7, 0.7), ("85%", 0.85), ("high", 0.8), ("Very Low", 0.1), (1, 1.0)],
)
def test_energy_scales(value, expected):
    import json

    assert parse_answer(json.dumps({"energy": value})).description.energy == pytest.approx(expected)


def test_out_of_range_values_are_dropped_with_notes():
    parsed = parse_answer('{"genre": "vaporwave", "bpm": 999, "energy": -3}')
    d = parsed.description
    assert d.genre is None and d.tempo_bpm is None and d.energy is None
    assert "vaporwave" in d.text
    assert any("999" in n for n in parsed.notes) and any("energy" in n for n in parsed.notes)


def test_bpm_wins_over_a_contradicting_tempo_class():
    parsed = parse_answer('{"tempo_bpm": 150, "tempo_class": "slow"}')
    assert (parsed.description.tempo_bpm, parsed.description.tempo_class) == (150.0, "fast")
    assert any("disagrees" in n for n in parsed.notes)


def test_clean_text():
    assert clean_text("a\x00b\n\n c\ufffd") == "ab c"
