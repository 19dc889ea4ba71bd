"""``vmb generate``: the whole job through :class:`vmb.pipeline.Pipeline`.

An option that maps onto a config key goes into :func:`~vmb.cli.app.load_cli_config`-style
settings (``generator__adapter=adapter``); an option of one call goes into ``pipe(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vmb.cli.app import (
    ConfigOpt,
    CueOpt,
    CuesFileOpt,
    ImageOpt,
    ReferenceOpt,
    SetOpt,
    SyncOpt,
    TextOpt,
    WantOpt,
    config_settings,
    has_input,
    print_json,
    say,
)


def generate(
    video: Annotated[str | None, typer.Option("--video", help="A video to score.")] = None,
    image: ImageOpt = None,
    text: TextOpt = None,
    reference: ReferenceOpt = None,
    want: WantOpt = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Seconds of music (default: the video's length, else 30).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for reproducible music.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="default (neural) or builtin (offline); default: default if its models are local.")] = None,
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    index: Annotated[str | None, typer.Option("--index", help="The index to retrieve references from (a folder, or demo).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="A trained music-bridge adapter folder (MusicGen).")] = None,
    text_weight: Annotated[float | None, typer.Option("--text-weight", help="Guidance weight of the text bridge.")] = None,
    music_weight: Annotated[float | None, typer.Option("--music-weight", help="Guidance weight of the music bridge.")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Output folder (default: next to the input).")] = None,
    keep_audio: Annotated[bool, typer.Option("--keep-audio", help="Mix the video's own audio under the music.")] = False,
    midi: Annotated[bool, typer.Option("--midi", help="Also write the arrangement as MIDI (built-in generator).")] = False,
    cue: CueOpt = None,
    cues_file: CuesFileOpt = None,
    sync: SyncOpt = "cuts",
    # -- built-in generator: sound, parts, loops, loudness (issue 16) --
    soundfont: Annotated[str | None, typer.Option("--soundfont", help="An SF2/SF3 soundfont for the built-in renderer.")] = None,
    stems: Annotated[bool, typer.Option("--stems", help="Also write one WAV per part (built-in generator).")] = False,
    loop: Annotated[bool, typer.Option("--loop", help="Make a piece that repeats seamlessly (built-in generator).")] = False,
    loudness: Annotated[float | None, typer.Option("--loudness", help="Integrated loudness in LUFS (default -14).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    # --- batch scoring (vmb.engines.run_batch) ---
    batch: Annotated[str | None, typer.Option("--batch", help="A CSV/JSONL manifest of items (video, images, text, references, wants, duration, seed per row); needs --out.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="Batch: local (this process) or ray.")] = "local",
    resume: Annotated[bool, typer.Option("--resume", help="Batch: skip finished items of --out, retry failed ones.")] = False,
    address: Annotated[str | None, typer.Option("--address", help="Batch on Ray: auto, ray://HOST:PORT or HOST:PORT (default: a local runtime).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Batch on Ray: Pipeline actors (default: sized to the cluster).")] = None,
) -> None:
    """Make music for a video, images, text and/or pinned references (or, with --batch, for
    every item of a manifest)."""
    from vmb.errors import UsageError

    if batch is not None:
        if has_input(video, list(image or ()), text, list(reference or ())) or want or midi or keep_audio:
            raise UsageError("--batch: the items come from the manifest; drop --video/--image/--text/--reference/--want/--midi/--keep-audio")
        if duration is not None or seed is not None:
            raise UsageError("--batch: duration and seed are columns of the manifest")
        if out is None:
            raise UsageError("--batch: give --out DIR for the items, summary.json and status.csv")
        settings = config_settings(overrides, generator__adapter=adapter)
        run_generate_batch(batch, out, engine, resume, address, workers, config_file, profile, settings,
                           index, text_weight, music_weight, as_json)  # fmt: skip
        return
    if engine != "local" or resume or address is not None or workers is not None:
        raise UsageError("--engine/--resume/--address/--workers: only with --batch MANIFEST")
    from vmb.outputs import check_writable, output_dir_for, output_stem, staging_path
    from vmb.pipeline import Pipeline

    images, references, wants = list(image or ()), list(reference or ()), list(want or ())
    if not has_input(video, images, text, references):
        raise UsageError("vmb generate: give at least one of --video, --image, --text or --reference")
    from vmb.describe.cues import cues_from_options
    from vmb.describe.timeline import SYNC_MODES

    if sync not in SYNC_MODES:
        raise UsageError(f"--sync {sync}: use one of {', '.join(SYNC_MODES)}")
    cue_list = cues_from_options(cue, cues_file, video, duration)  # checked before anything is written
    settings = config_settings(overrides, generator__adapter=adapter, generator__soundfont=soundfont,
                               generator__loudness_lufs=loudness)  # fmt: skip
    out_dir = Path(out) if out else output_dir_for(video, images, references, text)
    check_writable(out_dir)
    stem = output_stem(video, images, references, text)
    pipe = Pipeline.load(config_file, profile, overrides=settings, index=index, progress=not as_json)
    inputs = {"video": video, "images": images, "text": text, "references": references, "wants": wants}
    recorded = {**inputs, "cues": list(cue or ()), "cues_file": cues_file, "sync": sync}
    # the MIDI is written under a hidden name and moved into place with the other files (one set)
    midi_path = staging_path(out_dir / f"{stem}.vmb.mid") if midi else None
    try:
        result = pipe(**inputs, duration_s=duration, seed=seed, text_weight=text_weight, music_weight=music_weight,
                      midi_path=midi_path, cues=cue_list, sync=sync, progress=not as_json,
                      stems_dir=out_dir / f"{stem}.vmb.stems" if stems else None, loop=loop)  # fmt: skip
        result = pipe.save(result, out_dir=out_dir, stem=stem, video=video, keep_original_audio=keep_audio,
                           inputs=recorded, staged={"mid": midi_path} if midi_path else None)  # fmt: skip
    finally:
        if midi_path is not None:
            midi_path.unlink(missing_ok=True)
    if as_json:
        import json

        print_json(json.loads(Path(result.paths["json"]).read_text(encoding="utf-8")))
        return
    print_generation(result)


def run_generate_batch(batch, out, engine, resume, address, workers, config_file, profile, settings,
                       index, text_weight, music_weight, as_json) -> None:  # fmt: skip
    """``--batch``: :func:`vmb.engines.run_batch`, its table, exit 1 if an item failed."""
    from rich.table import Table

    from vmb.cli.app import console
    from vmb.engines import run_batch
    from vmb.engines.batch import status_rows
    from vmb.errors import UsageError

    if text_weight is not None or music_weight is not None:
        raise UsageError("--batch: set the weights with --set generator.text_weight=... instead")
    result = run_batch(batch, out, engine=engine, resume=resume, config=config_file, profile=profile,
                       overrides=settings, index=index, address=address, workers=workers,
                       progress=not as_json)  # fmt: skip
    if as_json:
        print_json(result.to_dict())
    else:
        table = Table("item", "status", "seconds", "result / error", box=None, pad_edge=False)
        for row in status_rows(result):
            table.add_row(*row)
        console.print(table)
        summary = result.to_dict()
        rate = f", {summary['items_per_s']:.3f} items/s" if summary["items_per_s"] else ""
        say(f"{summary['done']} done, {summary['finished_before']} finished before, {summary['failed']} failed "
            f"({result.engine}, {result.workers} worker(s){rate}); summary: {result.out / 'summary.json'}")  # fmt: skip
        for note in result.notes:
            say(f"  {note}", stderr=True)
    if result.failed:
        raise typer.Exit(1)


def print_generation(result: Any) -> None:
    """The bridges, the music and the files of a :class:`~vmb.types.GenerationResult`."""
    bridges = result.bridges
    say(f"text bridge: {bridges.text or '(none)'}")
    say("music bridge:" if bridges.references else "music bridge: (no references)")
    for hit in bridges.references:
        say(f"  {hit.track:8s} {hit.score:6.3f}  {hit.clip.caption or hit.clip.path}")
    say(f"music: {result.duration_s:.2f} s at {result.sample_rate} Hz by {result.generator} (seed {result.seed})")
    for role, path in result.paths.items():
        say(f"  {role:5s} {path}")
    if result.notes:
        say("notes:", stderr=True)
        for note in result.notes:
            say(f"  {note}", stderr=True)


def register(app: typer.Typer) -> None:
    app.command()(generate)
