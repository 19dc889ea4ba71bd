"""``vmb ui``: start the web app (Gradio, the optional extra ``vmb[ui]``)."""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import ConfigOpt, SetOpt, say


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 7860,
    profile: Annotated[str | None, typer.Option("--profile", help="default (neural) or builtin (offline).")] = "builtin",
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    index: Annotated[str | None, typer.Option("--index", help="The index to retrieve references from (a folder, or demo).")] = None,
    share: Annotated[str, typer.Option("--share", help="on: a public Gradio link (needs the internet); off: none.")] = "off",
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload, in MB.")] = 200.0,
    keep_minutes: Annotated[float, typer.Option("--keep-minutes", help="Remove uploads and results older than this.")] = 60.0,
    workdir: Annotated[str | None, typer.Option("--workdir", help="Folder for results (default: a new temporary folder).")] = None,
) -> None:
    """Start the web app: inputs -> Describe -> edit the bridges -> Generate."""
    from vmb.errors import UsageError

    if share not in ("on", "off"):
        raise UsageError(f"--share {share!r}: expected on or off")
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port}: expected a port from 1 to 65535")
    if not max_upload_mb > 0:
        raise UsageError(f"--max-upload-mb {max_upload_mb:g}: expected a size above 0")
    if not keep_minutes > 0:
        raise UsageError(f"--keep-minutes {keep_minutes:g}: expected a time above 0")
    if config_file is not None:
        profile = None
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise UsageError("vmb ui needs Gradio: pip install 'vmb[ui]'") from None
    from vmb.ui import launch

    say(f"vmb ui on http://{host}:{port} (Ctrl+C stops it)")
    launch(host=host, port=port, profile=profile, index=index, config_file=config_file,
           overrides=tuple(overrides or ()), share=share == "on", max_upload_mb=max_upload_mb,
           keep_s=keep_minutes * 60.0, workdir=workdir)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(ui)
