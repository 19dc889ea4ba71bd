"""KL divergence between AudioSet class distributions of paired items.

As in AudioCraft's KL metric (there on PaSST; here on the Audio Spectrogram Transformer, the
AudioSet classifier transformers ships): the classifier's 527 logits are turned into a
distribution with a softmax, and ``KL(p_reference || p_generated) = sum p_ref log(p_ref / p_gen)``
is averaged over the pairs. A small ``eps`` keeps empty classes finite.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``[N, C]`` (or ``[C]``) logits, float64."""
    x = np.asarray(logits, np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def kl_divergence(p_reference: np.ndarray, p_generated: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``KL(p_ref || p_gen)`` per row of two ``[N, C]`` (or ``[C]``) probability arrays.

    Rows are renormalised after adding ``eps``; identical rows give exactly 0.
    """
    p = np.asarray(p_reference, np.float64) + eps
    q = np.asarray(p_generated, np.float64) + eps
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    return np.sum(p * (np.log(p) - np.log(q)), axis=-1)
