"""Read, resample and write audio. Audio is ``[C, T]`` float32 and travels with its rate.

soundfile (libsndfile) reads wav/flac/ogg/aiff fast and seeks by sample; PyAV (FFmpeg) reads
everything else (mp3, m4a/aac, opus, the audio track of a video). Both read in blocks, so a
header that claims more samples than the file holds never allocates more than is there.
"""

from __future__ import annotations

import logging
import math
import errno
import os
import shutil
import re
from pathlib import Path

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.fileio import atomic_path
from vmb.media.checks import (
    check_file,
    not_media_reason,
    open_input,
    refuse_still_image,
    short_av_reason,
    stream_seconds,
    unsupported_codec_reason,
)

logger = logging.getLogger(__name__)

SOUNDFILE_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".w64", ".rf64", ".caf"})  # fmt: skip
_BLOCK_FRAMES = 1 << 20  # frames per read: bounds what a lying header can make vmb allocate
_PREROLL_S = 0.5


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = False,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file (or the audio track of a video).

    Args:
        path: wav, flac, ogg, aiff (soundfile) or mp3, m4a, aac, opus, mp4, webm, mkv... (PyAV).
        sample_rate: resample to this rate (soxr, high quality); ``None`` keeps the file's.
        mono: average the channels into one, ``[1, T]``.
        start_s: where to start, in seconds.
        duration_s: how much to read; ``None`` reads to the end.

    Returns:
        ``(audio, sample_rate)``: audio ``[C, T]`` float32 in [-1, 1] for integer formats.

    Raises:
        MediaError: missing, empty, text, corrupt or non-audio file, no audio stream,
            unsupported codec, a start past the end, NaN or infinite samples.
        UsageError: a negative ``start_s``, non-positive ``duration_s`` or ``sample_rate``.
    """
    if not (start_s >= 0 and math.isfinite(start_s)):
        raise UsageError(f"read_audio: start_s must be >= 0, got {start_s!r}")
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise UsageError(f"read_audio: duration_s must be positive, got {duration_s!r}")
    if sample_rate is not None and not (int(sample_rate) == sample_rate and sample_rate > 0):
        raise UsageError(f"read_audio: sample_rate must be a positive integer, got {sample_rate!r}")

    path = check_file(path)
    audio = sr = None
    integer_pcm = False
    if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
        result = _read_soundfile(path, start_s, duration_s)
        if result is not None:
            audio, sr, integer_pcm = result
    if audio is None:
        audio, sr = _read_av(path, start_s, duration_s)

    if not integer_pcm and not np.isfinite(audio).all():
        raise MediaError(path, "audio contains NaN or infinite samples")
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != sr:
        audio, sr = resample(audio, sr, int(sample_rate)), int(sample_rate)
    return np.ascontiguousarray(audio, dtype=np.float32), int(sr)


def _read_soundfile(path: Path, start_s: float, duration_s: float | None):
    """``(audio [C, T], sr, integer_pcm)`` via libsndfile, or ``None`` if libsndfile cannot open
    the file; ``integer_pcm``: the samples came from integers (no NaN or infinity possible)."""
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        logger.debug("soundfile cannot open %s (%s); trying FFmpeg", path, exc)
        return None
    with handle:
        sr = handle.samplerate
        _check_sndfile_header(path, handle)
        start = int(round(start_s * sr))
        if start:
            if handle.frames and start >= handle.frames:
                raise MediaError(path, _past_end(start_s, handle.frames / sr))
            try:
                handle.seek(start)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise MediaError(path, f"corrupt or truncated audio: cannot seek ({exc})") from None
        wanted = None if duration_s is None else max(1, int(round(duration_s * sr)))
        # Integer PCM is read as integers and scaled here: the same float32 values libsndfile's
        # own conversion gives (x / 2^15 or x / 2^31, exact power-of-two scales), 4-5x faster.
        dtype, scale = _INTEGER_READS.get(handle.subtype, ("float32", None))
        blocks = []
        got = 0
        try:
            while wanted is None or got < wanted:
                count = _BLOCK_FRAMES if wanted is None else min(_BLOCK_FRAMES, wanted - got)
                block = handle.read(count, dtype=dtype, always_2d=True)
                if block.shape[0]:
                    blocks.append(block)
                    got += block.shape[0]
                if block.shape[0] < count:  # the end of the file
                    break
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(path, f"corrupt or truncated audio: {exc}") from None
        if not blocks:
            raise MediaError(path, "no audio samples" if not start else _past_end(start_s, None))
        frames = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        if scale is None:
            return frames.T, sr, False
        audio = np.empty(frames.shape[::-1], dtype=np.float32)
        np.multiply(frames.T, np.float32(scale), out=audio, casting="unsafe")
        return audio, sr, True


# libsndfile subtypes read as integers (then scaled to [-1, 1) as float32); they hold no NaN.
_INTEGER_READS = {
    "PCM_16": ("int16", 2.0**-15),
    "PCM_24": ("int32", 2.0**-31),
    "PCM_32": ("int32", 2.0**-31),
}


# Data sizes that recorders write while still recording (or when streaming): not a lie.
_STREAMING_SIZES = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFE})


def _check_sndfile_header(path: Path, handle) -> None:
    """Raise :class:`MediaError` for a file libsndfile found cut short.

    libsndfile clamps the length to what the file holds and notes the header's claim in its
    log ("data : 352800 (should be 176378)", "File ended unexpectedly").
    """
    log = handle.extra_info
    claim = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", log, re.MULTILINE)
    if claim:
        claimed, present = int(claim.group(1)), int(claim.group(2))
        if claimed not in _STREAMING_SIZES and claimed > present:
            bytes_per_second = max(
                1, handle.samplerate * handle.channels * _sample_bytes(handle.subtype)
            )
            raise MediaError(
                path,
                f"corrupt or truncated audio: the header claims {claimed / bytes_per_second:.2f} s, "
                f"the file holds {present / bytes_per_second:.2f} s",
            )
    if handle.frames == 0 and "ended unexpectedly" in log:
        raise MediaError(path, "corrupt or truncated audio: the file ends unexpectedly")


def check_soundfile_header(path: Path) -> None:
    """For files libsndfile reads (wav, flac, aiff...): raise if the header claims more than
    the file holds. Other files pass."""
    import soundfile as sf

    if path.suffix.lower() not in SOUNDFILE_EXTENSIONS:
        return
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return
    with handle:
        _check_sndfile_header(path, handle)


def _sample_bytes(subtype: str) -> int:
    match = re.search(r"(\d+)", subtype)
    if subtype in ("FLOAT",):
        return 4
    if subtype in ("DOUBLE",):
        return 8
    return int(match.group(1)) // 8 if match else 2


def _past_end(start_s: float, length_s: float | None) -> str:
    length = f" ({length_s:.2f} s long)" if length_s is not None else ""
    return f"start {start_s:.2f} s is past the end of the audio{length}"


def _read_av(path: Path, start_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    """``(audio, sr)`` via PyAV: decode, convert to planar float, cut to the window."""
    import av

    container = open_input(path, "audio")
    with container:
        refuse_still_image(container, path, "audio", "not audio (it is an image)")
        if not container.streams.audio:
            if container.streams.video:
                raise MediaError(path, "no audio stream (video-only file)")
            raise MediaError(path, not_media_reason(path, "audio", "no audio stream"))
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise MediaError(path, unsupported_codec_reason(stream))
        sr = stream.codec_context.sample_rate or stream.rate
        if not sr:
            raise MediaError(path, "corrupt audio: no sample rate in the stream")
        stream_start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        if start_s > 0:
            # Seek a little early: frames right after a seek decode wrong (MDCT overlap, MP3 bit
            # reservoir); the samples before start_s are dropped below.
            seek_s = max(0.0, start_s - _PREROLL_S) + stream_start
            container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
        first = int(round(start_s * sr))
        wanted = None if duration_s is None else max(1, int(round(duration_s * sr)))
        # Fixed output format and layout: FFmpeg converts whatever the decoder gives (s16,
        # fltp...) and keeps working if the layout changes mid-stream.
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=sr)
        blocks: list[np.ndarray] = []
        position = None  # sample index (from the stream start) of the next sample
        got = 0
        try:
            for frame in container.decode(stream):
                if position is None:
                    position = (
                        int(round((float(frame.pts * stream.time_base) - stream_start) * sr))
                        if frame.pts is not None and start_s > 0
                        else 0
                    )
                for converted in resampler.resample(frame):
                    samples = converted.to_ndarray()  # [C, n] for planar float
                    skip = max(0, first - position)
                    position += samples.shape[1]
                    if skip >= samples.shape[1]:
                        continue
                    samples = samples[:, skip:]
                    if wanted is not None:
                        samples = samples[:, : wanted - got]
                    blocks.append(samples)
                    got += samples.shape[1]
                if wanted is not None and got >= wanted:
                    break
        except av.error.DecoderNotFoundError:
            raise MediaError(path, unsupported_codec_reason(stream)) from None
        except av.FFmpegError as exc:
            raise MediaError(path, f"corrupt or truncated audio: {short_av_reason(exc)}") from None
        declared = _declared_seconds(container, stream)
        end_s = (position or 0) / sr
        reached_end = wanted is None or got < wanted
        if reached_end and declared and end_s < declared - max(1.0, 0.05 * declared):
            raise MediaError(
                path, f"corrupt or truncated audio: data ends at {end_s:.2f} s of {declared:.2f} s"
            )
    if not blocks:
        if start_s > 0:
            raise MediaError(path, _past_end(start_s, None))
        raise MediaError(path, "no audio samples")
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False), int(sr)


def _declared_seconds(container, stream) -> float | None:
    """The duration the headers claim for an audio stream, if any."""
    seconds = stream_seconds(stream)
    if seconds is None and container.duration and len(container.streams) == 1:
        seconds = container.duration / 1_000_000
    return seconds


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``[C, T]`` (or ``[T]``) float audio from ``sr_in`` to ``sr_out`` with soxr (HQ).

    Returns the same rank, ``[C, T']`` with ``T' = round(T * sr_out / sr_in)``.
    """
    import soxr

    if sr_in <= 0 or sr_out <= 0:
        raise UsageError(f"resample: sample rates must be positive, got {sr_in} -> {sr_out}")
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out:
        return audio.copy()
    if audio.ndim == 1:
        return soxr.resample(audio, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
    if audio.ndim != 2:
        raise UsageError(f"resample: audio must be [C, T] or [T], got shape {audio.shape}")
    out = soxr.resample(np.ascontiguousarray(audio.T), sr_in, sr_out, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def write_wav(
    path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16"
) -> Path:
    """Write ``[C, T]`` (or ``[T]``) float audio as a wav file, atomically (temp + rename).

    Samples beyond [-1, 1] are clipped for integer subtypes, with a warning that says how many.
    ``subtype``: ``PCM_16`` (default), ``PCM_24``, ``FLOAT``...
    """
    import soundfile as sf

    path = Path(os.fsdecode(path))
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise UsageError(
            f"write_wav: audio must be a non-empty [C, T] array, got shape {audio.shape}"
        )
    if not (int(sample_rate) == sample_rate and sample_rate > 0):
        raise UsageError(f"write_wav: sample_rate must be a positive integer, got {sample_rate!r}")
    if not np.isfinite(audio).all():
        raise UsageError(f"write_wav: {path}: audio contains NaN or infinite samples")
    if subtype != "FLOAT" and subtype != "DOUBLE":
        over = int(np.count_nonzero(np.abs(audio) > 1.0))
        if over:
            logger.warning("write_wav: %s: clipped %d samples outside [-1, 1]", path, over)
            audio = np.clip(audio, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        try:
            sf.write(tmp, audio.T, int(sample_rate), format="WAV", subtype=subtype)
        except (sf.LibsndfileError, RuntimeError) as exc:  # libsndfile hides errno: look
            needed = audio.shape[0] * audio.shape[1] * (4 if subtype in ("FLOAT", "PCM_32") else 3 if subtype == "PCM_24" else 2)
            full = shutil.disk_usage(tmp.parent).free < needed
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, os.strerror(code) if full else f"cannot write the WAV file ({exc})", str(path)) from None
    return path
