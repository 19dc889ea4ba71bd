"""A build killed with SIGKILL (no cleanup at all) resumes to the index a clean build gives."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from retrieve.retrieve_library import SEGMENT_S, TRACKS

from vmb.retrieve import MusicIndex, build_index
from vmb.retrieve.build import TrackIndexer

BUILD = (
    "import sys; from vmb.retrieve import build_index; "
    "build_index(sys.argv[1], sys.argv[2], segment_s=float(sys.argv[3]), hop_s=float(sys.argv[3]), progress=False)"
)


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path, make_library, builtin_encoder, monkeypatch):
    manifest = make_library(tmp_path / "lib", TRACKS[:5])
    out = tmp_path / "idx"
    done = tmp_path / ".idx.partial" / "done"
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(manifest), str(out), str(SEGMENT_S)])
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if done.is_dir() and len(list(done.glob("*.json"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the build ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = len(list(done.glob("*.json")))
    assert 2 <= finished < 5 and not out.exists()

    calls = []
    original = TrackIndexer.__call__
    monkeypatch.setattr(
        TrackIndexer,
        "__call__",
        lambda self, track: (calls.append(track.key), original(self, track))[1],
    )
    kwargs = {
        "encoder": builtin_encoder,
        "segment_s": SEGMENT_S,
        "hop_s": SEGMENT_S,
        "progress": False,
    }
    build_index(manifest, out, resume=True, **kwargs)
    assert len(calls) == 5 - finished
    build_index(manifest, tmp_path / "clean", **kwargs)
    a, b = MusicIndex.load(out), MusicIndex.load(tmp_path / "clean")
    assert pq.read_table(out / "clips.parquet").equals(
        pq.read_table(tmp_path / "clean" / "clips.parquet")
    )
    np.testing.assert_array_equal(
        a.index.reconstruct_n(0, len(a)), b.index.reconstruct_n(0, len(b))
    )
    np.testing.assert_array_equal(
        a.audio_index.reconstruct_n(0, len(a)), b.audio_index.reconstruct_n(0, len(b))
    )
