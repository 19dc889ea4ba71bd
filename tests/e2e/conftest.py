"""Shared media and indexes for the end-to-end tests (built once per session)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmb.testing import make_image, make_tone, make_video

# (file, chord frequencies, caption, genre, mood, instruments, tempo)
LIBRARY = [
    ("calm_c_major.wav", (261.63, 329.63, 392.0), "a calm piano piece in C major", "classical", ["calm"], ["piano"], 70),
    ("fast_a_minor.wav", (220.0, 261.63, 329.63), "a fast energetic electronic track in A minor", "electronic", ["energetic"], ["synthesizer"], 140),
    ("jazz_f_major.wav", (174.61, 220.0, 261.63), "a relaxed jazz tune with saxophone", "jazz", ["calm"], ["saxophone"], 100),
    ("sad_d_minor.wav", (146.83, 174.61, 220.0), "a sad slow string piece in D minor", "classical", ["sad"], ["strings"], 64),
]


@pytest.fixture(scope="session")
def music_folder(tmp_path_factory) -> Path:
    """Four 12 s chord recordings and a JSONL manifest describing them."""
    folder = tmp_path_factory.mktemp("library")
    rows = []
    for name, freqs, caption, genre, mood, instruments, bpm in LIBRARY:
        make_tone(folder / name, freqs, seconds=12.0, sr=32000)
        rows.append(
            {"path": name, "caption": caption, "genre": genre, "mood": mood, "instruments": instruments, "tempo_bpm": bpm}
        )
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return folder


@pytest.fixture(scope="session")
def builtin_index(music_folder, tmp_path_factory) -> Path:
    from vmb.retrieve import build_index

    out = tmp_path_factory.mktemp("indexes") / "builtin"
    build_index(music_folder / "manifest.jsonl", out, encoder="builtin", progress=False)
    return out


@pytest.fixture(scope="session")
def video_file(tmp_path_factory) -> Path:
    """A 3 s 160x120 h264 mp4 with motion and no audio."""
    return make_video(tmp_path_factory.mktemp("video") / "my clip.mp4", seconds=3.0, fps=24, size=(160, 120))


@pytest.fixture(scope="session")
def video_with_audio(tmp_path_factory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("video-audio") / "talk.mp4", seconds=2.5, fps=24, size=(160, 120), audio_freqs=300.0
    )


@pytest.fixture(scope="session")
def image_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    return [
        make_image(folder / "sunny.png", (96, 64), colour=(250, 200, 60)),
        make_image(folder / "night.jpg", (96, 64), colour=(10, 20, 60)),
    ]


@pytest.fixture(scope="session")
def reference_file(tmp_path_factory) -> Path:
    return make_tone(tmp_path_factory.mktemp("refs") / "my reference.wav", (196.0, 246.94, 293.66), seconds=6.0, sr=44100)
