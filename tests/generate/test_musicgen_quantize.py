"""int8 dynamic quantization of the decoder and its quality check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny.musicgen import one_torch_thread, tiny_musicgen_path  # noqa: F401

from vmb.errors import ConfigError
from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen.quantize import compare_logits, full_range_activations, keeps_float16
from vmb.types import Bridges, MusicDescription

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TEXT = "Playful jazz with walking bass, brushed drums and vibraphone, fun and upbeat."


def test_compare_logits():
    logits = torch.randn(3, 4, 64)
    same = compare_logits(logits, logits.clone())
    assert same["cosine_mean"] == pytest.approx(1.0) and same["top1_agreement"] == 1.0
    assert same["kl_mean"] == pytest.approx(0.0, abs=1e-6)
    other = compare_logits(logits, torch.randn(3, 4, 64))
    assert other["cosine_mean"] < 0.5 and other["kl_mean"] > 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        compare_logits(logits, logits[:2])


def test_compare_logits_on_logits_that_differ():
    """The metrics against their definitions, on logits that really differ (a metric that
    compared a tensor with itself would fail here)."""
    g = torch.Generator().manual_seed(0)
    reference = torch.randn(8, 50, generator=g)
    candidate = reference + 0.3 * torch.randn(8, 50, generator=g)
    swapped = reference.clone()
    top = reference.argmax(-1)
    swapped[:3, top[:3]] -= 10.0  # rows 0-2 lose their top code: exactly 5 of 8 agree
    got = compare_logits(reference, swapped)
    assert got["top1_agreement"] == pytest.approx(5 / 8)
    ref, cand = reference.double().numpy(), candidate.double().numpy()
    cosine = (ref * cand).sum(-1) / np.linalg.norm(ref, axis=-1) / np.linalg.norm(cand, axis=-1)
    p = np.exp(ref - ref.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    q = np.exp(cand - cand.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    kl = (p * (np.log(p) - np.log(q))).sum(-1)
    got = compare_logits(reference, candidate)
    assert got["cosine_mean"] == pytest.approx(cosine.mean(), abs=1e-5) and got["cosine_mean"] < 0.99
    assert got["cosine_min"] == pytest.approx(cosine.min(), abs=1e-5)
    assert got["kl_mean"] == pytest.approx(kl.mean(), rel=1e-3) and got["kl_mean"] > 0.01
    assert got["top1_agreement"] == pytest.approx((ref.argmax(-1) == cand.argmax(-1)).mean())
    sharper = compare_logits(reference, 2 * reference)  # same direction, same argmax, other p
    assert sharper["cosine_min"] == pytest.approx(1.0) and sharper["top1_agreement"] == 1.0
    assert sharper["kl_mean"] > 0.1


def test_int8_decoder_generates_and_stays_close_to_float32(tiny_musicgen_path):  # noqa: F811
    full = MusicGenGenerator.from_pretrained(tiny_musicgen_path)
    int8 = MusicGenGenerator.from_pretrained(tiny_musicgen_path, quantize="int8")
    # What is stored: int8 weights per output channel (the heads, fc2, out_proj: float16);
    # no float32 Linear is left in the decoder.
    layers = dict(int8.model.decoder.named_modules())
    linear = {n: m for n, m in full.model.decoder.named_modules() if type(m) is torch.nn.Linear}
    assert not [n for n, m in layers.items() if type(m) is torch.nn.Linear]
    for name, original in linear.items():
        packed = layers[name]._packed_params
        if keeps_float16(name):
            assert packed.dtype == torch.float16, name
            continue
        weight = layers[name].weight()
        assert packed.dtype == torch.qint8 and weight.dtype == torch.qint8, name
        assert weight.qscheme() == torch.per_channel_affine, name
        assert weight.q_per_channel_scales().numel() == original.out_features
        assert weight.int_repr().abs().max() == 127  # the full int8 range is used
        rebuilt = weight.dequantize()
        assert 0 < (rebuilt - original.weight).abs().max() <= weight.q_per_channel_scales().max() / 2 + 1e-6
    int8_names = [n for n in linear if not keeps_float16(n)]
    assert [n.rsplit(".", 1)[-1] for n in int8_names[:5]] == ["k_proj", "v_proj", "q_proj", "k_proj", "v_proj"]
    assert all(n.endswith(("q_proj", "k_proj", "v_proj", "fc1")) for n in int8_names)
    assert type(layers[int8_names[0]]).__name__ == (
        "FullRangeLinear" if full_range_activations() else "Linear"
    )
    assert any("int8" in note for note in int8.notes)
    for once_per_window in (int8.model.audio_encoder, int8.model.text_encoder):
        assert not any("quantized" in type(m).__module__ for m in once_per_window.modules())

    bridges = Bridges(MusicDescription(text=TEXT), TEXT)
    result = int8.generate(bridges, 1.0, seed=0)
    assert result.audio.shape == (1, 32000) and np.isfinite(result.audio).all()

    # Quality: same weights, same teacher-forced codes, float32 vs int8 logits.
    codes = torch.randint(0, 64, (4, 40), generator=torch.Generator().manual_seed(0))
    inputs = full.tokenizer([TEXT], return_tensors="pt")
    with torch.inference_mode():
        reference = full.model(**inputs, decoder_input_ids=codes).logits
        candidate = int8.model(**inputs, decoder_input_ids=codes).logits
    quality = compare_logits(reference, candidate)
    assert quality["cosine_mean"] > 0.99 and quality["cosine_min"] > 0.95
    assert quality["top1_agreement"] > 0.8


def test_int8_is_cpu_only(tiny_musicgen_path):  # noqa: F811
    with pytest.raises(ConfigError, match="cuda"):
        MusicGenGenerator.from_pretrained(tiny_musicgen_path, device="cuda", quantize="int8")
