"""User cues: the user's own timeline, which overrides or adds sections.

On the command line, ``--cue`` (repeatable)::

    --cue 0-8=calm                  a section 0-8 s, calm
    --cue "8-16=energetic, fast"    words of configs/vocab.yaml: mood, energy level, tempo class,
    --cue 1:20-1:35=jazz,piano      genre, instrument (times in s, m:ss or h:mm:ss)
    --cue 16-24=mood:sad,energy:0.3 key:value pairs (mood, energy, tempo, genre, instrument)
    --cue 12.5                      a marker: a moment to hit (and a section boundary)

and ``--cues FILE``:

- JSON: a list of ``{"start": 0, "end": 8, "mood": "calm", "energy": "low", "tempo": "slow",
  "genre": ..., "instruments": [...]}`` and/or ``{"time": 12.5}`` markers, or a list of
  numbers (markers), or an object with ``"cues"`` and/or ``"markers"`` lists;
- CSV: a header with ``start,end`` and attribute columns (``mood``, ``energy``, ``tempo``,
  ``genre``, ``instrument``/``instruments``, ``words``), or a single ``time`` column of
  markers (a header-less column of numbers works too).

Explicit words win: a cue's attributes replace the pixels' for its span. Errors name the cue
or the file: bad syntax on the command line is a :class:`~vmb.errors.UsageError` (exit 2); an
unknown attribute, overlapping cues, a cue outside the video or a malformed file is a
:class:`CueError` (exit 1).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from vmb.config import configs_dir
from vmb.errors import UsageError, VMBError
from vmb.vocab import Vocab, load_vocab

ENERGY_LEVELS = {"low": 0.2, "moderate": 0.5, "high": 0.85}
ATTRIBUTE_KEYS = ("mood", "energy", "tempo", "genre", "instrument", "instruments", "words")
# A time may end a video a frame late; cues ending this close after the end are clipped to it.
END_TOLERANCE_S = 0.1


class CueError(VMBError):
    """A cue or cue file that cannot be used (exit 1); the message names it."""


@dataclass(frozen=True)
class Cue:
    """One user cue: a section ``start_s``..``end_s`` with attributes, or a marker
    (``end_s is None``) at ``start_s``. ``label`` is how the user wrote it, for messages."""

    start_s: float
    end_s: float | None = None
    mood: tuple[str, ...] = ()
    energy: float | None = None
    tempo_class: str | None = None
    genre: str | None = None
    instruments: tuple[str, ...] = ()
    label: str = ""

    @property
    def is_marker(self) -> bool:
        return self.end_s is None

    def has_attributes(self) -> bool:
        return bool(self.mood or self.energy is not None or self.tempo_class or self.genre
                    or self.instruments)  # fmt: skip

    @property
    def implied_energy(self) -> float | None:
        """The energy this cue sets: its own, else the one its first mood implies
        (``configs/vocab.yaml`` ``mood_energy``: ``8-16=energetic`` is a busy, loud stretch
        whatever the picture measured), else ``None`` (the picture's)."""
        if self.energy is not None:
            return self.energy
        table = mood_energy()
        return next((table[m] for m in self.mood if m in table), None)


def _read_yaml_list(name: str) -> object:
    data = yaml.safe_load((configs_dir() / "vocab.yaml").read_text(encoding="utf-8")) or {}
    return data.get(name)


def mood_energy() -> dict[str, float]:
    """``configs/vocab.yaml`` ``mood_energy``: mood -> the energy it implies."""
    table = _read_yaml_list("mood_energy") or {}
    return {str(k): float(v) for k, v in table.items()}


def energy_words() -> dict[str, tuple[str, ...]]:
    """``configs/vocab.yaml`` ``energy_levels``: level -> synonyms."""
    table = _read_yaml_list("energy_levels") or {}
    return {str(k): tuple(str(s).lower() for s in (v or ())) for k, v in table.items()}


_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*$")


def parse_time(text: str, where: str) -> float:
    """Seconds from ``"8"``, ``"8.5"``, ``"1:20"`` or ``"1:02:03.5"``.

    Raises:
        UsageError: not a time (``where`` names the cue).
    """
    match = _TIME.match(str(text))
    if not match:
        raise UsageError(f"{where}: {text.strip()!r} is not a time (seconds, m:ss or h:mm:ss)")
    a, b, c = match.groups()
    parts = [float(p) for p in (a, b) if p is not None] + [float(c)]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _attributes(items: Iterable[tuple[str | None, object]], where: str, vocab: Vocab) -> dict:
    """Cue attributes from ``(key or None, value)`` pairs; raises CueError on unknown ones."""
    out: dict = {"mood": [], "instruments": []}
    levels = energy_words()

    def energy_of(value: object) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not 0 <= float(value) <= 1:
                raise CueError(f"{where}: energy {value} is not between 0 and 1")
            return float(value)
        word = str(value).strip().lower()
        try:
            number = float(word)
        except ValueError:
            number = None
        if number is not None:
            return energy_of(number)
        for level, synonyms in levels.items():
            if word == level or word in synonyms or word == f"{level} energy":
                return ENERGY_LEVELS[level]
        return None

    def bare(word: str) -> bool:
        for kind, slot in (("mood", "mood"), ("genre", "genre"), ("instrument", "instruments"),
                           ("tempo", "tempo_class")):  # fmt: skip
            name = vocab.canonical(kind, word)
            if name is not None:
                if slot in ("mood", "instruments"):
                    out[slot].append(name)
                else:
                    out[slot] = name
                return True
        level = energy_of(word)
        if level is not None:
            out["energy"] = level
            return True
        return False

    for key, value in items:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key is None:
            word = " ".join(str(value).split())
            if not bare(word):
                raise CueError(
                    f"{where}: unknown attribute {word!r} (use a mood, energy, tempo, genre "
                    "or instrument word of configs/vocab.yaml)"
                )
            continue
        key = key.strip().lower()
        values = value if isinstance(value, (list, tuple)) else [value]
        if key == "energy":
            level = energy_of(value)
            if level is None:
                raise CueError(f"{where}: energy {value!r} is not low, moderate, high or 0..1")
            out["energy"] = level
            continue
        if key == "words":
            for word in re.split(r"[,;]", str(value)):
                if word.strip() and not bare(word.strip()):
                    raise CueError(f"{where}: unknown attribute {word.strip()!r}")
            continue
        if key in ("key", "mode"):
            raise CueError(f"{where}: the key and mode are the whole piece's: give them with "
                           "--text or --want, not in a cue")  # fmt: skip
        kind = {"instruments": "instrument"}.get(key, key)
        if kind not in ("mood", "genre", "instrument", "tempo"):
            raise CueError(f"{where}: unknown attribute {key!r} (use {', '.join(ATTRIBUTE_KEYS)})")
        for item in values:
            for word in re.split(r"[,;]", str(item)):
                word = word.strip()
                if not word:
                    continue
                name = vocab.canonical(kind, word)
                if name is None:
                    raise CueError(f"{where}: {word!r} is not a {kind} of configs/vocab.yaml")
                if kind == "mood":
                    out["mood"].append(name)
                elif kind == "instrument":
                    out["instruments"].append(name)
                elif kind == "tempo":
                    out["tempo_class"] = name
                else:
                    out[kind] = name
    out["mood"] = tuple(dict.fromkeys(out["mood"]))
    out["instruments"] = tuple(dict.fromkeys(out["instruments"]))
    return out


def parse_cue(text: str, vocab: Vocab | None = None) -> Cue:
    """One ``--cue`` value: ``START-END=ATTRS``, ``START-END`` or a marker ``TIME``.

    Raises:
        UsageError: bad syntax (exit 2). CueError: an unknown attribute (exit 1).
    """
    vocab = vocab or load_vocab()
    where = f"--cue {text}"
    span, _, attrs = str(text).partition("=")
    span = span.replace("\u2013", "-").replace("\u2014", "-").strip()
    if not span:
        raise UsageError(f"{where}: expected START-END=WORDS (e.g. 0-8=calm) or a marker time")
    if "-" in span:
        start_text, _, end_text = span.partition("-")
        start, end = parse_time(start_text, where), parse_time(end_text, where)
        if end <= start:
            raise CueError(f"{where}: ends at {end:g} s, not after its start {start:g} s")
    else:
        start, end = parse_time(span, where), None
    pairs: list[tuple[str | None, object]] = []
    for token in re.split(r"[,;]", attrs):
        token = token.strip()
        if not token:
            continue
        key, sep, value = token.partition(":")
        pairs.append(
            (key, value) if sep and key.strip().lower() in ATTRIBUTE_KEYS else (None, token)
        )
    if attrs.strip() and not pairs:
        raise UsageError(f"{where}: no attribute after '='")
    fields = _attributes(pairs, where, vocab)
    cue = Cue(start, end, label=where, **fields)
    if end is None and cue.has_attributes():
        raise UsageError(f"{where}: a marker (one time) takes no attributes; give START-END=WORDS")
    return cue


def _cue_from_record(record: dict, where: str, vocab: Vocab) -> Cue:
    low = {str(k).strip().lower(): v for k, v in record.items()}
    if "time" in low or "marker" in low:
        value = low.get("time", low.get("marker"))
        return Cue(_number(value, where), label=where)
    if "start" not in low or "end" not in low:
        raise CueError(f"{where}: needs start and end (or time for a marker)")
    start, end = _number(low.pop("start"), where), _number(low.pop("end"), where)
    if end <= start:
        raise CueError(f"{where}: ends at {end:g} s, not after its start {start:g} s")
    low.pop("label", None)
    for name in list(low):
        if name not in ATTRIBUTE_KEYS:
            raise CueError(f"{where}: unknown attribute {name!r} (use {', '.join(ATTRIBUTE_KEYS)})")
    return Cue(start, end, label=where, **_attributes(low.items(), where, vocab))


def _number(value: object, where: str) -> float:
    if isinstance(value, bool):
        raise CueError(f"{where}: {value!r} is not a time")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return parse_time(str(value), where)
    except UsageError as exc:
        raise CueError(str(exc)) from None


def load_cue_file(path: str | os.PathLike, vocab: Vocab | None = None) -> list[Cue]:
    """The cues of a JSON or CSV file (see the module docstring).

    Raises:
        CueError: missing, unreadable or malformed file, or a bad cue in it (named by row).
    """
    vocab = vocab or load_vocab()
    path = Path(path)
    if not path.is_file():
        raise CueError(f"{path}: cue file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CueError(f"{path}: cannot read the cue file ({exc.__class__.__name__})") from None
    if not text.strip():
        raise CueError(f"{path}: the cue file is empty")
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        items: list = []
        if isinstance(data, dict):
            unknown = set(data) - {"cues", "markers"}
            if unknown or not data:
                raise CueError(f"{path}: expected a list, or an object with cues and/or markers")
            items = list(data.get("cues") or []) + [{"time": t} for t in data.get("markers") or []]
        elif isinstance(data, list):
            items = data
        else:
            raise CueError(f"{path}: expected a list of cues or marker times")
        cues = []
        for i, item in enumerate(items):
            where = f"{path} cue {i + 1}"
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                cues.append(Cue(float(item), label=where))
            elif isinstance(item, dict):
                cues.append(_cue_from_record(item, where, vocab))
            else:
                raise CueError(f"{where}: expected an object or a marker time, got {item!r}")
        return cues
    return _load_csv(path, text, vocab)


def _load_csv(path: Path, text: str, vocab: Vocab) -> list[Cue]:
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise CueError(f"{path}: not valid CSV ({exc})") from None
    header = [c.strip().lower() for c in rows[0]]
    if all(_is_number(c) for c in header):  # no header: marker times, one or more per row
        try:
            return [Cue(float(c), label=f"{path} row {i + 1}")
                    for i, r in enumerate(rows) for c in r if c.strip()]  # fmt: skip
        except ValueError:
            raise CueError(f"{path}: a header-less CSV must hold only marker times") from None
    known = {"start", "end", "time", "marker", "label", *ATTRIBUTE_KEYS}
    for name in header:
        if name not in known:
            raise CueError(f"{path}: unknown column {name!r} (use start, end, time and "
                           f"{', '.join(ATTRIBUTE_KEYS)})")  # fmt: skip
    if not ({"start", "end"} <= set(header) or {"time"} & set(header) or "marker" in header):
        raise CueError(f"{path}: needs start and end columns, or a time column of markers")
    cues = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise CueError(f"{path} row {i}: {len(row)} cells for {len(header)} columns")
        record = {h: c for h, c in zip(header, row, strict=False) if c.strip()}
        cues.append(_cue_from_record(record, f"{path} row {i}", vocab))
    if not cues:
        raise CueError(f"{path}: no cues in the file")
    return cues


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_cues(
    cues: Sequence[str | Cue] | str | None = None,
    cue_file: str | os.PathLike | None = None,
    vocab: Vocab | None = None,
) -> list[Cue]:
    """``--cue`` strings (or :class:`Cue` objects) and a ``--cues`` file, as one list in time
    order. Overlaps are checked here; the video's length later (:func:`check_cues`)."""
    vocab = vocab or load_vocab()
    if isinstance(cues, str):
        cues = [cues]
    out = [c if isinstance(c, Cue) else parse_cue(c, vocab) for c in cues or ()]
    if cue_file is not None:
        out += load_cue_file(cue_file, vocab)
    out.sort(key=lambda c: (c.start_s, c.end_s if c.end_s is not None else c.start_s))
    spans = [c for c in out if not c.is_marker]
    for a, b in itertools.pairwise(spans):
        if b.start_s < a.end_s - 1e-6:
            raise CueError(f"{b.label} overlaps {a.label} ({b.start_s:g} s < {a.end_s:g} s)")
    return out


def check_cues(cues: Sequence[Cue], duration_s: float | None, what: str = "video") -> list[Cue]:
    """``cues`` with ends a hair past ``duration_s`` clipped to it.

    Raises:
        CueError: a cue that starts at or after the end, or ends past it, naming the cue.
    """
    if duration_s is None:
        return list(cues)
    out = []
    for cue in cues:
        end = cue.end_s if cue.end_s is not None else cue.start_s
        if cue.start_s < 0 or cue.start_s >= duration_s or end > duration_s + END_TOLERANCE_S:
            raise CueError(f"{cue.label}: outside the {what} (0 to {duration_s:.2f} s)")
        if cue.end_s is not None and cue.end_s > duration_s:
            cue = Cue(**{**cue.__dict__, "end_s": duration_s})
        out.append(cue)
    return out


def cues_from_options(
    cue: Sequence[str] | None = None,
    cues_file: str | os.PathLike | None = None,
    video: str | os.PathLike | None = None,
    duration_s: float | None = None,
) -> list[Cue]:
    """The ``--cue`` and ``--cues`` options, read and checked before anything is written:
    syntax, attributes, the file, overlaps, and (when the length is known now: the video's
    or ``duration_s``) that every cue lies inside it."""
    cues = parse_cues(list(cue or ()), cues_file)
    if not cues:
        return cues
    length, what = duration_s, "music"
    if video is not None and duration_s is None:
        from vmb.media import probe

        length, what = probe(video).duration_s, "video"
    return check_cues(cues, length, what) if length else cues


__all__ = ["Cue", "CueError", "check_cues", "cues_from_options", "load_cue_file", "parse_cue", "parse_cues",
           "parse_time"]  # fmt: skip
