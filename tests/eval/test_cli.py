"""``vmb eval`` through the real Typer app: report folder, cache, and bad input (one line,
exit 1, nothing half-written, or a skipped-item line for one bad item among many)."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["eval", *[str(a) for a in args]])


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_report_folder_table_json_and_cache(chord_sets, tmp_path, monkeypatch):
    monkeypatch.setenv("VMB_HOME", str(tmp_path / "home"))
    out = tmp_path / "report"
    first = invoke("--generated", chord_sets["gen"], "--reference", chord_sets["ref"], "--metrics", "fd-features", "--out", out, "--bootstrap", "50")
    assert first.exit_code == 0, first.output
    assert "FD (built-in" in first.stdout
    data = json.loads((out / "report.json").read_text())
    assert data["kind"] == "vmb-eval-report"
    fd = data["metrics"][0]
    assert fd["name"] == "fd-features" and fd["value"] > 0 and 0 <= fd["details"]["ci_low"] <= fd["details"]["ci_high"]
    assert data["settings"]["cache"]["misses"] == 10
    assert "FD (built-in features; not FAD)" in (out / "report.md").read_text()
    assert (out / "plots" / "metrics.png").stat().st_size > 1000
    assert (out / "plots" / "distances_features.png").is_file()
    # a rerun computes nothing again and may replace its own earlier report
    second = invoke("--generated", chord_sets["gen"], "--reference", chord_sets["ref"], "--metrics", "fd-features", "--out", out, "--json", "--bootstrap", "50")
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["settings"]["cache"] == {"folder": str(tmp_path / "home" / "cache" / "eval"), "hits": 10, "misses": 0}
    assert again["metrics"][0]["value"] == fd["value"]


def test_empty_folder_is_one_error_line_exit_1(tmp_path, chord_sets):
    (tmp_path / "empty").mkdir()
    result = invoke("--generated", tmp_path / "empty", "--reference", chord_sets["ref"], "--out", tmp_path / "r")
    assert result.exit_code == 1
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "empty" in lines[0] and "no audio or video files" in lines[0]
    assert not (tmp_path / "r").exists()


def test_unpaired_names_are_one_error_when_nothing_pairs(tmp_path, chord_sets):
    import shutil

    other = tmp_path / "other"
    other.mkdir()
    for i in range(2):
        shutil.copy(chord_sets["ref"] / f"s{i}.wav", other / f"x{i}.wav")
    from vmb.errors import MediaError
    from vmb.eval import collect_items, pair_items

    try:
        pair_items(collect_items(chord_sets["gen"]), collect_items(other))
    except MediaError as exc:
        assert "no generated file name matches" in str(exc) and "\n" not in str(exc)
    else:  # pragma: no cover
        raise AssertionError("no error for unpaired names")


def test_one_unreadable_file_is_a_skipped_line_all_unreadable_is_an_error(tmp_path, chord_sets):
    import shutil

    gen = tmp_path / "gen"
    shutil.copytree(chord_sets["gen"], gen)
    (gen / "broken.wav").write_bytes(b"RIFF not really a wav")
    out = tmp_path / "r"
    result = invoke("--generated", gen, "--reference", chord_sets["ref"], "--metrics", "fd-features", "--out", out, "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    assert any(line.startswith("skipped generated broken:") for line in result.stderr.splitlines())
    data = json.loads((out / "report.json").read_text())
    assert data["skipped"][0].startswith("generated broken: ") and data["metrics"][0]["details"]["n"] == 5
    assert "skipped generated broken" in (out / "report.md").read_text()

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_bytes(b"")
    (bad / "b.mp3").write_text("hello")
    result = invoke("--generated", bad, "--reference", chord_sets["ref"], "--metrics", "fd-features", "--out", tmp_path / "r2")
    assert result.exit_code == 1
    lines = error_lines(result)
    assert len(lines) == 1 and "none of the 2 generated items could be read" in lines[0]
    assert not (tmp_path / "r2").exists()


def test_missing_model_through_the_real_command(tmp_path, chord_sets):
    proc = subprocess.run(
        [sys.executable, "-m", "vmb.cli", "eval", "--generated", str(chord_sets["gen"]), "--reference", str(chord_sets["ref"]),
         "--metrics", "kl-ast", "--ast-model", str(tmp_path / "no-ast"), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no-ast" in lines[0] and "model weights not found" in lines[0]
    assert not (tmp_path / "r").exists()


def test_usage_errors_and_a_foreign_out_folder(tmp_path, chord_sets):
    result = invoke("--generated", chord_sets["gen"], "--metrics", "fd-features")
    assert result.exit_code == 2 and "needs --reference" in result.stderr
    result = invoke("--generated", chord_sets["gen"], "--reference", chord_sets["ref"], "--metrics", "fad")
    assert result.exit_code == 2 and "--metrics fad: unknown metric" in result.stderr
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    result = invoke("--generated", chord_sets["gen"], "--reference", chord_sets["ref"], "--out", user)
    assert result.exit_code == 1 and "choose a new --out folder" in result.stderr
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]


def test_partly_unpaired_names_are_skipped_lines(tmp_path, chord_sets, tiny_models):
    import shutil

    ref = tmp_path / "ref"
    shutil.copytree(chord_sets["ref"], ref)
    (ref / "s4.wav").rename(ref / "other.wav")
    from vmb.eval import evaluate

    report = evaluate(chord_sets["gen"], ref, metrics="kl-ast", models=tiny_models, device="cpu", cache_dir=None)
    assert report.metric("kl-ast").details["n"] == 4
    assert report.skipped == ["generated s4: kl-ast: no reference file of that name"]
