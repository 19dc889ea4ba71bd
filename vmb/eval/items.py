"""Reading the items to evaluate: folders (or lists) of audio files and videos with music.

An :class:`EvalItem` is one piece of music under a *name*: the file name without its folder,
its extensions and a trailing ``.vmb`` (so ``clip.vmb.wav``, ``clip.vmb.mp4`` and
``clip.vmb.json`` written by ``vmb generate`` are one item, ``clip``). Generated and reference
items pair by name where a metric needs pairs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vmb.errors import MediaError, UsageError
from vmb.fileio import find_files
from vmb.media.audio import SOUNDFILE_EXTENSIONS

AUDIO_ONLY_EXTENSIONS = frozenset({".mp3", ".m4a", ".aac", ".opus", ".mka", ".wma"}) | SOUNDFILE_EXTENSIONS
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
MEDIA_EXTENSIONS = AUDIO_ONLY_EXTENSIONS | VIDEO_EXTENSIONS
RESULT_SUFFIX = ".vmb.json"


@dataclass(frozen=True)
class EvalItem:
    """One piece of music to evaluate.

    Attributes:
        name: the pairing key (file name without extensions and ``.vmb``).
        audio: the file the music is read from (an audio file, else the video).
        video: the video the music goes with, if any (for cut/beat and motion metrics).
        result: ``vmb generate``'s ``<stem>.vmb.json`` next to it, if any (bridges, wants).
    """

    name: str
    audio: Path
    video: Path | None = None
    result: Path | None = None
    caption: str | None = None

    def read_result(self) -> dict | None:
        """The result JSON as a dict (``None`` without one; an unreadable one is a MediaError)."""
        if self.result is None:
            return None
        try:
            data = json.loads(self.result.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MediaError(self.result, f"not a readable vmb result JSON ({exc})") from None
        if not isinstance(data, dict):
            raise MediaError(self.result, "not a vmb result JSON (expected an object)")
        return data


@dataclass
class ItemSet:
    """The items of one side (generated or reference) and where they came from."""

    items: list[EvalItem]
    source: str
    notes: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, EvalItem]:
        return {item.name: item for item in self.items}

    def __len__(self) -> int:
        return len(self.items)


def item_name(path: str | os.PathLike) -> str:
    """``a/clip.vmb.wav`` → ``clip``; ``song.flac`` → ``song``."""
    name = Path(path).name
    for suffix in (RESULT_SUFFIX,):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem[:-4] if stem.lower().endswith(".vmb") else stem


def collect_items(source: str | os.PathLike | Sequence[str | os.PathLike], what: str = "generated") -> ItemSet:
    """Items from a folder (recursive) or a list of files; files of one name form one item.

    Raises:
        MediaError: a missing path, a folder with no audio or video file, a file of an unknown kind.
        UsageError: two different files claim the same name with the same role.
    """
    if isinstance(source, (str, os.PathLike)):
        paths = [Path(source)]
        label = str(source)
    else:
        paths = [Path(p) for p in source]
        label = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        if not paths:
            raise UsageError(f"{what}: the list of files is empty")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = find_files(path, MEDIA_EXTENSIONS)
            if not found:
                raise MediaError(path, f"no audio or video files in this {what} folder")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in MEDIA_EXTENSIONS:
                raise MediaError(path, f"not an audio or video file (extension {path.suffix or 'none'})")
            files.append(path)
        else:
            raise MediaError(path, "no such file or folder")
    groups: dict[str, dict[str, Path]] = {}
    for f in files:
        role = "video" if f.suffix.lower() in VIDEO_EXTENSIONS else "audio"
        slot = groups.setdefault(item_name(f), {})
        if role in slot and slot[role] != f:
            raise UsageError(f"{what}: {slot[role]} and {f} have the same name {item_name(f)!r}; rename one")
        slot[role] = f
    items = []
    listings: dict[Path, set[str]] = {}  # one listing per folder, not one stat per item
    for name, slot in sorted(groups.items()):
        audio = slot.get("audio") or slot["video"]
        if audio.parent not in listings:
            try:
                listings[audio.parent] = set(os.listdir(audio.parent))
            except OSError:
                listings[audio.parent] = set()
        result = audio.parent / f"{name}{RESULT_SUFFIX}"
        found = result.name in listings[audio.parent] and result.is_file()
        items.append(EvalItem(name=name, audio=audio, video=slot.get("video"), result=result if found else None))
    return ItemSet(items=items, source=label)


def items_from_pairs(pairs: Sequence[tuple[str, str | os.PathLike]], what: str = "reference") -> ItemSet:
    """Items from ``(name, path)`` pairs (a benchmark manifest's reference music)."""
    items = []
    for name, path in pairs:
        path = Path(path)
        if not path.is_file():
            raise MediaError(path, f"{what} file of item {name!r} does not exist")
        video = path if path.suffix.lower() in VIDEO_EXTENSIONS else None
        items.append(EvalItem(name=str(name), audio=path, video=video))
    return ItemSet(items=items, source=f"{len(items)} {what} files")


@dataclass(frozen=True)
class Pairing:
    """Generated/reference items with the same name, and the names that have no partner."""

    pairs: list[tuple[EvalItem, EvalItem]]
    only_generated: list[str]
    only_reference: list[str]


def pair_items(generated: ItemSet, reference: ItemSet) -> Pairing:
    """Pair by name.

    Raises:
        MediaError: not a single name is shared (nothing can be paired).
    """
    ref = reference.by_name()
    gen = generated.by_name()
    pairs = [(g, ref[g.name]) for g in generated.items if g.name in ref]
    if not pairs:
        example_g = ", ".join(list(gen)[:3])
        example_r = ", ".join(list(ref)[:3])
        raise MediaError(
            generated.source,
            f"no generated file name matches a reference file name (generated: {example_g}; "
            f"reference: {example_r}); paired metrics need the same names",
        )
    return Pairing(
        pairs=pairs,
        only_generated=[n for n in gen if n not in ref],
        only_reference=[n for n in ref if n not in gen],
    )


def read_captions(path: str | os.PathLike) -> dict[str, str]:
    """Captions by item name from ``.json`` (``{name: caption}`` or a list of objects),
    ``.jsonl``, ``.csv``/``.tsv`` (columns ``name`` (or ``file``/``id``) and ``caption`` (or ``text``)).

    Raises:
        MediaError: a missing or unreadable file, or one without name and caption columns.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "captions file does not exist")
    ext = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if ext == ".json":
            data = json.loads(text)
            rows = [{"name": k, "caption": v} for k, v in data.items()] if isinstance(data, dict) else data
        elif ext == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif ext in (".csv", ".tsv"):
            import csv
            import io

            rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if ext == ".tsv" else ","))
        else:
            raise MediaError(path, "captions must be .json, .jsonl, .csv or .tsv")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(path, f"unreadable captions file ({exc})") from None
    captions: dict[str, str] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise MediaError(path, f"row {i + 1} is not an object with name and caption")
        name = row.get("name") or row.get("file") or row.get("id")
        caption = row.get("caption") or row.get("text")
        if not name or not isinstance(caption, str) or not caption.strip():
            raise MediaError(path, f"row {i + 1} needs a name (or file/id) and a non-empty caption (or text)")
        captions[item_name(str(name)) if "." in str(name) else str(name)] = caption.strip()
    if not captions:
        raise MediaError(path, "no captions in the file")
    return captions
