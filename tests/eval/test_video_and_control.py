"""Alignment on real mp4s with music (cuts vs beats, motion vs loudness), controllability on a
vmb result, and ``vmb eval run`` on a 2-item manifest with the builtin profile."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vmb.cli import app
from vmb.eval import evaluate

SR = 32000
COLOURS = [(220, 30, 30), (30, 30, 220), (30, 200, 30), (240, 240, 240), (90, 20, 120), (250, 200, 0)]


def clicks(times, seconds):
    y = np.zeros(int(seconds * SR), np.float32)
    n = int(0.02 * SR)
    click = (np.sin(2 * np.pi * 1500 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.004 * SR))).astype(np.float32)
    for t in times:
        i = int(t * SR)
        y[i : i + n] += click[: len(y) - i]
    return 0.8 * y[None, :]


@pytest.fixture(scope="module")
def cut_videos(tmp_path_factory):
    from vmb.media import mux
    from vmb.testing import make_video

    tmp = tmp_path_factory.mktemp("cutvideos")

    def frame(index, time_s):
        return np.full((64, 64, 3), COLOURS[int(time_s) % len(COLOURS)], np.uint8)

    silent = make_video(tmp / "silent.mp4", seconds=6.0, fps=20, size=(64, 64), frame_fn=frame)
    on = mux(silent, clicks(np.arange(0.5, 6.0, 0.5), 6.0), SR, tmp / "gen" / "on_beat.mp4", fade_s=0.0)
    off = mux(silent, clicks(np.arange(0.25, 6.0, 0.5), 6.0), SR, tmp / "gen" / "off_beat.mp4", fade_s=0.0)
    return on, off


def test_cuts_on_the_beat_score_bhs_1_and_between_beats_0(cut_videos, tmp_path):
    on, off = cut_videos
    report = evaluate([on, off], metrics="alignment", cache_dir=None)
    rows = {r["name"]: r for r in report.items}
    assert rows["on_beat"]["cuts"] == 5
    assert rows["on_beat"]["bhs"] == 1.0
    assert rows["off_beat"]["bhs"] == 0.0
    assert rows["on_beat"]["beats_on_cuts"] > rows["off_beat"]["beats_on_cuts"]
    bhs = report.metric("alignment:bhs")
    assert bhs.value == pytest.approx(0.5) and "±0.1 s" in bhs.details["definition"]
    from vmb.eval.report import write_report

    write_report(report, tmp_path / "r")
    assert (tmp_path / "r" / "plots" / "timeline_on_beat.png").is_file()


def test_motion_follows_loudness(tmp_path):
    from vmb.media import mux
    from vmb.testing import make_video

    def frame(index, time_s):
        img = np.full((64, 64, 3), 40, np.uint8)
        x = int(index * 7) % 56 if time_s >= 3.0 else 0
        img[:, x : x + 8] = 230
        return img

    silent = make_video(tmp_path / "m.mp4", seconds=6.0, fps=20, size=(64, 64), frame_fn=frame)
    t = np.arange(6 * SR) / SR
    tone = np.sin(2 * np.pi * 330 * t)
    loud_late = mux(silent, (tone * np.where(t >= 3.0, 0.5, 0.02))[None, :].astype(np.float32), SR, tmp_path / "g" / "follows.mp4", fade_s=0.0)
    loud_early = mux(silent, (tone * np.where(t < 3.0, 0.5, 0.02))[None, :].astype(np.float32), SR, tmp_path / "g" / "opposes.mp4", fade_s=0.0)
    report = evaluate([loud_late, loud_early], metrics="alignment", cache_dir=None)
    rows = {r["name"]: r for r in report.items}
    assert rows["follows"]["motion_loudness"] > 0.7
    assert rows["opposes"]["motion_loudness"] < -0.7


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    from vmb.retrieve import build_index
    from vmb.testing import make_tone

    folder = tmp_path_factory.mktemp("evallib")
    rows = []
    for name, freqs, caption in (("calm.wav", (261.63, 329.63, 392.0), "a calm piano piece"),
                                 ("sad.wav", (146.83, 174.61, 220.0), "a sad slow string piece")):
        make_tone(folder / name, freqs, seconds=12.0, sr=32000)
        rows.append({"path": name, "caption": caption})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path_factory.mktemp("evalindex") / "builtin"
    build_index(folder / "manifest.jsonl", out, encoder="builtin", progress=False)
    return out


def test_eval_run_generates_then_measures_and_a_rerun_reuses(small_index, tiny_models, tmp_path, monkeypatch):
    from vmb.testing import make_image, make_tone

    monkeypatch.setenv("VMB_HOME", str(tmp_path / "home"))
    data = tmp_path / "bench"
    make_tone(data / "ref_a.wav", (220.0, 277.18, 329.63), seconds=4.0, sr=32000)
    make_tone(data / "ref_b.wav", (196.0, 246.94, 293.66), seconds=4.0, sr=32000)
    make_image(data / "sunset.png")
    manifest = data / "manifest.jsonl"
    manifest.write_text(
        json.dumps({"id": "calm", "text": "calm piano at 70 bpm in C major", "reference": "ref_a.wav", "duration": 4}) + "\n"
        + json.dumps({"id": "sunset", "image": "sunset.png", "reference": "ref_b.wav", "caption": "warm sunset music", "duration": 4}) + "\n"
    )
    out = tmp_path / "run"
    args = ["eval", "run", "--data", str(manifest), "--profile", "builtin", "--index", str(small_index), "--out", str(out),
            "--metrics", "fd-features,control", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(p.name for p in (out / "generated").glob("*.vmb.wav")) == ["calm.vmb.wav", "sunset.vmb.wav"]
    assert (out / "report" / "report.json").is_file() and (out / "report" / "report.md").is_file()
    fd = next(m for m in report["metrics"] if m["name"] == "fd-features")
    assert fd["value"] > 0 and fd["details"]["n_generated"] == 2
    control = next(m for m in report["metrics"] if m["name"] == "control")
    calm = next(r for r in report["items"] if r["name"] == "calm")
    assert set(calm["control"]) >= {"tempo_bpm", "key", "mode"}
    assert control["value"] is not None and "instruments and ΔCLAP not computed" in control["note"]
    assert "generated with profile builtin" in report["notes"][0] and "2 new" in report["notes"][0]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert "0 new, 2 reused" in second["notes"][0]
    assert second["settings"]["cache"]["misses"] == 0
    # with CLAP: the CLAP score against the caption or vmb's text bridge, instruments by zero-shot
    args[args.index("fd-features,control")] = "fd-features,control,clap-score"
    third = CliRunner().invoke(app, [*args, "--clap-model", tiny_models["clap"], "--device", "cpu"])
    assert third.exit_code == 0, third.output
    report = json.loads(third.stdout)
    clap = next(m for m in report["metrics"] if m["name"] == "clap-score")
    assert clap["details"]["n"] == 2 and clap["details"]["text"] == ["caption", "text bridge"]
    calm = next(r for r in report["items"] if r["name"] == "calm")
    assert -1 <= calm["clap_score"] <= 1 and "instruments" in calm["control"]
    assert any(m["name"].startswith("control:instrument") for m in report["metrics"])
    delta = next(m for m in report["metrics"] if m["name"] == "control:delta-clap-instrument")
    assert delta["details"]["n"] >= 1 and -2 <= delta["value"] <= 2
    assert isinstance(calm["control"]["delta_clap_instrument"], float)


def test_eval_run_bad_manifest_is_one_line(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "x", "video": "nope.mp4"}) + "\n")
    result = CliRunner().invoke(app, ["eval", "run", "--data", str(manifest), "--profile", "builtin", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "nope.mp4 does not exist" in lines[0]
    assert not (tmp_path / "o").exists()


def test_imagebind_is_reported_as_not_computed_never_a_value(cut_videos):
    report = evaluate(list(cut_videos), metrics="alignment,imagebind", cache_dir=None)
    imagebind = report.metric("imagebind")
    assert imagebind.value is None
    assert imagebind.note.startswith("not computed") and "ImageBind backend" in imagebind.note
