"""The one decoder forward: teacher-forced (training) logits equal the incremental KV-cached
(sampling) logits position by position, with an adapter that is not a no-op; the delay pattern."""

from __future__ import annotations

import pytest
import torch
from tiny.musicgen import one_torch_thread, tiny_melody_path, tiny_musicgen_path  # noqa: F401

from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen.adapters import create_adapter
from vmb.generate.musicgen.pattern import IGNORE_INDEX, CodebookPattern
from vmb.train.teacher_forcing import MusicBatch, MusicBridgeForward

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TEXT = "Playful jazz with walking bass, brushed drums and vibraphone, fun and upbeat."


def _active_adapter(model, control_layers: int):
    """An adapter whose gates are open and whose zero layers are not zero: it changes the logits."""
    torch.manual_seed(1)
    adapter = create_adapter(model, control_layers=control_layers, num_tokens=3, proj_dim=16)
    with torch.no_grad():
        adapter.reference_tokens.gates.fill_(0.7)
        if adapter.control is not None:
            for layer in [adapter.control.zero_in, *adapter.control.zero_out]:
                layer.weight.normal_(0, 0.3)
    return adapter.eval()


def _batch(generator, frames: int) -> MusicBatch:
    model = generator.model
    g = torch.Generator().manual_seed(0)
    K, V = generator.num_codebooks, generator.vocab_size
    target = torch.randint(0, V, (K, frames), generator=g)
    ids, labels = generator.pattern.teacher_forcing([target])
    tokens = generator.tokenizer([TEXT], return_tensors="pt")
    with torch.no_grad():
        states = model.text_encoder(**tokens).last_hidden_state
    embedding = torch.randn(1, model.config.audio_encoder.codebook_dim, generator=g)
    reference = torch.randint(0, V, (K, 7), generator=g)  # shorter than the target: it loops
    chroma = None
    if generator.is_melody:
        chroma = [torch.nn.functional.one_hot(torch.randint(0, 12, (9,), generator=g), 12).float()]
    return MusicBatch(ids, labels, states, tokens["attention_mask"], embedding, [reference], chroma,
                      [states.shape[1]])  # fmt: skip


@pytest.mark.parametrize("melody", [False, True])
def test_teacher_forced_logits_equal_the_kv_cached_steps(tiny_musicgen_path, tiny_melody_path, melody):  # noqa: F811
    generator = MusicGenGenerator.from_pretrained(tiny_melody_path if melody else tiny_musicgen_path)
    model = generator.model
    adapter = _active_adapter(model, control_layers=0 if melody else 1)
    batch = _batch(generator, frames=12)
    forward = MusicBridgeForward(model, adapter)
    with torch.no_grad():
        full = forward(batch)  # [1, K, L, V]
        base = MusicBridgeForward(model, None)(batch)
        assert full.shape == (1, 4, 12 + 3, generator.vocab_size)
        assert (full - base).abs().max() > 1e-2  # the adapter is really active

        state = forward.state(batch)  # the same conditioning, now with KV buffers
        decoder = forward.decoder
        prefix = 0 if state.prefix is None else state.prefix.shape[1]
        capacity = prefix + batch.input_ids.shape[-1]
        state.main = decoder.branch(decoder.layers.layers, state.encoder_hidden_states, capacity)
        if state.control is not None:
            state.control = decoder.branch(adapter.control.blocks, state.encoder_hidden_states, capacity)
        steps = [decoder(batch.input_ids[:, :, p : p + 1], state) for p in range(full.shape[2])]
    incremental = torch.stack(steps, dim=2)  # [1, K, L, V]
    torch.testing.assert_close(incremental, full, rtol=1e-4, atol=1e-4)


def test_the_delay_pattern_round_trips():
    pattern = CodebookPattern(delays=(0, 1, 2, 3), pad_id=64, start_id=64)
    codes = torch.arange(4 * 5).view(4, 5)
    ids, labels = pattern.teacher_forcing([codes])
    assert ids.shape == labels.shape == (1, 4, 5 + 3)  # the last position has no label
    assert ids[0, 3, :5].tolist() == [64, 64, 64, 64, 15]  # codebook 3 starts 3 steps late
    assert int((labels != IGNORE_INDEX).sum()) == 20
    seq, fixed = pattern.sequence(frames=5, prompt=codes[:, :2])
    assert torch.equal(pattern.undelay(seq, 2), codes[:, :2]) and int((~fixed).sum()) == 4 * 3
    stereo = CodebookPattern.of(type("M", (), {
        "config": type("C", (), {"decoder": type("D", (), {"audio_channels": 2, "num_codebooks": 8,
                                                           "pad_token_id": 9, "bos_token_id": 9})})(),
        "generation_config": type("G", (), {"pad_token_id": None, "decoder_start_token_id": None})(),
    })())  # fmt: skip
    assert stereo.delays == (0, 0, 1, 1, 2, 2, 3, 3) and (stereo.pad_id, stereo.start_id) == (9, 9)
    ref = pattern.reference_ids([codes, None], start=0, positions=8, frame_offset=1)
    assert ref[0, 0, 1:].tolist() == [1, 2, 3, 4, 0, 1, 2] and (ref[1] == 64).all()


def test_the_cross_attention_reads_only_the_rows_that_have_text(tiny_musicgen_path):  # noqa: F811
    """A null text row (guidance's unconditional row) is all masked: its keys/values are not
    kept, and the layer's output equals the one computed over every row with the mask."""
    generator = MusicGenGenerator.from_pretrained(tiny_musicgen_path)
    decoder = generator.decoder
    layers = decoder.layers.layers
    states = torch.randn(3, 5, layers[0].encoder_attn.embed_dim)
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    states = states * mask[..., None]
    live = decoder.branch(layers, states, capacity=8, encoder_mask=mask)
    every = decoder.branch(layers, states, capacity=8)
    assert live.live.tolist() == [0, 2] and every.live is None
    assert live.cross[0][0].shape[0] == 2 and every.cross[0][0].shape[0] == 3
    from transformers.masking_utils import create_bidirectional_mask

    hidden = torch.randn(3, 1, states.shape[-1])
    cross_mask = create_bidirectional_mask(config=decoder.layers.config, inputs_embeds=hidden,
                                           attention_mask=mask, encoder_hidden_states=states)  # fmt: skip
    with torch.inference_mode():
        a = decoder.layer(layers[0], hidden, live, 0, cross_mask)
        b = decoder.layer(layers[0], hidden, every, 0, cross_mask)
    assert torch.equal(a, b)
    assert live.live_masks[1] is not None  # row 0 has padding: its mask is kept
    all_text = decoder.branch(layers, states[[0, 2]][:, :3], 8, torch.ones(2, 3, dtype=torch.long))
    assert all_text.live is None
