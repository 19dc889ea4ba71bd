"""The root Typer app of the ``vmb`` command, its error handling and what every command shares.

Domain errors (:class:`~vmb.errors.VMBError`) become one line on stderr, ``error: <message>``,
and the error's exit code (1, or 2 for usage errors); a sub-command's parse error is one line
too. ``--debug`` shows the traceback instead.

The command groups live one per module beside this one (:mod:`vmb.cli.generate`, ...); each
has a ``register(app)`` function, called from :mod:`vmb.cli`. The options several commands take
(``--config``, ``--set``, ``--json``, the inputs) are defined here once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

import vmb
from vmb.errors import VMBError, printable

console = Console()
err_console = Console(stderr=True)
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class _VMBGroup(TyperGroup):
    """Turns a VMBError raised by any command into ``error: ...`` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VMBError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            say(f"error: {exc}", stderr=True)
            # typer >= 0.2x vendors click: only typer.Exit ends quietly with a code.
            raise typer.Exit(exc.exit_code) from None
        except typer._click.exceptions.UsageError as exc:  # typer vendors click (typer._click)
            # A sub-command's own parse error (missing option, value of the wrong type): one line
            # too, instead of typer's boxed panel; "vmb index" alone still shows its help.
            if isinstance(exc, typer._click.exceptions.NoArgsIsHelpError):
                raise
            where = exc.ctx.command_path if exc.ctx else "vmb"
            message = " ".join(exc.format_message().split())
            say(f"error: {where}: {message} (see {where} -h)", stderr=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # writing failed: disk full, permission denied, a folder in the way
            if ctx.obj and ctx.obj.get("debug"):
                raise
            where = exc.filename or "vmb"
            say(f"error: {printable(str(where))}: {exc.strerror or exc}", stderr=True)
            raise typer.Exit(1) from None
        except (KeyboardInterrupt, Terminated) as exc:
            signal_name = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            say(f"error: stopped by {signal_name}; no partial output was kept", stderr=True)
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so that every
    ``finally`` and ``except BaseException`` cleanup runs (temporary files, FluidSynth ended by
    ``subprocess.run``) before the process exits."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def option_groups(command: Callable[..., Any]) -> Callable[..., Any]:
    """Expand a command's option groups in place: one definition of options that several
    commands take together.

    A parameter annotated with a dataclass whose fields are Typer options (``measure:
    MeasureOptions = MEASURE_DEFAULTS``) stands for those options, at its place in the command's
    option list (and so in its ``--help``); its default, a (frozen) instance of the group, holds
    this command's defaults. The command receives the group as one instance. The apps of this
    module (``app``, :func:`group`) expand every command and callback they register; one without
    groups is registered as it is.
    """
    import dataclasses
    import functools
    import inspect
    import typing

    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for parameter in signature.parameters.values():
        group_type = parameter.annotation
        if not (isinstance(group_type, type) and dataclasses.is_dataclass(group_type)):
            parameters.append(parameter)
            continue
        if not isinstance(parameter.default, group_type):
            what = f"{command.__name__}: {parameter.name}"
            raise TypeError(f"{what} needs a {group_type.__name__} instance as its default")
        hints = typing.get_type_hints(group_type, include_extras=True)
        names = [f.name for f in dataclasses.fields(group_type)]
        groups[parameter.name] = (group_type, names)
        parameters.extend(
            inspect.Parameter(
                name, parameter.kind, default=getattr(parameter.default, name), annotation=hints[name]
            )
            for name in names
        )
    if not groups:
        return command

    @functools.wraps(command)
    def with_groups(**options: Any) -> Any:
        for name, (group_type, names) in groups.items():
            options[name] = group_type(**{n: options.pop(n) for n in names})
        return command(**options)

    del with_groups.__wrapped__  # Typer reads the expanded signature below
    with_groups.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_groups.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_groups


class _Typer(typer.Typer):
    """A Typer app whose commands and callbacks may take option groups (:func:`option_groups`);
    the decorated function itself stays as written."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return _expanding(super().command(*args, **kwargs))

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return _expanding(super().callback(*args, **kwargs))


def _expanding(register: Callable[[Callable[..., Any]], Any]) -> Callable[[Callable[..., Any]], Any]:
    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        register(option_groups(function))
        return function

    return decorator


app = _Typer(
    cls=_VMBGroup,
    name="vmb",
    help="Visuals Music Bridge: music for video, images and text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def group(help: str, invoke_without_command: bool = False) -> typer.Typer:
    """A command group (``vmb index ...``): shows its help when called without a command, or
    with ``invoke_without_command`` runs its own callback then (``vmb eval``, ``vmb models``)."""
    return _Typer(
        help=help,
        no_args_is_help=not invoke_without_command,
        invoke_without_command=invoke_without_command,
        context_settings=HELP_OPTIONS,
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


# ----- output ------------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_result(data: Any, as_json: bool, lines: Iterable[str]) -> None:
    """What a command made: ``data`` as one JSON document with ``--json``, else ``lines`` as
    plain text (:func:`say`)."""
    if as_json:
        print_json(data)
        return
    for line in lines:
        say(line)


def say(line: str, stderr: bool = False) -> None:
    """One line of plain text (no rich markup, no highlighting, no wrapping)."""
    (err_console if stderr else console).print(line, markup=False, highlight=False, soft_wrap=True)


def say_notes(notes: Any, stderr: bool = False) -> None:
    for note in notes:
        say(f"note: {note}", stderr=stderr)


def print_table(rows: Any) -> None:
    """``(name, value)`` rows as a borderless two-column table."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


# ----- shared options ------------------------------------------------------------------------------

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ConfigOpt = Annotated[str | None, typer.Option("--config", help="A YAML config file.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")]
VideoOpt = Annotated[str | None, typer.Option("--video", help="A video file.")]
ImageOpt = Annotated[list[str] | None, typer.Option("--image", help="An image file (repeatable).")]
TextOpt = Annotated[
    str | None, typer.Option("--text", help='Your words, e.g. "sad piano at 70 bpm"; they win over the pixels.')
]
ReferenceOpt = Annotated[
    list[str] | None,
    typer.Option("--reference", help="An audio file pinned into the music bridge (repeatable)."),
]
WantOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--want", help="Targeted attribute key=value (repeatable): genre, tempo, mood, instrument, key, mode."
    ),
]
# the timeline (issue 15): the user's sections and cut markers, and how closely to follow the picture
CueOpt = Annotated[
    list[str] | None,
    typer.Option("--cue", help="A section START-END=WORDS (e.g. 0-8=calm) or a marker TIME (repeatable)."),
]
CuesFileOpt = Annotated[
    str | None, typer.Option("--cues", help="A CSV or JSON file of cues (start, end, attributes) or marker times.")
]
SyncOpt = Annotated[
    str, typer.Option("--sync", help="How closely the music follows the picture: cuts, scenes or off.")
]
DescriberOpt = Annotated[
    str | None, typer.Option("--describer", help="vlm (neural) or visual (built-in); default from the config.")
]


def load_cli_config(config_file: str | None, overrides: list[str] | None, **settings: Any):
    """The :class:`~vmb.config.Config` of ``--config`` and ``--set``, plus the options that map
    onto config keys: ``settings`` are ``{"generator.adapter": value}``-style keys given as
    keyword names with ``__`` for the dot (``generator__adapter=...``); ``None`` values are
    left out."""
    from vmb.config import load_config

    return load_config(config_file, overrides=config_settings(overrides, **settings))


def config_settings(overrides: list[str] | None, **settings: Any) -> list[str]:
    """``--set`` items plus ``key=value`` for each option given (``a__b=v`` → ``a.b=v``)."""
    items = list(overrides or ())
    for name, value in settings.items():
        if value is not None:
            items.append(f"{name.replace('__', '.')}={value}")
    return items


def has_input(video: str | None, images: list[str] | None, text: str | None, references=()) -> bool:
    return video is not None or bool(images) or bool(text and text.strip()) or bool(references)


def main() -> None:
    """Console-script entry point."""
    import signal

    import vmb.cli  # noqa: F401  (registers the command groups)

    signal.signal(signal.SIGTERM, _raise_terminated)
    app(prog_name="vmb")
