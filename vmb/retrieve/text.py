"""The targeted attributes appended to the text bridge.

``bridge_text(description, wants)`` returns the description sentence with every set
:class:`~vmb.types.Wants` attribute appended in plain words, in this order:

===========  =============================  ==========================================
want         phrase                         example
===========  =============================  ==========================================
genre        ``in the style of {genre}``    "..., in the style of jazz"
instrument   ``featuring {instrument}``     "..., featuring piano"
tempo        ``with {tempo}-paced tempo``   "..., with fast-paced tempo"
mood         ``with a {mood} mood``         "..., with a calm mood"
key + mode   ``in {key} {mode}``            "..., in D minor"
key          ``in the key of {key}``        "..., in the key of D"
mode         ``in a {mode} key``            "..., in a minor key"
===========  =============================  ==========================================

A phrase already present in the text is not appended twice, so applying it again changes
nothing. Nor is an attribute the description already states: a wanted mood among its moods
(``--want mood=happy`` on "A happy and playful pop track ..."), its genre, tempo class,
instrument, key or mode, when the field holds it and the sentence says it.

The text never contradicts itself: a wanted mood removes the moods that contradict it
(``mood_antonyms`` in ``configs/vocab.yaml``) from the sentence before it is said, so "A calm,
sad and dark cinematic track" with ``--want mood=happy`` becomes "A calm cinematic track ...,
with a happy mood", never "sad and dark ..., with a happy mood". Only the vocabulary's mood
words themselves are removed ("sad", "dark"), not their synonyms in free text ("gloomy"). The
describers already put the wants into the description (:func:`vmb.describe.schema.apply_wants`);
this keeps the text consistent for a description made without them (``vmb retrieve --text``,
an edited description, the Python API).
"""

from __future__ import annotations

import functools
import re

import yaml

from vmb.config import configs_dir
from vmb.types import MusicDescription, Wants
from vmb.vocab import key_phrase


def want_phrases(wants: Wants | None) -> list[str]:
    """The phrases of the table above for the set attributes of ``wants``."""
    return [phrase for _, phrase in _want_items(wants)]


def _want_items(wants: Wants | None) -> list[tuple[str, str]]:
    """``(attribute, phrase)`` for the set attributes of ``wants``; key and mode are ``key``."""
    if not wants:
        return []
    items = []
    if wants.genre:
        items.append(("genre", f"in the style of {wants.genre}"))
    if wants.instrument:
        items.append(("instrument", f"featuring {wants.instrument}"))
    if wants.tempo:
        items.append(("tempo", f"with {wants.tempo}-paced tempo"))
    if wants.mood:
        article = "an" if wants.mood[0] in "aeiou" else "a"
        items.append(("mood", f"with {article} {wants.mood} mood"))
    if key := key_phrase(wants.key, wants.mode):
        items.append(("key", key))
    return items


def description_text(description: MusicDescription | str | None) -> str:
    """The sentence of a description (its ``text``, else its fields joined), or the string."""
    if description is None:
        return ""
    if isinstance(description, str):
        return description.strip()
    if description.text.strip():
        return description.text.strip()
    parts = [*description.mood, description.genre or "", "music"]
    sentence = " ".join(p for p in parts if p).capitalize()
    if description.instruments:
        sentence += " with " + ", ".join(description.instruments)
    return sentence


@functools.lru_cache(maxsize=2)
def _antonym_pairs() -> frozenset[frozenset[str]]:
    # configs/vocab.yaml's mood_antonyms, as vmb.describe.schema.mood_antonyms reads them (that
    # stage sits beside this one, so it is read here again).
    data = yaml.safe_load((configs_dir() / "vocab.yaml").read_text(encoding="utf-8")) or {}
    return frozenset(frozenset(str(w) for w in pair) for pair in data.get("mood_antonyms") or ())


def mood_antonyms_of(mood: str) -> tuple[str, ...]:
    """The moods that contradict ``mood`` (``mood_antonyms`` in ``configs/vocab.yaml``)."""
    return tuple(sorted(w for pair in _antonym_pairs() if mood in pair for w in pair if w != mood))


