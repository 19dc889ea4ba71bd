"""Reading CSV and JSONL manifests: the one reader behind index sources, ``metadata.csv`` /
``metadata.jsonl`` of a folder, and training-pair manifests.

A manifest lists one item per row: a CSV with a header line, or JSON Lines (one JSON object a
line; blank lines are skipped). Column names are stripped of spaces. Every problem is one error
naming the file (and the line): a file that cannot be read, a line that is not JSON or not an
object, an empty CSV, no path column.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vmb.errors import UsageError

METADATA_FILES = ("metadata.jsonl", "metadata.csv")
ErrorFactory = Callable[[Path, str], Exception]


def _usage_error(path: Path, reason: str) -> Exception:
    return UsageError(f"{path}: {reason}")


def read_rows(
    path: str | os.PathLike,
    path_columns: Sequence[str] = (),
    what: str = "manifest",
    error: ErrorFactory = _usage_error,
) -> list[tuple[dict[str, Any], str]]:
    """``(row, "file:line")`` for each row of the CSV or JSONL file ``path``.

    Args:
        path_columns: when given, the first row must have one of these columns.
        what: the file's role in messages (``cannot read the manifest``).
        error: builds the exception from the path and the reason (default :class:`UsageError`
            ``"<path>: <reason>"``; index sources pass :class:`~vmb.errors.IndexFileError`).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(path, f"cannot read the {what} ({exc})") from None
    rows: list[tuple[dict[str, Any], str]] = []
    if path.suffix.lower() == ".jsonl":
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(path, f"line {i} is not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise error(path, f"line {i} is not a JSON object")
            rows.append((row, f"{path.name}:{i}"))
    else:
        reader = csv.DictReader(text.splitlines())
        rows = [
            ({k.strip(): v for k, v in r.items() if k}, f"{path.name}:{i}")
            for i, r in enumerate(reader, start=2)
        ]
        if reader.fieldnames is None:
            raise error(path, f"empty {what}")
    if path_columns and rows and not any(c in rows[0][0] for c in path_columns):
        raise error(path, f"no path column (expected one of: {', '.join(path_columns)})")
    return rows


def first_value(row: dict[str, Any], names: Sequence[str]) -> Any:
    """The value of the first of ``names`` that ``row`` has and is not empty, else ``None``."""
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def folder_metadata(
    folder: str | os.PathLike,
    path_columns: Sequence[str],
    error: ErrorFactory = _usage_error,
    what: str = "metadata",
    require_path_column: bool = False,
) -> dict[str, dict[str, Any]]:
    """Rows of the folder's ``metadata.jsonl`` (else ``metadata.csv``), keyed by the resolved
    POSIX path of the file each row names (its first ``path_columns`` value, relative to the
    folder). Empty when there is no metadata file. ``require_path_column``: a file without any
    of ``path_columns`` is an error rather than no tags."""
    folder = Path(folder)
    for name in METADATA_FILES:
        meta = folder / name
        if not meta.is_file():
            continue
        found = {}
        columns = path_columns if require_path_column else ()
        for row, _ in read_rows(meta, columns, what=what, error=error):
            rel = first_value(row, path_columns)
            if rel:
                found[(folder / str(rel)).resolve().as_posix()] = row
        return found
    return {}


__all__ = ["METADATA_FILES", "first_value", "folder_metadata", "read_rows"]
