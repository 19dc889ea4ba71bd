"""``vmb eval run``: generate for every item of a benchmark manifest, then evaluate.

A manifest is JSONL (one object a line) or CSV with these fields (paths relative to the
manifest's folder):

============  =========================================================================
``id``        the item's name (required, unique); outputs are ``<id>.vmb.wav/.mp4/.json``
``video``     a video to score (SymMV-style)
``image``     one image, or several separated by ``;`` (MUImage-style)
``text``      a text prompt (Song Describer-style)
``reference`` the reference music (for FD and KL, paired by ``id``)
``caption``   the text the CLAP score compares with (default: vmb's text bridge)
``duration``  seconds of music (default: the video's length, else the reference's, at most 30)
============  =========================================================================

Generation is skipped for an item whose ``<id>.vmb.json`` already records the same inputs,
profile and seed, so a rerun only generates what changed (and eval's cache only measures what
changed).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.errors import MediaError, OutputError, UsageError, VMBError
from vmb.eval.api import evaluate
from vmb.eval.items import items_from_pairs
from vmb.eval.report import EvalReport
from vmb.signatures import same_parameters

RUN_MARKER = ".vmb-eval-run"
MAX_DEFAULT_DURATION_S = 30.0


@dataclass
class ManifestItem:
    """One benchmark item: prompts and the reference music."""

    id: str
    video: Path | None = None
    images: list[Path] = field(default_factory=list)
    text: str | None = None
    reference: Path | None = None
    caption: str | None = None
    duration_s: float | None = None


def read_manifest(path: str | os.PathLike) -> list[ManifestItem]:
    """Items of a JSONL or CSV manifest.

    Raises:
        MediaError: a missing or unreadable manifest, a row without ``id`` or prompt, a
            duplicate id, a prompt or reference file that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "manifest does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".jsonl", ".json"):
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        else:
            raise MediaError(path, "manifest must be .jsonl or .csv")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(path, f"unreadable manifest ({exc})") from None
    base = path.parent
    items: list[ManifestItem] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        where = f"row {n}"
        if not isinstance(row, dict) or not str(row.get("id") or "").strip():
            raise MediaError(path, f"{where}: needs an id")
        item_id = str(row["id"]).strip()
        if item_id in seen:
            raise MediaError(path, f"{where}: id {item_id!r} appears twice")
        seen.add(item_id)

        def file(value, what, where=where, item_id=item_id):
            p = Path(str(value))
            p = p if p.is_absolute() else base / p
            if not p.is_file():
                raise MediaError(path, f"{where} ({item_id}): {what} {p} does not exist")
            return p

        images = row.get("image") or row.get("images") or []
        if isinstance(images, str):
            images = [s for s in images.split(";") if s.strip()]
        duration = row.get("duration") or row.get("duration_s")
        item = ManifestItem(
            id=item_id,
            video=file(row["video"], "video") if row.get("video") else None,
            images=[file(i.strip(), "image") for i in images],
            text=str(row["text"]).strip() if row.get("text") else None,
            reference=file(row["reference"], "reference") if row.get("reference") else None,
            caption=str(row["caption"]).strip() if row.get("caption") else None,
            duration_s=float(duration) if duration not in (None, "") else None,
        )
        if item.video is None and not item.images and not item.text:
            raise MediaError(path, f"{where} ({item_id}): needs a video, image or text prompt")
        items.append(item)
    if not items:
        raise MediaError(path, "the manifest has no items")
    return items


