"""The web app on 127.0.0.1 for the UI tests: a tiny built-in index, a 2 s clip, the app started
once per session in this process (Gradio's own server, a free loopback port)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from vmb.testing import make_tone, make_video

LIBRARY = [
    ("calm.wav", (261.63, 329.63, 392.0), "a calm piano piece in C major", "classical", ["calm"], ["piano"], 70),
    ("fast.wav", (220.0, 261.63, 329.63), "a fast energetic electronic track", "electronic", ["energetic"], ["synthesizer"], 140),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory) -> Path:
    from vmb.retrieve import build_index

    folder = tmp_path_factory.mktemp("ui-library")
    rows = []
    for name, freqs, caption, genre, mood, instruments, bpm in LIBRARY:
        make_tone(folder / name, freqs, seconds=6.0, sr=32000)
        rows.append({"path": name, "caption": caption, "genre": genre, "mood": mood,
                     "instruments": instruments, "tempo_bpm": bpm})  # fmt: skip
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path_factory.mktemp("ui-index") / "builtin"
    build_index(folder / "manifest.jsonl", out, encoder="builtin", progress=False)
    return out


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """The example clip: 2 s, 160x120, h264."""
    return make_video(tmp_path_factory.mktemp("ui-clip") / "clip.mp4", seconds=2.0, fps=24, size=(160, 120))


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    """Screenshots go to ``$VMB_TEST_ARTIFACTS/ui`` when set, else a temporary folder."""
    root = os.environ.get("VMB_TEST_ARTIFACTS")
    folder = Path(root) / "ui" if root else tmp_path_factory.mktemp("ui-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ui_app(ui_index, tmp_path_factory):
    """The app running on 127.0.0.1 (built-in profile, the tiny index): ``(demo, url)``."""
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio-cache"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from vmb.ui.app import launch

    demo, url = launch(host="127.0.0.1", port=free_port(), profile="builtin", index=str(ui_index),
                       workdir=tmp_path_factory.mktemp("ui-work"), max_upload_mb=5, block=False)  # fmt: skip
    yield demo, url.rstrip("/")
    demo.vmb_janitor.stop()
    demo.close()


@pytest.fixture(scope="session")
def app_url(ui_app) -> str:
    return ui_app[1]
