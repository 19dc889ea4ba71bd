"""Read the music fields a user (or a model) wrote in plain words.

``parse_text("a sad piano piece at 70 bpm in D minor")`` gives mood ``sad``, instrument
``piano``, tempo 70 BPM (class ``slow``), key ``D``, mode ``minor``, and keeps the words as
``text``. Words are mapped onto the vocabularies of ``configs/vocab.yaml`` (synonyms, any
case); words outside them stay in the text and never become fields. A negated word ("no
drums", "without piano", "not sad") is not taken.
"""

from __future__ import annotations

import re

from vmb.types import MusicDescription
from vmb.vocab import PITCH_CLASSES, Vocab, load_vocab, normalize_key

# A BPM is believed only inside this range; "300 bpm" is a typo or a drum-roll, not a tempo.
BPM_RANGE = (30.0, 260.0)

_BPM = re.compile(
    r"(\d{2,3}(?:\.\d+)?)\s*(?:-\s*)?(?:bpm|beats per minute|beats/min)\b", re.IGNORECASE
)
_BPM_AFTER = re.compile(
    r"\b(?:bpm|tempo)\s*(?:of|:|=|is|around|about|~)?\s*(\d{2,3}(?:\.\d+)?)\b", re.IGNORECASE
)
_ACCIDENTAL = r"(#|♯|♭|b(?=\s*(?:m|maj|min|major|minor)\b)|\s*-?\s*(?i:sharp|flat)\b)?"
_KEY_MODE = re.compile(
    r"(?<![\w#])([A-Ga-g])" + _ACCIDENTAL + r"(\s*-?\s*)((?i:major|minor|maj|min)|m)(?![\w#])"
)
_KEY_OF = re.compile(r"\b(?i:key)\s*(?i:of|:|=|is)?\s*([A-Ga-g])" + _ACCIDENTAL + r"(?![\w#])")
_IN_KEY = re.compile(r"\bin\s+([A-G])(#|♯|b|♭)?(?=\s*(?:$|[.,;:!?)]|(?:key|and|at|with)\b))")
_MODE_ONLY = re.compile(r"\b(major|minor)\s+(?:key|mode|tonality|scale)\b", re.IGNORECASE)
_NEGATION = re.compile(
    r"\b(?:no|without|not|non|never|avoid|minus)\s+(?:any\s+|a\s+|an\s+|the\s+|too\s+)?"
    r"([\w&/-]+(?:\s+(?:or|and|nor)\s+[\w&/-]+)*(?:\s+[\w&/-]+)?)",
    re.IGNORECASE,
)


def find_bpm(text: str) -> float | None:
    """The first tempo in beats per minute written in ``text`` ("70 bpm", "tempo: 128"), if it
    lies in :data:`BPM_RANGE`; else ``None``."""
    for pattern in (_BPM, _BPM_AFTER):
        for match in pattern.finditer(text):
            bpm = float(match.group(1))
            if BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
                return bpm
    return None


def find_key(text: str, vocab: Vocab | None = None) -> tuple[str | None, str | None]:
    """``(key, mode)`` written in ``text``: "D minor", "F# major", "Bb maj", "Am", "key of E",
    "in G". Either may be ``None``.

    A lower-case "a" before major/minor is the article ("in a minor key" sets only the mode);
    the "m" suffix counts only right after a capital letter ("Am", "F#m"); a bare letter counts
    only after "key of" or as a capital after "in".
    """
    vocab = vocab or load_vocab()
    for match in _KEY_MODE.finditer(text):
        letter, accidental, gap, mode_word = match.groups()
        if letter == "a" or (mode_word == "m" and (letter.islower() or gap)):
            continue
        key = normalize_key(letter + (accidental or "").replace(" ", "").replace("-", ""), vocab)
        if key is not None:
            return key, "major" if mode_word.lower() in ("major", "maj") else "minor"
    for pattern in (_KEY_OF, _IN_KEY):
        match = pattern.search(text)
        if match:
            key = normalize_key(match.group(1) + (match.group(2) or "").replace(" ", ""), vocab)
            if key is not None:
                return key, _mode_only(text)
    return None, _mode_only(text)


def _mode_only(text: str) -> str | None:
    match = _MODE_ONLY.search(text)
    return match.group(1).lower() if match else None


_STATABLE = ("genre", "mood", "instruments", "tempo_bpm", "tempo_class", "key", "mode", "energy", "theme")


def strip_negated(text: str) -> str:
    """``text`` with negated phrases blanked: "piano, no drums or bass" → "piano,  "."""
    return _NEGATION.sub(" ", text)


def parse_text(text: str, vocab: Vocab | None = None) -> MusicDescription:
    """Fields a user set in words, and the words themselves as ``text``.

    Returns:
        A description with ``source="text"``; fields the text does not set stay empty.
        ``tempo_class`` follows the BPM when one is given, else a tempo word ("fast").
    """
    vocab = vocab or load_vocab()
    text = " ".join(str(text).split())
    taken = strip_negated(text)
    genres = vocab.find_all("genre", taken)
    moods = vocab.find_all("mood", taken)
    instruments = vocab.find_all("instrument", taken)
    bpm = find_bpm(text)
    tempo_words = vocab.find_all("tempo", taken)
    if bpm is not None:
        tempo_class = vocab.tempo_class(bpm)
    else:
        tempo_class = tempo_words[0] if tempo_words else None
    key, mode = find_key(text, vocab)
    description = MusicDescription(
        genre=genres[0] if genres else None,
        mood=tuple(moods),
        instruments=tuple(instruments),
        tempo_bpm=bpm,
        tempo_class=tempo_class,
        key=key,
        mode=mode,
        text=text,
        source="text",
    )
    # every field here is the user's own words
    return description.replace(stated=tuple(n for n in _STATABLE if description.is_stated(n)))


__all__ = ["BPM_RANGE", "PITCH_CLASSES", "find_bpm", "find_key", "parse_text", "strip_negated"]
