"""Shared checks for the media readers: does the file exist, is it empty or text, and the
translation of FFmpeg (PyAV) failures into :class:`~vmb.errors.MediaError` reasons a person
can act on."""

from __future__ import annotations

import codecs
import contextlib
import os
from stat import S_ISREG
import re
from collections.abc import Iterator
from pathlib import Path

from vmb.errors import MediaError

_SNIFF_BYTES = 8192


def check_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path` if it is a non-empty readable file, else raise
    :class:`MediaError` ("file not found", "file is empty", ...)."""
    path = Path(os.fsdecode(path)).expanduser()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except PermissionError:
        raise MediaError(path, "permission denied") from None
    except OSError as exc:
        raise MediaError(path, f"cannot read file: {exc.strerror or exc}") from None
    if path.is_dir():
        raise MediaError(path, "is a directory, not a file")
    if not S_ISREG(stat.st_mode):
        raise MediaError(path, "not a regular file (a pipe, device or socket); give a file")
    if stat.st_size == 0:
        raise MediaError(path, "file is empty")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "permission denied")
    return path


def looks_like_text(path: Path) -> bool:
    """True if the start of the file is NUL-free UTF-8 (or UTF-16 with a BOM): a text file.

    Only asked after a decoder refused the file, so a text-based image format (SVG, XPM) that a
    decoder accepts never gets here.
    """
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    try:
        # A multi-byte character may be cut at the end of the sniffed block: decode incrementally.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) or b >= 128 for b in head)
    return printable >= 0.95 * len(head)


def not_media_reason(path: Path, what: str, detail: str) -> str:
    """The reason for a file that no decoder could open: text, or corrupt/unknown."""
    if looks_like_text(path):
        return "not a media file (looks like text)"
    article = "an" if what[:1] in "aeiou" else "a"
    return f"corrupt, truncated or not {article} {what} file: {detail}"


@contextlib.contextmanager
def ffmpeg_log_capture() -> Iterator[list[str]]:
    """Collect FFmpeg's error messages (e.g. "moov atom not found") instead of printing them.

    Yields a list that holds the messages once the block exits.
    """
    import av.logging

    messages: list[str] = []
    previous = av.logging.get_level()
    skip_repeated = av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)  # the same error for a second file must be seen too
    try:
        with av.logging.Capture() as captured:
            yield messages
    finally:
        av.logging.set_level(previous)
        av.logging.set_skip_repeated(skip_repeated)
        messages.extend(str(m[2]).strip() for m in captured if m[0] <= av.logging.ERROR)


def short_av_reason(exc: BaseException, logs: list[str] | None = None) -> str:
    """A one-line reason from a PyAV error, preferring FFmpeg's own last log message."""
    if logs:
        return logs[-1].splitlines()[0]
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return reason.splitlines()[0].rstrip(".")


def open_input(path: Path, what: str):
    """Open ``path`` with PyAV for reading, or raise :class:`MediaError`.

    ``what`` ("video", "audio", "media") words the reason for a file FFmpeg cannot open.
    """
    import av

    with ffmpeg_log_capture() as logs:
        try:
            # absolute, so that a name such as "concat:a|b" or "pipe:0" is never read as an
            # FFmpeg protocol
            return av.open(os.path.abspath(path), mode="r", metadata_errors="replace")
        except FileNotFoundError:
            raise MediaError(path, "file not found") from None
        except PermissionError:
            raise MediaError(path, "permission denied") from None
        except (av.FFmpegError, OSError, ValueError) as exc:
            error = exc
    raise MediaError(path, not_media_reason(path, what, short_av_reason(error, logs))) from None


def is_still_image(container) -> bool:
    """True if FFmpeg opened the file with a still-image demuxer (jpeg_pipe, png_pipe, image2)."""
    name = container.format.name
    return name == "image2" or name.endswith("_pipe")


def refuse_still_image(container, path: Path, what: str, it_is: str) -> None:
    """Raise :class:`MediaError` when FFmpeg opened ``path`` as a still image where ``what``
    (``audio``, ``video``) was expected: ``it_is`` says so, unless the file is really text."""
    if is_still_image(container):
        raise MediaError(path, not_media_reason(path, what, "") if looks_like_text(path) else it_is)


def is_attached_picture(stream) -> bool:
    """True for a cover-art "video" stream (one picture in an mp3/m4a/mkv)."""
    from av.stream import Disposition

    return bool(stream.disposition & Disposition.attached_pic)


def stream_codec_name(stream) -> str | None:
    """The decoder name of a PyAV stream, or ``None`` when FFmpeg does not know the codec."""
    context = stream.codec_context
    return None if context is None else context.name


def unsupported_codec_reason(stream) -> str:
    name = stream_codec_name(stream)
    if name is None:
        return f"unsupported codec (FFmpeg does not know the {stream.type} codec of this file)"
    return f"unsupported codec {name} (no {stream.type} decoder for it in this FFmpeg build)"


def stream_seconds(stream) -> float | None:
    """A stream's own duration in seconds: its header field, or Matroska's ``DURATION`` tag."""
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag.strip()) if tag else None
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None
