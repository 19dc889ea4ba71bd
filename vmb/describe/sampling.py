"""Short windows of a video for the built-in describer, without decoding all of it.

The built-in describer needs colour (a few frames spread over the video) and motion and cuts
(consecutive frames). :func:`sample_windows` reads ``num_windows`` short windows of
``window_s`` seconds spread evenly over the video. Each window starts at the keyframe at or
before its anchor time: decoding has to start there anyway, so a window costs only its own
frames plus one seek, whatever the length of the video. Anchors that fall back onto a keyframe
already used are skipped, so a video with sparse keyframes gives fewer, still spread, windows.

Frames are made small cheaply: grey frames for motion and cuts are the luma plane subsampled,
RGB frames for colour (a few per window) are scaled in FFmpeg.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.media.checks import check_file, open_input, short_av_reason, unsupported_codec_reason
from vmb.media.video import output_size, verified_duration, video_duration, video_stream


@dataclass(frozen=True)
class VideoWindows:
    """What :func:`sample_windows` read.

    Attributes:
        grey: one array per window, ``[F, h, w]`` uint8 luma, consecutive frames ``step_s`` apart.
        starts_s: start time of each window in seconds ``[W]``.
        colour: small RGB frames spread over the windows ``[N, H, W, 3]`` uint8.
        colour_times_s: their times ``[N]``.
        step_s: seconds between consecutive frames of a window.
        duration_s: the video's duration.
        frames_decoded: how many frames the decoder produced (the cost).
        total_frames: the video's frame count (estimated from duration and frame rate).
    """

    grey: tuple[np.ndarray, ...]
    starts_s: np.ndarray
    colour: np.ndarray
    colour_times_s: np.ndarray
    step_s: float
    duration_s: float
    frames_decoded: int
    total_frames: int


# 8-bit pixel formats whose first plane is the luma at full size.
_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
)


def _small_luma(frame, side: int) -> np.ndarray:
    """The frame's luma subsampled so the longer side is about ``side``: ``[h, w]`` uint8.

    Planar YUV frames give their Y plane directly (a strided view, ~100x cheaper than a scaled
    conversion); other formats go through FFmpeg.
    """
    step = max(1, math.ceil(max(frame.width, frame.height) / side))
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[
            :, : frame.width
        ]
        return np.ascontiguousarray(luma[::step, ::step])
    width, height = max(1, frame.width // step), max(1, frame.height // step)
    return frame.reformat(width=width, height=height, format="gray").to_ndarray()


def _duration(container, stream, path) -> float:
    duration, exact = video_duration(container, stream)
    return verified_duration(path, duration, exact)


def sample_windows(
    path: str | os.PathLike,
    num_windows: int = 12,
    window_s: float = 1.5,
    colour_frames: int = 32,
    colour_side: int = 128,
    motion_side: int = 96,
    motion_fps: float = 25.0,
) -> VideoWindows:
    """Read short windows spread over a video (see the module docstring).

    Args:
        path: the video.
        num_windows: how many windows to aim for.
        window_s: length of each window in seconds.
        colour_frames: how many RGB frames to keep in all, spread over the windows.
        colour_side, motion_side: longer side of the RGB and grey frames, in pixels.
        motion_fps: consecutive grey frames are taken about ``1 / motion_fps`` apart (every
            frame at 25 fps, every second one at 50 fps), so motion is comparable across rates.

    Raises:
        MediaError: the file is missing, not a video, corrupt, or no frame could be decoded.
    """
    import av

    if num_windows < 1 or window_s <= 0 or colour_frames < 1:
        raise UsageError(
            f"sample_windows: num_windows ({num_windows}), window_s ({window_s}) and "
            f"colour_frames ({colour_frames}) must be positive"
        )
    path = check_file(path)
    container = open_input(path, "video")
    with container:
        stream = video_stream(container, path)
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        stride = max(1, round(rate / motion_fps))
        duration = _duration(container, stream, path)
        start_offset = (
            float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        )
        sar = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
        slice_s = duration / num_windows
        anchors = [max(0.0, (i + 0.5) * slice_s - window_s / 2) for i in range(num_windows)]
        per_window = max(1, math.ceil(colour_frames / num_windows))

        grey: list[np.ndarray] = []
        starts: list[float] = []
        colour: list[np.ndarray] = []
        colour_times: list[float] = []
        decoded = 0
        covered_until = -1.0
        for anchor in anchors:
            if anchor < covered_until:
                continue
            if anchor > 0:
                offset = round((anchor + start_offset) / stream.time_base)
                container.seek(offset, stream=stream, backward=True, any_frame=False)
            else:
                container.seek(0)
            window: list[np.ndarray] = []
            rgb: list[tuple[float, object]] = []
            first = None
            try:
                for index, frame in enumerate(container.decode(stream)):
                    decoded += 1
                    t = (
                        float(frame.pts * stream.time_base) - start_offset
                        if frame.pts is not None
                        else anchor
                    )
                    if first is None:
                        first = t
                        if t < covered_until - 1e-6:
                            break  # the seek fell back onto a window already read
                    if t >= first + window_s:
                        break
                    if index % stride == 0:
                        window.append(_small_luma(frame, motion_side))
                        rgb.append((t, frame))
            except av.error.DecoderNotFoundError:
                raise MediaError(path, unsupported_codec_reason(stream)) from None
            except av.FFmpegError as exc:
                raise MediaError(
                    path, f"corrupt or truncated video: {short_av_reason(exc)}"
                ) from None
            if not window:
                continue
            covered_until = max(covered_until, first + window_s)
            grey.append(np.stack(window))
            starts.append(first)
            picks = np.unique(
                np.linspace(0, len(rgb) - 1, min(per_window, len(rgb))).round().astype(int)
            )
            for i in picks:
                t, frame = rgb[i]
                w, h = output_size(frame.width, frame.height, sar, colour_side)
                colour.append(
                    frame.reformat(
                        width=w, height=h, format="rgb24", interpolation="AREA"
                    ).to_ndarray()
                )
                colour_times.append(t)
        if not grey:
            raise MediaError(path, "corrupt or truncated video: no frame could be decoded")
        return VideoWindows(
            grey=tuple(grey),
            starts_s=np.array(starts, np.float64),
            colour=np.stack(colour),
            colour_times_s=np.array(colour_times, np.float64),
            step_s=stride / rate,
            duration_s=float(duration),
            frames_decoded=decoded,
            total_frames=max(1, round(duration * rate)),
        )


__all__ = ["VideoWindows", "sample_windows"]
