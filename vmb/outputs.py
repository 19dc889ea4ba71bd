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


def output_stem(video: str | os.PathLike | None, images: list[str] | tuple = (), references: list[str] | tuple = ()) -> str:
    """The name outputs are written under: the first input file's stem, else ``vmb-music``."""
    for candidate in (video, *images, *references):
        if candidate:
            return Path(candidate).stem
    return "vmb-music"


def output_dir_for(video: str | os.PathLike | None, images: list[str] | tuple = (), references: list[str] | tuple = ()) -> Path:
    """Outputs go next to the first input file (or into the current folder for text)."""
    for candidate in (video, *images, *references):
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

