"""``build_index``: source reader → clips → attributes + embeddings → FAISS index on disk.

Per source file: read the audio once (mono), cut it into clips (:mod:`.segment`), measure
the attributes of every clip (:mod:`.attributes`), write a caption when the source has none,
and embed the clips (CLAP audio; builtin: measured features). Builtin captions are embedded
with MiniLM together once all files are done (large batches are several times faster).

Resume: every finished file is recorded in ``.<NAME>.partial/`` next to the output folder
(its clip rows and vectors, written atomically right after the file), as is every skipped
file. ``resume=True`` reuses those records, so an interrupted build (even ``kill -9``) goes on
with the next unfinished file and gives the same index as a clean build. The partial folder
is removed once the index is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import IndexFileError, MediaError, UsageError
from vmb.fileio import atomic_write_bytes
from vmb.retrieve.attributes import (
    ZeroShotTagger,
    caption_from_attributes,
    clip_attributes,
    measure_clip,
)
from vmb.retrieve.encoders.base import IndexEncoder, load_encoder
from vmb.retrieve.encoders.features import FeaturesEncoder
from vmb.retrieve.faiss_index import build_faiss_index, tune_search
from vmb.retrieve.guard import check_replaceable
from vmb.retrieve.index_type import INDEX_KINDS, TARGET_RECALL, choose_index_type
from vmb.retrieve.partial import PARTIAL_VERSION, Partial, TrackResult
from vmb.retrieve.segment import check_segmenting, segment_track
from vmb.retrieve.sources import Source, SourceTrack, read_source
from vmb.retrieve.store import IndexInfo, MusicIndex, clips_to_table
from vmb.signatures import same_parameters
from vmb.types import Clip
from vmb.vocab import Vocab, load_vocab

logger = logging.getLogger(__name__)

class TrackIndexer:
    """Turns one :class:`SourceTrack` into a :class:`TrackResult`."""

    def __init__(
        self,
        encoder: IndexEncoder,
        vocab: Vocab,
        segment_s: float,
        hop_s: float,
        audio_folder: Path,
        tag_with_clap: bool,
    ):
        self.encoder = encoder
        self.vocab = vocab
        self.segment_s = segment_s
        self.hop_s = hop_s
        self.audio_folder = audio_folder
        self.features = FeaturesEncoder() if encoder.kind == "builtin" else None
        self.tagger = ZeroShotTagger(encoder.main, vocab) if tag_with_clap else None

    def audio_path(self, track: SourceTrack) -> str:
        return track_audio_path(track, self.audio_folder)

    def __call__(self, track: SourceTrack) -> TrackResult:
        return self.embed(track, self.decode(track))

    def decode(self, track: SourceTrack) -> DecodedTrack:
        return decode_track(track, self.segment_s, self.hop_s, self.audio_folder)

    def embed(self, track: SourceTrack, decoded: DecodedTrack) -> TrackResult:
        """The clips of a decoded track with their vectors (CLAP audio) and feature vectors
        (builtin); caption vectors are left to the caller (:func:`finish_build`)."""
        path, sr, spans, pieces, measured = (
            decoded.path, decoded.sample_rate, decoded.spans, decoded.pieces, decoded.measured
        )
        vectors = features = None
        tags: list[dict] = [{} for _ in pieces]
        if self.encoder.clip_input == "audio":
            vectors = self.encoder.main.embed_audio([(p, sr) for p in pieces])
            if self.tagger is not None:
                # per field, the source's tags win over these (see clip_attributes)
                tags = self.tagger.tags(vectors)
        clips = []
        for i, ((start, dur), m, tag) in enumerate(zip(spans, measured, tags)):
            attrs = clip_attributes(m, track, self.vocab, tag)
            caption = track.caption or caption_from_attributes(attrs)
            clips.append(
                Clip(
                    id=f"{track.key}@{start:.2f}",
                    path=str(Path(path).resolve()),
                    start_s=float(start),
                    duration_s=float(dur),
                    sample_rate=int(sr),
                    caption=caption,
                    attributes=attrs,
                    track_id=track.key,
                )
            )
        if self.features is not None:
            features = np.stack(
                [
                    self.features.measure(
                        p, sr, tempo_bpm=m.tempo_bpm or 0.0, loudness_db=m.loudness_db
                    )
                    for p, m in zip(pieces, measured)
                ]
            )
        return TrackResult(
            clips, None if vectors is None else np.asarray(vectors, np.float32), features
        )


@dataclass
class DecodedTrack:
    """A track read and cut: the audio file, its rate, the clip spans ``[(start, dur)]``, the
    clip audio (each ``[1, T]`` float32) and each clip's measurements."""

    path: str
    sample_rate: int
    spans: list[tuple[float, float]]
    pieces: list[np.ndarray]
    measured: list[Any]


