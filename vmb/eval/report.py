"""The evaluation report: dataclasses, JSON/Markdown rendering and the report folder with plots."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vmb.errors import OutputError
from vmb.fileio import atomic_folder, atomic_write_json, atomic_write_text

REPORT_KIND = "vmb-eval-report"
REPORT_FILES = ("report.json", "report.md")


@dataclass
class MetricResult:
    """One metric over the set.

    Attributes:
        name: the ``--metrics`` name (``fd-clap``, ``kl-ast``...), or a sub-measure of it.
        label: what it is, for people (``FD (built-in features; not FAD)``).
        value: the number, or ``None`` when it was not computed (``note`` says why).
        better: ``"lower"`` or ``"higher"`` (or ``""``).
        details: interval, counts, definitions (tolerance), per-attribute shares.
        note: why it was not computed, or a caveat.
    """

    name: str
    label: str
    value: float | None
    better: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-safe (:func:`_clean`), in field order."""
        return {f.name: _clean(getattr(self, f.name)) for f in fields(self)}


@dataclass
class EvalReport:
    """What ``vmb eval`` measured.

    Attributes:
        metrics: one entry per metric (computed or not, with the reason).
        items: one row per generated item: ``{"name": ..., <per-item values>}``.
        skipped: ``"NAME: reason"`` for each item left out.
        notes: decisions made on the user's behalf (defaults, embedders not present).
        settings: inputs, models, tolerances, cache hits.
        plots: data for the plots (per-item distances, per-video timelines).
    """

    metrics: list[MetricResult] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)

    def metric(self, name: str) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": REPORT_KIND,
            "metrics": [m.to_dict() for m in self.metrics],
            "items": _clean(self.items),
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "settings": _clean(self.settings),
            "paths": dict(self.paths),
        }

    def to_markdown(self) -> str:
        lines = ["# vmb eval report", ""]
        lines += [f"- generated: {self.settings.get('generated', '')}"]
        if self.settings.get("reference"):
            lines += [f"- reference: {self.settings['reference']}"]
        lines += ["", "| metric | value | 95% interval (bias-corrected bootstrap) | n | better | note |"]
        lines += ["|---|---|---|---|---|---|"]
        for m in self.metrics:
            ci = ""
            if m.details.get("ci_low") is not None:
                ci = f"{_fmt(m.details['ci_low'])} – {_fmt(m.details['ci_high'])}"
            n = m.details.get("n", m.details.get("n_generated", ""))
            lines.append(f"| {m.label} | {_fmt(m.value)} | {ci} | {n} | {m.better} | {m.note} |")
        extra = [m for m in self.metrics if m.details.get("fd_inf") is not None]
        for m in extra:
            lines.append(f"\n{m.label}: FD-∞ (extrapolated to infinitely many items) = {_fmt(m.details['fd_inf'])}")
        flat = [_flatten(row) for row in self.items]
        keys: list[str] = []
        for row in flat:
            keys += [k for k in row if k != "name" and k not in keys]
        if keys:
            lines += ["", "## Items", "", "| item | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
            for row in flat:
                lines.append(f"| {row['name']} | " + " | ".join(_fmt(row.get(k)) for k in keys) + " |")
        if self.skipped:
            lines += ["", "## Skipped items", ""] + [f"- skipped {s}" for s in self.skipped]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"control": {"key": True}}`` → ``{"control.key": True}``."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value).replace("|", "/")


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def check_report_dir(out_dir: str | os.PathLike) -> Path:
    """An output folder eval may write: new, empty, or a report eval wrote before.

    Raises:
        OutputError: the folder holds other files (vmb never replaces what it did not create),
            or the path is a file.
    """
    out = Path(out_dir)
    if out.is_file():
        raise OutputError(out, "is a file; --out must be a folder for the report")
    if out.is_dir() and any(out.iterdir()):
        report = out / "report.json"
        try:
            kind = json.loads(report.read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            kind = None
        if kind != REPORT_KIND:
            raise OutputError(out, "is not empty and holds no earlier vmb eval report; choose a new --out folder")
        allowed = set(REPORT_FILES) | {"plots"}
        foreign = [p.name for p in out.iterdir() if p.name not in allowed]
        if foreign:
            raise OutputError(out, f"holds files vmb eval did not write ({', '.join(sorted(foreign)[:3])}); choose a new --out folder")
    return out


def write_report(report: EvalReport, out_dir: str | os.PathLike) -> EvalReport:
    """Write ``report.json``, ``report.md`` and ``plots/*.png`` into ``out_dir`` in one step (a
    temporary folder swapped in when complete; an earlier eval report there is replaced)."""
    from vmb.eval.plots import draw_plots

    out = check_report_dir(out_dir)
    with atomic_folder(out) as work:
        plots = draw_plots(report, work / "plots")
        report.paths = {
            "json": str(out / "report.json"),
            "markdown": str(out / "report.md"),
            **{f"plot:{name}": str(out / "plots" / Path(p).name) for name, p in plots.items()},
        }
        atomic_write_json(work / "report.json", report.to_dict())
        atomic_write_text(work / "report.md", report.to_markdown())
    return report
