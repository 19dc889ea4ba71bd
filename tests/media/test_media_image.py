import numpy as np
import pytest
from PIL import Image

from vmb.errors import MediaError, UsageError
from vmb.media import read_image
from vmb.media.image import BACKGROUND
from vmb.testing import QUADRANT_COLOURS, make_image, make_video, quadrants

CENTRES = {  # (row, col) fractions of each quadrant's centre
    "top_left": (0.25, 0.25),
    "top_right": (0.25, 0.75),
    "bottom_left": (0.75, 0.25),
    "bottom_right": (0.75, 0.75),
}


def colour_at(image, where):
    fy, fx = CENTRES[where]
    return image[int(fy * image.shape[0]), int(fx * image.shape[1])].astype(int)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    path = make_image(tmp_path / f"o{orientation}.png", size=(64, 48), exif_orientation=orientation)
    stored = Image.open(path).size
    assert stored == ((48, 64) if orientation >= 5 else (64, 48))
    image = read_image(path)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, quadrants((64, 48)))


def test_jpeg_with_exif_rotation(tmp_path):
    image = read_image(make_image(tmp_path / "photo.jpg", size=(64, 48), exif_orientation=6))
    assert image.shape == (48, 64, 3)
    for where, colour in QUADRANT_COLOURS.items():
        assert np.abs(colour_at(image, where) - colour).max() < 30, where


@pytest.mark.parametrize(
    "mode, ext",
    [
        ("L", "png"),
        ("L", "jpg"),
        ("P", "png"),
        ("P", "gif"),
        ("CMYK", "jpg"),
        ("CMYK", "tiff"),
        ("I;16", "png"),
        ("1", "bmp"),
        ("RGB", "webp"),
    ],
)
def test_any_mode_becomes_rgb(tmp_path, mode, ext):
    path = make_image(tmp_path / f"img.{ext}", size=(64, 48), mode=mode)
    assert Image.open(path).mode == mode or (mode, Image.open(path).mode) in {("RGB", "RGB")}
    image = read_image(path)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    reference = np.asarray(
        Image.fromarray(quadrants((64, 48))).convert("L" if mode in ("L", "I;16") else "RGB")
    )
    if mode in ("L", "I;16"):
        # Grey modes: all three channels equal the grey level written.
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
        assert np.abs(image[..., 0].astype(int) - reference).mean() < 3
    elif mode == "1":
        assert set(np.unique(image)) <= {0, 255}
    else:
        for where, colour in QUADRANT_COLOURS.items():
            assert np.abs(colour_at(image, where) - colour).max() < 40, (mode, where)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparency_is_composited_on_white(tmp_path, mode):
    image = read_image(make_image(tmp_path / "alpha.png", size=(64, 48), mode=mode))
    assert (image[24:] == BACKGROUND).all()  # the transparent bottom half
    top_left = colour_at(image, "top_left")
    expected = (
        QUADRANT_COLOURS["top_left"]
        if mode == "RGBA"
        else [np.dot(QUADRANT_COLOURS["top_left"], [0.299, 0.587, 0.114])] * 3
    )
    assert np.abs(top_left - expected).max() < 3


def test_palette_with_transparency(tmp_path):
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 5, 20, 10))
    path = tmp_path / "p.png"
    rgba.convert("P").save(path, transparency=rgba.convert("P").getpixel((0, 9)))
    image = read_image(path)
    assert tuple(image[0, 0]) == (255, 0, 0) and tuple(image[9, 0]) == BACKGROUND


def test_max_side_jpeg_uses_draft_decoding(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    path = make_image(tmp_path / "big photo.jpg", size=(1600, 1200))
    requested = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        requested.append(self.size)  # the size it will decode at
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    image = read_image(path, max_side=150)
    assert image.shape == (113, 150, 3) or image.shape == (112, 150, 3)
    assert requested and set(requested) == {(200, 150)}  # decoded at 1/8 scale, never 1600x1200
    assert np.abs(colour_at(image, "bottom_left") - QUADRANT_COLOURS["bottom_left"]).max() < 30


def test_max_side_png_and_portrait(tmp_path):
    image = read_image(
        make_image(tmp_path / "tall.png", size=(40, 200), exif_orientation=8), max_side=50
    )
    assert image.shape == (50, 10, 3)
    assert tuple(
        read_image(make_image(tmp_path / "small.png", size=(40, 30)), max_side=500).shape
    ) == (30, 40, 3)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    png = make_image(tmp_path / "huge.png", size=(200, 100))
    jpg = make_image(tmp_path / "huge.jpg", size=(200, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 15_000)  # the files have 20,000 pixels
    with pytest.raises(MediaError, match="image too large to decode safely"):
        read_image(png)
    with pytest.raises(MediaError, match="image too large"):
        read_image(jpg)
    assert read_image(jpg, max_side=50).shape == (25, 50, 3)  # reduced-scale JPEG decoding is safe
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)  # over twice the limit: Pillow refuses
    with pytest.raises(MediaError, match=r"image too large to decode safely \(20,000 pixels"):
        read_image(png)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_truncated_image(tmp_path, ext):
    path = make_image(tmp_path / f"whole.{ext}", size=(300, 200))
    data = path.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="corrupt or truncated image"):
        read_image(cut)


def test_video_and_text_are_not_images(tmp_path):
    video = make_video(tmp_path / "v.mp4", seconds=0.5, size=(32, 32))
    with pytest.raises(MediaError, match="not an image file"):
        read_image(video)
    text = tmp_path / "notes.png"
    text.write_text("these are notes, not pixels\n" * 5)
    with pytest.raises(MediaError, match=r"not a media file \(looks like text\)"):
        read_image(text)
    with pytest.raises(UsageError, match="max_side must be positive, got 0"):
        read_image(make_image(tmp_path / "ok.png"), max_side=0)
