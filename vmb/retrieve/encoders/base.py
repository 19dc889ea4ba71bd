"""What every encoder of the music bridge provides, and the encoders an index is built with.

An :class:`Encoder` maps text and/or audio into one vector space: ``[N, D]`` float32,
L2-normalised, compared by inner product (``metric == "ip"``, i.e. cosine similarity). Its
``id`` is a stable string written into the index's ``info.json``; an index is only ever queried
with the encoder it was built with.

An index is built with an :class:`IndexEncoder`, one of two kinds:

============  ================================================  =======================================
kind          ``index.faiss`` holds                             ``audio.faiss`` holds
============  ================================================  =======================================
``clap``      CLAP audio embeddings; text queries search them   (none: audio queries use index.faiss)
              directly (one joint space)
``builtin``   MiniLM embeddings of the clip captions; the       measured-feature vectors of the same
              query text is matched against captions            clips, for pinned references / audio
============  ================================================  =======================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

AudioClip = tuple[np.ndarray, int]
"""One audio clip: samples ``[C, T]`` (or ``[T]``) float32 and its sample rate."""


class Encoder:
    """Base class: ``id``, ``dim``, ``metric`` and the embedding methods it supports.

    Subclasses set ``modalities`` to the inputs they embed (``"text"``, ``"audio"``) and
    override the matching ``embed_*`` methods.
    """

    id: str = ""
    dim: int = 0
    metric: Literal["ip"] = "ip"
    modalities: tuple[str, ...] = ()

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` → ``[N, D]`` float32, rows L2-normalised."""
        raise TypeError(f"encoder {self.id} does not embed text")

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        """``[(audio [C, T], sr), ...]`` → ``[N, D]`` float32, rows L2-normalised."""
        raise TypeError(f"encoder {self.id} does not embed audio")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` ``[N, D]`` scaled to unit length (zero rows stay zero), as float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


@dataclass
class IndexEncoder:
    """The encoders one index is built and searched with.

    Attributes:
        kind: ``clap`` or ``builtin``.
        main: embeds the vectors of ``index.faiss`` and the query text.
        clip_input: what ``main`` embeds for each clip: its ``audio`` (clap) or its ``caption``
            (builtin).
        audio: embeds clip audio for ``audio.faiss``, pinned references and audio queries.
            For clap it is ``main`` itself (one joint space, no second index).
    """

    kind: Literal["clap", "builtin"]
    main: Encoder
    clip_input: Literal["audio", "caption"]
    audio: Encoder

    @property
    def id(self) -> str:
        return self.main.id

    @property
    def separate_audio_index(self) -> bool:
        """Whether the audio vectors live in their own ``audio.faiss``."""
        return self.audio is not self.main


def load_encoder(
    kind: str = "builtin",
    model: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
) -> IndexEncoder:
    """The encoders of an index kind.

    Args:
        kind: ``clap`` (``model`` = hub id or local folder, default ``laion/larger_clap_music``)
            or ``builtin`` (MiniLM captions + measured features; works offline).
        device / dtype: for CLAP (``auto`` picks CUDA/float16 when available).

    Raises:
        UsageError: an unknown kind.
        ModelUnavailable: the CLAP weights are neither local nor downloadable.
    """
    from vmb.errors import UsageError

    if kind == "clap":
        from vmb.retrieve.encoders.clap import DEFAULT_CLAP, ClapEncoder

        clap = ClapEncoder.from_pretrained(model or DEFAULT_CLAP, device=device, dtype=dtype)
        return IndexEncoder(kind="clap", main=clap, clip_input="audio", audio=clap)
    if kind == "builtin":
        from vmb.retrieve.encoders.features import FeaturesEncoder
        from vmb.retrieve.encoders.minilm import MiniLMEncoder

        return IndexEncoder(
            kind="builtin", main=MiniLMEncoder(model), clip_input="caption", audio=FeaturesEncoder()
        )
    raise UsageError(f"--encoder {kind}: unknown encoder; use clap or builtin")
