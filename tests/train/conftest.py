"""Fixtures of the training tests: tiny data, an index of it, tiny MusicGen and InternVL.

Torch runs on one thread here: on a shared, loaded 2-core machine, two torch threads made the
tiny models' training ~15x slower (measured: 580 vs 9,900 target tokens/s).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Path:
    """The manifest of the eight one-second training clips."""
    from train.train_data import write_clips

    return write_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def clips_index(clips, tmp_path_factory) -> Path:
    """An index of the clips built with the built-in encoders (one clip per track)."""
    import faiss

    from vmb.retrieve import build_index

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    out = tmp_path_factory.mktemp("index") / "clips"
    try:
        build_index(clips, out, encoder="builtin", segment_s=1.0, hop_s=1.0, progress=False, device="cpu")
    finally:
        faiss.omp_set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory) -> Path:
    """A tiny random MusicGen with wide output heads (see ``widen_output_heads``)."""
    from tiny.musicgen import build_tiny_musicgen
    from train.train_data import widen_output_heads

    path = tmp_path_factory.mktemp("models") / "musicgen"
    build_tiny_musicgen(path)
    return widen_output_heads(path)


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    """A tiny random InternVL (tests/tiny/vlm.py)."""
    from tiny.vlm import save_tiny_vlm

    return save_tiny_vlm(tmp_path_factory.mktemp("models") / "vlm")
