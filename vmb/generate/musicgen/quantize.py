"""int8 dynamic quantization of MusicGen's decoder for CPU inference, and its quality check.

Autoregressive decoding on a CPU reads every decoder weight once per step for two or three rows
of activations, so it is bound by weight bandwidth. ``torch.ao.quantization.quantize_dynamic``
stores the decoder's ``nn.Linear`` weights as int8 (per output channel) and quantizes the
activations on the fly, which cuts the bytes read per step by four. The text encoder, the
projections and EnCodec stay in float32: they run once per window, not once per step.

Quality check (used by the tests and ``benchmarks/bench_musicgen.py``): run the float32 and the
int8 model on the same inputs (same weights, same teacher-forced codes) and compare the logits
with :func:`compare_logits`: mean / minimum cosine similarity per position, the share of
positions whose top-1 code agrees, and the mean KL divergence of the int8 distribution from the
float32 one.

``torch.ao.quantization`` is deprecated in favour of torchao (not a dependency here); in torch
2.13 ``quantize_dynamic`` still exists and works, and its deprecation warnings are silenced in
:func:`quantize_decoder`.
"""

from __future__ import annotations

import warnings
from typing import Any


def quantize_decoder(model: Any, adapter: Any = None) -> str:
    """Quantize ``model.decoder``'s Linear layers to int8 in place (CPU only); returns a note.

    With an ``adapter``, its ControlFormer (copied blocks and zero layers, which run every step)
    is quantized too; a quantized adapter is for inference only. Zero weights stay exactly
    zero, so an untrained adapter still leaves the output unchanged.

    Raises:
        RuntimeError: ``torch.ao.quantization.quantize_dynamic`` is not available in this torch.
    """
    import torch
    from torch import nn

    quantization = getattr(getattr(torch, "ao", None), "quantization", None)
    if quantization is None or not hasattr(quantization, "quantize_dynamic"):
        raise RuntimeError(
            f"torch {torch.__version__} has no torch.ao.quantization.quantize_dynamic"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        targets = [model.decoder]
        if adapter is not None and getattr(adapter, "control", None) is not None:
            targets.append(adapter.control)
        for module in targets:
            quantization.quantize_dynamic(
                module,
                {nn.Linear: quantization.per_channel_dynamic_qconfig},
                dtype=torch.qint8,
                inplace=True,
            )
    engine = torch.backends.quantized.engine
    what = "decoder and ControlFormer" if len(targets) > 1 else "decoder"
    return f"{what} Linear layers quantized to int8 (dynamic, per channel, {engine} engine)"


def compare_logits(reference: Any, candidate: Any) -> dict[str, float]:
    """How close ``candidate`` logits are to ``reference`` logits ``[..., V]`` (same shape).

    Returns:
        ``cosine_mean`` and ``cosine_min`` over positions, ``top1_agreement`` (share of
        positions with the same argmax) and ``kl_mean`` (KL(reference ‖ candidate) in nats).
    """
    import torch

    ref = reference.float().reshape(-1, reference.shape[-1])
    cand = candidate.float().reshape(-1, candidate.shape[-1])
    if ref.shape != cand.shape:
        raise ValueError(
            f"logit shapes differ: {tuple(reference.shape)} vs {tuple(candidate.shape)}"
        )
    cosine = torch.nn.functional.cosine_similarity(ref, cand, dim=-1)
    log_p = torch.log_softmax(ref, dim=-1)
    log_q = torch.log_softmax(cand, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return {
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "top1_agreement": float((ref.argmax(-1) == cand.argmax(-1)).float().mean()),
        "kl_mean": float(kl.mean()),
    }