def track_audio_path(track: SourceTrack, audio_folder: Path) -> str:
    """The file to read: the track's, or its bytes written into ``audio_folder`` (the partial
    build's ``audio/``, moved into the index folder at the end)."""
    if track.path is not None:
        return track.path
    audio_folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(track.key.encode()).hexdigest()[:16] + track.suffix
    target = audio_folder / name
    if not target.is_file():
        atomic_write_bytes(target, track.data or b"", fsync=True)
    return str(target)


MAX_TRACK_S = 1800.0  # seconds of one source track that are decoded and indexed


def decode_track(
    track: SourceTrack, segment_s: float, hop_s: float, audio_folder: Path
) -> DecodedTrack:
    """Read the track's audio (mono), cut it into clips and measure every clip: the part of
    indexing that needs no encoder (numpy only). At most the first :data:`MAX_TRACK_S` seconds
    are decoded, so a 3-hour file costs no more memory than a 30-minute one.

    Raises:
        MediaError: unreadable audio, or too short for one clip.
    """
    from vmb.media import read_audio

    path = track_audio_path(track, audio_folder)
    audio, sr = read_audio(path, mono=True, duration_s=MAX_TRACK_S)
    duration = audio.shape[-1] / sr
    if duration >= MAX_TRACK_S - 1e-3:
        logger.warning("%s: only the first %.0f s are indexed (vmb.retrieve.build.MAX_TRACK_S)", path, MAX_TRACK_S)
    spans = segment_track(duration, segment_s, hop_s)
    if not spans:
        raise MediaError(path, f"{duration:.2f} s of audio is too short to index")
    pieces = [audio[:, round(s * sr) : round((s + d) * sr)] for s, d in spans]
    measured = [measure_clip(p, sr) for p in pieces]
    return DecodedTrack(path, int(sr), spans, pieces, measured)


@dataclass
class BuildPlan:
    """A checked build: where it goes, what it reads, with which encoder and settings.

    Made by :func:`plan_build`; the single-process loop (:func:`build_index`) and the Ray
    engine (:mod:`vmb.engines`) both index its ``source`` tracks and hand the results to
    :func:`finish_build`, so both write the same index folder."""

    out: Path
    source: Source
    encoder: IndexEncoder
    vocab: Vocab
    settings: dict[str, Any]
    segment_s: float
    hop_s: float
    memory_budget_gb: float | None
    index_type: str
    started: float

    @property
    def tag_with_clap(self) -> bool:
        return self.encoder.kind == "clap"

    def indexer(self, audio_folder: Path) -> TrackIndexer:
        return TrackIndexer(
            self.encoder, self.vocab, self.segment_s, self.hop_s, audio_folder, self.tag_with_clap
        )


def build_index(
    source: str | os.PathLike,
    out: str | os.PathLike,
    encoder: str | IndexEncoder = "builtin",
    model: str | None = None,
    segment_s: float = 10.0,
    hop_s: float = 10.0,
    resume: bool = False,
    batch_size: int = 8,
    progress: bool = True,
    memory_budget_gb: float | None = None,
    index_type: str = "auto",
    device: str = "auto",
    console=None,
) -> IndexInfo:
    """Build an index of ``source`` into the folder ``out`` (replaced atomically if it holds an
    index).

    Args:
        source: folder of audio, CSV/JSONL manifest, saved ``datasets`` folder or hub id.
        encoder: ``builtin`` / ``clap`` (loaded with ``model``, ``device``), or an
            :class:`IndexEncoder`.
        segment_s / hop_s: clip length and hop in seconds.
        resume: continue an interrupted build of ``out`` (same source and settings).
        batch_size: clips per CLAP forward pass.
        memory_budget_gb: IVF-PQ when the flat vectors would exceed it.
        index_type: ``auto`` (the rule of :mod:`vmb.retrieve.index_type`) or a FAISS kind.
        progress: show a rich progress bar (on ``console``, default stderr).

    Returns:
        the :class:`IndexInfo` written to ``out/info.json``.

    Raises:
        IndexFileError: the source is missing or unsupported, ``out`` is not an index folder,
            or no file could be indexed (the reasons are in the message).
        UsageError: bad segment / hop, or ``resume`` with other settings.
        ModelUnavailable: CLAP weights missing.
    """
    plan = plan_build(
        source, out, encoder, model, segment_s, hop_s, batch_size, memory_budget_gb, index_type,
        device,
    )  # fmt: skip
    partial = Partial(plan.out, plan.settings, resume)
    indexer = plan.indexer(partial.audio_folder)
    results, skipped, resumed = _index_tracks(plan.source, indexer, partial, progress, console)
    return finish_build(plan, partial, results, skipped, resumed, progress=progress, console=console)


