"""The built-in describer on generated videos and images with known properties."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.describe import describe, load_inputs
from vmb.describe.measure import colour_stats, motion_stats
from vmb.describe.sampling import sample_windows
from vmb.describe.visual import VisualDescriber, VisualRules
from vmb.errors import ConfigError, MediaError, UsageError
from vmb.testing import make_image, make_video

W, H = 160, 96
FPS = 25
WARM_PALETTE = [(255, 60, 0), (255, 200, 0), (255, 0, 120), (40, 220, 60), (255, 120, 0)]


def vivid_frame(i: int, t: float) -> np.ndarray:
    """Bright saturated warm stripes racing sideways; a new colour (a cut) every second."""
    shot = int(t)
    colour = np.array(WARM_PALETTE[shot % len(WARM_PALETTE)], np.float32)
    x = np.arange(W)[None, :].repeat(H, 0)
    stripes = ((x + 12 * i + 7 * shot) // 10) % 2
    return (
        np.where(stripes[..., None] == 1, colour, colour * 0.55 + 100).clip(0, 255).astype(np.uint8)
    )


def gloomy_frame(i: int, t: float) -> np.ndarray:
    """A dark blue night with a faint glow drifting slowly; no cuts."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.stack([10 + 0 * x, 20 + 0 * x, 60 + 20 * np.sin(x / W * np.pi + 0.2 * t)], -1)
    glow = np.exp(-((x - W / 2 - 10 * np.sin(0.3 * t)) ** 2 + (y - H / 2) ** 2) / 400)[..., None]
    return (base + glow * np.array([10, 20, 40])).clip(0, 255).astype(np.uint8)


