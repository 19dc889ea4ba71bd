"""The ``vmb`` command line: thin Typer commands over the library functions.

Domain errors (:class:`~vmb.errors.VMBError`) become one line on stderr, ``error: <message>``,
and the error's exit code (1, or 2 for usage errors); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

import vmb
from vmb.errors import VMBError

console = Console()
err_console = Console(stderr=True)


class _VMBGroup(TyperGroup):
    """Turns a VMBError raised by any command into ``error: ...`` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VMBError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            # typer >= 0.2x vendors click: only typer.Exit ends quietly with a code.
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_VMBGroup,
    name="vmb",
    help="Visuals Music Bridge: music for video, images and text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.print(f"vmb {vmb.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command()
def probe(
    path: Annotated[str, typer.Argument(help="A video, image or audio file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print what a media file holds: duration, streams, size, frame rate, sample rate."""
    from vmb.media import probe as probe_media

    info = probe_media(path)
    if as_json:
        print_json(info.to_dict())
        return
    console.print(info.summary(), markup=False, highlight=False, soft_wrap=True)


@app.command()
def describe(
    video: Annotated[str | None, typer.Option("--video", help="A video file.")] = None,
    image: Annotated[list[str] | None, typer.Option("--image", help="An image file (repeatable).")] = None,
    text: Annotated[str | None, typer.Option("--text", help='Your words, e.g. "sad piano at 70 bpm".')] = None,
    describer: Annotated[
        str | None, typer.Option("--describer", help="vlm (neural) or visual (built-in); default from the config.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="VLM hub id or local folder.")] = None,
    frames: Annotated[int | None, typer.Option("--frames", help="Frames sampled from the video.")] = None,
    config_file: Annotated[str | None, typer.Option("--config", help="A YAML config file.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe the music for a video, images and/or text (the text bridge)."""
    from vmb.config import load_config
    from vmb.describe import DESCRIBERS
    from vmb.describe import describe as describe_inputs
    from vmb.errors import UsageError

    if video is None and not image and not (text and text.strip()):
        raise UsageError("vmb describe: give at least one of --video, --image or --text")
    settings = list(overrides or ())
    if frames is not None:
        if frames < 1:
            raise UsageError(f"--frames {frames}: must be at least 1")
        settings.append(f"describer.num_frames={frames}")
    config = load_config(config_file, overrides=settings)
    kind = describer or config.describer.kind
    if kind not in DESCRIBERS:
        raise UsageError(f"--describer {kind}: use one of {', '.join(DESCRIBERS)}")
    result = describe_inputs(video, image or (), text, describer=kind, config=config, model=model)
    if as_json:
        print_json(result.to_dict())
        return
    from rich.table import Table

    console.print(result.text or "(no sentence)", markup=False, highlight=False, soft_wrap=True)
    table = Table(show_header=False, box=None, pad_edge=False)
    for name, value in result.to_dict().items():
        if name == "text":
            continue
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        table.add_row(name, "-" if value in (None, "") else str(value))
    console.print(table)


from vmb.retrieve.cli import index_app, retrieve  # noqa: E402  (music bridge commands)

app.add_typer(index_app, name="index")
app.command()(retrieve)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="vmb")


if __name__ == "__main__":
    main()
