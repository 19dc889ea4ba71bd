"""Read a music description out of whatever a vision-language model answered.

Models asked for JSON answer with JSON, JSON inside prose, JSON in a code fence, JSON with
single quotes or trailing commas, keys in other words ("bpm", "instrumentation", "emotion"),
values as strings or lists, tempo as a number or a word, energy on 0-1, 0-10 or as a word.
:func:`parse_answer` takes all of these:

- the first JSON object found (fenced blocks first, then any ``{...}`` in the prose) that has a
  known key; a lightly repaired copy is tried when strict JSON fails;
- values are mapped onto the vocabularies (synonyms, any case); words outside them are never
  invented into fields, they stay in ``text``;
- ``text`` is the model's own sentence (``description``) when it wrote one, else a sentence
  written from the fields, with the out-of-vocabulary words after it;
- no usable JSON at all: the whole answer becomes ``text``, every field stays empty, and a
  note says so (the caller logs it as a warning).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from vmb.describe.schema import MAX_INSTRUMENTS, MAX_MOODS, write_sentence
from vmb.describe.text import BPM_RANGE, find_bpm, find_key
from vmb.types import MusicDescription
from vmb.vocab import Vocab, load_vocab

# Accepted spellings of each field's key (lower case, spaces/dashes as underscores).
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "genre": ("genre", "genres", "style", "music_genre"),
    "mood": ("mood", "moods", "emotion", "emotions", "feeling", "feelings", "vibe", "atmosphere"),
    "instruments": ("instruments", "instrument", "instrumentation", "instruments_used"),
    "tempo_bpm": ("tempo_bpm", "bpm", "beats_per_minute"),
    "tempo": ("tempo", "speed", "pace"),
    "tempo_class": ("tempo_class", "tempo_category", "pace_class"),
    "key": ("key", "musical_key", "tonality", "key_signature"),
    "mode": ("mode", "scale", "key_mode"),
    "energy": ("energy", "energy_level", "intensity"),
    "theme": ("theme", "scene", "setting", "themes"),
    "text": ("description", "text", "caption", "sentence", "summary", "music_description"),
}
_KEY_OF_ALIAS = {alias: name for name, aliases in KEY_ALIASES.items() for alias in aliases}
_ENERGY_WORDS = {
    "very low": 0.1, "low": 0.2, "calm": 0.2, "medium": 0.5, "moderate": 0.5, "mid": 0.5,
    "high": 0.8, "very high": 0.95, "intense": 0.9,
}  # fmt: skip

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    """What :func:`parse_answer` made of an answer.

    Attributes:
        description: the fields found and the sentence.
        found_json: whether a JSON object with a known key was found.
        unknown: words the model used that are not in the vocabularies (kept in ``text``).
        notes: remarks for the user (fallbacks taken, values dropped).
    """

    description: MusicDescription
    found_json: bool
    unknown: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def parse_answer(answer: str, vocab: Vocab | None = None, source: str = "vlm") -> ParsedAnswer:
    """Parse a model's answer into a :class:`~vmb.types.MusicDescription`.

    Args:
        answer: the decoded text the model generated (prompt not included).
        vocab: the vocabularies (``configs/vocab.yaml`` by default).
        source: written into ``description.source``.
    """
    vocab = vocab or load_vocab()
    answer = str(answer or "").strip()
    data = find_json_object(answer)
    if data is None:
        text = clean_text(_FENCE.sub(lambda m: m.group(1), answer))
        note = (
            "the model's answer held no usable JSON description; its text is kept as the "
            "description and the fields are left empty"
            if text
            else "the model returned an empty answer; the description is empty"
        )
        return ParsedAnswer(MusicDescription(text=text, source=source), False, (), (note,))
    return _from_mapping(data, vocab, source)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def clean_text(text: str) -> str:
    """``text`` on one line, without control characters or undecodable bytes."""
    return " ".join(_CONTROL.sub("", str(text)).split())


def find_json_object(answer: str) -> dict[str, Any] | None:
    """The first JSON object in ``answer`` (fenced blocks first) that has a known key."""
    candidates = [m.group(1) for m in _FENCE.finditer(answer)]
    candidates += _brace_spans(answer)
    for candidate in candidates:
        for obj in _loads(candidate):
            found = _known(obj)
            if found is not None:
                return found
    return None


def _brace_spans(text: str) -> list[str]:
    """Every balanced ``{...}`` span that starts at a top-level ``{``, string-aware. An answer
    cut off by ``max_new_tokens`` gives its tail closed (open string, brackets and braces)."""
    spans: list[str] = []
    start = text.find("{")
    while start != -1:
        stack: list[str] = []
        quote, escape, end = "", False, -1
        for i in range(start, len(text)):
            ch = text[i]
            if quote:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == quote:
                    quote = ""
            elif ch == '"':
                quote = ch
            elif ch in "{[":
                stack.append("}" if ch == "{" else "]")
            elif ch in "}]" and stack:
                stack.pop()
                if not stack:
                    end = i
                    break
        if end == -1:
            tail = text[start:].rstrip().rstrip(",") + quote
            spans.append(tail + "".join(reversed(stack)))
            break
        spans.append(text[start : end + 1])
        start = text.find("{", end + 1)
    return spans


def _loads(candidate: str) -> list[Any]:
    """Parsed values of ``candidate``: strict JSON, then a repaired copy, then Python literal."""
    candidate = candidate.strip()
    out: list[Any] = []
    try:
        out.append(json.loads(candidate))
        return out
    except ValueError:
        pass
    repaired = candidate.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    repaired = re.sub(r"(?m)//[^\n\"]*$", "", repaired)
    repaired = re.sub(r",\s*([}\]])", r"\1", repaired)
    try:
        out.append(json.loads(repaired))
        return out
    except ValueError:
        pass
    pythonic = re.sub(r"\btrue\b", "True", repaired)
    pythonic = re.sub(r"\bfalse\b", "False", pythonic)
    pythonic = re.sub(r"\bnull\b", "None", pythonic)
    try:
        out.append(ast.literal_eval(pythonic))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    return out


def _norm_key(key: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(key).strip().lower())


def _known(obj: Any) -> dict[str, Any] | None:
    """``obj`` if it is a mapping with a known key; looks one level into wrappers
    ({"music": {...}}) and lists of objects."""
    if isinstance(obj, list):
        for item in obj:
            found = _known(item)
            if found is not None:
                return found
        return None
    if not isinstance(obj, dict):
        return None
    if any(_norm_key(k) in _KEY_OF_ALIAS for k in obj):
        return obj
    for value in obj.values():
        if isinstance(value, dict) and any(_norm_key(k) in _KEY_OF_ALIAS for k in value):
            return value
    return None


def _words(value: Any) -> list[str]:
    """A JSON value as a list of strings ("a, b" and ["a", "b"] alike)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [w for v in value for w in _words(v)]
    if isinstance(value, dict):
        return [w for v in value.values() for w in _words(v)]
    return [w.strip() for w in re.split(r"[,;]", str(value)) if w.strip()]


def _map_words(kind: str, value: Any, vocab: Vocab, unknown: list[str]) -> list[str]:
    """Vocabulary names for the words of ``value``; the rest go to ``unknown``
    ("shoegaze rock" gives ``rock`` and leaves ``shoegaze`` unknown)."""
    names: list[str] = []
    for word in _words(value):
        canonical = vocab.canonical(kind, word)
        found = [canonical] if canonical else vocab.find_all(kind, word)
        rest = word if not found else _leftover(word, vocab.table(kind), found)
        if rest:
            unknown.append(rest)
        names += [n for n in found if n not in names]
    return names


_FILLER = {"and", "or", "with", "a", "an", "the", "some", "of", "music", "track", "song", "style", "feel",
           "vibe", "vibes", "sound", "tones", "very", "slightly", "mostly", "light", "soft", "heavy"}  # fmt: skip


def _leftover(word: str, table: dict[str, tuple[str, ...]], found: list[str]) -> str:
    """What remains of ``word`` once the synonyms of ``found`` and filler words are removed."""
    rest = " " + word.lower() + " "
    for syn in sorted({s for n in found for s in (n, *table[n])}, key=len, reverse=True):
        rest = re.sub(r"(?<![\w-])" + re.escape(syn.lower()) + r"(?![\w-])", " ", rest)
    kept = [w for w in re.findall(r"[\w&'-]+", rest) if w not in _FILLER]
    return " ".join(kept)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = re.search(r"-?\d+(?:\.\d+)?", str(value))
    return float(match.group()) if match else None


def _energy(value: Any, notes: list[str]) -> float | None:
    if value is None:
        return None
    number = _number(value)
    if number is None:
        word = " ".join(str(value).lower().replace("-", " ").split())
        if word in _ENERGY_WORDS:
            return _ENERGY_WORDS[word]
        notes.append(f"energy {value!r} is not a number or low/medium/high; left empty")
        return None
    if "%" in str(value) or 10 < number <= 100:
        number /= 100
    elif 1 < number <= 10:
        number /= 10
    if not 0 <= number <= 1:
        notes.append(f"energy {value!r} is outside 0-1; left empty")
        return None
    return round(number, 3)


def _from_mapping(data: dict[str, Any], vocab: Vocab, source: str) -> ParsedAnswer:
    fields: dict[str, Any] = {}
    for key, value in data.items():
        name = _KEY_OF_ALIAS.get(_norm_key(key))
        if name is not None and name not in fields:
            fields[name] = value
    notes: list[str] = []
    unknown: list[str] = []

    genres = _map_words("genre", fields.get("genre"), vocab, unknown)
    moods = _map_words("mood", fields.get("mood"), vocab, unknown)
    instruments = _map_words("instrument", fields.get("instruments"), vocab, unknown)

    bpm = None
    for name in ("tempo_bpm", "tempo"):
        value = fields.get(name)
        if value is None:
            continue
        number = _number(value) if name == "tempo_bpm" else find_bpm(f"{value} bpm")
        if number is None and isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        if number is not None:
            if BPM_RANGE[0] <= number <= BPM_RANGE[1]:
                bpm = float(number)
                break
            notes.append(
                f"tempo {value!r} BPM is outside {BPM_RANGE[0]:.0f}-{BPM_RANGE[1]:.0f}; ignored"
            )
    tempo_class = None
    for name in ("tempo_class", "tempo"):
        value = fields.get(name)
        if isinstance(value, str):
            classes = vocab.find_all("tempo", value)
            if classes:
                tempo_class = classes[0]
                break
    if bpm is not None:
        derived = vocab.tempo_class(bpm)
        if tempo_class is not None and tempo_class != derived:
            notes.append(f"tempo class {tempo_class!r} disagrees with {bpm:.0f} BPM; the BPM wins")
        tempo_class = derived

    key, mode = None, None
    if fields.get("key") is not None:
        key_text = str(fields["key"]).strip()
        key = vocab.canonical("key", key_text)
        if key is None:
            key, mode = find_key(key_text, vocab)
            if key is None and not mode:
                unknown.append(key_text)
    if fields.get("mode") is not None:
        mode = vocab.canonical("mode", str(fields["mode"])) or mode

    theme_value = fields.get("theme")
    theme = ", ".join(_words(theme_value)) if theme_value not in (None, "", []) else None
    own_text = fields.get("text")
    description = MusicDescription(
        genre=genres[0] if genres else None,
        mood=tuple(moods[:MAX_MOODS]),
        instruments=tuple(instruments[:MAX_INSTRUMENTS]),
        tempo_bpm=bpm,
        tempo_class=tempo_class,
        key=key,
        mode=mode,
        energy=_energy(fields.get("energy"), notes),
        theme=theme,
        source=source,
    )
    unknown = list(dict.fromkeys(unknown))
    if isinstance(own_text, str) and own_text.strip():
        text = clean_text(own_text)
    else:
        text = write_sentence(description)
        if unknown:
            text = f"{text} Also: {', '.join(unknown)}.".strip()
    return ParsedAnswer(description.replace(text=text), True, tuple(unknown), tuple(notes))


__all__ = ["KEY_ALIASES", "ParsedAnswer", "clean_text", "find_json_object", "parse_answer"]