def checkerboard(shift: int) -> np.ndarray:
    """A muted green-grey checkerboard shifted ``shift`` pixels to the left."""
    y, x = np.mgrid[0:H, 0:W]
    light = (((x + shift) // 8 + y // 8) % 2)[..., None]
    return (np.array([90, 100, 80]) + 40 * light).astype(np.uint8)


def still_frame(i: int, t: float) -> np.ndarray:
    """A texture that never moves."""
    return checkerboard(0)


def moving_frame(i: int, t: float) -> np.ndarray:
    """The same texture, panning fast."""
    return checkerboard(6 * i)


def cuts_frame(i: int, t: float) -> np.ndarray:
    """Static shots of alternating dark and light grey, a cut every second."""
    level = 40 if int(t) % 2 == 0 else 200
    return np.full((H, W, 3), level, np.uint8)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("visual")
    return {
        "vivid": make_video(
            folder / "vivid.mp4", seconds=8, fps=FPS, size=(W, H), frame_fn=vivid_frame
        ),
        "gloomy": make_video(
            folder / "gloomy.mp4", seconds=8, fps=FPS, size=(W, H), frame_fn=gloomy_frame
        ),
        "still": make_video(
            folder / "still.mp4", seconds=6, fps=FPS, size=(W, H), frame_fn=still_frame
        ),
        "moving": make_video(
            folder / "moving.mp4", seconds=6, fps=FPS, size=(W, H), frame_fn=moving_frame
        ),
        "cuts": make_video(
            folder / "cuts.webm", seconds=8, fps=FPS, size=(W, H), frame_fn=cuts_frame
        ),
        "sunny": make_image(folder / "sunny.jpg", size=(96, 64), colour=(250, 190, 60)),
        "night": make_image(folder / "night.png", size=(96, 64), colour=(8, 12, 45)),
    }


@pytest.fixture(scope="module")
def describer():
    return VisualDescriber.from_config()


def run(describer, **kwargs):
    description = describer.describe(load_inputs(decode=False, **kwargs))
    return description, describer.last_measurements


def test_vivid_fast_cut_video_versus_dark_slow_blue_one(describer, media):
    vivid, mv = run(describer, video=media["vivid"])
    gloomy, mg = run(describer, video=media["gloomy"])
    # The measurements go the right way...
    assert mv.brightness > mg.brightness
    assert mv.warmth > 0.3 and mg.warmth < -0.1
    assert mv.colourfulness > mg.colourfulness
    assert mv.motion > 10 * mg.motion
    assert mv.cut_rate > 0.4 and mg.cut_rate == 0.0
    # ...and so does the music.
    assert vivid.energy > gloomy.energy + 0.4
    assert vivid.tempo_bpm > gloomy.tempo_bpm + 30
    assert (vivid.tempo_class, gloomy.tempo_class) == ("fast", "slow")
    assert "energetic" in vivid.mood and not {"energetic", "tense", "fun"} & set(gloomy.mood)
    assert {"calm", "sad"} <= set(gloomy.mood)
    assert (vivid.mode, gloomy.mode) == ("major", "minor")
    assert (vivid.theme, gloomy.theme) == ("action", "night")
    for d in (vivid, gloomy):
        assert d.source == "visual"
        assert d.genre and d.instruments and d.key
        assert d.text.startswith(("A ", "An ")) and f"{d.tempo_bpm:.0f} BPM" in d.text


def test_motion_alone_raises_energy_and_tempo(describer, media):
    still, ms = run(describer, video=media["still"])
    moving, mm = run(describer, video=media["moving"])
    assert ms.brightness == pytest.approx(mm.brightness, abs=0.02)
    assert ms.motion < 0.002 and mm.motion > 0.03
    assert moving.energy > still.energy + 0.2
    assert moving.tempo_bpm > still.tempo_bpm


def test_cuts_are_counted(describer, media):
    _, m = run(describer, video=media["cuts"])
    # One cut a second; windows start at a keyframe and may miss the cut at their end.
    assert 0.4 <= m.cut_rate <= 1.2
    assert m.motion < 0.01  # the cuts are not counted as motion


def test_images_bright_warm_versus_dark_blue(describer, media):
    sunny, ms = run(describer, images=[media["sunny"]])
    night, _ = run(describer, images=[media["night"]])
    assert ms.motion is None and ms.cut_rate is None  # images: no motion
    assert (sunny.mode, night.mode) == ("major", "minor")
    assert (sunny.theme, night.theme) == ("sunny day", "night")
    assert sunny.energy > night.energy
    assert sunny.tempo_bpm > night.tempo_bpm


def test_deterministic(media):
    first = VisualDescriber.from_config().describe(load_inputs(media["vivid"], decode=False))
    again = VisualDescriber.from_config()
    second = again.describe(load_inputs(media["vivid"], decode=False))
    assert first == second and first.text == second.text
    assert again.describe(load_inputs(media["vivid"], decode=False)) == second


def test_video_images_and_text_merge(describer, media):
    d = describe(
        video=media["gloomy"],
        images=[media["sunny"]],
        text="jazz at 100 bpm in F",
        describer=describer,
    )
    assert d.source == "visual+text"
    assert (d.genre, d.tempo_bpm, d.tempo_class, d.key) == ("jazz", 100.0, "medium", "F")
    assert d.mode in ("major", "minor")  # filled from the pixels
    # A dark night video and a sunny image share no mood word that does not contradict the
    # other: the global moods are left empty, each section keeps its own.
    assert d.mood == () and [bool(s.mood) for s in d.sections] == [True, True]
    assert "sad" in d.sections[0].mood and "happy" in d.sections[1].mood
    assert d.text.startswith("jazz at 100 bpm in F. ")
    assert describer.last_measurements.frames > 10


def test_describe_by_name_reads_no_frames_up_front(media):
    d = describe(video=media["gloomy"], describer="visual")
    assert d.theme == "night" and d.source == "visual"


def test_three_minute_video_is_sampled_not_decoded(tmp_path):
    def frame(i: int, t: float) -> np.ndarray:
        return np.full((36, 64, 3), (i * 3) % 256, np.uint8)

    path = make_video(
        tmp_path / "long.mp4", seconds=180, fps=10, size=(64, 36), frame_fn=frame, gop=50
    )
    windows = sample_windows(path, num_windows=12, window_s=1.5, colour_frames=32)
    assert windows.duration_s == pytest.approx(180, abs=0.2)
    assert len(windows.grey) == 12
    assert windows.starts_s[0] < 15 and windows.starts_s[-1] > 150  # spread over all of it
    assert windows.frames_decoded < 0.2 * windows.total_frames
    assert len(windows.colour) >= 24
    d = VisualDescriber.from_config().describe(load_inputs(path, decode=False))
    assert d.tempo_bpm is not None and d.text


def test_measure_functions_directly():
    black = np.zeros((2, 8, 8, 3), np.uint8)
    red = np.zeros((2, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    assert colour_stats(black)["brightness"] == 0 and colour_stats(black)["hue"] is None
    stats = colour_stats(red)
    assert stats["saturation"] == pytest.approx(1) and stats["warmth"] == pytest.approx(1)
    assert stats["hue"] == pytest.approx(0, abs=1e-3)
    window = np.stack([np.full((8, 8), v, np.uint8) for v in (0, 0, 255, 255)])
    moving = motion_stats([window], step_s=0.04)
    assert moving["cut_rate"] == pytest.approx(1 / (3 * 0.04)) and moving["motion"] == 0
    assert motion_stats([window[:1]], step_s=0.04) is None


def test_bad_rule_table_and_bad_files(tmp_path, media):
    with open(VisualRules.load().path, encoding="utf-8") as handle:
        good = handle.read()
    broken = tmp_path / "rules.yaml"
    broken.write_text(good.replace("motion: 0.35", "speed: 0.35"))
    with pytest.raises(ConfigError, match=r"rules.yaml: energy: unknown measurement 'speed'"):
        VisualRules.load(broken)
    broken.write_text(good.replace("genre: electronic", "genre: vaporwave"))
    with pytest.raises(ConfigError, match="vaporwave"):
        VisualRules.load(broken)
    with pytest.raises(ConfigError, match="not found"):
        VisualRules.load(tmp_path / "missing.yaml")
    with pytest.raises(MediaError, match="file not found"):
        describe(video=tmp_path / "missing.mp4")
    text_file = tmp_path / "notes.mp4"
    text_file.write_text("not a video at all\n" * 20)
    with pytest.raises(MediaError, match="notes.mp4"):
        describe(video=text_file)
    with pytest.raises(UsageError, match="nothing to describe"):
        VisualDescriber.from_config().describe([])
    words = VisualDescriber.from_config().describe(load_inputs(text="only words, slow"))
    assert (words.source, words.tempo_class, words.text) == ("text", "slow", "only words, slow")
