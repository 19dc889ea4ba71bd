"""One dense, low-resolution pass over a whole video, for shot detection and the timeline.

Cut detection needs every frame (a cut lives between two consecutive frames), unlike the
colour and motion sampling of :mod:`vmb.describe.sampling`. The cost is kept down by never
converting a full-size frame: for planar YUV the Y, U and V planes are read as strided views
(every ``step``-th pixel), so a frame costs its decode plus a few microseconds; the decoder
runs with frame threads. Above ``max_fps`` frames are thinned (every second frame of 50/60 fps).

What each frame keeps (``side`` ~ 48 px on the longer side):

- ``small``: a tiny RGB picture ``[h, w, 3]`` uint8 (converted from the subsampled YUV),
  enough for the colour measurements of :mod:`vmb.describe.measure`;
- ``grey``: its luma ``[h, w]`` uint8, for motion.

Measured: ``benchmarks/bench_scenes.py`` (decoding cost per minute of video).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from vmb.errors import MediaError
from vmb.media.checks import check_file, open_input, short_av_reason, unsupported_codec_reason
from vmb.media.video import video_stream

_PLANAR = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"})


@dataclass(frozen=True)
class VideoScan:
    """Every (kept) frame of a video, tiny.

    Attributes:
        rgb: ``[N, h, w, 3]`` uint8 small RGB frames.
        times_s: ``[N]`` float64 presentation time of each frame, from 0.
        duration_s: the video's duration.
        fps: frames per second of ``rgb`` (after thinning).
        frames_decoded: frames the decoder produced (the cost).
    """

    rgb: np.ndarray
    times_s: np.ndarray
    duration_s: float
    fps: float
    frames_decoded: int

    @property
    def grey(self) -> np.ndarray:
        """Luma ``[N, h, w]`` float32 (Rec. 601), 0..255."""
        rgb = self.rgb.astype(np.float32)
        return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, full_range: bool) -> np.ndarray:
    y = y.astype(np.float32)
    u = u.astype(np.float32) - 128.0
    v = v.astype(np.float32) - 128.0
    if not full_range:
        y = (y - 16.0) * (255.0 / 219.0)
        u = u * (255.0 / 224.0)
        v = v * (255.0 / 224.0)
    r = y + 1.402 * v
    g = y - 0.344136 * u - 0.714136 * v
    b = y + 1.772 * u
    return np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)


def small_rgb(frame, side: int) -> np.ndarray:
    """``frame`` (a PyAV VideoFrame) as a tiny RGB array ``[h, w, 3]`` uint8, longer side about
    ``side``, without a full-size conversion for planar YUV."""
    name = frame.format.name
    if name not in _PLANAR:
        step = max(1, math.ceil(max(frame.width, frame.height) / side))
        w, h = max(2, frame.width // step), max(2, frame.height // step)
        return frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    # Chroma planes are subsampled by (sx, sy); take every step-th chroma sample and the luma
    # at the matching positions so the three planes line up.
    sx = 2 if name.endswith(("420p", "422p")) else 1
    sy = 2 if name.endswith("420p") else 1
    step = max(1, math.ceil(max(frame.width, frame.height) / (side * max(sx, sy))))
    planes = []
    for index in range(3):
        plane = frame.planes[index]
        data = np.frombuffer(plane, np.uint8)
        rows = data.size // plane.line_size
        width = frame.width if index == 0 else -(-frame.width // sx)
        planes.append(data[: rows * plane.line_size].reshape(rows, plane.line_size)[:, :width])
    y = planes[0][:: step * sy, :: step * sx]
    u, v = planes[1][::step, ::step], planes[2][::step, ::step]
    h, w = min(y.shape[0], u.shape[0]), min(y.shape[1], u.shape[1])
    return _yuv_to_rgb(y[:h, :w], u[:h, :w], v[:h, :w], full_range=name.startswith("yuvj"))


def scan_video(
    path: str | os.PathLike, side: int = 48, max_fps: float = 30.0, threads: bool = True
) -> VideoScan:
    """Decode every frame of ``path`` into tiny RGB frames (see the module docstring).

    Raises:
        MediaError: missing, not a video, an unsupported codec, or corrupt.
    """
    import av

    path = check_file(path)
    container = open_input(path, "video")
    with container:
        stream = video_stream(container, path)
        if threads:
            stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        stride = max(1, round(rate / max_fps))
        start = (
            float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        )
        frames: list[np.ndarray] = []
        times: list[float] = []
        decoded = 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                decoded += 1
                if index % stride:
                    continue
                t = (
                    float(frame.pts * stream.time_base) - start
                    if frame.pts is not None
                    else (index / rate)
                )
                frames.append(small_rgb(frame, side))
                times.append(t)
        except av.error.DecoderNotFoundError:
            raise MediaError(path, unsupported_codec_reason(stream)) from None
        except av.FFmpegError as exc:
            if not frames:
                raise MediaError(
                    path, f"corrupt or truncated video: {short_av_reason(exc)}"
                ) from None
        if not frames:
            raise MediaError(path, "corrupt or truncated video: no frame could be decoded")
        order = np.argsort(times, kind="stable")
        rgb = np.stack([frames[i] for i in order])
        times_s = np.asarray(times, np.float64)[order]
        step = 1.0 / (rate / stride)
        # the frames decoded are the truth: a header (stream or container) may claim more
        stream_s = float(stream.duration * stream.time_base) if stream.duration else 0.0
        duration = float(times_s[-1]) + step
        if stream_s and abs(stream_s - duration) <= max(1.0, 0.05 * duration):
            duration = max(duration, stream_s)  # the header's exact value when it agrees
        return VideoScan(rgb, times_s, duration, rate / stride, decoded)


__all__ = ["VideoScan", "scan_video", "small_rgb"]
