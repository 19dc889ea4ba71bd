"""The index on disk: ``index.faiss``, ``clips.parquet``, ``info.json`` (and ``audio.faiss``).

Layout of an index folder (docs/ARCHITECTURE.md, "The index folder"):

* ``index.faiss`` — the vectors of the index's main encoder (row ``i`` ↔ clip ``i``).
* ``clips.parquet`` — one row per clip: every :class:`~vmb.types.Clip` field and attribute
  (``mood`` and ``instruments`` as lists). Paths are relative to the index folder when the file
  lies inside it, else absolute; :meth:`MusicIndex.clip` always returns them absolute.
* ``audio.faiss`` — builtin indexes only: the measured-feature vectors of the same clips.
* ``info.json`` — :class:`IndexInfo`: encoder id, dimension, metric, FAISS type, counts, build
  time, vmb version, and the sha256 of every other file, checked on load.

Writes go to a temporary folder next to the target that replaces it at the end (an atomic
exchange where the OS has one), so a reader sees the old or the new index, never a mix.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import IndexFileError
from vmb.fileio import atomic_folder
from vmb.types import Clip, ClipAttributes, Wants

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
LOAD_ATTEMPTS = 5
INDEX_FILE = "index.faiss"
AUDIO_FILE = "audio.faiss"
CLIPS_FILE = "clips.parquet"
INFO_FILE = "info.json"
MAX_INFO_BYTES = 64 * 2**20
LIST_COLUMNS = ("mood", "instruments")
ATTRIBUTE_COLUMNS = tuple(f.name for f in dataclasses.fields(ClipAttributes))
CLIP_COLUMNS = ("id", "path", "start_s", "duration_s", "sample_rate", "caption", "track_id")


@dataclass
class IndexInfo:
    """What ``info.json`` says about an index.

    Attributes:
        encoder: id of the encoder of ``index.faiss`` (e.g. ``minilm:all-MiniLM-L6-v2``).
        encoder_kind: ``clap`` or ``builtin``; ``encoder_model`` the model to load it with.
        dim / metric: vector dimension; ``ip`` (inner product of unit vectors).
        index_type / index_params: FAISS type (``flat``, ``hnsw``, ``ivf_flat``, ``ivf_pq``) and
            its parameters (nlist, nprobe, efSearch...).
        count / tracks: number of clips (vectors) and of source tracks.
        audio: builtin only: ``{"encoder", "dim", "file", "index_type", "stats"}`` of ``audio.faiss``.
        files: ``{name: {"sha256", "bytes"}}`` of the other files.
        skipped: ``[{"path", "reason"}]`` source files that could not be indexed.
        tag_sources: where genre / mood / instruments came from (``manifest``,
            ``clap-zero-shot``, ``none``).
    """

    encoder: str
    encoder_kind: str
    dim: int
    count: int
    index_type: str = "flat"
    index_params: dict[str, Any] = field(default_factory=dict)
    metric: str = "ip"
    encoder_model: str | None = None
    tracks: int = 0
    audio: dict[str, Any] | None = None
    segment_s: float | None = None
    hop_s: float | None = None
    source: str = ""
    skipped: list[dict[str, str]] = field(default_factory=list)
    tag_sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    build_time_s: float = 0.0
    created: str = ""
    vmb_version: str = ""
    format_version: int = FORMAT_VERSION
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexInfo:
        if not isinstance(data, dict):
            raise TypeError(f"a JSON object is expected, not {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def problem(self) -> str | None:
        """What makes this info unusable (a field of the wrong type or range), or ``None``."""
        checks = {
            "encoder": isinstance(self.encoder, str) and bool(self.encoder),
            "encoder_kind": self.encoder_kind in ("clap", "builtin"),
            "dim": _is_int(self.dim) and self.dim > 0,
            "count": _is_int(self.count) and self.count >= 0,
            "tracks": _is_int(self.tracks) and self.tracks >= 0,
            "index_type": isinstance(self.index_type, str),
            "index_params": isinstance(self.index_params, dict),
            "metric": self.metric in ("ip", "l2"),
            "format_version": _is_int(self.format_version),
            "files": isinstance(self.files, dict)
            and all(
                isinstance(v, dict) and isinstance(v.get("sha256"), str) and _is_int(v.get("bytes"))
                and v["bytes"] >= 0
                for v in self.files.values()
            ),
            "audio": self.audio is None
            or (isinstance(self.audio, dict) and _is_int(self.audio.get("dim", 0))),
            "skipped": isinstance(self.skipped, list),
            "notes": isinstance(self.notes, list),
            "tag_sources": isinstance(self.tag_sources, dict),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if not bad:
            return None
        value = repr(getattr(self, bad[0]))
        return f"{bad[0]} = {value[:60]}{'…' if len(value) > 60 else ''} is not valid"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FLOAT_COLUMNS = ("start_s", "duration_s", "tempo_bpm", "energy", "loudness_db")
INT_COLUMNS = ("sample_rate",)


def arrow_schema():
    """The pyarrow schema of ``clips.parquet``: the clip columns, then the attribute columns;
    lists of strings, floats, integers, else strings."""
    import pyarrow as pa

    def arrow_type(name: str):
        if name in LIST_COLUMNS:
            return pa.list_(pa.string())
        if name in FLOAT_COLUMNS:
            return pa.float64()
        return pa.int64() if name in INT_COLUMNS else pa.string()

    return pa.schema([(name, arrow_type(name)) for name in (*CLIP_COLUMNS, *ATTRIBUTE_COLUMNS)])


def clips_to_table(clips: list[Clip], root: Path) -> ClipTable:
    """Clips → the clip table, paths relative to ``root`` when inside it."""
    import pyarrow as pa

    root = Path(root).resolve()
    rows = []
    for clip in clips:
        row = {name: getattr(clip, name) for name in CLIP_COLUMNS}
        row["path"] = relative_to_root(clip.path, root)
        for name in ATTRIBUTE_COLUMNS:
            value = getattr(clip.attributes, name)
            row[name] = list(value) if name in LIST_COLUMNS else value
        rows.append(row)
    return ClipTable(pa.Table.from_pylist(rows, schema=arrow_schema()))


class ClipTable:
    """The clip table of an index (row ``i`` ↔ vector ``i``), kept as the pyarrow table that
    ``clips.parquet`` holds; ``table[name]`` is a column as a list (read once, then cached),
    ``table[name] = values`` replaces one. Without pandas: its import alone was 0.2 s of a
    fresh ``vmb generate`` (measured, benchmarks/bench_startup.py).

    Missing values are ``None`` (lists of strings: ``None`` or a list).
    """

    def __init__(self, table):
        self._arrow = table
        self._lists: dict[str, list] = {}

    def __len__(self) -> int:
        return int(self._arrow.num_rows)

    def __repr__(self) -> str:
        return f"ClipTable({len(self)} rows: {', '.join(self.columns)})"

    @property
    def columns(self) -> list[str]:
        return list(self._arrow.column_names)

    def __getitem__(self, name: str) -> list:
        if name not in self._lists:
            if name not in self._arrow.column_names:
                raise KeyError(name)
            self._lists[name] = self._arrow.column(name).to_pylist()
        return self._lists[name]

    def __setitem__(self, name: str, values) -> None:
        import pyarrow as pa

        values = list(values)
        if len(values) != len(self):
            raise ValueError(f"column {name}: {len(values)} values for {len(self)} rows")
        names = self._arrow.column_names
        if name in names:
            i = names.index(name)
            column = pa.array(values, type=self._arrow.schema.field(i).type)
            self._arrow = self._arrow.set_column(i, self._arrow.schema.field(i), column)
        else:
            self._arrow = self._arrow.append_column(name, pa.array(values))
        self._lists[name] = values

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as ``{column: value}``."""
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} of a table of {len(self)}")
        return self._arrow.slice(i, 1).to_pylist()[0]

    def to_arrow(self):
        """The pyarrow table (written as ``clips.parquet``)."""
        return self._arrow

    def to_pandas(self):
        """The table as a pandas DataFrame (for analysis; pandas is imported here only)."""
        return self._arrow.to_pandas()


