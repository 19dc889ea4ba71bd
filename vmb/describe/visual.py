"""The built-in describer: measure the frames, map the numbers through a readable rule table.

No model and no download. For a video it reads short windows spread over it
(:mod:`vmb.describe.sampling`), measures colour, motion and cuts (:mod:`vmb.describe.measure`)
and applies ``configs/visual_rules.yaml``:

1. each measurement onto 0..1 with a linear ramp (``scales``);
2. energy and valence as weighted means of those (``energy``, ``valence``);
3. BPM as a straight line in energy (``tempo``), the class from the vocabulary;
4. major/minor from valence (``mode``), the key from the dominant hue (``key``);
5. mood, genre and instruments from the first matching row of ``styles``;
6. a plain theme ("night", "sunny day", "action") from the first matching row of ``themes``;

then writes the sentence. Deterministic: the same file gives the same description. It is a
heuristic named as what it is (``source="visual"``), not the neural describer.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmb.config import Config, configs_dir, read_yaml_file
from vmb.describe.measure import colour_stats, motion_stats
from vmb.describe.schema import merge, summarise, write_sentence
from vmb.describe.text import parse_text
from vmb.errors import ConfigError, UsageError
from vmb.types import MediaInput, MusicDescription
from vmb.vocab import PITCH_CLASSES, Vocab, load_vocab

logger = logging.getLogger(__name__)

MEASUREMENTS = ("brightness", "saturation", "warmth", "colourfulness", "motion", "cut_rate")
DERIVED = ("energy", "valence")
RULES_FILE = "visual_rules.yaml"


@dataclass(frozen=True)
class Rule:
    """One row of a rule list: ``when`` maps a quantity to a ``[lo, hi)`` range."""

    when: dict[str, tuple[float, float]]
    then: dict[str, Any]

    def holds(self, values: dict[str, float | None]) -> bool:
        for name, (lo, hi) in self.when.items():
            value = values.get(name)
            if value is None or not (lo <= value < hi):
                return False
        return True


@dataclass(frozen=True)
class VisualRules:
    """``configs/visual_rules.yaml``, checked (see the file for what each part means)."""

    sampling: dict[str, float]
    scales: dict[str, tuple[float, float]]
    energy: dict[str, float]
    valence: dict[str, float]
    min_bpm: float
    max_bpm: float
    major_from: float
    key_by_hue: tuple[str, ...]
    key_grey: dict[str, str]
    styles: tuple[Rule, ...]
    themes: tuple[Rule, ...]
    path: str = ""

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, vocab: Vocab | None = None) -> VisualRules:
        """Read and check a rule table (``configs/visual_rules.yaml`` by default).

        Raises:
            ConfigError: missing file, bad YAML, unknown measurement or vocabulary word, bad range.
        """
        path = Path(path) if path else configs_dir() / RULES_FILE
        data = read_yaml_file(path, "rule table")
        try:
            return cls._build(data, str(path), vocab or load_vocab())
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def _build(cls, data: dict[str, Any], where: str, vocab: Vocab) -> VisualRules:
        def known(names, allowed, section):
            for name in names:
                if name not in allowed:
                    raise ValueError(
                        f"{section}: unknown measurement {name!r}; use one of {', '.join(allowed)}"
                    )

        def ranges(section, mapping, allowed):
            known(mapping, allowed, section)
            out = {}
            for name, pair in mapping.items():
                lo, hi = (float(v) for v in pair)
                if not lo < hi:
                    raise ValueError(f"{section}.{name}: range [{lo}, {hi}] is empty")
                out[name] = (lo, hi)
            return out

        def rules(section, then_check):
            rows = []
            for i, row in enumerate(data[section]):
                when = ranges(f"{section}[{i}].when", row.get("when") or {}, MEASUREMENTS + DERIVED)
                then = {k: v for k, v in row.items() if k != "when"}
                then_check(f"{section}[{i}]", then)
                rows.append(Rule(when, then))
            return tuple(rows)

        def check_style(section, then):
            if vocab.canonical("genre", then.get("genre", "")) != then.get("genre"):
                raise ValueError(
                    f"{section}.genre: {then.get('genre')!r} is not in configs/vocab.yaml"
                )
            for kind, key in (("mood", "mood"), ("instrument", "instruments")):
                for word in then.get(key) or []:
                    if vocab.canonical(kind, word) != word:
                        raise ValueError(
                            f"{section}.{key}: {word!r} is not a {kind} of configs/vocab.yaml"
                        )

        def check_theme(section, then):
            if not isinstance(then.get("theme"), str) or not then["theme"].strip():
                raise ValueError(f"{section}: needs a theme")

        scales = ranges("scales", data["scales"], MEASUREMENTS)
        energy = {k: float(v) for k, v in data["energy"].items()}
        valence = {k: float(v) for k, v in data["valence"].items()}
        known(energy, MEASUREMENTS, "energy")
        known(valence, MEASUREMENTS, "valence")
        for name in (*energy, *valence):
            if name not in scales:
                raise ValueError(f"scales: {name!r} is weighted but has no scale")
        by_hue = tuple(str(k) for k in data["key"]["by_hue"])
        if len(by_hue) != 12 or any(k not in PITCH_CLASSES for k in by_hue):
            raise ValueError(f"key.by_hue: needs 12 keys of {', '.join(PITCH_CLASSES)}")
        grey = {str(k): str(v) for k, v in data["key"]["grey"].items()}
        if set(grey) != {"major", "minor"} or any(v not in PITCH_CLASSES for v in grey.values()):
            raise ValueError("key.grey: needs a key for major and for minor")
        return cls(
            sampling={k: float(v) for k, v in data["sampling"].items()},
            scales=scales,
            energy=energy,
            valence=valence,
            min_bpm=float(data["tempo"]["min_bpm"]),
            max_bpm=float(data["tempo"]["max_bpm"]),
            major_from=float(data["mode"]["major_from"]),
            key_by_hue=by_hue,
            key_grey=grey,
            styles=rules("styles", check_style),
            themes=rules("themes", check_theme),
            path=where,
        )

    def scaled(self, name: str, value: float) -> float:
        lo, hi = self.scales[name]
        return float(min(1.0, max(0.0, (value - lo) / (hi - lo))))

    def weighted(self, weights: dict[str, float], values: dict[str, float | None]) -> float:
        """Weighted mean of the scaled measurements present in ``values``."""
        present = {k: w for k, w in weights.items() if values.get(k) is not None}
        total = sum(present.values())
        if total <= 0:
            return 0.5
        return sum(w * self.scaled(k, values[k]) for k, w in present.items()) / total


@dataclass(frozen=True)
class Measurements:
    """The numbers the rules read, for one set of inputs (``None``: not measurable, e.g. motion
    of an image). ``frames`` counts the frames measured, ``notes`` what could not be."""

    brightness: float
    saturation: float
    warmth: float
    colourfulness: float
    hue: float | None
    motion: float | None = None
    cut_rate: float | None = None
    frames: int = 0
    frames_decoded: int = 0
    notes: tuple[str, ...] = field(default=())

    def values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in ("hue", *MEASUREMENTS)}


class VisualDescriber:
    """The built-in describer (see the module docstring)."""

    name = "visual"

    def __init__(
        self, rules: VisualRules | None = None, num_frames: int = 32, vocab: Vocab | None = None
    ):
        if num_frames < 1:
            raise ConfigError(f"describer.num_frames = {num_frames}: must be at least 1")
        self.vocab = vocab or load_vocab()
        self.rules = rules or VisualRules.load(vocab=self.vocab)
        self.num_frames = int(num_frames)
        self.last_measurements: Measurements | None = None

    @classmethod
    def from_config(
        cls, config: Config | None = None, rules: str | os.PathLike | None = None
    ) -> VisualDescriber:
        """From ``config.describer.num_frames`` (frames measured for colour) and the rule table."""
        config = config or Config()
        vocab = load_vocab()
        return cls(VisualRules.load(rules, vocab), config.describer.num_frames, vocab)

    # ------------------------------------------------------------------------------------

    def measure(self, inputs: Sequence[MediaInput]) -> Measurements:
        """Measure every visual input; colour is averaged over inputs (each counts once),
        motion and cuts over the videos' windows. (For diagnostics: :meth:`describe` describes
        each input on its own, see :meth:`measure_each`.)"""
        return combine_measurements(self.measure_each(inputs))

    def measure_each(self, inputs: Sequence[MediaInput]) -> list[tuple[Measurements, float]]:
        """``(measurements, seconds covered by motion windows)`` of each visual input, in order."""
        parts = [self._measure_one(item) for item in inputs if item.kind in ("video", "image")]
        if not parts:
            raise UsageError("the built-in describer needs a video or an image")
        for m, _ in parts:
            for note in m.notes:
                logger.warning(note)
        return parts

    def _measure_one(self, item: MediaInput) -> tuple[Measurements, float]:
        from vmb.describe.sampling import sample_windows
        from vmb.media import read_image

        s = self.rules.sampling
        notes: list[str] = []
        if item.kind == "video" and item.path is not None:
            windows = sample_windows(
                item.path,
                num_windows=int(s["windows"]),
                window_s=s["window_s"],
                colour_frames=self.num_frames,
                colour_side=int(s["colour_side"]),
                motion_side=int(s["motion_side"]),
            )
            colour = colour_stats(windows.colour, s["min_saturation"])
            frames = len(windows.colour) + sum(len(w) for w in windows.grey)
            moving = motion_stats(
                windows.grey, windows.step_s, s["cut_histogram"], s["cut_difference"]
            )
            seconds = 0.0
            motion = cut_rate = None
            if moving is None:
                notes.append(f"{item.path}: a single frame, no motion measured")
            else:
                seconds = sum(len(w) - 1 for w in windows.grey) * windows.step_s
                motion, cut_rate = moving["motion"], moving["cut_rate"]
            return Measurements(**colour, motion=motion, cut_rate=cut_rate, frames=frames,
                                frames_decoded=windows.frames_decoded,
                                notes=tuple(notes)), seconds  # fmt: skip
        pixels = item.frames
        if pixels is None:
            if item.path is None:
                raise UsageError(f"a {item.kind} input needs a path or frames")
            pixels = read_image(item.path, max_side=int(s["image_side"]))[None]
        if item.kind == "video":
            notes.append("video given as frames without a file: measured as stills, no motion")
        colour = colour_stats(pixels, s["min_saturation"])
        return Measurements(**colour, frames=len(pixels), notes=tuple(notes)), 0.0

    def describe_measurements(self, m: Measurements) -> MusicDescription:
        """Apply the rule table to measurements (steps 2-7 of the module docstring)."""
        r = self.rules
        values = m.values()
        energy = r.weighted(r.energy, values)
        valence = r.weighted(r.valence, values)
        values.update(energy=energy, valence=valence)
        bpm = float(round(r.min_bpm + energy * (r.max_bpm - r.min_bpm)))
        mode = "major" if valence >= r.major_from else "minor"
        if m.hue is None:
            key = r.key_grey[mode]
        else:
            key = r.key_by_hue[int(((m.hue + 15.0) % 360) // 30)]
        style = next((row.then for row in r.styles if row.holds(values)), {})
        theme = next((row.then["theme"] for row in r.themes if row.holds(values)), None)
        description = MusicDescription(
            genre=style.get("genre"),
            mood=tuple(style.get("mood") or ()),
            instruments=tuple(style.get("instruments") or ()),
            tempo_bpm=bpm,
            tempo_class=self.vocab.tempo_class(bpm),
            key=key,
            mode=mode,
            energy=round(energy, 3),
            theme=theme,
            source="visual",
            stated=(),  # measured in the pictures: nothing here was typed by the user
        )
        return description.replace(text=write_sentence(description))

    def describe_pixels(self, inputs: Sequence[MediaInput]) -> MusicDescription | None:
        """What the visuals alone say: each visual input described on its own, then one
        consistent summary (:func:`vmb.describe.schema.summarise`; a video weighs its length,
        an image as much as the longest video or 1 s). ``None`` without visual inputs."""
        if not any(i.kind in ("video", "image") for i in inputs):
            return None
        parts = self.measure_each(inputs)
        self.last_measurements = combine_measurements(parts)
        described = [self.describe_measurements(m) for m, _ in parts]
        video_s = max([seconds for _, seconds in parts] + [1.0])
        weights = [seconds if seconds > 0 else video_s for _, seconds in parts]
        r = self.rules
        return summarise(list(zip(described, weights, strict=True)), self.vocab, r.min_bpm,
                         r.max_bpm)  # fmt: skip

    def describe(self, inputs: Sequence[MediaInput]) -> MusicDescription:
        """The description of one set of inputs; text among them is merged over what the
        pixels say (see :func:`vmb.describe.schema.merge`)."""
        texts = [i.text.strip() for i in inputs if i.kind == "text" and i.text and i.text.strip()]
        words = parse_text(" ".join(texts), self.vocab) if texts else None
        pixels = self.describe_pixels(inputs)
        if pixels is None and words is None:
            raise UsageError("nothing to describe: give a video, one or more images, or some text")
        return merge(pixels, words, self.vocab)

    def describe_batch(self, requests: Sequence[Sequence[MediaInput]]) -> list[MusicDescription]:
        """:meth:`describe` for each list of inputs."""
        return [self.describe(r) for r in requests]


def combine_measurements(parts: Sequence[tuple[Measurements, float]]) -> Measurements:
    """One set of measurements for several inputs: colour averaged (each input once), motion
    and cut rate weighted by the seconds each video's windows cover."""
    ms = [m for m, _ in parts]
    mean = {k: float(np.mean([getattr(m, k) for m in ms]))
            for k in ("brightness", "saturation", "warmth", "colourfulness")}  # fmt: skip
    hues = [m.hue for m in ms if m.hue is not None]
    hue = None
    if hues:
        radians = np.radians(hues)
        hue = float(np.degrees(math.atan2(np.sin(radians).mean(), np.cos(radians).mean())) % 360)
    moving = [(m, t) for m, t in parts if m.motion is not None and t > 0]
    motion = cut_rate = None
    if moving:
        seconds = sum(t for _, t in moving)
        motion = sum(m.motion * t for m, t in moving) / seconds
        cut_rate = sum(m.cut_rate * t for m, t in moving) / seconds
    return Measurements(**mean, hue=hue, motion=motion, cut_rate=cut_rate,
                        frames=sum(m.frames for m in ms),
                        frames_decoded=sum(m.frames_decoded for m in ms),
                        notes=tuple(n for m in ms for n in m.notes))  # fmt: skip


__all__ = ["Measurements", "Rule", "VisualDescriber", "VisualRules", "combine_measurements"]
