"""Fixtures of the reliability tests: one folder of odd and broken inputs (a unicode name with
spaces, so every path in the matrix has both) and a tiny built-in index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reliability import reliability_media as rm
from reliability.reliability_media import BUILD, LIBRARY

from vmb.testing import make_image, make_tone, make_video


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Name -> file (or folder) of every input the matrix uses."""
    folder = tmp_path_factory.mktemp("bad inputs") / "vidéos et sons ü"
    folder.mkdir()
    good_mp4 = make_video(folder / "good clip.mp4", seconds=1.0, size=(64, 48))
    good_png = make_image(folder / "good image.png", (64, 48))
    good_wav = make_tone(folder / "good tone.wav", (220.0, 277.2), seconds=1.0, sr=32000)
    files = {
        "good_mp4": good_mp4,
        "good_png": good_png,
        "good_wav": good_wav,
        "missing_mp4": folder / "not here.mp4",
        "missing_png": folder / "not here.png",
        "missing_wav": folder / "not here.wav",
        "empty_mp4": rm.empty_file(folder / "empty.mp4"),
        "empty_png": rm.empty_file(folder / "empty.png"),
        "empty_wav": rm.empty_file(folder / "empty.wav"),
        "truncated_mp4": rm.truncated(good_mp4, folder / "broken download.mp4"),
        "truncated_png": rm.truncated(good_png, folder / "broken download.png"),
        "faststart_mp4": rm.truncated_faststart(folder / "half of a web video.mp4"),
        "truncated_wav": rm.truncated(good_wav, folder / "broken download.wav"),
        "text_mp4": rm.text_file(folder / "notes.mp4"),
        "text_jpg": rm.text_file(folder / "notes.jpg"),
        "text_wav": rm.text_file(folder / "notes.wav"),
        "audio_only_mp4": rm.audio_only_mp4(folder / "voice memo.mp4"),
        "one_frame_mp4": rm.one_frame_video(folder / "one frame.mp4"),
        "portrait_mp4": rm.portrait_video(folder / "portrait phone.mp4"),
        "vfr_mp4": rm.vfr_video(folder / "variable rate.mp4"),
        "huge_jpg": rm.huge_image(folder / "huge 6000x4000.jpg"),
        "gray_jpg": rm.image_in_mode(folder / "gray.jpg", "L"),
        "rgba_png": rm.image_in_mode(folder / "alpha.png", "RGBA"),
        "cmyk_jpg": rm.image_in_mode(folder / "print cmyk.jpg", "CMYK"),
        "silent_wav": rm.silent_wav(folder / "silence.wav"),
        "nan_wav": rm.nan_wav(folder / "nan samples.wav"),
        "inf_wav": rm.nan_wav(folder / "inf samples.wav", float("inf")),
        "giant_wav": rm.giant_header_wav(folder / "claims gigabytes.wav"),
        "blocker": rm.text_file(folder / "a regular file"),
        "typo_yaml": folder / "typo.yaml",
        "broken_yaml": folder / "broken.yaml",
        "missing_yaml": folder / "not here.yaml",
        "truncated_jsonl": folder / "cut manifest.jsonl",
        "unusable_jsonl": folder / "nothing usable.jsonl",
        "unknown_source": rm.text_file(folder / "songs.txt"),
    }
    files["typo_yaml"].write_text("generator:\n  duraton_s: 3\n", encoding="utf-8")
    files["broken_yaml"].write_text("generator: [1, 2\n", encoding="utf-8")
    files["truncated_jsonl"].write_text('{"path": "good tone.wav", "capt', encoding="utf-8")
    files["unusable_jsonl"].write_text(
        '{"path": "not here.wav"}\n{"path": "notes.wav"}\n{"path": "nan samples.wav"}\n', encoding="utf-8"
    )
    return files


@pytest.fixture(scope="session")
def small_library(tmp_path_factory) -> Path:
    """A JSONL manifest of four 3 s chord recordings (one 2 s clip each at ``segment_s=2``)."""
    folder = tmp_path_factory.mktemp("library ü")
    rows = []
    for name, root, genre in LIBRARY:
        make_tone(folder / name, (root, root * 1.26, root * 1.5), seconds=3.0, sr=16000)
        rows.append({"path": name, "caption": f"a {genre} piece", "genre": genre})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder / "manifest.jsonl"


@pytest.fixture(scope="session")
def small_index(small_library, tmp_path_factory) -> Path:
    from vmb.retrieve import build_index

    out = tmp_path_factory.mktemp("indexes") / "small index"
    build_index(small_library, out, progress=False, **BUILD)
    return out


@pytest.fixture(scope="session")
def tampered_index(small_index, tmp_path_factory) -> Path:
    """A copy of ``small_index`` with one byte of index.faiss flipped."""
    out = tmp_path_factory.mktemp("indexes") / "tampered"
    shutil.copytree(small_index, out)
    blob = bytearray((out / "index.faiss").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (out / "index.faiss").write_bytes(bytes(blob))
    return out
