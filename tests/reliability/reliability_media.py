"""Odd and broken media files for the reliability tests (imported as ``reliability.reliability_media``).

Every maker writes one file into ``folder`` and returns its path; the files are tiny so the
whole set is written in well under a second (the 6000x4000 image aside, ~1 s).
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from vmb.testing import make_image, make_tone, make_video

# The small library of the reliability tests: (file, chord root Hz, genre), and its build settings.
LIBRARY = [
    ("calm c.wav", 261.63, "classical"),
    ("jazz a.wav", 220.0, "jazz"),
    ("rock e.wav", 164.81, "rock"),
    ("pop g.wav", 196.0, "pop"),
]
BUILD = {"encoder": "builtin", "segment_s": 2.0, "hop_s": 2.0}  # the settings of ``small_index``

TEXT = "# My holiday video\nIt was sunny. Ça va.\n" * 20


def truncated(source: Path, path: Path) -> Path:
    """The first half of ``source``'s bytes (a broken download)."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_faststart(path: Path, seconds: float = 4.0) -> Path:
    """The first half of a "faststart" mp4 (the index before the data, as web downloads are):
    the header survives the cut and still declares the whole length."""
    import av

    whole = make_video(path.with_name(path.stem + " whole.mp4"), seconds=seconds, size=(64, 48))
    fast = path.with_name(path.stem + " fast.mp4")
    with av.open(str(whole)) as source, av.open(str(fast), "w", options={"movflags": "faststart"}) as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    data = fast.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "the test file must have its index first"
    path.write_bytes(data[: len(data) // 2])
    whole.unlink()
    fast.unlink()
    return path


def text_file(path: Path) -> Path:
    path.write_text(TEXT, encoding="utf-8")
    return path


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def audio_only_mp4(path: Path) -> Path:
    """An .mp4 with one AAC stream and no video."""
    return make_tone(path, 440.0, seconds=1.0, sr=44100)


def one_frame_video(path: Path) -> Path:
    return make_video(path, seconds=1 / 24, fps=24, size=(64, 48))


def portrait_video(path: Path) -> Path:
    """A phone-style portrait video: frames stored 96x160 (width x height)."""
    return make_video(path, seconds=1.0, fps=24, size=(96, 160))


def vfr_video(path: Path) -> Path:
    """H.264 with frame intervals of 10 to 120 ms (variable frame rate, like phones write)."""
    import av

    from vmb.testing import moving_frame

    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.time_base = Fraction(1, 1000)
        t_ms = 0
        for index in range(30):
            frame = av.VideoFrame.from_ndarray(moving_frame(index, t_ms / 1000, (64, 48)), format="rgb24")
            frame.pts = t_ms
            frame.time_base = Fraction(1, 1000)
            container.mux(stream.encode(frame))
            t_ms += int(rng.integers(10, 120))
        container.mux(stream.encode())
    return path


def huge_image(path: Path) -> Path:
    return make_image(path, (6000, 4000), quality=70)


def image_in_mode(path: Path, mode: str) -> Path:
    """A JPEG (CMYK, L) or PNG (RGBA, L) with that PIL mode."""
    return make_image(path, (96, 64), mode=mode)


def silent_wav(path: Path) -> Path:
    import soundfile as sf

    sf.write(str(path), np.zeros(32000, np.float32), 32000)
    return path


def nan_wav(path: Path, value: float = float("nan")) -> Path:
    """A float WAV with a run of NaN (or inf) samples in the middle of a tone."""
    import soundfile as sf

    audio = 0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 32000).astype(np.float32)
    audio[10000:10100] = value
    sf.write(str(path), audio, 32000, subtype="FLOAT")
    return path


def giant_header_wav(path: Path) -> Path:
    """A WAV whose RIFF and data sizes claim ~4 GB but which holds 0.1 s of samples."""
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3200) / 32000) * 32767).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 32000, 64000, 2, 16)
    data = b"data" + struct.pack("<I", 0xFFFFFFC0)
    path.write_bytes(header + fmt + data + samples)
    return path
