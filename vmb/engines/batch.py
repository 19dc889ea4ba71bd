"""``run_batch``: ``vmb generate --batch MANIFEST --out DIR [--engine local|ray] [--resume]``.

Every item of the manifest (:mod:`vmb.engines.batch_items`) is made with a
:class:`~vmb.pipeline.Pipeline` loaded once per worker, never once per item:

* ``engine="local"`` — one Pipeline in this process, the items one after another;
* ``engine="ray"`` — ``workers`` Ray actors (a local runtime, or ``address``), each holding one
  Pipeline; the items are handed to whichever actor is free. Each actor takes half a CPU on a
  small machine (see :func:`vmb.engines.runtime.actor_shape`).

The output folder holds ``items/<id>/`` (each item's ``.vmb.wav``/``.mp4``/``.json``),
``summary.json`` (counts, items/s, every item's status) and ``status.csv`` (the same table),
both rewritten atomically after every item. A bad item is ``failed`` with its error and the
others go on. ``resume=True`` skips the items whose result JSON exists (they are ``finished``)
and runs the failed and missing ones again; without it, a folder that already holds a batch is
refused rather than overwritten.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.engines.batch_items import BatchItem, ItemStatus, read_batch, run_item
from vmb.errors import OutputError, UsageError
from vmb.fileio import atomic_write_json, atomic_write_text

SUMMARY_FILE = "summary.json"
STATUS_FILE = "status.csv"
BATCH_ENTRIES = {SUMMARY_FILE, STATUS_FILE, "items"}
ENGINES = ("local", "ray")


@dataclass
class BatchResult:
    """The outcome of a batch: every item's :class:`ItemStatus` (manifest order) and the
    counts; ``failed > 0`` means the command exits 1."""

    out: Path
    engine: str
    workers: int
    statuses: list[ItemStatus]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(s.status == status for s in self.statuses)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def to_dict(self) -> dict[str, Any]:
        ran = self.count("done") + self.failed
        return {
            "vmb_batch": 1,
            "engine": self.engine,
            "workers": self.workers,
            "total": len(self.statuses),
            "done": self.count("done"),
            "finished_before": self.count("finished"),
            "failed": self.failed,
            "pending": self.count("pending"),
            "seconds": round(self.seconds, 3),
            "items_per_s": round(ran / self.seconds, 4) if self.seconds > 0 else None,
            "notes": self.notes,
            "items": [s.to_dict() for s in self.statuses],
        }


def check_batch_folder(out: Path, resume: bool) -> None:
    """``out`` may be absent, empty, or (with ``resume``) a batch folder vmb wrote; anything else
    is refused, so no file vmb did not write is ever replaced."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(out, "exists and is not a folder; choose another --out")
    entries = {e.name for e in out.iterdir()}
    if not entries:
        return
    if not (out / SUMMARY_FILE).is_file() or not entries <= BATCH_ENTRIES:
        other = sorted(entries - BATCH_ENTRIES) or [SUMMARY_FILE + " missing"]
        raise OutputError(
            out, f"not an empty folder nor a vmb batch ({other[0]!r}); choose another --out"
        )
    if not resume:
        raise OutputError(
            out, "holds a batch already; pass --resume to finish it, or choose another --out"
        )


def write_status(result: BatchResult) -> None:
    """``summary.json`` and ``status.csv``, each replaced atomically."""
    data = result.to_dict()
    atomic_write_json(result.out / SUMMARY_FILE, data)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "status", "seconds", "json", "error"])
    for s in result.statuses:
        writer.writerow([s.id, s.status, s.seconds, s.json, s.error])
    atomic_write_text(result.out / STATUS_FILE, buffer.getvalue())


