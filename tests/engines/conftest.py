"""Shared fixtures of the engine tests: ONE local Ray runtime for all of them (starting one
costs seconds), shut down after them; a small library and its single-process index."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra (pip install 'vmb[ray]') is not installed")

SEGMENT_S = 3.0


@pytest.fixture(scope="session", autouse=True)
def _faiss_single_thread():
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="package")
def ray_runtime():
    """A local Ray runtime of 2 CPUs (the size of the CI machine), no dashboard, no usage
    stats, shared by every engine test and shut down once they are done (package scope: the
    rest of the suite runs without Ray in the process); yields the GCS address other
    processes (the kill tests) connect to."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    from vmb.engines.runtime import quiet_ray_data, start_local, worker_env

    sigint = signal.getsignal(signal.SIGINT)
    start_local(ray, 2, include_dashboard=False, log_to_driver=False, runtime_env=worker_env())
    quiet_ray_data()
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        signal.signal(signal.SIGINT, sigint)  # later tests (Ctrl-C handling) see it as it was


@pytest.fixture(autouse=True)
def _sigint_untouched():
    """No engine test leaves SIGINT handled otherwise than it found it."""
    before = signal.getsignal(signal.SIGINT)
    yield
    assert signal.getsignal(signal.SIGINT) is before


@pytest.fixture(scope="session")
def engine_library(tmp_path_factory) -> Path:
    """Six 6 s synthetic tracks (``retrieve_library``) and one file that is not audio."""
    from retrieve.retrieve_library import write_library

    folder = write_library(tmp_path_factory.mktemp("engine-library"), manifest=False)
    (folder / "audio" / "broken.wav").write_bytes(b"this is not audio at all")
    return folder / "audio"


@pytest.fixture(scope="session")
def local_index(engine_library, tmp_path_factory) -> Path:
    """The single-process (builtin) index of ``engine_library``."""
    from vmb.retrieve import build_index

    out = tmp_path_factory.mktemp("engine-indexes") / "local"
    build_index(engine_library, out, segment_s=SEGMENT_S, hop_s=SEGMENT_S, progress=False)
    return out


@pytest.fixture(scope="session")
def batch_inputs(tmp_path_factory, engine_library) -> dict[str, Path]:
    """Two 1 s videos, an image and a JSONL manifest of four items, one of them bad."""
    from vmb.testing import make_image, make_video

    folder = tmp_path_factory.mktemp("batch-inputs")
    make_video(folder / "red.mp4", seconds=1.0, size=(96, 64), colour=(220, 30, 30))
    make_video(folder / "blue.mp4", seconds=1.0, size=(96, 64), colour=(30, 30, 220), pattern="solid")
    make_image(folder / "green.png")
    rows = [
        {"id": "red", "video": "red.mp4", "duration": 1, "seed": 1},
        {"id": "calm", "text": "calm piano at 70 bpm", "duration": 1, "seed": 2, "wants": "tempo=slow"},
        {"id": "missing", "video": "no-such-video.mp4", "duration": 1, "seed": 3},
        {"id": "blue", "video": "blue.mp4", "images": ["green.png"], "duration": 1, "seed": 4},
    ]
    manifest = folder / "batch.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"folder": folder, "manifest": manifest}
