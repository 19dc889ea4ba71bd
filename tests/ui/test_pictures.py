"""The page's pictures, read back as pixels: the timeline's bands lie at their sections' times in
their energy's colour, the film strip shows each frame at its time, cuts are marked, and the
spectrogram shows each tone in its section (without a browser)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from vmb.testing import make_image, make_video
from vmb.types import Cut, MusicDescription, Section
from vmb.ui.pictures import CUT_COLOUR, MARKER_COLOUR, energy_colour, music_png, timeline_png

pytest.importorskip("matplotlib", reason="the ui extra draws with matplotlib (pip install 'vmb[ui]')")

RED, BLUE = (220, 30, 30), (30, 40, 220)


def pixels(picture) -> np.ndarray:
    image = np.asarray(Image.open(picture.path).convert("RGB")).astype(int)
    assert image.shape == (picture.height, picture.width, 3)
    return image


def near(a, b, tol: int = 12) -> bool:
    return bool(np.all(np.abs(np.asarray(a, int) - np.asarray(b, int)) <= tol))


def rgb255(colour) -> tuple[int, ...]:
    return tuple(round(c * 255) for c in colour)


def description(sections, cuts=(), curve=(), step=1.0) -> MusicDescription:
    return MusicDescription(genre="pop", sections=tuple(sections), cuts=tuple(cuts), energy_curve=tuple(curve),
                            energy_step_s=step)  # fmt: skip


def two_colour_video(path, seconds: float, switch_s: float):
    """Red frames before ``switch_s``, blue after."""

    def frame(_index, t, size=(96, 64)):
        return np.full((size[1], size[0], 3), RED if t < switch_s else BLUE, np.uint8)

    return make_video(path, seconds=seconds, fps=12, size=(96, 64), frame_fn=lambda i, t: frame(i, t))


def test_timeline_bands_frames_and_cuts_lie_at_their_times(tmp_path):
    video = two_colour_video(tmp_path / "v.mp4", seconds=8.0, switch_s=2.0)
    sections = [Section(0.0, 2.0, energy=0.1, mood=("calm",)), Section(2.0, 6.5, energy=0.9, mood=("energetic",)),
                Section(6.5, 8.0, energy=0.5, mood=("happy",))]  # fmt: skip
    cuts = [Cut(2.0, 0.8, "hard"), Cut(4.25, 1.0, "marker")]
    picture = timeline_png(description(sections, cuts, curve=[0.95] * 8), tmp_path / "t.png", video=video)
    image = pixels(picture)
    top, bottom = picture.rows["sections"]
    row = int(bottom - 0.03 * (bottom - top))  # near the band's floor: under the labels and the curve
    for s in sections:
        for t in (s.start_s + 0.25, (s.start_s + s.end_s) / 2, s.end_s - 0.25):
            assert near(image[row, int(picture.x_of(t))], rgb255(energy_colour(s.energy))), (s, t)
    # the colour changes exactly where a section ends (a few pixels of white separator)
    for s, after in itertools.pairwise(sections):
        x = picture.x_of(s.end_s)
        assert near(image[row, int(x) - 4], rgb255(energy_colour(s.energy)))
        assert near(image[row, int(x) + 4], rgb255(energy_colour(after.energy)))
    # the curve (0.95) is drawn near the bands' top
    curve_row = int(bottom - 0.95 * (bottom - top))
    assert image[curve_row - 2 : curve_row + 3, int(picture.x_of(1.0))].min() < 60
    # the film strip: red frames before 2 s, blue after (read through vmb.media)
    f_top, f_bottom = picture.rows["frames"]
    f_row = int((f_top + f_bottom) / 2)
    assert near(image[f_row, int(picture.x_of(0.5))], RED, 40)
    assert near(image[f_row, int(picture.x_of(6.0))], BLUE, 40)
    # cuts: a line through the strip at each cut (magenta), a marker in blue
    strip_cut = image[f_row, int(picture.x_of(2.0)) - 1 : int(picture.x_of(2.0)) + 2]
    assert any(near(p, rgb255_hex(CUT_COLOUR), 40) for p in strip_cut)
    strip_marker = image[f_row, int(picture.x_of(4.25)) - 1 : int(picture.x_of(4.25)) + 2]
    assert any(near(p, rgb255_hex(MARKER_COLOUR), 40) for p in strip_marker)
    assert not any(near(p, rgb255_hex(CUT_COLOUR), 40) for p in image[f_row, int(picture.x_of(3.2)) - 1 :][:3])


def rgb255_hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_timeline_images_fill_their_slides(tmp_path):
    red = make_image(tmp_path / "red.png", (64, 48), colour=RED)
    blue = make_image(tmp_path / "blue.png", (64, 48), colour=BLUE)
    sections = [Section(0.0, 3.0, energy=0.3, source="image:red.png"),
                Section(3.0, 12.0, energy=0.7, source="image:blue.png")]  # fmt: skip
    picture = timeline_png(description(sections), tmp_path / "s.png", images=[red, blue])
    image = pixels(picture)
    f_row = int(sum(picture.rows["frames"]) / 2)
    assert picture.duration_s == 12.0
    assert near(image[f_row, int(picture.x_of(2.5))], RED, 30)
    assert near(image[f_row, int(picture.x_of(3.5))], BLUE, 30)


def test_timeline_without_visuals_is_the_bands_alone(tmp_path):
    sections = [Section(0.0, 4.0, energy=0.2, source="cue"), Section(4.0, 10.0, energy=None)]
    picture = timeline_png(description(sections), tmp_path / "c.png")
    assert "frames" not in picture.rows and picture.duration_s == 10.0
    image = pixels(picture)
    top, bottom = picture.rows["sections"]
    row = int(bottom - 0.03 * (bottom - top))
    assert near(image[row, int(picture.x_of(2.0))], rgb255(energy_colour(0.2)))
    assert near(image[row, int(picture.x_of(7.0))], rgb255(energy_colour(None)))


def test_energy_colours_order_calm_to_intense():
    light = [sum(energy_colour(e)) for e in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert light == sorted(light, reverse=True)  # more energy, a deeper colour


def test_music_picture_spectrogram_and_section_marks(tmp_path):
    sr = 16000
    t = np.arange(2 * sr) / sr
    audio = (0.5 * np.where(t < 1.2, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 3000 * t)))[None]
    sections = [Section(0.0, 1.2), Section(1.2, 2.0)]
    picture = music_png(audio.astype(np.float32), sr, tmp_path / "m.png", sections, bars_s=(0.5, 1.0, 1.5))
    image = pixels(picture)
    top, bottom = picture.rows["spectrogram"]
    for time_s, hz in ((0.5, 440.0), (1.7, 3000.0)):
        column = image[int(top) + 2 : int(bottom) - 2, int(picture.x_of(time_s))].sum(axis=1)
        brightest = int(top) + 2 + int(np.argmax(column))
        assert abs(brightest - picture.y_of_hz(hz)) <= 4, (time_s, brightest, picture.y_of_hz(hz))
    # the section boundary is a dark dashed line across the waveform's empty band, at 1.2 s only
    w_top, w_bottom = picture.rows["waveform"]
    rows = slice(int(w_top) + 2, int(w_top + 0.2 * (w_bottom - w_top)))
    at_mark = image[rows, int(picture.x_of(1.2)) - 1 : int(picture.x_of(1.2)) + 2]
    assert at_mark.min() < 80
    assert image[rows, int(picture.x_of(0.8))].min() > 200


def test_slideshow_timeline_from_the_pipeline(tmp_path):
    """Images through Pipeline.prepare (the page's Describe) with a cue: each image fills its
    slide in the picture and the cue's band has the cue's energy."""
    from vmb.pipeline import Pipeline

    red = make_image(tmp_path / "red.png", (64, 48), colour=RED)
    blue = make_image(tmp_path / "blue.png", (64, 48), colour=BLUE)
    pipe = Pipeline.from_profile("builtin", index=str(tmp_path / "no-index"))
    prepared = pipe.prepare(images=[red, blue], references=[make_tone_ref(tmp_path)], duration_s=8.0,
                            cues=["3", "5-8=energy:0.9"])  # fmt: skip
    d = prepared.bridges.description  # the marker at 3 s changes the slide; the cue splits the second
    assert [(s.start_s, s.end_s, s.source) for s in d.sections] == [
        (0.0, 3.0, "image:red.png"), (3.0, 5.0, "image:blue.png"), (5.0, 8.0, "image:blue.png+cue")]
    picture = timeline_png(d, tmp_path / "slides.png", images=[red, blue], duration_s=prepared.duration_s)
    image = pixels(picture)
    f_row = int(sum(picture.rows["frames"]) / 2)
    assert near(image[f_row, int(picture.x_of(2.5))], RED, 30)
    assert near(image[f_row, int(picture.x_of(3.5))], BLUE, 30)
    assert near(image[f_row, int(picture.x_of(7.5))], BLUE, 30)
    top, bottom = picture.rows["sections"]
    assert near(image[int(bottom - 0.03 * (bottom - top)), int(picture.x_of(6.5))], rgb255(energy_colour(0.9)))


def make_tone_ref(folder):
    from vmb.testing import make_tone

    return make_tone(folder / "ref.wav", (220.0,), seconds=2.0, sr=16000)
