"""`vmb probe` through Typer's CliRunner, and once as the installed console command."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vmb.cli import app
from vmb.testing import make_image, make_tone

runner = CliRunner()


def test_probe_prints_the_facts(av_mp4):
    result = runner.invoke(app, ["probe", str(av_mp4)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "with audio.mp4: video, 2.00 s, 96x64 at 24 fps (48 frames, h264), "
        "audio 48000 Hz mono (aac); container mov,mp4,m4a,3gp,3g2,mj2."
    )


def test_probe_json(vp9_webm, media_dir):
    result = runner.invoke(app, ["probe", str(vp9_webm), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["kind"], data["video_codec"], data["audio_codec"], data["num_frames"]) == (
        "video",
        "vp9",
        "opus",
        48,
    )
    data = json.loads(
        runner.invoke(
            app, ["probe", str(make_image(media_dir / "cli.jpg", size=(40, 30))), "--json"]
        ).stdout
    )
    assert (data["kind"], data["width"], data["height"]) == ("image", 40, 30)
    data = json.loads(
        runner.invoke(
            app, ["probe", str(make_tone(media_dir / "cli.ogg", 440, 1.0)), "--json"]
        ).stdout
    )
    assert (data["kind"], data["audio_codec"], data["sample_rate"]) == ("audio", "vorbis", 44100)


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "file not found"),
        (b"", "file is empty"),
        (b"hello\n" * 30, "not a media file (looks like text)"),
    ],
)
def test_probe_bad_file_is_one_line_and_exit_1(tmp_path, content, reason):
    path = tmp_path / "bad clip.mp4"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(app, ["probe", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {path}: {reason}\n"


def test_debug_shows_the_exception(tmp_path):
    result = runner.invoke(app, ["--debug", "probe", str(tmp_path / "nope.mp4")])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "MediaError"


def _installed_vmb() -> str:
    found = Path(sys.executable).parent / "vmb"
    return str(found) if found.exists() else shutil.which("vmb")


def test_installed_command(av_mp4, tmp_path):
    vmb = _installed_vmb()
    assert vmb, "the vmb console script is not installed (pip install -e .)"
    bad = tmp_path / "broken vidéo.mp4"
    bad.write_bytes(av_mp4.read_bytes()[:1000])
    env = {**os.environ, "COLUMNS": "60"}  # narrow terminal: the summary must still be one line
    good = subprocess.run(
        [vmb, "probe", str(av_mp4)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.count("\n") == 1 and "96x64 at 24 fps (48 frames, h264)" in good.stdout
    failed = subprocess.run(
        [vmb, "probe", str(bad)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert failed.returncode == 1 and failed.stdout == ""
    assert (
        failed.stderr
        == f"error: {bad}: corrupt, truncated or not a media file: moov atom not found\n"
    )
    assert "Traceback" not in failed.stderr
