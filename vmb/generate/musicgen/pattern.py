"""MusicGen's delay pattern, in one place: codebook delays, the pad and start ids, and the
layout of codes and reference codes over decoder positions.

Codebook ``k`` runs ``delay[k]`` steps behind codebook 0 (``k`` for mono checkpoints, ``k // 2``
for stereo ones, whose left and right codebooks interleave). In the delayed layout ``[K, L]``
position 0 holds the start token and codebook ``k`` holds frame ``j`` at position
``1 + delay[k] + j``; every other position holds the pad id (as audiocraft's
``DelayedPatternProvider`` and transformers' ``build_delay_pattern_mask``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

IGNORE_INDEX = -100  # labels of positions that carry no loss (a pad in the delayed layout)


@dataclass(frozen=True)
class CodebookPattern:
    """The delays, pad id and start id of one MusicGen checkpoint.

    Attributes:
        delays: ``delay[k]`` per codebook.
        pad_id: the id of "no code here" (also the code embeddings' extra row).
        start_id: the id at position 0 (decoder start token).
    """

    delays: tuple[int, ...]
    pad_id: int
    start_id: int

    @classmethod
    def of(cls, model: Any) -> CodebookPattern:
        """The pattern of a loaded ``Musicgen[Melody]ForConditionalGeneration``: the delays from
        the decoder config, the ids from the generation config (falling back to the decoder's)."""
        decoder = model.config.decoder
        step = 2 if int(decoder.audio_channels) == 2 else 1
        gen = model.generation_config
        pad = gen.pad_token_id if gen.pad_token_id is not None else decoder.pad_token_id
        start = (
            gen.decoder_start_token_id
            if gen.decoder_start_token_id is not None
            else decoder.bos_token_id
        )
        delays = tuple(k // step for k in range(int(decoder.num_codebooks)))
        return cls(delays=delays, pad_id=int(pad), start_id=int(start))

    @property
    def num_codebooks(self) -> int:
        return len(self.delays)

    @property
    def max_delay(self) -> int:
        return max(self.delays)

    def length(self, frames: int) -> int:
        """Positions of ``frames`` frames in the delayed layout (start token included)."""
        return 1 + frames + self.max_delay

    def sequence(
        self, frames: int, prompt: torch.Tensor | None = None, device: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The delayed layout to sample ``frames`` frames into, after an optional ``prompt``.

        Args:
            frames: all frames of the window, prompt included.
            prompt: ``[K, n]`` codes the window starts with (kept as given).

        Returns:
            ``seq [K, L]`` (start token, the prompt's codes, pad elsewhere) and ``fixed [K, L]``
            (True where sampling must keep what ``seq`` holds: pads and the prompt).
        """
        K, n = self.num_codebooks, 0 if prompt is None else int(prompt.shape[1])
        length = self.length(frames)
        seq = torch.full((K, length), self.pad_id, dtype=torch.long, device=device)
        seq[:, 0] = self.start_id
        fixed = torch.ones((K, length), dtype=torch.bool, device=device)
        for k, d in enumerate(self.delays):
            fixed[k, 1 + d + n : 1 + d + frames] = False
            if n:
                seq[k, 1 + d : 1 + d + n] = prompt[k]
        return seq, fixed

    def undelay(self, seq: torch.Tensor, frames: int) -> torch.Tensor:
        """The codes ``[K, frames]`` of a delayed layout ``seq [K, L]``."""
        return torch.stack([seq[k, 1 + d : 1 + d + frames] for k, d in enumerate(self.delays)])

    def teacher_forcing(self, codes: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder inputs and labels of clips ``[K, F_b]`` (lengths may differ).

        Returns:
            ``input_ids [B, K, L]`` (start token, then the delayed codes, pad elsewhere) and
            ``labels [B, K, L]`` (the next position's code, :data:`IGNORE_INDEX` where it is a
            pad), ``L = max F_b + max(delays)``.
        """
        frames = max(int(c.shape[1]) for c in codes)
        length = self.length(frames)
        seq = torch.full((len(codes), self.num_codebooks, length), self.pad_id, dtype=torch.long)
        valid = torch.zeros_like(seq, dtype=torch.bool)
        seq[:, :, 0] = self.start_id
        for b, clip in enumerate(codes):
            n = int(clip.shape[1])
            for k, d in enumerate(self.delays):
                seq[b, k, 1 + d : 1 + d + n] = clip[k].long().cpu()
                valid[b, k, 1 + d : 1 + d + n] = True
        labels = seq[:, :, 1:].masked_fill(~valid[:, :, 1:], IGNORE_INDEX)
        return seq[:, :, :-1].contiguous(), labels.contiguous()

    def reference_ids(
        self,
        references: Sequence[torch.Tensor | None],
        start: int,
        positions: int,
        frame_offset: int = 0,
        device: Any = None,
    ) -> torch.Tensor:
        """The reference codes the ControlFormer reads at decoder positions
        ``start .. start + positions`` ``[B, K, positions]``.

        Position ``p`` of codebook ``k`` reads the reference's frame
        ``(p - 1 - delay[k] + frame_offset) mod F`` (the reference loops; ``frame_offset`` is the
        window's first frame in a long piece); the pad id before a codebook's first frame and
        everywhere for a missing (``None``, dropped) reference.
        """
        out = torch.full(
            (len(references), self.num_codebooks, positions),
            self.pad_id,
            dtype=torch.long,
            device=device,
        )
        steps = torch.arange(start, start + positions, device=device)
        for b, ref in enumerate(references):
            if ref is None:
                continue
            frames = int(ref.shape[1])
            ref = ref.to(out.device)
            for k, d in enumerate(self.delays):
                frame = steps - 1 - d
                ok = frame >= 0
                out[b, k, ok] = ref[k, (frame[ok] + frame_offset) % frames].long()
        return out


__all__ = ["IGNORE_INDEX", "CodebookPattern"]
