"""The one decoder forward of MusicGen[-Melody] with the music-bridge adapter: used by the
sampling loop (one position at a time, with KV buffers) and by teacher-forced training (whole
sequences, no cache, gradients to the adapter).

Each decoder layer is computed explicitly, as transformers computes it in eval mode (pre-norm
self-attention, cross-attention for MusicGen, feed-forward), so that

* the self-attention writes its keys and values into preallocated :class:`KVBuffer` s instead
  of concatenating at every step (a copy that costs ~2.5 ms a layer at the end of a 30 s window
  on CPU), and the cross-attention keys of the text are computed once per window;
* the adapter acts inline on the rows it is meant for (``state.adapter_row`` onwards: the
  c_text+music row of the guidance batch in generation, every row in training):
  - *reference tokens*: the attention that reads the conditioning (cross-attention in MusicGen,
    the prefix self-attention in MusicGen-Melody) gets ``tanh(g_l) ·`` a second softmax over the
    reference tokens (:meth:`~vmb.generate.musicgen.adapters.ReferenceTokens.attend_absorbed`);
  - *ControlFormer*: the copied blocks read the reference codes laid out with the delay pattern
    (:meth:`~vmb.generate.musicgen.pattern.CodebookPattern.reference_ids`) and their residuals
    are added after the frozen blocks.

With no adapter and one row this is exactly transformers' decoder (a test checks generation
against ``model.generate`` to the bit); with the adapter, the training logits equal the
incremental KV-cached logits position by position (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.functional import dropout
from torch.nn.functional import scaled_dot_product_attention as attention

from vmb.generate.musicgen.pattern import CodebookPattern


class KVBuffer:
    """The keys and values of one self-attention layer, written into a preallocated
    ``[B, H, capacity, d]`` buffer (grown by doubling if ever needed)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def update(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``[B, H, q, d]``; returns all keys and values so far (views)."""
        end = self.length + keys.shape[2]
        if self._keys is None or end > self.capacity:
            self._grow(
                keys,
                values,
                max(end, 2 * self.capacity if self._keys is not None else self.capacity),
            )
        self._keys[:, :, self.length : end] = keys
        self._values[:, :, self.length : end] = values
        self.length = end
        return self._keys[:, :, :end], self._values[:, :, :end]

    def _grow(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        b, h, _, d = keys.shape
        new_keys = keys.new_empty((b, h, capacity, d))
        new_values = values.new_empty((b, h, capacity, values.shape[-1]))
        if self._keys is not None:
            new_keys[:, :, : self.length] = self._keys[:, :, : self.length]
            new_values[:, :, : self.length] = self._values[:, :, : self.length]
        self._keys, self._values, self.capacity = new_keys, new_values, capacity


@dataclass
class Branch:
    """What a stack of decoder layers needs: one KV buffer per layer (``None``: no cache, the
    whole sequence in one forward), and for MusicGen the cross-attention keys/values of the
    text per layer and their masks by query length.

    ``live``: the rows that have text (``None``: every row). A null text row (classifier-free
    guidance's unconditional row, a dropped caption) is all masked, and the attention gives it
    exactly zero, so its keys and values are neither computed nor read: ``cross`` holds
    ``[len(live), H, S, d]`` and ``live_masks`` the mask of those rows by query length (``None``
    where they see every token)."""

    caches: list[KVBuffer] | None
    cross: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    cross_masks: dict[int, Any] = field(default_factory=dict)
    live: torch.Tensor | None = None
    live_masks: dict[int, Any] = field(default_factory=dict)

    @property
    def past(self) -> int:
        return self.caches[0].length if self.caches else 0


@dataclass
class DecoderState:
    """Everything the decoder reads besides the codes, for ``rows`` rows.

    Attributes:
        rows: ``R``, the batch (guidance rows in generation, clips in training).
        main: the frozen decoder's branch.
        encoder_hidden_states: MusicGen's projected, masked text ``[R, S, D]``;
            ``encoder_attention_mask`` ``[R, S]``.
        prefix: MusicGen-Melody's conditioning prefix ``[R, P, D]`` (chroma, then text).
        adapter_row: the first row the adapter acts on (the rows before it are the base model).
        token_keys: the reference tokens absorbed into each layer's conditioning attention
            (:meth:`ReferenceTokens.absorb`, one row per adapter row), or ``None``.
        control: the ControlFormer's branch (adapter rows only), or ``None``.
        control_codes: per adapter row, the reference's EnCodec codes ``[K, F]`` the
            ControlFormer reads (``None``: a dropped reference, pad ids).
        frame_offset: the window's first frame in the whole piece (the reference loops).
        positions: code positions fed so far (start token included; the prefix not counted).
    """

    rows: int
    main: Branch
    encoder_hidden_states: torch.Tensor | None = None
    encoder_attention_mask: torch.Tensor | None = None
    prefix: torch.Tensor | None = None
    adapter_row: int = 0
    token_keys: list[tuple[torch.Tensor, ...]] | None = None
    control: Branch | None = None
    control_codes: list[torch.Tensor | None] | None = None
    frame_offset: int = 0
    positions: int = 0


class MusicGenDecoder:
    """The decoder forward over ``model`` (a ``Musicgen[Melody]ForConditionalGeneration``) with
    an optional :class:`~vmb.generate.musicgen.adapters.MusicAdapter`.

    ``decoder(ids [R, K, q], state) -> logits [R, K, V]`` of the last position (generation), or
    ``[R, K, q, V]`` of every code position with ``all_positions=True`` (training).
    """

    def __init__(self, model: Any, adapter: Any = None):
        self.model = model
        self.adapter = adapter
        self.is_melody = model.config.model_type == "musicgen_melody"
        self.pattern = CodebookPattern.of(model)
        self.num_codebooks = self.pattern.num_codebooks

    @property
    def layers(self) -> Any:
        """The transformers decoder stack (``Musicgen[Melody]Decoder``)."""
        return self.model.decoder.model.decoder

    def token_attention_modules(self) -> list[Any]:
        """The attention that reads the conditioning, per layer: cross-attention (MusicGen)
        or the self-attention over the conditioning prefix (MusicGen-Melody)."""
        layers = self.layers.layers
        return [layer.self_attn if self.is_melody else layer.encoder_attn for layer in layers]

    def absorb_tokens(self, tokens: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """Reference tokens ``[b, K_tok, D]`` folded into every layer's conditioning attention."""
        absorb = self.adapter.reference_tokens.absorb
        return [absorb(module, tokens) for module in self.token_attention_modules()]

    def branch(self, layers, encoder_states: torch.Tensor | None, capacity: int | None,
               encoder_mask: torch.Tensor | None = None) -> Branch:  # fmt: skip
        """KV buffers of ``capacity`` positions for ``layers`` (``None``: no cache), and their
        cross-attention keys/values of the text ``[R, S, D]`` (only of the rows whose
        ``encoder_mask [R, S]`` has a token, when it is given; see :class:`Branch`)."""
        caches = None if capacity is None else [KVBuffer(capacity) for _ in layers]
        branch = Branch(caches=caches)
        if encoder_states is not None and encoder_mask is not None:
            live = encoder_mask.bool().any(dim=-1)
            if not bool(live.all()):
                branch.live = live.nonzero().flatten()
                encoder_states = encoder_states[branch.live]
        if encoder_states is not None:
            branch.cross = [
                _heads(
                    layer.encoder_attn,
                    layer.encoder_attn.k_proj(encoder_states),
                    layer.encoder_attn.v_proj(encoder_states),
                )
                for layer in layers
            ]
        return branch

    def __call__(
        self, ids: torch.Tensor, state: DecoderState, all_positions: bool = False
    ) -> torch.Tensor:
        """One forward on the new positions ``ids [R, K, q]`` of every row.

        ``q > 1`` only on an empty cache (the first forward of a window, or training): the
        attention is then causal over the prefix and the codes.
        """
        decoder = self.layers
        past = state.main.past
        embeds = sum(decoder.embed_tokens[k](ids[:, k]) for k in range(self.num_codebooks))
        prefix_length = 0
        if state.prefix is not None and past == 0:
            prefix_length = state.prefix.shape[1]
            embeds = torch.cat([state.prefix.to(embeds.dtype), embeds], dim=1)
        if self.is_melody:
            hidden = embeds + decoder.embed_positions(embeds, past)
        else:
            hidden = embeds + decoder.embed_positions(ids, past)
        cross_mask = self._cross_mask(state, hidden)

        residuals = []
        if state.control is not None:
            residuals = self._control_residuals(hidden, ids.shape[-1], prefix_length, state,
                                                cross_mask)  # fmt: skip
        gates = None
        if state.token_keys is not None:
            gates = torch.tanh(self.adapter.reference_tokens.gates).to(hidden.dtype)
        row = state.adapter_row
        for index, layer in enumerate(decoder.layers):
            tokens = None if gates is None else (state.token_keys[index], gates[index], row)
            hidden = self.layer(layer, hidden, state.main, index, cross_mask, tokens)
            if index < len(residuals):
                hidden = _add_rows(hidden, row, residuals[index])
        state.positions += ids.shape[-1]
        if all_positions:
            hidden = decoder.layer_norm(hidden[:, prefix_length:])
            return torch.stack([head(hidden) for head in self.model.decoder.lm_heads], dim=1)
        hidden = decoder.layer_norm(hidden[:, -1:])
        logits = torch.stack([head(hidden) for head in self.model.decoder.lm_heads], dim=1)
        return logits[:, :, -1]  # [R, K, V]

    def layer(self, layer, hidden, branch: Branch, index: int, cross_mask, tokens=None):
        """One decoder layer, computed as transformers does, over ``branch``'s caches.

        Args:
            hidden: ``[B, q, D]``.
            tokens: ``(absorbed reference tokens, gate, first row)``: adds the rows' zero-gated
                reference-token attention to the attention that reads the conditioning.
        """
        b, q, d = hidden.shape
        train = layer.training  # a ControlFormer copy in training: transformers' dropouts
        self_attn = layer.self_attn
        x = layer.self_attn_layer_norm(hidden)
        fused = getattr(self_attn, "qkv_proj", None)  # int8 q, k, v in one call (quantize.py)
        if fused is None:
            query = _heads(self_attn, self_attn.q_proj(x))
            keys, values = _heads(self_attn, self_attn.k_proj(x), self_attn.v_proj(x))
        else:
            query, keys, values = _heads(self_attn, *fused(x).chunk(3, dim=-1))
        if branch.caches is not None:
            keys, values = branch.caches[index].update(keys, values)
        p = self_attn.dropout if train else 0.0
        out = attention(query, keys, values, dropout_p=p, scale=self_attn.scaling, is_causal=q > 1)
        out = self_attn.out_proj(out.transpose(1, 2).reshape(b, q, d))
        if tokens is not None and self.is_melody:
            out = _add_reference_tokens(out, x, *tokens)
        if train:
            out = dropout(out, layer.dropout, True)
        hidden = hidden + out
        if branch.cross is not None:
            cross = layer.encoder_attn
            x = layer.encoder_attn_layer_norm(hidden)
            keys, values = branch.cross[index]
            query = _heads(cross, cross.q_proj(x))
            p = cross.dropout if train else 0.0
            if branch.live is None:
                out = attention(query, keys, values, attn_mask=cross_mask, dropout_p=p,
                                scale=cross.scaling)  # fmt: skip
            else:  # the null rows' attention is exactly zero (see Branch)
                out = query.new_zeros(query.shape)
                out[branch.live] = attention(query[branch.live], keys, values,
                                             attn_mask=_live_mask(branch, cross_mask),
                                             dropout_p=p, scale=cross.scaling)  # fmt: skip
            out = cross.out_proj(out.transpose(1, 2).reshape(b, q, d))
            if tokens is not None:
                out = _add_reference_tokens(out, x, *tokens)
            if train:
                out = dropout(out, layer.dropout, True)
            hidden = hidden + out
        x = layer.final_layer_norm(hidden)
        if not train:
            return hidden + layer.fc2(layer.activation_fn(layer.fc1(x)))
        x = dropout(layer.activation_fn(layer.fc1(x)), layer.activation_dropout, True)
        return hidden + dropout(layer.fc2(x), layer.dropout, True)

    def _cross_mask(self, state: DecoderState, hidden: torch.Tensor) -> Any:
        """transformers' cross-attention mask of the text rows (a null row is all masked),
        made once per query length."""
        if state.encoder_hidden_states is None:
            return None
        q = hidden.shape[1]
        if q not in state.main.cross_masks:
            from transformers.masking_utils import create_bidirectional_mask

            state.main.cross_masks[q] = create_bidirectional_mask(
                config=self.layers.config,
                inputs_embeds=hidden,
                attention_mask=state.encoder_attention_mask,
                encoder_hidden_states=state.encoder_hidden_states,
            )
        return state.main.cross_masks[q]

    def _control_residuals(self, hidden, q, prefix_length, state: DecoderState, cross_mask):
        """The ControlFormer's residuals for the adapter rows, one per copied block
        ``[R - adapter_row, q + prefix, D]``."""
        control = self.adapter.control
        row = state.adapter_row
        ref = self.pattern.reference_ids(
            state.control_codes, state.positions, q, state.frame_offset, device=hidden.device
        )
        code_embeddings = control.embed_codes(ref)
        if prefix_length:
            pad = code_embeddings.new_zeros((ref.shape[0], prefix_length, code_embeddings.shape[-1]))
            code_embeddings = torch.cat([pad, code_embeddings], dim=1)
        index_of = {id(block): i for i, block in enumerate(control.blocks)}
        rows_mask = None if cross_mask is None else cross_mask[row:]

        def run_block(block, x):
            return self.layer(block, x, state.control, index_of[id(block)], rows_mask)

        return control(hidden[row:], code_embeddings.to(hidden.dtype), run_block)


def _live_mask(branch: Branch, mask: torch.Tensor | None) -> torch.Tensor | None:
    """``mask [R, 1, q, S]``'s live rows, made once per query length; ``None`` where those
    rows see every token (the same attention as an all-true mask, without the conversion)."""
    if mask is None:
        return None
    q = mask.shape[-2]
    if q not in branch.live_masks:
        live = mask[branch.live]
        branch.live_masks[q] = None if live.dtype == torch.bool and bool(live.all()) else live
    return branch.live_masks[q]


def _heads(attention: Any, *projected: torch.Tensor):
    """``[B, T, H·d]`` -> ``[B, H, T, d]`` with ``attention``'s head count; one or a tuple."""
    out = tuple(
        p.view(p.shape[0], p.shape[1], attention.num_heads, attention.head_dim).transpose(1, 2)
        for p in projected
    )
    return out[0] if len(out) == 1 else out


def _add_rows(t: torch.Tensor, row: int, extra: torch.Tensor) -> torch.Tensor:
    """``t`` with ``extra`` added to its rows ``row:``."""
    if row == 0:
        return t + extra
    return torch.cat([t[:row], t[row:] + extra], dim=0)


def _add_reference_tokens(out: torch.Tensor, x: torch.Tensor, absorbed, gate, row: int):
    """Add ``gate ·`` the rows' attention over the reference tokens to an attention output
    ``out [R, q, D]`` whose (normalised) input was ``x``."""
    from vmb.generate.musicgen.adapters import ReferenceTokens

    return _add_rows(out, row, gate * ReferenceTokens.attend_absorbed(x[row:], absorbed))


__all__ = ["Branch", "DecoderState", "KVBuffer", "MusicGenDecoder"]
