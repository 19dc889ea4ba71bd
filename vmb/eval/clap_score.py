"""CLAP score: cosine similarity of a clip's CLAP audio embedding and its text.

The text is the item's caption (``--captions``) or, for results made by vmb, the text bridge
(``bridges.text`` in ``<stem>.vmb.json``). Both embeddings are L2-normalised, so the score is in
[-1, 1] (higher is closer); the mean over items is reported, as in the CLAP-score columns of
text-to-music papers (some multiply by 100).
"""

from __future__ import annotations

import numpy as np


def clip_embedding(rows: np.ndarray) -> np.ndarray:
    """One L2-normalised embedding ``[D]`` from per-window CLAP rows ``[W, D]`` (their mean)."""
    mean = np.asarray(rows, np.float64).reshape(-1, np.shape(rows)[-1]).mean(axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm if norm > 0 else mean).astype(np.float32)


def clap_scores(audio_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
    """Row-wise cosine ``[N]`` of L2-normalised audio ``[N, D]`` and text ``[N, D]`` embeddings."""
    a = np.asarray(audio_embeddings, np.float64)
    t = np.asarray(text_embeddings, np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    return (a * t).sum(axis=1)


def text_for_item(caption: str | None, result: dict | None) -> tuple[str | None, str]:
    """``(text, source)``: the caption if given, else the text bridge of a vmb result."""
    if caption:
        return caption, "caption"
    if result:
        text = (result.get("bridges") or {}).get("text")
        if text:
            return str(text), "text bridge"
    return None, ""
