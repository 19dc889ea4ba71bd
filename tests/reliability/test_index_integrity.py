"""Index builds lose nothing: SIGKILL at a random point then ``--resume`` gives the clean build;
a reader never sees half of a replaced index; a modified or truncated file is caught on load.

``tests/retrieve/test_retrieve_kill.py`` kills a larger build after a fixed number of tracks
(slow mark); this is the CI-sized version on the four-track library of ``small_index``, killed at
a random moment (possibly inside a track) through the ``vmb index build`` command itself.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from reliability.reliability_media import BUILD
from typer.testing import CliRunner

from vmb.cli import app
from vmb.errors import IndexFileError
from vmb.retrieve import MusicIndex

# ``vmb index build`` in its own process, each track held 0.3 s longer so the kill lands mid-build.
SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    import vmb.retrieve.build as build
    original = build.TrackIndexer.__call__
    def slower(self, track):
        result = original(self, track)
        time.sleep(0.3)
        return result
    build.TrackIndexer.__call__ = slower
    from vmb.cli import main
    sys.argv = ["vmb", "index", "build", *sys.argv[1:]]
    main()
    """
)


def assert_same_index(a_path, b_path):
    a, b = MusicIndex.load(a_path), MusicIndex.load(b_path)
    assert pq.read_table(a_path / "clips.parquet").equals(pq.read_table(b_path / "clips.parquet"))
    np.testing.assert_array_equal(a.index.reconstruct_n(0, len(a)), b.index.reconstruct_n(0, len(b)))
    np.testing.assert_array_equal(
        a.audio_index.reconstruct_n(0, len(a)), b.audio_index.reconstruct_n(0, len(b))
    )


def test_sigkill_at_a_random_point_then_resume_gives_the_clean_build(small_library, small_index, tmp_path):
    out = tmp_path / "killed index"
    done = tmp_path / f".{out.name}.partial" / "done"
    args = [str(small_library), "--out", str(out), "--encoder", "builtin",
            "--segment-s", str(BUILD["segment_s"]), "--hop-s", str(BUILD["hop_s"])]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not any(done.glob("*.json")):
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.5))  # anywhere in the next one or two tracks
        assert proc.poll() is None, "the build ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = len(list(done.glob("*.json")))
    assert 1 <= finished < 4 and not out.exists()

    result = CliRunner().invoke(app, ["index", "build", *args, "--resume"])
    assert result.exit_code == 0, result.output
    assert not done.parent.exists(), "the partial folder was left behind"
    assert_same_index(out, small_index)


def _versions(small_index):
    """Two indexes of the same shape that differ in every caption and every vector."""
    import faiss

    v1 = MusicIndex.load(small_index)
    v2 = MusicIndex.load(small_index)
    v2.table["caption"] = [f"v2 {c}" for c in v2.table["caption"]]
    vectors = v1.index.reconstruct_n(0, len(v1))
    v2.index = faiss.IndexFlat(vectors.shape[1], v1.index.metric_type)
    v2.index.add(-vectors)
    v2.info.index_type, v2.info.index_params = "flat", {}
    return v1, v2


def test_a_reader_sees_the_old_or_the_new_index_never_a_mix(small_index, tmp_path):
    v1, v2 = _versions(small_index)
    live = tmp_path / "live index"
    v1.save(live)
    v1_vectors = v1.index.reconstruct_n(0, len(v1))
    stop = threading.Event()
    saves = [0]

    def rebuild_again_and_again():
        while not stop.is_set():
            (v2 if saves[0] % 2 == 0 else v1).save(live)
            saves[0] += 1

    writer = threading.Thread(target=rebuild_again_and_again, daemon=True)
    writer.start()
    seen, start = [], time.monotonic()
    try:
        # until both versions were read, 30 reads in all and the writer replaced a replaced
        # index (under load the reader can finish its 30 reads before the second save)
        while time.monotonic() - start < 60 and (len(set(seen)) < 2 or len(seen) < 30 or saves[0] < 2):
            index = MusicIndex.load(live)  # verifies every checksum: a mix would raise here
            captions = {c.startswith("v2 ") for c in index.table["caption"]}
            vectors = index.index.reconstruct_n(0, len(index))
            assert len(captions) == 1, "captions of two builds in one index"
            version = "v2" if captions.pop() else "v1"
            expected = -v1_vectors if version == "v2" else v1_vectors
            np.testing.assert_array_equal(vectors, expected)
            seen.append(version)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert set(seen) == {"v1", "v2"} and saves[0] >= 2, (seen, saves)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != live.name]
    assert leftovers == [], "temporary folders of replaced indexes were left behind"


