"""The README's trainable shares of musicgen-small are what the adapters really train.

The full-size ``facebook/musicgen-small`` architecture is built on the ``meta`` device (shapes
only, no memory, a few seconds), the three adapter mechanisms are created on it through the
production :func:`create_adapter`, and their parameter counts are compared with the figures the
README states.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_shares() -> list[float]:
    text = " ".join(README.read_text(encoding="utf-8").split())
    found = re.search(r"Only adapter parameters train: ([\d.]+) % .*? alone, ([\d.]+) % with the "
                      r"ControlFormer alone and ([\d.]+) % with both", text)
    assert found, "the README no longer states the trainable shares in the expected sentence"
    return [float(x) for x in found.groups()]


def test_readme_trainable_shares_match_musicgen_small():
    from benchmarks.bench_musicgen import musicgen_small_random
    from vmb.generate.musicgen.adapters import create_adapter

    with torch.device("meta"):
        model = musicgen_small_random()
        total = sum(p.numel() for p in model.parameters())
        shares = []
        for kwargs in ({"control_layers": 0}, {"reference_tokens": False}, {}):
            adapter = create_adapter(model, **kwargs)
            trainable = sum(p.numel() for p in adapter.parameters() if p.requires_grad)
            shares.append(100.0 * trainable / (total + trainable))
    assert 580e6 < total < 600e6  # musicgen-small with its T5-base text encoder and EnCodec
    assert [round(s, 2) for s in shares] == _readme_shares()
