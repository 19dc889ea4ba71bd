"""decord as an optional video backend (``video.backend``): the same contract as PyAV's
read_frames — the same frames and times for the same file, the display size, PyAV's checks
first — and plain errors where decord cannot serve."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vmb.errors import ConfigError, MediaError
from vmb.media import read_frames, video_decord
from vmb.testing import make_video

needs_decord = pytest.mark.skipif(
    not video_decord.decord_available(), reason="decord is not installed (pip install 'vmb[decord]')"
)


@needs_decord
@pytest.mark.parametrize("fixture", ["counter_mp4", "vp9_webm", "vp8_webm"])
@pytest.mark.parametrize("sampling", [{"num_frames": 7}, {"fps": 3.0}])
def test_decord_returns_the_frames_pyav_returns(fixture, sampling, request):
    path = request.getfixturevalue(fixture)
    frames, times = read_frames(path, backend="pyav", **sampling)
    d_frames, d_times = read_frames(path, backend="decord", **sampling)
    assert d_frames.dtype == np.uint8 and d_times.dtype == np.float64
    assert np.array_equal(frames, d_frames)
    np.testing.assert_allclose(d_times, times, atol=1e-4)


@needs_decord
def test_decord_scales_to_the_display_size(tmp_path, counter_mp4):
    frames, _ = read_frames(counter_mp4, num_frames=4, max_side=100, backend="pyav")
    d_frames, _ = read_frames(counter_mp4, num_frames=4, max_side=100, backend="decord")
    assert d_frames.shape == frames.shape
    assert np.abs(d_frames.astype(int) - frames.astype(int)).mean() < 4  # another scaler, same picture
    wide = make_video(tmp_path / "anamorphic.mp4", seconds=1, size=(64, 48), sample_aspect_ratio=Fraction(4, 3))
    assert read_frames(wide, num_frames=2, backend="decord")[0].shape == (2, 48, 85, 3)


@needs_decord
def test_rotated_video_is_an_error_for_decord_and_pyav_for_auto(tmp_path, monkeypatch):
    rotated = make_video(tmp_path / "phone.mp4", seconds=1, size=(64, 48), rotation=-90)
    with pytest.raises(MediaError, match="decord cannot decode a rotated"):
        read_frames(rotated, num_frames=2, backend="decord")
    monkeypatch.setattr(video_decord, "AUTO_USES_DECORD", True)  # auto would pick decord...
    frames, _ = read_frames(rotated, num_frames=2, backend="auto")
    assert frames.shape == (2, 64, 48, 3)  # ...but reads a rotated video with PyAV, upright


@needs_decord
def test_bad_files_get_pyavs_checks_under_decord(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 20)
    with pytest.raises(MediaError) as pyav_error:
        read_frames(text, num_frames=2, backend="pyav")
    with pytest.raises(MediaError) as decord_error:
        read_frames(text, num_frames=2, backend="decord")
    assert str(decord_error.value) == str(pyav_error.value)


def test_decord_without_the_package_is_a_config_error(monkeypatch, counter_mp4):
    monkeypatch.setattr(video_decord, "decord_available", lambda: False)
    with pytest.raises(ConfigError, match="decord is not installed"):
        read_frames(counter_mp4, num_frames=2, backend="decord")
    monkeypatch.setattr(video_decord, "AUTO_USES_DECORD", True)
    assert video_decord.resolve_backend("auto") == "pyav"  # auto never needs it


def test_backend_setting_is_checked_and_applied(monkeypatch):
    from vmb.config import load_config

    with pytest.raises(ConfigError, match="video.backend"):
        load_config(profile="builtin", overrides=["video.backend=ffmpeg"])
    assert load_config(profile="builtin", overrides=["video.backend=pyav"]).video.backend == "pyav"
    monkeypatch.setattr(video_decord, "_backend", "auto")
    video_decord.set_video_backend("pyav")
    assert video_decord.resolve_backend() == "pyav"
    with pytest.raises(ConfigError):
        video_decord.set_video_backend("gstreamer")
