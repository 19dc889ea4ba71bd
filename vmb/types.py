"""The data that travels between the stages of the pipeline.

Every type is a frozen dataclass with ``to_dict`` / ``from_dict`` so that it can be written to
and read from JSON unchanged. Arrays (frames, audio) are never part of the JSON form.

Shapes: frames are ``[N, H, W, 3]`` uint8 RGB; audio is ``[C, T]`` float32 and always travels
with its sample rate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import numpy as np

MediaKind = Literal["video", "image", "text", "audio"]
Track = Literal["broad", "targeted", "pinned"]
Mode = Literal["major", "minor"]

TRACKS: tuple[str, ...] = ("broad", "targeted", "pinned")


def _clean(value: Any) -> Any:
    """JSON-friendly copy of a dataclass field value (tuples become lists, numpy scalars floats)."""
    if isinstance(value, (tuple, list)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def _tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


class _FieldsDict:
    """``to_dict`` / ``from_dict`` / ``replace`` for a frozen dataclass whose JSON form is its
    fields one to one (unknown keys are ignored on reading, so older and newer files load)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _clean(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class MediaInput:
    """One input to the pipeline.

    Attributes:
        kind: ``video``, ``image``, ``text`` or ``audio``.
        path: the file, for everything but text.
        text: the text, for ``kind == "text"``.
        frames: sampled RGB frames ``[N, H, W, 3]`` uint8 (visuals only, not serialised).
        timestamps: the time in seconds of each frame ``[N]`` (0.0 for an image).
        duration_s: the media's duration (video, audio), else ``None``.
    """

    kind: MediaKind
    path: str | None = None
    text: str | None = None
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)
    timestamps: tuple[float, ...] = ()
    duration_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "text": self.text,
            "timestamps": list(self.timestamps),
            "num_frames": 0 if self.frames is None else int(self.frames.shape[0]),
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInput:
        return cls(
            kind=data["kind"],
            path=data.get("path"),
            text=data.get("text"),
            timestamps=tuple(float(t) for t in data.get("timestamps", ())),
            duration_s=data.get("duration_s"),
        )


