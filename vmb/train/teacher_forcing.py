"""Teacher-forced MusicGen with the music-bridge adapter active: the training-time twin of the
generator's sampling loop.

:class:`~vmb.generate.musicgen.MusicGenGenerator` runs the decoder one position at a time with a
KV cache and adds the adapter to the music row (c_text+music) of its guidance batch. Training
needs the same computation on whole sequences, with gradients, for a batch of clips: this
module builds it from the same public pieces (the transformers decoder layers, the adapter's
:class:`~vmb.generate.adapters.ReferenceTokens` and :class:`~vmb.generate.adapters.ControlFormer`)
in the same order, so that what is trained is what generates (a test checks that greedy
generation with a trained adapter picks the arg-max of these logits at every position):

* text bridge: T5 states projected to the decoder width, zeroed where the mask is 0
  (MusicGen: cross-attention keys; MusicGen-Melody: the conditioning prefix after the chroma);
* reference tokens: each layer's conditioning attention (cross-attention, or the melody
  model's prefix self-attention) gets ``tanh(g_l) · attention over the K tokens`` added;
* ControlFormer: the copied blocks run on ``hidden + zero_in(embedded reference codes)`` and the
  output of copy ``i`` is added after decoder block ``i``; the reference's frame ``j`` is
  aligned with the target's frame ``j`` on every codebook's delayed position (looped, as in
  generation);
* the delay pattern: codebook ``k`` holds frame ``j`` at position ``1 + delay[k] + j`` after the
  start token; positions outside a codebook's frames hold the pad id and carry no loss.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

IGNORE_INDEX = -100


def delays_of(model: Any) -> list[int]:
    """Codebook delays of a MusicGen model: ``k`` (mono) or ``k // 2`` (stereo interleaved)."""
    decoder = model.config.decoder
    step = 2 if int(decoder.audio_channels) == 2 else 1
    return [k // step for k in range(int(decoder.num_codebooks))]


def special_ids(model: Any) -> tuple[int, int]:
    """``(pad_id, start_id)`` as the generator reads them."""
    gen, dec = model.generation_config, model.config.decoder
    pad = gen.pad_token_id if gen.pad_token_id is not None else dec.pad_token_id
    start = gen.decoder_start_token_id if gen.decoder_start_token_id is not None else dec.bos_token_id
    return int(pad), int(start)


def delay_pattern(
    codes: Sequence[torch.Tensor], delays: Sequence[int], pad_id: int, start_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder inputs and labels of clips in MusicGen's delay pattern.

    Args:
        codes: one ``[K, F_b]`` long tensor per clip (lengths may differ).

    Returns:
        ``input_ids [B, K, L]`` (start token, then the delayed codes, pad elsewhere) and
        ``labels [B, K, L]`` (the next position's code, :data:`IGNORE_INDEX` where it is a pad),
        ``L = max F_b + max(delays)``.
    """
    K = len(delays)
    frames = max(int(c.shape[1]) for c in codes)
    length = 1 + frames + max(delays)
    seq = torch.full((len(codes), K, length), pad_id, dtype=torch.long)
    valid = torch.zeros((len(codes), K, length), dtype=torch.bool)
    seq[:, :, 0] = start_id
    for b, clip in enumerate(codes):
        n = int(clip.shape[1])
        for k, d in enumerate(delays):
            seq[b, k, 1 + d : 1 + d + n] = clip[k].long().cpu()
            valid[b, k, 1 + d : 1 + d + n] = True
    labels = seq[:, :, 1:].masked_fill(~valid[:, :, 1:], IGNORE_INDEX)
    return seq[:, :, :-1].contiguous(), labels.contiguous()


def reference_ids(
    references: Sequence[torch.Tensor | None], positions: int, delays: Sequence[int], pad_id: int
) -> torch.Tensor:
    """The reference codes the ControlFormer reads at each decoder position ``[B, K, q]``.

    Position ``p`` of codebook ``k`` reads the reference's frame ``(p - 1 - delay[k]) mod F``
    (the generator's alignment with frame offset 0); the pad id before a codebook's first frame
    and everywhere for a missing (``None``, dropped) reference.
    """
    K = len(delays)
    out = torch.full((len(references), K, positions), pad_id, dtype=torch.long)
    steps = torch.arange(positions)
    for b, ref in enumerate(references):
        if ref is None:
            continue
        frames = int(ref.shape[1])
        for k, d in enumerate(delays):
            frame = steps - 1 - d
            ok = frame >= 0
            out[b, k, ok] = ref[k, frame[ok] % frames].long().cpu()
    return out


@dataclass
class MusicBatch:
    """One training batch on the model's device.

    Attributes:
        input_ids: ``[B, K, q]`` delayed codes (see :func:`delay_pattern`); ``labels`` the same shape.
        text_states: T5 states ``[B, S, D_text]``; ``text_mask`` ``[B, S]`` (0 everywhere for a
            dropped text).
        token_embeddings: reference embeddings ``[B, E]`` for the reference tokens (zeros for a
            dropped reference), or ``None``.
        control_ids: ``[B, K, q]`` reference codes per position for the ControlFormer, or ``None``.
        chroma: MusicGen-Melody only: one ``[F, 12]`` chroma per row (``None``: the null melody).
        text_lengths: each row's number of text tokens before padding (and before dropout).
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    text_states: torch.Tensor
    text_mask: torch.Tensor
    token_embeddings: torch.Tensor | None = None
    control_ids: torch.Tensor | None = None
    chroma: list[torch.Tensor | None] | None = None
    text_lengths: list[int] | None = None

    @property
    def tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())


class MusicBridgeForward:
    """Whole-sequence decoder forward with the adapter active (gradients flow to the adapter).

    ``MusicBridgeForward(model, adapter)(batch) -> logits [B, K, q, V]``; ``adapter=None`` gives
    the frozen base model's logits (the c_text row of generation).
    """

    def __init__(self, model: Any, adapter: Any = None):
        self.model = model
        self.adapter = adapter
        self.is_melody = model.config.model_type == "musicgen_melody"
        self.decoder = model.decoder.model.decoder
        self.num_codebooks = int(model.config.decoder.num_codebooks)

    # -- conditioning -------------------------------------------------------------------------

    def _project_text(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        project = getattr(self.model, "enc_to_dec_proj", None)
        if project is not None:
            states = project(states)
        return states * mask[..., None].to(states.dtype)

    def _melody_prefix(self, chroma: list[torch.Tensor | None], text: torch.Tensor) -> torch.Tensor:
        """``[B, chroma_length + S, D]``: each row's projected, looped chroma, then its text."""
        config = self.model.config
        device, dtype = text.device, text.dtype
        rows = []
        for melody in chroma:
            if melody is None:
                melody = torch.zeros((1, config.num_chroma), device=device, dtype=dtype)
                melody[:, 0] = 1
            melody = melody.to(device, dtype)[None]
            if config.num_chroma != self.model.decoder.config.hidden_size:
                melody = self.model.audio_enc_to_dec_proj(melody)
            length = config.chroma_length
            if melody.shape[1] < length:
                melody = melody.repeat(1, math.ceil(length / melody.shape[1]), 1)
            rows.append(melody[:, :length])
        return torch.cat([torch.cat(rows, dim=0), text], dim=1)

    def _attention_modules(self) -> list[nn.Module]:
        layers = self.decoder.layers
        return [layer.self_attn if self.is_melody else layer.encoder_attn for layer in layers]

    @contextlib.contextmanager
    def _reference_tokens(self, embeddings: torch.Tensor | None):
        """Each layer's zero-gated attention over the reference tokens, while active."""
        adapter = self.adapter
        if adapter is None or adapter.reference_tokens is None or embeddings is None:
            yield
            return
        from vmb.generate.adapters import ReferenceTokens

        tokens = adapter.reference_tokens(embeddings.float())  # [B, K_tok, D]
        handles = []
        for index, module in enumerate(self._attention_modules()):
            keys, values = ReferenceTokens.project_keys(module, tokens.to(module.q_proj.weight.dtype))

            def hook(module, args, kwargs, output, keys=keys, values=values, index=index):
                hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
                extra = ReferenceTokens.attend(module, hidden, keys.to(hidden.dtype), values.to(hidden.dtype))
                gate = torch.tanh(adapter.reference_tokens.gates[index])
                return (output[0] + gate.to(output[0].dtype) * extra, *output[1:])

            handles.append(module.register_forward_hook(hook, with_kwargs=True))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    # -- forward ------------------------------------------------------------------------------

    def _run_layer(self, layer, hidden, self_mask, cross_mask, encoder_states):
        if self.is_melody:
            out = layer(hidden, attention_mask=self_mask, use_cache=False)
        else:
            out = layer(hidden, self_mask, encoder_states, encoder_attention_mask=cross_mask, use_cache=False)
        return out[0] if isinstance(out, tuple) else out

    def __call__(self, batch: MusicBatch) -> torch.Tensor:
        """Logits ``[B, K, q, V]`` of the next code at every position of ``batch.input_ids``."""
        from transformers.masking_utils import create_bidirectional_mask, create_causal_mask

        decoder = self.decoder
        ids = batch.input_ids
        text = self._project_text(batch.text_states, batch.text_mask)
        embeds = sum(decoder.embed_tokens[k](ids[:, k]) for k in range(self.num_codebooks))
        prefix_length = 0
        encoder_states = encoder_mask = None
        if self.is_melody:
            prefix = self._melody_prefix(batch.chroma or [None] * ids.shape[0], text)
            prefix_length = prefix.shape[1]
            embeds = torch.cat([prefix.to(embeds.dtype), embeds], dim=1)
            hidden = embeds + decoder.embed_positions(embeds, 0)
        else:
            encoder_states, encoder_mask = text, batch.text_mask
            hidden = embeds + decoder.embed_positions(ids, 0)

        self_mask = create_causal_mask(config=decoder.config, inputs_embeds=hidden, attention_mask=None,
                                       past_key_values=None)  # fmt: skip
        cross_mask = None
        if encoder_states is not None:
            cross_mask = create_bidirectional_mask(
                config=decoder.config, inputs_embeds=hidden, attention_mask=encoder_mask,
                encoder_hidden_states=encoder_states,
            )  # fmt: skip

        residuals: list[torch.Tensor] = []
        control = None if self.adapter is None else self.adapter.control
        if control is not None and batch.control_ids is not None:
            code_embeddings = control.embed_codes(batch.control_ids)
            if prefix_length:
                pad = code_embeddings.new_zeros((ids.shape[0], prefix_length, code_embeddings.shape[-1]))
                code_embeddings = torch.cat([pad, code_embeddings], dim=1)

            def run_block(block, x):
                return self._run_layer(block, x, self_mask, cross_mask, encoder_states)

            residuals = control(hidden, code_embeddings.to(hidden.dtype), run_block)

        with self._reference_tokens(batch.token_embeddings):
            for index, layer in enumerate(decoder.layers):
                hidden = self._run_layer(layer, hidden, self_mask, cross_mask, encoder_states)
                if index < len(residuals):
                    hidden = hidden + residuals[index]
        hidden = decoder.layer_norm(hidden[:, prefix_length:])
        return torch.stack([head(hidden) for head in self.model.decoder.lm_heads], dim=1)


def codebook_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over all codebooks and valid positions: logits ``[B, K, q, V]``, labels
    ``[B, K, q]`` (:data:`IGNORE_INDEX` where there is no target)."""
    return nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


__all__ = [
    "IGNORE_INDEX",
    "MusicBatch",
    "MusicBridgeForward",
    "codebook_loss",
    "delay_pattern",
    "delays_of",
    "reference_ids",
    "special_ids",
]
