"""Whether an output folder may be replaced by a new index: vmb never deletes what it did not make.

:func:`check_replaceable` is asked before every index write (:meth:`MusicIndex.save`,
:func:`vmb.retrieve.build_index`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vmb.errors import IndexFileError
from vmb.retrieve.store import AUDIO_FILE, CLIPS_FILE, INDEX_FILE, INFO_FILE, MAX_INFO_BYTES

INDEX_ENTRIES = {INDEX_FILE: "file", AUDIO_FILE: "file", CLIPS_FILE: "file", INFO_FILE: "file",
                 "audio": "dir"}


def check_replaceable(out: Path, sources: tuple[str | os.PathLike, ...] = ()) -> None:
    """Refuse to replace anything that is not a vmb index, or an index that holds a source.

    ``out`` may be absent, an empty folder, or a vmb index: a regular ``info.json`` that vmb
    wrote (a JSON object with ``encoder``, ``format_version`` and ``files``) beside only vmb's
    own entries (``index.faiss``, ``audio.faiss``, ``clips.parquet``, ``audio/``). Anything else
    (a user's folder with a stray ``info.json``, an index with the user's files added) is an
    :class:`IndexFileError`, and so is a ``sources`` path that lies inside ``out``: the
    replacement would delete it.
    """
    for source in sources:
        src = Path(source).expanduser().resolve()
        if src == out or out in src.parents:
            raise IndexFileError(
                src, f"lies inside the output folder {out}; the build would delete it: choose another --out"
            )
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise IndexFileError(out, "exists and is not a folder; choose another --out")
    entries = list(out.iterdir())
    if not entries:
        return
    reason = _not_an_index_reason(out, entries)
    if reason:
        raise IndexFileError(out, f"exists and is not a vmb index ({reason}); refusing to replace it")


def _not_an_index_reason(out: Path, entries: list[Path]) -> str | None:
    """Why the non-empty folder ``out`` is not an index vmb may replace, or ``None``."""
    for entry in entries:
        kind = INDEX_ENTRIES.get(entry.name)
        if kind is None:
            return f"it holds {entry.name!r}, which vmb did not write"
        ok = entry.is_dir() if kind == "dir" else entry.is_file()
        if entry.is_symlink() or not ok:
            return f"{entry.name!r} is not a {'folder' if kind == 'dir' else 'regular file'}"
    info = out / INFO_FILE
    if not info.is_file():
        return "no info.json"
    if info.stat().st_size > MAX_INFO_BYTES:
        return "info.json is too large to be vmb's"
    try:
        data = json.loads(info.read_bytes())
    except (ValueError, OSError):
        return "info.json is not JSON"
    if not (
        isinstance(data, dict)
        and isinstance(data.get("encoder"), str)
        and isinstance(data.get("format_version"), int)
        and isinstance(data.get("files"), dict)
    ):
        return "info.json was not written by vmb"
    return None


__all__ = ["INDEX_ENTRIES", "check_replaceable"]
