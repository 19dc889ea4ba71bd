"""bridge_text: the wanted attributes appended to the text bridge in plain words."""

import itertools
import re

import pytest

from vmb.retrieve.text import bridge_text, description_text, mood_antonyms_of, want_phrases
from vmb.types import MusicDescription, Wants
from vmb.vocab import parse_wants


def test_each_want_has_its_phrase():
    base = "An uplifting pop track."
    assert (
        bridge_text(base, Wants(tempo="fast")) == "An uplifting pop track, with fast-paced tempo."
    )
    assert bridge_text(base, Wants(genre="jazz")) == "An uplifting pop track, in the style of jazz."
    assert (
        bridge_text(base, Wants(instrument="piano")) == "An uplifting pop track, featuring piano."
    )
    assert bridge_text(base, Wants(mood="calm")) == "An uplifting pop track, with a calm mood."
    assert (
        bridge_text(base, Wants(mood="energetic"))
        == "An uplifting pop track, with an energetic mood."
    )
    assert bridge_text(base, Wants(key="D", mode="minor")) == "An uplifting pop track, in D minor."
    assert bridge_text(base, Wants(key="F#")) == "An uplifting pop track, in the key of F#."
    assert bridge_text(base, Wants(mode="major")) == "An uplifting pop track, in a major key."


def test_several_wants_in_documented_order_and_idempotent():
    wants = parse_wants(["tempo=fast", "genre=jazz", "instrument=piano", "mood=calm"])
    text = bridge_text(MusicDescription(text="A scene by the sea!"), wants)
    assert (
        text
        == "A scene by the sea, in the style of jazz, featuring piano, with fast-paced tempo, with a calm mood."
    )
    assert bridge_text(text, wants) == text


def test_no_wants_leaves_the_text_and_no_text_still_says_the_wants():
    assert bridge_text("Quiet strings.", None) == "Quiet strings."
    assert bridge_text("Quiet strings.", Wants()) == "Quiet strings."
    assert bridge_text(None, Wants(genre="rock")) == "Music in the style of rock."
    assert want_phrases(None) == []


def test_description_without_sentence_is_joined_from_fields():
    d = MusicDescription(genre="jazz", mood=("calm",), instruments=("piano", "bass"))
    assert description_text(d) == "Calm jazz music with piano, bass"
    assert (
        bridge_text(d, Wants(tempo="slow"))
        == "Calm jazz music with piano, bass, with slow-paced tempo."
    )


# ------------------------------------------------------------- said once, never contradicted
def test_a_want_the_description_states_is_not_said_again():
    d = MusicDescription(genre="pop", mood=("happy", "playful"), instruments=("piano",),
                         tempo_bpm=130, tempo_class="fast", key="E", mode="major",
                         text="A happy and playful pop track in E major at 130 BPM (fast tempo), "
                              "blending piano.")  # fmt: skip
    wants = Wants(genre="pop", mood="happy", instrument="piano", tempo="fast", key="E",
                  mode="major")  # fmt: skip
    assert bridge_text(d, wants) == d.text
    # a field that holds it but a sentence that does not say it: said
    edited = d.replace(text="A pop track.")
    assert bridge_text(edited, Wants(mood="happy")) == "A pop track, with a happy mood."


def test_a_wanted_mood_removes_the_moods_that_contradict_it():
    assert bridge_text("A calm, sad and dark cinematic track.", Wants(mood="happy")) == (
        "A calm cinematic track, with a happy mood."
    )
    assert bridge_text("Sad and dark piano music", Wants(mood="happy")) == (
        "Piano music, with a happy mood."
    )
    assert bridge_text("An energetic, happy and fun track.", Wants(mood="calm")) == (
        "A happy and fun track, with a calm mood."
    )
    timeline = "A calm piece. 0–6 s: a happy opening; 6–12 s: a sad ending, with a sad mood."
    assert bridge_text(timeline, Wants(mood="happy")) == (
        "A calm piece. 0–6 s: a happy opening; 6–12 s: an ending, with a happy mood."
    )
    # synonyms in free text are the user's words: not touched
    assert bridge_text("Gloomy strings.", Wants(mood="happy")) == (
        "Gloomy strings, with a happy mood."
    )
    # idempotent
    once = bridge_text("A calm, sad and dark cinematic track.", Wants(mood="happy"))
    assert bridge_text(once, Wants(mood="happy")) == once


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    from describe.conftest import make_samples

    return make_samples(tmp_path_factory.mktemp("text_samples"))


VIDEOS = ("sunny_pastoral", "red_action")
SAMPLES = (*VIDEOS, "green_forest", "dark_blue", "sunny")
PAIRS = [(n,) for n in SAMPLES] + list(itertools.combinations(SAMPLES, 2))
PAIRS = [p for p in PAIRS if sum(n in VIDEOS for n in p) <= 1]  # the timeline takes one video
WANTS = [None, Wants(mood="happy"), Wants(mood="calm"),
         Wants(mood="energetic", tempo="fast", genre="jazz", instrument="piano")]  # fmt: skip


def _clauses(text: str) -> list[str]:
    """The sentence and each section of the timeline: no mood beside its antonym in one."""
    return [c for c in re.split(r"[.;]\s*", text) if c.strip()]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.mark.parametrize("names", PAIRS, ids=["+".join(p) for p in PAIRS])
def test_the_text_of_each_sample_and_pair_says_each_want_once_and_never_contradicts(samples, names):
    from vmb.describe import describe
    from vmb.describe.schema import mood_antonyms

    video = next((samples[n] for n in names if n in VIDEOS), None)
    images = [samples[n] for n in names if n not in VIDEOS]
    pairs = [tuple(p) for p in mood_antonyms()]
    for wants in WANTS:
        made = [describe(video=video, images=images, wants=wants)]  # the pipeline's way
        if wants:
            made.append(describe(video=video, images=images))  # `vmb retrieve --video --want`
        for d in made:
            text = bridge_text(d, wants)
            for clause in _clauses(text):
                words = _words(clause)
                assert not any(a in words and b in words for a, b in pairs), (clause, text)
            if not wants:
                assert text == d.text
                continue
            assert not set(mood_antonyms_of(wants.mood)) & _words(text), text
            assert wants.mood in _words(text)
            for phrase in want_phrases(wants):
                assert text.lower().count(phrase.lower()) <= 1, text
            if wants.mood in d.mood:  # the description says it: not appended
                assert "mood" not in _words(text), text
            if wants.genre:
                assert "jazz" in _words(text) and text.count("in the style of jazz") <= 1
                assert d.genre != "jazz" or "in the style of" not in text
