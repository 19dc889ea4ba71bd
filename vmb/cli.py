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
        except typer._click.exceptions.UsageError as exc:  # typer vendors click (typer._click)
            # A sub-command's own parse error (missing option, value of the wrong type): one line
            # too, instead of typer's boxed panel; "vmb index" alone still shows its help.
            if isinstance(exc, typer._click.exceptions.NoArgsIsHelpError):
                raise
            where = exc.ctx.command_path if exc.ctx else "vmb"
            message = " ".join(exc.format_message().split())
            err_console.print(
                f"error: {where}: {message} (see {where} -h)", markup=False, highlight=False, soft_wrap=True
            )
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


@index_app.command("demo")
def index_demo(
    out: Annotated[str, typer.Option("--out", help="Where the demo index goes.")] = "index/demo",
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Render and index again.")] = False,
    renderer: Annotated[str, typer.Option("--renderer", help="auto, fluidsynth or numpy.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Render the demo library (music21 corpus) and index it (built-in encoders)."""
    from vmb.retrieve import MusicIndex
    from vmb.retrieve.demo import ensure_demo_index

    notes = ensure_demo_index(out, progress=not as_json, rebuild=rebuild, renderer=renderer)
    index = MusicIndex.load(out)
    if as_json:
        print_json({"path": out, "clips": len(index), "notes": notes, "info": index.info.to_dict()})
        return
    for note in notes:
        err_console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"demo index: {out} ({len(index)} clips)", markup=False, highlight=False)


@app.command()
def generate(
    video: Annotated[str | None, typer.Option("--video", help="A video to score.")] = None,
    image: Annotated[list[str] | None, typer.Option("--image", help="An image (repeatable).")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Your description; wins over the pixels.")] = None,
    reference: Annotated[
        list[str] | None, typer.Option("--reference", help="An audio file pinned into the music bridge (repeatable).")
    ] = None,
    want: Annotated[
        list[str] | None, typer.Option("--want", help="Targeted attribute key=value: genre, tempo, mood, instrument, key, mode.")
    ] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Seconds of music (default: the video's length, else 30).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for reproducible music.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="default (neural) or builtin (offline); default: default if its models are local.")] = None,
    config_file: Annotated[str | None, typer.Option("--config", help="A YAML config file.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    index: Annotated[str | None, typer.Option("--index", help="The index to retrieve references from.")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="A trained music-bridge adapter folder (MusicGen).")] = None,
    text_weight: Annotated[float | None, typer.Option("--text-weight", help="Guidance weight of the text bridge.")] = None,
    music_weight: Annotated[float | None, typer.Option("--music-weight", help="Guidance weight of the music bridge.")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Output folder (default: next to the input).")] = None,
    keep_audio: Annotated[bool, typer.Option("--keep-audio", help="Mix the video's own audio under the music.")] = False,
    midi: Annotated[bool, typer.Option("--midi", help="Also write the arrangement as MIDI (built-in generator).")] = False,
    # -- built-in generator: sound, parts, loops, loudness (issue 16) --
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="An SF2/SF3 soundfont for the built-in renderer.")] = None,
    stems: Annotated[bool, typer.Option("--stems", help="Also write one WAV per part (built-in generator).")] = False,
    loop: Annotated[bool, typer.Option("--loop", help="Make a piece that repeats seamlessly (built-in generator).")] = False,
    loudness: Annotated[float | None, typer.Option("--loudness", help="Integrated loudness in LUFS (default -14).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Make music for a video, images, text and/or pinned references."""
    from pathlib import Path

    from vmb.errors import UsageError
    from vmb.outputs import check_writable, output_dir_for, output_stem
    from vmb.pipeline import Pipeline

    images, references = list(image or ()), list(reference or ())
    if video is None and not images and not (text and text.strip()) and not references:
        raise UsageError("vmb generate: give at least one of --video, --image, --text or --reference")
    if config_file and profile:
        raise UsageError("--config and --profile: give one of them")
    settings = list(overrides or ())
    if adapter is not None:
        settings.append(f"generator.adapter={adapter}")
    if soundfont is not None:
        settings.append(f"generator.soundfont={soundfont}")
    if loudness is not None:
        settings.append(f"generator.loudness_lufs={loudness}")
    out_dir = Path(out) if out else output_dir_for(video, images, references)
    check_writable(out_dir)
    stem = output_stem(video, images, references)
    if config_file:
        pipe = Pipeline.from_config(config_file, overrides=settings, index=index, progress=not as_json)
    else:
        pipe = Pipeline.from_profile(profile, overrides=settings, index=index, progress=not as_json)
    midi_path = out_dir / f"{stem}.vmb.mid" if midi else None
    result = pipe(
        video=video,
        images=images,
        text=text,
        references=references,
        wants=list(want or ()),
        duration_s=duration,
        seed=seed,
        text_weight=text_weight,
        music_weight=music_weight,
        midi_path=midi_path,
        progress=not as_json,
        stems_dir=out_dir / f"{stem}.vmb.stems" if stems else None,
        loop=loop,
    )
    inputs = {"video": video, "images": images, "text": text, "references": references, "wants": list(want or ())}
    result = pipe.save(result, out_dir=out_dir, stem=stem, video=video, keep_original_audio=keep_audio, inputs=inputs)
    if as_json:
        import json as _json

        print_json(_json.loads(Path(result.paths["json"]).read_text(encoding="utf-8")))
        return
    _print_generation(result)


def _print_generation(result: Any) -> None:
    def out(line: str, stderr: bool = False) -> None:
        (err_console if stderr else console).print(line, markup=False, highlight=False, soft_wrap=True)

    bridges = result.bridges
    out(f"text bridge: {bridges.text or '(none)'}")
    out("music bridge:" if bridges.references else "music bridge: (no references)")
    for hit in bridges.references:
        out(f"  {hit.track:8s} {hit.score:6.3f}  {hit.clip.caption or hit.clip.path}")
    out(f"music: {result.duration_s:.2f} s at {result.sample_rate} Hz by {result.generator} (seed {result.seed})")
    for role, path in result.paths.items():
        out(f"  {role:5s} {path}")
    if result.notes:
        out("notes:", stderr=True)
        for note in result.notes:
            out(f"  {note}", stderr=True)


from vmb.train.cli import data_app, train_app  # noqa: E402  (training commands)

app.add_typer(train_app, name="train")
app.add_typer(data_app, name="data")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="vmb")


if __name__ == "__main__":
    main()
