"""Assembling the pipeline's parts from a :class:`~vmb.config.Config`: the one place each is built.

:class:`~vmb.pipeline.Pipeline`, :func:`vmb.describe.describe` and the ``vmb`` commands all come
here (the describer itself is assembled by :func:`vmb.describe.load_describer`):

* :func:`load_retriever` — the index ``index.path`` names (the demo library is built on first
  use, with progress) and a :class:`~vmb.retrieve.Retriever` over it; :func:`open_retriever`
  defers a missing index to the request (:class:`DeferredRetriever`), where pinned references
  alone can be the music bridge (:class:`PinnedReferences`);
* :func:`load_generator` — MusicGen or the built-in composer;
* :func:`missing_models` / :func:`model_available` — which weights are not local.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmb.config import Config
from vmb.errors import IndexFileError, UsageError
from vmb.retrieve.search import Retriever
from vmb.signatures import same_parameters


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
        IndexFileError: the index is missing (other than the demo library; the message names
            ``vmb index build`` and the demo library), corrupt or built with another encoder.
    """
    from vmb.library import ensure_demo_index, is_demo_index, resolve_index_path
    from vmb.retrieve import MusicIndex, Retriever

    notes: list[str] = []
    path = resolve_index_path(config.index.path)
    if is_demo_index(path) and not (path / "info.json").is_file():
        built = ensure_demo_index(path, progress=progress)
        if not any("already at" in note for note in built):
            notes.append(f"built the demo index at {path} (music21 corpus, rendered with the built-in renderer)")
    elif not path.exists():
        raise missing_index_error(path)
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
    """The retriever of an index folder that is not there yet, resolved per request by
    :class:`~vmb.pipeline.Pipeline` (:meth:`resolve`), not while the pipeline is being built:

    * the demo library is built (with progress) by the first call that needs it;
    * an index that has appeared since is loaded;
    * with pinned references and no index, the music bridge is the pinned references
      (:class:`PinnedReferences`, said in the notes);
    * with nothing pinned, a missing index is a one-line :class:`IndexFileError` naming
      ``vmb index build`` and the demo library.

    It offers no encoder (``encoder`` is ``None``): the demo library is indexed with the built-in
    encoders, and there is no index to take one from.
    """

    config: Config
    encoder: Any = None

    @property
    def path(self) -> Path:
        from vmb.library import resolve_index_path

        return resolve_index_path(self.config.index.path)

    def resolve(self, progress: bool = False, pinned: Sequence[str | os.PathLike] = ()) -> tuple[Any, list[str]]:
        """``(retriever, notes)`` for one request (``pinned``: its reference files).

        Raises:
            IndexFileError: no index and nothing pinned, or the index is corrupt.
        """
        from vmb.library import is_demo_index

        path = self.path
        if is_demo_index(path) or path.exists():
            return load_retriever(self.config, progress=progress)
        if pinned:
            return PinnedReferences(), [
                f"no index at {path}: the music bridge is the pinned reference(s) only"
            ]
        raise missing_index_error(path)


def missing_index_error(path: str | os.PathLike) -> IndexFileError:
    """The one-line error for an index folder that does not exist."""
    return IndexFileError(
        path,
        "index not found; build one with `vmb index build MUSIC_FOLDER --out "
        f"{path}`, use the demo library (--index demo), or pin your own --reference files",
    )


class PinnedReferences:
    """The music bridge without an index: the pinned reference files, read and measured, and
    the text bridge (the description with the wants appended). Same ``search`` signature as
    :class:`~vmb.retrieve.Retriever`; it retrieves nothing."""

    encoder = None

    @same_parameters(Retriever.search)
    def search(self, **query: Any) -> Any:
        """The pinned files as hits (score 1.0, in the order given); ``k_broad`` and
        ``k_targeted`` have nothing to count.

        Raises:
            UsageError: nothing pinned.
            MediaError: a pinned file cannot be read.
        """
        from vmb.retrieve import SearchResult, bridge_text
        from vmb.retrieve.search import read_pinned
        from vmb.types import Hit

        if not query["pinned"]:
            raise UsageError("no index and no --reference: nothing for the music bridge")
        hits = tuple(
            Hit(clip=read_pinned(path)[0], score=1.0, rank=i + 1, track="pinned")
            for i, path in enumerate(query["pinned"])
        )
        return SearchResult(hits, bridge_text(query["description"], query["wants"]), (), None)


def open_retriever(config: Config) -> Any:
    """:func:`load_retriever` now, or a :class:`DeferredRetriever` when the index folder is not
    there yet (the demo library still to be built, or no index at all)."""
    from vmb.library import is_demo_index, resolve_index_path

    path = resolve_index_path(config.index.path)
    if not path.exists() or (is_demo_index(path) and not (path / "info.json").is_file()):
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
    "PinnedReferences",
    "load_generator",
    "load_retriever",
    "missing_index_error",
    "missing_models",
    "model_available",
    "open_retriever",
]
