"""Teacher-forced MusicGen with the music-bridge adapter active: the generator's own decoder
forward (:class:`~vmb.generate.musicgen.decoder.MusicGenDecoder`) on whole sequences.

The sampling loop runs that forward one position at a time with KV buffers and the adapter on
the music row (c_text+music) of its guidance batch; training runs the same forward once per
batch, with no cache, the adapter on every row and gradients to the adapter. What is trained
is therefore what generates, by construction (a test checks that the teacher-forced logits
equal the incremental KV-cached logits position by position):

* text bridge: T5 states projected to the decoder width, zeroed where the mask is 0
  (MusicGen: cross-attention keys; MusicGen-Melody: the conditioning prefix after the chroma);
* reference tokens: each layer's conditioning attention gets ``tanh(g_l) ·`` the attention over
  the row's reference tokens;
* ControlFormer: the copied blocks read the reference's codes, frame ``j`` aligned with the
  target's frame ``j`` on every codebook's delayed position (looped, as in generation);
* the delay pattern (:class:`~vmb.generate.musicgen.pattern.CodebookPattern`): positions
  outside a codebook's frames hold the pad id and carry no loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vmb.generate.musicgen.conditioning import (
    fit_chroma,
    null_melody,
    project_chroma,
    project_text,
)
from vmb.generate.musicgen.decoder import DecoderState, MusicGenDecoder
from vmb.generate.musicgen.pattern import IGNORE_INDEX


@dataclass
class MusicBatch:
    """One training batch on the model's device.

    Attributes:
        input_ids: ``[B, K, q]`` delayed codes
            (:meth:`~vmb.generate.musicgen.pattern.CodebookPattern.teacher_forcing`);
            ``labels`` the same shape.
        text_states: T5 states ``[B, S, D_text]``; ``text_mask`` ``[B, S]`` (0 everywhere for a
            dropped text).
        token_embeddings: reference embeddings ``[B, E]`` for the reference tokens (zeros for a
            dropped reference), or ``None``.
        control_codes: per row, the reference's codes ``[K, F]`` for the ControlFormer
            (``None``: a dropped reference), or ``None`` without a ControlFormer.
        chroma: MusicGen-Melody only: one ``[F, 12]`` chroma per row (``None``: the null melody).
        text_lengths: each row's number of text tokens before padding (and before dropout).
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    text_states: torch.Tensor
    text_mask: torch.Tensor
    token_embeddings: torch.Tensor | None = None
    control_codes: list[torch.Tensor | None] | None = None
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
        self.decoder = MusicGenDecoder(model, adapter)
        self.is_melody = self.decoder.is_melody

    def _melody_prefix(self, chroma: list[torch.Tensor | None], text: torch.Tensor) -> torch.Tensor:
        """``[B, chroma_length + S, D]``: each row's projected, looped chroma, then its text."""
        rows = []
        for melody in chroma:
            if melody is None:
                melody = null_melody(self.model, 1, text.device, text.dtype)
            else:
                melody = melody.to(text.device, text.dtype)[None]
            rows.append(fit_chroma(self.model, project_chroma(self.model, melody)))
        return torch.cat([torch.cat(rows, dim=0), text], dim=1)

    def state(self, batch: MusicBatch) -> DecoderState:
        """The decoder state of a batch: the adapter on every row, no cache."""
        decoder, adapter = self.decoder, self.adapter
        rows = batch.input_ids.shape[0]
        text = project_text(self.model, batch.text_states, batch.text_mask)
        state = DecoderState(rows=rows, main=None, adapter_row=0)
        if self.is_melody:
            state.prefix = self._melody_prefix(batch.chroma or [None] * rows, text)
        else:
            state.encoder_hidden_states = text
            state.encoder_attention_mask = batch.text_mask
        encoder_states = state.encoder_hidden_states
        state.main = decoder.branch(decoder.layers.layers, encoder_states, capacity=None)
        if adapter is None:
            return state
        if adapter.reference_tokens is not None and batch.token_embeddings is not None:
            tokens = adapter.reference_tokens(batch.token_embeddings.float())  # [B, K_tok, D]
            state.token_keys = decoder.absorb_tokens(tokens)
        if adapter.control is not None and batch.control_codes is not None:
            state.control = decoder.branch(adapter.control.blocks, encoder_states, capacity=None)
            state.control_codes = batch.control_codes
        return state

    def __call__(self, batch: MusicBatch) -> torch.Tensor:
        """Logits ``[B, K, q, V]`` of the next code at every position of ``batch.input_ids``."""
        return self.decoder(batch.input_ids, self.state(batch), all_positions=True)


def codebook_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over all codebooks and valid positions: logits ``[B, K, q, V]``, labels
    ``[B, K, q]`` (:data:`IGNORE_INDEX` where there is no target)."""
    return nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


__all__ = ["IGNORE_INDEX", "MusicBatch", "MusicBridgeForward", "codebook_loss"]
