"""``vmb data pairs``: music videos → the dataset both trainers read; and the adapter trainer
reading it end to end through the CLI (data → index → ``vmb train adapter``)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vmb.cli import app


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """``(video folder, dataset folder, CLI result)`` of three music videos and one silent one."""
    from train.train_data import write_videos

    from vmb.testing import make_video

    folder = write_videos(tmp_path_factory.mktemp("videos") / "clips", count=3)
    make_video(folder / "zz_silent.mp4", seconds=1.0, fps=12, size=(96, 64))
    out = folder.parent / "pairs"
    result = CliRunner().invoke(app, ["data", "pairs", str(folder), "--out", str(out), "--frames", "4",
                                      "--max-side", "64", "--json"])  # fmt: skip
    return folder, out, result


def test_pairs_dataset_holds_frames_audio_measurements_and_targets(pairs):
    import datasets
    import soundfile as sf

    _folder, out, result = pairs
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 3
    assert [(s["path"].endswith("zz_silent.mp4"), "no audio track" in s["reason"]) for s in report["skipped"]] == [(True, True)]
    data = datasets.load_from_disk(str(out))
    assert data.num_rows == 3 and data["id"] == ["calm_piano.mp4", "cinematic.mp4", "dance.mp4"]
    row = data[0]
    assert len(row["frames"]) == 4 and max(row["frames"][0].size) == 64
    assert row["timestamps"] == sorted(row["timestamps"]) and row["timestamps"][-1] < 1.5
    audio, sr = sf.read(io.BytesIO(row["audio"]["bytes"]))
    assert sr == 32000 and abs(len(audio) / sr - 1.5) < 0.1 and abs(row["duration_s"] - len(audio) / sr) < 1e-6
    assert np.abs(audio).max() > 0.05  # the chord, not silence
    assert row["loudness_db"] > -40 and 0 <= row["energy"] <= 1
    # Tags from metadata.csv (first two videos) go into the target with the measurements.
    target = json.loads(row["description"])
    assert (target["genre"], target["mood"], target["theme"]) == ("ambient", ["calm"], "night city")
    assert target["energy"] == round(row["energy"], 2) and row["target_source"] == "template"
    assert row["caption"] == target["description"] and target["description"].startswith("A calm ambient track")
    untagged = json.loads(data[1]["description"])  # cinematic.mp4 has no tags
    assert untagged["genre"] is None and untagged["description"]  # measurements alone still make a sentence


def test_pairs_refuses_to_overwrite_and_reports_bad_folders(pairs, tmp_path):
    folder, out, _ = pairs
    runner = CliRunner()
    result = runner.invoke(app, ["data", "pairs", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "already exists (pass --overwrite" in result.stderr
    result = runner.invoke(app, ["data", "pairs", str(tmp_path), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "no video files" in result.stderr
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    result = runner.invoke(app, ["data", "pairs", str(tmp_path), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "no usable music video" in result.stderr
    assert not (tmp_path / "d").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".d.")]


def test_cli_trains_an_adapter_on_the_pairs_dataset(pairs, tiny_musicgen, tmp_path):
    from vmb.retrieve import build_index

    _, data, _ = pairs
    build_index(data, tmp_path / "index", encoder="builtin", segment_s=1.0, hop_s=1.0, progress=False, device="cpu")
    out = tmp_path / "adapter"
    command = ["train", "adapter", "--data", str(data), "--index", str(tmp_path / "index"), "--base", str(tiny_musicgen),
               "--out", str(out), "--mechanism", "controlformer", "--control-layers", "1", "--steps", "4",
               "--batch-size", "2", "--lr", "0.01", "--segment-s", "1", "--eval-fraction", "0.3", "--eval-every", "2",
               "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(app, [*command, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 4 and report["held_out_examples"] == 2 and report["train_examples"] == 4
    assert [s for s, _ in report["eval_losses"]] == [0, 2, 4]
    config = json.loads((out / "adapter_config.json").read_text())
    assert (config["reference_tokens"], config["control_layers"]) == (False, 1)
    # Each clip's music bridge is another video's audio (dataset rows are the index's tracks).
    prepared = json.loads((out / "prepared" / "examples.json").read_text())["examples"]
    assert {e["track"] for e in prepared} == {"000000", "000001", "000002"}
    assert all(e["reference_track"] != e["track"] for e in prepared)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and "already holds a training run" in result.stderr
    result = CliRunner().invoke(app, [*command[:-2], "--device", "cpu", "--mechanism", "lora"])
    assert result.exit_code == 2
