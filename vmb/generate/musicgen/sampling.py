"""The sampling loop of one window: KV-cached decoder steps over the delayed layout, guidance,
top-k sampling with a seeded ``torch.Generator``.

With ``w_music = 0`` the loop reproduces ``model.generate(guidance_scale=w_text,
do_sample=True, top_k=...)`` token for token under ``torch.manual_seed(seed)``: the same
operations in the same order as transformers (a test checks the audio to the bit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from vmb.generate.musicgen.guidance import GuidanceWeights, combine

if TYPE_CHECKING:
    from vmb.generate.musicgen.decoder import DecoderState, MusicGenDecoder
    from vmb.generate.musicgen.pattern import CodebookPattern


def sample_codes(
    logits: torch.Tensor, top_k: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """One code per codebook from guided logits ``[K, V]`` -> ``[K]``.

    Same operations, in the same order, as transformers' sampling (temperature, top-k, softmax,
    multinomial), so that a generator seeded like ``torch.manual_seed`` draws the same codes.
    """
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    if temperature != 1.0:
        logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        threshold = torch.topk(logits, top_k)[0][..., -1, None]
        logits = logits.masked_fill(logits < threshold, -float("inf"))
    probs = torch.nn.functional.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


def sample_window(
    decoder: MusicGenDecoder,
    pattern: CodebookPattern,
    state: DecoderState,
    weights: GuidanceWeights,
    prompt: torch.Tensor | None,
    new_frames: int,
    generator: torch.Generator,
    top_k: int,
    temperature: float,
    advance: Callable[[int], None] = lambda n: None,
    device=None,
) -> torch.Tensor:
    """Sample ``new_frames`` frames after ``prompt [K, n]``; returns ``[K, n + new_frames]``.

    The codes live in the delayed layout (:meth:`CodebookPattern.sequence`); positions that hold
    a pad or the prompt keep what they hold.
    """
    n = 0 if prompt is None else int(prompt.shape[1])
    frames = n + new_frames
    seq, fixed = pattern.sequence(frames, prompt, device=device)
    length = seq.shape[1]
    rows = state.rows

    logits = decoder(seq[None, :, : n + 1].expand(rows, -1, -1), state)
    for position in range(n + 1, length):
        guided = combine(logits, weights)[0].float()  # [K, V]
        tokens = sample_codes(guided, top_k, temperature, generator)
        seq[:, position] = torch.where(fixed[:, position], seq[:, position], tokens)
        advance(1)
        if position + 1 < length:
            logits = decoder(seq[None, :, position : position + 1].expand(rows, -1, -1), state)
    return pattern.undelay(seq, frames)


__all__ = ["sample_codes", "sample_window"]
