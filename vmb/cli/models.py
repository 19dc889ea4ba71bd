"""``vmb models``, ``vmb models pull`` and ``vmb models import``: the models each profile uses,
downloading them, and converting checkpoints of audiocraft and laion-clap.

The work is done by :mod:`vmb.models` (the cache scan, ``snapshot_download``) and
:mod:`vmb.convert` (the conversions).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import JsonOpt, SetOpt, err_console, group, print_json, print_result, say

models_app = group(
    "The models each profile uses: size, where they are cached, and downloading them.",
    invoke_without_command=True,
)


@models_app.callback()
def models_list(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option("--profile", help="Only this profile (default or builtin).")] = None,
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List each profile's models: id, size, where it is cached, and whether it is present."""
    if ctx.invoked_subcommand is not None:
        return
    from vmb.models import human_size, list_models

    rows = list_models([profile] if profile else None, overrides=overrides or ())
    if as_json:
        print_json({"models": [r.to_dict() for r in rows]})
        return
    for r in rows:
        state = "present" if r.present else "missing"
        say(f"{r.profile}/{r.role}: {r.model}  {human_size(r.size_bytes, r.size_source)}  {state}")
        say(f"    {'at' if r.present else 'goes to'} {r.location or '-'}")
    missing = [r for r in rows if not r.present]
    if missing:
        say(f"{len(missing)} missing; download with: vmb models pull PROFILE|ID ('~' sizes are estimates)")


@models_app.command("pull")
def models_pull(
    target: Annotated[str, typer.Argument(help="A profile (default, builtin) or a hub id (facebook/musicgen-small).")],
    overrides: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a profile's models, or one model, into the Hugging Face cache (with progress)."""
    from vmb.models import human_size, pull

    results = pull(target, overrides=overrides or (), progress=not as_json)
    if as_json:
        print_json({"target": target, "models": [r.to_dict() for r in results]})
        return
    if not results:
        say(f"{target}: nothing to download (its models ship with vmb)")
    for r in results:
        state = "downloaded" if r.downloaded else "already present"
        say(f"{r.model}: {state}, {human_size(r.size_bytes)} at {r.path}")


@models_app.command("import")
def models_import(
    kind: Annotated[str, typer.Argument(help="audiocraft (a MusicGen export) or laion-clap (a CLAP .pt).")],
    path: Annotated[str, typer.Argument(help="The checkpoint: an audiocraft folder or state_dict.bin, a laion-clap .pt.")],
    out: Annotated[str | None, typer.Option("--out", help="The new folder (must not exist). Default: <data home>/models/NAME.")] = None,
    base: Annotated[str | None, typer.Option("--base", help="transformers model giving what the checkpoint lacks (tokenizer, T5, EnCodec, config).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert an audiocraft MusicGen or a laion-clap checkpoint to the transformers folder vmb loads."""
    from vmb.convert import KINDS, convert, default_out

    if kind not in KINDS:
        from vmb.errors import UsageError

        raise UsageError(f"models import: unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    target = out or str(default_out(kind, path))
    with err_console.status(f"converting {path} ({kind})", spinner="dots") if not as_json else _nothing():
        result = convert(kind, path, target, base=base)
    setting = "generator.model" if kind == "audiocraft" else "encoder.model"
    print_result(result.to_dict(), as_json, [
        f"{result.out}: {result.parameters / 1e6:.1f} M parameters from {result.source} (base {result.base})",
        *(f"    {note}" for note in result.notes),
        f"use it with: --set {setting}={result.out}",
    ])  # fmt: skip


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
