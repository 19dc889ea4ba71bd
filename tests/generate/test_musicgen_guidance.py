"""Dual guidance: the formula on fixed logits, and w_music = 0 as transformers' CFG."""

from __future__ import annotations

import pytest
import torch

from vmb.generate.musicgen.guidance import MUSIC_ROW, NULL_ROW, TEXT_ROW, GuidanceWeights, combine


def fixed_rows() -> torch.Tensor:
    # rows: c_text, u, c_text+music; two codebooks of four codes
    return torch.tensor(
        [
            [[1.0, 2.0, 0.0, -1.0], [0.5, 0.5, 0.5, 0.5]],
            [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]],
            [[2.0, 2.0, -1.0, 0.0], [1.0, 0.0, 0.5, 2.0]],
        ]
    )


def test_formula_against_hand_computation():
    rows = fixed_rows()
    guided = combine(rows, GuidanceWeights(text=3.0, music=2.0))
    # u + 3 (c_text - u) + 2 (c_text+music - c_text), computed by hand for every entry:
    expected = torch.tensor(
        [
            [[0 + 3 * 1 + 2 * 1, 1 + 3 * 1 + 2 * 0, 1 + 3 * -1 + 2 * -1, 0 + 3 * -1 + 2 * 1]],
            [
                [
                    0 + 3 * 0.5 + 2 * 0.5,
                    0 + 3 * 0.5 + 2 * -0.5,
                    1 + 3 * -0.5 + 2 * 0,
                    0 + 3 * 0.5 + 2 * 1.5,
                ]
            ],
        ]
    ).transpose(0, 1)
    assert guided.shape == (1, 2, 4)
    torch.testing.assert_close(guided, expected)


def test_music_weight_zero_is_transformers_cfg_to_the_bit():
    from transformers.generation import ClassifierFreeGuidanceLogitsProcessor

    rows = torch.randn(2, 4, 2048)
    ours = combine(rows, GuidanceWeights(text=3.0, music=0.0))
    # transformers' processor takes [cond; uncond] stacked on the batch axis
    theirs = ClassifierFreeGuidanceLogitsProcessor(3.0)(
        torch.zeros(4, 1, dtype=torch.long), rows.reshape(8, 2048)
    ).reshape(1, 4, 2048)
    assert torch.equal(ours, theirs)


def test_rows_per_weight_setting():
    assert GuidanceWeights(3.0, 1.0).rows == 3
    assert GuidanceWeights(3.0, 0.0).rows == 2
    assert GuidanceWeights(1.0, 0.0).rows == 1  # no guidance at all: conditional logits only
    assert GuidanceWeights(1.0, 0.5).rows == 3
    single = torch.randn(1, 4, 16)
    assert torch.equal(combine(single, GuidanceWeights(1.0, 0.0)), single)


def test_music_weight_one_text_weight_one_is_the_music_row():
    rows = fixed_rows()
    guided = combine(rows, GuidanceWeights(text=1.0, music=1.0))
    torch.testing.assert_close(guided[0], rows[MUSIC_ROW])
    assert (TEXT_ROW, NULL_ROW, MUSIC_ROW) == (0, 1, 2)


def test_wrong_number_of_rows_is_refused():
    with pytest.raises(ValueError, match="3 guidance rows"):
        combine(torch.zeros(2, 4, 8), GuidanceWeights(3.0, 1.0))