def run_batch(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    engine: str = "local",
    resume: bool = False,
    config: str | os.PathLike | None = None,
    profile: str | None = None,
    overrides: Sequence[str] = (),
    index: str | os.PathLike | None = None,
    address: str | None = None,
    workers: int | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
    console=None,
) -> BatchResult:
    """Make the music of every item of ``manifest`` into ``out`` (see the module docstring).

    Args:
        engine: ``local`` (this process) or ``ray``.
        resume: skip finished items, retry failed ones (``out`` must be this batch's folder).
        config / profile / overrides / index: the Pipeline every worker loads
            (:meth:`Pipeline.load`).
        address / workers / num_cpus: Ray only: where to run (``None``: a local runtime of
            ``num_cpus`` CPUs), and how many Pipeline actors (default
            :func:`~vmb.engines.runtime.actor_shape`).

    Returns:
        the :class:`BatchResult` also written to ``out/summary.json``.

    Raises:
        UsageError: a bad manifest or engine; OutputError: ``out`` is not this batch's folder
        (nothing is run then).
    """
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine}: use local or ray")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    if engine == "local" and (address is not None or (workers or 1) > 1):
        raise UsageError("--address and --workers: only with --engine ray")
    items = read_batch(manifest)
    out = Path(out).expanduser().resolve()
    check_batch_folder(out, resume)
    (out / "items").mkdir(parents=True, exist_ok=True)
    statuses = {
        it.id: (
            ItemStatus(it.id, "finished", json=str(it.result_json(out)), where=it.where)
            if resume and it.finished(out)
            else ItemStatus(it.id, "pending", where=it.where)
        )
        for it in items
    }
    todo = [it for it in items if statuses[it.id].status == "pending"]
    result = BatchResult(out, engine, 1, list(statuses.values()), 0.0)
    if resume and len(todo) < len(items):
        result.notes.append(f"resumed: {len(items) - len(todo)} finished item(s) kept")
    started = time.perf_counter()

    def record(status: ItemStatus) -> None:
        statuses[status.id] = status
        result.statuses = list(statuses.values())
        result.seconds = time.perf_counter() - started
        write_status(result)

    write_status(result)
    load = {"config": config, "profile": profile, "overrides": list(overrides), "index": index}
    with _progress(len(todo), progress, console) as advance:
        if todo and engine == "local":
            _run_local(todo, out, load, lambda s: (record(s), advance()))
        elif todo:
            result.workers = _run_ray(todo, out, load, address, workers, num_cpus,
                                      lambda s: (record(s), advance()))  # fmt: skip
    result.seconds = time.perf_counter() - started
    write_status(result)
    return result


def _load_pipeline(load: dict[str, Any]):
    from vmb.pipeline import Pipeline

    return Pipeline.load(load["config"], load["profile"], overrides=load["overrides"],
                         index=load["index"])  # fmt: skip


def _run_local(todo: list[BatchItem], out: Path, load: dict[str, Any], record) -> None:
    pipe = _load_pipeline(load)  # once for the whole batch
    for item in todo:
        record(run_item(pipe, item, out))


class BatchWorker:
    """A Ray actor holding one Pipeline (loaded once, in the actor's process)."""

    def __init__(self, load: dict[str, Any]):
        import faiss

        faiss.omp_set_num_threads(1)
        self.pipe = _load_pipeline(load)

    def run(self, item: BatchItem, out: str) -> ItemStatus:
        return run_item(self.pipe, item, Path(out))


def _run_ray(todo, out: Path, load, address, workers, num_cpus, record) -> int:
    """Hand the items to Pipeline actors as they become free; returns the actor count."""
    from vmb.engines.runtime import actor_shape, ray_runtime

    with ray_runtime(address, num_cpus) as ray:
        shape = actor_shape(workers, use_gpus=True)
        count = min(shape.count, len(todo))
        actor_cls = ray.remote(num_cpus=shape.num_cpus, num_gpus=shape.num_gpus or None)(
            BatchWorker
        )
        actors = [actor_cls.remote(load) for _ in range(count)]
        queue = list(todo)
        running: dict[Any, tuple[Any, BatchItem]] = {}

        def submit(actor) -> None:
            if queue:
                item = queue.pop(0)
                running[actor.run.remote(item, str(out))] = (actor, item)

        for actor in actors:
            submit(actor)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            actor, item = running.pop(ready[0])
            try:
                status = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # the actor died or could not load
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "worker failed"
                status = ItemStatus(item.id, "failed", error=f"worker: {first[:400]}",
                                    where=item.where)  # fmt: skip
                if isinstance(exc, ray.exceptions.RayActorError):
                    actor = actor_cls.remote(load)
            record(status)
            submit(actor)
        return count


class _progress:
    """A rich progress bar over the items to run; ``advance()`` moves it."""

    def __init__(self, total: int, enabled: bool, console):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                            console=console or Console(stderr=True), disable=not enabled,
                            transient=True)  # fmt: skip
        self.total = total

    def __enter__(self):
        self.bar.__enter__()
        task = self.bar.add_task("batch", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


def status_rows(result: BatchResult) -> list[tuple[str, str, str, str]]:
    """``(id, status, seconds, error or json)`` per item, for the command's table."""
    return [
        (s.id, s.status, f"{s.seconds:.1f}", s.error or (Path(s.json).name if s.json else ""))
        for s in result.statuses
    ]


__all__ = ["BatchResult", "check_batch_folder", "run_batch", "status_rows"]
