"""Write the example clip for ``make demo``: a ~12 s 640x360 H.264 mp4, no audio.

Three animated scenes with hard cuts between them, so that a describer has colour, brightness
and motion to react to:

1. sunrise (0-4 s): a warm sky brightening, the sun rising over dark hills;
2. night sea (4-8 s): deep blue, rolling waves, a moon and twinkling stars;
3. party (8-12 s): bright colourful balls bouncing fast over a green field.

Deterministic: the same arguments always write the same pixels.

    python examples/make_example_clip.py examples/clip.mp4 [--seconds 12] [--size 640x360]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from vmb.testing import make_video


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return x / width, y / height  # both in [0, 1)


def sunrise(t: float, width: int, height: int) -> np.ndarray:
    """Warm gradient sky getting brighter, a sun rising behind two hills."""
    x, y = _grid(width, height)
    light = 0.35 + 0.6 * min(t / 4.0, 1.0)
    sky = np.stack(
        [255 * light * (1 - 0.3 * y), 140 * light * (1 - 0.6 * y) + 40 * y, 90 * (1 - y) * light],
        -1,
    )
    sun_y = 0.75 - 0.4 * min(t / 4.0, 1.0)
    sun = ((x - 0.62) * width / height) ** 2 + (y - sun_y) ** 2 < 0.012
    sky[sun] = (255, 230, 120)
    hills = y > 0.72 + 0.08 * np.sin(2 * np.pi * (x * 1.5 + 0.05 * t))
    sky[hills] = (40, 30, 45)
    return sky.clip(0, 255).astype(np.uint8)


def night_sea(t: float, width: int, height: int) -> np.ndarray:
    """Deep blue sky and sea, rolling waves, a moon and twinkling stars."""
    x, y = _grid(width, height)
    frame = np.stack([10 + 20 * y, 20 + 40 * y, 60 + 90 * y], -1)
    sea = y > 0.55 + 0.03 * np.sin(2 * np.pi * (3 * x - 0.4 * t))
    waves = 0.5 + 0.5 * np.sin(2 * np.pi * (8 * x + 12 * y - 0.8 * t))
    frame[sea] = np.stack([20 + 30 * waves, 50 + 60 * waves, 120 + 90 * waves], -1)[sea]
    moon = ((x - 0.2) * width / height) ** 2 + (y - 0.2) ** 2 < 0.006
    frame[moon] = (235, 235, 210)
    rng = np.random.default_rng(7)
    for sx, sy, phase in rng.random((40, 3)):
        if sy < 0.5 and (np.sin(2 * np.pi * (t * 1.5 + phase)) > -0.3):
            px, py = int(sx * (width - 2)), int(sy * (height - 2))
            frame[py : py + 2, px : px + 2] = 255
    return frame.clip(0, 255).astype(np.uint8)


def party(t: float, width: int, height: int) -> np.ndarray:
    """Bright balls bouncing fast over a green field under a light sky."""
    x, y = _grid(width, height)
    frame = np.where(
        (y > 0.7)[..., None],
        np.array([60, 190, 70], np.float32),
        np.array([150, 210, 255], np.float32),
    )
    frame = np.broadcast_to(frame, (height, width, 3)).copy()
    colours = [(255, 60, 60), (255, 200, 40), (80, 120, 255), (240, 80, 220), (255, 140, 0)]
    for i, colour in enumerate(colours):
        cx = (0.1 + 0.18 * i + 0.25 * t) % 1.0
        cy = 0.7 - 0.55 * abs(np.sin(np.pi * (1.6 * t + 0.3 * i)))
        ball = ((x - cx) * width / height) ** 2 + (y - cy) ** 2 < 0.0045
        frame[ball] = colour
    return frame.astype(np.uint8)


SCENES = (sunrise, night_sea, party)


def frame_at(index: int, time_s: float, seconds: float, size: tuple[int, int]) -> np.ndarray:
    """The frame at ``time_s``: each scene takes a third of the clip, with a hard cut."""
    scene = min(int(time_s / (seconds / len(SCENES))), len(SCENES) - 1)
    local_t = time_s - scene * seconds / len(SCENES)
    return SCENES[scene](local_t, *size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the mp4 to write")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT, even numbers")
    parser.add_argument("--fps", type=float, default=24.0)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    size = (width, height)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename, so an interrupted run leaves no half-written clip.
    fd, tmp = tempfile.mkstemp(prefix=".clip.", suffix=".mp4", dir=args.out.parent)
    os.close(fd)
    try:
        make_video(
            tmp,
            seconds=args.seconds,
            fps=args.fps,
            size=size,
            frame_fn=lambda i, t: frame_at(i, t, args.seconds, size),
            gop=int(args.fps * 2),
        )
        os.replace(tmp, args.out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {args.out} ({args.seconds:g} s, {width}x{height}, {args.fps:g} fps, no audio)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
