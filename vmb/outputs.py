"""Writing what ``vmb generate`` made: ``<stem>.vmb.wav``, ``.vmb.mp4`` and ``.vmb.json``.

Each file is written to a temporary name and renamed into place; if any of them fails, the
ones already written by this call are removed, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import vmb
from vmb.errors import MediaError
from vmb.fileio import atomic_write_json
from vmb.types import GenerationResult

MAX_STEM_CHARS = 48
DEFAULT_STEM = "vmb-music"


def slugify(text: str, max_chars: int = MAX_STEM_CHARS) -> str:
    """``text`` as a file-name stem: ASCII letters and digits joined by ``-``, lower case, cut at a
    word boundary to at most ``max_chars`` (``""`` when nothing is left)."""
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_chars:
            if not slug:  # one very long word: cut it
                slug = word[:max_chars]
            break
        slug = candidate
    return slug


def output_stem(
    video: str | os.PathLike | None,
    images: list[str] | tuple = (),
    references: list[str] | tuple = (),
    text: str | None = None,
) -> str:
    """The name outputs are written under, saying what the music is for: the video's stem, else
    the first image's, else the prompt (:func:`slugify`), else — reference-only input — the first
    reference's; ``vmb-music`` when none gives a name. A pinned reference never names the music
    of a video, images or a prompt."""
    for candidate in (video, *images):
        if candidate:
            return Path(candidate).stem
    if text and text.strip():
        return slugify(text) or DEFAULT_STEM
    for candidate in references:
        if candidate:
            return Path(candidate).stem
    return DEFAULT_STEM


def output_dir_for(
    video: str | os.PathLike | None,
    images: list[str] | tuple = (),
    references: list[str] | tuple = (),
    text: str | None = None,
) -> Path:
    """Outputs go next to the video or the first image; for a prompt into the current folder;
    next to the first reference only when references are the whole input."""
    for candidate in (video, *images):
        if candidate:
            return Path(candidate).resolve().parent
    if text and text.strip():
        return Path.cwd()
    for candidate in references:
        if candidate:
            return Path(candidate).resolve().parent
    return Path.cwd()


def check_writable(out_dir: Path) -> None:
    """Raise :class:`MediaError` unless files can be created in ``out_dir`` (made if missing)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaError(out_dir, f"cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise MediaError(out_dir, "output folder is not writable")


def save_outputs(
    result: GenerationResult,
    out_dir: str | os.PathLike | None,
    stem: str | None,
    video: str | os.PathLike | None = None,
    keep_original_audio: bool = False,
    profile: str = "",
    models: dict[str, str] | None = None,
    inputs: dict[str, Any] | None = None,
) -> GenerationResult:
    """Write the result's files and return the result with ``paths`` filled in."""
    from vmb.media import mux, write_wav

    out = Path(out_dir) if out_dir is not None else output_dir_for(video)
    stem = stem or output_stem(video)
    check_writable(out)
    paths: dict[str, str] = dict(result.paths)
    written: list[Path] = [Path(p) for p in paths.values()]
    try:
        wav = out / f"{stem}.vmb.wav"
        write_wav(wav, result.audio, result.sample_rate)
        written.append(wav)
        paths["wav"] = str(wav)
        timings = dict(result.timings)
        if video is not None:
            mp4 = out / f"{stem}.vmb.mp4"
            start = time.perf_counter()
            mux(video, result.audio, result.sample_rate, mp4, keep_original_audio=keep_original_audio)
            timings["mux"] = time.perf_counter() - start
            written.append(mp4)
            paths["mp4"] = str(mp4)
        json_path = out / f"{stem}.vmb.json"
        paths["json"] = str(json_path)
        final = dataclasses.replace(result, paths=paths, timings=timings)
        report = final.to_dict()
        report.update(
            {
                "vmb_version": vmb.__version__,
                "profile": profile,
                "models": models or {},
                "inputs": inputs or {},
            }
        )
        atomic_write_json(json_path, report)
        written.append(json_path)
    except BaseException:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise
    return final

