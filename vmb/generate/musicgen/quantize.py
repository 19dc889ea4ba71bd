"""int8 dynamic quantization of MusicGen's decoder for CPU inference, and its quality check.

Autoregressive decoding on a CPU reads every decoder weight once per step for two or three rows
of activations, so it is bound by weight bandwidth. ``torch.ao.quantization.quantize_dynamic``
stores the decoder's ``nn.Linear`` weights as int8 (per output channel) and quantizes the
activations on the fly, per tensor, which cuts the bytes read per step by four; activations get
all 8 bits where the CPU sums them exactly (torch's default is 7). The text encoder, the
projections and EnCodec stay in float32: they run once per window, not per step.

Where the error comes from (musicgen-small architecture, random weights, 616 teacher-forced
positions; mean KL of the int8 logits from the float32 ones, the steadier measure): every layer
int8 ``1.6e-4``; the weights' rounding alone ``9.4e-5`` (every kind of layer but ``q_proj``
and ``k_proj`` adds to it), the activations' alone ``~7e-5`` (``fc1``, ``fc2``, ``out_proj``
and the heads about equally, ``q/k/v_proj`` little). So, as shipped:

* the output heads and the attention ``out_proj`` keep float16 weights (:data:`FLOAT16_LAYERS`;
  only 56 MB a step more than int8);
* ``fc1`` and ``fc2`` (over half the weights) stay int8 but their activations get a second
  int8 pass over their rounding error (:data:`TWO_PASS_LAYERS`, ``TwoPassLinear``: ~16-bit
  activations in the same kernel call, see :func:`_two_pass_class`), which on a CPU decoding
  2-3 rows costs a few elementwise ops instead of float16's second weight read.

Measured with ``python -m benchmarks.bench_musicgen_int8`` (issue 13's protocol: 3 s of music,
2 torch threads, ``benchmarks/results/musicgen_int8_speed.json``; ``--threads 1``:
``musicgen_int8_1thread.json``; AMD EPYC with avx512_vnni, nothing else running), speed against
plain fp32 ``generate`` (best of 3 interleaved rounds) and agreement with fp32 over 1,216
teacher-forced positions (standard error of the top-1 share 0.5-0.7 points):

=====================================  =========  ========  =============  ========
layers                                 2 threads  1 thread  top-1 (2 / 1)  KL
=====================================  =========  ========  =============  ========
shipped (above)                        5.71x      4.72x     96.6 / 96.1 %  6.2e-5
float16 heads, the rest one-pass       6.96x      5.59x     94.0 / 93.2 %  1.3e-4
every layer one-pass int8              6.94x      5.89x     93.4 / 92.5 %  1.6e-4
=====================================  =========  ========  =============  ========

(The top-1 share moves by a point between the two runs at the same KL: the float32 reference's
sums change order with the thread count, and near-ties among 2048 random-weight codes flip.)
Plain fp32 decoding is bound by memory bandwidth, so a second thread barely speeds it (28.6 s
vs 30.8 s for 3 s of music), while int8 gains ~23 % (5.0 s vs 6.5 s): hence the two columns. On
one thread ~0.65 s of the 6.5 s is not the decoder (T5 0.15 s, EnCodec 0.5 s, as in plain
``generate``), and of a decoder step the two-pass layers take ~27 % (their kernel ~15 %, the
rounding ops ~12 %), the one-pass int8 ones ~10 %, the float16 ones ~10 %, the attention ~12 %
(py-spy). Each self-attention's ``q_proj``, ``k_proj`` and ``v_proj`` run as one int8 call
(:func:`_fuse_self_attention`, the same result to the bit), and the cross-attention skips the
null guidance row (:class:`~vmb.generate.musicgen.decoder.Branch`).

Quality check (used by the tests and ``benchmarks/bench_musicgen_int8.py``): run the float32
and the int8 model on the same inputs (same weights, same teacher-forced codes) and compare the
logits with :func:`compare_logits`: mean / minimum cosine similarity per position, the share of
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

# Kept out of int8, with float16 weights: the output heads and the attention outputs (their
# weights' int8 rounding costs the most per byte; see the module docstring).
FLOAT16_LAYERS = ("lm_heads", "out_proj")
# int8 layers whose activations get a second int8 pass over their rounding error (TwoPassLinear).
TWO_PASS_LAYERS = ("fc1", "fc2")


def keeps_float16(name: str, float16_layers: Sequence[str] = FLOAT16_LAYERS) -> bool:
    """Whether the Linear layer ``name`` (a ``named_modules`` path) gets float16 weights."""
    return _names(name, float16_layers)


def _names(name: str, layers: Sequence[str]) -> bool:
    return any(part in layers for part in name.split("."))


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


@functools.cache
def _two_pass_class():
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    class TwoPassLinear(DynamicLinear):
        """Dynamic int8 Linear whose activations get a second int8 pass for their rounding error.

        ``x [..., in]`` (as ``[N, in]``) is rounded onto the grid the int8 kernel itself would
        choose (min/max with 0, ``levels`` steps: 255 with 8-bit activations, 127 with torch's
        ``reduce_range``): ``first``. The rounding error ``x - first`` (at most half a step) is
        scaled by a gain ``k`` so that it fills the same grid: around 0 when the grid has room
        on both sides (``k = 2 min(zp, levels - zp) - 1 >= MIN_GAIN``), else around the grid's
        middle ``c`` with ``k = levels - 2``. Both go through the kernel as one batch
        ``[2N, in]``: the grid-exact ``first`` rows quantize losslessly, the second ones lose at
        most half a step, i.e. ``1 / (2k)`` of a first-pass step. So the activations are 14- to
        16-bit (with 8-bit ones) for the cost of an int8 Linear with twice the rows (on a CPU
        decoding 2 or 3 rows, the same weight read) and about ten elementwise ops::

            y = W first + (W (k (x - first) + c) - c W 1) / k + b      [N, out]

        Set up by :func:`quantize_decoder` (``_levels``, ``_reduce_range``, ``_row_sums``: the
        dequantized weight's row sums ``W 1``, ``_bias``).
        """

        MIN_GAIN = 63

        def forward(self, x):
            packed = self._packed_params._packed_params
            flat = x.reshape(-1, x.shape[-1])
            if flat.dtype != torch.float32:
                flat = flat.float()
            low, high = torch.aminmax(flat)
            low, high = min(low.item(), 0.0), max(high.item(), 0.0)
            levels = self._levels
            if not high > low:  # all zeros: nothing to round
                y = torch.ops.quantized.linear_dynamic(flat, packed, self._reduce_range)
                return y.view(*x.shape[:-1], y.shape[-1]).to(x.dtype)
            step = (high - low) / levels
            zero_point = min(max(round(-low / step), 0), levels)
            rows = flat.shape[0]
            batch = flat.new_empty((2 * rows, flat.shape[1]))
            first, second = batch[:rows], batch[rows:]
            # x / step rounds to the codes -zero_point .. levels - zero_point, both ends included
            # (x's min and max round there), so the batch's min/max give the kernel this very
            # grid back and `first` goes through it exactly
            torch.mul(flat, 1 / step, out=second)
            torch.round(second, out=first)
            second.sub_(first)  # (x - first) / step, within [-1/2, 1/2]
            first.mul_(step)
            room = 2 * min(zero_point, levels - zero_point) - 1  # room around 0 on the grid
            if room >= self.MIN_GAIN:  # the scaled error fits around 0
                gain, offset = room, 0.0
                second.mul_(gain * step)
            else:  # around the middle of the grid instead (e.g. after a GELU: x >= -0.17),
                # a step inside both of its ends
                gain, offset = levels - 2, (levels / 2 - zero_point) * step
                second.mul_(gain * step).add_(offset)
            both = torch.ops.quantized.linear_dynamic(batch, packed, self._reduce_range)
            y = torch.add(both[:rows], both[rows:], alpha=1 / gain)
            if self._bias is not None:  # the kernel added it to both passes
                y.sub_(self._bias, alpha=1 / gain)
            if offset:
                y.sub_(self._row_sums, alpha=offset / gain)
            y = y.view(*x.shape[:-1], y.shape[-1])
            return y if y.dtype == x.dtype else y.to(x.dtype)

    return TwoPassLinear


def quantize_decoder(model: Any, adapter: Any = None,
                     float16_layers: Sequence[str] = FLOAT16_LAYERS,
                     two_pass_layers: Sequence[str] = TWO_PASS_LAYERS) -> str:
    """Quantize ``model.decoder``'s Linear layers in place (CPU only); returns a note.

    Every Linear layer of the decoder gets int8 weights, per output channel, except
    ``float16_layers`` (default :data:`FLOAT16_LAYERS`: the output heads and the attention
    ``out_proj``), whose weights are packed as float16 (half the bytes of float32, no rounding
    that matters). Activations are quantized on the fly, with all 8 bits where the CPU allows it
    (:func:`full_range_activations`); the int8 layers named in ``two_pass_layers`` (default
    :data:`TWO_PASS_LAYERS`: ``fc1``, ``fc2``) get a second int8 pass over the activations'
    rounding error (``TwoPassLinear``). Layer names match any part of a ``named_modules`` path.
    The choice is measured in the module docstring and ``benchmarks/bench_musicgen_int8.py``.

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
    two_passed = []
    for module in targets:
        for name, layer in module.named_modules():
            if type(layer).__name__ != "Linear" or not _is_int8(layer):
                continue
            if _names(name, two_pass_layers):
                _make_two_pass(layer, full_range)
                two_passed.append(name)
            elif full_range:
                layer.__class__ = _full_range_class()
    for module in targets:
        _fuse_self_attention(module)
    engine = torch.backends.quantized.engine
    what = "decoder and ControlFormer" if len(targets) > 1 else "decoder"
    bits = "8-bit" if full_range else "7-bit"
    two_pass = sorted({n.rsplit(".", 1)[-1] for n in two_passed})
    second = ""
    if two_pass:
        second = f"; {', '.join(two_pass)} with a second int8 pass over the activation error"
    return (
        f"{what} Linear layers quantized to int8 (dynamic, per channel, {bits} activations, "
        f"{engine} engine; {', '.join(float16_layers) or 'no layer'} with float16 weights{second})"
    )


def _fuse_self_attention(module: Any) -> None:
    """Give every self-attention of ``module`` whose ``q_proj``, ``k_proj`` and ``v_proj`` are
    plain int8 Linear layers of one kind a ``qkv_proj``: the three as one int8 Linear, which the
    decoder calls once a step instead of three times (one activation quantization, one kernel
    call). The result is the same to the bit: the three layers quantize the same input onto the
    same grid, and each output channel keeps its own int8 weights and scale. ``q_proj``,
    ``k_proj`` and ``v_proj`` become :func:`_rows_class` views of it, so the weights are held
    once and other callers (the reference tokens) still find them."""
    import torch

    rows = _rows_class()
    for name, attention in list(module.named_modules()):
        if not name.endswith("self_attn"):
            continue
        parts = [getattr(attention, n, None) for n in ("q_proj", "k_proj", "v_proj")]
        kinds = {type(part) for part in parts}
        if len(kinds) != 1 or kinds & {rows, _two_pass_class()} or not all(map(_is_int8, parts)):
            continue
        weights, biases = zip(*(part._weight_bias() for part in parts))
        weight = torch._make_per_channel_quantized_tensor(
            torch.cat([w.int_repr() for w in weights]),
            torch.cat([w.q_per_channel_scales() for w in weights]),
            torch.cat([w.q_per_channel_zero_points() for w in weights]),
            0,
        )
        bias = None
        if any(b is not None for b in biases):
            bias = torch.cat([b if b is not None else w.new_zeros(w.shape[0], dtype=torch.float)
                              for w, b in zip(weights, biases)])  # fmt: skip
        out = [w.shape[0] for w in weights]
        fused = type(parts[0])(weights[0].shape[1], sum(out), dtype=torch.qint8)
        fused.set_weight_bias(weight, bias)
        attention.qkv_proj = fused
        start = 0
        for n, width in zip(("q_proj", "k_proj", "v_proj"), out):
            setattr(attention, n, rows(fused, start, start + width))
            start += width


@functools.cache
def _rows_class():
    from torch import nn

    class RowsOf(nn.Module):
        """Output channels ``start:stop`` of a fused int8 Linear: one of the projections
        :func:`_fuse_self_attention` folded into it (``weight()`` and ``bias()`` as a dynamic
        Linear has them, dequantized)."""

        def __init__(self, fused: nn.Module, start: int, stop: int):
            super().__init__()
            self.fused, self.start, self.stop = fused, start, stop

        def forward(self, x):
            return self.fused(x)[..., self.start : self.stop]

        def weight(self):
            return self.fused.weight().dequantize()[self.start : self.stop]

        def bias(self):
            bias = self.fused.bias()
            return None if bias is None else bias[self.start : self.stop]

        def extra_repr(self) -> str:
            return f"rows {self.start}:{self.stop} of the fused q/k/v projection"

    return RowsOf


def _make_two_pass(layer: Any, full_range: bool) -> None:
    """Turn a dynamic int8 Linear into a :func:`_two_pass_class` one, in place."""
    weight, bias = layer._weight_bias()
    layer.__class__ = _two_pass_class()
    layer._levels = 255 if full_range else 127
    layer._reduce_range = not full_range
    layer._row_sums = weight.dequantize().sum(dim=1)
    layer._bias = None if bias is None else bias.detach().float()


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
