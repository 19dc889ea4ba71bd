"""Turn the user's video, images and text into :class:`~vmb.types.MediaInput` items."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from vmb.errors import UsageError
from vmb.types import MediaInput

VISUAL_KINDS = ("video", "image")

# Frames handed to a vision-language model are at most this large (its processor resizes them
# again, to 448 px for InternVL); decoding at full 4K size would only cost time.
FRAME_MAX_SIDE = 768


def load_inputs(
    video: str | os.PathLike | None = None,
    images: Sequence[str | os.PathLike] | str | os.PathLike = (),
    text: str | None = None,
    num_frames: int = 8,
    decode: bool = True,
    max_side: int | None = FRAME_MAX_SIDE,
) -> list[MediaInput]:
    """The inputs in order: the video, then the images, then the text.

    Args:
        video: a video file; ``num_frames`` frames are sampled uniformly over it.
        images: image files (one path or several).
        text: the user's words.
        num_frames: frames to sample from the video.
        decode: read the pixels now; ``False`` checks the files exist and leaves ``frames``
            empty for a describer that samples them itself (the built-in one does).
        max_side: frames and images are scaled down to this longer side (``None``: as stored).

    Raises:
        UsageError: no input at all, or ``num_frames`` < 1.
        MediaError: a file that is missing or cannot be read.
    """
    from vmb.media import probe, read_frames, read_image
    from vmb.media.checks import check_file

    if isinstance(images, (str, os.PathLike)):
        images = [images]
    images = [p for p in images if p is not None and str(p) != ""]
    if text is not None and not str(text).strip():
        text = None
    if video is None and not images and text is None:
        raise UsageError("nothing to describe: give a video, one or more images, or some text")
    if int(num_frames) != num_frames or num_frames < 1:
        raise UsageError(f"num_frames must be a positive whole number, got {num_frames!r}")

    inputs: list[MediaInput] = []
    if video is not None:
        path = check_file(video)
        if decode:
            frames, times = read_frames(path, num_frames=int(num_frames), max_side=max_side)
            duration = probe(path).duration_s
            inputs.append(
                MediaInput(
                    "video",
                    str(path),
                    frames=frames,
                    timestamps=tuple(float(t) for t in times),
                    duration_s=duration,
                )
            )
        else:
            inputs.append(MediaInput("video", str(path)))
    for image in images:
        path = check_file(image)
        if decode:
            pixels = read_image(path, max_side=max_side)
            inputs.append(MediaInput("image", str(path), frames=pixels[None], timestamps=(0.0,)))
        else:
            inputs.append(MediaInput("image", str(path)))
    if text is not None:
        inputs.append(MediaInput("text", text=clean_text(text)))
    return inputs


def clean_text(text: str) -> str:
    """The user's words as plain one-line text: bytes that were not UTF-8 (surrogate escapes
    from the command line) become U+FFFD, control characters (ESC sequences, newlines) spaces,
    runs of white space one space."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = "".join(" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) else c for c in text)
    return " ".join(text.split())


def ensure_frames(
    item: MediaInput, num_frames: int = 8, max_side: int | None = FRAME_MAX_SIDE
) -> MediaInput:
    """``item`` with its pixels read if it has none yet (a video or image given by path)."""
    if item.kind not in VISUAL_KINDS or item.frames is not None:
        return item
    from vmb.media import read_frames, read_image

    if item.path is None:
        raise UsageError(f"a {item.kind} input needs a path or frames")
    if item.kind == "video":
        frames, times = read_frames(Path(item.path), num_frames=num_frames, max_side=max_side)
        return MediaInput("video", item.path, frames=frames, timestamps=tuple(float(t) for t in times),
                          duration_s=item.duration_s)  # fmt: skip
    pixels = read_image(Path(item.path), max_side=max_side)
    return MediaInput("image", item.path, frames=pixels[None], timestamps=(0.0,))


__all__ = ["FRAME_MAX_SIDE", "VISUAL_KINDS", "ensure_frames", "load_inputs"]
