"""``vmb models import laion-clap``: a tiny checkpoint in laion-clap's training layout becomes a
transformers ``ClapModel`` folder that vmb's CLAP encoder loads; its text embeddings equal
laion-clap's text path applied to the original weights, and a Swin window attention of the
audio tower equals HTSAT's on the fused ``qkv`` weights. Bad input: one line, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from convert.original_layouts import (
    htsat_window_attention,
    laion_clap_state,
    laion_text_embedding,
    write_laion_clap_checkpoint,
)
from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from tiny.clap import save_tiny_clap

    return save_tiny_clap(tmp_path_factory.mktemp("clap-base") / "clap", seed=3)


@pytest.fixture(scope="module")
def text_config(base) -> dict:
    config = json.loads((base / "config.json").read_text())["text_config"]
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "type_vocab_size", "pad_token_id", "layer_norm_eps")  # fmt: skip
    return {k: config[k] for k in keys if k in config}


@pytest.fixture(scope="module")
def original(text_config) -> dict:
    return laion_clap_state(text_config, seed=7)


@pytest.fixture(scope="module")
def converted(original, base, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("laion")
    checkpoint = write_laion_clap_checkpoint(folder / "music_epoch_15.pt", original)
    out = folder / "clap-hf"
    result = runner.invoke(app, ["models", "import", "laion-clap", str(checkpoint), "--out", str(out),
                                 "--base", str(base), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_text_embeddings_equal_laion_clap_on_the_original_weights(converted, original, text_config):
    from vmb.retrieve.encoders.clap import ClapEncoder

    encoder = ClapEncoder.from_pretrained(str(converted), device="cpu")  # the production loader
    texts = ["a calm piano track with a slow tempo", "fast jazz with saxophone and drums"]
    ours = encoder.embed_text(texts)
    tokens = encoder.processor.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = laion_text_embedding(original, text_config, tokens["input_ids"], tokens["attention_mask"]).numpy()
    assert not np.allclose(theirs[0], theirs[1], atol=1e-3)  # two texts, two embeddings
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_audio_window_attention_equals_htsat_and_audio_embeds(converted, original):
    from vmb.retrieve.encoders.clap import ClapEncoder

    encoder = ClapEncoder.from_pretrained(str(converted), device="cpu")
    block = encoder.model.audio_model.audio_encoder.layers[1].blocks[0]
    x = torch.randn(3, 64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = block.attention(x)[0]
        theirs = htsat_window_attention(original, "audio_branch.layers.1.blocks.0.", x, heads=2, window=8)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert torch.equal(encoder.model.audio_model.audio_encoder.batch_norm.running_var,
                       original["audio_branch.bn0.running_var"])  # fmt: skip
    t = np.arange(48000 * 2) / 48000
    audio = np.stack([np.sin(2 * np.pi * 220 * t), np.sign(np.sin(2 * np.pi * 3 * t))]).astype(np.float32)
    vectors = encoder.embed_audio([(audio[:1], 48000), (audio[1:], 48000)])
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("text_file", "not a PyTorch checkpoint"),
        ("audiocraft", "not a laion-clap checkpoint"),
        ("missing", "missing weight 'audio_branch.layers.0.blocks.0.attn.proj.weight'"),
        ("wrong_shape", "weight 'text_branch.encoder.layer.0.intermediate.dense.weight' has shape (40, 32)"),
        ("fusion", "a fusion checkpoint"),
        ("extra", "with no place in transformers' ClapModel"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, expected, original, base, tmp_path):
    checkpoint = tmp_path / "ckpt.pt"
    state = dict(original)
    if case == "text_file":
        checkpoint.write_text("{}\n")
    elif case == "audiocraft":
        torch.save({"best_state": {"emb.0.weight": torch.zeros(3, 2)}, "xp.cfg": ""}, checkpoint)
    else:
        if case == "missing":
            del state["audio_branch.layers.0.blocks.0.attn.proj.weight"]
        elif case == "wrong_shape":
            state["text_branch.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(40, 32)
        elif case == "fusion":
            state["audio_branch.fusion_model.local_att.0.weight"] = torch.zeros(4, 4)
        elif case == "extra":
            state["audio_branch.layers.0.blocks.0.rogue.weight"] = torch.zeros(2)
        write_laion_clap_checkpoint(checkpoint, state)
    out = tmp_path / "out"
    result = runner.invoke(app, ["models", "import", "laion-clap", str(checkpoint), "--out", str(out), "--base", str(base)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.output
    assert not out.exists()


def test_unknown_kind_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["models", "import", "openclip", str(tmp_path)])
    assert result.exit_code == 2 and "unknown kind 'openclip'" in result.output