@same_parameters(build_index, drop=("resume", "progress", "console"))
def plan_build(**args: Any) -> BuildPlan:
    """Check the arguments of :func:`build_index` (all but ``resume``, ``progress`` and
    ``console``, which run the build), the output folder (``check_replaceable``: never a folder
    vmb did not write, never one holding a source file) and read the source.
    """
    source, out, encoder = args["source"], args["out"], args["encoder"]
    segment_s, hop_s, batch_size = args["segment_s"], args["hop_s"], args["batch_size"]
    memory_budget_gb, index_type = args["memory_budget_gb"], args["index_type"]
    started = time.perf_counter()
    check_segmenting(segment_s, hop_s)
    if index_type not in ("auto", *INDEX_KINDS):
        raise UsageError(f"--index-type {index_type}: unknown; use auto, {', '.join(INDEX_KINDS)}")
    if memory_budget_gb is not None and not memory_budget_gb > 0:
        raise UsageError(f"--memory-budget-gb {memory_budget_gb}: must be greater than 0")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: must be at least 1")
    out = Path(out).expanduser().resolve()
    check_replaceable(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexFileError(
            out, f"cannot create the output folder ({exc.strerror or exc})"
        ) from None
    vocab = load_vocab()
    src = read_source(source, vocab)
    local = (source,) if Path(source).expanduser().exists() else ()
    check_replaceable(out, sources=(*local, *(t.path for t in src.tracks if t.path)))
    if isinstance(encoder, str):
        encoder = load_encoder(encoder, args["model"], device=args["device"])
    if encoder.kind == "clap":
        encoder.main.batch_size = batch_size
    settings = {
        "version": PARTIAL_VERSION,
        "source": src.description,
        "encoder": encoder.id,
        "audio_encoder": encoder.audio.id,
        "segment_s": float(segment_s),
        "hop_s": float(hop_s),
    }
    return BuildPlan(
        out, src, encoder, vocab, settings, float(segment_s), float(hop_s), memory_budget_gb,
        index_type, started,
    )  # fmt: skip


def finish_build(
    plan: BuildPlan,
    partial: Partial,
    results: list[TrackResult],
    skipped: list[dict[str, str]],
    resumed: int,
    main_index=None,
    progress: bool = True,
    console=None,
    extra_notes: Sequence[str] = (),
) -> IndexInfo:
    """Turn the per-track results (in source order) into the index folder ``plan.out``.

    Caption vectors (builtin) are embedded here unless every result already holds its
    vectors. ``main_index(vectors, spec)`` builds the FAISS index of the main vectors
    (default :func:`build_faiss_index`; the Ray engine passes one that trains once and merges
    shards). ``extra_notes`` are added to the index's notes. The partial folder is removed once the
    index is written.
    """
    src, encoder, out = plan.source, plan.encoder, plan.out
    skipped = list(skipped)  # the source's own skips included
    clips = [c for r in results for c in r.clips]
    if not clips:
        partial.remove()
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:3])
        more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
        raise IndexFileError(
            src.description, f"no audio could be indexed: {reasons or 'no audio files found'}{more}"
        )

    if all(r.vectors is not None for r in results):
        vectors = np.concatenate([r.vectors for r in results]).astype(np.float32)
    else:
        vectors = _embed_captions(encoder, [c.caption for c in clips], progress, console)
    spec = choose_index_type(
        len(vectors),
        vectors.shape[1],
        plan.memory_budget_gb * 1e9 if plan.memory_budget_gb else None,
        plan.index_type,
    )
    index = (main_index or build_faiss_index)(vectors, spec)
    params = {**spec.params, **tune_search(index, vectors, spec)}
    audio_info = audio_index = None
    if encoder.separate_audio_index:
        raw = np.concatenate([r.features for r in results])
        features = FeaturesEncoder()
        stats = features.fit(raw)
        audio_vectors = features.normalize(raw)
        audio_spec = choose_index_type(len(audio_vectors), audio_vectors.shape[1])
        audio_index = build_faiss_index(audio_vectors, audio_spec)
        audio_info = {
            "encoder": features.id,
            "dim": features.dim,
            "metric": "ip",
            "file": "audio.faiss",
            "index_type": audio_spec.kind,
            "index_params": {
                **audio_spec.params,
                **tune_search(audio_index, audio_vectors, audio_spec),
            },
            "stats": stats.to_dict(),
        }

    has_source_tags = any(t.has_tags for t in src.tracks)
    tag_source = "manifest" if has_source_tags else "none"
    if plan.tag_with_clap:
        tag_source = "manifest+clap-zero-shot" if has_source_tags else "clap-zero-shot"
    notes = [f"index type: {spec.reason}"]
    if tag_source == "none":
        notes.append(
            "no genre/mood/instrument tags: the source has none and CLAP was not used; wants on them find empty partitions"
        )
    if params.get("recall_at_10", 1.0) < TARGET_RECALL:
        notes.append(
            f"index tuning reached recall@10 {params['recall_at_10']} only (target {TARGET_RECALL})"
        )
    notes.extend(extra_notes)
    if resumed:
        notes.append(f"resumed: {resumed} file(s) reused from an interrupted build")
    info = IndexInfo(
        encoder=encoder.id,
        encoder_kind=encoder.kind,
        encoder_model=getattr(encoder.main, "model_id", None),
        dim=int(vectors.shape[1]),
        count=len(clips),
        index_type=spec.kind,
        index_params=params,
        tracks=len({c.track_id for c in clips}),
        audio=audio_info,
        segment_s=plan.segment_s,
        hop_s=plan.hop_s,
        source=src.description,
        skipped=skipped,
        tag_sources={"genre": tag_source, "mood": tag_source, "instruments": tag_source},
        notes=notes,
    )
    table = clips_to_table(clips, out)
    index_obj = MusicIndex(out, info, index, table, audio_index)
    extra = {"audio": partial.audio_folder} if partial.audio_folder.is_dir() else None
    if extra:
        # clips of materialised dataset audio point into the partial folder: re-root them
        prefix = str(partial.audio_folder.resolve()) + os.sep
        index_obj.table["path"] = [
            "audio/" + p[len(prefix) :] if p.startswith(prefix) else p
            for p in index_obj.table["path"]
        ]
    info.build_time_s = round(time.perf_counter() - plan.started, 3)
    index_obj.save(out, extra_dirs=extra)
    partial.remove()
    for s in skipped:  # reported to the user through info.skipped
        logger.info("skipped %s: %s", s["path"], s["reason"])
    return info