def test_a_reader_in_another_process_during_rebuilds(small_index, tmp_path):
    """The same in two processes (no GIL between reader and writer)."""
    v1, v2 = _versions(small_index)
    live = tmp_path / "live index"
    v1.save(live)
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from vmb.retrieve import MusicIndex
            for _ in range(40):
                index = MusicIndex.load(sys.argv[1])
                kinds = {c.startswith("v2 ") for c in index.table["caption"]}
                first = float(index.index.reconstruct(0)[0])
                print(len(kinds), "v2" if kinds.pop() else "v1", first, flush=True)
            """), str(live)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    saves = 0
    while reader.poll() is None and saves < 2000:
        (v2 if saves % 2 == 0 else v1).save(live)
        saves += 1
    out, err = reader.communicate(timeout=120)
    rows = [line.split() for line in out.splitlines()]
    # the loads done before a failure tell a crash while loading from one at the reader's exit
    assert reader.returncode == 0, (reader.returncode, f"{len(rows)} of 40 loads done", err)
    first = float(v1.index.reconstruct(0)[0])
    assert len(rows) == 40
    for kinds, version, value in rows:
        assert kinds == "1" and float(value) == (-first if version == "v2" else first)


def test_loading_an_index_starts_no_threads(small_index):
    """A load reads the Parquet table on the calling thread: Arrow's thread pools, once started,
    can abort a process at exit ("terminate called without an active exception",
    apache/arrow#34314), which a `vmb` command would report as a crash after its work was done."""
    code = textwrap.dedent("""
        import os, sys
        import faiss, pyarrow, pyarrow.parquet
        from vmb.retrieve import MusicIndex
        before = len(os.listdir("/proc/self/task"))
        for _ in range(3):
            MusicIndex.load(sys.argv[1])
        print(before, len(os.listdir("/proc/self/task")))
        """)
    out = subprocess.run([sys.executable, "-c", code, str(small_index)], capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()  # fmt: skip
    assert out[0] == out[1], f"threads before and after three loads: {out}"


@pytest.mark.parametrize("name", ["index.faiss", "clips.parquet", "audio.faiss", "info.json"])
@pytest.mark.parametrize("damage", ["flip a byte", "truncate"])
def test_a_modified_or_truncated_file_is_caught_on_load(small_index, tmp_path, name, damage):
    copy = tmp_path / "copy"
    shutil.copytree(small_index, copy)
    data = bytearray((copy / name).read_bytes())
    if damage == "flip a byte" and name == "info.json":  # a changed checksum: a file no longer matches
        data = bytearray(data.decode().replace('"sha256": "', '"sha256": "0', 1).encode())
    elif damage == "flip a byte":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 2]
    (copy / name).write_bytes(bytes(data))
    with pytest.raises(IndexFileError) as caught:
        MusicIndex.load(copy)
    message = str(caught.value)
    assert "\n" not in message and str(copy) in message
    reasons = ("checksum does not match", "truncated or modified", "not a valid index info file")
    assert any(r in message for r in reasons), message
    result = CliRunner().invoke(app, ["index", "info", str(copy)])
    assert result.exit_code == 1 and result.stderr.strip() == f"error: {message}"
