import logging

import av
import numpy as np
import pytest

from vmb.errors import MediaError, UsageError
from vmb.media import mux, probe, read_audio, read_frames
from vmb.media.mux import fit_to_duration
from vmb.testing import make_tone, make_video, read_counter, tone


def video_packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def band_level(audio, sr, hz):
    """Spectral magnitude around ``hz`` of mono-mixed [C, T] audio, relative to the peak."""
    mono = audio.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    freqs = np.fft.rfftfreq(mono.size, 1 / sr)
    return spectrum[np.abs(freqs - hz) < 5].max() / spectrum.max()


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


def test_copies_the_video_stream_and_adds_trimmed_faded_aac(counter_mp4, tmp_path):
    music = tone([1000.0], 6.0, 32000, channels=2, amplitude=0.5)  # longer than the 4 s video
    out = mux(counter_mp4, music, 32000, tmp_path / "out dir" / "with music é.mp4")
    assert out == tmp_path / "out dir" / "with music é.mp4"
    assert video_packets(out) == video_packets(counter_mp4)  # bit-identical: copied, not re-encoded
    info = probe(out)
    assert (info.video_codec, info.audio_codec, info.sample_rate, info.channels) == (
        "h264",
        "aac",
        32000,
        2,
    )
    assert info.num_frames == 96
    audio, sr = read_audio(out)
    assert abs(audio.shape[1] / sr - 4.0) < 0.05  # cut to the video
    assert band_level(audio, sr, 1000) == pytest.approx(1.0)
    middle, tail = audio[:, int(1.0 * sr) : int(2.0 * sr)], audio[:, int(3.9 * sr) : int(3.98 * sr)]
    assert rms(middle) > 0.3 and rms(tail) < 0.1 * rms(middle)  # faded out at the end
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temp file left


def test_keep_original_audio_mixes_it_under_the_music(av_mp4, tmp_path):
    music = tone([1000.0], 2.0, 44100, amplitude=0.5)
    alone, _ = read_audio(mux(av_mp4, music, 44100, tmp_path / "alone.mp4"))
    mixed, sr = read_audio(
        mux(av_mp4, music, 44100, tmp_path / "mixed.mp4", keep_original_audio=True)
    )
    assert band_level(alone, sr, 440) < 0.01  # the video's own 440 Hz is gone
    assert 0.2 < band_level(mixed, sr, 440) < 0.9  # ...and here, under the music
    assert band_level(mixed, sr, 1000) == pytest.approx(1.0)
    assert np.abs(mixed).max() <= 1.0


def test_codec_mp4_cannot_hold_is_re_encoded_and_said(vp8_webm, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="vmb.media.mux"):
        out = mux(vp8_webm, tone(440, 1.0, 48000), 48000, tmp_path / "from vp8.mp4")
    assert "re-encoding it to H.264" in caplog.text
    info = probe(out)
    assert (info.video_codec, info.num_frames, info.audio_codec) == ("h264", 48, "aac")
    frames, _ = read_frames(out, num_frames=4)
    assert [read_counter(f) for f in frames] == [6, 18, 30, 42]
    audio, sr = read_audio(out)
    assert abs(audio.shape[1] / sr - 1.0) < 0.05  # music shorter than the video: kept whole


def test_unusual_rate_and_mono_music(counter_mp4, tmp_path):
    out = mux(counter_mp4, tone(500, 1.0, 22000)[0], 22000, tmp_path / "odd rate.mp4")
    info = probe(out)
    assert (info.sample_rate, info.channels) == (48000, 1)  # 22 kHz is not an AAC rate


def test_rotation_survives_the_copy(tmp_path):
    src = make_video(tmp_path / "portrait.mp4", seconds=1, size=(64, 48), rotation=-90)
    out = mux(src, tone(440, 1.0, 32000), 32000, tmp_path / "portrait music.mp4")
    assert (probe(out).width, probe(out).height) == (48, 64)


def test_failures_leave_the_old_output_untouched(tmp_path, counter_mp4):
    out = tmp_path / "existing.mp4"
    out.write_bytes(b"previous result")
    audio_only = make_tone(tmp_path / "song.m4a", 440, seconds=1.0)
    with pytest.raises(MediaError, match=r"no video stream \(audio-only container\)"):
        mux(audio_only, tone(440, 1.0, 32000), 32000, out)
    with pytest.raises(MediaError, match="file not found"):
        mux(tmp_path / "missing.mp4", tone(440, 1.0, 32000), 32000, out)
    for bad, message in (
        (np.zeros((3, 100), np.float32), r"C = 1 or 2 and T > 0, got shape \(3, 100\)"),
        (np.zeros((1, 0), np.float32), r"C = 1 or 2 and T > 0, got shape \(1, 0\)"),
        (np.full((1, 10), np.nan, np.float32), "the music contains NaN or infinite samples"),
    ):
        with pytest.raises(UsageError, match=message):
            mux(counter_mp4, bad, 32000, out)
    with pytest.raises(UsageError, match="sample_rate must be a positive integer, got 0"):
        mux(counter_mp4, tone(440, 1.0, 32000), 0, out)
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.mp4", "song.m4a"]


def test_fit_to_duration():
    music = np.ones((2, 1000), np.float32)
    cut = fit_to_duration(music, 100, 5.0, fade_s=1.0)
    assert cut.shape == (2, 500)
    assert (cut[:, :400] == 1).all() and cut[0, -1] == pytest.approx(0.0) and cut[0, 450] < 1
    assert fit_to_duration(music, 100, 20.0, fade_s=1.0).shape == (2, 1000)
