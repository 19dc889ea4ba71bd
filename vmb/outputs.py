"""Writing what ``vmb generate`` made: ``<stem>.vmb.wav``, ``.vmb.mp4`` and ``.vmb.json``.

Each file is written to a temporary name and renamed into place; if any of them fails, the
ones already written by this call are removed, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import uuid
from pathlib import Path
from typing import Any

import vmb
from vmb.errors import MediaError, OutputError
from vmb.fileio import atomic_write_json
from vmb.signatures import same_parameters
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
    named_after = _named_after(video, images, references, text)
    if named_after is not None:
        return named_after.stem
    if text and text.strip():
        return slugify(text) or DEFAULT_STEM
    return DEFAULT_STEM


@same_parameters(output_stem)
def output_dir_for(**inputs: Any) -> Path:
    """Outputs go next to the video or the first image; for a prompt into the current folder;
    next to the first reference only when references are the whole input (the inputs of
    :func:`output_stem`)."""
    named_after = _named_after(**inputs)
    return named_after.resolve().parent if named_after is not None else Path.cwd()


def _named_after(
    video: str | os.PathLike | None,
    images: list[str] | tuple,
    references: list[str] | tuple,
    text: str | None,
) -> Path | None:
    """The input file outputs are named after and written next to (the one rule of
    :func:`output_stem` and :func:`output_dir_for`): the video, else the first image, else —
    when there is no prompt — the first reference; ``None`` for a prompt or no file."""
    for candidate in (video, *images):
        if candidate:
            return Path(candidate)
    if text and text.strip():
        return None  # a prompt names the music; a pinned reference never does then
    return next((Path(r) for r in references if r), None)


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
    staged: dict[str, str | os.PathLike] | None = None,
) -> GenerationResult:
    """Write the result's files as one set and return the result with ``paths`` filled in.

    ``staged``: files already written under a temporary name (``{"mid": path}``, the built-in
    generator's MIDI) that join the set as ``<stem>.vmb.<ext>``.

    Every file is first written under a hidden temporary name; only when all of them are
    complete are they renamed into place, and two calls into the same folder take turns (a lock
    on the folder), so a folder never holds the JSON of one run and the MIDI of another. A
    failure (or Ctrl-C / SIGTERM) leaves no new file; a write that the system refuses (disk full,
    permission denied, a folder where the file goes) is an :class:`~vmb.errors.OutputError`
    naming the file.
    """
    from vmb.media import mux, write_wav

    out = Path(out_dir) if out_dir is not None else output_dir_for(video)
    stem = stem or output_stem(video)
    check_writable(out)
    targets = {"wav": out / f"{stem}.vmb.wav", "json": out / f"{stem}.vmb.json"}
    if video is not None:
        targets["mp4"] = out / f"{stem}.vmb.mp4"
    for kind, target in targets.items():
        if target.is_dir() or (target.exists() and not target.is_file()):
            raise OutputError(target, "a folder (or other non-file) is where the output file goes")
    paths: dict[str, str] = dict(result.paths)
    extra = {ext: Path(p) for ext, p in (staged or {}).items()}
    staged: dict[Path, Path] = {}  # final path -> temporary file
    timings = dict(result.timings)
    with folder_lock(out):
        try:
            try:
                tmp = staged[targets["wav"]] = _temp(targets["wav"], ".wav")
                write_wav(tmp, result.audio, result.sample_rate)
                paths["wav"] = str(targets["wav"])
                if video is not None:
                    tmp = staged[targets["mp4"]] = _temp(targets["mp4"], ".mp4")
                    start = time.perf_counter()
                    mux(video, result.audio, result.sample_rate, tmp, keep_original_audio=keep_original_audio)
                    timings["mux"] = time.perf_counter() - start
                    paths["mp4"] = str(targets["mp4"])
                paths["json"] = str(targets["json"])
                for ext, tmp in extra.items():
                    target = out / f"{stem}.vmb.{ext}"
                    staged[target] = tmp
                    paths[{"mid": "midi"}.get(ext, ext)] = str(target)
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
                tmp = staged[targets["json"]] = _temp(targets["json"], ".json")
                atomic_write_json(tmp, report)
                for target, tmp in staged.items():
                    os.replace(tmp, target)
            except OSError as exc:
                where = next((t for t, p in staged.items() if str(p) == str(exc.filename)), None)
                raise OutputError(where or exc.filename or out, f"cannot write ({exc.strerror or exc})") from None
        except BaseException:
            for tmp in staged.values():
                Path(tmp).unlink(missing_ok=True)
            raise
    return final


def staging_path(target: Path) -> Path:
    """A hidden temporary name next to ``target`` (same folder, same extension), for a file that
    joins an output set later."""
    return _temp(target, target.suffix)


def _temp(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}")


@contextlib.contextmanager
def folder_lock(folder: Path):
    """An exclusive lock on ``folder`` itself (``flock`` on the folder's descriptor, no lock file
    left behind): two runs writing into one folder take turns."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
