"""The whole job: visuals and text → text bridge → music bridge → music.

```python
from vmb import Pipeline

pipe = Pipeline.from_profile("builtin")
result = pipe(video="clip.mp4", wants={"tempo": "fast"}, seed=1)
pipe.save(result, out_dir="out", video="clip.mp4")
```

The pipeline holds three typed components: a describer (text bridge), a retriever over a FAISS
index (music bridge; optional), and a generator. ``__call__`` checks its inputs, describes,
retrieves, generates, and returns a :class:`~vmb.types.GenerationResult` whose timings cover
every stage. It is :meth:`~Pipeline.prepare` (read, describe, retrieve: the two bridges, as a
:class:`Prepared`) followed by :meth:`~Pipeline.generate` (the music for those bridges), which an
app can call apart to show and edit the bridges in between:

```python
prepared = pipe.prepare(video="clip.mp4")
description = prepared.bridges.description.replace(tempo_bpm=96.0)
edited = prepared.replace(bridges=dataclasses.replace(prepared.bridges, description=description))
result = pipe.generate(edited, seed=1)
```

The parts a request does not need are not loaded: the describer loads on the first visual input
(text alone is parsed, :func:`vmb.describe.parse_text`); a missing index is resolved per request
(:class:`~vmb.components.DeferredRetriever`): with pinned references they are the music bridge,
without them it is a one-line error naming ``vmb index build`` and the demo library.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vmb.components import DeferredRetriever, PinnedReferences, missing_models, model_available
from vmb.config import Config, load_config
from vmb.errors import ModelUnavailable, UsageError
from vmb.limits import DEFAULT_DURATION_S, check_duration, check_seed, check_weight, resolve_seed
from vmb.signatures import same_parameters
from vmb.types import Bridges, GenerationResult, MediaInput, MusicDescription, Wants

logger = logging.getLogger(__name__)

REFERENCE_ONLY = "none (reference only)"


class Describer(Protocol):
    def describe(self, inputs: list[MediaInput]) -> MusicDescription: ...


class Generator(Protocol):
    name: str
    sample_rate: int

    def generate(self, bridges: Bridges, duration_s: float, seed: int | None = None, **kwargs: Any) -> GenerationResult: ...


@dataclass(frozen=True)
class Prepared:
    """The bridges :meth:`Pipeline.prepare` found, before any music is made.

    Attributes:
        bridges: what the generator will be conditioned on (edit it with ``replace``).
        duration_s: seconds of music to make (given, configured, the video's length or 30 s).
        notes: what was decided on the user's behalf so far (profile, library built, search).
        timings: seconds of the ``decode``, ``describe`` and ``retrieve`` stages.
    """

    bridges: Bridges
    duration_s: float
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Prepared:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bridges": self.bridges.to_dict(),
            "duration_s": float(self.duration_s),
            "notes": list(self.notes),
            "timings": {k: float(v) for k, v in self.timings.items()},
        }


@dataclass
class Pipeline:
    """Describer + retriever + generator, configured by one :class:`~vmb.config.Config`.

    Attributes:
        describer: turns visual inputs into a :class:`MusicDescription` (the text bridge);
            ``None`` until the first call with a video or images loads the config's describer.
            Text alone never reaches it: it is parsed (:func:`vmb.describe.parse_text`).
        generator: writes the music from the :class:`Bridges`.
        retriever: dual-track search over an index (the music bridge) that also reads and
            measures the pinned references; a :class:`~vmb.components.DeferredRetriever` while
            the index folder is not there (the demo library is built by the first call that
            needs it; without an index, pinned references alone are the music bridge).
        config: the configuration the components were built from.
        notes: what the pipeline decided on the user's behalf (profile chosen, index built).
    """

    describer: Describer | None
    retriever: Any
    generator: Generator
    config: Config = field(default_factory=Config)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        config: Config | str | os.PathLike,
        overrides: Sequence[str] = (),
        index: str | os.PathLike | None = None,
        progress: bool = False,
    ) -> Pipeline:
        """Build every component a config names (a :class:`Config` or a YAML path).

        The parts are assembled by :func:`vmb.describe.load_describer` and
        :mod:`vmb.components`, the functions the ``vmb`` commands use too. The describer is not
        loaded here but by the first call with visual input; a missing index (or the demo
        library, built then) is resolved by the call that needs it (``progress`` is kept for
        compatibility and unused).

        Raises:
            ModelUnavailable: the generator's (or the index encoder's) weights are not available
                locally.
            IndexFileError: the index is corrupt or built with another encoder.
        """
        from vmb.components import load_generator, open_retriever

        if not isinstance(config, Config):
            config = load_config(config, overrides=overrides)
        elif overrides:
            config = config.with_overrides(list(overrides))
        if index is not None:
            config = config.with_overrides([f"index.path={index}"])
        from vmb.media.video_decord import resolve_backend, set_video_backend

        set_video_backend(config.video.backend)  # read_frames' default (video.backend)
        resolve_backend()  # video.backend=decord without decord installed: said here, once
        retriever = open_retriever(config)
        generator = load_generator(config, retriever)
        return cls(describer=None, generator=generator, retriever=retriever, config=config)

    @classmethod
    def load(
        cls,
        config: str | os.PathLike | None = None,
        profile: str | None = None,
        overrides: Sequence[str] = (),
        index: str | os.PathLike | None = None,
        progress: bool = False,
    ) -> Pipeline:
        """:meth:`from_config` for a YAML ``config``, else :meth:`from_profile` (what
        ``vmb generate --config/--profile`` does). Giving both is a :class:`UsageError`."""
        if config is not None and profile is not None:
            raise UsageError("--config and --profile: give one of them")
        if config is not None:
            return cls.from_config(config, overrides=overrides, index=index, progress=progress)
        return cls.from_profile(profile, overrides=overrides, index=index, progress=progress)

    @classmethod
    def from_profile(
        cls,
        name: str | None = None,
        overrides: Sequence[str] = (),
        index: str | os.PathLike | None = None,
        progress: bool = False,
    ) -> Pipeline:
        """Build a named profile (``default`` or ``builtin``).

        ``name=None`` picks ``default`` when its models are available locally and otherwise
        ``builtin``, and records why in :attr:`notes`. Naming ``default`` with missing weights is
        an error, never a silent switch.
        """
        reason = None
        if name is None:
            default = load_config(profile="default", overrides=overrides)
            missing = missing_models(default)
            if missing:
                name = "builtin"
                reason = (
                    f"running the built-in profile: the default profile's model {missing[0]} "
                    "is not available locally (use --profile default once it is downloaded)"
                )
            else:
                name = "default"
        pipe = cls.from_config(load_config(profile=name, overrides=overrides), index=index, progress=progress)
        if reason:
            pipe.notes.insert(0, reason)
        return pipe

    # ------------------------------------------------------------------ the job
    def __call__(
        self,
        video: str | os.PathLike | None = None,
        images: Sequence[str | os.PathLike] = (),
        text: str | None = None,
        references: Sequence[str | os.PathLike] = (),
        wants: Wants | dict | Sequence[str] | None = None,
        duration_s: float | None = None,
        seed: int | None = None,
        text_weight: float | None = None,
        music_weight: float | None = None,
        midi_path: str | os.PathLike | None = None,
        progress: bool = False,
        cues: Sequence[Any] | None = None,
        sync: str = "cuts",
        stems_dir: str | os.PathLike | None = None,
        loop: bool = False,
    ) -> GenerationResult:
        """Make music for the inputs: :meth:`prepare` then :meth:`generate`.

        Args:
            video: a video file; its length is the default duration.
            images: image files.
            text: free text; its explicit attributes win over what the pixels suggest.
            references: audio files pinned into the music bridge.
            wants: targeted attributes (``{"tempo": "fast"}``, ``["genre=jazz"]`` or :class:`Wants`).
            duration_s: seconds of music (default: the video's length, else 30 s).
            seed: for reproducible output (default: the config's seed, else 0;
                :func:`vmb.limits.resolve_seed`).
            text_weight, music_weight: guidance weights of the two bridges.
            midi_path: also write the arrangement as MIDI (built-in generator only).
            cues: the user's timeline: ``"0-8=calm"`` strings or ``vmb.describe.Cue`` objects.
            sync: ``cuts``, ``scenes`` or ``off`` (see :mod:`vmb.describe.timeline`).
            stems_dir: also write one WAV per part there (built-in generator only).
            loop: a piece that repeats seamlessly (built-in generator only).
        """
        self.check_inputs(video, images, text, references, wants, duration_s, seed, text_weight, music_weight)
        self._check_builtin_options(midi_path, stems_dir, loop)
        prepared = self.prepare(video, images, text, references, wants, duration_s, text_weight, music_weight,
                                progress=progress, cues=cues, sync=sync)  # fmt: skip
        return self.generate(prepared, seed=seed, midi_path=midi_path, progress=progress, stems_dir=stems_dir,
                             loop=loop)  # fmt: skip

    # ------------------------------------------------------------------ checks
    @same_parameters(__call__, drop=("midi_path", "progress", "cues", "sync", "stems_dir", "loop"))
    def check_inputs(self, **inputs: Any) -> Wants:
        """Raise :class:`UsageError` naming the offending value; return the parsed wants.

        Takes the inputs of :meth:`__call__` (``video`` … ``music_weight``). The limits
        (duration, weights, seed) are those of :mod:`vmb.limits`, the same numbers the config and
        the generators check with.
        """
        from vmb.vocab import parse_wants

        video, images, text, references = (inputs[k] for k in ("video", "images", "text", "references"))
        if isinstance(images, (str, os.PathLike)):
            raise UsageError(f"images={images!r}: expected a list of image paths")
        if isinstance(references, (str, os.PathLike)):
            raise UsageError(f"references={references!r}: expected a list of audio paths")
        if video is None and not images and not (text and text.strip()) and not references:
            raise UsageError("nothing to make music for: give a video, images, text or a reference")
        if text is not None and not text.strip() and video is None and not images and not references:
            raise UsageError("text='': the text is empty")
        if inputs["duration_s"] is not None:
            check_duration(inputs["duration_s"])
        check_seed(inputs["seed"])
        for name in ("text_weight", "music_weight"):
            if inputs[name] is not None:
                check_weight(inputs[name], name)
        wants = inputs["wants"]
        if wants is None:
            return Wants()
        if isinstance(wants, Wants):
            return wants
        return parse_wants(wants)

    @same_parameters(__call__, drop=("seed", "midi_path", "stems_dir", "loop"))
    def prepare(self, **args: Any) -> Prepared:
        """Read, describe and retrieve: the two bridges the generator will get, not yet the music.

        The arguments are those of :meth:`__call__` but ``seed``, ``midi_path``, ``stems_dir``
        and ``loop``. The returned :class:`Prepared` can be edited
        (``prepared.replace(bridges=...)``) and given to :meth:`generate`; ``pipe(...)`` is
        exactly ``pipe.generate(pipe.prepare(...), seed=...)``.
        """
        progress, cues, sync = args.pop("progress"), args.pop("cues"), args.pop("sync")
        parsed_wants = self.check_inputs(**args)
        video, images, text, references = (args[k] for k in ("video", "images", "text", "references"))
        duration_s, text_weight, music_weight = args["duration_s"], args["text_weight"], args["music_weight"]
        from vmb.describe import load_describer, load_inputs

        cfg = self.config
        notes = list(self.notes)
        retriever = self.retriever
        if isinstance(retriever, DeferredRetriever):
            # Before the spinner starts: building the demo library shows its own progress bars.
            # Before describing too: a missing index with nothing pinned fails at once.
            retriever, found = retriever.resolve(progress=progress, pinned=list(references))
            notes.extend(found)
            if not isinstance(retriever, PinnedReferences):
                self.retriever = retriever  # an index: kept for the next calls
        visual = video is not None or bool(images)
        if visual and self.describer is None:
            self.describer = load_describer(config=cfg)
        text_weight = cfg.generator.text_weight if text_weight is None else float(text_weight)
        music_weight = cfg.generator.music_weight if music_weight is None else float(music_weight)

        with _Stages(progress) as stages:
            stages.start("reading the inputs", timing="decode")
            has_media = video is not None or bool(images) or bool(text and text.strip())
            inputs = (
                load_inputs(video=video, images=list(images), text=text, num_frames=cfg.describer.num_frames)
                if has_media
                else []
            )
            requested_s = duration_s if duration_s is not None else cfg.generator.duration_s
            if duration_s is None:
                duration_s = cfg.generator.duration_s
            if duration_s is None:
                video_input = next((i for i in inputs if i.kind == "video"), None)
                duration_s = video_input.duration_s if video_input and video_input.duration_s else DEFAULT_DURATION_S

            stages.start("describing (text bridge)", timing="describe")
            if not inputs:
                description = MusicDescription(source=REFERENCE_ONLY)
            elif visual:
                description = self.describer.describe(inputs)
            else:  # text alone: no describer (no vision-language model for words)
                description = describe_text(inputs)
            if inputs or cues:  # the timeline (issue 15): sections, cuts, cues, wants
                from vmb.describe.timeline import add_timeline

                description = add_timeline(description, inputs, self.describer, cues, sync, requested_s, parsed_wants)
                if requested_s is None and description.duration_s and description.duration_s > duration_s + 0.5:
                    duration_s = description.duration_s  # a video followed by images: the slideshow after it

            stages.start("retrieving references (music bridge)", timing="retrieve")
            hits, search_notes, prompt = self._retrieve(retriever, description, parsed_wants, references)
            notes.extend(search_notes)

        bridges = Bridges(description=description, text=prompt, references=tuple(hits), wants=parsed_wants,
                          text_weight=text_weight, music_weight=music_weight)  # fmt: skip
        return Prepared(bridges=bridges, duration_s=float(duration_s), notes=tuple(notes), timings=stages.timings)

    def generate(
        self,
        prepared: Prepared,
        seed: int | None = None,
        midi_path: str | os.PathLike | None = None,
        progress: bool = False,
        stems_dir: str | os.PathLike | None = None,
        loop: bool = False,
    ) -> GenerationResult:
        """Write the music for prepared (possibly edited) bridges.

        The guidance weights are the bridges' own (``prepared.bridges.text_weight`` /
        ``music_weight``); ``seed``, ``midi_path``, ``stems_dir`` and ``loop`` are those of
        :meth:`__call__`.

        Raises:
            UsageError: a duration, seed or weight outside :mod:`vmb.limits`, or ``midi_path``
                with a generator that writes no MIDI.
        """
        check_duration(prepared.duration_s)
        check_seed(seed)
        bridges = prepared.bridges
        check_weight(bridges.text_weight, "text_weight")
        check_weight(bridges.music_weight, "music_weight")
        self._check_builtin_options(midi_path, stems_dir, loop)
        cfg = self.config
        seed = resolve_seed(seed, cfg.seed)
        kwargs: dict[str, Any] = {"text_weight": bridges.text_weight, "music_weight": bridges.music_weight}
        if cfg.generator.kind == "musicgen":
            kwargs.update(top_k=cfg.generator.top_k, temperature=cfg.generator.temperature, progress=progress)
        else:
            if midi_path is not None:
                kwargs["midi_path"] = midi_path
            if stems_dir is not None:
                kwargs["stems_dir"] = stems_dir
            if loop:
                kwargs["loop"] = True
        with _Stages(progress) as stages:
            stages.start(f"generating {prepared.duration_s:.1f} s of music")  # the generator times itself
            try:
                result = self.generator.generate(bridges, prepared.duration_s, seed=seed, **kwargs)
            except BaseException:  # the MIDI is written before rendering: it goes if rendering fails
                if midi_path is not None:
                    Path(midi_path).unlink(missing_ok=True)
                raise
        timings = {**prepared.timings, **result.timings}
        return GenerationResult(
            audio=result.audio,
            sample_rate=result.sample_rate,
            bridges=bridges,
            generator=result.generator or self.generator.name,
            seed=seed,
            timings=timings,
            paths=dict(result.paths),
            notes=tuple(prepared.notes) + tuple(result.notes),
        )

    def _check_builtin_options(self, midi_path, stems_dir, loop: bool) -> None:
        """MIDI, stems and loops come from the built-in generator only."""
        kind = self.config.generator.kind
        if kind == "builtin":
            return
        if midi_path is not None:
            raise UsageError(f"--midi: the {kind} generator writes audio only, no MIDI")
        if stems_dir is not None:
            raise UsageError(f"--stems: the {kind} generator has no separate parts; stems come from the builtin profile")
        if loop:
            raise UsageError(f"--loop: not available for the {kind} generator yet; use the builtin profile")

    def _retrieve(
        self,
        retriever: Any,
        description: MusicDescription,
        wants: Wants,
        references: Sequence[str | os.PathLike],
    ) -> tuple[list, list[str], str]:
        cfg = self.config.retrieval
        query = None if description.source == REFERENCE_ONLY else description
        found = retriever.search(
            query,
            wants=wants,
            pinned=[str(r) for r in references],
            k_broad=cfg.k_broad,
            k_targeted=cfg.k_targeted if wants else 0,
        )
        return list(found.hits), list(found.notes), found.text

    # ------------------------------------------------------------------ outputs
    def save(
        self,
        result: GenerationResult,
        out_dir: str | os.PathLike | None = None,
        stem: str | None = None,
        video: str | os.PathLike | None = None,
        keep_original_audio: bool = False,
        inputs: dict[str, Any] | None = None,
        staged: dict[str, str | os.PathLike] | None = None,
    ) -> GenerationResult:
        """Write ``<stem>.vmb.wav``, ``<stem>.vmb.mp4`` (with a video) and ``<stem>.vmb.json``
        as one set; ``staged`` (``{"mid": path}``) are files already written under a temporary
        name that join the set as ``<stem>.vmb.<ext>``."""
        from vmb.outputs import save_outputs

        given = inputs or {}
        visual = bool(video or given.get("video") or given.get("images")) if given or video else None
        return save_outputs(
            result,
            out_dir=out_dir,
            stem=stem,
            video=video,
            keep_original_audio=keep_original_audio,
            profile=self.config.profile,
            models=self.model_ids(visual),
            inputs=inputs or {},
            staged=staged,
        )

    def model_ids(self, visual: bool | None = None) -> dict[str, str]:
        """Which model or built-in component did each stage (``visual``: whether the request had
        a video or images; text alone is parsed, no describer; ``None``: whether one is loaded)."""
        cfg = self.config
        if visual is None:
            visual = self.describer is not None
        describer = cfg.describer.model if cfg.describer.kind == "vlm" else "builtin-visual"
        return {
            "describer": describer if visual else "text parser (no visual input)",
            "encoder": getattr(getattr(self.retriever, "encoder", None), "id", "none"),
            "generator": self.generator.name,
        }


def describe_text(inputs: Sequence[MediaInput]) -> MusicDescription:
    """The text bridge of text-only inputs: the words parsed (:func:`vmb.describe.parse_text`)
    and completed the way the describers complete theirs (:func:`vmb.describe.schema.merge`)."""
    from vmb.describe import parse_text
    from vmb.describe.schema import merge
    from vmb.vocab import load_vocab

    vocab = load_vocab()
    words = " ".join(i.text.strip() for i in inputs if i.kind == "text" and i.text and i.text.strip())
    return merge(None, parse_text(words, vocab), vocab)


class _Stages:
    """A one-line spinner naming the stage that runs (stderr), when ``enabled``, and the seconds
    of each timed stage (:attr:`timings`)."""

    def __init__(self, enabled: bool):
        self.timings: dict[str, float] = {}
        self._timing: str | None = None
        self._started = 0.0
        self._status = None
        if enabled:
            from rich.console import Console

            self._status = Console(stderr=True).status("")
            self._status.start()

    def __enter__(self) -> _Stages:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_timing()
        if self._status is not None:
            self._status.stop()
            self._status = None

    def start(self, name: str, timing: str | None = None) -> None:
        """Show ``name``; the time until the next stage is recorded as ``timings[timing]``."""
        self._stop_timing()
        self._timing, self._started = timing, time.perf_counter()
        if self._status is not None:
            self._status.update(name)

    def _stop_timing(self) -> None:
        if self._timing is not None:
            self.timings[self._timing] = time.perf_counter() - self._started
            self._timing = None


__all__ = ["ModelUnavailable", "Pipeline", "Prepared", "missing_models", "model_available"]
