"""``vmb probe``: what a media file holds."""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import JsonOpt, print_result


def probe(
    path: Annotated[str, typer.Argument(help="A video, image or audio file.")],
    as_json: JsonOpt = False,
) -> None:
    """Print what a media file holds: duration, streams, size, frame rate, sample rate."""
    from vmb.media import probe as probe_media

    info = probe_media(path)
    print_result(info.to_dict(), as_json, [info.summary()])


def register(app: typer.Typer) -> None:
    app.command()(probe)
