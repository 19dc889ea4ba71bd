"""Shared inputs of the eval tests: tiny models saved with save_pretrained, and small sets of
audio files (built once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """``{"clap"|"ast"|"encodec": folder}`` of tiny random models (the real classes)."""
    from tiny.ast import save_tiny_ast
    from tiny.clap import save_tiny_clap
    from tiny.encodec import save_tiny_encodec

    root = tmp_path_factory.mktemp("tiny-eval-models")
    return {
        "clap": str(save_tiny_clap(root / "clap")),
        "ast": str(save_tiny_ast(root / "ast")),
        "encodec": str(save_tiny_encodec(root / "encodec")),
    }


def write(path: Path, audio: np.ndarray, sr: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(audio, np.float32), sr)
    return path


def chord(freqs, seconds=3.0, sr=22050, seed=0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / (k + 1) for k, f in enumerate(freqs))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t) ** 2
    return (0.3 * y * env / max(1e-9, np.max(np.abs(y)))).astype(np.float32)


@pytest.fixture(scope="session")
def chord_sets(tmp_path_factory) -> dict[str, Path]:
    """Two folders ``gen`` and ``ref`` of 5 chords each with the same names (s0..s4)."""
    root = tmp_path_factory.mktemp("chords")
    for i in range(5):
        write(root / "gen" / f"s{i}.wav", chord([220 * 2 ** (i / 12), 330 * 2 ** (i / 12)], seed=i))
        write(root / "ref" / f"s{i}.wav", chord([196 * 2 ** (i / 12), 247 * 2 ** (i / 12), 294], seed=10 + i))
    return {"gen": root / "gen", "ref": root / "ref"}
