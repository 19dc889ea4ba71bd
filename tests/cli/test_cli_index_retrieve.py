"""`vmb index build`, `vmb index info` and `vmb retrieve` through Typer's CliRunner."""

import json

import pytest
from retrieve.retrieve_library import TRACKS
from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def cli_index(make_library, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    manifest = make_library(root, [TRACKS[2], TRACKS[4]])
    (root / "audio" / "broken.wav").write_text("not audio")
    with manifest.open("a") as f:
        f.write(json.dumps({"path": "audio/broken.wav"}) + "\n")
    out = root / "index"
    result = runner.invoke(
        app,
        [
            "index",
            "build",
            str(manifest),
            "--out",
            str(out),
            "--encoder",
            "builtin",
            "--segment-s",
            "3",
            "--hop-s",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return root, out, json.loads(result.stdout)


def test_build_json_and_text_output(cli_index):
    root, out, data = cli_index
    assert data["path"] == str(out)
    assert (
        data["count"] == 4 and data["tracks"] == 2 and data["encoder"] == "minilm:all-MiniLM-L6-v2"
    )
    assert [s["path"].endswith("broken.wav") for s in data["skipped"]] == [True]
    result = runner.invoke(
        app,
        [
            "index",
            "build",
            str(root / "library.jsonl"),
            "--out",
            str(root / "again"),
            "--segment-s",
            "3",
            "--hop-s",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "indexed 4 clips of 2 tracks" in result.stdout
    assert "skipped 1 file(s):" in result.stdout and "broken.wav: " in result.stdout


def test_info(cli_index):
    _, out, _ = cli_index
    result = runner.invoke(app, ["index", "info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["count"] == 4 and data["histograms"]["genre"] == {"ambient": 2, "jazz": 2}
    assert "files" not in data and "stats" not in data["audio"]
    text = runner.invoke(app, ["index", "info", str(out)])
    assert text.exit_code == 0 and "jazz 2" in text.stdout and "features:v1" in text.stdout


def test_retrieve_with_wants_and_reference(cli_index):
    root, out, _ = cli_index
    ref = root / "audio" / "jazz_club.wav"
    args = [
        "retrieve",
        "--index",
        str(out),
        "--text",
        "dreamy synth pads",
        "--want",
        "genre=ambient",
        "--reference",
        str(ref),
        "-k",
        "1",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [h["track"] for h in data["hits"]] == ["pinned", "targeted"]
    assert data["hits"][1]["clip"]["track_id"] == "audio/ambient_space.wav"
    assert data["text"] == "dreamy synth pads, in the style of ambient."
    assert any("broad track: 0 of 1" in n for n in data["notes"])
    text = runner.invoke(app, args[:-1])
    assert (
        text.exit_code == 0 and "query: dreamy synth pads, in the style of ambient." in text.stdout
    )


def test_retrieve_with_a_video(cli_index, tmp_path):
    from vmb.testing import make_video

    _, out, _ = cli_index
    video = make_video(tmp_path / "clip.mp4", seconds=1.0, fps=8, size=(64, 48))
    result = runner.invoke(
        app,
        ["retrieve", "--index", str(out), "--video", str(video), "--describer", "visual", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["description"]["text"] and data["description"]["source"]
    assert len(data["hits"]) == 1 and data["hits"][0]["track"] == "broad"
    assert "energetic" in data["description"]["mood"]  # the moving test pattern
    # a wanted mood goes into the description the JSON shows, replacing the one it contradicts
    wanted = runner.invoke(app, ["retrieve", "--index", str(out), "--video", str(video), "--describer",
                                 "visual", "--want", "mood=calm", "--json"])  # fmt: skip
    assert wanted.exit_code == 0, wanted.output
    description = json.loads(wanted.stdout)["description"]
    assert description["mood"][0] == "calm" and "energetic" not in description["mood"]
    assert "calm" in description["text"] and "energetic" not in description["text"]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["retrieve", "--text", "x", "--index", "{root}/nowhere"], 1, "index not found"),
        (
            ["retrieve", "--text", "x", "--index", "{out}", "--want", "colour=red"],
            2,
            "unknown key 'colour'",
        ),
        (["retrieve", "--index", "{out}"], 2, "give --text, --video, --image or --reference"),
        (
            ["retrieve", "--text", "x", "--index", "{out}", "--reference", "{root}/missing.wav"],
            1,
            "missing.wav",
        ),
        (
            [
                "retrieve",
                "--text",
                "x",
                "--index",
                "{out}",
                "--encoder",
                "clap",
                "--model",
                "{root}",
            ],
            1,
            "no config.json",
        ),
        (["index", "build", "{root}/nothing", "--out", "{root}/x"], 1, "source not found"),
        (
            ["index", "build", "{root}/audio", "--out", "{root}/x", "--segment-s", "0"],
            2,
            "--segment-s 0",
        ),
        (["index", "info", "{root}/audio"], 1, "info.json: missing"),
    ],
)
def test_errors_are_one_line(cli_index, args, code, message):
    root, out, _ = cli_index
    args = [a.format(root=root, out=out) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
