"""``vmb data pairs``: music videos → a ``datasets`` dataset both trainers read.

For every video under a folder (recursively, sorted) one row holds:

=================  ==========================================================================
``id``             the video's path relative to the folder (also the row's ``track_id``)
``video``          the video's absolute path
``frames``         ``num_frames`` RGB frames sampled uniformly (``datasets.Image`` list, PNG)
``timestamps``     the time of each frame in seconds
``audio``          the video's audio track, FLAC (``datasets.Audio``, native rate and channels)
``duration_s``     the audio track's duration
``tempo_bpm`` ...  measured on the audio track: ``tempo_bpm``, ``tempo_class``, ``key``,
                   ``mode``, ``energy``, ``loudness_db`` (tags given for the video win)
``genre`` ...      tags given in ``metadata.csv`` / ``metadata.jsonl`` at the folder's root
                   (the ``datasets`` audiofolder convention: column ``file_name``): ``genre``,
                   ``mood``, ``instruments``, ``theme``, ``caption``
``description``    the describer's training target, the JSON of :mod:`vmb.train.targets`:
                   the metadata's own ``description`` when given, else written from the tags
                   and measurements (``target_source`` says which: ``given`` / ``template``)
``caption``        the text bridge of the adapter trainer: the given caption, else the
                   target's sentence
=================  ==========================================================================

Videos without an audio track, or that cannot be read, are skipped with a reason (logged and
returned). The dataset is written with ``save_to_disk`` into a temporary folder next to
``out`` that replaces it at the end: a reader never sees half a dataset.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import MediaError, OutputError, UsageError
from vmb.fileio import find_files, replace_folder
from vmb.manifest import first_value, folder_metadata

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
# Tempo, key and energy are measured on at most this much of the audio track (from its start).
ANALYSIS_S = 120.0


@dataclass
class PairsReport:
    """What :func:`make_pairs` wrote: the dataset folder, its row count, what it skipped."""

    out: Path
    rows: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "rows": self.rows, "skipped": self.skipped, "notes": self.notes}


def video_files(folder: Path) -> list[Path]:
    """Video files under ``folder``, recursively, sorted by relative path; hidden entries skipped."""
    return find_files(folder, VIDEO_EXTENSIONS)


def features(audio_struct: bool = False):
    """The ``datasets.Features`` of a pairs dataset.

    ``audio`` is an ``Audio(decode=False)`` column (FLAC bytes); ``audio_struct`` gives the plain
    ``{"bytes", "path"}`` struct it is written as: datasets >= 4 wants torchcodec (not a vmb
    dependency) to *encode* an ``Audio`` value, even bytes, so the column is cast afterwards.
    """
    import datasets

    audio = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")} if audio_struct else datasets.Audio(decode=False)
    strings = datasets.List(datasets.Value("string"))
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "track_id": datasets.Value("string"),
            "video": datasets.Value("string"),
            "frames": datasets.List(datasets.Image()),
            "timestamps": datasets.List(datasets.Value("float64")),
            "audio": audio,
            "duration_s": datasets.Value("float64"),
            "tempo_bpm": datasets.Value("float64"),
            "tempo_class": datasets.Value("string"),
            "key": datasets.Value("string"),
            "mode": datasets.Value("string"),
            "energy": datasets.Value("float64"),
            "loudness_db": datasets.Value("float64"),
            "genre": datasets.Value("string"),
            "mood": strings,
            "instruments": strings,
            "theme": datasets.Value("string"),
            "caption": datasets.Value("string"),
            "description": datasets.Value("string"),
            "target_source": datasets.Value("string"),
        }
    )


def _metadata(folder: Path) -> dict[str, dict[str, Any]]:
    """Rows of ``metadata.jsonl`` / ``metadata.csv`` keyed by the resolved video path.

    Raises:
        UsageError: the file cannot be read, or a JSONL line is not a JSON object.
    """
    return folder_metadata(folder, ("file_name", "path", "file", "video"))


def _flac_bytes(audio: np.ndarray, sr: int) -> bytes:
    """``[C, T]`` float audio as 16-bit FLAC bytes."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio.T, -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def pair_row(video: Path, rel: str, tags: dict[str, Any], num_frames: int, max_side: int | None) -> dict:
    """One row of the dataset for ``video`` (see the module docstring).

    Raises:
        MediaError: the video cannot be read or has no audio track.
    """
    from PIL import Image

    from vmb.media import probe, read_audio, read_frames
    from vmb.retrieve.attributes import measure_clip
    from vmb.retrieve.sources import parse_key, split_words
    from vmb.train.targets import target_from_text, write_target
    from vmb.vocab import load_vocab

    vocab = load_vocab()
    info = probe(video)
    if not info.has_video:
        raise MediaError(video, "has no video stream")
    if not info.has_audio:
        raise MediaError(video, "has no audio track (a pair needs the music of the video)")
    frames, times = read_frames(video, num_frames=num_frames, max_side=max_side)
    audio, sr = read_audio(video)
    if audio.shape[-1] == 0:
        raise MediaError(video, "the audio track is empty")
    measured = measure_clip(audio[:, : int(ANALYSIS_S * sr)], sr)

    tempo = first_value(tags, ("tempo_bpm", "bpm", "tempo"))
    try:
        tempo = float(tempo) if tempo is not None else measured.tempo_bpm
    except (TypeError, ValueError):
        raise MediaError(video, f"metadata tempo_bpm {tempo!r} is not a number") from None
    try:
        key, mode = parse_key(tags.get("key"), vocab)
    except ValueError as exc:
        raise MediaError(video, f"metadata: {exc}") from None
    if tags.get("mode") and mode is None:
        mode = vocab.canonical("mode", str(tags["mode"]))
    if key is None:
        key, mode = measured.key, mode or measured.mode
    caption = first_value(tags, ("caption", "text"))
    theme = first_value(tags, ("theme", "scene"))
    target = write_target(
        vocab=vocab,
        genre=split_words(tags.get("genre"))[:1],
        mood=split_words(tags.get("mood")),
        instruments=split_words(tags.get("instruments")),
        tempo_bpm=tempo,
        key=key,
        mode=mode,
        energy=measured.energy,
        theme=str(theme) if theme else None,
        caption=str(caption) if caption else None,
    )
    if target.unknown:
        logger.warning("%s: tags outside the vocabularies left out of the target: %s", rel, ", ".join(target.unknown))
    source = "template"
    given = first_value(tags, ("description",))
    if given:
        target, source = target_from_text(str(given), vocab), "given"
    d = target.description
    return {
        "id": rel,
        "track_id": rel,
        "video": str(video.resolve()),
        "frames": [Image.fromarray(f) for f in frames],
        "timestamps": [float(t) for t in times],
        "audio": {"bytes": _flac_bytes(audio, sr), "path": Path(rel).with_suffix(".flac").name},
        "duration_s": audio.shape[-1] / sr,
        "tempo_bpm": tempo,
        "tempo_class": vocab.tempo_class(tempo) if tempo else None,
        "key": key,
        "mode": mode,
        "energy": measured.energy,
        "loudness_db": measured.loudness_db,
        "genre": d.genre,
        "mood": list(d.mood),
        "instruments": list(d.instruments),
        "theme": d.theme,
        "caption": str(caption).strip() if caption else d.text,
        "description": target.json,
        "target_source": source,
    }


