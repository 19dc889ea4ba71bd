"""Dual classifier-free guidance: one weight for the text bridge, one for the music bridge.

Per decoding step the decoder runs once on a batch whose rows are the three conditions

    row 0  c_text        the text bridge only
    row 1  u             nothing (null text, null melody)
    row 2  c_text+music  the text bridge and the music bridge

and the logits are combined as

    logits = u + w_text · (c_text − u) + w_music · (c_text+music − c_text)

With ``w_music = 0`` the third row is not computed at all and the formula is MusicGen's ordinary
classifier-free guidance ``u + w_text · (c_text − u)`` (rows ordered conditional-first, as
transformers' ``ClassifierFreeGuidanceLogitsProcessor`` expects). Row order is fixed by
:data:`TEXT_ROW`, :data:`NULL_ROW`, :data:`MUSIC_ROW`.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_ROW = 0
NULL_ROW = 1
MUSIC_ROW = 2


@dataclass(frozen=True)
class GuidanceWeights:
    """The two guidance weights; ``rows`` is how many conditions the decoder runs per step."""

    text: float = 3.0
    music: float = 1.0

    @property
    def uses_music(self) -> bool:
        return self.music != 0.0

    @property
    def uses_text_guidance(self) -> bool:
        """``w_text == 1`` and no music row: plain conditional sampling, no null row needed."""
        return not (self.text == 1.0 and not self.uses_music)

    @property
    def rows(self) -> int:
        if self.uses_music:
            return 3
        return 2 if self.uses_text_guidance else 1


def combine(logits, weights: GuidanceWeights):
    """Guided logits from the stacked rows of one step.

    Args:
        logits: ``[R, ...]`` with ``R == weights.rows`` rows in the order
            (c_text, u[, c_text+music]).
        weights: the guidance weights.

    Returns:
        ``[1, ...]`` guided logits.
    """
    if logits.shape[0] != weights.rows:
        raise ValueError(f"expected {weights.rows} guidance rows, got {logits.shape[0]}")
    text = logits[TEXT_ROW : TEXT_ROW + 1]
    if weights.rows == 1:
        return text
    null = logits[NULL_ROW : NULL_ROW + 1]
    # Same operation order as transformers' ClassifierFreeGuidanceLogitsProcessor, so that
    # w_music = 0 reproduces it to the bit: u + (c - u) * w.
    guided = null + (text - null) * weights.text
    if weights.uses_music:
        music = logits[MUSIC_ROW : MUSIC_ROW + 1]
        guided = guided + (music - text) * weights.music
    return guided
