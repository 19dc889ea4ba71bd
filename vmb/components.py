"""Assembling the pipeline's parts from a :class:`~vmb.config.Config`: the one place each is built.

:class:`~vmb.pipeline.Pipeline`, :func:`vmb.describe.describe` and the ``vmb`` commands all come
here (the describer itself is assembled by :func:`vmb.describe.load_describer`):

* :func:`load_retriever` — the index ``index.path`` names (the demo library is built on first
  use, with progress) and a :class:`~vmb.retrieve.Retriever` over it;
* :func:`load_generator` — MusicGen or the built-in composer;
* :func:`missing_models` / :func:`model_available` — which weights are not local.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from vmb.config import Config


def load_retriever(
    config: Config,
    encoder: str | None = None,
    model: str | None = None,
    progress: bool = False,
) -> tuple[Any, list[str]]:
    """The retriever over ``config.index.path`` and notes (the demo library built, ...).

    Args:
        config: ``index.path`` (a folder, or ``demo``), ``retrieval.allow_same_track``, ``device``.
        encoder, model: query with another encoder than the index's (``clap`` or ``builtin``, and
            a CLAP hub id or local folder); by default the index's own.
        progress: show a progress bar while the demo library is built.

    Raises:
        IndexFileError: the index is missing (other than the demo library), corrupt or built
            with another encoder.
    """
    from vmb.library import ensure_demo_index, is_demo_index, resolve_index_path
    from vmb.retrieve import MusicIndex, Retriever

    notes: list[str] = []
    path = resolve_index_path(config.index.path)
    if is_demo_index(path) and not (path / "info.json").is_file():
        built = ensure_demo_index(path, progress=progress)
        if not any("already at" in note for note in built):
            notes.append(f"built the demo index at {path} (music21 corpus, rendered with the built-in renderer)")
    index = MusicIndex.load(path)
    chosen = None
    if encoder is not None or model is not None:
        from vmb.retrieve.encoders.base import load_encoder

        kind = encoder or index.info.encoder_kind
        if model is None and kind == index.info.encoder_kind:
            model = index.info.encoder_model
        chosen = load_encoder(kind, model, device=config.device)
    retriever = Retriever(index, chosen, allow_same_track=config.retrieval.allow_same_track, device=config.device)
    return retriever, notes


@dataclass
class DeferredRetriever:
    """The demo library's retriever before the library is built: :class:`~vmb.pipeline.Pipeline`
    builds it when a call first needs it (with progress), not while it is being constructed.

    The demo library is indexed with the built-in encoders, so it offers no CLAP encoder
    (``encoder`` is ``None``).
    """

    config: Config
    encoder: Any = None

    def resolve(self, progress: bool = False) -> tuple[Any, list[str]]:
        return load_retriever(self.config, progress=progress)


def open_retriever(config: Config) -> Any:
    """:func:`load_retriever` now, or a :class:`DeferredRetriever` when the demo library still
    has to be built."""
    from vmb.library import is_demo_index, resolve_index_path

    path = resolve_index_path(config.index.path)
    if is_demo_index(path) and not (path / "info.json").is_file():
        return DeferredRetriever(config)
    return load_retriever(config)[0]


def load_generator(config: Config, retriever: Any = None) -> Any:
    """The generator ``config.generator.kind`` names.

    MusicGen gets the retriever's CLAP audio encoder (when the index is a CLAP index) as its
    reference encoder, the embeddings CLAP-trained adapters read.
    """
    if config.generator.kind == "musicgen":
        from vmb.generate.musicgen import MusicGenGenerator

        encoder = getattr(retriever, "encoder", None)
        clap = encoder.audio if encoder is not None and encoder.kind == "clap" else None
        return MusicGenGenerator.from_config(config, reference_encoder=clap)
    from vmb.generate.builtin import BuiltinGenerator

    return BuiltinGenerator.from_config(config)


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


def model_available(model: str | os.PathLike) -> bool:
    """Whether ``model`` (a local folder or a hub id) can be loaded without a download
    (:func:`vmb.hub.is_available_locally`)."""
    from vmb.hub import is_available_locally

    return is_available_locally(model)


__all__ = [
    "DeferredRetriever",
    "load_generator",
    "load_retriever",
    "missing_models",
    "model_available",
    "open_retriever",
]
