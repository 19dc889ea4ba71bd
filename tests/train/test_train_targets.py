"""Description targets written from tags, BPM and key (vmb.train.targets)."""

from __future__ import annotations

import json

from vmb.describe.parse import parse_answer
from vmb.train.targets import TARGET_KEYS, description_from_tags, target_from_text, write_target


def test_target_from_tags_maps_onto_the_vocabularies_and_reads_back():
    target = write_target(
        genre="Hip-Hop", mood="joyful; catchy; spooky-ish", instruments=["Drums", "synth"],
        tempo_bpm=127.6, key="F#", mode="minor", energy=1.4, theme=" sunny   beach ",
    )  # fmt: skip
    d = target.description
    assert (d.genre, d.mood, d.instruments) == ("hip hop", ("happy", "fun"), ("drums", "synthesizer"))
    assert (d.tempo_bpm, d.tempo_class, d.key, d.mode, d.energy, d.theme) == (128.0, "fast", "F#", "minor", 1.0, "sunny beach")
    assert target.unknown == ("spooky-ish",)
    data = json.loads(target.json)
    assert tuple(data) == TARGET_KEYS  # the prompt's keys, in its order
    assert data["tempo_bpm"] == 128 and data["description"] == d.text
    assert "hip hop track in F# minor at 128 BPM (fast tempo)" in d.text
    # What the describer's parser reads back out of the target is the target.
    back = parse_answer(target.json).description
    for field in ("genre", "mood", "instruments", "tempo_bpm", "tempo_class", "key", "mode", "energy", "theme", "text"):
        assert getattr(back, field) == getattr(d, field), field


def test_caption_is_kept_and_missing_fields_are_null():
    d, unknown = description_from_tags(tempo_bpm=72, caption="  A slow  waltz for a rainy night. ")
    assert d.text == "A slow waltz for a rainy night."
    assert (d.tempo_class, d.genre, d.key, unknown) == ("slow", None, None, ())
    data = json.loads(write_target(tempo_bpm=0, key="H").json)
    assert data["tempo_bpm"] is None and data["key"] is None and data["mood"] == []


def test_given_descriptions_json_or_sentence():
    given = target_from_text('```json\n{"genre": "Rock", "bpm": "140", "description": "Loud guitars."}\n```')
    assert json.loads(given.json)["genre"] == "rock" and given.description.tempo_bpm == 140
    sentence = target_from_text("sad piano at 70 bpm in D minor")
    data = json.loads(sentence.json)
    assert (data["mood"], data["instruments"], data["tempo_bpm"], data["key"], data["mode"]) == (["sad"], ["piano"], 70, "D", "minor")
    assert data["description"] == "sad piano at 70 bpm in D minor"
