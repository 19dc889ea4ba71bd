"""Mechanisms 2 and 3 of the music bridge: zero-init identity, effect once trained, files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from tiny.musicgen import one_torch_thread, tiny_melody_path, tiny_musicgen_path  # noqa: F401

import vmb.generate.musicgen.sampling as sampling_module
from vmb.errors import ConfigError, GenerationError, ModelUnavailable
from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen.adapters import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    AdapterConfig,
    create_adapter,
    load_adapter,
)
from vmb.testing import make_tone
from vmb.types import Bridges, Clip, Hit, MusicDescription

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    folder = tmp_path_factory.mktemp("refs")
    broad = make_tone(folder / "broad.wav", [261.63, 329.63, 392.0], seconds=3.0)
    targeted = make_tone(folder / "targeted.wav", [220.0, 277.18], seconds=3.0, sr=32000)
    return (
        Hit(Clip("broad-clip", str(broad), 0.0, 3.0, 44100), 0.9, 0, "broad"),
        Hit(Clip("targeted-clip", str(targeted), 0.5, 2.0, 32000), 0.8, 0, "targeted"),
    )


def bridges(references, music_weight=1.5) -> Bridges:
    text = "A dark cinematic score with strings, brass and choir, tense and epic."
    return Bridges(
        MusicDescription(text=text), text, references=references, music_weight=music_weight
    )


@pytest.fixture(scope="module", params=["musicgen", "melody"])
def base(request, tiny_musicgen_path, tiny_melody_path):  # noqa: F811
    path = {"musicgen": tiny_musicgen_path, "melody": tiny_melody_path}[request.param]
    return MusicGenGenerator.from_pretrained(path)


def with_adapter(base: MusicGenGenerator, adapter) -> MusicGenGenerator:
    """A second generator on the same model, with ``adapter`` attached."""
    return MusicGenGenerator(
        base.model, base.tokenizer, base.name, adapter=adapter, chroma=base.chroma
    )


def record_logits(monkeypatch) -> list[torch.Tensor]:
    """Every step's stacked guidance rows, as given to the guidance combination."""
    seen: list[torch.Tensor] = []
    combine = sampling_module.combine

    def spy(logits, weights):
        seen.append(logits.clone())
        return combine(logits, weights)

    monkeypatch.setattr(sampling_module, "combine", spy)
    return seen


@pytest.mark.parametrize("tokens,control", [(True, 2), (True, 0), (False, 1)])
def test_untrained_adapter_leaves_the_output_unchanged_to_the_bit(
    base, references, monkeypatch, tokens, control
):
    seen = record_logits(monkeypatch)
    plain = base.generate(bridges(references), 1.0, seed=4)
    plain_logits = list(seen)
    seen.clear()
    adapter = create_adapter(base.model, reference_tokens=tokens, control_layers=control)
    adapted = with_adapter(base, adapter).generate(bridges(references), 1.0, seed=4)
    assert np.array_equal(plain.audio, adapted.audio)
    assert any("3 rows" in note for note in adapted.notes)
    if base.is_melody:
        # Both runs have the same three rows (the melody fills the music row): equal logits.
        assert len(seen) == len(plain_logits)
        assert all(torch.equal(a, b) for a, b in zip(plain_logits, seen))
    else:
        # Without an adapter the music row is skipped; with an untrained one it equals the text row.
        assert all(rows.shape[0] == 3 and torch.equal(rows[2], rows[0]) for rows in seen)
    if tokens:
        assert any(
            "reference tokens: encodec embedding of targeted reference" in n for n in adapted.notes
        )
    if control:
        assert any("ControlFormer: EnCodec codes of broad reference" in n for n in adapted.notes)


