import json

import pytest

from vmb.errors import MediaError
from vmb.media import MediaInfo, probe
from vmb.testing import make_image, make_tone, make_video


def test_mp4_with_audio(av_mp4):
    info = probe(av_mp4)
    assert isinstance(info, MediaInfo)
    assert (info.kind, info.has_video, info.has_audio) == ("video", True, True)
    assert (info.width, info.height, info.fps, info.num_frames) == (96, 64, 24.0, 48)
    assert (info.video_codec, info.audio_codec, info.sample_rate, info.channels) == (
        "h264",
        "aac",
        48000,
        1,
    )
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert "mp4" in info.format_name
    assert [s["type"] for s in info.streams] == ["video", "audio"]
    assert info.streams[0]["duration_s"] == pytest.approx(2.0)
    assert info.path == str(av_mp4)


def test_webm_counts_frames_from_its_duration(vp9_webm):
    info = probe(vp9_webm)
    assert (info.video_codec, info.audio_codec, info.num_frames, info.fps) == (
        "vp9",
        "opus",
        48,
        24.0,
    )
    assert info.format_name == "matroska,webm"


@pytest.mark.parametrize("ext, codec", [("mkv", "h264"), ("avi", "mpeg4"), ("mov", "h264")])
def test_other_video_containers(media_dir, ext, codec):
    info = probe(make_video(media_dir / f"probe.{ext}", seconds=1, fps=25, size=(64, 48)))
    assert (info.kind, info.video_codec, info.width, info.height, info.fps) == (
        "video",
        codec,
        64,
        48,
        25.0,
    )
    assert info.num_frames in (25, 26) and not info.has_audio


def test_rotated_video_reports_the_displayed_size(media_dir):
    info = probe(make_video(media_dir / "rotated.mp4", seconds=0.5, size=(64, 48), rotation=-90))
    assert (info.width, info.height) == (48, 64)
    assert info.streams[0]["rotation"] == 270


@pytest.mark.parametrize(
    "ext, codec, sr",
    [
        ("ogg", "vorbis", 44100),
        ("m4a", "aac", 44100),
        ("flac", "flac", 44100),
        ("mp3", "mp3float", 44100),
        ("opus", "opus", 48000),
    ],
)
def test_audio_files(media_dir, ext, codec, sr):
    info = probe(make_tone(media_dir / f"probe tone.{ext}", 440, seconds=1.0, sr=44100, channels=2))
    assert (info.kind, info.has_video, info.has_audio) == ("audio", False, True)
    assert (info.audio_codec, info.sample_rate, info.channels) == (codec, sr, 2)
    assert info.duration_s == pytest.approx(1.0, abs=0.06)
    assert info.width is None and info.fps is None


def test_images(media_dir):
    info = probe(make_image(media_dir / "photo.jpg", size=(64, 48), exif_orientation=6))
    assert (info.kind, info.format_name, info.width, info.height) == ("image", "JPEG", 64, 48)
    assert info.streams[0]["exif_orientation"] == 6 and info.duration_s is None
    info = probe(make_image(media_dir / "pic.png", size=(30, 20), mode="RGBA"))
    assert (info.format_name, info.width, info.height, info.streams[0]["mode"]) == (
        "PNG",
        30,
        20,
        "RGBA",
    )


def test_to_dict_is_json_and_summary_is_one_paragraph(av_mp4, media_dir):
    data = probe(av_mp4).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["kind"] == "video" and data["streams"][1]["sample_rate"] == 48000
    summary = probe(av_mp4).summary()
    assert "\n" not in summary
    assert summary.startswith("with audio.mp4: video, 2.00 s, 96x64 at 24 fps (48 frames, h264)")
    assert "audio 48000 Hz mono (aac)" in summary
    image = probe(make_image(media_dir / "s.png", size=(8, 6))).summary()
    assert image == "s.png: image, 8x6 PNG (RGB)."
    audio = probe(make_tone(media_dir / "s.ogg", 440, seconds=1.0)).summary()
    assert audio.startswith("s.ogg: audio, 1.00 s, audio 44100 Hz mono (vorbis)")


def test_unsupported_codec(media_dir, av_mp4):
    # The same file with its codec tag renamed: FFmpeg has no idea what "zzzz" video is.
    bad = media_dir / "unknown codec.mp4"
    bad.write_bytes(av_mp4.read_bytes().replace(b"avc1", b"zzzz"))
    with pytest.raises(MediaError, match="unsupported codec"):
        probe(bad)


def test_truncated_files_whose_header_survives(media_dir):
    webm = make_video(media_dir / "to cut.webm", seconds=4, size=(64, 36))
    cut = media_dir / "cut.webm"
    cut.write_bytes(webm.read_bytes()[: webm.stat().st_size // 2])
    with pytest.raises(MediaError, match=r"corrupt or truncated video: data ends at .* of 4\.00 s"):
        probe(cut)
    mp3 = make_tone(media_dir / "to cut.mp3", 440, seconds=4)
    cut = media_dir / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    with pytest.raises(MediaError, match="corrupt or truncated audio"):
        probe(cut)


def test_cover_art_does_not_make_music_a_video(media_dir):
    path = make_tone(media_dir / "album track.mp3", 440, seconds=1.0, cover_art=True)
    info = probe(path)
    assert (info.kind, info.has_video, info.has_audio) == ("audio", False, True)
    assert [s["type"] for s in info.streams] == ["audio", "video"]  # the cover is still listed
    from vmb.media import read_audio, read_frames

    with pytest.raises(MediaError, match="no video stream"):
        read_frames(path, num_frames=2)
    assert read_audio(path)[0].shape == (1, 44100)
