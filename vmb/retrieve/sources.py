"""What an index is built from: a folder of audio, a CSV/JSONL manifest, or a ``datasets`` set.

Every reader returns a :class:`Source`: the tracks (:class:`SourceTrack`) in a stable order,
and the entries it had to skip, with the reason for each.

* **Folder** — every file with an audio extension (``AUDIO_EXTENSIONS``), recursively, sorted.
  A ``metadata.csv`` / ``metadata.jsonl`` at its root (the ``datasets`` audiofolder
  convention, column ``file_name`` or ``path``) attaches tags to the files it lists.
* **Manifest** (``.csv``, ``.jsonl``) — one row per track: ``path`` (resolved against the
  manifest's folder), optional ``caption``, ``genre``, ``mood``, ``instruments`` (a list, or a
  string separated by ``,`` ``;`` or ``|``), ``tempo_bpm``, ``key`` (``"D minor"``, ``"F#"``,
  ``"Bbm"``).
* **datasets** — a folder written by ``Dataset.save_to_disk`` (or a hub id when online): the
  first ``Audio`` column (or ``audio`` / ``path`` / ``file_name``) and the same tag columns
  (``caption`` may also be called ``text`` or ``description``; ``tempo_bpm`` ``bpm``).
  Rows whose audio is held as bytes are written out into the index folder.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.errors import IndexFileError, UsageError
from vmb.fileio import find_files
from vmb.manifest import first_value, folder_metadata, read_rows
from vmb.vocab import Vocab, load_vocab, normalize_key

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")
MANIFEST_EXTENSIONS = (".csv", ".jsonl")
CAPTION_COLUMNS = ("caption", "text", "description")
TEMPO_COLUMNS = ("tempo_bpm", "bpm", "tempo")
PATH_COLUMNS = ("path", "file_name", "file", "audio")


@dataclass(frozen=True)
class SourceTrack:
    """One track to index.

    Attributes:
        key: stable identity (used by ``--resume`` and as the clips' ``track_id``).
        path: the audio file (absolute), or ``None`` when the audio comes as ``data``.
        data: encoded audio bytes (datasets rows without a file) and ``suffix`` their type.
        caption / genre / mood / instruments / tempo_bpm / key / mode: tags given by the
            source (``None`` / empty when it has none).
    """

    key: str
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)
    suffix: str = ".wav"
    caption: str | None = None
    genre: str | None = None
    mood: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    key_name: str | None = None
    mode: str | None = None

    @property
    def has_tags(self) -> bool:
        return bool(self.genre or self.mood or self.instruments)


@dataclass
class Source:
    """The tracks of a source, and what was skipped while reading it."""

    description: str
    kind: str
    tracks: list[SourceTrack]
    skipped: list[dict[str, str]] = field(default_factory=list)


def read_source(source: str | os.PathLike, vocab: Vocab | None = None) -> Source:
    """Read ``source`` (folder, ``.csv``/``.jsonl`` manifest, saved dataset folder, or a
    datasets hub id).

    Raises:
        IndexFileError: the source does not exist, is not a supported kind, or a manifest
            lacks a ``path`` column.
    """
    vocab = vocab or load_vocab()
    path = Path(source).expanduser()
    if path.is_dir():
        if (
            (path / "dataset_info.json").is_file()
            or (path / "dataset_dict.json").is_file()
            or (path / "state.json").is_file()
        ):
            return read_saved_dataset(path, vocab)
        return read_folder(path, vocab)
    if path.is_file():
        if path.suffix.lower() in MANIFEST_EXTENSIONS:
            return read_manifest(path, vocab)
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            return Source(str(path), "file", [SourceTrack(key=path.name, path=str(path.resolve()))])
        raise IndexFileError(
            path,
            f"not a supported source: use a folder of audio, a {' or '.join(MANIFEST_EXTENSIONS)} manifest, or a saved datasets folder",
        )
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)) and not str(source).startswith("."):
        return read_hub_dataset(str(source), vocab)
    raise IndexFileError(path, "source not found (no such file or folder)")


# ----- folders and manifests ---------------------------------------------------------------------


def audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder``, recursively, sorted by relative path; hidden entries skipped."""
    return find_files(folder, AUDIO_EXTENSIONS)


def read_folder(folder: Path, vocab: Vocab) -> Source:
    folder = folder.resolve()
    tags = folder_metadata(folder, PATH_COLUMNS, error=IndexFileError, what="manifest", require_path_column=True)
    skipped: list[dict[str, str]] = []
    tracks = []
    for file in audio_files(folder):
        try:
            resolved = _usable_path(file)
            row = tags.get(resolved.as_posix(), {})
            tracks.append(_track(file.relative_to(folder).as_posix(), str(resolved), row, vocab))
        except (ValueError, OSError, RuntimeError) as exc:
            skipped.append({"path": _shown(file), "reason": _reason(exc)})
    return Source(str(folder), "folder", tracks, skipped)


def read_manifest(manifest: Path, vocab: Vocab) -> Source:
    manifest = manifest.resolve()
    base = manifest.parent
    tracks: list[SourceTrack] = []
    skipped: list[dict[str, str]] = []
    seen: set[str] = set()
    for row, where in read_rows(manifest, PATH_COLUMNS, error=IndexFileError, skipped=skipped):
        rel = first_value(row, PATH_COLUMNS)
        if not rel:
            skipped.append({"path": where, "reason": "no path"})
            continue
        try:
            file = Path(str(rel)).expanduser()
            file = _usable_path(file if file.is_absolute() else base / file)
        except (ValueError, OSError, RuntimeError) as exc:
            skipped.append({"path": where, "reason": _reason(exc)})
            continue
        if file.as_posix() in seen:
            skipped.append({"path": str(file), "reason": f"listed twice ({where})"})
            continue
        seen.add(file.as_posix())
        try:
            key = (
                file.relative_to(base).as_posix() if file.is_relative_to(base) else file.as_posix()
            )
            tracks.append(_track(key, str(file), row, vocab))
        except (ValueError, OSError, RuntimeError) as exc:
            skipped.append({"path": str(file), "reason": f"{where}: {_reason(exc)}"})
    return Source(str(manifest), "manifest", tracks, skipped)


def _usable_path(file: Path) -> Path:
    """``file`` resolved, or ``ValueError`` for a name the index cannot hold (not UTF-8) and
    ``RuntimeError``/``OSError`` for a symbolic-link loop."""
    try:
        str(file).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the file name is not valid UTF-8; rename the file") from None
    resolved = file.resolve(strict=False)
    if file.is_symlink() and not resolved.exists():
        raise ValueError("a symbolic link that points nowhere (or to itself)")
    return resolved


def _shown(file: Path) -> str:
    """A file name as it can be stored and printed (undecodable bytes escaped)."""
    return str(file).encode("utf-8", "backslashreplace").decode("utf-8")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError) or "loop" in str(exc).lower():
        return "a symbolic-link loop"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


