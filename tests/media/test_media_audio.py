import logging
import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from vmb.errors import MediaError, UsageError
from vmb.media import read_audio, resample, write_wav
from vmb.testing import make_image, make_tone, tone


def dominant_hz(audio, sr):
    """Frequency of the strongest spectral peak of [C, T] audio."""
    mono = audio.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return np.fft.rfftfreq(mono.size, 1 / sr)[int(np.argmax(spectrum))]


@pytest.mark.parametrize(
    "ext, backend_sr",
    [
        ("wav", 44100),
        ("flac", 44100),
        ("ogg", 44100),
        ("mp3", 44100),
        ("m4a", 44100),
        ("opus", 48000),
        ("aac", 44100),
    ],
)
def test_formats_read_as_float_c_t(media_dir, ext, backend_sr):
    path = make_tone(media_dir / f"tone é.{ext}", 440.0, seconds=1.0, sr=44100, channels=2)
    audio, sr = read_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[0] == 2
    assert sr == backend_sr
    assert abs(audio.shape[1] / sr - 1.0) < 0.06  # codecs pad by up to a frame
    assert abs(dominant_hz(audio, sr) - 440) < 3
    assert 0.2 < np.abs(audio).max() < 0.4  # written at peak 0.3


def test_mono_and_resample(stereo_wav):
    audio, sr = read_audio(stereo_wav, sample_rate=16000, mono=True)
    assert sr == 16000 and audio.shape == (1, 24000)
    full, _ = read_audio(stereo_wav)
    np.testing.assert_allclose(
        read_audio(stereo_wav, mono=True)[0][0], full.mean(axis=0), atol=1e-6
    )
    assert abs(dominant_hz(audio, sr) - 440) < 3 or abs(dominant_hz(audio, sr) - 660) < 3


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a", "opus"])
def test_window_matches_the_full_read(media_dir, ext):
    path = make_tone(media_dir / f"window.{ext}", [300.0, 770.0], seconds=2.0, sr=44100)
    full, sr = read_audio(path)
    part, sr2 = read_audio(path, start_s=0.5, duration_s=0.75)
    assert sr2 == sr and part.shape == (1, int(round(0.75 * sr)))
    start = int(round(0.5 * sr))
    np.testing.assert_allclose(part, full[:, start : start + part.shape[1]], atol=1e-4)


@pytest.mark.parametrize(
    "subtype, ext",
    [(s, e) for s in ("PCM_16", "PCM_24", "PCM_32") for e in ("wav", "flac", "aiff")
     if (s, e) != ("PCM_32", "flac")],  # FLAC holds at most 24 bits
)
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_integer_pcm_reads_the_values_libsndfile_gives(tmp_path, subtype, ext, channels):
    """Integer PCM is read as integers and scaled by vmb (faster); the samples must be the very
    float32 values soundfile's own float read returns, whole, windowed and mixed to mono."""
    rng = np.random.default_rng(channels)
    x = np.clip(rng.standard_normal((9000, channels)) * 0.4, -1.0, 1.0)
    x[:3] = -1.0  # the most negative code
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 22050, subtype=subtype)
    assert sf.info(path).subtype == subtype
    expected = sf.read(path, dtype="float32", always_2d=True)[0].T
    audio, sr = read_audio(path)
    assert sr == 22050 and audio.dtype == np.float32 and audio.flags.c_contiguous
    np.testing.assert_array_equal(audio, expected)
    window, _ = read_audio(path, start_s=0.1, duration_s=0.2)
    np.testing.assert_array_equal(window, expected[:, 2205:2205 + 4410])
    mono, _ = read_audio(path, mono=True)
    np.testing.assert_array_equal(mono, expected.mean(axis=0, keepdims=True))


def test_audio_track_of_a_video(av_mp4, vp9_webm):
    for path in (av_mp4, vp9_webm):
        audio, sr = read_audio(path, mono=True)
        assert sr == 48000 and abs(audio.shape[1] / sr - 2.0) < 0.05
        assert abs(dominant_hz(audio, sr) - 440) < 3


def test_non_finite_samples_are_refused(tmp_path):
    samples = tone(440, 0.1, 8000)
    samples[0, 100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples.T, 8000, subtype="FLOAT")
    with pytest.raises(MediaError, match="audio contains NaN or infinite samples"):
        read_audio(path)
    samples[0, 100] = np.inf
    sf.write(path, samples.T, 8000, subtype="FLOAT")
    with pytest.raises(MediaError, match="NaN or infinite"):
        read_audio(path)