_CONNECTOR = r"(?:\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+)"


def _fix_article(text: str, at: int) -> str:
    """Make an article just before ``at`` agree with the word that now follows it."""
    match = re.search(r"\b(an?|An?)(\s+)$", text[:at])
    rest = text[at:].lstrip()
    if not match or not rest:
        return text
    article = match.group(1)
    wanted = "an" if rest[0].lower() in "aeiou" else "a"
    wanted = wanted.capitalize() if article[0].isupper() else wanted
    return text[: match.start(1)] + wanted + text[match.end(1) :]


def drop_moods(text: str, moods: tuple[str, ...] | list[str]) -> str:
    """``text`` without the mood words ``moods`` and the commas or "and" that joined them.

    >>> drop_moods("A calm, sad and dark cinematic track; 0-8 s: a sad opening.", ["sad", "dark"])
    'A calm cinematic track; 0-8 s: an opening.'
    """
    for mood in moods:
        word = re.escape(mood)
        patterns = (
            rf"\s*,?\s*\bwith\s+an?\s+{word}\s+mood\b",  # an earlier "with a sad mood"
            rf"\b{word}\b{_CONNECTOR}",  # "sad and dark", "sad, dark"
            rf"{_CONNECTOR}\b{word}\b",  # "calm, sad" / "calm and sad"
            rf"\b{word}\b\s*",  # "a sad opening"
        )
        for pattern in patterns:
            while (match := re.search(pattern, text, flags=re.IGNORECASE)) is not None:
                capital = match.start() == 0 and text[:1].isupper()
                text = text[: match.start()] + text[match.end() :]
                if capital and text:
                    text = text[:1].upper() + text[1:]
                text = _fix_article(text, match.start())
    return text


def _stated(description: MusicDescription | str | None, wants: Wants, text: str) -> set[str]:
    """The wanted attributes the description's fields hold and its sentence says."""
    if not isinstance(description, MusicDescription):
        return set()
    d = description

    def says(word: str | None) -> bool:
        pattern = rf"(?<![\w#]){re.escape(word or '')}(?![\w#])"
        return bool(word) and re.search(pattern, text, re.IGNORECASE) is not None

    stated = set()
    if wants.genre and d.genre == wants.genre and says(wants.genre):
        stated.add("genre")
    if wants.instrument and wants.instrument in d.instruments and says(wants.instrument):
        stated.add("instrument")
    if wants.tempo and d.tempo_class == wants.tempo and says(wants.tempo):
        stated.add("tempo")
    moods = {*d.mood, *(m for s in d.sections for m in s.mood)}
    if wants.mood and wants.mood in moods and says(wants.mood):
        stated.add("mood")
    key_said = not wants.key or (d.key == wants.key and says(wants.key))
    mode_said = not wants.mode or (d.mode == wants.mode and says(wants.mode))
    if (wants.key or wants.mode) and key_said and mode_said:
        stated.add("key")
    return stated


def bridge_text(description: MusicDescription | str | None, wants: Wants | None = None) -> str:
    """The text bridge: the description sentence with the wanted attributes appended (only
    those it does not state already), without the moods that contradict a wanted mood.

    >>> bridge_text("A calm piano piece.", Wants(tempo="fast", genre="jazz"))
    'A calm piano piece, in the style of jazz, with fast-paced tempo.'
    >>> bridge_text("A calm, sad and dark piano piece.", Wants(mood="happy"))
    'A calm piano piece, with a happy mood.'
    """
    text = description_text(description)
    if wants and wants.mood:
        text = drop_moods(text, mood_antonyms_of(wants.mood))
    low = text.lower()
    stated = _stated(description, wants, text) if wants else set()
    new = [p for a, p in _want_items(wants) if a not in stated and p.lower() not in low]
    if not new:
        return text
    if not text:
        return "Music " + ", ".join(new) + "."
    return text.rstrip(".!? ") + ", " + ", ".join(new) + "."
