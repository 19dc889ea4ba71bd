"""The ``vmb index build``, ``vmb index info`` and ``vmb retrieve`` commands.

Registered on the root app in :mod:`vmb.cli`; the work is done by :func:`build_index`,
:class:`MusicIndex` and :class:`Retriever`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

index_app = typer.Typer(
    help="Build and inspect music indexes (the music bridge's library).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigOpt = Annotated[str | None, typer.Option("--config", help="A YAML config file.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_json(data: Any) -> None:
    from vmb.cli import print_json

    print_json(data)


def _config(config_file: str | None, overrides: list[str] | None):
    from vmb.config import load_config

    return load_config(config_file, overrides=list(overrides or ()))


@index_app.command("build")
def index_build(
    source: Annotated[
        str,
        typer.Argument(help="A folder of audio, a CSV/JSONL manifest, or a saved datasets folder."),
    ],
    out: Annotated[
        str, typer.Option("--out", "-o", help="The index folder to write, e.g. index/mine.")
    ],
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="clap or builtin (default from the config).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="CLAP hub id or local folder.")
    ] = None,
    segment_s: Annotated[float, typer.Option("--segment-s", help="Clip length in seconds.")] = 10.0,
    hop_s: Annotated[float, typer.Option("--hop-s", help="Seconds between clip starts.")] = 10.0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted build of --out.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Clips per CLAP forward pass.")
    ] = None,
    memory_budget_gb: Annotated[
        float | None,
        typer.Option("--memory-budget-gb", help="Use IVF-PQ when flat vectors exceed this."),
    ] = None,
    index_type: Annotated[
        str, typer.Option("--index-type", help="auto, flat, hnsw, ivf_flat or ivf_pq.")
    ] = "auto",
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index the music of SOURCE: clips, attributes, embeddings, FAISS index."""
    from vmb.errors import UsageError
    from vmb.retrieve.build import build_index

    config = _config(config_file, overrides)
    kind = encoder or config.encoder.kind
    if kind not in ("clap", "builtin"):
        raise UsageError(f"--encoder {kind}: use clap or builtin")
    if model is not None and kind != "clap":
        raise UsageError("--model: only for --encoder clap")
    info = build_index(
        source,
        out,
        encoder=kind,
        model=model or (config.encoder.model if kind == "clap" else None),
        segment_s=segment_s,
        hop_s=hop_s,
        resume=resume,
        batch_size=batch_size or config.encoder.batch_size,
        progress=True,
        memory_budget_gb=memory_budget_gb,
        index_type=index_type,
        device=config.device,
        console=err_console,
    )
    if as_json:
        _print_json({"path": out, **info.to_dict()})
        return
    console.print(
        f"indexed {info.count} clips of {info.tracks} tracks into {out} "
        f"({info.encoder}, {info.index_type}) in {info.build_time_s:.1f} s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for note in info.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if info.skipped:
        console.print(f"skipped {len(info.skipped)} file(s):", markup=False, highlight=False)
        for s in info.skipped:
            console.print(
                f"  {s['path']}: {s['reason']}", markup=False, highlight=False, soft_wrap=True
            )


@index_app.command("info")
def index_info(
    path: Annotated[str, typer.Argument(help="An index folder.")],
    as_json: JsonOpt = False,
) -> None:
    """Counts, encoder, index type and attribute histograms of an index."""
    from vmb.retrieve.store import MusicIndex

    index = MusicIndex.load(path)
    info = index.info.to_dict()
    info.pop("files", None)
    if info.get("audio"):
        info["audio"] = {k: v for k, v in info["audio"].items() if k != "stats"}
    histograms = index.histograms()
    if as_json:
        _print_json({"path": str(index.path), **info, "histograms": histograms})
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
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
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def retrieve(
    text: Annotated[str | None, typer.Option("--text", help="A description of the music.")] = None,
    video: Annotated[
        str | None, typer.Option("--video", help="Describe this video and search with it.")
    ] = None,
    image: Annotated[
        list[str] | None, typer.Option("--image", help="Describe this image (repeatable).")
    ] = None,
    want: Annotated[
        list[str] | None,
        typer.Option("--want", help="Targeted attribute key=value (repeatable), e.g. tempo=fast."),
    ] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option("--reference", help="Pin a reference audio file (repeatable)."),
    ] = None,
    index_path: Annotated[
        str | None,
        typer.Option("--index", help="Index folder (default: index.path of the config)."),
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", help="Hits per track (broad and targeted).")
    ] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="clap or builtin (default: the index's).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="CLAP hub id or local folder (default: the index's)."),
    ] = None,
    describer: Annotated[
        str | None, typer.Option("--describer", help="For --video/--image: vlm or visual.")
    ] = None,
    allow_same_track: Annotated[
        bool, typer.Option("--allow-same-track", help="Allow several clips of one track.")
    ] = False,
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch reference music: pinned files, broad and targeted hits from an index."""
    from vmb.errors import UsageError
    from vmb.retrieve.encoders.base import load_encoder
    from vmb.retrieve.search import Retriever
    from vmb.retrieve.store import MusicIndex
    from vmb.vocab import parse_wants

    if not (text and text.strip()) and video is None and not image and not reference:
        raise UsageError("vmb retrieve: give --text, --video, --image or --reference")
    if k is not None and k < 1:
        raise UsageError(f"-k {k}: must be at least 1")
    config = _config(config_file, overrides)
    wants = parse_wants(list(want or ()))
    index = MusicIndex.load(index_path or config.index.path)
    description: Any = text.strip() if text and text.strip() else None
    if video is not None or image:
        from vmb.describe import describe

        description = describe(
            video,
            image or (),
            description,
            describer=describer or config.describer.kind,
            config=config,
        )
    if encoder is not None or model is not None:
        kind = encoder or index.info.encoder_kind
        chosen = load_encoder(
            kind,
            model
            if model is not None
            else (index.info.encoder_model if kind == index.info.encoder_kind else None),
            device=config.device,
        )
    else:
        chosen = None
    retriever = Retriever(
        index,
        chosen,
        allow_same_track=allow_same_track or config.retrieval.allow_same_track,
        device=config.device,
    )
    result = retriever.search(
        description,
        wants,
        pinned=list(reference or ()),
        k_broad=k or config.retrieval.k_broad,
        k_targeted=k or config.retrieval.k_targeted,
    )
    if as_json:
        data = result.to_dict()
        if description is not None and not isinstance(description, str):
            data["description"] = description.to_dict()
        data["index"] = str(index.path)
        _print_json(data)
        return
    from rich.table import Table

    console.print(
        f"query: {result.text or '(by sound of the references)'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(box=None, pad_edge=False)
    for column in ("track", "#", "score", "clip", "start", "caption"):
        table.add_column(column)
    for h in result:
        table.add_row(
            h.track,
            str(h.rank),
            f"{h.score:.3f}",
            Path(h.clip.path).name,
            f"{h.clip.start_s:g} s",
            h.clip.caption,
        )
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
