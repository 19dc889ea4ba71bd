"""``vmb index build``, ``vmb index info`` and ``vmb index demo``: the music bridge's library.

The work is done by :func:`vmb.retrieve.build_index`, :class:`vmb.retrieve.MusicIndex` and
:func:`vmb.library.ensure_demo_index`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import (
    ConfigOpt,
    JsonOpt,
    SetOpt,
    err_console,
    group,
    load_cli_config,
    print_json,
    print_table,
    say,
    say_notes,
)

index_app = group("Build and inspect music indexes (the music bridge's library).")


@index_app.command("build")
def index_build(
    source: Annotated[str, typer.Argument(help="A folder of audio, a CSV/JSONL manifest, or a saved datasets folder.")],
    out: Annotated[str, typer.Option("--out", "-o", help="The index folder to write, e.g. index/mine.")],
    encoder: Annotated[str | None, typer.Option("--encoder", help="clap or builtin (default from the config).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="CLAP hub id or local folder.")] = None,
    segment_s: Annotated[float, typer.Option("--segment-s", help="Clip length in seconds.")] = 10.0,
    hop_s: Annotated[float, typer.Option("--hop-s", help="Seconds between clip starts.")] = 10.0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted build of --out.")] = False,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Clips per CLAP forward pass.")] = None,
    memory_budget_gb: Annotated[float | None, typer.Option("--memory-budget-gb", help="Use IVF-PQ when flat vectors exceed this.")] = None,
    index_type: Annotated[str, typer.Option("--index-type", help="auto, flat, hnsw, ivf_flat or ivf_pq.")] = "auto",
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
    # --- where it runs (vmb.engines.build_index_distributed) ---
    engine: Annotated[str, typer.Option("--engine", help="local (one process) or ray (Ray Data: decode tasks, encoder actors, shards).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray: auto, ray://HOST:PORT or HOST:PORT (default: a local runtime).")] = None,
    shards: Annotated[int | None, typer.Option("--shards", help="Ray: shards the tracks are split into (the unit of --resume; default min(16, tracks)).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Ray: encoder actors (default: one per GPU, else sized to the CPUs).")] = None,
) -> None:
    """Index the music of SOURCE: clips, attributes, embeddings, FAISS index."""
    from vmb.errors import UsageError
    from vmb.retrieve.build import build_index

    config = load_cli_config(config_file, overrides)
    kind = encoder or config.encoder.kind
    if kind not in ("clap", "builtin"):
        raise UsageError(f"--encoder {kind}: use clap or builtin")
    if model is not None and kind != "clap":
        raise UsageError("--model: only for --encoder clap")
    if engine not in ("local", "ray"):
        raise UsageError(f"--engine {engine}: use local or ray")
    if engine == "local" and (address is not None or shards is not None or workers is not None):
        raise UsageError("--address/--shards/--workers: only with --engine ray")
    common = {
        "encoder": kind,
        "model": model or (config.encoder.model if kind == "clap" else None),
        "segment_s": segment_s,
        "hop_s": hop_s,
        "resume": resume,
        "batch_size": batch_size or config.encoder.batch_size,
        "progress": True,
        "memory_budget_gb": memory_budget_gb,
        "index_type": index_type,
        "device": config.device,
        "console": err_console,
    }
    if engine == "ray":
        from vmb.engines import build_index_distributed

        info = build_index_distributed(source, out, address=address, shards=shards, workers=workers, **common)
    else:
        info = build_index(source, out, **common)
    if as_json:
        print_json({"path": out, **info.to_dict()})
        return
    say(
        f"indexed {info.count} clips of {info.tracks} tracks into {out} "
        f"({info.encoder}, {info.index_type}) in {info.build_time_s:.1f} s"
    )
    say_notes(info.notes)
    if info.skipped:
        say(f"skipped {len(info.skipped)} file(s):")
        for s in info.skipped:
            say(f"  {s['path']}: {s['reason']}")


@index_app.command("info")
def index_info(
    path: Annotated[str, typer.Argument(help="An index folder, or demo (the demo library).")],
    as_json: JsonOpt = False,
) -> None:
    """Counts, encoder, index type and attribute histograms of an index."""
    from vmb.library import resolve_index_path
    from vmb.retrieve.store import MusicIndex

    index = MusicIndex.load(resolve_index_path(path))
    info = index.info.to_dict()
    info.pop("files", None)
    if info.get("audio"):
        info["audio"] = {k: v for k, v in info["audio"].items() if k != "stats"}
    histograms = index.histograms()
    if as_json:
        print_json({"path": str(index.path), **info, "histograms": histograms})
        return
    rows = [
        ("path", str(index.path)),
        ("clips", str(info["count"])),
        ("tracks", str(info["tracks"])),
        (
            "encoder",
            f"{info['encoder']} ({info['encoder_kind']}, dim {info['dim']}, {info['metric']})",
        ),
        (
            "audio vectors",
            f"{info['audio']['encoder']} (dim {info['audio']['dim']})"
            if info.get("audio")
            else "-",
        ),
        ("index type", f"{info['index_type']} {info['index_params']}"),
        ("segments", f"{info['segment_s']:g} s every {info['hop_s']:g} s"),
        ("built", f"{info['created']} in {info['build_time_s']:.1f} s, vmb {info['vmb_version']}"),
        ("source", info["source"]),
        ("skipped files", str(len(info["skipped"]))),
        ("tags from", ", ".join(f"{k}: {v}" for k, v in info["tag_sources"].items())),
    ]
    for name, counts in histograms.items():
        rows.append((name, ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))
    print_table(rows)


@index_app.command("demo")
def index_demo(
    out: Annotated[str | None, typer.Option("--out", help="Where the demo index goes (default: the data home, see vmb.home).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Render and index again.")] = False,
    renderer: Annotated[str, typer.Option("--renderer", help="auto, fluidsynth or numpy.")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Render the demo library (music21 corpus) and index it (built-in encoders)."""
    from vmb.library import demo_index_path, ensure_demo_index
    from vmb.retrieve import MusicIndex

    path = out or demo_index_path()
    notes = ensure_demo_index(path, progress=not as_json, rebuild=rebuild, renderer=renderer)
    index = MusicIndex.load(path)
    if as_json:
        print_json({"path": str(path), "clips": len(index), "notes": notes, "info": index.info.to_dict()})
        return
    say_notes(notes, stderr=True)
    say(f"demo index: {path} ({len(index)} clips)")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
