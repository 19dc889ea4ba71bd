"""Pictures the page shows: the music's waveform with its bars marked, the video's frames over
time, and short excerpts of the references to listen to. Plain numpy + Pillow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vmb.types import Clip

WIDTH, HEIGHT = 900, 160
EXCERPT_S = 8.0


def waveform_png(audio: np.ndarray, sample_rate: int, path: str | os.PathLike,
                 marks_s: tuple[float, ...] = ()) -> str:  # fmt: skip
    """Draw ``audio`` ``[C, T]`` as a min/max envelope with a grid line every second and a red
    line at each of ``marks_s``; write a PNG to ``path``."""
    from PIL import Image, ImageDraw

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    image = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    seconds = len(mono) / float(sample_rate) if len(mono) else 0.0
    mid = HEIGHT // 2
    if len(mono):
        chunks = np.array_split(mono, WIDTH)
        for x, chunk in enumerate(chunks):
            if len(chunk):
                top, bottom = float(chunk.max()), float(chunk.min())
                draw.line([(x, mid - top * (mid - 4)), (x, mid - bottom * (mid - 4))], fill=(60, 90, 200))
    for second in range(1, int(seconds) + 1):
        x = int(second / seconds * (WIDTH - 1))
        draw.line([(x, 0), (x, 6)], fill=(120, 120, 120))
        draw.text((x + 2, 2), f"{second}s", fill=(90, 90, 90))
    for mark in marks_s:
        if 0 < mark < seconds:
            x = int(mark / seconds * (WIDTH - 1))
            draw.line([(x, 0), (x, HEIGHT)], fill=(210, 40, 40), width=2)
    image.save(path)
    return str(path)


def filmstrip_png(video: str | os.PathLike, path: str | os.PathLike, count: int = 8) -> str:
    """``count`` frames of ``video`` side by side, each labelled with its time, as a PNG."""
    from PIL import Image, ImageDraw

    from vmb.media import read_frames

    frames, times = read_frames(video, num_frames=count, max_side=240)
    thumb_h = 90
    thumbs = [Image.fromarray(f).resize((max(1, int(f.shape[1] * thumb_h / f.shape[0])), thumb_h)) for f in frames]
    strip = Image.new("RGB", (sum(t.width for t in thumbs) + 2 * len(thumbs), thumb_h + 16), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    x = 0
    for thumb, t in zip(thumbs, times, strict=True):
        strip.paste(thumb, (x, 0))
        draw.text((x + 2, thumb_h + 2), f"{float(t):.1f} s", fill=(60, 60, 60))
        x += thumb.width + 2
    strip.save(path)
    return str(path)


def reference_excerpt(clip: Clip, index_folder: str | os.PathLike | None, out: str | os.PathLike) -> str:
    """Up to :data:`EXCERPT_S` seconds of the clip a reference points at, as a wav file."""
    from vmb.media import read_audio, write_wav

    source = Path(clip.path)
    if not source.is_absolute() and index_folder is not None:
        source = Path(index_folder) / source
    audio, sr = read_audio(source, start_s=float(clip.start_s), duration_s=min(float(clip.duration_s), EXCERPT_S))
    write_wav(out, audio, sr)
    return str(out)
