"""Put music onto a video: an mp4 with the video stream copied and the music as AAC."""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.fileio import atomic_path
from vmb.media.audio import read_audio, resample
from vmb.media.checks import check_file, open_input, short_av_reason
from vmb.media.video import scan_duration, video_duration, video_stream

logger = logging.getLogger(__name__)

# Video codecs FFmpeg's mp4 muxer takes as they are; anything else is re-encoded to H.264.
MP4_VIDEO_CODECS = frozenset(
    {"h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg"}
)
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
AAC_BIT_RATE = 192_000


def mux(
    video: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    out: str | os.PathLike,
    keep_original_audio: bool = False,
    *,
    fade_s: float = 1.0,
    original_gain: float = 0.5,
) -> Path:
    """Write ``out`` (mp4): the video stream of ``video`` plus ``audio`` as AAC.

    The video stream is copied packet by packet (no quality loss) when mp4 can hold its codec
    (H.264, HEVC, AV1, VP9, MPEG-4...); otherwise (VP8, Theora...) it is re-encoded to H.264
    and a warning says so. The music is cut to the video's duration with a ``fade_s`` cosine
    fade-out at the cut; music shorter than the video is kept whole. The file is written to a
    temporary file next to ``out`` and renamed, so ``out`` is never half-written.

    Args:
        video: the source video.
        audio: the music ``[C, T]`` (C = 1 or 2) or ``[T]`` float in [-1, 1].
        sample_rate: of ``audio``; rates AAC cannot code are resampled to 48 kHz.
        out: the mp4 to write (its folder is created).
        keep_original_audio: mix the video's own first audio track under the music, at
            ``original_gain``; the mix is scaled down if it would clip.

    Returns:
        ``out`` as a :class:`Path`.
    """
    music = _check_music(audio, sample_rate)
    if fade_s < 0:
        raise UsageError(f"mux: fade_s must be >= 0, got {fade_s!r}")
    video = check_file(video)
    out = Path(os.fsdecode(out)).expanduser()
    if out.exists() and out.resolve() == video.resolve():
        raise UsageError(f"mux: the output {out} is the input video; write to another file")

    container = open_input(video, "video")
    with container:
        stream = video_stream(container, video)
        duration, exact = video_duration(container, stream)
        if duration is None or not exact:
            duration = scan_duration(video)
        has_audio = bool(container.streams.audio)

    rate = int(sample_rate) if int(sample_rate) in AAC_RATES else 48000
    if rate != sample_rate:
        music = resample(music, int(sample_rate), rate)
    music = fit_to_duration(music, rate, duration, fade_s)
    if keep_original_audio:
        if has_audio:
            original, _ = read_audio(video, sample_rate=rate, duration_s=duration)
            music = mix_under(music, original, original_gain)
        else:
            logger.warning("mux: %s has no audio track to keep; writing the music alone", video)

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".tmp.mp4") as tmp:
        try:
            _write(video, tmp, music, rate, copy_video=None)
        except _CopyFailed as exc:
            logger.warning(
                "mux: cannot copy the %s video stream into mp4 (%s); re-encoding to H.264",
                exc.codec,
                exc.reason,
            )
            _write(video, tmp, music, rate, copy_video=False)
    return out


