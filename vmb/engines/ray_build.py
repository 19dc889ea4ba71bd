"""``build_index_distributed``: ``vmb index build --engine ray``.

The same build as :func:`vmb.retrieve.build.build_index`, with the per-track work on Ray:

1. the driver checks the arguments and the output folder and reads the source
   (:func:`~vmb.retrieve.build.plan_build`: the same ``check_replaceable`` rules), and splits
   the tracks into ``shards`` runs (:func:`~vmb.engines.shards.shard_bounds`);
2. a Ray Data pipeline over the tracks of the unfinished shards: **decode** (read, decode,
   cut into clips, measure; stateless tasks of half a CPU) → **embed** (a pool of stateful actors, each
   loading the encoder once: CLAP audio vectors, or the builtin caption vectors and measured
   features; one GPU per actor when the cluster has GPUs);
3. the driver collects the rows and writes each shard as soon as all its tracks are back
   (:class:`~vmb.engines.shards.ShardStore`): a killed build resumes from those shards;
4. :func:`~vmb.retrieve.build.finish_build` writes the index folder as the single-process
   build does, with the main FAISS index trained once and filled per shard on Ray and merged
   (:func:`~vmb.engines.faiss_shards.build_sharded_index`).

On a cluster, SOURCE and the parent folder of ``--out`` must be on storage every node sees
(the workers read the audio by path; audio held as bytes in a dataset is written next to the
output by the workers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vmb.engines.runtime import actor_shape, ray_runtime
from vmb.engines.shards import ShardRecord, ShardStore, shard_bounds
from vmb.errors import MediaError, UsageError
from vmb.retrieve.build import (
    Partial,
    TrackResult,
    build_index,
    decode_track,
    finish_build,
    plan_build,
)
from vmb.retrieve.store import IndexInfo
from vmb.signatures import same_parameters

DEFAULT_SHARDS = 16


def _skip_record(exc: MediaError, track, description: str) -> dict[str, str]:
    return {
        "path": exc.path if track.path else f"{description}[{track.key}]",
        "reason": exc.reason,
    }


def decode_row(
    row: dict[str, Any], segment_s: float, hop_s: float, audio_folder: str, description: str
) -> dict[str, Any]:
    """Ray Data task: a track row → its decoded clips (or the reason it is skipped)."""
    track = row["track"]
    try:
        decoded, skip = decode_track(track, segment_s, hop_s, Path(audio_folder)), ""
    except MediaError as exc:
        decoded, skip = None, json.dumps(_skip_record(exc, track, description))
    return {"shard": row["shard"], "order": row["order"], "track": row["track"],
            "decoded": decoded, "skip": skip}  # fmt: skip


class EmbedStage:
    """Ray Data actor: loads the index encoder once, then turns decoded tracks into
    :class:`TrackResult` rows with their main vectors (caption vectors for builtin)."""

    def __init__(self, kind: str, model: str | None, device: str, settings: dict[str, Any]):
        import faiss

        from vmb.retrieve.build import TrackIndexer
        from vmb.retrieve.encoders.base import load_encoder
        from vmb.vocab import load_vocab

        faiss.omp_set_num_threads(1)
        encoder = load_encoder(kind, model, device=device)
        if kind == "clap":
            encoder.main.batch_size = settings["batch_size"]
        self.encoder = encoder
        self.indexer = TrackIndexer(
            encoder, load_vocab(), settings["segment_s"], settings["hop_s"],
            Path(settings["audio_folder"]), kind == "clap",
        )  # fmt: skip

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {"shard": row["shard"], "order": row["order"], "result": None, "skip": row["skip"]}
        if row["skip"]:
            return out
        result = self.indexer.embed(row["track"], row["decoded"])
        if result.vectors is None:  # builtin: the caption vectors, here rather than at the end
            captions = [c.caption for c in result.clips]
            result.vectors = self.encoder.main.embed_text(captions).astype("float32")
        out["result"] = result
        return out


@same_parameters(build_index)
def build_index_distributed(
    *,
    address: str | None = None,
    shards: int | None = None,
    workers: int | None = None,
    num_cpus: int | None = None,
    **arguments: Any,
) -> IndexInfo:
    """Build the index of ``source`` into ``out`` on Ray (see the module docstring).

    Takes the arguments of :func:`vmb.retrieve.build.build_index` (the settings checked by
    :func:`~vmb.retrieve.build.plan_build` alike; ``resume``, ``progress``, ``console``), and:

    Args:
        address: ``None`` (a local Ray runtime of ``num_cpus`` CPUs, default all), ``auto``
            (the cluster of ``ray start --head`` on this machine), ``ray://HOST:PORT`` or
            ``HOST:PORT``.
        shards: how many shards the tracks are split into (default ``min(16, tracks)``); the
            unit of resume.
        workers: encoder actors (default: one per GPU, else :func:`actor_shape`'s rule).

    Returns:
        the :class:`IndexInfo` of ``out/info.json`` (the same contract as ``build_index``).
    """
    if shards is not None and shards < 1:
        raise UsageError(f"--shards {shards}: must be at least 1")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    resume, progress, console = (arguments.pop(k) for k in ("resume", "progress", "console"))
    plan = plan_build(**arguments)
    tracks = plan.source.tracks
    count = max(1, min(shards or DEFAULT_SHARDS, len(tracks) or 1))
    settings = {**plan.settings, "engine": "ray", "shards": count}
    partial = Partial(plan.out, settings, resume)
    store = ShardStore(partial.folder)
    bounds = shard_bounds(len(tracks), count)
    pending = [s for s in range(count) if not store.done(s)]
    resumed = count - len(pending)
    with ray_runtime(address, num_cpus) as ray:
        if pending:
            _run_pipeline(ray, plan, partial, store, bounds, pending, workers, progress, console)
        records = [store.load(s) for s in range(count)]
        results: list[TrackResult] = [r for rec in records for r in rec.results]
        skipped = [*plan.source.skipped, *(s for rec in records for s in rec.skipped)]
        shard_rows = [0]
        for rec in records:
            shard_rows.append(shard_rows[-1] + sum(len(r.clips) for r in rec.results))

        def main_index(vectors, spec):
            from vmb.engines.faiss_shards import build_sharded_index

            return build_sharded_index(vectors, spec, shard_rows)

        notes = [f"built on Ray: {count} shard(s)"]
        if resumed:
            notes.append(f"resumed: {resumed} shard(s) reused from an interrupted build")
        return finish_build(plan, partial, results, skipped, 0, main_index=main_index,
                            progress=progress, console=console, extra_notes=notes)  # fmt: skip


def _run_pipeline(ray, plan, partial, store, bounds, pending, workers, progress, console) -> None:
    """Decode and embed the tracks of the ``pending`` shards; write each shard when complete."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    shape = actor_shape(workers, use_gpus=plan.encoder.kind == "clap")  # MiniLM stays on CPUs
    encoder = plan.encoder
    device = shape.device if plan.encoder.kind == "clap" else "cpu"
    settings = {
        "segment_s": plan.segment_s,
        "hop_s": plan.hop_s,
        "audio_folder": str(partial.audio_folder),
        "batch_size": getattr(encoder.main, "batch_size", 8),
    }
    model = getattr(encoder.main, "model_id", None) if encoder.kind == "clap" else None
    tracks = plan.source.tracks
    items = [
        {"shard": s, "order": i, "track": tracks[i]}
        for s in pending
        for i in range(bounds[s], bounds[s + 1])
    ]
    waiting = {s: bounds[s + 1] - bounds[s] for s in pending}
    got: dict[int, dict[int, dict[str, Any]]] = {s: {} for s in pending}
    for s in [s for s, n in waiting.items() if n == 0]:
        store.save(s, [], ShardRecord([], []))
    if not items:
        return
    import ray.data

    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    ds = ds.map(
        decode_row,
        fn_kwargs={
            "segment_s": plan.segment_s,
            "hop_s": plan.hop_s,
            "audio_folder": str(partial.audio_folder),
            "description": plan.source.description,
        },
        num_cpus=0.5,
    )
    ds = ds.map(
        EmbedStage,
        fn_constructor_args=(encoder.kind, model, device, settings),
        compute=ray.data.ActorPoolStrategy(size=shape.count),
        num_cpus=shape.num_cpus,
        num_gpus=shape.num_gpus or None,
    )
    bar = Progress(TextColumn("indexing on Ray"), BarColumn(), MofNCompleteColumn(),
                   console=console or Console(stderr=True), disable=not progress,
                   transient=True)  # fmt: skip
    with bar:
        task = bar.add_task("index", total=len(items))
        for row in ds.iter_rows():
            shard, order = int(row["shard"]), int(row["order"])
            got[shard][order] = row
            bar.advance(task)
            if len(got[shard]) == waiting[shard]:
                _save_shard(store, shard, tracks, bounds, got.pop(shard))


def _save_shard(store: ShardStore, shard: int, tracks, bounds, rows: dict[int, dict]) -> None:
    results, skipped = [], []
    for order in range(bounds[shard], bounds[shard + 1]):
        row = rows[order]
        if row["skip"]:
            skipped.append(json.loads(row["skip"]))
        else:
            results.append(row["result"])
    keys = [tracks[i].key for i in range(bounds[shard], bounds[shard + 1])]
    store.save(shard, keys, ShardRecord(results, skipped))


__all__ = ["DEFAULT_SHARDS", "build_index_distributed"]
