"""The per-file progress of an index build, in ``.<NAME>.partial/`` next to the output folder.

Every finished source file is recorded (vectors first, then the JSON that marks it done, both
flushed to disk), so that ``vmb index build --resume`` continues an interrupted build; a damaged
record is indexed again, and a ``.partial`` folder vmb did not make is never deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import IndexFileError, UsageError
from vmb.fileio import atomic_path, atomic_write_json, read_limited
from vmb.types import Clip

logger = logging.getLogger(__name__)

PARTIAL_VERSION = 1


@dataclass
class TrackResult:
    """What one source file gave: its clips, their CLAP vectors ``[n, D]`` (clap; builtin
    captions are embedded together at the end, which batches far better) and the raw feature
    vectors ``[n, F]`` (builtin)."""

    clips: list[Clip]
    vectors: np.ndarray | None
    features: np.ndarray | None


class Partial:
    """The per-file progress of a build, in ``.<NAME>.partial/`` next to the output folder."""

    def __init__(self, out: Path, settings: dict[str, Any], resume: bool):
        self.folder = out.parent / f".{out.name}.partial"
        self.audio_folder = self.folder / "audio"
        settings_file = self.folder / "settings.json"
        if resume and (settings_file.exists() or self.folder.is_symlink()):
            _check_partial_folder(self.folder)
            try:
                previous = json.loads(read_limited(settings_file, 1 << 20))
            except (OSError, ValueError) as exc:
                raise IndexFileError(
                    settings_file, f"the unfinished build is damaged ({_why(exc)}); run without --resume to start over"
                ) from None
            if not isinstance(previous, dict):
                raise IndexFileError(settings_file, "the unfinished build is damaged; run without --resume to start over")
            if previous != settings:
                changed = sorted(k for k in settings if previous.get(k) != settings[k])
                raise UsageError(
                    f"--resume: the unfinished build of {out} used other settings ({', '.join(changed)}); "
                    "run without --resume to start over"
                )
        else:
            if self.folder.exists() or self.folder.is_symlink():
                _check_partial_folder(self.folder)
                shutil.rmtree(self.folder)
            (self.folder / "done").mkdir(parents=True)
            atomic_write_json(settings_file, settings, fsync=True)
        (self.folder / "done").mkdir(exist_ok=True)

    def _stem(self, key: str) -> Path:
        return self.folder / "done" / hashlib.sha1(key.encode()).hexdigest()[:20]

    def load(self, key: str) -> TrackResult | dict[str, str] | None:
        """The recorded result of ``key``: a :class:`TrackResult`, a skip record, or ``None``."""
        stem = self._stem(key)
        meta_file = stem.with_suffix(".json")
        if not meta_file.is_file():
            return None
        try:
            meta = json.loads(read_limited(meta_file, 64 << 20))
            if "skipped" in meta:
                return dict(meta["skipped"])
            with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
                features = arrays["features"] if "features" in arrays.files else None
                vectors = arrays["vectors"] if "vectors" in arrays.files else None
                clips = [Clip.from_dict(c) for c in meta["clips"]]
            if vectors is not None and len(vectors) != len(clips):
                raise ValueError(f"{len(vectors)} vectors for {len(clips)} clips")
            return TrackResult(clips, vectors, features)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
            # a damaged record (truncated, edited, not a record at all): that file is indexed again
            logger.warning("%s: damaged record of the unfinished build (%s); indexing %s again", meta_file, _why(exc), key)
            return None

    def save(self, key: str, result: TrackResult) -> None:
        """Record a finished file: vectors first, then the JSON that marks it done."""
        stem = self._stem(key)
        arrays = {}
        if result.vectors is not None:
            arrays["vectors"] = result.vectors
        if result.features is not None:
            arrays["features"] = result.features
        with atomic_path(stem.with_suffix(".npz"), suffix=".tmp.npz", fsync=True) as tmp:
            np.savez(tmp, **arrays)
        clips = [c.to_dict() for c in result.clips]
        atomic_write_json(stem.with_suffix(".json"), {"key": key, "clips": clips}, indent=None, fsync=True)

    def skip(self, key: str, record: dict[str, str]) -> None:
        atomic_write_json(self._stem(key).with_suffix(".json"), {"key": key, "skipped": record}, indent=None,
                          fsync=True)  # fmt: skip

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


PARTIAL_ENTRIES = {"settings.json", "done", "audio", "shards"}  # shards: vmb.engines


def _why(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)[:120]


def _check_partial_folder(folder: Path) -> None:
    """Refuse to delete a ``.<NAME>.partial`` that vmb did not make (a user's folder or file)."""
    if folder.is_symlink() or not folder.is_dir():
        raise IndexFileError(folder, "exists and is not vmb's unfinished build; move it away")
    for entry in folder.iterdir():
        if entry.name not in PARTIAL_ENTRIES and not entry.name.startswith("settings.json."):
            raise IndexFileError(
                folder, f"holds {entry.name!r}, which vmb did not write; move it away"
            )
        if entry.name in ("done", "audio") and (entry.is_symlink() or not entry.is_dir()):
            raise IndexFileError(entry, "should be a folder of vmb's unfinished build; run without --resume")


__all__ = ["PARTIAL_VERSION", "Partial", "TrackResult"]