def relative_to_root(path: str, root: Path) -> str:
    """``path`` relative to ``root`` (posix) when inside it, else absolute."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(p.resolve())


class MusicIndex:
    """A loaded index: FAISS index(es), the clip table and the info.

    Attributes:
        path: the index folder (absolute).
        info: :class:`IndexInfo`.
        index: the FAISS index of the main encoder's vectors ``[N, dim]``.
        audio_index: the FAISS index of ``audio.faiss`` (builtin), else ``None``.
        table: the :class:`ClipTable` (row ``i`` ↔ vector ``i``).
    """

    def __init__(self, path: str | os.PathLike, info: IndexInfo, index, table: ClipTable, audio_index=None):
        self.path = Path(path).resolve()
        self.info = info
        self.index = index
        self.audio_index = audio_index
        self.table = table if isinstance(table, ClipTable) else ClipTable(table)
        self._gpu_checked = False

    def __len__(self) -> int:
        return int(self.info.count)

    def __repr__(self) -> str:
        return f"MusicIndex({str(self.path)!r}, encoder={self.info.encoder!r}, count={len(self)})"

    # ----- clips -------------------------------------------------------------------------------

    def clip(self, i: int) -> Clip:
        """Clip ``i`` with an absolute path."""
        row = self.table.row(int(i))
        attributes = {}
        for name in ATTRIBUTE_COLUMNS:
            value = row[name]
            if name in LIST_COLUMNS:
                value = tuple(value) if value is not None else ()
            elif _missing(value):
                value = None
            attributes[name] = value.item() if isinstance(value, np.generic) else value
        path = Path(row["path"])
        return Clip(
            id=str(row["id"]),
            path=str(path if path.is_absolute() else (self.path / path)),
            start_s=float(row["start_s"]),
            duration_s=float(row["duration_s"]),
            sample_rate=int(row["sample_rate"]),
            caption=str(row["caption"] or ""),
            attributes=ClipAttributes(**attributes),
            track_id=str(row["track_id"]),
        )

    def clips(self) -> list[Clip]:
        return [self.clip(i) for i in range(len(self))]

    def partition(self, wants: Wants | None) -> np.ndarray:
        """Ids ``[M]`` int64 (ascending) of the clips matching every set attribute of ``wants``:
        genre, tempo class, key and mode by equality; mood and instrument by membership."""
        n = len(self)
        mask = np.ones(n, dtype=bool)
        if not wants:
            return np.arange(n, dtype=np.int64)
        t = self.table
        for name, value in wants.items():
            if name in ("genre", "key", "mode", "tempo"):
                column = t["tempo_class" if name == "tempo" else name]
                mask &= np.fromiter((v == value for v in column), bool, n)
            elif name == "mood":
                mask &= np.fromiter(
                    (value in (m if m is not None else ()) for m in t["mood"]), bool, n
                )
            elif name == "instrument":
                mask &= np.fromiter(
                    (value in (m if m is not None else ()) for m in t["instruments"]), bool, n
                )
        return np.flatnonzero(mask).astype(np.int64)

    def histograms(self) -> dict[str, dict[str, int]]:
        """Counts of clips per tempo class, key + mode, genre, mood and instrument."""
        t = self.table

        def counts(values) -> dict[str, int]:
            out: dict[str, int] = {}
            for v in values:
                if _missing(v) or v == "":
                    v = "(none)"
                out[str(v)] = out.get(str(v), 0) + 1
            return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

        def flat(column) -> list:
            items: list = []
            for v in t[column]:
                items.extend(list(v) if v is not None and len(v) else ["(none)"])
            return items

        keys = [
            f"{k} {m}" if isinstance(k, str) and isinstance(m, str) else None
            for k, m in zip(t["key"], t["mode"])
        ]
        return {
            "tempo_class": counts(t["tempo_class"]),
            "key": counts(keys),
            "genre": counts(t["genre"]),
            "mood": counts(flat("mood")),
            "instruments": counts(flat("instruments")),
        }

    # ----- disk --------------------------------------------------------------------------------

    def save(
        self, path: str | os.PathLike | None = None, extra_dirs: dict[str, Path] | None = None
    ) -> Path:
        """Write the index to ``path`` (default: where it was loaded from) atomically.

        ``extra_dirs`` (``{name: folder}``) are moved into the index folder too (e.g. audio
        decoded from a dataset, referenced by relative clip paths).
        """
        import faiss

        from vmb.retrieve.faiss_index import to_cpu

        out = Path(path or self.path).resolve()
        from vmb.retrieve.guard import check_replaceable

        check_replaceable(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_folder(out, fsync=True) as tmp:
            for name, folder in (extra_dirs or {}).items():
                shutil.copytree(folder, tmp / name)
            files: dict[str, dict[str, Any]] = {}
            blobs = {INDEX_FILE: faiss.serialize_index(to_cpu(self.index)).tobytes()}
            if self.audio_index is not None:
                blobs[AUDIO_FILE] = faiss.serialize_index(to_cpu(self.audio_index)).tobytes()
            import pyarrow.parquet as pq

            schema = arrow_schema()  # the contract's columns, in its order and types
            pq.write_table(self.table.to_arrow().select(schema.names).cast(schema), tmp / CLIPS_FILE)
            blobs[CLIPS_FILE] = (tmp / CLIPS_FILE).read_bytes()
            for name, data in blobs.items():
                if name != CLIPS_FILE:
                    (tmp / name).write_bytes(data)
                files[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}
            self.info.files = files
            self.info.vmb_version = self.info.vmb_version or _vmb_version()
            self.info.created = self.info.created or _now()
            (tmp / INFO_FILE).write_text(
                json.dumps(self.info.to_dict(), indent=2, ensure_ascii=False) + "\n"
            )
        self.path = out
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> MusicIndex:
        """Load an index folder.

        Raises:
            IndexFileError: the folder or a file is missing, a checksum does not match (file
                modified or truncated), or a file cannot be parsed.
        """
        for _ in range(LOAD_ATTEMPTS - 1):
            try:
                return cls._load(Path(path), verify)
            except FileNotFoundError:
                continue  # the folder was replaced by a newer build between two reads
        return cls._load(Path(path), verify)

    @classmethod
    def _load(cls, path: Path, verify: bool) -> MusicIndex:
        import faiss
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not path.exists():
            raise IndexFileError(
                path, "index not found (build one with: vmb index build SOURCE --out PATH)"
            )
        if not path.is_dir():
            raise IndexFileError(
                path,
                "not an index folder (expected a folder with index.faiss, clips.parquet, info.json)",
            )
        dir_fd = os.open(path, os.O_RDONLY)
        try:
            try:
                raw_info = _read_at(dir_fd, INFO_FILE, MAX_INFO_BYTES, path)
            except FileNotFoundError:
                if _replaced(path, dir_fd):
                    raise
                raise IndexFileError(path / INFO_FILE, "missing; not a vmb index folder") from None
            try:
                info = IndexInfo.from_dict(json.loads(raw_info))
            except (ValueError, TypeError) as exc:
                raise IndexFileError(
                    path / INFO_FILE, f"not a valid index info file ({str(exc)[:200]})"
                ) from None
            problem = info.problem()
            if problem:
                raise IndexFileError(path / INFO_FILE, f"not a valid index info file ({problem})")
            if info.format_version > FORMAT_VERSION:
                raise IndexFileError(
                    path,
                    f"index format {info.format_version} is newer than this vmb reads ({FORMAT_VERSION})",
                )
            blobs: dict[str, bytes] = {}
            for name in (INDEX_FILE, CLIPS_FILE, *([AUDIO_FILE] if info.audio else [])):
                expected = info.files.get(name)
                limit = expected["bytes"] if verify and expected else MAX_UNVERIFIED_BYTES
                try:
                    data = _read_at(dir_fd, name, limit, path)
                except FileNotFoundError:
                    if _replaced(path, dir_fd):
                        raise  # a newer build took the folder's place: load() reads again
                    raise IndexFileError(path / name, "missing") from None
                except IsADirectoryError:
                    raise IndexFileError(path / name, "is a folder, not a file; rebuild the index") from None
                if verify:
                    if expected is None:
                        raise IndexFileError(path / name, "no checksum in info.json")
                    if len(data) != expected["bytes"]:
                        raise IndexFileError(
                            path / name,
                            f"size {len(data)} bytes, info.json says {expected['bytes']}: truncated or modified; rebuild the index",
                        )
                    if sha256_bytes(data) != expected["sha256"]:
                        raise IndexFileError(
                            path / name,
                            "checksum does not match info.json: the file was modified; rebuild the index",
                        )
                blobs[name] = data
        finally:
            os.close(dir_fd)

        def read_faiss(name: str):
            try:
                return faiss.deserialize_index(np.frombuffer(blobs[name], dtype=np.uint8))
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
                raise IndexFileError(
                    path / name, f"not a readable FAISS index ({first[:120]})"
                ) from None

        index = read_faiss(INDEX_FILE)
        audio_index = read_faiss(AUDIO_FILE) if info.audio else None
        try:
            # ParquetFile reads the one file directly: pq.read_table goes through
            # pyarrow.dataset, a fifth of a second of imports in a fresh process (measured).
            # From the verified bytes, on this thread: a read with Arrow's thread pools leaves
            # worker threads that can abort the process at exit ("terminate called without an
            # active exception", apache/arrow#34314; seen in 2 of ~100 reader processes here)
            parquet = pq.ParquetFile(pa.BufferReader(blobs[CLIPS_FILE]))
            table = ClipTable(parquet.read(use_threads=False))
        except Exception as exc:  # noqa: BLE001  (pyarrow raises several types for a bad file)
            raise IndexFileError(
                path / CLIPS_FILE, f"not a readable Parquet file ({type(exc).__name__})"
            ) from None
        missing = [c for c in (*CLIP_COLUMNS, *ATTRIBUTE_COLUMNS) if c not in table.columns]
        if missing:
            raise IndexFileError(path / CLIPS_FILE, f"missing columns: {', '.join(missing)}")
        wrong = _wrong_column_types(blobs[CLIPS_FILE])
        if wrong:
            raise IndexFileError(path / CLIPS_FILE, f"wrong column types: {wrong}; rebuild the index")
        for name, idx in ((INDEX_FILE, index), (AUDIO_FILE, audio_index)):
            if idx is not None and idx.ntotal != len(table):
                raise IndexFileError(
                    path / name, f"{idx.ntotal} vectors but clips.parquet has {len(table)} rows"
                )
        for name, idx in ((INDEX_FILE, index), (AUDIO_FILE, audio_index)):
            if idx is not None and not _is_search_index(idx):
                raise IndexFileError(path / name, "not a vector index vmb can search")
        if index.d != info.dim:
            raise IndexFileError(
                path / INDEX_FILE, f"dimension {index.d}, info.json says {info.dim}"
            )
        if len(table) != info.count:
            raise IndexFileError(
                path / CLIPS_FILE, f"{len(table)} rows, info.json says {info.count}"
            )
        return cls(path, info, index, table, audio_index)


MAX_UNVERIFIED_BYTES = 64 * 2**30  # an index loaded with verify=False: files of at most 64 GiB


def _wrong_column_types(parquet: bytes) -> str:
    """The clip-table columns whose Arrow type is not the contract's, as ``name (type)``."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(io.BytesIO(parquet))
    expected = arrow_schema()
    wrong = []
    for field_ in expected:
        i = schema.get_field_index(field_.name)
        if i >= 0 and not _compatible(schema.field(i).type, field_.type):
            wrong.append(f"{field_.name} ({schema.field(i).type}, expected {field_.type})")
    return ", ".join(wrong)


