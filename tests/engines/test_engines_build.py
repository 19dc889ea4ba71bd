"""The Ray index build: the same index as the single-process build, and resume after kill -9."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from engines.conftest import SEGMENT_S

from vmb.errors import IndexFileError, UsageError
from vmb.retrieve import MusicIndex
from vmb.testing import kill_when

pytestmark = pytest.mark.timeout(300)


def _same_index(a: MusicIndex, b: MusicIndex) -> None:
    assert list(a.table["id"]) == list(b.table["id"])
    assert len(a) == len(b) > 0
    va, vb = a.index.reconstruct_n(0, len(a)), b.index.reconstruct_n(0, len(b))
    np.testing.assert_allclose(va, vb, atol=1e-4)
    fa, fb = a.audio_index.reconstruct_n(0, len(a)), b.audio_index.reconstruct_n(0, len(b))
    np.testing.assert_allclose(fa, fb, atol=1e-4)
    for column in ("path", "start_s", "caption", "tempo_bpm", "key", "mode", "tempo_class"):
        assert list(a.table[column]) == list(b.table[column]), column
    assert a.info.skipped == b.info.skipped
    assert (a.info.index_type, a.info.count, a.info.tracks) == (b.info.index_type, b.info.count, b.info.tracks)
    for name, values in a.info.audio["stats"].items():
        np.testing.assert_allclose(values, b.info.audio["stats"][name], atol=1e-4)


def test_ray_build_equals_single_process_build(ray_runtime, engine_library, local_index, tmp_path):
    from vmb.engines import build_index_distributed

    out = tmp_path / "ray-index"
    info = build_index_distributed(
        engine_library, out, segment_s=SEGMENT_S, hop_s=SEGMENT_S, shards=3, progress=False
    )
    assert sorted(p.name for p in out.iterdir()) == ["audio.faiss", "clips.parquet", "index.faiss", "info.json"]
    assert not (tmp_path / ".ray-index.partial").exists()
    assert "built on Ray: 3 shard(s)" in info.notes
    ray_index, local = MusicIndex.load(out), MusicIndex.load(local_index)  # checksums verified
    _same_index(ray_index, local)
    assert [s["path"].endswith("broken.wav") for s in ray_index.info.skipped] == [True]
    # the Ray-built index answers queries like the single-process one
    from vmb.retrieve.faiss_index import search

    q = local.index.reconstruct_n(0, 2)
    assert np.array_equal(search(ray_index.index, "flat", q, 5)[1], search(local.index, "flat", q, 5)[1])


def test_sharded_ivf_index_equals_one_process_index(ray_runtime):
    """IVF-PQ trained once, filled per shard on Ray and merged = the single-process index."""
    import faiss

    from vmb.engines.faiss_shards import build_sharded_index
    from vmb.retrieve.faiss_index import build_faiss_index
    from vmb.retrieve.index_type import choose_index_type

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    spec = choose_index_type(len(x), 32, kind="ivf_pq")
    one = build_faiss_index(x, spec)
    sharded = build_sharded_index(x, spec, [0, 1000, 2500, 6000])
    assert sharded.ntotal == one.ntotal == len(x)
    for index in (one, sharded):
        faiss.extract_index_ivf(index).nprobe = 8
    d1, i1 = one.search(x[:50], 10)
    d2, i2 = sharded.search(x[:50], 10)
    assert np.array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, atol=1e-5)


def test_ray_build_refuses_what_single_process_refuses(ray_runtime, engine_library, tmp_path):
    """check_replaceable applies unchanged: a user's folder is never replaced."""
    from vmb.engines import build_index_distributed

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(IndexFileError, match="not a vmb index"):
        build_index_distributed(engine_library, mine, segment_s=SEGMENT_S, hop_s=SEGMENT_S, progress=False)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(UsageError, match="--shards 0"):
        build_index_distributed(engine_library, tmp_path / "x", shards=0, progress=False)
    with pytest.raises(UsageError, match="--address"):
        build_index_distributed(engine_library, tmp_path / "x", address="not an address", progress=False)


def test_killed_ray_build_resumes_from_finished_shards(ray_runtime, engine_library, local_index, tmp_path):
    """kill -9 of a Ray build (a CLI process on the shared runtime) after its first shard: the
    output is not written, and --resume reuses the finished shards and gives the same index."""
    from vmb.engines import build_index_distributed

    out = tmp_path / "killed"
    shards_dir = tmp_path / ".killed.partial" / "shards"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "vmb.cli", "index", "build", str(engine_library), "--out", str(out),
           "--engine", "ray", "--address", ray_runtime, "--shards", "7", "--encoder", "builtin",
           "--segment-s", str(SEGMENT_S), "--hop-s", str(SEGMENT_S)]  # fmt: skip
    kill_when(cmd, lambda: shards_dir.is_dir() and any(shards_dir.glob("shard-*.json")), 180, env=env)
    assert not out.exists()
    finished = sorted(p.name for p in shards_dir.glob("shard-*.json"))
    assert 1 <= len(finished) < 7
    info = build_index_distributed(
        engine_library, out, segment_s=SEGMENT_S, hop_s=SEGMENT_S, shards=7, resume=True, progress=False
    )
    note = next(n for n in info.notes if n.startswith("resumed: "))
    assert note.endswith("shard(s) reused from an interrupted build")
    # the shards finished before the kill (and any finished between the look and the kill)
    assert len(finished) <= int(note.split()[1]) < 7
    _same_index(MusicIndex.load(out), MusicIndex.load(local_index))
    assert not shards_dir.parent.exists()


def test_resume_with_other_shard_count_is_refused(ray_runtime, engine_library, tmp_path):
    from vmb.engines.ray_build import build_index_distributed
    from vmb.retrieve.build import Partial, plan_build

    out = tmp_path / "idx"
    plan = plan_build(engine_library, out, segment_s=SEGMENT_S, hop_s=SEGMENT_S)
    Partial(plan.out, {**plan.settings, "engine": "ray", "shards": 3}, resume=False)
    with pytest.raises(UsageError, match="shards"):
        build_index_distributed(engine_library, out, segment_s=SEGMENT_S, hop_s=SEGMENT_S, shards=2,
                                resume=True, progress=False)  # fmt: skip


def test_the_local_runtime_listens_on_loopback_only(ray_runtime):
    """Every port the local runtime's processes listen on is 127.0.0.1 (or ::1), never the
    machine's network address; the GCS address handed to other processes is loopback too."""
    psutil = pytest.importorskip("psutil")

    assert ray_runtime.startswith("127.0.0.1:")
    import ray

    ray.get([ray.remote(num_cpus=0.5)(lambda: 1).remote() for _ in range(2)])  # workers are up
    children = psutil.Process().children(recursive=True)
    listening = []
    for proc in [psutil.Process(), *children]:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening += [(proc.name(), c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
    assert {name for name, _ in listening} >= {"gcs_server", "raylet"}, listening
    exposed = [(name, ip) for name, ip in listening
               if ip not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")]
    assert not exposed, f"listening beyond loopback: {exposed}"
