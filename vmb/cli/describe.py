"""``vmb describe``: the text bridge on its own (:func:`vmb.describe.describe`)."""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import (
    ConfigOpt,
    CueOpt,
    CuesFileOpt,
    DescriberOpt,
    ImageOpt,
    JsonOpt,
    SetOpt,
    SyncOpt,
    TextOpt,
    VideoOpt,
    has_input,
    load_cli_config,
    print_json,
    print_table,
    say,
)


def describe(
    video: VideoOpt = None,
    image: ImageOpt = None,
    text: TextOpt = None,
    describer: DescriberOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="VLM hub id or local folder.")] = None,
    frames: Annotated[int | None, typer.Option("--frames", help="Frames sampled from the video.")] = None,
    config_file: ConfigOpt = None,
    overrides: SetOpt = None,
    cue: CueOpt = None,
    cues_file: CuesFileOpt = None,
    sync: SyncOpt = "cuts",
    as_json: JsonOpt = False,
) -> None:
    """Describe the music for a video, images and/or text (the text bridge)."""
    from vmb.describe import check_describer
    from vmb.describe import describe as describe_inputs
    from vmb.errors import UsageError

    if not has_input(video, image, text):
        raise UsageError("vmb describe: give at least one of --video, --image or --text")
    if frames is not None and frames < 1:
        raise UsageError(f"--frames {frames}: must be at least 1")
    config = load_cli_config(config_file, overrides, describer__num_frames=frames)
    kind = describer or config.describer.kind
    check_describer(kind, option="--describer")
    from vmb.describe.cues import cues_from_options
    from vmb.describe.timeline import timeline_lines

    cue_list = cues_from_options(cue, cues_file, video)
    result = describe_inputs(video, image or (), text, describer=kind, config=config, model=model,
                             cues=cue_list, sync=sync)  # fmt: skip
    if as_json:
        print_json(result.to_dict())
        return
    say(result.text or "(no sentence)")
    rows = []
    for name, value in result.to_dict().items():
        if name in ("text", "sections", "cuts", "energy_curve", "energy_step_s"):  # timeline below
            continue
        if isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        rows.append((name, "-" if value in (None, "") else str(value)))
    print_table(rows)
    for line in timeline_lines(result):
        say(line)


def register(app: typer.Typer) -> None:
    app.command()(describe)
