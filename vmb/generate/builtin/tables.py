"""The composer's tables (``configs/composer.yaml``) loaded, validated and made typed, plus the
music theory they are written in: scales, chord qualities and roman-numeral chords.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vmb.config import configs_dir, parse_yaml
from vmb.errors import ConfigError

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}

# Chord qualities as semitones above the root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "add9": (0, 4, 7, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
    "9": (0, 4, 7, 10, 14),
    "5": (0, 7),
}

# How a style colours the table chords (see :func:`colour_chord`).
EXTENSIONS = ("triads", "sevenths", "ninths")
COMP_VOICINGS = ("close", "power", "open")

STEPS_PER_BAR = 16
BEATS_PER_BAR = 4
ROLES = ("comp", "bass", "pad", "lead", "arp", "drums")

_NUMERALS = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7}
_ROMAN = re.compile(r"^(b|#)?(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)?(.*)$")
_STEP_CHARS = set("x-.")
_DRUM_CHARS = set("xXo.")


@dataclass(frozen=True)
class ChordSpec:
    """A chord as pitch classes: ``root`` 0-11 (C = 0), ``quality`` a key of :data:`QUALITIES`."""

    root: int
    quality: str
    symbol: str = ""

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def is_minor(self) -> bool:
        return QUALITIES[self.quality][1] == 3

    @property
    def name(self) -> str:
        """Lead-sheet name, e.g. ``"Am"``, ``"G7"``, ``"Fmaj7"``."""
        suffix = {"maj": "", "min": "m"}.get(self.quality, self.quality)
        return PITCH_CLASSES[self.root] + suffix

    def transpose(self, semitones: int) -> ChordSpec:
        return ChordSpec((self.root + semitones) % 12, self.quality, self.symbol)


def parse_roman(symbol: str, tonic: int, mode: str) -> ChordSpec:
    """A roman-numeral chord in a key → :class:`ChordSpec`.

    Degrees count on the mode's scale (``"III"`` in A minor is C major); a leading ``b``/``#``
    moves the root a semitone. A bare suffix (``"m7b5"``) means the chord on degree ii.

    Raises:
        ValueError: the symbol is not a chord this notation knows.
    """
    m = _ROMAN.match(symbol.strip())
    if not m or not symbol.strip():
        raise ValueError(f"{symbol!r} is not a roman-numeral chord")
    accidental, numeral, suffix = m.groups()
    if numeral is None:
        if suffix not in ("m7b5", "dim", "o7"):
            raise ValueError(f"{symbol!r} is not a roman-numeral chord")
        numeral = "ii"
    degree = _NUMERALS[numeral.upper()]
    upper = numeral.isupper()
    root = SCALES[mode][degree - 1] + {"b": -1, "#": 1, None: 0}[accidental]
    quality = _quality(suffix, upper)
    if quality is None:
        raise ValueError(f"{symbol!r}: unknown chord suffix {suffix!r}")
    return ChordSpec((tonic + root) % 12, quality, symbol)


def _quality(suffix: str, upper: bool) -> str | None:
    table = {
        "": "maj" if upper else "min",
        "7": "7" if upper else "m7",
        "maj7": "maj7" if upper else None,
        "dim": "dim",
        "o": "dim",
        "o7": "dim7",
        "m7b5": "m7b5",
        "ø7": "m7b5",
        "sus2": "sus2",
        "sus4": "sus4",
        "6": "6" if upper else "m6",
        "add9": "add9" if upper else None,
        "maj9": "maj9" if upper else None,
        "9": "9" if upper else "m9",
        "5": "5",
        "+": "aug",
    }
    return table.get(suffix)


def parse_bar(bar: str, tonic: int, mode: str) -> list[ChordSpec]:
    """One bar of a progression (``"ii7 V7"``) → its chords, equally long."""
    return [parse_roman(s, tonic, mode) for s in str(bar).split()]


@dataclass(frozen=True)
class Progression:
    name: str
    bars: tuple[str, ...]
    moods: tuple[str, ...] = ()

    def chords(self, tonic: int, mode: str) -> list[list[ChordSpec]]:
        """The progression in a key: one list of chords per bar."""
        return [parse_bar(b, tonic, mode) for b in self.bars]


@dataclass(frozen=True)
class Style:
    """How a genre comps, plays bass and swings (see the ``styles`` table)."""

    comp: tuple[str, ...]
    bass: tuple[tuple[int, int, str], ...] | str
    swing: float = 0.5
    lead_density: float = 1.0
    extensions: str = "triads"  # triads, sevenths (7ths on every chord) or ninths
    comp_voicing: str = "close"  # close, power (root-fifth-octave) or open (spread, no third doubled)
    pedal: bool = False  # the bass holds the tonic under intros and breakdowns


@dataclass(frozen=True)
class DrumKit:
    """A genre's drums: patterns for rising energy, how its fills go, and orchestral extras
    (timpani on a melodic channel, cymbal swells into sections)."""

    from_energy: float
    levels: tuple[dict[str, str], ...]
    fill: str = "snare"  # snare, toms
    timpani: bool = False
    swells: bool = False
    volume: int = 100


@dataclass(frozen=True)
class InstrumentSpec:
    program: int
    roles: tuple[str, ...]
    variants: dict[str, int] = field(default_factory=dict)

    def program_for(self, genre: str | None) -> int:
        return self.variants.get(genre or "", self.program)


@dataclass(frozen=True)
class ComposerTables:
    """Everything of ``configs/composer.yaml``, validated."""

    path: str
    mood_defaults: dict[str, dict[str, Any]]
    genre_defaults: dict[str, dict[str, Any]]
    mood_genres: dict[str, str]
    fallback: dict[str, Any]
    tempo_classes: dict[str, dict[str, Any]]
    progressions: dict[str, dict[str, tuple[Progression, ...]]]
    cadences: dict[str, tuple[str, ...]]
    instruments: dict[str, InstrumentSpec]
    role_defaults: dict[str, str]
    styles: dict[str, Style]
    drums: dict[str, DrumKit]
    drum_notes: dict[str, int]
    mood_axes: dict[str, tuple[float, float]] = field(default_factory=dict)

    def style(self, genre: str) -> Style:
        return self.styles.get(genre) or self.styles[self.fallback["genre"]]

    def drum_kit(self, genre: str) -> DrumKit:
        return self.drums.get(genre) or self.drums[self.fallback["genre"]]

    def candidates(self, mode: str, genre: str) -> tuple[Progression, ...]:
        """Progressions for a mode and genre: the genre's own first, then the shared ones."""
        table = self.progressions[mode]
        return tuple(table.get(genre, ())) + tuple(table.get("any", ()))