@dataclass(frozen=True)
class Section(_FieldsDict):
    """One stretch of the timeline, ``start_s`` to ``end_s`` seconds, and what it differs in.

    ``energy`` (0..1), ``mood``, ``tempo_class``, ``genre`` and ``instruments`` (empty: the
    global ones) are this section's own;
    ``text`` is a short sentence for it ("a calm, dark opening with low energy").
    ``source`` says what it describes: ``video``, ``image:NAME``, ``cue`` or ``video+cue``.
    ``measured``: what the picture measured over the section (``brightness``, ``saturation``,
    ``warmth``, ``colourfulness`` 0..1 or M, ``motion`` 0..1, ``cut_rate`` cuts/s; see
    ``configs/visual_rules.yaml``), empty for a section only a cue describes.
    """

    start_s: float
    end_s: float
    energy: float | None = None
    mood: tuple[str, ...] = ()
    tempo_class: str | None = None
    genre: str | None = None
    instruments: tuple[str, ...] = ()
    text: str = ""
    source: str = ""
    measured: dict[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "measured", {k: float(v) for k, v in (self.measured or {}).items()})
        object.__setattr__(self, "start_s", float(self.start_s))
        object.__setattr__(self, "end_s", float(self.end_s))
        object.__setattr__(self, "mood", _tuple(self.mood))
        object.__setattr__(self, "instruments", _tuple(self.instruments))

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Cut:
    """A moment the music should hit: a shot change or a user's marker at ``time_s``.

    ``strength`` 0..1 (how big the change in the picture is; 1 for a marker);
    ``kind``: ``hard`` (a cut), ``gradual`` (a fade or dissolve, centred) or ``marker``.
    """

    time_s: float
    strength: float = 1.0
    kind: str = "hard"

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_s", float(self.time_s))
        object.__setattr__(self, "strength", float(self.strength))

    def to_dict(self) -> dict[str, Any]:
        return {"time_s": self.time_s, "strength": self.strength, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cut:
        return cls(float(data["time_s"]), float(data.get("strength", 1.0)), data.get("kind", "hard"))


@dataclass(frozen=True)
class MusicDescription(_FieldsDict):
    """The text bridge: a detailed description of the music to make.

    ``mood`` and ``instruments`` hold words of the vocabularies in ``configs/vocab.yaml``;
    ``text`` is one fluent sentence joining them; ``source`` names the describer that wrote it.

    The timeline (empty for text alone, or with ``sync="off"``): ``sections`` in order, covering
    the visuals from 0 s without gaps; ``cuts`` the moments to hit (empty unless ``sync`` is
    ``cuts``); ``energy_curve`` the picture's energy (0..1) in windows of
    ``energy_step_s`` seconds from 0; ``sync`` how strictly the music should follow the
    picture: ``cuts`` (sections and cuts), ``scenes`` (sections only) or ``off``.
    The global fields above are a consistent summary of the sections.

    ``stated`` is where the values came from: the names of the fields the user gave (typed in
    the text, or a ``--want``); the other set fields were inferred (measured in the visuals,
    read by a VLM). Stated values are kept exactly by the generators; inferred ones may blend
    with references. ``None`` (a description built by hand, or JSON written before vmb recorded
    this) means every set field counts as stated.
    """

    genre: str | None = None
    mood: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    tempo_class: str | None = None
    key: str | None = None
    mode: Mode | None = None
    energy: float | None = None
    theme: str | None = None
    text: str = ""
    source: str = ""
    sections: tuple[Section, ...] = ()
    cuts: tuple[Cut, ...] = ()
    energy_curve: tuple[float, ...] = ()
    energy_step_s: float = 1.0
    sync: str | None = None
    stated: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.stated is not None:
            object.__setattr__(self, "stated", tuple(dict.fromkeys(str(n) for n in self.stated)))
        object.__setattr__(self, "mood", _tuple(self.mood))
        object.__setattr__(self, "instruments", _tuple(self.instruments))
        object.__setattr__(self, "sections", tuple(
            s if isinstance(s, Section) else Section.from_dict(s) for s in self.sections or ()
        ))  # fmt: skip
        object.__setattr__(self, "cuts", tuple(
            c if isinstance(c, Cut) else Cut.from_dict(c) for c in self.cuts or ()
        ))  # fmt: skip
        object.__setattr__(
            self, "energy_curve", tuple(float(e) for e in self.energy_curve or ())
        )

    def is_stated(self, name: str) -> bool:
        """Whether field ``name`` is set and the user gave it (see ``stated``)."""
        if getattr(self, name, None) in (None, ()):
            return False
        return self.stated is None or name in self.stated

    @property
    def duration_s(self) -> float | None:
        """The timeline's length (end of the last section), ``None`` without sections."""
        return self.sections[-1].end_s if self.sections else None


@dataclass(frozen=True)
class Wants:
    """User-specified target attributes for the targeted retrieval track.

    ``tempo`` is a tempo class (slow, medium, fast). Every set field restricts the targeted
    partition and is appended to the text bridge.
    """

    genre: str | None = None
    tempo: str | None = None
    mood: str | None = None
    instrument: str | None = None
    key: str | None = None
    mode: Mode | None = None

    def items(self) -> list[tuple[str, str]]:
        """The set attributes as ``(name, value)`` pairs, in field order."""
        return [
            (f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        ]

    def __bool__(self) -> bool:
        return bool(self.items())

    def to_dict(self) -> dict[str, Any]:
        return dict(self.items())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Wants:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class ClipAttributes(_FieldsDict):
    """Measured or tagged attributes of an indexed music clip."""

    tempo_bpm: float | None = None
    tempo_class: str | None = None
    key: str | None = None
    mode: Mode | None = None
    genre: str | None = None
    mood: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    energy: float | None = None
    loudness_db: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mood", _tuple(self.mood))
        object.__setattr__(self, "instruments", _tuple(self.instruments))


@dataclass(frozen=True)
class Clip:
    """One indexed music segment: ``duration_s`` seconds of ``path`` from ``start_s``.

    ``track_id`` groups the clips cut from one file (retrieval never returns two clips of one
    track unless asked). ``path`` is absolute or relative to the index folder.
    """

    id: str
    path: str
    start_s: float
    duration_s: float
    sample_rate: int
    caption: str = ""
    attributes: ClipAttributes = field(default_factory=ClipAttributes)
    track_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "start_s": float(self.start_s),
            "duration_s": float(self.duration_s),
            "sample_rate": int(self.sample_rate),
            "caption": self.caption,
            "attributes": self.attributes.to_dict(),
            "track_id": self.track_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Clip:
        return cls(
            id=data["id"],
            path=data["path"],
            start_s=float(data["start_s"]),
            duration_s=float(data["duration_s"]),
            sample_rate=int(data["sample_rate"]),
            caption=data.get("caption", ""),
            attributes=ClipAttributes.from_dict(data.get("attributes") or {}),
            track_id=data.get("track_id", ""),
        )


@dataclass(frozen=True)
class Hit:
    """One reference of the music bridge: a clip, its similarity score, rank and track."""

    clip: Clip
    score: float
    rank: int
    track: Track

    def to_dict(self) -> dict[str, Any]:
        return {
            "clip": self.clip.to_dict(),
            "score": float(self.score),
            "rank": int(self.rank),
            "track": self.track,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        return cls(
            clip=Clip.from_dict(data["clip"]),
            score=float(data["score"]),
            rank=int(data["rank"]),
            track=data["track"],
        )


@dataclass(frozen=True)
class Bridges:
    """Everything the generator is conditioned on.

    Attributes:
        description: the text bridge as structured fields.
        text: the prompt given to the generator: the description sentence with the targeted
            attributes appended ("... with fast-paced tempo"). With a timeline (``description.
            sections``), MusicGen prompts each window with its section's own sentence instead.
        references: the music bridge, ordered: pinned first, then broad, then targeted hits.
        wants: the user's targeted attributes.
        text_weight: guidance weight of the text bridge.
        music_weight: guidance weight of the music bridge.
    """

    description: MusicDescription
    text: str
    references: tuple[Hit, ...] = ()
    wants: Wants = field(default_factory=Wants)
    text_weight: float = 3.0
    music_weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "references", tuple(self.references))

    def by_track(self, track: str) -> tuple[Hit, ...]:
        return tuple(h for h in self.references if h.track == track)

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description.to_dict(),
            "text": self.text,
            "references": [h.to_dict() for h in self.references],
            "wants": self.wants.to_dict(),
            "text_weight": float(self.text_weight),
            "music_weight": float(self.music_weight),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bridges:
        return cls(
            description=MusicDescription.from_dict(data["description"]),
            text=data["text"],
            references=tuple(Hit.from_dict(h) for h in data.get("references", ())),
            wants=Wants.from_dict(data.get("wants") or {}),
            text_weight=float(data.get("text_weight", 3.0)),
            music_weight=float(data.get("music_weight", 1.0)),
        )


@dataclass(frozen=True)
class GenerationResult:
    """What the generator made.

    Attributes:
        audio: the music ``[C, T]`` float32 in [-1, 1] (not serialised).
        sample_rate: of ``audio``.
        bridges: what the music was conditioned on.
        generator: which generator made it (e.g. ``builtin-composer+fluidsynth`` or a model id).
        seed: the seed used.
        timings: seconds per stage.
        paths: files written, by role (``wav``, ``mp4``, ``json``, ``midi``).
        notes: human-readable remarks (fallbacks taken, warnings).
    """

    audio: np.ndarray = field(repr=False, compare=False)
    sample_rate: int
    bridges: Bridges
    generator: str = ""
    seed: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return float(self.audio.shape[-1]) / float(self.sample_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": int(self.sample_rate),
            "channels": int(self.audio.shape[0]),
            "duration_s": self.duration_s,
            "bridges": self.bridges.to_dict(),
            "generator": self.generator,
            "seed": self.seed,
            "timings": {k: float(v) for k, v in self.timings.items()},
            "paths": dict(self.paths),
            "notes": list(self.notes),
        }