def _compatible(found, expected) -> bool:
    import pyarrow as pa

    if found == expected or pa.types.is_null(found):
        return True
    if pa.types.is_list(expected):
        return pa.types.is_list(found) and (
            pa.types.is_null(found.value_type) or found.value_type == expected.value_type
        )
    return False


def _is_search_index(idx) -> bool:
    import faiss

    return isinstance(idx, faiss.Index) and idx.d > 0


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _replaced(path: Path, dir_fd: int) -> bool:
    """Whether the folder opened as ``dir_fd`` is no longer the one at ``path``."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return True
    opened = os.fstat(dir_fd)
    return (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino) or opened.st_nlink == 0


def _read_at(dir_fd: int, name: str, max_bytes: int, folder: Path) -> bytes:
    """The bytes of ``name`` in the opened folder: only a regular file (a FIFO or a link to a
    device such as /dev/zero would hang or never end) of at most ``max_bytes``."""
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise IndexFileError(folder / name, "not a regular file; rebuild the index")
        if st.st_size > max_bytes:
            raise IndexFileError(
                folder / name, f"{st.st_size} bytes, more than the {max_bytes} expected; rebuild the index"
            )
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IndexFileError(folder / name, f"more than the {max_bytes} bytes expected; rebuild the index")
    return data


def _vmb_version() -> str:
    import vmb

    return vmb.__version__


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