# ----- datasets ------------------------------------------------------------------------------------


def read_saved_dataset(folder: Path, vocab: Vocab) -> Source:
    import datasets

    try:
        data = datasets.load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001  (datasets raises many types for a bad folder)
        raise IndexFileError(
            folder, f"not a readable saved dataset ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
    return _read_dataset(data, str(folder.resolve()), folder.resolve(), vocab)


def read_hub_dataset(dataset_id: str, vocab: Vocab) -> Source:
    import datasets

    from vmb.hub import hub_reachable, is_offline

    if is_offline() or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise IndexFileError(
            dataset_id, "no such file or folder, and the hub is offline (HF_HUB_OFFLINE)"
        )
    if not hub_reachable():
        raise IndexFileError(
            dataset_id,
            "no such file or folder, and the hub cannot be reached to load it as a dataset id",
        )
    try:
        data = datasets.load_dataset(dataset_id)
    except Exception as exc:  # noqa: BLE001  (offline, missing, private: many types)
        raise IndexFileError(
            dataset_id,
            f"no such file or folder, and not loadable as a datasets hub id ({type(exc).__name__})",
        ) from None
    return _read_dataset(data, dataset_id, None, vocab)


def _read_dataset(data, description: str, base: Path | None, vocab: Vocab) -> Source:
    import datasets

    splits = list(data.items()) if isinstance(data, datasets.DatasetDict) else [("", data)]
    tracks: list[SourceTrack] = []
    skipped: list[dict[str, str]] = []
    for split, ds in splits:
        audio_col = next((n for n, f in ds.features.items() if isinstance(f, datasets.Audio)), None)
        if audio_col is not None:
            ds = ds.cast_column(audio_col, datasets.Audio(decode=False))
        else:
            audio_col = next((c for c in PATH_COLUMNS if c in ds.column_names), None)
        if audio_col is None:
            raise UsageError(
                f"{description}: no audio column (an Audio feature, or one of: {', '.join(PATH_COLUMNS)})"
            )
        for i, row in enumerate(ds):
            key = f"{split}/{i:06d}" if split else f"{i:06d}"
            value = row.pop(audio_col)
            try:
                if isinstance(value, dict):
                    file, blob = value.get("path"), value.get("bytes")
                else:
                    file, blob = value, None
                if file and base is not None and not Path(file).is_absolute():
                    file = str(base / file)
                if blob:
                    suffix = Path(file).suffix.lower() if file and Path(file).suffix else ".wav"
                    tracks.append(_track(key, None, row, vocab, data=blob, suffix=suffix))
                elif file:
                    tracks.append(_track(key, str(Path(file).resolve()), row, vocab))
                else:
                    skipped.append({"path": f"{description}[{key}]", "reason": "row has no audio"})
            except ValueError as exc:
                skipped.append({"path": f"{description}[{key}]", "reason": str(exc)})
    return Source(description, "datasets", tracks, skipped)


# ----- tags ---------------------------------------------------------------------------------------


def split_words(value: Any) -> list[str]:
    """A list, or a string separated by ``,`` ``;`` ``|``, → stripped non-empty words."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [w.strip() for w in re.split(r"[,;|]", str(value)) if w.strip()]


def _canonical(vocab: Vocab, kind: str, word: str) -> str:
    """The vocabulary name of ``word``, or the word itself (lower case) when it has none."""
    return vocab.canonical(kind, word) or re.sub(r"\s+", " ", word.strip().lower())


def parse_key(value: Any, vocab: Vocab) -> tuple[str | None, str | None]:
    """``"D minor"`` / ``"Dm"`` / ``"F#"`` / ``"Bb major"`` → ``(key, mode)``.

    Raises:
        ValueError: not a key.
    """
    if value is None or not str(value).strip():
        return None, None
    m = re.fullmatch(
        r"\s*([A-Ga-g](?:#|b|♯|♭|\s*sharp|\s*flat)?)\s*(major|minor|maj|min|m|M)?\s*", str(value)
    )
    if not m:
        raise ValueError(f"key {value!r} is not a key (e.g. 'D minor', 'F#', 'Bbm')")
    key = normalize_key(m.group(1), vocab)
    if key is None:
        raise ValueError(f"key {value!r} is not a key (e.g. 'D minor', 'F#', 'Bbm')")
    mode_word = m.group(2)
    mode = None
    if mode_word:
        mode = "minor" if mode_word in ("m", "min", "minor") else "major"
    return key, mode


def _track(
    key: str,
    path: str | None,
    row: dict[str, Any],
    vocab: Vocab,
    data: bytes | None = None,
    suffix: str = ".wav",
) -> SourceTrack:
    tempo = first_value(row, TEMPO_COLUMNS)
    if tempo is not None:
        try:
            tempo = float(tempo)
        except (TypeError, ValueError):
            raise ValueError(f"tempo_bpm {tempo!r} is not a number") from None
        if not 10 <= tempo <= 400:
            raise ValueError(f"tempo_bpm {tempo} is outside 10-400")
    key_name, mode = parse_key(row.get("key"), vocab)
    if row.get("mode") and mode is None:
        mode = vocab.canonical("mode", str(row["mode"]))
    genre_words = split_words(row.get("genre"))
    caption = first_value(row, CAPTION_COLUMNS)
    return SourceTrack(
        key=key,
        path=path,
        data=data,
        suffix=suffix,
        caption=str(caption).strip() if caption is not None else None,
        genre=_canonical(vocab, "genre", genre_words[0]) if genre_words else None,
        mood=tuple(
            dict.fromkeys(_canonical(vocab, "mood", w) for w in split_words(row.get("mood")))
        ),
        instruments=tuple(
            dict.fromkeys(
                _canonical(vocab, "instrument", w) for w in split_words(row.get("instruments"))
            )
        ),
        tempo_bpm=tempo,
        key_name=key_name,
        mode=mode,
    )