def _check_music(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    music = np.asarray(audio, dtype=np.float32)
    if music.ndim == 1:
        music = music[None, :]
    if music.ndim != 2 or music.shape[0] not in (1, 2) or music.shape[1] == 0:
        raise UsageError(
            f"mux: music must be [C, T] with C = 1 or 2 and T > 0, got shape {np.shape(audio)}"
        )
    if not (int(sample_rate) == sample_rate and sample_rate > 0):
        raise UsageError(f"mux: sample_rate must be a positive integer, got {sample_rate!r}")
    if not np.isfinite(music).all():
        raise UsageError("mux: the music contains NaN or infinite samples")
    return music


def fit_to_duration(
    music: np.ndarray, sample_rate: int, duration_s: float, fade_s: float
) -> np.ndarray:
    """Cut ``[C, T]`` music to ``duration_s`` with a cosine fade-out of ``fade_s`` at the cut."""
    length = int(round(duration_s * sample_rate))
    if music.shape[1] <= length:
        if music.shape[1] < length:
            logger.info(
                "mux: the music (%.2f s) is shorter than the video (%.2f s)",
                music.shape[1] / sample_rate,
                duration_s,
            )
        return music
    music = music[:, :length].copy()
    fade = min(int(round(fade_s * sample_rate)), length)
    if fade > 0:
        music[:, length - fade :] *= (0.5 * (1 + np.cos(np.linspace(0, math.pi, fade)))).astype(
            np.float32
        )
    return music


def mix_under(music: np.ndarray, original: np.ndarray, gain: float) -> np.ndarray:
    """``music + gain * original`` (channels matched, length of the music), scaled down to
    peak 1 if the sum would clip."""
    channels = max(music.shape[0], original.shape[0])
    music = (
        np.broadcast_to(music, (channels, music.shape[1])) if music.shape[0] < channels else music
    )
    if original.shape[0] < channels:
        original = np.broadcast_to(original, (channels, original.shape[1]))
    mixed = np.array(music, dtype=np.float32)
    n = min(mixed.shape[1], original.shape[1])
    mixed[:, :n] += gain * original[:, :n]
    peak = float(np.abs(mixed).max())
    if peak > 1.0:
        logger.info("mux: scaled the mix by %.3f to avoid clipping", 1 / peak)
        mixed /= peak
    return mixed


class _CopyFailed(Exception):
    def __init__(self, codec: str, reason: str):
        super().__init__(reason)
        self.codec = codec
        self.reason = reason


def encode_audio(stream, samples: np.ndarray, rate: int, block: int = 1 << 15) -> list:
    """All packets of ``samples [C, T]`` (float32, C = 1 or 2, at ``rate`` Hz) encoded by the
    PyAV output ``stream``, in order and flushed; resampled to the stream's sample format,
    layout and rate (and frame size) on the way."""
    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    codec = stream.codec_context
    resampler = av.AudioResampler(
        format=codec.codec.audio_formats[0].name if codec.codec.audio_formats else "fltp",
        layout=stream.layout.name, rate=stream.rate, frame_size=codec.frame_size or None,
    )  # fmt: skip
    packets = []
    for start in range(0, samples.shape[1], block):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + block]), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for chunk in resampler.resample(frame):
            packets.extend(stream.encode(chunk))
    for chunk in resampler.resample(None):
        packets.extend(stream.encode(chunk))
    packets.extend(stream.encode(None))
    return packets


def _packet_time(packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return -math.inf if ts is None else float(ts * packet.time_base)


def _write(video: Path, tmp: Path, music: np.ndarray, rate: int, copy_video: bool | None) -> None:
    """Write the mp4. ``copy_video=None``: copy if mp4 takes the codec, else re-encode."""
    import av

    source = open_input(video, "video")
    with (
        source,
        av.open(os.path.abspath(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as target,
    ):
        vin = video_stream(source, video)
        codec = vin.codec_context.name
        if copy_video is None:
            copy_video = codec in MP4_VIDEO_CODECS
            if not copy_video:
                logger.warning("mux: mp4 cannot hold %s video; re-encoding it to H.264", codec)
        if copy_video:
            vout = target.add_stream_from_template(vin)
        else:
            vout = _h264_stream(target, vin)
        aout = target.add_stream("aac", rate=rate)
        aout.layout = "mono" if music.shape[0] == 1 else "stereo"
        aout.bit_rate = AAC_BIT_RATE
        audio_packets = encode_audio(aout, music, rate)
        next_audio = 0

        def mux_video(packet) -> None:
            """Mux the audio packets due before ``packet`` (interleaved by time), then it."""
            nonlocal next_audio
            now = _packet_time(packet)
            while next_audio < len(audio_packets) and _packet_time(audio_packets[next_audio]) <= now:
                target.mux(audio_packets[next_audio])
                next_audio += 1
            target.mux(packet)

        try:
            if copy_video:
                for packet in (p for p in source.demux(vin) if p.size):
                    packet.stream = vout
                    mux_video(packet)
            else:
                for index, frame in enumerate(source.decode(vin)):
                    if index == 0 and getattr(frame, "rotation", 0):
                        vout.set_display_rotation(frame.rotation)  # before the header is written
                    frame = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                    frame.pict_type = av.video.frame.PictureType.NONE
                    for packet in vout.encode(frame):
                        mux_video(packet)
                target.mux(vout.encode(None))
        except av.FFmpegError as exc:
            if copy_video and next_audio == 0:
                raise _CopyFailed(codec, short_av_reason(exc)) from None
            raise MediaError(video, f"corrupt or truncated video: {short_av_reason(exc)}") from None
        target.mux(audio_packets[next_audio:])


def _h264_stream(target, vin):
    """An H.264 output stream for re-encoding ``vin`` (even size, yuv420p, its frame rate)."""
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    vout = target.add_stream("libx264", rate=rate)
    vout.width = vin.codec_context.width // 2 * 2
    vout.height = vin.codec_context.height // 2 * 2
    vout.pix_fmt = "yuv420p"
    vout.options = {"preset": "veryfast", "crf": "18"}
    return vout