def _check_out(out: Path) -> None:
    if out.is_file():
        raise OutputError(out, "is a file; --out must be a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_MARKER).is_file():
        raise OutputError(out, "is not empty and is not an earlier vmb eval run; choose a new --out folder")


def _inputs(item: ManifestItem) -> dict:
    return {
        "video": str(item.video) if item.video else None,
        "images": [str(i) for i in item.images],
        "text": item.text,
        "references": [],
        "wants": [],
    }


def _up_to_date(json_path: Path, inputs: dict, profile: str, seed: int) -> bool:
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wav = json_path.with_name(json_path.name.replace(".vmb.json", ".vmb.wav"))
    return data.get("inputs") == inputs and data.get("profile") == profile and data.get("seed") == seed and wav.is_file()


def _duration(item: ManifestItem) -> float | None:
    if item.duration_s is not None:
        return item.duration_s
    if item.video is not None or item.reference is None:
        return None  # the pipeline's default: the video's length, else its own default
    from vmb.media import probe

    seconds = probe(item.reference).duration_s
    return min(seconds, MAX_DEFAULT_DURATION_S) if seconds else None


@same_parameters(evaluate, keep=("metrics", "models", "device", "cache_dir", "progress"))
def run_benchmark(
    manifest: str | os.PathLike,
    profile: str | None = None,
    out: str | os.PathLike = "vmb-eval-run",
    *,
    seed: int = 0,
    overrides: list[str] | None = None,
    index: str | os.PathLike | None = None,
    **measuring: Any,
) -> EvalReport:
    """Generate music for every manifest item with ``Pipeline.from_profile(profile)`` into
    ``out/generated``, evaluate it against the items' references, write ``out/report``.

    ``metrics``, ``models``, ``device``, ``cache_dir`` and ``progress`` are the parameters of
    :func:`~vmb.eval.api.evaluate`, passed on to it (``progress`` shows the generation too).

    Raises:
        MediaError: a bad manifest (see :func:`read_manifest`), or every item failed.
        OutputError: ``out`` holds files that are not an earlier run.
    """
    from rich.progress import Progress

    from vmb.eval.report import write_report
    from vmb.fileio import atomic_write_text
    from vmb.pipeline import Pipeline

    items = read_manifest(manifest)
    out = Path(out)
    _check_out(out)
    generated = out / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RUN_MARKER, "vmb eval run\n")
    pipe = Pipeline.from_profile(profile, overrides=list(overrides or ()), index=index, progress=False)
    profile_name = pipe.config.profile
    skipped: list[str] = []
    made: list[ManifestItem] = []
    reused = 0
    with Progress(transient=True, disable=not measuring["progress"]) as bar:
        task = bar.add_task("generating", total=len(items))
        for item in items:
            inputs = _inputs(item)
            json_path = generated / f"{item.id}.vmb.json"
            if _up_to_date(json_path, inputs, profile_name, seed):
                made.append(item)
                reused += 1
                bar.advance(task)
                continue
            try:
                result = pipe(video=item.video, images=item.images, text=item.text, duration_s=_duration(item), seed=seed)
                pipe.save(result, out_dir=generated, stem=item.id, video=item.video, inputs=inputs)
                made.append(item)
            except VMBError as exc:
                skipped.append(f"generated {item.id}: generation failed: {exc}")
            bar.advance(task)
    if not made:
        raise MediaError(manifest, f"no item could be generated (first: {skipped[0]})")
    refs = [(i.id, i.reference) for i in made if i.reference is not None]
    captions = {i.id: i.caption for i in made if i.caption}
    paths = []
    for i in made:
        mp4 = generated / f"{i.id}.vmb.mp4"
        paths.append(mp4 if mp4.is_file() else generated / f"{i.id}.vmb.wav")
    if measuring["metrics"] is None and not refs:
        raise UsageError(f"{manifest}: no item has a reference; name --metrics that need none (clap-score, alignment, control)")
    report = evaluate(
        [*paths, *[generated / f"{i.id}.vmb.wav" for i in made if (generated / f"{i.id}.vmb.mp4").is_file()]],
        reference=items_from_pairs(refs) if refs else None,
        captions=captions,
        **measuring,
    )
    report.skipped[:0] = skipped
    report.notes.insert(0, f"generated with profile {profile_name} (seed {seed}): {len(made) - reused} new, {reused} reused")
    report.notes[1:1] = list(pipe.notes)
    report.settings["manifest"] = str(manifest)
    report.settings["profile"] = profile_name
    return write_report(report, out / "report")