def test_lying_wav_header_does_not_allocate(tmp_path):
    path = tmp_path / "lie.wav"
    sf.write(path, np.zeros((1000, 2), np.float32), 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0x7FFF_FFF0)  # claims 2 GB of samples
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(MediaError, match="corrupt or truncated audio: the header claims"):
            read_audio(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_truncated_audio(tmp_path, ext):
    path = make_tone(tmp_path / f"whole.{ext}", 440, seconds=4.0, sr=22050)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="corrupt|truncated"):
        read_audio(cut)


def test_streaming_wav_with_unknown_length_is_read(tmp_path):
    """Recorders write data size 0xFFFFFFFF while recording: that is not a lie, read it."""
    path = tmp_path / "live.wav"
    sf.write(path, tone(440, 0.5, 8000).T, 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0xFFFF_FFFF)
    path.write_bytes(bytes(data))
    audio, sr = read_audio(path)
    assert sr == 8000 and audio.shape == (1, 4000)


def test_bad_audio_inputs(tmp_path, counter_mp4):
    path = make_tone(tmp_path / "short.wav", 440, seconds=1.0, sr=8000)
    with pytest.raises(MediaError, match="past the end"):
        read_audio(path, start_s=5.0)
    with pytest.raises(MediaError, match=r"no audio stream \(video-only file\)"):
        read_audio(counter_mp4)
    with pytest.raises(MediaError, match=r"not audio \(it is an image\)"):
        read_audio(make_image(tmp_path / "pic.jpg"))
    for kwargs, message in (
        ({"start_s": -1}, "start_s must be >= 0, got -1"),
        ({"duration_s": 0}, "duration_s must be positive, got 0"),
        ({"sample_rate": 0}, "sample_rate must be a positive integer, got 0"),
        ({"sample_rate": 22050.5}, "sample_rate must be a positive integer, got 22050.5"),
    ):
        with pytest.raises(UsageError, match=f"^read_audio: {message}$"):
            read_audio(path, **kwargs)


def test_resample_keeps_pitch_and_shape():
    audio = tone([440.0], 1.0, 44100, channels=2)
    out = resample(audio, 44100, 16000)
    assert out.shape == (2, 16000) and out.dtype == np.float32
    assert abs(dominant_hz(out, 16000) - 440) < 2
    assert resample(audio[0], 44100, 22050).shape == (22050,)
    same = resample(audio, 44100, 44100)
    np.testing.assert_array_equal(same, audio)
    assert same is not audio
    with pytest.raises(UsageError, match="sample rates must be positive, got 0"):
        resample(audio, 0, 16000)


def test_write_wav_round_trip_and_atomic_replace(tmp_path):
    audio = tone([440.0], 0.5, 16000, channels=2)
    path = tmp_path / "out dir" / "mùsic.wav"
    assert write_wav(path, audio, 16000) == path
    back, sr = read_audio(path)
    assert sr == 16000 and back.shape == audio.shape
    np.testing.assert_allclose(back, audio, atol=1 / 32767 + 1e-6)
    write_wav(path, audio[0] * 0.5, 16000, subtype="FLOAT")  # [T] is mono; replaces the file
    back, _ = read_audio(path)
    np.testing.assert_array_equal(back, audio[:1] * 0.5)
    assert sorted(p.name for p in path.parent.iterdir()) == ["mùsic.wav"]  # no temp files left


def test_write_wav_clips_loudly_and_refuses_bad_audio(tmp_path, caplog):
    loud = np.array([[0.0, 1.5, -2.0, 0.5]], np.float32)
    with caplog.at_level(logging.WARNING, logger="vmb.media.audio"):
        write_wav(tmp_path / "loud.wav", loud, 8000)
    assert "clipped 2 samples" in caplog.text
    back, _ = read_audio(tmp_path / "loud.wav")
    assert back.max() <= 1.0 and back.min() >= -1.0
    existing = tmp_path / "keep.wav"
    write_wav(existing, loud * 0.1, 8000)
    before = existing.read_bytes()
    for bad in (
        np.array([[np.nan, 0.0]], np.float32),
        np.zeros((2, 3, 4), np.float32),
        np.zeros((1, 0), np.float32),
    ):
        with pytest.raises(UsageError, match=r"^write_wav: .*(NaN or infinite|non-empty \[C, T\] array)"):
            write_wav(existing, bad, 8000)
    with pytest.raises(UsageError, match="sample_rate must be a positive integer, got 0"):
        write_wav(existing, loud, 0)
    assert existing.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav", "loud.wav"]
