"""The items of ``vmb generate --batch MANIFEST``: reading the manifest, running one item.

A batch manifest is a CSV or JSONL file (read by :func:`vmb.manifest.read_rows`), one item a
row, with these columns (all optional, but each row needs a video, an image, text or a
reference):

=============  ================================================================================
``id``         the item's name: its output folder ``OUT/items/<id>/`` (default: the row number
               and the first input's stem, ``003-clip``)
``video``      a video file
``images``     image files (a JSON list, or one string separated by ``;`` ``,`` or ``|``)
``text``       free text
``references`` audio files pinned into the music bridge (list or separated string)
``wants``      targeted attributes, ``tempo=fast; genre=jazz`` (list or separated string)
``duration``   seconds of music
``seed``       an integer seed
=============  ================================================================================

Relative paths are relative to the manifest's folder. A bad manifest (unreadable, an unknown
column, two items with one id, an id that is not a plain name) is one :class:`UsageError`; a
bad value in a row (a missing video, ``duration=abc``) fails that item only.

An item is finished when ``OUT/items/<id>/<stem>.vmb.json`` exists and is a JSON object (the
JSON is the last file :func:`vmb.outputs.save_outputs` writes, atomically).
"""

from __future__ import annotations

import json
import re
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vmb.errors import UsageError, VMBError
from vmb.manifest import first_value, read_rows
from vmb.outputs import output_stem

COLUMNS = ("id", "video", "images", "text", "references", "wants", "duration", "seed")
ALIASES = {"image": "images", "reference": "references", "want": "wants", "duration_s": "duration"}
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SPLIT = re.compile(r"[;,|]")


@dataclass(frozen=True)
class BatchItem:
    """One row of a batch manifest, paths resolved; ``duration`` / ``seed`` as written (checked
    when the item runs, so a bad value fails that item only)."""

    id: str
    where: str
    video: str | None = None
    images: tuple[str, ...] = ()
    text: str | None = None
    references: tuple[str, ...] = ()
    wants: tuple[str, ...] = ()
    duration: Any = None
    seed: Any = None

    @property
    def stem(self) -> str:
        return output_stem(self.video, list(self.images), list(self.references))

    def folder(self, out: Path) -> Path:
        return Path(out) / "items" / self.id

    def result_json(self, out: Path) -> Path:
        return self.folder(out) / f"{self.stem}.vmb.json"

    def finished(self, out: Path) -> bool:
        """Whether the item's result JSON exists and is a JSON object."""
        path = self.result_json(out)
        try:
            return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
        except (OSError, ValueError):
            return False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in SPLIT.split(str(value)) if v.strip()]


def _path(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


def read_batch(manifest: str | Path) -> list[BatchItem]:
    """The items of a batch manifest (see the module docstring).

    Raises:
        UsageError: unreadable manifest, unknown column, bad or duplicate id, no items.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise UsageError(f"--batch {manifest}: no such file")
    if manifest.suffix.lower() not in (".csv", ".jsonl"):
        raise UsageError(f"--batch {manifest}: a .csv or .jsonl manifest is expected")
    base = manifest.resolve().parent
    items: list[BatchItem] = []
    seen: set[str] = set()
    for number, (raw, where) in enumerate(read_rows(manifest, what="batch manifest"), start=1):
        row = {ALIASES.get(k, k): v for k, v in raw.items()}
        unknown = sorted(k for k in row if k not in COLUMNS)
        if unknown:
            raise UsageError(f"{where}: unknown column {unknown[0]!r}; use: {', '.join(COLUMNS)}")
        video = first_value(row, ("video",))
        images = [_path(p, base) for p in _list(row.get("images"))]
        references = [_path(p, base) for p in _list(row.get("references"))]
        text = first_value(row, ("text",))
        item = BatchItem(
            id="",
            where=where,
            video=_path(str(video), base) if video else None,
            images=tuple(images),
            text=str(text) if text is not None else None,
            references=tuple(references),
            wants=tuple(_list(row.get("wants"))),
            duration=first_value(row, ("duration",)),
            seed=first_value(row, ("seed",)),
        )
        given = first_value(row, ("id",))
        item_id = str(given).strip() if given is not None else f"{number:03d}-{item.stem}"
        if not SAFE_ID.match(item_id):
            if given is not None:
                raise UsageError(
                    f"{where}: id {item_id!r} is not a plain name (letters, digits, . _ -)"
                )
            item_id = f"{number:03d}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", item.stem)[:80]
        if item_id in seen:
            raise UsageError(f"{where}: id {item_id!r} is used by an earlier row")
        seen.add(item_id)
        items.append(BatchItem(**{**item.to_dict(), "id": item_id}))
    if not items:
        raise UsageError(f"--batch {manifest}: no items")
    return items


@dataclass
class ItemStatus:
    """What happened to one item: ``done``, ``failed`` or ``finished`` (found finished by
    ``--resume``), the seconds it took, its result JSON and the error, in one line."""

    id: str
    status: str
    seconds: float = 0.0
    json: str = ""
    error: str = ""
    where: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return {**data, **self.extra}


def _number(value: Any, kind: type, name: str, item: BatchItem):
    if value is None or value == "":
        return None
    try:
        number = kind(value)
        if kind is int and isinstance(value, float) and value != int(value):
            raise ValueError
        if kind is int and isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(f"{item.where}: {name}={value!r} is not a number") from None
    return number


def run_item(pipe, item: BatchItem, out: Path) -> ItemStatus:
    """Make and save the music of ``item`` with ``pipe`` into ``OUT/items/<id>/``.

    Never raises for the item's own problems: a :class:`VMBError` (bad input) or any other
    exception (a bug, a crashed decoder) becomes a ``failed`` status with the error in one line.
    """
    started = time.perf_counter()
    try:
        duration = _number(item.duration, float, "duration", item)
        seed = _number(item.seed, int, "seed", item)
        folder = item.folder(out)
        folder.mkdir(parents=True, exist_ok=True)
        inputs = {"video": item.video, "images": list(item.images), "text": item.text,
                  "references": list(item.references), "wants": list(item.wants)}  # fmt: skip
        result = pipe(**inputs, duration_s=duration, seed=seed)
        result = pipe.save(result, out_dir=folder, stem=item.stem, video=item.video, inputs=inputs)
        return ItemStatus(item.id, "done", round(time.perf_counter() - started, 3),
                          json=result.paths["json"], where=item.where)  # fmt: skip
    except VMBError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001  (one broken item must not stop the batch)
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        at = f" at {Path(last[0].filename).name}:{last[0].lineno}" if last else ""
        error = f"{type(exc).__name__}: {exc}{at}"
    first = error.strip().splitlines()[0] if error.strip() else "failed"
    return ItemStatus(item.id, "failed", round(time.perf_counter() - started, 3),
                      error=first[:500], where=item.where)  # fmt: skip


__all__ = ["BatchItem", "ItemStatus", "read_batch", "run_item"]
