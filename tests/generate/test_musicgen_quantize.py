"""int8 dynamic quantization of the decoder and its quality check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny.musicgen import one_torch_thread, tiny_musicgen_path  # noqa: F401

from vmb.errors import ConfigError
from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen.quantize import compare_logits
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


def test_int8_decoder_generates_and_stays_close_to_float32(tiny_musicgen_path):  # noqa: F811
    full = MusicGenGenerator.from_pretrained(tiny_musicgen_path)
    int8 = MusicGenGenerator.from_pretrained(tiny_musicgen_path, quantize="int8")
    quantized = [
        m
        for m in int8.model.decoder.modules()
        if type(m).__name__ == "Linear" and "dynamic" in type(m).__module__
    ]
    plain = [m for m in int8.model.decoder.modules() if type(m) is torch.nn.Linear]
    assert quantized and not plain
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
