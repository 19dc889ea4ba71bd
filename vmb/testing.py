"""Synthetic media for tests, benchmarks and the example clip.

Everything here is deterministic: the same arguments write the same pixels and samples, so
tests can check what a reader returns against what was written.

- :func:`make_video` writes a real encoded video (H.264 in mp4/mov/mkv, VP9 or VP8 in webm,
  MPEG-4 Part 2 in avi), optionally with an audio track.
- :func:`make_image` writes a still image in any Pillow mode, optionally with an EXIF
  orientation tag (the stored pixels are rotated so that the *displayed* image is the pattern).
- :func:`make_tone` writes a sum of sines as wav/flac/ogg (soundfile) or mp3/m4a/opus/aac
  (PyAV).

Sizes are ``(width, height)`` as in Pillow; arrays are ``[H, W, 3]`` uint8 RGB and audio is
``[C, T]`` float32.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

FrameFn = Callable[[int, float], np.ndarray]
"""``frame_fn(index, time_s) -> [H, W, 3]`` uint8 RGB."""

# Extension -> (container format, default video codec, audio codec for an optional track).
_VIDEO_FORMATS = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".m4v": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
    ".avi": ("avi", "mpeg4", "libmp3lame"),
}
_VIDEO_CODEC_ALIASES = {"h264": "libx264", "vp9": "libvpx-vp9", "vp8": "libvpx"}
# Extension -> (container format, audio codec) for audio written with PyAV.
_AUDIO_FORMATS_AV = {
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("ipod", "aac"),
    ".mp4": ("mp4", "aac"),
    ".aac": ("adts", "aac"),
    ".opus": ("opus", "libopus"),
    ".mka": ("matroska", "libopus"),
}
_AUDIO_FORMATS_SF = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".aiff": "AIFF"}

QUADRANT_COLOURS = {
    "top_left": (230, 30, 30),
    "top_right": (30, 200, 30),
    "bottom_left": (30, 30, 230),
    "bottom_right": (240, 240, 240),
}
"""The colours of :func:`quadrants`, the default still-image pattern."""

COUNTER_BITS = 10


# --------------------------------------------------------------------------------------------
# Patterns


def quadrants(size: tuple[int, int]) -> np.ndarray:
    """Four coloured quadrants (see :data:`QUADRANT_COLOURS`): ``[H, W, 3]`` uint8.

    Any flip or rotation changes which colour is where, so orientation handling can be tested.
    """
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    half_h, half_w = height // 2, width // 2
    image[:half_h, :half_w] = QUADRANT_COLOURS["top_left"]
    image[:half_h, half_w:] = QUADRANT_COLOURS["top_right"]
    image[half_h:, :half_w] = QUADRANT_COLOURS["bottom_left"]
    image[half_h:, half_w:] = QUADRANT_COLOURS["bottom_right"]
    return image


def moving_frame(index: int, time_s: float, size: tuple[int, int]) -> np.ndarray:
    """A colour gradient drifting with time and a white square crossing the frame."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = 2 * np.pi * time_s / 4.0
    red = 127 + 100 * np.sin(2 * np.pi * x / max(width, 1) + phase)
    green = 127 + 100 * np.sin(2 * np.pi * y / max(height, 1) + 1.3 * phase)
    blue = np.full_like(x, 127 + 100 * np.cos(phase))
    frame = np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)
    side = max(4, min(width, height) // 5)
    left = int((width - side) * (0.5 + 0.5 * np.sin(2 * np.pi * time_s / 3.0)))
    top = int((height - side) * (0.5 + 0.5 * np.cos(2 * np.pi * time_s / 5.0)))
    frame[top : top + side, left : left + side] = 255
    return frame


def counter_frame(index: int, time_s: float, size: tuple[int, int]) -> np.ndarray:
    """The frame index written as :data:`COUNTER_BITS` black/white vertical bars (MSB left).

    Survives lossy coding and downscaling to about 12 pixels per bar (a frame >= 120 pixels
    wide); read it back with :func:`read_counter`.
    """
    width, height = size
    if index >= 2**COUNTER_BITS:
        raise ValueError(f"counter_frame: index {index} does not fit in {COUNTER_BITS} bits")
    bits = [(index >> (COUNTER_BITS - 1 - b)) & 1 for b in range(COUNTER_BITS)]
    columns = np.repeat(np.array(bits, np.uint8) * 255, -(-width // COUNTER_BITS))[:width]
    return np.repeat(
        np.broadcast_to(columns[None, :], (height, width))[..., None], 3, axis=2
    ).copy()


def read_counter(frame: np.ndarray) -> int:
    """Decode the index drawn by :func:`counter_frame` from an RGB frame ``[H, W, 3]``."""
    height, width = frame.shape[:2]
    grey = frame.astype(np.float32).mean(axis=2)
    value = 0
    for b in range(COUNTER_BITS):
        # Sample the middle of each bar, away from the blurred edges.
        lo = int((b + 0.3) * width / COUNTER_BITS)
        hi = max(lo + 1, int((b + 0.7) * width / COUNTER_BITS))
        value = (value << 1) | int(grey[height // 4 : 3 * height // 4, lo:hi].mean() > 127)
    return value


def tone(
    freqs: float | Sequence[float] = 440.0,
    seconds: float = 1.0,
    sr: int = 44100,
    channels: int = 1,
    amplitude: float = 0.3,
) -> np.ndarray:
    """A sum of sines, the same in every channel: ``[C, T]`` float32 with peak ``amplitude``."""
    freqs = [float(freqs)] if np.isscalar(freqs) else [float(f) for f in freqs]
    t = np.arange(int(round(seconds * sr)), dtype=np.float64) / sr
    signal = sum(np.sin(2 * np.pi * f * t) for f in freqs) if freqs else np.zeros_like(t)
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    if peak > 0:
        signal = signal * (amplitude / peak)
    return np.repeat(signal[None, :], channels, axis=0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Writers


def _prepare(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_video(
    path: str | os.PathLike,
    seconds: float = 2.0,
    fps: float = 24,
    size: tuple[int, int] = (160, 120),
    *,
    frame_fn: FrameFn | None = None,
    pattern: str = "moving",
    colour: tuple[int, int, int] = (200, 40, 40),
    codec: str | None = None,
    gop: int | None = None,
    audio_freqs: float | Sequence[float] | None = None,
    audio_sr: int = 48000,
    audio_channels: int = 1,
    rotation: int | None = None,
    sample_aspect_ratio: Fraction | None = None,
) -> Path:
    """Write a synthetic video and return its path.

    Args:
        path: the output; its extension picks the container and default codec: ``.mp4``,
            ``.m4v``, ``.mov``, ``.mkv`` (H.264), ``.webm`` (VP9), ``.avi`` (MPEG-4 Part 2).
        seconds, fps: duration and frame rate (``round(seconds * fps)`` frames).
        size: ``(width, height)``, both even (yuv420p).
        frame_fn: ``frame_fn(index, time_s) -> [H, W, 3]`` uint8; overrides ``pattern``.
        pattern: ``"moving"`` (:func:`moving_frame`), ``"counter"`` (:func:`counter_frame`,
            the frame index as bars) or ``"solid"`` (``colour``).
        codec: override the video codec: ``h264``, ``vp9``, ``vp8``, ``mpeg4``, ``mjpeg``,
            ``ffv1`` or any FFmpeg encoder name.
        gop: keyframe interval in frames (encoder default if ``None``).
        audio_freqs: if given, add an audio track with these sine frequencies (AAC, Opus in
            webm, MP3 in avi) of the same duration.
        rotation: display-matrix rotation in degrees, counter-clockwise (FFmpeg's convention;
            phone portrait videos carry -90): players turn the stored frames by it.
        sample_aspect_ratio: non-square pixels (e.g. ``Fraction(2, 1)``: shown twice as wide).
    """
    import av

    path = _prepare(path)
    ext = path.suffix.lower()
    if ext not in _VIDEO_FORMATS:
        raise ValueError(
            f"make_video: unsupported extension {ext!r} (use {sorted(_VIDEO_FORMATS)})"
        )
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"make_video: size {size} must be even (yuv420p)")
    container_format, default_codec, audio_codec = _VIDEO_FORMATS[ext]
    codec = _VIDEO_CODEC_ALIASES.get(codec, codec) if codec else default_codec

    if frame_fn is None:
        if pattern == "moving":
            frame_fn = lambda i, t: moving_frame(i, t, size)
        elif pattern == "counter":
            frame_fn = lambda i, t: counter_frame(i, t, size)
        elif pattern == "solid":
            solid = np.broadcast_to(np.array(colour, np.uint8), (height, width, 3)).copy()
            frame_fn = lambda i, t: solid
        else:
            raise ValueError(f"make_video: unknown pattern {pattern!r}")

    rate = Fraction(fps).limit_denominator(1001)
    num_frames = max(1, int(round(seconds * fps)))
    options = {}
    if codec == "libx264":
        options = {"preset": "ultrafast", "crf": "18"}
    elif codec in ("libvpx-vp9", "libvpx"):
        options = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        if codec == "libvpx":
            options["b"] = "2M"

    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "ffv1":
            stream.pix_fmt = "yuv444p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sample_aspect_ratio)
        if gop is not None:
            stream.codec_context.gop_size = int(gop)
            if codec == "libx264":
                options["x264-params"] = f"keyint={int(gop)}:min-keyint={int(gop)}:scenecut=0"
        stream.options = options
        audio_stream = None
        if audio_freqs is not None:
            audio_stream = container.add_stream(
                audio_codec, rate=_supported_rate(audio_codec, audio_sr)
            )
            audio_stream.layout = "mono" if audio_channels == 1 else "stereo"

        for index in range(num_frames):
            frame_rgb = np.ascontiguousarray(frame_fn(index, index / float(rate)), dtype=np.uint8)
            if frame_rgb.shape != (height, width, 3):
                raise ValueError(
                    f"make_video: frame_fn returned {frame_rgb.shape}, want {(height, width, 3)}"
                )
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())

        if audio_stream is not None:
            samples = tone(audio_freqs, num_frames / float(rate), audio_sr, audio_channels)
            _encode_audio(container, audio_stream, samples, audio_sr)
    return path


def _supported_rate(codec_name: str, sr: int) -> int:
    import av

    rates = av.codec.Codec(codec_name, "w").audio_rates
    if not rates or sr in rates:
        return sr
    return 48000 if 48000 in rates else max(rates)


def _encode_audio(container, stream, samples: np.ndarray, sr: int) -> None:
    """Encode ``samples`` ``[C, T]`` float32 at ``sr`` into ``stream`` (resampled as needed)."""
    from vmb.media.mux import encode_audio

    for packet in encode_audio(stream, samples, sr, block=4096):
        container.mux(packet)


def _add_cover(container) -> None:
    import io

    import av
    from av.stream import Disposition
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(quadrants((32, 32))).save(buffer, format="PNG")
    stream = container.add_stream("png")
    stream.width, stream.height, stream.pix_fmt = 32, 32, "rgb24"
    stream.disposition = Disposition.attached_pic
    packet = av.Packet(buffer.getvalue())
    packet.stream, packet.pts = stream, 0
    container.mux(packet)


_EXIF_STORE = {
    # Orientation tag -> the transpose that turns the displayed image into the stored one
    # (the inverse of what ImageOps.exif_transpose applies).
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_90",
    7: "TRANSVERSE",
    8: "ROTATE_270",
}


def make_image(
    path: str | os.PathLike,
    size: tuple[int, int] = (64, 48),
    *,
    colour: tuple[int, int, int] | None = None,
    mode: str = "RGB",
    exif_orientation: int | None = None,
    quality: int = 95,
) -> Path:
    """Write a still image and return its path.

    The displayed image (after EXIF orientation) is ``size`` ``(width, height)`` and shows
    :func:`quadrants`, or a solid ``colour``. Modes with alpha (``RGBA``, ``LA``) are
    fully transparent in the bottom half. ``I;16`` stores the grey level times 257. The format
    follows the extension (jpg, png, webp, bmp, gif, tiff...).

    Args:
        exif_orientation: 1-8; the stored pixels are transposed so that applying the tag
            gives back the pattern.
    """
    from PIL import Image

    path = _prepare(path)
    width, height = size
    rgb = (
        np.broadcast_to(np.array(colour, np.uint8), (height, width, 3)).copy()
        if colour is not None
        else quadrants(size)
    )
    image = Image.fromarray(rgb)
    if mode in ("RGBA", "LA"):
        alpha = np.full((height, width), 255, np.uint8)
        alpha[height // 2 :] = 0
        rgba = Image.fromarray(np.dstack([rgb, alpha]))
        image = rgba if mode == "RGBA" else rgba.convert("LA")
    elif mode == "I;16":
        grey = np.asarray(image.convert("L"), np.uint16) * 257
        image = Image.fromarray(grey.astype("<u2"))  # uint16 -> mode I;16
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode != "RGB":
        image = image.convert(mode)

    save_kwargs = {}
    if exif_orientation is not None and exif_orientation != 1:
        if exif_orientation not in _EXIF_STORE:
            raise ValueError(f"make_image: EXIF orientation {exif_orientation} is not 1-8")
        image = image.transpose(getattr(Image.Transpose, _EXIF_STORE[exif_orientation]))
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = int(exif_orientation)
        save_kwargs["exif"] = exif
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        save_kwargs["quality"] = quality
    image.save(path, **save_kwargs)
    return path


def make_tone(
    path: str | os.PathLike,
    freqs: float | Sequence[float] = 440.0,
    seconds: float = 1.0,
    sr: int = 44100,
    channels: int = 1,
    *,
    amplitude: float = 0.3,
    subtype: str | None = None,
    cover_art: bool = False,
) -> Path:
    """Write :func:`tone` to ``path`` and return it.

    ``.wav``, ``.flac``, ``.ogg`` (Vorbis), ``.aiff`` go through soundfile (``subtype`` e.g.
    ``"FLOAT"``, ``"PCM_24"``); ``.mp3``, ``.m4a``, ``.mp4`` (audio only), ``.aac``, ``.opus``,
    ``.mka`` through PyAV. Opus only takes 8/12/16/24/48 kHz; other rates are resampled
    to 48 kHz by the encoder path. ``cover_art`` (mp3 only) embeds a 32x32 PNG
    :func:`quadrants` picture as an attached-picture stream, the way music players store
    album covers.
    """
    import soundfile as sf

    path = _prepare(path)
    ext = path.suffix.lower()
    samples = tone(freqs, seconds, sr, channels, amplitude)
    if cover_art and ext != ".mp3":
        raise ValueError(f"make_tone: cover_art is supported for .mp3, not {ext}")
    if ext in _AUDIO_FORMATS_SF:
        sf.write(str(path), samples.T, sr, format=_AUDIO_FORMATS_SF[ext], subtype=subtype)
        return path
    if ext not in _AUDIO_FORMATS_AV:
        raise ValueError(
            f"make_tone: unsupported extension {ext!r} (use {sorted(_AUDIO_FORMATS_SF) + sorted(_AUDIO_FORMATS_AV)})"
        )
    import av

    if channels not in (1, 2):
        raise ValueError(f"make_tone: {ext} is written with 1 or 2 channels, not {channels}")
    container_format, codec = _AUDIO_FORMATS_AV[ext]
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=_supported_rate(codec, sr))
        stream.layout = "mono" if channels == 1 else "stereo"
        if codec == "libmp3lame":
            stream.bit_rate = 192_000
        if cover_art:
            _add_cover(container)
        _encode_audio(container, stream, samples, sr)
    return path


def kill_when(cmd: Sequence[str], ready: Callable[[], bool], timeout_s: float,
              env: dict[str, str] | None = None) -> subprocess.Popen:
    """Run ``cmd`` (an argument list) in a process group of its own and SIGKILL the whole group
    once ``ready()`` is true (or ``timeout_s`` has passed): what a crash or ``kill -9`` leaves
    behind, for the tests that resume after one. Returns the reaped process.

    Raises:
        RuntimeError: the command ended before it could be killed (the tail of its stderr).
    """
    proc = subprocess.Popen([*cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[:4]} ended before the kill: {proc.stderr.read().decode()[-2000:]}")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    return proc

