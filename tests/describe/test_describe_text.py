"""User text into fields, the sentence writer and the merge rule."""

from __future__ import annotations

import pytest

from vmb.describe import describe, load_inputs, merge, parse_text, write_sentence
from vmb.describe.text import find_bpm, find_key
from vmb.errors import UsageError
from vmb.types import MusicDescription


def test_issue_example():
    d = parse_text("a sad piano piece at 70 bpm in D minor")
    assert d.mood == ("sad",)
    assert d.instruments == ("piano",)
    assert (d.tempo_bpm, d.tempo_class) == (70.0, "slow")
    assert (d.key, d.mode) == ("D", "minor")
    assert d.text == "a sad piano piece at 70 bpm in D minor"
    assert d.source == "text" and d.genre is None and d.energy is None


@pytest.mark.parametrize(
    "text, key, mode",
    [
        ("F# major", "F#", "major"),
        ("in Bb maj", "A#", "major"),
        ("E flat major waltz", "D#", "major"),
        ("c-sharp minor", "C#", "minor"),
        ("a ballad in Am", "A", "minor"),
        ("A minor lullaby", "A", "minor"),
        ("in a minor key", None, "minor"),  # the article, not the note A
        ("key of e, fast", "E", None),
        ("something in G.", "G", None),
        ("in A cinematic style", None, None),
        ("I am happy", None, None),
    ],
)
def test_find_key(text, key, mode):
    assert find_key(text) == (key, mode)


@pytest.mark.parametrize(
    "text, bpm",
    [("70 bpm", 70.0), ("at 128 BPM", 128.0), ("tempo: 96", 96.0), ("120 beats per minute", 120.0),
     ("999 bpm", None), ("track 2 of 10", None)],
)  # fmt: skip
def test_find_bpm(text, bpm):
    assert find_bpm(text) == bpm


def test_synonyms_genres_tempo_words_and_negation():
    d = parse_text("An upbeat EDM tune, fast, with synths and strings, no drums or bass, not sad")
    assert d.genre == "electronic"
    assert d.mood == ("fun",)
    assert d.instruments == ("synthesizer", "strings")
    assert (d.tempo_bpm, d.tempo_class) == (None, "fast")


def test_out_of_vocabulary_words_stay_in_text_only():
    d = parse_text("vaporwave with kalimba")
    assert d.genre is None and d.instruments == ()
    assert d.text == "vaporwave with kalimba"


PIXELS = MusicDescription(
    genre="electronic",
    mood=("energetic", "happy", "fun"),
    instruments=("drums", "bass", "synthesizer"),
    tempo_bpm=141.0,
    tempo_class="fast",
    key="C",
    mode="major",
    energy=0.88,
    theme="action",
    text="pixels",
    source="visual",
)


def test_sentence_uses_every_field():
    s = write_sentence(PIXELS)
    assert s == (
        "An energetic, happy and fun electronic track in C major at 141 BPM (fast tempo), "
        "blending drums, bass and synthesizer, with high energy, perfect for an action scene."
    )
    assert write_sentence(MusicDescription()) == ""
    assert (
        write_sentence(MusicDescription(mood=("calm",), tempo_class="slow"))
        == "A calm piece with a slow tempo."
    )


def test_merge_text_wins_pixels_fill_the_rest():
    m = merge(PIXELS, parse_text("a sad piano piece at 70 bpm in D minor"))
    assert (m.tempo_bpm, m.tempo_class, m.key, m.mode) == (70.0, "slow", "D", "minor")
    # union, the user's first, capped at 3, without the inferred moods that contradict the
    # user's ("happy" and "fun" against "sad")
    assert m.mood == ("sad", "energetic")
    assert m.instruments[:2] == ("piano", "drums")
    assert (m.genre, m.energy, m.theme) == ("electronic", 0.88, "action")  # not set by the text
    assert m.source == "visual+text"
    assert m.text.startswith("a sad piano piece at 70 bpm in D minor. ")
    assert m.text.endswith(write_sentence(m.replace(text="")))


def test_merge_tempo_class_only_moves_the_bpm_into_the_class():
    assert merge(PIXELS, parse_text("slow")).tempo_bpm == 89.0
    assert merge(PIXELS, parse_text("slow")).tempo_class == "slow"
    assert merge(PIXELS, parse_text("fast")).tempo_bpm == 141.0
    medium = merge(PIXELS.replace(tempo_bpm=70.0, tempo_class="slow"), parse_text("moderate tempo"))
    assert (medium.tempo_bpm, medium.tempo_class) == (90.0, "medium")


def test_merge_key_and_mode_separately():
    assert (merge(PIXELS, parse_text("in G")).key, merge(PIXELS, parse_text("in G")).mode) == (
        "G",
        "major",
    )
    m = merge(PIXELS, parse_text("a minor key please"))
    assert (m.key, m.mode) == ("C", "minor")


def test_merge_keeps_free_text_of_a_describer_without_fields():
    free = MusicDescription(text="garbage words from a model", source="vlm:x")
    m = merge(free, parse_text("jazz"))
    assert m.genre == "jazz" and m.text == "jazz. garbage words from a model"
    assert merge(None, parse_text("jazz")).text == "jazz"
    assert merge(PIXELS, None) is PIXELS


def test_text_only_describe_and_no_input():
    d = describe(text="calm harp at 60 bpm")
    assert (d.instruments, d.mood, d.tempo_bpm) == (("harp",), ("calm",), 60.0)
    with pytest.raises(UsageError, match="nothing to describe"):
        describe()
    with pytest.raises(UsageError, match="nothing to describe"):
        load_inputs(text="   ")
    with pytest.raises(UsageError, match="describer"):
        describe(text="x", describer="magic")


@pytest.mark.parametrize(
    "text", ["calm lofi piano", "lofi beats to study to", "lo-fi chillhop", "a lo fi beat", "chillhop"]
)
def test_lofi_is_the_hip_hop_it_names(text):
    """'lofi' alone means lofi hip hop (a beat, jazzy chords): it was an unknown word before, and
    'calm lofi piano' came out as drumless ambient."""
    assert parse_text(text).genre == "hip hop"
