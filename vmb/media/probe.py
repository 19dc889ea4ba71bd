"""What a media file holds: kind, duration, streams, frame size and rate, audio format.

``probe`` reads headers and decodes one frame (or, for images, a reduced-scale decode) so that
a file that merely *looks* right but cannot be decoded is reported as bad.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from vmb.errors import MediaError
from vmb.media.checks import (
    check_file,
    is_attached_picture,
    is_still_image,
    not_media_reason,
    open_input,
    short_av_reason,
    stream_seconds,
    unsupported_codec_reason,
)

ProbeKind = Literal["video", "audio", "image"]


@dataclass(frozen=True)
class MediaInfo:
    """The facts about one media file.

    Attributes:
        path: the file.
        kind: ``video`` (has a video stream), ``audio`` (audio only) or ``image`` (a still).
        format_name: the container (FFmpeg's name, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``) or the
            image format (Pillow's name, e.g. ``JPEG``).
        duration_s: seconds (``None`` for an image or when the file does not say).
        width, height: the displayed size of the video or image (rotation applied).
        fps: average frame rate of the video.
        num_frames: frames in the video stream (counted by the container, or duration x fps).
        video_codec, audio_codec: decoder names (``h264``, ``vp9``, ``aac``, ``opus``...).
        sample_rate, channels: of the first audio stream.
        streams: one dict per stream (``index``, ``type``, ``codec`` and its facts).
    """

    path: str
    kind: ProbeKind
    format_name: str
    duration_s: float | None = None
    has_video: bool = False
    has_audio: bool = False
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    num_frames: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One human paragraph, e.g. ``clip.mp4: video, 12.00 s, 640x360 at 24 fps (288
        frames, h264); audio 48000 Hz stereo (aac); container mov,mp4,m4a,3gp,3g2,mj2.``"""
        name = os.path.basename(self.path)
        if self.kind == "image":
            mode = self.streams[0].get("mode") if self.streams else None
            return f"{name}: image, {self.width}x{self.height} {self.format_name}" + (
                f" ({mode})." if mode else "."
            )
        parts = [self.kind]
        if self.duration_s is not None:
            parts.append(f"{self.duration_s:.2f} s")
        if self.has_video:
            video = f"{self.width}x{self.height}"
            if self.fps:
                video += f" at {self.fps:.4g} fps"
            details = [f"{self.num_frames} frames"] if self.num_frames else []
            details.append(self.video_codec or "unknown codec")
            parts.append(f"{video} ({', '.join(details)})")
        if self.has_audio:
            layout = {1: "mono", 2: "stereo"}.get(self.channels or 0, f"{self.channels} channels")
            parts.append(f"audio {self.sample_rate} Hz {layout} ({self.audio_codec})")
        elif self.has_video:
            parts.append("no audio")
        return (
            f"{name}: {', '.join(parts[:2])}"
            + (f", {', '.join(parts[2:])}" if len(parts) > 2 else "")
            + f"; container {self.format_name}."
        )


def probe(path: str | os.PathLike) -> MediaInfo:
    """Probe a video, audio or image file.

    Raises:
        MediaError: missing, empty, text, corrupt or truncated file, no audio or video stream,
            unsupported codec.
    """
    from vmb.media.image import open_image

    path = check_file(path)
    if _is_video_container(path):
        return _probe_av(path)  # Pillow would load every image plugin before giving up
    image = None
    try:
        image, _ = open_image(path)
    except MediaError as exc:
        # Not an image; FFmpeg may still read it (and gives the better reason if not).
        if exc.reason.startswith(("image too large", "corrupt or truncated image")):
            raise
    if image is not None:
        with image:
            return _probe_image(path, image)
    return _probe_av(path)


# ISO-BMFF brands of still images (HEIF/AVIF): these go to Pillow like any image.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis"}


def _is_video_container(path) -> bool:
    """Whether the file starts like an MP4/MOV (``ftyp`` box of a non-image brand) or a
    Matroska/WebM (EBML) file: then it is not a still image, and Pillow's format detection (about
    a tenth of a second of plugin imports in a fresh process, measured) is skipped."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    return head[:4] == b"\x1a\x45\xdf\xa3"


def _probe_image(path, image) -> MediaInfo:
    width, height = image.size
    mode = image.mode
    try:
        if image.format == "JPEG":
            image.draft(mode if mode in ("RGB", "L") else None, (64, 64))  # 1/8-scale decode
        # Decoding catches truncated or corrupt data; a large non-JPEG is left at its header.
        if image.format == "JPEG" or width * height <= 16_000_000:
            image.load()
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(path, f"corrupt or truncated image: {str(exc).splitlines()[0]}") from None
    if orientation in (5, 6, 7, 8):  # EXIF orientations that turn the image by 90 degrees
        width, height = height, width
    stream = {
        "index": 0,
        "type": "image",
        "codec": image.format.lower(),
        "mode": mode,
        "width": width,
        "height": height,
        "exif_orientation": orientation,
        "frames": getattr(image, "n_frames", 1),
    }
    return MediaInfo(
        path=str(path),
        kind="image",
        format_name=image.format,
        width=width,
        height=height,
        streams=[stream],
    )


def _probe_av(path) -> MediaInfo:
    from vmb.media.audio import check_soundfile_header
    from vmb.media.video import check_complete, scan_duration, video_duration

    container = open_input(path, "media")
    with container:
        videos = [s for s in container.streams.video if not is_attached_picture(s)]
        audios = list(container.streams.audio)
        if not videos and not audios:
            raise MediaError(path, "no audio or video stream")
        streams: list[dict[str, Any]] = []
        info: dict[str, Any] = {"has_video": bool(videos), "has_audio": bool(audios)}
        for stream in container.streams:
            entry: dict[str, Any] = {
                "index": stream.index,
                "type": stream.type,
                "codec": stream.codec_context.name if stream.codec_context else None,
            }
            if stream.duration is not None and stream.time_base is not None:
                entry["duration_s"] = round(float(stream.duration * stream.time_base), 6)
            if stream.type == "audio" and stream.codec_context is not None:
                entry.update(
                    sample_rate=stream.codec_context.sample_rate,
                    channels=stream.codec_context.channels,
                    layout=stream.layout.name if stream.layout else None,
                )
            streams.append(entry)

        duration = container.duration / 1_000_000 if container.duration else None
        if is_still_image(container):
            raise MediaError(path, not_media_reason(path, "media", "an image Pillow cannot read"))
        if videos:
            stream = videos[0]
            if stream.codec_context is None:
                raise MediaError(path, unsupported_codec_reason(stream))
            rotation = _first_frame_rotation(container, stream, path)
            width, height = stream.codec_context.width, stream.codec_context.height
            sar = float(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else 1.0
            if sar > 0 and sar != 1.0:
                width = int(round(width * sar))
            if rotation % 180 == 90:
                width, height = height, width
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            video_s, exact = video_duration(container, stream)
            if video_s and exact:
                check_complete(container, stream, path, video_s, "video")
            else:  # no stream duration: the container's may lie (a header claiming 40 min)
                video_s = scan_duration(path)
            duration = video_s  # a video lasts as long as its pictures, whatever the header says
            num_frames = stream.frames or (int(round(video_s * fps)) if video_s and fps else None)
            info.update(
                width=width,
                height=height,
                fps=fps,
                num_frames=num_frames,
                video_codec=stream.codec_context.name,
            )
            entry = streams[stream.index]
            entry.update(width=width, height=height, fps=fps, frames=num_frames, rotation=rotation)
            if video_s:
                entry["duration_s"] = round(video_s, 6)
        if audios:
            stream = audios[0]
            if stream.codec_context is None:
                raise MediaError(path, unsupported_codec_reason(stream))
            if not videos:
                check_soundfile_header(path)
                _first_audio_frame(container, stream, path)
                declared = stream_seconds(stream) or (
                    duration if len(container.streams) == 1 else None
                )
                if declared:
                    check_complete(container, stream, path, declared, "audio")
            info.update(
                audio_codec=stream.codec_context.name,
                sample_rate=stream.codec_context.sample_rate,
                channels=stream.codec_context.channels,
            )
        return MediaInfo(
            path=str(path),
            kind="video" if videos else "audio",
            format_name=container.format.name,
            duration_s=round(duration, 6) if duration is not None else None,
            streams=streams,
            **info,
        )


def _first_frame_rotation(container, stream, path) -> int:
    """Decode the first video frame (proves the stream decodes); its display rotation."""
    import av

    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except av.error.DecoderNotFoundError:
        raise MediaError(path, unsupported_codec_reason(stream)) from None
    except av.FFmpegError as exc:
        raise MediaError(path, f"corrupt or truncated video: {short_av_reason(exc)}") from None
    raise MediaError(path, "corrupt or truncated video: no frame could be decoded")


def _first_audio_frame(container, stream, path) -> None:
    import av

    try:
        for _ in container.decode(stream):
            return
    except av.error.DecoderNotFoundError:
        raise MediaError(path, unsupported_codec_reason(stream)) from None
    except av.FFmpegError as exc:
        raise MediaError(path, f"corrupt or truncated audio: {short_av_reason(exc)}") from None
    raise MediaError(path, "corrupt or truncated audio: no audio frame could be decoded")