def _embed_captions(
    encoder: IndexEncoder, captions: list[str], progress: bool, console
) -> np.ndarray:
    """Caption embeddings ``[N, D]`` of the main (text) encoder, in chunks, with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    chunk = 4096
    rows = []
    bar = Progress(
        TextColumn("embedding captions"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console or Console(stderr=True),
        disable=not progress,
        transient=True,
    )
    with bar:
        task = bar.add_task("captions", total=len(captions))
        for start in range(0, len(captions), chunk):
            rows.append(encoder.main.embed_text(captions[start : start + chunk]))
            bar.advance(task, len(rows[-1]))
    return np.concatenate(rows).astype(np.float32)


def _index_tracks(
    src: Source, indexer: TrackIndexer, partial: Partial, progress: bool, console
) -> tuple[list[TrackResult], list[dict[str, str]], int]:
    """Index every track (or reuse its record); returns results, skips (the source's own first)
    and the reused count."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    results: list[TrackResult] = []
    skipped = list(src.skipped)
    resumed = 0
    bar = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[name]}"),
        console=console or Console(stderr=True),
        disable=not progress,
        transient=True,
    )
    with bar:
        task = bar.add_task("index", total=len(src.tracks), name="")
        for track in src.tracks:
            bar.update(task, name=Path(track.path or track.key).name[:40])
            record = partial.load(track.key)
            if record is not None:
                resumed += 1
            else:
                try:
                    record = indexer(track)
                    partial.save(track.key, record)
                except MediaError as exc:
                    record = {
                        "path": exc.path if track.path else f"{src.description}[{track.key}]",
                        "reason": exc.reason,
                    }
                    partial.skip(track.key, record)
            if isinstance(record, TrackResult):
                results.append(record)
            else:
                skipped.append(record)
            bar.advance(task)
    return results, skipped, resumed
