"""One unusable entry in an index source is skipped and reported; the rest is indexed.

Through the real ``vmb index build`` in a process: a folder with a symbolic-link loop, a dangling
link and a file name that is not UTF-8; JSONL manifests with a NUL, a lone surrogate, a 70 kB
field, a cut-off last line; a CSV whose unbalanced quote would swallow the rows after it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmb.testing import make_tone

ARGS = ("--encoder", "builtin", "--segment-s", "2", "--hop-s", "2", "--json")


def build(source: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", "index", "build", str(source), "--out", str(out), *ARGS],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    for name, root in (("a.wav", 220.0), ("b.wav", 262.0), ("c.wav", 330.0)):
        make_tone(folder / name, (root, root * 1.5), seconds=2.5, sr=16000)
    return folder


def reasons(info: dict) -> str:
    return " | ".join(f"{s['path']}: {s['reason']}" for s in info["skipped"])


def test_a_folder_with_a_link_loop_a_dangling_link_and_a_non_utf8_name(tones, tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(tones, folder)
    os.symlink("loop.wav", folder / "loop.wav")
    os.symlink("nowhere.wav", folder / "dangling.wav")
    shutil.copy(tones / "a.wav", os.path.join(os.fsencode(folder), b"caf\xe9.wav"))
    info = build(folder, tmp_path / "index")
    assert info["count"] == 3, reasons(info)
    assert len(info["skipped"]) == 3, reasons(info)
    text = reasons(info)
    assert "loop.wav" in text and "dangling.wav" in text and "not valid UTF-8" in text


def test_a_manifest_with_bad_rows_indexes_the_good_ones(tones, tmp_path):
    rows = [
        json.dumps({"path": str(tones / "a.wav")}),
        json.dumps({"path": "b\u0000.wav"}),
        json.dumps({"path": str(tones / "b.wav"), "caption": "x" * 70_000}),
        '{"path": "\\ud800.wav"}',
        json.dumps({"path": str(tones / "c.wav"), "caption": "a calm piece"}),
        '{"path": "cut off',
    ]
    manifest = tmp_path / "songs.jsonl"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    info = build(manifest, tmp_path / "index")
    assert info["count"] == 2, reasons(info)
    text = reasons(info)
    assert "line 2: field 'path' holds a NUL" in text
    assert "line 3: field 'caption' is longer than 65536 characters" in text
    assert "line 4: field 'path' holds a lone surrogate" in text
    assert "line 6 is not valid JSON" in text


def test_a_csv_quote_left_open_is_reported_not_swallowed(tones, tmp_path):
    manifest = tmp_path / "songs.csv"
    manifest.write_text(
        f'path,caption\n{tones / "a.wav"},"calm\n{tones / "b.wav"},rock\n{tones / "c.wav"},jazz\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", "index", "build", str(manifest), "--out", str(tmp_path / "i"), *ARGS],
        capture_output=True, text=True, timeout=300, check=False,
    )
    # the open quote swallows every row after it: nothing usable is left, and the error says why
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "a quote left open swallows lines up to 4" in line, line


def test_data_pairs_skips_a_link_loop_and_refuses_a_negative_max_side(tmp_path):
    from vmb.testing import make_video

    videos = tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", seconds=1.0, size=(64, 48), audio_freqs=440.0)
    os.symlink("loop.mp4", videos / "loop.mp4")

    def vmb(*args):
        return subprocess.run([sys.executable, "-c", "from vmb.cli import main; main()", *map(str, args)],
                              capture_output=True, text=True, timeout=300, check=False)

    proc = vmb("data", "pairs", videos, "--out", tmp_path / "pairs")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "1 pair(s) written" in proc.stdout + proc.stderr
    assert "loop.mp4: a symbolic-link loop" in proc.stdout + proc.stderr
    proc = vmb("data", "pairs", videos, "--out", tmp_path / "pairs2", "--max-side", "-5")
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --max-side -5: must be at least 16 pixels"
    assert not (tmp_path / "pairs2").exists()
