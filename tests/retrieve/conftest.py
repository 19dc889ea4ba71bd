"""Shared fixtures of the music-bridge tests: the library of ``retrieve_library``, the built-in
encoders (real MiniLM weights, offline), and an index built from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from retrieve.retrieve_library import SEGMENT_S, render_track, write_library


@pytest.fixture(scope="session", autouse=True)
def _faiss_single_thread():
    """One FAISS thread: on a shared, loaded machine OpenMP spin-waiting makes small indexes
    10x slower with 2 threads than with 1 (measured: IVF-PQ on 3000 vectors, 27 s vs 1.7 s)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def builtin_encoder():
    """The built-in encoders (real all-MiniLM-L6-v2 from the wheel + measured features)."""
    from vmb.retrieve import load_encoder

    return load_encoder("builtin", device="cpu")


@pytest.fixture(scope="session")
def library(tmp_path_factory) -> Path:
    """The manifest of the six-track library."""
    return write_library(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="session")
def library_index(library, builtin_encoder, tmp_path_factory):
    """``(index folder, IndexInfo)`` of the library built with the built-in encoders."""
    from vmb.retrieve import build_index

    out = tmp_path_factory.mktemp("indexes") / "library"
    info = build_index(
        library, out, encoder=builtin_encoder, segment_s=SEGMENT_S, hop_s=SEGMENT_S, progress=False
    )
    return out, info


@pytest.fixture(scope="session")
def make_library():
    """:func:`write_library` for tests that need a library of their own."""
    return write_library


@pytest.fixture(scope="session")
def make_track():
    """:func:`render_track` for tests that need single files."""
    return render_track
