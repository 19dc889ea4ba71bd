"""The controlled vocabularies of ``configs/vocab.yaml`` and the mapping of free words onto them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from vmb.config import configs_dir, read_yaml_file
from vmb.errors import UsageError
from vmb.types import Wants

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
WANT_KEYS = ("genre", "tempo", "mood", "instrument", "key", "mode")


@dataclass(frozen=True)
class Vocab:
    """Canonical names and their synonyms for each vocabulary."""

    genres: dict[str, tuple[str, ...]]
    moods: dict[str, tuple[str, ...]]
    instruments: dict[str, tuple[str, ...]]
    tempo_synonyms: dict[str, tuple[str, ...]]
    modes: dict[str, tuple[str, ...]]
    key_aliases: dict[str, str]
    slow_max: float = 90.0
    medium_max: float = 120.0

    def table(self, kind: str) -> dict[str, tuple[str, ...]]:
        tables = {
            "genre": self.genres,
            "mood": self.moods,
            "instrument": self.instruments,
            "tempo": self.tempo_synonyms,
            "mode": self.modes,
        }
        if kind not in tables:
            raise KeyError(kind)
        return tables[kind]

    def canonical(self, kind: str, word: str) -> str | None:
        """The canonical name of ``word`` in vocabulary ``kind``, or ``None`` if it has none."""
        word = _norm(word)
        if not word:
            return None
        if kind == "key":
            return normalize_key(word, self)
        for name, synonyms in self.table(kind).items():
            if word == _norm(name) or word in (_norm(s) for s in synonyms):
                return name
        return None

    def find_all(self, kind: str, text: str) -> list[str]:
        """Canonical names whose name or synonym occurs in ``text`` as whole words, in order of
        first appearance; a longer synonym wins over a shorter one inside it."""
        return [name for name, _ in _matches(self.table(kind), text)]

    def tempo_class(self, bpm: float) -> str:
        if bpm < self.slow_max:
            return "slow"
        if bpm < self.medium_max:
            return "medium"
        return "fast"


def _norm(word: str) -> str:
    return re.sub(r"\s+", " ", str(word).strip().lower().replace("_", " "))


def _matches(table: dict[str, tuple[str, ...]], text: str) -> list[tuple[str, int]]:
    low = " " + _norm(text) + " "
    found: dict[str, int] = {}
    taken: list[tuple[int, int]] = []
    candidates = sorted(
        ((syn, name) for name, syns in table.items() for syn in {name, *syns}),
        key=lambda item: -len(item[0]),
    )
    for syn, name in candidates:
        pattern = r"(?<![\w-])" + re.escape(_norm(syn)) + r"(?![\w-])"
        for m in re.finditer(pattern, low):
            span = (m.start(), m.end())
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            taken.append(span)
            found[name] = min(found.get(name, m.start()), m.start())
    return sorted(found.items(), key=lambda item: item[1])


def normalize_key(word: str, vocab: Vocab | None = None) -> str | None:
    """``"d"``, ``"Bb"``, ``"F sharp"`` → a name of :data:`PITCH_CLASSES`, else ``None``."""
    vocab = vocab or load_vocab()
    w = str(word).strip().replace("♯", "#").replace("♭", "b")
    w = re.sub(r"\s*-?\s*sharp$", "#", w, flags=re.I)
    w = re.sub(r"\s*-?\s*flat$", "b", w, flags=re.I)
    if not w:
        return None
    w = w[0].upper() + w[1:].lower()
    if w in PITCH_CLASSES:
        return w
    return vocab.key_aliases.get(w)



def key_phrase(key: str | None, mode: str | None) -> str | None:
    """How a sentence says a key and mode: ``in D minor``, ``in the key of D`` (no mode) or
    ``in a minor key`` (no key); ``None`` when neither is set."""
    if key and mode:
        return f"in {key} {mode}"
    if key:
        return f"in the key of {key}"
    if mode:
        return f"in a {mode} key"
    return None

@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Vocab:
    data = read_yaml_file(path, "vocabulary file")

    def table(section: dict) -> dict[str, tuple[str, ...]]:
        return {str(k): tuple(str(s) for s in (v or ())) for k, v in section.items()}

    tempo = data["tempo_classes"]
    return Vocab(
        genres=table(data["genres"]),
        moods=table(data["moods"]),
        instruments=table(data["instruments"]),
        tempo_synonyms=table(tempo["synonyms"]),
        modes=table(data["modes"]),
        key_aliases={str(k): str(v) for k, v in (data.get("key_aliases") or {}).items()},
        slow_max=float(tempo["slow_max"]),
        medium_max=float(tempo["medium_max"]),
    )


def load_vocab(path: str | Path | None = None) -> Vocab:
    """The vocabularies (cached); ``configs/vocab.yaml`` unless ``path`` is given."""
    return _load(Path(path) if path else configs_dir() / "vocab.yaml")


def parse_wants(items: list[str] | tuple[str, ...] | dict[str, str], vocab: Vocab | None = None) -> Wants:
    """``["genre=jazz", "tempo=fast"]`` (or a dict) → :class:`Wants`, values mapped onto the
    vocabularies.

    Raises:
        UsageError: an unknown key, or a value outside the key's vocabulary.
    """
    vocab = vocab or load_vocab()
    pairs = list(items.items()) if isinstance(items, dict) else [_split_want(i) for i in items]
    values: dict[str, str] = {}
    for key, value in pairs:
        key = key.strip().lower()
        if key not in WANT_KEYS:
            raise UsageError(f"--want {key}={value}: unknown key {key!r}; use one of: {', '.join(WANT_KEYS)}")
        canonical = vocab.canonical(key, value)
        if canonical is None:
            if key == "key":
                choices = ", ".join(PITCH_CLASSES)
            else:
                choices = ", ".join(vocab.table(key))
            raise UsageError(f"--want {key}={value}: {value!r} is not a known {key}; use one of: {choices}")
        values[key] = canonical
    return Wants(**values)


def _split_want(item: str) -> tuple[str, str]:
    key, sep, value = str(item).partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"--want {item!r}: expected key=value, e.g. genre=jazz or tempo=fast")
    return key, value.strip()