def load_tables(path: str | Path | None = None) -> ComposerTables:
    """The composer tables (cached); ``configs/composer.yaml`` unless ``path`` is given.

    Raises:
        ConfigError: the file is missing, not YAML, or an entry is malformed (the message names
            the entry).
    """
    return _load(Path(path) if path else configs_dir() / "composer.yaml")


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> ComposerTables:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), str(path))  # libyaml, counted aliases
    except FileNotFoundError:
        raise ConfigError(f"{path}: composer tables not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of tables")

    def need(key: str) -> Any:
        if key not in data:
            raise ConfigError(f"{path}: missing table {key!r}")
        return data[key]

    def bad(where: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: {where}: {why}")

    progressions: dict[str, dict[str, tuple[Progression, ...]]] = {}
    for mode, by_genre in need("progressions").items():
        if mode not in SCALES:
            raise bad(f"progressions.{mode}", "mode must be major or minor")
        progressions[mode] = {}
        for genre, items in by_genre.items():
            progs = []
            for i, item in enumerate(items):
                where = f"progressions.{mode}.{genre}[{i}]"
                prog = Progression(
                    name=str(item.get("name", f"{genre} {i}")),
                    bars=tuple(str(b) for b in item.get("bars", ())),
                    moods=tuple(item.get("moods", ())),
                )
                if not prog.bars:
                    raise bad(where, "no bars")
                try:
                    prog.chords(0, mode)
                except ValueError as exc:
                    raise bad(where, str(exc)) from None
                progs.append(prog)
            progressions[mode][str(genre)] = tuple(progs)
    for mode in SCALES:
        if not progressions.get(mode, {}).get("any"):
            raise bad(f"progressions.{mode}.any", "needs at least one progression")

    cadences = {}
    for mode, items in need("cadences").items():
        for bar in items:
            try:
                parse_bar(bar, 0, mode)
            except (ValueError, KeyError) as exc:
                raise bad(f"cadences.{mode}", str(exc)) from None
        cadences[mode] = tuple(str(b) for b in items)

    instruments = {}
    for name, item in need("instruments").items():
        roles = tuple(item.get("roles", ()))
        if not roles or any(r not in ROLES for r in roles):
            raise bad(f"instruments.{name}", f"roles must be among {', '.join(ROLES)}")
        program = int(item.get("program", 0))
        variants = {str(k): int(v) for k, v in (item.get("variants") or {}).items()}
        if not all(0 <= p <= 127 for p in (program, *variants.values())):
            raise bad(f"instruments.{name}", "GM programs are 0-127")
        instruments[str(name)] = InstrumentSpec(program, roles, variants)

    styles = {}
    for genre, item in need("styles").items():
        comp = tuple(str(c) for c in item["comp"])
        for c in comp:
            if c != "arp" and (len(c) != STEPS_PER_BAR or set(c) - _STEP_CHARS):
                raise bad(f"styles.{genre}.comp", f"{c!r} is not 16 steps of x - .")
        bass = item["bass"]
        if bass != "walking":
            bass = tuple((int(s), int(n), str(d)) for s, n, d in bass)
            for s, n, d in bass:
                if not (0 <= s < STEPS_PER_BAR and n > 0) or d not in ("R", "3", "5", "6", "8", "A"):
                    raise bad(f"styles.{genre}.bass", f"bad note [{s}, {n}, {d}]")
        extensions = str(item.get("extensions", "triads"))
        voicing = str(item.get("comp_voicing", "close"))
        if extensions not in EXTENSIONS:
            raise bad(f"styles.{genre}.extensions", f"{extensions!r} is not one of {', '.join(EXTENSIONS)}")
        if voicing not in COMP_VOICINGS:
            raise bad(f"styles.{genre}.comp_voicing", f"{voicing!r} is not one of {', '.join(COMP_VOICINGS)}")
        styles[str(genre)] = Style(comp, bass, float(item.get("swing", 0.5)), float(item.get("lead_density", 1.0)),
                                   extensions, voicing, bool(item.get("pedal", False)))

    drum_notes = {str(k): int(v) for k, v in need("drum_notes").items()}
    drums = {}
    for genre, item in need("drums").items():
        levels = tuple(dict(level) for level in item["levels"])
        for level in levels:
            for part, steps in level.items():
                if part not in drum_notes:
                    raise bad(f"drums.{genre}", f"unknown drum part {part!r}")
                if len(steps) != STEPS_PER_BAR or set(steps) - _DRUM_CHARS:
                    raise bad(f"drums.{genre}.{part}", f"{steps!r} is not 16 steps of x X o .")
        fill = str(item.get("fill", "snare"))
        if fill not in ("snare", "toms"):
            raise bad(f"drums.{genre}.fill", f"{fill!r} is not snare or toms")
        drums[str(genre)] = DrumKit(float(item.get("from_energy", 0.15)), levels, fill,
                                    bool(item.get("timpani", False)), bool(item.get("swells", False)),
                                    int(item.get("volume", 100)))

    fallback = dict(need("fallback"))
    if fallback.get("genre") not in styles or fallback.get("genre") not in drums:
        raise bad("fallback.genre", "needs a style and a drum kit")
    return ComposerTables(
        path=str(path),
        mood_defaults={str(k): dict(v) for k, v in need("mood_defaults").items()},
        genre_defaults={str(k): dict(v) for k, v in need("genre_defaults").items()},
        mood_genres={str(k): str(v) for k, v in need("mood_genres").items()},
        fallback=fallback,
        tempo_classes={str(k): dict(v) for k, v in need("tempo_classes").items()},
        progressions=progressions,
        cadences=cadences,
        instruments=instruments,
        role_defaults={str(k): str(v) for k, v in need("role_defaults").items()},
        styles=styles,
        drums=drums,
        drum_notes=drum_notes,
        mood_axes={str(k): (float(v[0]), float(v[1])) for k, v in (data.get("mood_axes") or {}).items()},
    )


def colour_chord(chord: ChordSpec, extensions: str, tonic: int) -> ChordSpec:
    """A plain triad of a progression in a style's colour: ``sevenths`` makes major chords
    maj7 (dominant 7 on the fifth and flat-seventh degrees), minor chords m7; ``ninths`` the
    same with the ninth added. Other qualities (already coloured, diminished, suspended) stay."""
    if extensions == "triads" or chord.quality not in ("maj", "min"):
        return chord
    degree = (chord.root - tonic) % 12
    dominant = chord.quality == "maj" and degree in (7, 10, 2)
    if extensions == "sevenths":
        quality = "7" if dominant else "maj7" if chord.quality == "maj" else "m7"
    else:
        quality = "9" if dominant else "maj9" if chord.quality == "maj" else "m9"
    return ChordSpec(chord.root, quality, chord.symbol)


def diatonic_chord(root: int, tonic: int, mode: str) -> ChordSpec:
    """The triad the mode's scale builds on ``root`` (a chromatic root gets a major triad)."""
    scale = [(tonic + s) % 12 for s in SCALES[mode]]
    if root % 12 not in scale:
        return ChordSpec(root % 12, "maj")
    i = scale.index(root % 12)
    third = (scale[(i + 2) % 7] - root) % 12
    fifth = (scale[(i + 4) % 7] - root) % 12
    quality = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}.get((third, fifth), "maj")
    return ChordSpec(root % 12, quality)


def pitch_class(key: str | None) -> int | None:
    """``"F#"`` → 6; ``None`` stays ``None``. Flats and aliases via :func:`vmb.vocab.normalize_key`."""
    if key is None:
        return None
    if key in PITCH_CLASSES:
        return PITCH_CLASSES.index(key)
    from vmb.vocab import normalize_key

    name = normalize_key(key)
    if name is None:
        raise ValueError(f"{key!r} is not a key name")
    return PITCH_CLASSES.index(name)
