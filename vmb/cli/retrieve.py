"""``vmb retrieve``: the music bridge on its own.

The describer and the retriever are assembled by :func:`vmb.describe.describe` and
:func:`vmb.components.load_retriever`, the functions :class:`~vmb.pipeline.Pipeline` uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vmb.cli.app import (
    ConfigOpt,
    DescriberOpt,
    ImageOpt,
    JsonOpt,
    ReferenceOpt,
    SetOpt,
    WantOpt,
    console,
    has_input,
    load_cli_config,
    print_json,
    say,
    say_notes,
)


def retrieve(
    text: Annotated[str | None, typer.Option("--text", help="A description of the music.")] = None,
    video: Annotated[str | None, typer.Option("--video", help="Describe this video and search with it.")] = None,
    image: ImageOpt = None,
    want: WantOpt = None,
    reference: ReferenceOpt = None,
    index_path: Annotated[str | None, typer.Option("--index", help="Index folder, or demo (default: index.path of the config).")] = None,
    k: Annotated[int | None, typer.Option("-k", help="Hits per track (broad and targeted).")] = None,
    encoder: Annotated[str | None, typer.Option("--encoder", help="clap or builtin (default: the index's).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="CLAP hub id or local folder (default: the index's).")] = None,
    describer: DescriberOpt = None,
    allow_same_track: Annotated[bool, typer.Option("--allow-same-track", help="Allow several clips of one track.")] = False,
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch reference music: pinned files, broad and targeted hits from an index."""
    from vmb.components import load_retriever
    from vmb.errors import UsageError
    from vmb.vocab import parse_wants

    if not has_input(video, image, text, reference):
        raise UsageError("vmb retrieve: give --text, --video, --image or --reference")
    if k is not None and k < 1:
        raise UsageError(f"-k {k}: must be at least 1")
    config = load_cli_config(
        config_file,
        overrides,
        index__path=index_path,
        retrieval__allow_same_track=True if allow_same_track else None,
    )
    wants = parse_wants(list(want or ()))
    retriever, notes = load_retriever(config, encoder=encoder, model=model, progress=not as_json)
    description: Any = text.strip() if text and text.strip() else None
    if video is not None or image:
        from vmb.describe import describe

        description = describe(video, image or (), description, describer=describer or config.describer.kind,
                               config=config, wants=wants)  # fmt: skip
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
        data["index"] = str(retriever.index.path)
        print_json(data)
        return
    from rich.table import Table

    say(f"query: {result.text or '(by sound of the references)'}")
    table = Table(box=None, pad_edge=False)
    for column in ("track", "#", "score", "clip", "start", "caption"):
        table.add_column(column)
    for h in result:
        table.add_row(h.track, str(h.rank), f"{h.score:.3f}", Path(h.clip.path).name,
                      f"{h.clip.start_s:g} s", h.clip.caption)  # fmt: skip
    console.print(table)
    say_notes([*notes, *result.notes])


def register(app: typer.Typer) -> None:
    app.command()(retrieve)