def make_pairs(
    video_dir: str | os.PathLike,
    out: str | os.PathLike,
    num_frames: int = 8,
    max_side: int | None = 448,
    overwrite: bool = False,
    progress: bool = True,
) -> PairsReport:
    """Write the pairs dataset of the music videos under ``video_dir`` to ``out``.

    Args:
        video_dir: a folder of videos (and optionally ``metadata.csv``/``.jsonl`` with tags).
        out: the dataset folder to write (``datasets.load_from_disk(out)`` reads it).
        num_frames: frames sampled per video.
        max_side: frames are scaled down to this longer side (``None``: as stored).
        overwrite: replace an existing ``out``.
        progress: a progress bar on stderr.

    Raises:
        UsageError: ``video_dir`` is not a folder, ``out`` exists (without ``overwrite``), bad
            ``num_frames``, or no video could be used.
    """
    import datasets

    folder = Path(video_dir).expanduser()
    target = Path(out).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder of videos")
    if num_frames < 1:
        raise UsageError(f"--frames {num_frames}: must be at least 1")
    if max_side is not None and max_side < 16:
        raise UsageError(f"--max-side {max_side}: must be at least 16 pixels")
    if target.exists() and not overwrite:
        raise UsageError(f"{target}: already exists (pass --overwrite to replace it)")
    folder = folder.resolve()
    if target.exists() or target.is_symlink():
        _check_replaceable_dataset(target.resolve(), folder)
    videos = video_files(folder)
    if not videos:
        raise UsageError(f"{folder}: no video files ({', '.join(VIDEO_EXTENSIONS)})")
    metadata = _metadata(folder)
    skipped: list[dict[str, str]] = []
    rows: list[str] = []

    def generate(paths):
        from vmb.train.loop import progress_bar

        with progress_bar(progress, len(paths), "pairs") as bar:
            for video in paths:
                rel = video.relative_to(folder).as_posix()
                try:
                    try:
                        tags = metadata.get(video.resolve(strict=True).as_posix(), {})
                    except (OSError, RuntimeError):
                        raise MediaError(video, "a symbolic-link loop or a link to nothing") from None
                    row = pair_row(video, rel, tags, num_frames, max_side)
                except MediaError as exc:
                    logger.warning("skipped %s", exc)
                    skipped.append({"path": str(video), "reason": exc.reason})
                else:
                    rows.append(rel)
                    yield row
                bar.update(loss=None)

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # ours counts the videos
    try:
        try:
            dataset = datasets.Dataset.from_generator(
                generate,
                features=features(audio_struct=True),
                gen_kwargs={"paths": videos},
                cache_dir=str(work / "cache"),
                keep_in_memory=False,
            )
        except ValueError:  # datasets refuses a split without rows
            if rows or not skipped:
                raise
        if not rows:
            reasons = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in skipped[:3])
            raise UsageError(f"{folder}: no usable music video ({reasons})")
        dataset = dataset.cast_column("audio", features()["audio"])
        dataset.save_to_disk(str(work / "dataset"))
        del dataset
        replace_folder(work / "dataset", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if bars_were_on:
            datasets.utils.enable_progress_bars()
    notes = [f"{len(skipped)} video(s) skipped"] if skipped else []
    return PairsReport(target, len(rows), skipped, notes)


DATASET_ENTRIES = {"dataset_info.json", "state.json", "dataset_dict.json"}


def _check_replaceable_dataset(target: Path, videos: Path) -> None:
    """``--overwrite`` replaces a saved dataset, never another folder or the videos' folder."""
    if target == videos or target in videos.parents:
        raise OutputError(target, f"the video folder {videos} lies inside it; choose another --out")
    if target.is_symlink() or not target.is_dir():
        raise OutputError(target, "exists and is not a saved dataset; choose another --out")
    names = {p.name for p in target.iterdir()}
    others = sorted(n for n in names if n not in DATASET_ENTRIES and not n.endswith(".arrow"))
    if names and ("state.json" not in names or others):
        what = f"it holds {others[0]!r}" if others else "no state.json"
        raise OutputError(target, f"not a saved dataset ({what}); refusing to replace it")


def load_pairs(path: str | os.PathLike):
    """``datasets.load_from_disk(path)`` with a one-line error for a folder that is not one."""
    import datasets

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such dataset folder (make one with `vmb data pairs VIDEO_DIR --out {folder}`)")
    try:
        return datasets.load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001  (datasets raises many types for a bad folder)
        raise UsageError(f"{folder}: not a readable saved dataset ({type(exc).__name__}: {str(exc)[:120]})") from None


__all__ = ["PairsReport", "features", "load_pairs", "make_pairs", "pair_row", "video_files"]
