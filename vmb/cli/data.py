"""``vmb data pairs``: training data for the describer from music videos (:mod:`vmb.train.data`)."""

from __future__ import annotations

from typing import Annotated

import typer

from vmb.cli.app import JsonOpt, QuietOpt, group, print_result

data_app = group("Prepare training data.")


@data_app.command("pairs")
def data_pairs_command(
    video_dir: Annotated[str, typer.Argument(help="A folder of music videos (with an optional metadata.csv/jsonl of tags).")],
    out: Annotated[str, typer.Option("--out", "-o", help="The dataset folder to write.")],
    frames: Annotated[int, typer.Option("--frames", help="Frames sampled per video.")] = 8,
    max_side: Annotated[int, typer.Option("--max-side", help="Longer side of the stored frames, pixels.")] = 448,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out if it exists.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Frames, audio track and measured attributes of music videos → a datasets dataset."""
    from vmb.train.data import make_pairs

    report = make_pairs(video_dir, out, num_frames=frames, max_side=max_side, overwrite=overwrite,
                        progress=not quiet and not as_json)  # fmt: skip
    print_result(report.to_dict(), as_json, [
        f"{report.rows} pair(s) written to {report.out}",
        *(f"skipped {skipped['path']}: {skipped['reason']}" for skipped in report.skipped),
    ])  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")

