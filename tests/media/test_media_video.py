from fractions import Fraction

import numpy as np
import pytest

import vmb.media.video as video_module
from vmb.errors import MediaError, UsageError
from vmb.media import read_frames
from vmb.media.video import sample_times
from vmb.testing import QUADRANT_COLOURS, make_video, quadrants, read_counter


def expected_indices(num_frames, duration_s, fps):
    """The frame on screen at the centre of each of num_frames equal slices."""
    return [
        int(np.floor((i + 0.5) * duration_s / num_frames * fps + 1e-9)) for i in range(num_frames)
    ]


@pytest.fixture(scope="module")
def long_counter(media_dir):
    """40 s (960 frames) at 24 fps, keyframe every 2 s: the seek path."""
    return make_video(
        media_dir / "long counter.mp4",
        seconds=40,
        fps=24,
        size=(128, 72),
        pattern="counter",
        gop=48,
    )


@pytest.mark.parametrize("num_frames", [1, 3, 8, 16, 96])
def test_num_frames_picks_the_frame_on_screen_at_slice_centres(counter_mp4, num_frames):
    frames, times = read_frames(counter_mp4, num_frames=num_frames)
    assert frames.shape == (num_frames, 72, 128, 3) and frames.dtype == np.uint8
    assert times.dtype == np.float64 and times.shape == (num_frames,)
    indices = [read_counter(f) for f in frames]
    assert indices == expected_indices(num_frames, 4.0, 24)
    np.testing.assert_allclose(times, np.array(indices) / 24, atol=1e-6)


def test_fps_sampling_is_a_time_grid(counter_mp4):
    frames, times = read_frames(counter_mp4, fps=2)
    np.testing.assert_allclose(times, np.arange(8) / 2)
    assert [read_counter(f) for f in frames] == [12 * k for k in range(8)]


def test_fps_above_the_video_rate_repeats_frames(counter_mp4):
    frames, _ = read_frames(counter_mp4, fps=48)
    indices = [read_counter(f) for f in frames]
    assert len(indices) == 192 and indices[:4] == [0, 0, 1, 1] and indices[-1] == 95


def test_long_video_seeks_instead_of_decoding_everything(long_counter, monkeypatch):
    decoded = []
    seeks = []
    original = video_module._frames_from

    def counting(container, stream, path, seek_s):
        seeks.append(seek_s)
        for item in original(container, stream, path, seek_s):
            decoded.append(item.time_s)
            yield item

    monkeypatch.setattr(video_module, "_frames_from", counting)
    frames, _ = read_frames(long_counter, num_frames=8)
    assert [read_counter(f) for f in frames] == expected_indices(8, 40.0, 24)
    assert sum(s is not None for s in seeks) >= 6  # targets are 5 s apart, GOPs 2 s
    assert len(decoded) < 960 / 3  # a fraction of the 960 frames


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("counter.webm", {}),  # VP9, Matroska timestamps in ms, duration from the DURATION tag
        ("counter.mkv", {"gop": 12}),
        ("counter.avi", {}),  # MPEG-4 Part 2
    ],
)
def test_other_containers_and_codecs(media_dir, name, kwargs):
    path = make_video(
        media_dir / name, seconds=3, fps=24, size=(128, 72), pattern="counter", **kwargs
    )
    frames, times = read_frames(path, num_frames=6)
    assert [read_counter(f) for f in frames] == expected_indices(6, 3.0, 24)
    np.testing.assert_allclose(times, np.array(expected_indices(6, 3.0, 24)) / 24, atol=1e-3)


def test_max_side_scales_down_in_ffmpeg_and_never_up(counter_mp4):
    small, _ = read_frames(counter_mp4, num_frames=2, max_side=64)
    assert small.shape == (2, 36, 64, 3)
    assert [read_counter(f) for f in small] == expected_indices(2, 4.0, 24)
    same, _ = read_frames(counter_mp4, num_frames=2, max_side=4000)
    assert same.shape == (2, 72, 128, 3)


def test_rotation_metadata_is_applied(media_dir):
    # -90 is what phones write for portrait video: players turn the frame clockwise.
    path = make_video(
        media_dir / "portrait.mp4", seconds=1, size=(64, 48), rotation=-90,
        frame_fn=lambda i, t: quadrants((64, 48)),
    )  # fmt: skip
    frames, _ = read_frames(path, num_frames=1)
    assert frames.shape == (1, 64, 48, 3)
    expected = np.rot90(quadrants((64, 48)), k=-1)
    assert np.abs(frames[0].astype(int) - expected).mean() < 12
    assert np.abs(frames[0][4, 4].astype(int) - QUADRANT_COLOURS["bottom_left"]).max() < 40


def test_non_square_pixels_are_shown_as_displayed(media_dir):
    path = make_video(
        media_dir / "anamorphic.mkv", seconds=1, size=(64, 48), sample_aspect_ratio=Fraction(2, 1)
    )
    frames, _ = read_frames(path, num_frames=1, max_side=64)
    assert frames.shape == (1, 24, 64, 3)


def test_truncated_webm_is_reported(media_dir):
    path = make_video(media_dir / "cut.webm", seconds=4, fps=24, size=(64, 36))
    data = path.read_bytes()
    cut = media_dir / "cut short.webm"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="corrupt or truncated video"):
        read_frames(cut, num_frames=8)


def test_audio_only_container_has_no_video(media_dir):
    from vmb.testing import make_tone

    path = make_tone(media_dir / "audio only.mp4", 440, seconds=0.5)
    with pytest.raises(MediaError, match=r"no video stream \(audio-only container\)"):
        read_frames(path, num_frames=2)


def test_still_image_is_not_a_video(media_dir):
    from vmb.testing import make_image

    path = make_image(media_dir / "still.jpg")
    with pytest.raises(MediaError, match="not a video"):
        read_frames(path, num_frames=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "give exactly one of num_frames or fps"),
        ({"num_frames": 2, "fps": 1}, "give exactly one of num_frames or fps"),
        ({"num_frames": 0}, "num_frames must be a positive integer, got 0"),
        ({"num_frames": 2.5}, "num_frames must be a positive integer, got 2.5"),
        ({"fps": -1}, "fps must be positive, got -1"),
        ({"num_frames": 2, "max_side": 0}, "max_side must be positive, got 0"),
    ],
)
def test_bad_arguments_are_usage_errors(counter_mp4, kwargs, message):
    with pytest.raises(UsageError, match=f"^read_frames: {message}$"):
        read_frames(counter_mp4, **kwargs)


def test_sample_times():
    np.testing.assert_allclose(sample_times(10.0, num_frames=4), [1.25, 3.75, 6.25, 8.75])
    np.testing.assert_allclose(sample_times(1.0, fps=4), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(sample_times(0.1, fps=1), [0.0])
