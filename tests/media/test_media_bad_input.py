"""Every media function, every kind of bad file: a MediaError naming the path and a reason."""

import numpy as np
import pytest

from vmb.errors import MediaError
from vmb.media import mux, probe, read_audio, read_frames, read_image
from vmb.testing import make_video

FUNCTIONS = {
    "probe": probe,
    "read_frames": lambda p: read_frames(p, num_frames=4),
    "read_image": read_image,
    "read_audio": read_audio,
    "mux": lambda p: mux(p, np.zeros((1, 16000), np.float32), 16000, p.parent / "muxed.mp4"),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad fïles")
    good = make_video(folder / "good.mp4", seconds=1, size=(64, 48))
    files = {
        "missing": (folder / "does not exist.mp4", "file not found"),
        "empty": (folder / "empty.mp4", "file is empty"),
        "text": (folder / "notes.mp4", r"not a media file \(looks like text\)"),
        "text_jpg": (folder / "notes.jpg", r"not a media file \(looks like text\)"),
        "truncated": (
            folder / "half.mp4",
            "corrupt, truncated or not an? .*file: moov atom not found",
        ),
        "random": (folder / "noise.mp4", "corrupt, truncated or not an? .*file"),
        "folder": (folder, "is a directory"),
    }
    files["empty"][0].write_bytes(b"")
    files["text"][0].write_text("# My holiday video\nIt was sunny. Ça va.\n" * 20, encoding="utf-8")
    files["text_jpg"][0].write_text("not really a jpeg\n" * 20)
    files["truncated"][0].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["random"][0].write_bytes(
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    )
    return files


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(
    "kind", ["missing", "empty", "text", "text_jpg", "truncated", "random", "folder"]
)
def test_bad_file(bad_files, function, kind):
    path, reason = bad_files[kind]
    if function == "read_image" and kind in ("truncated", "random"):
        reason = "corrupt, truncated or not an image file"
    with pytest.raises(MediaError, match=reason) as caught:
        FUNCTIONS[function](path)
    error = caught.value
    assert error.path == str(path)
    assert str(error).startswith(str(path) + ": ")
    assert "\n" not in str(error)
