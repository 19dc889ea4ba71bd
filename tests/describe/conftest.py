"""Sample visual inputs with known content for the timeline tests (made with vmb.testing):
the ``samples`` fixture (files) and the ``frame_fns`` fixture (frame functions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmb.testing import make_image, make_video

W, H, FPS = 160, 96, 25
_RNG = np.random.default_rng(7)
TEXTURE = np.kron(_RNG.normal(0, 1, (H // 8, W // 8)), np.ones((8, 8))).astype(np.float32)
CARD_COLOURS = [(220, 40, 40), (40, 180, 60), (40, 60, 220), (230, 200, 40), (190, 40, 190),
                (40, 190, 190), (250, 140, 30), (120, 120, 120)]  # fmt: skip


def textured(colour, amount: float = 0.15) -> np.ndarray:
    shade = 1.0 - amount + amount * np.tanh(TEXTURE)
    return (np.array(colour, np.float32)[None, None] * shade[..., None]).clip(0, 255)


def sunny_pastoral(i: int, t: float) -> np.ndarray:
    """Bright blue sky over a sunlit yellow-green meadow, clouds drifting slowly."""
    frame = np.empty((H, W, 3), np.float32)
    frame[: H // 2] = (140, 200, 250)
    frame[H // 2 :] = textured((200, 210, 70), 0.1)[H // 2 :]
    x = int(10 + 4 * t) % W
    frame[10:22, x : x + 30] = 255
    return frame.clip(0, 255).astype(np.uint8)


def dark_blue_still(i: int, t: float) -> np.ndarray:
    return textured((15, 25, 70), 0.1).astype(np.uint8)


def red_action(i: int, t: float) -> np.ndarray:
    """Saturated red shapes racing over a dark red ground, a cut every second."""
    k = int(t)
    frame = np.zeros((H, W, 3), np.float32) + np.array((90 + 40 * (k % 2), 10, 20))
    for j in range(3):
        x = int((t * (90 + 30 * j) + 37 * j + 23 * k) % (W - 24))
        y = int(8 + 28 * j + 10 * np.sin(3 * t + j)) % (H - 24)
        frame[y : y + 24, x : x + 24] = (250, 60 + 40 * j, 30)
    return frame.clip(0, 255).astype(np.uint8)


def still_then_action(i: int, t: float) -> np.ndarray:
    return dark_blue_still(i, t) if t < 8.0 else red_action(i, t - 8.0)


def cards(period: float):
    def frame(i: int, t: float) -> np.ndarray:
        colour = CARD_COLOURS[int(t / period + 1e-9) % len(CARD_COLOURS)]
        out = textured(colour)
        x = int(t * 40) % (W - 16)
        out[40:56, x : x + 16] = 255 - out[40:56, x : x + 16]
        return out.astype(np.uint8)

    return frame


def green_forest(size=(96, 64)) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(3)
    base = np.array((70, 150, 70), np.float32)
    noise = np.kron(rng.normal(0, 1, (h // 4, w // 4)), np.ones((4, 4)))[..., None]
    return (base * (0.8 + 0.2 * np.tanh(noise))).clip(0, 255).astype(np.uint8)


def make_samples(folder: Path) -> dict[str, Path]:
    """The sample inputs: videos ``sunny_pastoral`` (8 s), ``red_action`` (6 s),
    ``still_action`` (16 s: 8 s dark-blue still, 8 s red action), images ``green_forest``,
    ``dark_blue`` and ``sunny``."""
    from PIL import Image

    folder = Path(folder)
    out = {
        "sunny_pastoral": make_video(folder / "sunny_pastoral.mp4", seconds=8, fps=FPS,
                                     size=(W, H), frame_fn=sunny_pastoral),
        "red_action": make_video(folder / "red_action.mp4", seconds=6, fps=FPS, size=(W, H),
                                 frame_fn=red_action),
        "still_action": make_video(folder / "still_action.mp4", seconds=16, fps=FPS,
                                   size=(W, H), frame_fn=still_then_action),
        "dark_blue": make_image(folder / "dark_blue.png", size=(96, 64), colour=(15, 25, 70)),
        "sunny": make_image(folder / "sunny.jpg", size=(96, 64), colour=(250, 190, 60)),
    }  # fmt: skip
    forest = folder / "green_forest.jpg"
    Image.fromarray(green_forest()).save(forest, quality=95)
    out["green_forest"] = forest
    return out


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    return make_samples(tmp_path_factory.mktemp("timeline_samples"))


@pytest.fixture(scope="session")
def frame_fns():
    return {"cards": cards, "still_then_action": still_then_action, "red_action": red_action,
            "sunny_pastoral": sunny_pastoral, "dark_blue_still": dark_blue_still,
            "textured": textured, "size": (W, H), "fps": FPS}  # fmt: skip
