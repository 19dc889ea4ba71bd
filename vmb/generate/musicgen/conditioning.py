"""What the decoder is conditioned on: the text bridge, the music bridge, the guidance rows.

* text bridge: T5 states of ``bridges.text``, projected to the decoder width and zeroed where
  the mask is 0 (MusicGen: the cross-attention keys; MusicGen-Melody: the conditioning prefix
  after the chroma);
* music bridge: the references are read once per call and turned into what each usable
  mechanism reads (:class:`References`): the one-hot chroma (melody), the absorbed reference
  tokens, the EnCodec codes (ControlFormer);
* guidance rows: ``(c_text, u[, c_text+music])`` stacked as transformers stacks them, the
  adapter acting on the last row only (:func:`window_state`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vmb.errors import GenerationError
from vmb.generate.musicgen.decoder import DecoderState
from vmb.generate.musicgen.guidance import MUSIC_ROW, GuidanceWeights
from vmb.types import Hit

if TYPE_CHECKING:
    from vmb.generate.musicgen.generator import MusicGenGenerator
    from vmb.generate.musicgen.longform import Window

REFERENCE_MAX_S = 30.0  # the generator (and the adapter trainer) read at most this much


@dataclass
class References:
    """The music bridge, prepared once per call: what each mechanism reads."""

    chroma: torch.Tensor | None = None  # [1, F, 12] one-hot (melody)
    token_keys: list[tuple[torch.Tensor, ...]] | None = None  # per layer, ReferenceTokens.absorb
    control_codes: torch.Tensor | None = None  # [K, F] EnCodec codes
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return (
            self.chroma is not None or self.token_keys is not None or self.control_codes is not None
        )


def read_reference(hit: Hit) -> tuple[np.ndarray, int]:
    """The reference clip's audio ``[C, T]`` and its rate (at most :data:`REFERENCE_MAX_S`)."""
    from vmb.media import read_audio

    duration = hit.clip.duration_s if hit.clip.duration_s and hit.clip.duration_s > 0 else None
    if duration is None or duration > REFERENCE_MAX_S:
        duration = REFERENCE_MAX_S
    return read_audio(hit.clip.path, start_s=max(0.0, float(hit.clip.start_s)), duration_s=duration)


def pick(hits: tuple[Hit, ...], order: tuple[str, ...]) -> Hit:
    """The first hit of the first track in ``order`` that has one (else the first hit)."""
    for track in order:
        for hit in hits:
            if hit.track == track:
                return hit
    return hits[0]


