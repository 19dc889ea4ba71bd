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
every stage.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vmb.config import Config, load_config
from vmb.errors import ModelUnavailable, UsageError
from vmb.types import Bridges, GenerationResult, MediaInput, MusicDescription, Wants

logger = logging.getLogger(__name__)

DEFAULT_DURATION_S = 30.0
REFERENCE_ONLY = "none (reference only)"
MAX_DURATION_S = 30 * 60.0


class Describer(Protocol):
    def describe(self, inputs: list[MediaInput]) -> MusicDescription: ...


class Generator(Protocol):
    name: str
    sample_rate: int

    def generate(self, bridges: Bridges, duration_s: float, seed: int | None = None, **kwargs: Any) -> GenerationResult: ...


@dataclass
class Pipeline:
    """Describer + retriever + generator, configured by one :class:`~vmb.config.Config`.

    Attributes:
        describer: turns the inputs into a :class:`MusicDescription` (the text bridge).
        generator: writes the music from the :class:`Bridges`.
        retriever: dual-track search over an index (the music bridge) that also reads and
            measures the pinned references.
        config: the configuration the components were built from.
        notes: what the pipeline decided on the user's behalf (profile chosen, index built).
    """

    describer: Describer
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

        Raises:
            ModelUnavailable: a neural component's weights are not available locally.
            IndexFileError: the index is missing (other than the demo index, which is built on
                first use), corrupt or built with another encoder.
        """
        if not isinstance(config, Config):
            config = load_config(config, overrides=overrides)
        elif overrides:
            config = config.with_overrides(list(overrides))
        if index is not None:
            config = config.with_overrides([f"index.path={Path(index)}"])
        notes: list[str] = []
        describer = _build_describer(config)
        retriever = _build_retriever(config, notes, progress)
        generator = _build_generator(config, retriever)
        return cls(describer=describer, generator=generator, retriever=retriever, config=config, notes=notes)

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

    # ------------------------------------------------------------------ checks
    def check_inputs(
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
    ) -> Wants:
        """Raise :class:`UsageError` naming the offending value; return the parsed wants."""
        from vmb.vocab import parse_wants

        if isinstance(images, (str, os.PathLike)):
            raise UsageError(f"images={images!r}: expected a list of image paths")
        if isinstance(references, (str, os.PathLike)):
            raise UsageError(f"references={references!r}: expected a list of audio paths")
        if video is None and not images and not (text and text.strip()) and not references:
            raise UsageError("nothing to make music for: give a video, images, text or a reference")
        if text is not None and not text.strip() and video is None and not images and not references:
            raise UsageError("text='': the text is empty")
        if duration_s is not None:
            if not isinstance(duration_s, (int, float)) or not math.isfinite(duration_s):
                raise UsageError(f"duration_s={duration_s!r}: expected a number of seconds")
            if duration_s <= 0:
                raise UsageError(f"duration_s={duration_s}: must be greater than 0")
            if duration_s > MAX_DURATION_S:
                raise UsageError(f"duration_s={duration_s}: longer than the maximum of {MAX_DURATION_S:.0f} s")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise UsageError(f"seed={seed!r}: expected a non-negative integer")
        for name, weight in (("text_weight", text_weight), ("music_weight", music_weight)):
            if weight is not None and (
                not isinstance(weight, (int, float)) or not math.isfinite(weight) or not 0 <= weight <= 20
            ):
                raise UsageError(f"{name}={weight!r}: expected a number between 0 and 20")
        if wants is None:
            return Wants()
        if isinstance(wants, Wants):
            return wants
        return parse_wants(wants)

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
        stems_dir: str | os.PathLike | None = None,
        loop: bool = False,
    ) -> GenerationResult:
        """Make music for the inputs.

        Args:
            video: a video file; its length is the default duration.
            images: image files.
            text: free text; its explicit attributes win over what the pixels suggest.
            references: audio files pinned into the music bridge.
            wants: targeted attributes (``{"tempo": "fast"}``, ``["genre=jazz"]`` or :class:`Wants`).
            duration_s: seconds of music (default: the video's length, else 30 s).
            seed: for reproducible output (default: the config's seed, else 0).
            text_weight, music_weight: guidance weights of the two bridges.
            midi_path: also write the arrangement as MIDI (built-in generator only).
            stems_dir: also write one WAV per part there (built-in generator only).
            loop: a piece that repeats seamlessly (built-in generator only).
        """
        parsed_wants = self.check_inputs(
            video, images, text, references, wants, duration_s, seed, text_weight, music_weight
        )
        if midi_path is not None and self.config.generator.kind != "builtin":
            raise UsageError(f"--midi: the {self.config.generator.kind} generator writes audio only, no MIDI")
        if stems_dir is not None and self.config.generator.kind != "builtin":
            raise UsageError(f"--stems: the {self.config.generator.kind} generator has no separate parts; "
                             "stems come from the builtin profile")
        if loop and self.config.generator.kind != "builtin":
            raise UsageError(f"--loop: not available for the {self.config.generator.kind} generator yet; "
                             "use the builtin profile")
        from vmb.describe import load_inputs

        cfg = self.config
        timings: dict[str, float] = {}
        notes = list(self.notes)
        seed = seed if seed is not None else (cfg.seed if cfg.seed is not None else 0)
        text_weight = cfg.generator.text_weight if text_weight is None else float(text_weight)
        music_weight = cfg.generator.music_weight if music_weight is None else float(music_weight)

        with _Stages(progress) as stages:
            stages.start("reading the inputs")
            start = time.perf_counter()
            has_media = video is not None or bool(images) or bool(text and text.strip())
            inputs = (
                load_inputs(video=video, images=list(images), text=text, num_frames=cfg.describer.num_frames)
                if has_media
                else []
            )
            timings["decode"] = time.perf_counter() - start
            if duration_s is None:
                duration_s = cfg.generator.duration_s
            if duration_s is None:
                video_input = next((i for i in inputs if i.kind == "video"), None)
                duration_s = video_input.duration_s if video_input and video_input.duration_s else DEFAULT_DURATION_S

            stages.start("describing (text bridge)")
            start = time.perf_counter()
            description = (
                self.describer.describe(inputs) if inputs else MusicDescription(source=REFERENCE_ONLY)
            )
            timings["describe"] = time.perf_counter() - start

            stages.start("retrieving references (music bridge)")
            start = time.perf_counter()
            hits, search_notes, prompt = self._retrieve(description, parsed_wants, references)
            notes.extend(search_notes)
            timings["retrieve"] = time.perf_counter() - start

            bridges = Bridges(
                description=description,
                text=prompt,
                references=tuple(hits),
                wants=parsed_wants,
                text_weight=text_weight,
                music_weight=music_weight,
            )
            kwargs: dict[str, Any] = {"text_weight": text_weight, "music_weight": music_weight}
            if cfg.generator.kind == "musicgen":
                kwargs.update(top_k=cfg.generator.top_k, temperature=cfg.generator.temperature, progress=progress)
            else:
                if midi_path is not None:
                    kwargs["midi_path"] = midi_path
                if stems_dir is not None:
                    kwargs["stems_dir"] = stems_dir
                if loop:
                    kwargs["loop"] = True
            stages.start(f"generating {float(duration_s):.1f} s of music")
            result = self.generator.generate(bridges, float(duration_s), seed=seed, **kwargs)
        timings.update(result.timings)
        return GenerationResult(
            audio=result.audio,
            sample_rate=result.sample_rate,
            bridges=bridges,
            generator=result.generator or self.generator.name,
            seed=seed,
            timings=timings,
            paths=dict(result.paths),
            notes=tuple(notes) + tuple(result.notes),
        )

    def _retrieve(
        self, description: MusicDescription, wants: Wants, references: Sequence[str | os.PathLike]
    ) -> tuple[list, list[str], str]:
        cfg = self.config.retrieval
        query = None if description.source == REFERENCE_ONLY else description
        found = self.retriever.search(
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
    ) -> GenerationResult:
        """Write ``<stem>.vmb.wav``, ``<stem>.vmb.mp4`` (with a video) and ``<stem>.vmb.json``."""
        from vmb.outputs import save_outputs

        return save_outputs(
            result,
            out_dir=out_dir,
            stem=stem,
            video=video,
            keep_original_audio=keep_original_audio,
            profile=self.config.profile,
            models=self.model_ids(),
            inputs=inputs or {},
        )

    def model_ids(self) -> dict[str, str]:
        """Which model or built-in component did each stage."""
        cfg = self.config
        return {
            "describer": cfg.describer.model if cfg.describer.kind == "vlm" else "builtin-visual",
            "encoder": getattr(getattr(self.retriever, "encoder", None), "id", "none"),
            "generator": self.generator.name,
        }


class _Stages:
    """A one-line spinner naming the stage that runs (stderr), when ``enabled``."""

    def __init__(self, enabled: bool):
        self._status = None
        if enabled:
            from rich.console import Console

            self._status = Console(stderr=True).status("")
            self._status.start()

    def __enter__(self) -> _Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def start(self, name: str) -> None:
        if self._status is not None:
            self._status.update(name)


# ---------------------------------------------------------------------- component builders
def _build_describer(cfg: Config) -> Describer:
    from vmb.describe import VisualDescriber, VLMDescriber

    if cfg.describer.kind == "vlm":
        return VLMDescriber.from_config(cfg)
    return VisualDescriber.from_config(cfg)


def _build_generator(cfg: Config, retriever: Any) -> Generator:
    if cfg.generator.kind == "musicgen":
        from vmb.generate.musicgen import MusicGenGenerator

        # A CLAP index's audio encoder gives the embeddings that CLAP-trained adapters read.
        encoder = retriever.encoder
        clap = encoder.audio if encoder.kind == "clap" else None
        return MusicGenGenerator.from_config(cfg, reference_encoder=clap)
    from vmb.generate.builtin import BuiltinGenerator

    return BuiltinGenerator.from_config(cfg)


def _build_retriever(cfg: Config, notes: list[str], progress: bool) -> Any:
    from vmb.retrieve import MusicIndex, Retriever
    from vmb.retrieve.demo import ensure_demo_index, is_demo_index

    path = Path(cfg.index.path)
    if is_demo_index(path) and not (path / "info.json").is_file():
        ensure_demo_index(path, progress=progress)
        notes.append(f"built the demo index at {path} (music21 corpus, rendered with the built-in renderer)")
    index = MusicIndex.load(path)
    return Retriever(index, allow_same_track=cfg.retrieval.allow_same_track, device=cfg.device)


def missing_models(cfg: Config) -> list[str]:
    """The model ids of ``cfg`` that are neither local folders nor in the Hugging Face cache."""
    wanted = []
    if cfg.describer.kind == "vlm":
        wanted.append(cfg.describer.model)
    if cfg.encoder.kind == "clap":
        wanted.append(cfg.encoder.model)
    if cfg.generator.kind == "musicgen":
        wanted.append(cfg.generator.model)
    return [model for model in wanted if not model_available(model)]


def model_available(model: str) -> bool:
    """Whether ``model`` (a local folder or a hub id) can be loaded without a download."""
    if Path(model).expanduser().is_dir():
        return (Path(model).expanduser() / "config.json").is_file()
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id is simply not available
        return False
    return isinstance(found, str)


__all__ = ["ModelUnavailable", "Pipeline", "missing_models", "model_available"]
