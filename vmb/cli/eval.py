"""``vmb eval``: measure generated music (FD/FAD, KL, CLAP score, cut/beat alignment,
controllability) and ``vmb eval run``: generate for a benchmark manifest, then measure.

Thin Typer commands over :func:`vmb.eval.evaluate` and :func:`vmb.eval.runner.run_benchmark`;
errors are :class:`~vmb.errors.VMBError` lines printed by the root ``vmb`` group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from vmb.cli.app import DeviceOpt, console, group, print_json, say, say_notes

app = group(
    "Measure generated music: FD/FAD, KL, CLAP score, cut/beat alignment, controllability.",
    invoke_without_command=True,
)

MetricsOpt = Annotated[
    str | None,
    typer.Option("--metrics", help="Comma-separated: fd-features, fd-clap, fd-encodec, fd-ast, kl-ast, clap-score, alignment, imagebind, control (default: auto)."),
]
ClapOpt = Annotated[str | None, typer.Option("--clap-model", help="CLAP hub id or folder (default laion/larger_clap_music).")]
EncodecOpt = Annotated[str | None, typer.Option("--encodec-model", help="EnCodec hub id or folder (default facebook/encodec_32khz).")]
AstOpt = Annotated[str | None, typer.Option("--ast-model", help="AST hub id or folder (default MIT/ast-finetuned-audioset-10-10-0.4593).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Compute everything again (no per-item cache).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@dataclass(frozen=True)
class MeasureOptions:
    """The options ``vmb eval`` and ``vmb eval run`` share: the models that measure, where they
    run, the per-item cache and the output (see :func:`~vmb.cli.app.option_groups`)."""

    clap_model: ClapOpt = None
    encodec_model: EncodecOpt = None
    ast_model: AstOpt = None
    device: DeviceOpt = "auto"
    no_cache: NoCacheOpt = False
    as_json: JsonOpt = False

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of :func:`vmb.eval.evaluate` and
        :func:`~vmb.eval.runner.run_benchmark` that these options set."""
        named = (("clap", self.clap_model), ("encodec", self.encodec_model), ("ast", self.ast_model))
        return {
            "models": {k: v for k, v in named if v},
            "device": self.device,
            "cache_dir": None if self.no_cache else True,
            "progress": not self.as_json,
        }


MEASURE_DEFAULTS = MeasureOptions()


def _show(report, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    from rich.table import Table

    from vmb.eval.report import _fmt

    table = Table(title="vmb eval", show_lines=False)
    for col in ("metric", "value", "95% interval", "n", "better", "note"):
        table.add_column(col, overflow="fold")
    for m in report.metrics:
        ci = ""
        if m.details.get("ci_low") is not None:
            ci = f"{_fmt(m.details['ci_low'])} – {_fmt(m.details['ci_high'])}"
        table.add_row(m.label, _fmt(m.value), ci, str(m.details.get("n", "")), m.better, m.note)
    console.print(table)
    for line in report.skipped:
        say(f"skipped {line}", stderr=True)
    say_notes(report.notes, stderr=True)
    for role in ("json", "markdown"):
        if role in report.paths:
            say(f"report: {report.paths[role]}")


@app.callback()
def eval_main(
    ctx: typer.Context,
    generated: Annotated[list[str] | None, typer.Option("--generated", "-g", help="Folder (or files, repeatable) of generated audio or mp4s.")] = None,
    reference: Annotated[list[str] | None, typer.Option("--reference", "-r", help="Folder (or files, repeatable) of reference music.")] = None,
    captions: Annotated[str | None, typer.Option("--captions", help="Captions file (.json/.jsonl/.csv/.tsv: name, caption).")] = None,
    metrics: MetricsOpt = None,
    out: Annotated[str | None, typer.Option("--out", help="Report folder (report.json, report.md, plots/).")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", help="Cut/beat tolerance in seconds (±).")] = 0.1,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for FD intervals.")] = 200,
    measure: MeasureOptions = MEASURE_DEFAULTS,
) -> None:
    """Measure --generated against --reference, --captions and its videos; print a table and
    write a report folder with --out."""
    if ctx.invoked_subcommand is not None:
        return
    from vmb.errors import UsageError
    from vmb.eval import evaluate, write_report
    from vmb.eval.report import check_report_dir

    if not generated:
        raise UsageError("vmb eval: give --generated (a folder or files), or use vmb eval run --data MANIFEST")
    if bootstrap < 0:
        raise UsageError(f"--bootstrap {bootstrap}: must be 0 or more")
    if out is not None:
        check_report_dir(out)  # refuse a bad --out before any work
    report = evaluate(
        generated[0] if len(generated) == 1 else generated,
        reference=(reference[0] if len(reference) == 1 else reference) if reference else None,
        captions=captions,
        metrics=metrics,
        tolerance_s=tolerance,
        bootstrap=bootstrap,
        **measure.settings(),
    )
    if out is not None:
        report = write_report(report, out)
    _show(report, measure.as_json)


@app.command("run")
def eval_run(
    data: Annotated[str, typer.Option("--data", help="Benchmark manifest (.jsonl or .csv: id, video/image/text, reference, caption).")],
    profile: Annotated[str | None, typer.Option("--profile", help="default (neural) or builtin (offline).")] = None,
    out: Annotated[str, typer.Option("--out", help="Run folder: generated/ and report/.")] = "vmb-eval-run",
    metrics: MetricsOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for every item.")] = 0,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: a.b=value.")] = None,
    index: Annotated[str | None, typer.Option("--index", help="The index to retrieve references from.")] = None,
    measure: MeasureOptions = MEASURE_DEFAULTS,
) -> None:
    """Generate for every item of a manifest with a profile, then evaluate (the paper's Table 1)."""
    from vmb.eval.runner import run_benchmark

    report = run_benchmark(
        data,
        profile=profile,
        out=out,
        metrics=metrics,
        seed=seed,
        overrides=list(overrides or ()),
        index=index,
        **measure.settings(),
    )
    _show(report, measure.as_json)


def register(root: typer.Typer) -> None:
    """Add ``vmb eval`` to the root app (the ``register`` of a command-group module)."""
    root.add_typer(app, name="eval")