def encode_text(g: MusicGenGenerator, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """T5 states of the text bridge ``[1, S, D_text]`` and its mask ``[1, S]``."""
    inputs = g.tokenizer([text], return_tensors="pt", padding=True)
    input_ids = inputs["input_ids"].to(g.device)
    mask = inputs["attention_mask"].to(g.device)
    states = g.model.text_encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
    return states, mask


def project_text(model: Any, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """T5 states ``[R, S, D_text]`` -> decoder width ``[R, S, D]``, zero where ``mask [R, S]``
    is 0 (a null or dropped text)."""
    project = getattr(model, "enc_to_dec_proj", None)
    if project is not None:
        states = project(states)
    return states * mask[..., None].to(states.dtype)


def project_chroma(model: Any, chroma: torch.Tensor) -> torch.Tensor:
    """One-hot chroma ``[R, F, 12]`` -> the decoder width ``[R, F, D]``."""
    if model.config.num_chroma != model.decoder.config.hidden_size:
        return model.audio_enc_to_dec_proj(chroma)
    return chroma


def fit_chroma(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """Loop or cut ``[R, F, D]`` to the model's ``chroma_length`` frames."""
    length = model.config.chroma_length
    if hidden.shape[1] < length:
        hidden = hidden.repeat(1, math.ceil(length / hidden.shape[1]), 1)
    return hidden[:, :length]


def null_melody(model: Any, rows: int, device: Any, dtype: Any) -> torch.Tensor:
    """MusicGen-Melody's null melody ``[rows, 1, 12]``: one-hot C on one frame (transformers)."""
    null = torch.zeros((rows, 1, model.config.num_chroma), device=device, dtype=dtype)
    null[:, :, 0] = 1
    return null


def chroma_rows(
    g: MusicGenGenerator, rows: int, chroma: torch.Tensor | None, frame_offset: int
) -> torch.Tensor:
    """MusicGen-Melody's projected chroma conditioning ``[R, chroma_length, D]``.

    The text and null rows get the null melody; the music row gets the reference's chroma,
    started where this window starts and looped.
    """
    model = g.model
    null = null_melody(model, 2 if rows >= 2 else 1, g.device, model.dtype)
    parts = [fit_chroma(model, project_chroma(model, null))]
    if rows == 3:
        melody = chroma if chroma is not None else null[:1]
        if chroma is not None and frame_offset:
            seconds = frame_offset / g.frame_rate
            shift = round(seconds * g.chroma.frame_rate) % melody.shape[1]
            melody = torch.roll(melody, -shift, dims=1)
        parts.append(fit_chroma(model, project_chroma(model, melody.to(null.dtype))))
    return torch.cat(parts, dim=0)[:rows]


def window_state(
    g: MusicGenGenerator,
    weights: GuidanceWeights,
    text_states: torch.Tensor,
    text_mask: torch.Tensor,
    references: References,
    window: Window,
) -> DecoderState:
    """Stack the conditioning rows (c_text, u[, c_text+music]) the way transformers does, and
    make the KV buffers for the window; the adapter acts on the music row."""
    rows = weights.rows
    frame_offset = window.start_frame
    decoder = g.decoder
    state = DecoderState(rows=rows, main=None, frame_offset=frame_offset, adapter_row=MUSIC_ROW)

    # Text rows: conditional, null (zeros, masked), conditional again for the music row.
    text_rows = [text_states, torch.zeros_like(text_states), text_states][:rows]
    mask_rows = [text_mask, torch.zeros_like(text_mask), text_mask][:rows]
    mask = torch.cat(mask_rows, dim=0)
    project = getattr(g.model, "enc_to_dec_proj", None)
    if g.is_melody:
        states = project(text_states) if project is not None else text_states
        text_rows = [states, torch.zeros_like(states), states][:rows]
        text_hidden = torch.cat(text_rows, dim=0) * mask[..., None]
        state.prefix = torch.cat(
            [chroma_rows(g, rows, references.chroma, frame_offset), text_hidden], 1
        )
    else:
        states = torch.cat(text_rows, dim=0)
        if project is not None:
            states = project(states)
        state.encoder_hidden_states = states * mask[..., None]
        state.encoder_attention_mask = mask

    prefix = 0 if state.prefix is None else state.prefix.shape[1]
    capacity = prefix + g.pattern.length(window.num_frames)
    state.main = decoder.branch(
        decoder.layers.layers, state.encoder_hidden_states, capacity, state.encoder_attention_mask
    )
    if rows == 3:
        state.token_keys = references.token_keys
        if references.control_codes is not None:
            music, mask = state.encoder_hidden_states, state.encoder_attention_mask
            if music is not None:
                music, mask = music[MUSIC_ROW:], mask[MUSIC_ROW:]
            state.control = decoder.branch(g.adapter.control.blocks, music, capacity, mask)
            state.control_codes = [references.control_codes]
    return state


def prepare_references(
    g: MusicGenGenerator, hits: tuple[Hit, ...], reference_embedding: Any
) -> References:
    """Read the references each usable mechanism needs and compute its inputs once."""
    refs = References()
    if not hits:
        refs.notes.append("no references: the music bridge is empty, text-only guidance")
        return refs
    adapter = g.adapter
    wants_tokens = adapter is not None and adapter.reference_tokens is not None
    wants_control = adapter is not None and adapter.control is not None
    if not (g.is_melody or wants_tokens or wants_control):
        refs.notes.append(
            f"{g.name} has no melody input and no adapter is loaded: the music bridge "
            "(references) is not used, text-only guidance"
        )
        return refs
    audio_cache: dict[tuple, tuple[np.ndarray, int]] = {}
    codes_cache: dict[tuple, torch.Tensor] = {}

    def read(hit: Hit) -> tuple[np.ndarray, int]:
        key = (hit.clip.path, hit.clip.start_s, hit.clip.duration_s)
        if key not in audio_cache:
            audio_cache[key] = read_reference(hit)
        return audio_cache[key]

    def codes(hit: Hit) -> torch.Tensor:
        from vmb.generate.musicgen.adapters import encodec_codes

        key = (hit.clip.path, hit.clip.start_s, hit.clip.duration_s)
        if key not in codes_cache:
            codes_cache[key] = encodec_codes(g.model, *read(hit)).to(g.device)
        return codes_cache[key]

    if g.is_melody:
        hit = pick(hits, ("pinned", "broad", "targeted"))
        audio, sr = read(hit)
        refs.chroma = g.chroma(audio, sr).to(g.device)
        refs.notes.append(f"melody: chroma of {hit.track} reference {hit.clip.id}")
    if wants_tokens:
        hit = pick(hits, ("targeted", "pinned", "broad"))
        embedding = reference_embedding_of(g, hit, read, codes, reference_embedding)
        tokens = adapter.reference_tokens(embedding.to(g.device, torch.float32)[None])
        refs.token_keys = g.decoder.absorb_tokens(tokens)
        source = adapter.config.embedding_source
        refs.notes.append(
            f"reference tokens: {source} embedding of {hit.track} reference {hit.clip.id}"
        )
    if wants_control:
        hit = pick(hits, ("broad", "pinned", "targeted"))
        refs.control_codes = codes(hit)
        refs.notes.append(f"ControlFormer: EnCodec codes of {hit.track} reference {hit.clip.id}")
    return refs


def reference_embedding_of(g: MusicGenGenerator, hit: Hit, read, codes, given: Any) -> torch.Tensor:
    """The embedding ``[E]`` the reference tokens read: EnCodec from the reference's codes, or
    CLAP (``given``, else the generator's ``reference_encoder``)."""
    config = g.adapter.config
    if config.embedding_source == "encodec":
        from vmb.generate.musicgen.adapters import codes_embedding

        embedding = codes_embedding(g.model, codes(hit))
    elif given is not None:
        embedding = torch.as_tensor(np.asarray(given, dtype=np.float32)).reshape(-1)
    elif g.reference_encoder is not None:
        audio, sr = read(hit)
        encoder = g.reference_encoder
        if hasattr(encoder, "embed_audio"):  # a vmb.retrieve encoder
            vector = encoder.embed_audio([(audio, sr)])[0]
        else:
            vector = encoder(audio, sr)
        embedding = torch.as_tensor(np.asarray(vector, dtype=np.float32)).reshape(-1)
    else:
        raise GenerationError(
            f"{g.name}: the adapter's reference tokens read CLAP embeddings; pass "
            "reference_embedding=... or build the generator with a reference_encoder"
        )
    if embedding.shape[0] != config.embedding_dim:
        raise GenerationError(
            f"{g.name}: reference embedding has {embedding.shape[0]} values, the adapter "
            f"expects {config.embedding_dim} ({config.embedding_source})"
        )
    return embedding


__all__ = [
    "REFERENCE_MAX_S",
    "References",
    "chroma_rows",
    "encode_text",
    "fit_chroma",
    "null_melody",
    "pick",
    "prepare_references",
    "project_chroma",
    "project_text",
    "read_reference",
    "window_state",
]
