"""Read RGB frames from a video, uniformly over its duration, without decoding all of it.

Strategy: the sample times are known up front. The decoder runs forward and seeks only when a
keyframe lies between where it is and the next target, so a seek always skips frames. The
container's index says where the keyframes are (mp4, mov and avi when opened, Matroska/WebM
after their cues are loaded by the first seek); without one, targets further than 2 s (or the
longest keyframe interval seen) are sought. Only the chosen frames are converted to RGB,
scaled in FFmpeg (``max_side``), and kept.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.media.checks import (
    check_file,
    is_attached_picture,
    open_input,
    refuse_still_image,
    short_av_reason,
    stream_seconds,
    unsupported_codec_reason,
)
from vmb.media.video_decord import decode_decord, resolve_backend, video_backend

# With no index reaching the target: seek when it is further away than this (seconds) or than
# the longest keyframe interval seen, whichever is larger.
MIN_SEEK_GAP_S = 2.0
# With a keyframe known between the decoder and the target: seek when it skips at least this.
SEEK_MIN_SKIP_S = 0.5


@dataclass
class _Decoded:
    time_s: float
    frame: object  # av.VideoFrame


def read_frames(
    path: str | os.PathLike,
    num_frames: int | None = None,
    fps: float | None = None,
    max_side: int | None = None,
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample frames uniformly over a video.

    Give exactly one of ``num_frames`` (the centres of ``num_frames`` equal slices of the video)
    or ``fps`` (times ``0, 1/fps, 2/fps, ...`` before the end). Each sample is the frame on
    screen at that time. Rotation metadata (phone videos) and non-square pixels are applied,
    so frames come out as displayed.

    Args:
        path: a video file (mp4, webm, mkv, mov, avi...).
        num_frames: how many frames to return.
        fps: sampling rate in frames per second.
        max_side: if given, frames are scaled down (in FFmpeg) so the longer side is at most
            this many pixels; never scaled up.
        backend: ``pyav``, ``decord`` or ``auto`` (:mod:`vmb.media.video_decord`); ``None``
            uses the configured one (``video.backend``, ``auto`` by default). The file checks,
            the duration and the sample times are PyAV's either way.

    Returns:
        ``(frames, timestamps)``: frames ``[N, H, W, 3]`` uint8 RGB and the presentation time
        of each frame in seconds ``[N]`` float64, from the start of the video stream.

    Raises:
        MediaError: missing, empty, text, corrupt or truncated file, no video stream,
            unsupported codec.
        UsageError: both or neither of ``num_frames`` / ``fps``, or a non-positive value.
    """
    if (num_frames is None) == (fps is None):
        raise UsageError("read_frames: give exactly one of num_frames or fps")
    if num_frames is not None and (int(num_frames) != num_frames or num_frames < 1):
        raise UsageError(f"read_frames: num_frames must be a positive integer, got {num_frames!r}")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise UsageError(f"read_frames: fps must be positive, got {fps!r}")
    if max_side is not None and max_side < 1:
        raise UsageError(f"read_frames: max_side must be positive, got {max_side!r}")

    path = check_file(path)
    container = open_input(path, "video")
    with container:
        stream = video_stream(container, path)
        duration, exact = video_duration(container, stream)
        duration = verified_duration(path, duration, exact)
        targets = sample_times(duration, num_frames=num_frames, fps=fps)
        if resolve_backend(backend) == "decord":
            decoded = _decode_with_decord(container, stream, path, targets, max_side, backend)
            if decoded is not None:
                return decoded
            container.seek(0, stream=stream)  # auto, and a video decord cannot read: PyAV's way
        frames, times = _decode_at(container, stream, path, targets, duration, exact, max_side)
        return np.stack(frames), np.array(times, np.float64)


def _decode_with_decord(container, stream, path, targets, max_side, backend) -> tuple[np.ndarray, np.ndarray] | None:
    """The same frames through decord (PyAV gives the display size); ``None`` for a video
    decord 0.6 cannot read (a rotated one) when the backend was chosen by ``auto``."""
    from vmb.media.probe import _first_frame_rotation

    sar = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
    width, height = stream.codec_context.width, stream.codec_context.height
    size = output_size(width, height, sar, max_side)
    if _first_frame_rotation(container, stream, path):
        if (backend or "") != "decord" and video_backend() != "decord":
            return None
        raise MediaError(path, "decord cannot decode a rotated (phone) video; use video.backend=pyav or auto")
    return decode_decord(path, targets, None if size == (width, height) else size, 0)


def video_stream(container, path) -> object:
    """The first video stream that is not a cover picture, or :class:`MediaError`."""
    refuse_still_image(container, path, "video", "not a video (it is a still image)")
    streams = [s for s in container.streams.video if not is_attached_picture(s)]
    if not streams:
        if container.streams.audio:
            raise MediaError(path, "no video stream (audio-only container)")
        raise MediaError(path, "no video stream")
    stream = streams[0]
    if stream.codec_context is None:
        raise MediaError(path, unsupported_codec_reason(stream))
    stream.thread_type = "AUTO"
    return stream


