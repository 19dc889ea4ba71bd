"""examples/make_example_clip.py: the clip `make demo` probes."""

import importlib.util
from pathlib import Path

import numpy as np

from vmb.media import probe, read_frames

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "make_example_clip.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_example_clip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_clip_is_deterministic_with_three_scenes(tmp_path, capsys):
    script = load_script()
    # Reduced size and length keep the test fast; the defaults (12 s, 640x360) go through
    # the same code.
    args = ["--seconds", "3", "--size", "160x90", "--fps", "12"]
    assert script.main([str(tmp_path / "clip one.mp4"), *args]) == 0
    assert script.main([str(tmp_path / "clip two.mp4"), *args]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "clip one.mp4").read_bytes() == (tmp_path / "clip two.mp4").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip one.mp4", "clip two.mp4"]

    info = probe(tmp_path / "clip one.mp4")
    assert (info.width, info.height, info.fps, info.num_frames, info.has_audio) == (
        160,
        90,
        12.0,
        36,
        False,
    )
    frames, _ = read_frames(tmp_path / "clip one.mp4", num_frames=6)
    means = frames.reshape(6, -1, 3).mean(axis=1)
    # Within a scene frames move but stay alike; across the cuts the colours change a lot.
    within = [np.abs(means[i] - means[i + 1]).max() for i in (0, 2, 4)]
    across = [np.abs(means[i] - means[i + 1]).max() for i in (1, 3)]
    assert min(across) > 2 * max(within)
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 1  # motion within the sunrise


def test_defaults_are_the_demo_clip_size():
    script = load_script()
    frame = script.frame_at(0, 11.9, 12.0, (640, 360))
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
