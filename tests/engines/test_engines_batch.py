"""Batch scoring: local and on Ray, a bad item reported while the rest finish, kill -9 + resume."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vmb.errors import UsageError
from vmb.testing import kill_when

pytestmark = pytest.mark.timeout(400)

GOOD = ["red", "calm", "blue"]


def _load(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _check_batch(out: Path, summary: dict) -> None:
    status = {i["id"]: i for i in summary["items"]}
    assert [status[i]["status"] for i in GOOD] == ["done"] * 3
    assert status["missing"]["status"] == "failed"
    assert "no-such-video.mp4" in status["missing"]["error"]
    assert (summary["total"], summary["done"], summary["failed"]) == (4, 3, 1)
    rows = list(csv.DictReader((out / "status.csv").open()))
    assert [(r["id"], r["status"]) for r in rows] == [("red", "done"), ("calm", "done"), ("missing", "failed"), ("blue", "done")]
    for item in GOOD:
        result = json.loads(Path(status[item]["json"]).read_text())
        assert result["duration_s"] == pytest.approx(1.0, abs=0.05)
        assert Path(status[item]["json"]).parent == out / "items" / item
    assert (out / "items" / "red" / "red.vmb.mp4").is_file()
    assert not (out / "items" / "missing").exists() or not any((out / "items" / "missing").iterdir())


def _wav(out: Path, item: str, stem: str) -> np.ndarray:
    import soundfile as sf

    audio, _ = sf.read(str(out / "items" / item / f"{stem}.vmb.wav"), dtype="float32")
    return audio


def test_batch_local_then_ray_same_music(ray_runtime, batch_inputs, local_index, tmp_path):
    """One Pipeline per worker, a bad item failed with its reason, the others done; the music of
    each item is the same locally and on two Ray actors (seeded)."""
    from vmb.engines import run_batch

    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    local = run_batch(batch_inputs["manifest"], local_out, profile="builtin", index=local_index, progress=False)
    assert local.failed == 1 and local.workers == 1
    _check_batch(local_out, _load(local_out))

    remote = run_batch(batch_inputs["manifest"], ray_out, engine="ray", workers=2, profile="builtin",
                       index=local_index, progress=False)  # fmt: skip
    assert remote.failed == 1 and remote.workers == 2
    _check_batch(ray_out, _load(ray_out))
    for item, stem in (("red", "red"), ("calm", "vmb-music"), ("blue", "blue")):
        np.testing.assert_array_equal(_wav(local_out, item, stem), _wav(ray_out, item, stem))


def test_batch_cli_exit_status_and_refusals(batch_inputs, local_index, tmp_path):
    from typer.testing import CliRunner

    from vmb.cli import app

    out = tmp_path / "cli"
    runner = CliRunner()
    args = ["generate", "--batch", str(batch_inputs["manifest"]), "--out", str(out), "--profile", "builtin",
            "--index", str(local_index), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["done"], summary["failed"]) == (3, 1)
    before = (out / "items" / "red" / "red.vmb.wav").read_bytes()
    # the folder holds a batch: without --resume it is refused, nothing is touched
    again = runner.invoke(app, args[:-1])
    assert again.exit_code == 1 and "--resume" in again.output
    assert (out / "items" / "red" / "red.vmb.wav").read_bytes() == before
    # a folder with the user's files is refused even with --resume
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    refused = runner.invoke(app, ["generate", "--batch", str(batch_inputs["manifest"]), "--out", str(mine), "--resume"])
    assert refused.exit_code == 1 and "notes.txt" in refused.output
    usage = runner.invoke(app, ["generate", "--batch", str(batch_inputs["manifest"]), "--out", str(tmp_path / "u"),
                                "--video", "x.mp4"])  # fmt: skip
    assert usage.exit_code != 0 and "--batch" in usage.output


def test_bad_manifest_is_one_error(tmp_path):
    from vmb.engines.batch_items import read_batch

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"vidoe": "a.mp4"}\n')
    with pytest.raises(UsageError, match="bad.jsonl:1: unknown column 'vidoe'"):
        read_batch(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("id,text\na,calm\na,sad\n")
    with pytest.raises(UsageError, match="id 'a' is used by an earlier row"):
        read_batch(dup)
    unsafe = tmp_path / "unsafe.csv"
    unsafe.write_text("id,text\n../x,calm\n")
    with pytest.raises(UsageError, match="not a plain name"):
        read_batch(unsafe)
    items = read_batch(_csv(tmp_path))
    assert [i.id for i in items] == ["001-clip", "002-vmb-music"]
    assert items[0].images == (str(tmp_path / "a.png"), str(tmp_path / "b.png"))
    assert items[1].wants == ("tempo=fast", "genre=jazz")


def _csv(folder: Path) -> Path:
    path = folder / "items.csv"
    path.write_text('video,images,text,wants,duration,seed\nclip.mp4,a.png;b.png,,,2,1\n,,jazz,"tempo=fast; genre=jazz",,\n')
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_mid_batch_then_resume_loses_nothing(batch_inputs, local_index, tmp_path):
    """kill -9 of `vmb generate --batch` after its first finished item: that item's files
    survive unchanged, --resume keeps it (finished), retries the failed one, runs the rest."""
    folder = batch_inputs["folder"]
    manifest = tmp_path / "six.jsonl"
    rows = [{"id": f"v{i}", "video": str(folder / "red.mp4"), "duration": 1, "seed": i} for i in range(5)]
    rows.insert(2, {"id": "bad", "video": str(folder / "nope.mp4"), "duration": 1})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "vmb.cli", "generate", "--batch", str(manifest), "--out", str(out),
           "--profile", "builtin", "--index", str(local_index)]  # fmt: skip
    first = out / "items" / "v0" / "red.vmb.json"
    kill_when(cmd, first.is_file, 240, env=env)
    finished = sorted(p for p in (out / "items").glob("*/*.vmb.json"))
    assert finished and len(finished) < 5
    kept = {p: _digest(p) for f in finished for p in f.parent.iterdir()}
    resumed = subprocess.run([*cmd, "--resume", "--json"], env=env, capture_output=True, text=True, timeout=300,
                             check=False)
    assert resumed.returncode == 1, resumed.stderr[-2000:]  # the bad item failed again
    summary = json.loads(resumed.stdout)
    status = {i["id"]: i["status"] for i in summary["items"]}
    assert status.pop("bad") == "failed"
    assert set(status.values()) <= {"done", "finished"} and len(status) == 5
    assert summary["finished_before"] == len(finished)
    assert all(_digest(p) == digest for p, digest in kept.items())  # nothing finished was lost or redone
    assert len(list((out / "items").glob("*/*.vmb.json"))) == 5
