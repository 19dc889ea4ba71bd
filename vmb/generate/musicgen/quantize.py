"""int8 dynamic quantization of MusicGen's decoder for CPU inference, and its quality check.

Autoregressive decoding on a CPU reads every decoder weight once per step for two or three rows
of activations, so it is bound by weight bandwidth. ``torch.ao.quantization.quantize_dynamic``
stores the decoder's ``nn.Linear`` weights as int8 (per output channel) and quantizes the
activations on the fly, which cuts the bytes read per step by four; the layers whose error
reaches the logits most directly (the heads, ``fc2``, ``out_proj``) keep float16 weights, and
activations get all 8 bits where the CPU sums them exactly (torch's default is 7). Together
these take the top-1 agreement with float32 on musicgen-small from ~90 % to ~96 %. The text
encoder, the projections and EnCodec stay in float32: they run once per window, not per step.

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

import functools
import warnings
from collections.abc import Sequence
from typing import Any

# Kept out of int8, with float16 weights: the output heads, the feed-forward output and the
# attention outputs, whose int8 error reaches the logits most directly (see quantize_decoder).
FLOAT16_LAYERS = ("lm_heads", "fc2", "out_proj")


def keeps_float16(name: str, float16_layers: Sequence[str] = FLOAT16_LAYERS) -> bool:
    """Whether the Linear layer ``name`` (a ``named_modules`` path) gets float16 weights."""
    return any(part in float16_layers for part in name.split("."))


def full_range_activations() -> bool:
    """Whether this CPU's int8 kernels take 8-bit activations without overflow.

    torch's dynamic int8 Linear quantizes activations to 7 bits (``reduce_range``) because
    fbgemm's AVX2 kernels sum pairs of uint8 × int8 products into int16, which saturates at full
    range (255 · 127 · 2 > 32767). CPUs with VNNI sum into int32 and need no such margin; the
    8th bit halves the activation rounding error. Checked by running, not by reading CPU flags:
    a worst-case product (every activation 255, every weight 127) must come out exact.
    """
    import torch

    if torch.backends.quantized.engine not in ("x86", "fbgemm"):
        return False
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    features = 64
    with warnings.catch_warnings():  # quantized tensors are deprecated in torch 2.13 (still work)
        warnings.simplefilter("ignore", UserWarning)
        layer = DynamicLinear(features, 4, dtype=torch.qint8)
        weight = torch.quantize_per_channel(
            torch.ones(4, features), torch.full((4,), 1 / 127), torch.zeros(4, dtype=torch.long), 0,
            torch.qint8,
        )  # fmt: skip
        layer.set_weight_bias(weight, None)
    x = torch.ones(2, features)
    x[:, 0] = 0.0  # zero point 0, scale 1/255: every other activation quantizes to 255
    y = torch.ops.quantized.linear_dynamic(x, layer._packed_params._packed_params, reduce_range=False)
    return bool(torch.allclose(y, torch.full_like(y, features - 1.0), rtol=1e-2))


@functools.cache
def _full_range_class():
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    class FullRangeLinear(DynamicLinear):
        """torch's dynamic int8 Linear with 8-bit activations (see :func:`full_range_activations`)."""

        def forward(self, x):
            packed = self._packed_params._packed_params
            return torch.ops.quantized.linear_dynamic(x, packed, reduce_range=False).to(x.dtype)

    return FullRangeLinear


def quantize_decoder(model: Any, adapter: Any = None,
                     float16_layers: Sequence[str] = FLOAT16_LAYERS) -> str:
    """Quantize ``model.decoder``'s Linear layers in place (CPU only); returns a note.

    Every Linear layer of the decoder gets int8 weights, per output channel, except
    ``float16_layers`` (default :data:`FLOAT16_LAYERS`: the output heads, ``fc2`` and the attention
    ``out_proj``; measured on musicgen-small, each costs about a point of top-1 agreement in int8,
    see ``benchmarks/bench_musicgen_int8.py``), whose weights are packed
    as float16 (half the bytes of float32, no rounding that matters). Activations are quantized
    on the fly (most of int8's error), with all 8 bits where the CPU allows it
    (:func:`full_range_activations`).

    With an ``adapter``, its ControlFormer (copied blocks and zero layers, which run every step)
    is quantized the same way; a quantized adapter is for inference only. Zero weights stay
    exactly zero, so an untrained adapter still leaves the output unchanged.

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
    full_range = full_range_activations()
    targets = [model.decoder]
    if adapter is not None and getattr(adapter, "control", None) is not None:
        targets.append(adapter.control)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        for module in targets:
            qconfig = {
                name: quantization.float16_dynamic_qconfig
                if keeps_float16(name, float16_layers)
                else quantization.per_channel_dynamic_qconfig
                for name, layer in module.named_modules()
                if isinstance(layer, nn.Linear)
            }
            quantization.quantize_dynamic(module, qconfig, inplace=True)
    if full_range:
        full_range_linear = _full_range_class()
        for module in targets:
            for layer in module.modules():
                if type(layer).__name__ == "Linear" and _is_int8(layer):
                    layer.__class__ = full_range_linear
    engine = torch.backends.quantized.engine
    what = "decoder and ControlFormer" if len(targets) > 1 else "decoder"
    bits = "8-bit" if full_range else "7-bit"
    return (
        f"{what} Linear layers quantized to int8 (dynamic, per channel, {bits} activations, "
        f"{engine} engine; {', '.join(float16_layers) or 'no layer'} with float16 weights)"
    )


def _is_int8(layer: Any) -> bool:
    import torch

    packed = getattr(layer, "_packed_params", None)
    return packed is not None and packed.dtype == torch.qint8


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