def _start_time(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def video_duration(container, stream) -> tuple[float | None, bool]:
    """``(seconds, exact)``: the video stream's own duration (``exact``), else the container's.

    Matroska/WebM streams carry it as a ``DURATION`` tag. The container duration may include a
    longer audio track, so it is only a hint.
    """
    seconds = stream_seconds(stream)
    if seconds is not None:
        return seconds, True
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000, False
    return None, False


def scan_duration(path) -> float:
    """Exact video duration in seconds from the packets (demuxing only, no decoding)."""
    import av

    with open_input(path, "video") as container:
        stream = video_stream(container, path)
        start = stream.start_time or 0
        end = None
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    packet_end = packet.pts + (packet.duration or 0)
                    end = packet_end if end is None else max(end, packet_end)
        except av.FFmpegError as exc:
            if end is None:
                raise MediaError(
                    path, f"corrupt or truncated video: {short_av_reason(exc)}"
                ) from None
        if end is None:
            raise MediaError(path, "corrupt or truncated video: no video packets")
        seconds = float((end - start) * stream.time_base)
        rate = stream.average_rate or stream.guessed_rate
        return seconds if seconds > 0 or not rate else 1 / float(rate)


def verified_duration(path, duration: float | None, exact: bool) -> float:
    """The video's duration, never trusted from a header alone: a duration the stream header
    declares (``exact``) is checked against the packets at its end (:func:`check_complete`, a
    file cut short with its header at the front — a "faststart" mp4 — raises); without one the
    packets are scanned (:func:`scan_duration`)."""
    if duration is None or not exact:
        return scan_duration(path)
    with open_input(path, "video") as container:
        check_complete(container, video_stream(container, path), path, duration, "video")
    return duration


def check_complete(container, stream, path, declared_s: float, what: str = "video") -> None:
    """Raise :class:`MediaError` if the packets of ``stream`` stop well before ``declared_s``.

    Seeks near the declared end and demuxes (no decoding) to the last packet, so it costs about
    one keyframe interval of reading. Catches files cut short whose header survived (WebM,
    faststart mp4, mp3 with a frame count).
    """
    import av

    start = stream.start_time or 0
    end = None
    try:
        target = max(0.0, declared_s - 1.0)
        container.seek(int(round(target / stream.time_base)) + start, stream=stream, backward=True)
        for packet in container.demux(stream):
            if packet.pts is not None:
                packet_end = packet.pts + (packet.duration or 0)
                end = packet_end if end is None else max(end, packet_end)
    except av.FFmpegError as exc:
        raise MediaError(path, f"corrupt or truncated {what}: {short_av_reason(exc)}") from None
    end_s = 0.0 if end is None else float((end - start) * stream.time_base)
    if end_s < declared_s - max(1.0, 0.05 * declared_s):
        raise MediaError(
            path, f"corrupt or truncated {what}: data ends at {end_s:.2f} s of {declared_s:.2f} s"
        )


def sample_times(
    duration_s: float, num_frames: int | None = None, fps: float | None = None
) -> np.ndarray:
    """Target times in seconds ``[N]``: slice centres for ``num_frames``, a grid for ``fps``."""
    if num_frames is not None:
        return (np.arange(num_frames, dtype=np.float64) + 0.5) * (duration_s / num_frames)
    count = max(1, int(math.ceil(duration_s * fps - 1e-9)))
    return np.arange(count, dtype=np.float64) / fps


def _frames_from(container, stream, path, seek_s: float | None) -> Iterator[_Decoded]:
    """Decoded frames with their times, from the start or from a seek to ``seek_s``."""
    import av

    start = _start_time(stream)
    if seek_s is not None:
        offset = int(round((seek_s + start) / stream.time_base))
        container.seek(offset, stream=stream, backward=True, any_frame=False)
    previous = None
    frame_step = 1 / float(stream.average_rate or stream.guessed_rate or 25)
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                time_s = float(frame.pts * stream.time_base) - start
            elif previous is not None:
                time_s = previous + frame_step
            else:
                time_s = seek_s or 0.0
            previous = time_s
            yield _Decoded(time_s, frame)
    except av.error.DecoderNotFoundError:
        raise MediaError(path, unsupported_codec_reason(stream)) from None
    except av.FFmpegError as exc:
        raise MediaError(path, f"corrupt or truncated video: {short_av_reason(exc)}") from None


class _Keyframes:
    """Where the keyframes are, from the container's index and from decoding.

    mp4/mov/avi index every frame when opened; Matroska/WebM load their cues on the first
    seek; other files only tell what has been demuxed so far. ``horizon`` is how far the
    knowledge reaches: past it a keyframe may or may not exist.
    """

    def __init__(self, stream):
        self.stream = stream
        self.start = stream.start_time or 0
        self.times: list[float] = []
        self.horizon = -math.inf
        self._indexed = 0
        self.refresh()

    def refresh(self) -> None:
        entries = self.stream.index_entries
        if len(entries) == self._indexed:
            return
        self._indexed = len(entries)
        base = self.stream.time_base
        for entry in entries:
            seconds = float((entry.timestamp - self.start) * base)
            self.horizon = max(self.horizon, seconds)
            if entry.is_keyframe:
                self.times.append(seconds)
        self.times = sorted(set(self.times))

    def saw(self, item: _Decoded) -> None:
        self.horizon = max(self.horizon, item.time_s)
        if item.frame.key_frame and (not self.times or item.time_s > self.times[-1]):
            self.times.append(item.time_s)

    def last_at_or_before(self, seconds: float) -> float | None:
        index = bisect.bisect_right(self.times, seconds + 1e-6)
        return self.times[index - 1] if index else None

    def longest_gap(self) -> float:
        return float(np.max(np.diff(self.times))) if len(self.times) > 1 else 0.0


def _should_seek(keyframes: _Keyframes, target: float, position: float, frame_step: float) -> bool:
    """Seek when a keyframe lies between the decoder's position and the target (decoding from
    it skips the frames in between); when the index does not reach the target, when the target
    is further than any keyframe interval seen."""
    keyframes.refresh()
    key = keyframes.last_at_or_before(target)
    # A seek flushes the decoder; a few frames of forward decoding are cheaper than that.
    if key is not None and key > position + max(SEEK_MIN_SKIP_S, 8 * frame_step):
        return True
    if keyframes.horizon >= target:
        return False
    return target - position > max(MIN_SEEK_GAP_S, keyframes.longest_gap())


def _decode_at(
    container, stream, path, targets: np.ndarray, duration: float, strict: bool, max_side
) -> tuple[list[np.ndarray], list[float]]:
    """For each target time, the last decoded frame whose time is at or before it, as RGB.

    Only the picked frames are converted (and kept); a frame picked twice is converted once.
    """
    sar = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
    frame_step = 1 / float(stream.average_rate or stream.guessed_rate or 25)
    eps = 1e-6
    keyframes = _Keyframes(stream)
    frames: list[np.ndarray] = []
    times: list[float] = []
    converted: tuple[_Decoded, np.ndarray] | None = None

    decoder = None
    current: _Decoded | None = None  # last frame at or before the previous target
    ahead: _Decoded | None = None  # first frame after the previous target
    for target in targets:
        if decoder is None:
            seek = _should_seek(keyframes, target, 0.0, frame_step)
        else:
            position = ahead.time_s if ahead is not None else (current.time_s if current else 0.0)
            seek = _should_seek(keyframes, target, position, frame_step)
        if decoder is None or seek:
            decoder = _frames_from(container, stream, path, float(target) if seek else None)
            current = ahead = None
        while ahead is None or ahead.time_s <= target + eps:
            if ahead is not None:
                current = ahead
            ahead = next(decoder, None)
            if ahead is None:
                break
            keyframes.saw(ahead)
        if current is None:
            # The seek (or the stream) starts after the target: the first frame is the closest.
            if ahead is None:
                raise MediaError(path, "corrupt or truncated video: no frame could be decoded")
            current = ahead
        elif strict and ahead is None and target - current.time_s > max(0.5, 2 * frame_step):
            # The headers promised `duration`; the frames stop well before it.
            raise MediaError(
                path,
                f"corrupt or truncated video: frames end at {current.time_s:.2f} s "
                f"of {duration:.2f} s",
            )
        if converted is None or converted[0] is not current:
            converted = (current, _to_rgb(current.frame, sar, max_side))
        frames.append(converted[1])
        times.append(current.time_s)
    return frames, times


def output_size(width: int, height: int, sar: float, max_side: int | None) -> tuple[int, int]:
    """Displayed ``(width, height)`` for a coded size and sample aspect ratio, fit into
    ``max_side``."""
    display_w = max(1, int(round(width * sar))) if sar and sar > 0 else width
    scale = 1.0 if max_side is None else min(1.0, max_side / max(display_w, height))
    return max(1, int(round(display_w * scale))), max(1, int(round(height * scale)))


def _to_rgb(frame, sar: float, max_side: int | None) -> np.ndarray:
    """One decoded frame as displayed: ``[H, W, 3]`` uint8 RGB, scaled in FFmpeg and rotated."""
    width, height = output_size(frame.width, frame.height, sar, max_side)
    array = frame.reformat(
        width=width, height=height, format="rgb24", interpolation="AREA"
    ).to_ndarray()
    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    if rotation:
        # FFmpeg's display-matrix angle is counter-clockwise, the way np.rot90 turns.
        array = np.ascontiguousarray(np.rot90(array, k=rotation // 90))
    return array
