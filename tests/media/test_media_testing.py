"""The synthetic-media helpers other tests rely on write what they say."""

import av
import numpy as np
import pytest
from PIL import Image

from vmb.testing import (
    COUNTER_BITS,
    counter_frame,
    make_image,
    make_tone,
    make_video,
    quadrants,
    read_counter,
    tone,
)


@pytest.mark.parametrize(
    "name, codec, kwargs",
    [
        ("a.mp4", "h264", {}),
        ("a.webm", "vp9", {}),
        ("b.webm", "vp8", {"codec": "vp8"}),
        ("a.mkv", "h264", {}),
        ("a.mov", "h264", {}),
        ("a.avi", "mpeg4", {}),
        ("m.mkv", "mjpeg", {"codec": "mjpeg"}),
    ],
)
def test_make_video_codecs(tmp_path, name, codec, kwargs):
    path = make_video(tmp_path / name, seconds=0.5, fps=20, size=(48, 32), **kwargs)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == codec
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 10 and frames[0].shape == (32, 48, 3)
    assert not np.array_equal(frames[0], frames[-1])  # the default pattern moves


def test_make_video_frame_fn_solid_and_audio(tmp_path):
    seen = []

    def frame_fn(index, time_s):
        seen.append((index, round(time_s, 6)))
        return np.full((16, 16, 3), (10 * index) % 256, np.uint8)

    make_video(tmp_path / "fn.mp4", seconds=0.25, fps=8, size=(16, 16), frame_fn=frame_fn)
    assert seen == [(0, 0.0), (1, 0.125)]
    path = make_video(
        tmp_path / "solid.mp4",
        seconds=0.5,
        size=(16, 16),
        pattern="solid",
        colour=(0, 0, 255),
        audio_freqs=[440],
    )
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert container.streams.audio[0].codec_context.name == "aac"
    assert np.abs(frame.astype(int) - (0, 0, 255)).max() < 20
    with pytest.raises(ValueError, match="even"):
        make_video(tmp_path / "odd.mp4", size=(15, 16))
    with pytest.raises(ValueError, match="extension"):
        make_video(tmp_path / "x.gif")


def test_counter_round_trip():
    for index in (0, 1, 5, 512, 2**COUNTER_BITS - 1):
        assert read_counter(counter_frame(index, 0.0, (120, 20))) == index
    with pytest.raises(ValueError, match="does not fit in"):
        counter_frame(2**COUNTER_BITS, 0.0, (120, 20))


@pytest.mark.parametrize(
    "ext, fmt",
    [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("bmp", "BMP"), ("tiff", "TIFF")],
)
def test_make_image_formats(tmp_path, ext, fmt):
    image = Image.open(make_image(tmp_path / f"i.{ext}", size=(80, 40)))
    assert image.format == fmt and image.size == (80, 40)
    assert np.abs(np.asarray(image.convert("RGB")).astype(int) - quadrants((80, 40))).mean() < 6


def test_make_image_modes_and_exif(tmp_path):
    for mode in ("L", "LA", "P", "RGBA", "I;16", "1"):
        assert (
            Image.open(make_image(tmp_path / f"{mode.replace(';', '')}.png", mode=mode)).mode
            == mode
        )
    assert Image.open(make_image(tmp_path / "c.jpg", mode="CMYK")).mode == "CMYK"
    image = Image.open(make_image(tmp_path / "o.jpg", size=(20, 10), exif_orientation=6))
    assert image.size == (10, 20) and image.getexif()[0x0112] == 6
    with pytest.raises(ValueError, match="orientation 9 is not 1-8"):
        make_image(tmp_path / "bad.png", exif_orientation=9)


def test_tone():
    audio = tone([440.0, 660.0], 0.5, 8000, channels=2, amplitude=0.25)
    assert audio.shape == (2, 4000) and audio.dtype == np.float32
    assert np.abs(audio).max() == pytest.approx(0.25, abs=1e-6)
    np.testing.assert_array_equal(audio[0], audio[1])


@pytest.mark.parametrize(
    "ext, codec",
    [
        ("wav", "pcm_s16le"),
        ("flac", "flac"),
        ("ogg", "vorbis"),
        ("mp3", "mp3float"),
        ("m4a", "aac"),
        ("mp4", "aac"),
        ("aac", "aac"),
        ("opus", "opus"),
        ("mka", "opus"),
    ],
)
def test_make_tone_formats(tmp_path, ext, codec):
    path = make_tone(tmp_path / f"t.{ext}", 440, seconds=0.5, sr=44100, channels=2)
    with av.open(str(path)) as container:
        assert not container.streams.video
        stream = container.streams.audio[0]
        assert stream.codec_context.name == codec and stream.codec_context.channels == 2
    with pytest.raises(ValueError, match="unsupported extension '.xyz'"):
        make_tone(tmp_path / "t.xyz")
    with pytest.raises(ValueError, match="1 or 2 channels"):
        make_tone(tmp_path / "six.mp3", channels=6)
