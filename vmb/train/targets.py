"""Training targets of the description model: the JSON description (docs/ARCHITECTURE.md), written from
tags, BPM and key the way the VMB paper built its MMDM data (template-based: no language model).

The target is the JSON object the describe prompt (``configs/prompts/describe.txt``) asks for,
keys in the prompt's order::

    {"genre": "pop", "mood": ["happy", "fun"], "instruments": ["bass", "drums"],
     "tempo_bpm": 128, "tempo_class": "fast", "key": "G", "mode": "major", "energy": 0.72,
     "theme": "sunny beach", "description": "A happy and fun pop track in G major at 128 BPM ..."}

Only vocabulary words become fields (``configs/vocab.yaml``); a tag outside the vocabularies is
left out of the fields and reported in ``unknown``. ``description`` is the clip's own caption
when it has one, else a sentence written from the fields
(:func:`vmb.describe.schema.write_sentence`). :func:`vmb.describe.parse.parse_answer` reads the
target back into the same :class:`~vmb.types.MusicDescription`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vmb.describe.schema import FIELDS, MAX_INSTRUMENTS, MAX_MOODS, write_sentence
from vmb.types import MusicDescription
from vmb.vocab import Vocab, load_vocab

TARGET_KEYS = (*FIELDS, "description")


@dataclass(frozen=True)
class Target:
    """A description target: the fields, its JSON text, and the tags that were left out."""

    description: MusicDescription
    json: str
    unknown: tuple[str, ...] = ()


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [w.strip() for w in value.replace(";", ",").replace("|", ",").split(",") if w.strip()]
    if isinstance(value, Iterable):
        return [str(w).strip() for w in value if str(w).strip()]
    return [str(value).strip()]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def description_from_tags(
    genre: Any = None,
    mood: Any = (),
    instruments: Any = (),
    tempo_bpm: Any = None,
    key: Any = None,
    mode: Any = None,
    energy: Any = None,
    theme: str | None = None,
    caption: str | None = None,
    vocab: Vocab | None = None,
    source: str = "template",
) -> tuple[MusicDescription, tuple[str, ...]]:
    """The description of a clip from its tags and measurements.

    Args:
        genre, mood, instruments: tags (a word, a list, or ``"a, b"``), mapped onto the
            vocabularies; words outside them are returned as ``unknown``.
        tempo_bpm: measured or tagged BPM (sets ``tempo_class`` from the vocabulary bounds).
        key, mode: e.g. ``"F#"`` and ``"minor"``, or the key with its mode (``"D minor"``,
            ``"Bbm"``); an explicit ``mode`` wins.
        energy: 0 (calm) to 1 (intense), clipped.
        theme: a few words naming the scene.
        caption: the clip's own sentence; kept as ``text`` when given.

    Returns:
        ``(description, unknown tags)``.
    """
    from vmb.retrieve.sources import parse_key

    vocab = vocab or load_vocab()
    unknown: list[str] = []

    def canon(kind: str, words: list[str], limit: int) -> tuple[str, ...]:
        out: list[str] = []
        for word in words:
            name = vocab.canonical(kind, word)
            if name is None:
                unknown.append(word)
            elif name not in out:
                out.append(name)
        return tuple(out[:limit])

    genres = canon("genre", _words(genre), 1)
    bpm = _number(tempo_bpm)
    if bpm is not None and bpm <= 0:
        bpm = None
    key_name = key_mode = None
    if key not in (None, ""):
        try:
            key_name, key_mode = parse_key(key, vocab)  # "D minor", "F#", "Bbm"
        except ValueError:
            unknown.append(str(key))
    mode_name = vocab.canonical("mode", str(mode)) if mode not in (None, "") else key_mode
    level = _number(energy)
    description = MusicDescription(
        genre=genres[0] if genres else None,
        mood=canon("mood", _words(mood), MAX_MOODS),
        instruments=canon("instrument", _words(instruments), MAX_INSTRUMENTS),
        tempo_bpm=float(round(bpm)) if bpm is not None else None,
        tempo_class=vocab.tempo_class(bpm) if bpm is not None else None,
        key=key_name,
        mode=mode_name if mode_name in ("major", "minor") else None,
        energy=round(min(1.0, max(0.0, level)), 2) if level is not None else None,
        theme=" ".join(theme.split()) if theme and theme.strip() else None,
        source=source,
    )
    text = " ".join(caption.split()) if caption and caption.strip() else write_sentence(description)
    return description.replace(text=text), tuple(unknown)


def target_json(description: MusicDescription) -> str:
    """The JSON text of a target (keys in the prompt's order, ``null`` for unknown fields)."""
    d = description
    data = {
        "genre": d.genre,
        "mood": list(d.mood),
        "instruments": list(d.instruments),
        "tempo_bpm": round(d.tempo_bpm) if d.tempo_bpm is not None else None,
        "tempo_class": d.tempo_class,
        "key": d.key,
        "mode": d.mode,
        "energy": d.energy,
        "theme": d.theme,
        "description": d.text,
    }
    return json.dumps(data, ensure_ascii=False)


def write_target(vocab: Vocab | None = None, **tags: Any) -> Target:
    """:func:`description_from_tags` and :func:`target_json` in one call."""
    description, unknown = description_from_tags(vocab=vocab, **tags)
    return Target(description, target_json(description), unknown)


def target_from_text(text: str, vocab: Vocab | None = None) -> Target:
    """A target from a description the data came with: a JSON object (normalised onto the
    vocabularies) or a plain sentence (kept as ``description``, fields read from its words)."""
    from vmb.describe.parse import find_json_object, parse_answer
    from vmb.describe.text import parse_text

    vocab = vocab or load_vocab()
    if find_json_object(text) is not None:
        description = parse_answer(text, vocab, source="given").description
    else:
        words = parse_text(text, vocab)
        description = words.replace(text=" ".join(text.split()), source="given")
    return Target(description, target_json(description))


__all__ = [
    "TARGET_KEYS",
    "Target",
    "description_from_tags",
    "target_from_text",
    "target_json",
    "write_target",
]
