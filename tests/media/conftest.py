"""Media files generated once per test session, in a folder whose name has spaces and
non-ASCII characters (every reader must cope with such paths)."""

from __future__ import annotations

import pytest

from vmb.testing import make_tone, make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("média files ünïcode")


@pytest.fixture(scope="session")
def counter_mp4(media_dir):
    """4 s, 24 fps, 128x72 H.264, keyframe every 24 frames; frame i shows the number i."""
    return make_video(
        media_dir / "counter clip.mp4", seconds=4, fps=24, size=(128, 72), pattern="counter", gop=24
    )


@pytest.fixture(scope="session")
def av_mp4(media_dir):
    """2 s H.264 + a 440 Hz AAC track."""
    return make_video(
        media_dir / "with audio.mp4", seconds=2, fps=24, size=(96, 64), audio_freqs=[440.0]
    )


@pytest.fixture(scope="session")
def vp9_webm(media_dir):
    """2 s VP9 + 440 Hz Opus in WebM."""
    return make_video(
        media_dir / "clip.webm", seconds=2, fps=24, size=(96, 64), audio_freqs=[440.0]
    )


@pytest.fixture(scope="session")
def vp8_webm(media_dir):
    """2 s VP8 (a codec mp4 cannot hold), counter pattern, no audio."""
    return make_video(
        media_dir / "vp8.webm", seconds=2, fps=24, size=(128, 72), pattern="counter", codec="vp8"
    )


@pytest.fixture(scope="session")
def stereo_wav(media_dir):
    """1.5 s stereo 440 + 660 Hz, 16-bit, 44.1 kHz."""
    return make_tone(
        media_dir / "tone stereo.wav", [440.0, 660.0], seconds=1.5, sr=44100, channels=2
    )
