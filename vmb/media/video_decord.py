"""decord as an optional video backend for :func:`vmb.media.read_frames` (``video.backend``).

decord (``pip install 'vmb[decord]'``; a 2021 wheel for x86-64 Linux/Windows only, with its own
FFmpeg) seeks to the keyframe before each wanted frame and decodes forward, like vmb's PyAV
reader. The contract is the same as with PyAV: vmb's PyAV code still checks the file (kind,
codec, a duration the packets confirm) and computes the sample times; decord decodes, and the
frame kept for each time is the one on screen then (the last frame starting at or before it).
Non-square pixels and ``max_side`` are applied by decord's scaler, the rotation of phone
videos afterwards.

Which backend runs (:func:`resolve_backend`): ``pyav``, ``decord`` (an error when decord is not
installed), or ``auto`` — decord only where ``benchmarks/bench_media.py`` measured it faster
(:data:`AUTO_USES_DECORD`), else PyAV.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from vmb.errors import ConfigError, MediaError

VIDEO_BACKENDS = ("auto", "pyav", "decord")

# Measured in benchmarks/results/media.json (16 frames of a 60 s 640x360 H.264 clip, x264's
# default GOP and a 2 s GOP): see the README. ``auto`` picks decord only when this is True.
AUTO_USES_DECORD = False

_backend = "auto"


def decord_available() -> bool:
    """Whether the ``decord`` package can be imported (without importing it)."""
    return importlib.util.find_spec("decord") is not None


def set_video_backend(name: str) -> None:
    """The backend :func:`read_frames` uses when none is given (``video.backend`` of the config)."""
    global _backend
    _backend = check_backend(name)


def video_backend() -> str:
    """The configured backend setting (``auto`` unless :func:`set_video_backend` changed it)."""
    return _backend


def check_backend(name: str) -> str:
    if name not in VIDEO_BACKENDS:
        raise ConfigError(f"video.backend = {name!r} is not one of: {', '.join(VIDEO_BACKENDS)}")
    return name


def resolve_backend(name: str | None = None) -> str:
    """``pyav`` or ``decord`` for the setting ``name`` (default: :func:`set_video_backend`'s)."""
    name = check_backend(name or _backend)
    if name == "decord":
        if not decord_available():
            raise ConfigError(
                "video.backend = decord but decord is not installed (pip install 'vmb[decord]'; "
                "wheels exist for x86-64 Linux and Windows only)"
            )
        return "decord"
    if name == "auto" and AUTO_USES_DECORD and decord_available():
        return "decord"
    return "pyav"


def decode_decord(
    path: str | os.PathLike,
    targets: np.ndarray,
    size: tuple[int, int] | None,
    rotation: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The frames on screen at ``targets`` (seconds) ``[N, H, W, 3]`` uint8 and their times ``[N]``.

    ``size``: ``(width, height)`` to scale to in decord (``None``: as coded); ``rotation``:
    degrees counter-clockwise to turn the frames (the display matrix).
    """
    import decord

    kwargs = {} if size is None else {"width": int(size[0]), "height": int(size[1])}
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), **kwargs)
        count = len(reader)
        if count == 0:
            raise MediaError(path, "corrupt or truncated video: no frame could be decoded")
        starts = reader.get_frame_timestamp(range(count))[:, 0].astype(np.float64)
        index = np.clip(np.searchsorted(starts, np.asarray(targets) + 1e-6, side="right") - 1, 0, count - 1)
        unique, inverse = np.unique(index, return_inverse=True)
        batch = reader.get_batch([int(i) for i in unique]).asnumpy()
    except decord.DECORDError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MediaError(path, f"decord could not decode the video ({first[:160]})") from None
    frames = batch[inverse]
    if rotation % 360:
        frames = np.ascontiguousarray(np.rot90(frames, k=(rotation % 360) // 90, axes=(1, 2)))
    return frames, starts[index]


__all__ = [
    "AUTO_USES_DECORD",
    "VIDEO_BACKENDS",
    "check_backend",
    "decode_decord",
    "decord_available",
    "resolve_backend",
    "set_video_backend",
    "video_backend",
]