def train_a_little(adapter) -> None:
    """Stand-in for training: open the gates and the zero layers."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if adapter.reference_tokens is not None:
            adapter.reference_tokens.gates.fill_(1.0)
            # the tiny random codec embeds all sounds alike: make small differences count
            adapter.reference_tokens.proj[0].weight.mul_(50.0)
        if adapter.control is not None:
            for layer in [adapter.control.zero_in, *adapter.control.zero_out]:
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * 0.3)


@pytest.mark.parametrize("tokens,control", [(True, 0), (False, 1)])
def test_trained_mechanisms_follow_the_reference(base, references, tmp_path, tokens, control):
    adapter = create_adapter(base.model, reference_tokens=tokens, control_layers=control)
    train_a_little(adapter)
    generator = with_adapter(base, adapter)
    plain = base.generate(bridges(references), 1.0, seed=4)
    adapted = generator.generate(bridges(references), 1.0, seed=4)
    assert not np.array_equal(plain.audio, adapted.audio)
    other_tone = make_tone(tmp_path / "other.wav", [493.88, 587.33], seconds=3.0)
    other = tuple(
        Hit(Clip(h.clip.id, str(other_tone), 0.0, 3.0, 44100), h.score, 0, h.track)
        for h in references
    )
    assert not np.array_equal(adapted.audio, generator.generate(bridges(other), 1.0, seed=4).audio)
    # music_weight 0 switches the whole music bridge off
    off = generator.generate(bridges(references, music_weight=0.0), 1.0, seed=4)
    assert np.array_equal(
        off.audio, base.generate(bridges(references, music_weight=0.0), 1.0, seed=4).audio
    )


def test_save_and_load_round_trip_without_pickle(base, references, tmp_path, monkeypatch):
    adapter = create_adapter(base.model, control_layers=1, num_tokens=3, proj_dim=16)
    train_a_little(adapter)
    folder = adapter.save_pretrained(tmp_path / "adapter")
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    saved = json.loads((folder / CONFIG_NAME).read_text())
    assert saved["format"] == "vmb-musicgen-adapter" and saved["num_tokens"] == 3
    header_length = int.from_bytes((folder / WEIGHTS_NAME).read_bytes()[:8], "little")
    assert json.loads(
        (folder / WEIGHTS_NAME).read_bytes()[8 : 8 + header_length]
    )  # a safetensors header

    def no_pickle(*args, **kwargs):
        raise AssertionError("loading an adapter must not unpickle")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    loaded = MusicGenGenerator.from_pretrained(base.name, adapter=folder)
    monkeypatch.undo()
    for name, tensor in adapter.state_dict().items():
        assert torch.equal(tensor, loaded.adapter.state_dict()[name]), name
    expected = with_adapter(base, adapter).generate(bridges(references), 0.5, seed=2)
    assert np.array_equal(loaded.generate(bridges(references), 0.5, seed=2).audio, expected.audio)
    assert any("adapter loaded from" in note for note in loaded.notes)


def test_bad_adapter_files(base, tmp_path):
    with pytest.raises(ModelUnavailable, match="adapter_config.json"):
        load_adapter(tmp_path / "nowhere", base.model)
    folder = create_adapter(base.model, control_layers=1).save_pretrained(tmp_path / "a")

    (folder / WEIGHTS_NAME).write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="safetensors"):
        load_adapter(folder, base.model)

    folder = create_adapter(base.model, control_layers=1).save_pretrained(tmp_path / "b")
    config = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "hidden_size": 8}))
    with pytest.raises(ConfigError, match="hidden_size"):
        load_adapter(folder, base.model)
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "format": "something-else"}))
    with pytest.raises(ConfigError, match="not a vmb MusicGen adapter"):
        load_adapter(folder, base.model)
    (folder / CONFIG_NAME).write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_adapter(folder, base.model)
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "control_layers": 2}))
    with pytest.raises(ConfigError, match="is missing"):
        load_adapter(folder, base.model)

    broken = create_adapter(base.model, control_layers=0)
    with torch.no_grad():
        broken.reference_tokens.gates.fill_(float("nan"))
    folder = broken.save_pretrained(tmp_path / "c")
    with pytest.raises(ConfigError, match="NaN"):
        load_adapter(folder, base.model)

    with pytest.raises(ConfigError, match="control_layers"):
        AdapterConfig.for_model(base.model, control_layers=99)
    with pytest.raises(ConfigError, match="embedding_source"):
        AdapterConfig.for_model(base.model, embedding_source="mert")


def test_adapter_for_another_architecture_is_refused(
    tiny_musicgen_path,  # noqa: F811
    tiny_melody_path,  # noqa: F811
    tmp_path,
):
    melody = MusicGenGenerator.from_pretrained(tiny_melody_path)
    folder = create_adapter(melody.model, control_layers=1).save_pretrained(
        tmp_path / "melody-adapter"
    )
    with pytest.raises(ConfigError, match="model_type"):
        MusicGenGenerator.from_pretrained(tiny_musicgen_path, adapter=folder)


def test_clap_embeddings_are_given_or_encoded(base, references):
    adapter = create_adapter(base.model, embedding_source="clap", control_layers=0)
    assert adapter.config.embedding_dim == 512
    train_a_little(adapter)
    generator = with_adapter(base, adapter)
    with pytest.raises(GenerationError, match="CLAP"):
        generator.generate(bridges(references), 0.5, seed=0)
    embedding = np.random.default_rng(0).standard_normal(512).astype(np.float32)
    given = generator.generate(bridges(references), 0.5, seed=0, reference_embedding=embedding)
    assert any("clap embedding of targeted reference" in note for note in given.notes)
    with pytest.raises(GenerationError, match="512"):
        generator.generate(bridges(references), 0.5, seed=0, reference_embedding=embedding[:100])

    calls = []

    def encoder(audio, sample_rate):
        calls.append((audio.shape, sample_rate))
        return embedding

    generator.reference_encoder = encoder
    encoded = generator.generate(bridges(references), 0.5, seed=0)
    assert calls and calls[0][1] == 32000  # the targeted clip, read at its own rate
    assert np.array_equal(encoded.audio, given.audio)

    class RetrieveStyleEncoder:  # the vmb.retrieve encoder interface
        def embed_audio(self, clips):
            return np.stack([embedding for _ in clips])

    generator.reference_encoder = RetrieveStyleEncoder()
    assert np.array_equal(generator.generate(bridges(references), 0.5, seed=0).audio, given.audio)


def test_absorbed_reference_attention_equals_the_plain_form(base):
    """Generation folds the projections into the tokens; training uses the plain form."""
    from vmb.generate.musicgen.adapters import ReferenceTokens

    adapter = create_adapter(base.model, control_layers=0, num_tokens=5)
    tokens = adapter.reference_tokens(torch.randn(3, adapter.config.embedding_dim))
    hidden = torch.randn(3, 7, adapter.config.hidden_size)
    for module in base.decoder.token_attention_modules():
        with torch.no_grad():
            keys, values = ReferenceTokens.project_keys(module, tokens)
            plain = ReferenceTokens.attend(module, hidden, keys, values)
            absorbed = ReferenceTokens.attend_absorbed(
                hidden, ReferenceTokens.absorb(module, tokens)
            )
        torch.testing.assert_close(absorbed, plain, rtol=1e-4, atol=1e-5)
