"""A damaged or hostile index folder: every read is bounded (no hang on a FIFO, no endless read
of /dev/zero) and damage whose checksums were recomputed (so the sha256 check passes) is still a
one-line error, through the real ``vmb index info`` and ``vmb retrieve`` in a process with a
time limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TIME_LIMIT_S = 60


def vmb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
        check=False,
    )


def reseal(index: Path) -> None:
    """Recompute info.json's checksums, as a careful attacker (or a buggy tool) would."""
    info = json.loads((index / "info.json").read_text())
    if isinstance(info.get("files"), dict):
        for name in list(info["files"]):
            if (index / name).is_file():
                data = (index / name).read_bytes()
                info["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (index / "info.json").write_text(json.dumps(info))


def edit_info(**changes) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        info = json.loads((index / "info.json").read_text())
        info.update(changes)
        (index / "info.json").write_text(json.dumps(info))

    return damage


def fifo(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / name).unlink()
        os.mkfifo(index / name)

    return damage


def link_to_dev_zero(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / name).unlink()
        (index / name).symlink_to("/dev/zero")

    return damage


def folder_named(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / name).unlink()
        (index / name).mkdir()

    return damage


def info_not_an_object(index: Path) -> None:
    (index / "info.json").write_text("[1, 2, 3]")


def parquet_with_text_times(index: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(index / "clips.parquet")
    i = table.schema.get_field_index("start_s")
    table = table.set_column(i, "start_s", pa.array([str(v) for v in table.column(i).to_pylist()]))
    pq.write_table(table, index / "clips.parquet")
    reseal(index)


def other_dimension(index: Path) -> None:
    info = json.loads((index / "info.json").read_text())
    info["dim"] = info["dim"] + 1
    (index / "info.json").write_text(json.dumps(info))


CASES = {
    "index.faiss is a FIFO": (fifo("index.faiss"), "index.faiss: not a regular file"),
    "info.json is a FIFO": (fifo("info.json"), "info.json: not a regular file"),
    "index.faiss links to /dev/zero": (link_to_dev_zero("index.faiss"), "index.faiss: not a regular file"),
    "clips.parquet links to /dev/zero": (link_to_dev_zero("clips.parquet"), "clips.parquet: not a regular file"),
    "a folder named index.faiss": (folder_named("index.faiss"), "index.faiss: is a folder"),
    "info.json is a list": (info_not_an_object, "info.json: not a valid index info file"),
    "files is a list": (edit_info(files=[]), r"info.json: not a valid index info file \(files = \[\]"),
    "count is text": (edit_info(count="many"), "count = 'many' is not valid"),
    "dim is negative": (edit_info(dim=-4), "dim = -4 is not valid"),
    "unknown encoder kind": (edit_info(encoder_kind="magic"), "encoder_kind = 'magic' is not valid"),
    "a huge count string": (edit_info(count="9" * 5000), r"count = '9{50,60}… is not valid"),
    "start_s column as text, resealed": (parquet_with_text_times, "clips.parquet: wrong column types: start_s"),
    "dimension differs from info": (other_dimension, "dimension"),
}


@pytest.mark.parametrize("command", ["index info", "retrieve"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_damaged_index_is_one_line_and_never_hangs(case, command, small_index, tmp_path):
    damage, reason = CASES[case]
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    damage(index)
    args = ["index", "info", index] if command == "index info" else ["retrieve", "--text", "calm", "--index", index]
    proc = vmb(*args)  # a hang would raise TimeoutExpired: the test fails
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(reason, lines[0]), lines[0]
    assert len(lines[0]) < 600, "the error quotes a value uncut"


def _partial_of(library, tmp_path):
    """An interrupted build's ``.index.partial`` (made by a full build whose folder is then
    removed, leaving the per-file records as a killed build would)."""
    import vmb.retrieve.build as build

    out = tmp_path / "index"
    records = tmp_path / ".index.partial"
    original = build.Partial.remove
    build.Partial.remove = lambda self: None  # keep the records as a killed build would
    try:
        build.build_index(library, out, encoder="builtin", segment_s=2.0, hop_s=2.0, progress=False)
    finally:
        build.Partial.remove = original
    shutil.rmtree(out)
    return out, records


RESUME_DAMAGE = {
    "a record cut in half": lambda p: next((p / "done").glob("*.json")).write_text('{"key": "x", "cli'),
    "a vectors file of junk": lambda p: next((p / "done").glob("*.npz")).write_bytes(b"not a zip"),
    "a record that is a list": lambda p: next((p / "done").glob("*.json")).write_text("[1, 2]"),
}


@pytest.mark.parametrize("case", list(RESUME_DAMAGE), ids=list(RESUME_DAMAGE))
def test_resume_redoes_a_damaged_record(case, small_library, tmp_path):
    out, records = _partial_of(small_library, tmp_path)
    RESUME_DAMAGE[case](records)
    proc = vmb("index", "build", small_library, "--out", out, "--encoder", "builtin", "--segment-s", "2", "--hop-s", "2", "--resume", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    clean = vmb("index", "build", small_library, "--out", tmp_path / "clean", "--encoder", "builtin", "--segment-s", "2", "--hop-s", "2", "--json")
    assert json.loads(proc.stdout)["count"] == json.loads(clean.stdout)["count"] > 0


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: (p / "settings.json").write_text("{broken"), "the unfinished build is damaged"),
        (lambda p: ((p / "settings.json").unlink(), (p / "settings.json").mkdir()), "the unfinished build is damaged"),
        (lambda p: (shutil.rmtree(p / "done"), (p / "done").write_text("x")), "should be a folder"),
    ],
    ids=["settings not JSON", "settings a folder", "done a file"],
)
def test_resume_of_a_damaged_build_is_one_line(damage, reason, small_library, tmp_path):
    out, records = _partial_of(small_library, tmp_path)
    damage(records)
    proc = vmb("index", "build", small_library, "--out", out, "--encoder", "builtin", "--segment-s", "2", "--hop-s", "2", "--resume")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], proc.stderr
