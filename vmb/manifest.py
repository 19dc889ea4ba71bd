"""Reading CSV and JSONL manifests: the one reader behind index sources, ``metadata.csv`` /
``metadata.jsonl`` of a folder, and training-pair manifests.

A manifest lists one item per row: a CSV with a header line, or JSON Lines (one JSON object a
line; blank lines are skipped). Column names are stripped of spaces. Every problem is one error
naming the file (and the line): a file that cannot be read, a line that is not JSON or not an
object, an empty CSV, no path column.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vmb.errors import UsageError, show_value
from vmb.fileio import read_limited

METADATA_FILES = ("metadata.jsonl", "metadata.csv")
MAX_MANIFEST_BYTES = 512 * 2**20
MAX_FIELD_CHARS = 64 * 1024
ErrorFactory = Callable[[Path, str], Exception]


def _usage_error(path: Path, reason: str) -> Exception:
    return UsageError(f"{path}: {reason}")


def read_rows(
    path: str | os.PathLike,
    path_columns: Sequence[str] = (),
    what: str = "manifest",
    error: ErrorFactory = _usage_error,
    skipped: list[dict[str, str]] | None = None,
) -> list[tuple[dict[str, Any], str]]:
    """``(row, "file:line")`` for each row of the CSV or JSONL file ``path``.

    Args:
        path_columns: when given, the first row must have one of these columns.
        what: the file's role in messages (``cannot read the manifest``).
        error: builds the exception from the path and the reason (default :class:`UsageError`
            ``"<path>: <reason>"``; index sources pass :class:`~vmb.errors.IndexFileError`).
        skipped: when given, a bad row (not JSON, not an object, a field with a NUL, a lone
            surrogate or over :data:`MAX_FIELD_CHARS` characters, a CSV quote left open that
            swallows the lines after it) is recorded here as ``{"path": "file:line", "reason"}``
            and left out, instead of failing the whole file.
    """
    path = Path(path)
    try:
        text = read_limited(path, MAX_MANIFEST_BYTES).decode("utf-8-sig")
    except OSError as exc:
        raise error(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise error(path, f"cannot read the {what} (not UTF-8 text at byte {exc.start})") from None

    reader = None if path.suffix.lower() == ".jsonl" else csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[dict[str, Any], str]] = []
    for line, row, reason in _jsonl_lines(text) if reader is None else _csv_lines(reader):
        where = f"{path.name}:{line}"
        if reason is None and (problem := row_problem(row)):
            reason = f"line {line}: {problem}"
        if reason is not None:
            if skipped is None:
                raise error(path, reason)
            skipped.append({"path": where, "reason": reason})
            continue
        rows.append((row, where))
    if reader is not None and reader.fieldnames is None:
        raise error(path, f"empty {what}")
    if path_columns and rows and not any(c in rows[0][0] for c in path_columns):
        raise error(path, f"no path column (expected one of: {', '.join(path_columns)})")
    return rows


def _jsonl_lines(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, row, why it is no row or None)`` for each non-blank line of JSONL."""
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield i, None, f"line {i} is not valid JSON ({exc.msg})"
            continue
        except RecursionError:
            yield i, None, f"line {i} is nested too deeply"
            continue
        yield i, row, None if isinstance(row, dict) else f"line {i} is not a JSON object"


def _csv_lines(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, Any], str | None]]:
    """``(line number, row, why it is no row or None)`` for each record of a CSV file (the line
    it starts on; a record whose quote was left open swallows the lines after it)."""
    first = 2
    for record in reader:
        line, last, first = first, reader.line_num, reader.line_num + 1
        row = {k.strip(): v for k, v in record.items() if k}
        if last > line and any(isinstance(v, str) and "\n" in v for v in row.values()):
            yield line, row, f"line {line}: a quote left open swallows lines up to {last}"
        else:
            yield line, row, None


def row_problem(row: dict[str, Any]) -> str | None:
    """Why a manifest row cannot be used as given (a field no file name or tag can hold), or
    ``None``."""
    for key, value in row.items():
        for text in (key, value) if isinstance(value, str) else (key,):
            if not isinstance(text, str):
                continue
            if len(text) > MAX_FIELD_CHARS:
                return f"field {show_value(key, 40)} is longer than {MAX_FIELD_CHARS} characters"
            if "\x00" in text:
                return f"field {show_value(key, 40)} holds a NUL character"
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"field {show_value(key, 40)} holds a lone surrogate (not text)"
    return None


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


__all__ = ["METADATA_FILES", "first_value", "folder_metadata", "read_rows", "row_problem"]
