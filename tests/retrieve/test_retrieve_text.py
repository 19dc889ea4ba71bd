"""bridge_text: the wanted attributes appended to the text bridge in plain words."""

from vmb.retrieve.text import bridge_text, description_text, want_phrases
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
