"""PNG plots of a report (matplotlib, Agg backend): metric bars with their intervals,
per-item histograms, and a cut/beat timeline for each video."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vmb.eval.deps import require

if TYPE_CHECKING:  # pragma: no cover
    from vmb.eval.report import EvalReport


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "item"


def draw_plots(report: EvalReport, folder: Path) -> dict[str, str]:
    """Draw every plot the report has data for into ``folder``; ``{plot name: path}``."""
    matplotlib = require("matplotlib")

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}

    def save(fig, key: str, stem: str) -> None:
        fig.tight_layout()
        path = folder / f"{stem}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written[key] = str(path)

    computed = [m for m in report.metrics if m.value is not None]
    if computed:
        fig, axes = plt.subplots(1, len(computed), figsize=(2.6 * len(computed) + 1, 3.2), squeeze=False)
        for ax, m in zip(axes[0], computed):
            lo, hi = m.details.get("ci_low"), m.details.get("ci_high")
            err = None if lo is None else [[max(m.value - lo, 0)], [max(hi - m.value, 0)]]
            ax.bar([0], [m.value], yerr=err, capsize=6, color="#4c72b0")
            ax.set_xticks([])
            ax.set_title(m.label if len(m.label) < 30 else m.label[:28] + "…", fontsize=8)
            if m.better:
                ax.set_xlabel(f"{m.better} is better", fontsize=7)
        save(fig, "metrics", "metrics")
    for name, data in report.plots.get("distances", {}).items():
        fig, ax = plt.subplots(figsize=(5, 3.2))
        both = np.asarray([*data.get("generated", []), *data.get("reference", [])], float)
        edges = np.histogram_bin_edges(both, bins=min(30, max(5, both.size))) if both.size else 10
        for side, colour in (("generated", "#c44e52"), ("reference", "#4c72b0")):
            values = np.asarray(data.get(side, []), float)
            if values.size:
                ax.hist(values, bins=edges, alpha=0.6, label=side, color=colour)
        ax.set_xlabel(f"distance to the reference mean ({name})")
        ax.set_ylabel("items")
        ax.legend(fontsize=7)
        save(fig, f"distances_{name}", f"distances_{_safe(name)}")
    for name, values in report.plots.get("per_item", {}).items():
        values = np.asarray([v for v in values if v is not None], float)
        if values.size == 0:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.hist(values, bins=min(20, max(3, values.size)), color="#55a868")
        ax.set_xlabel(name)
        ax.set_ylabel("items")
        save(fig, f"per_item_{name}", f"per_item_{_safe(name)}")
    for name, tl in report.plots.get("timelines", {}).items():
        fig, ax = plt.subplots(figsize=(8, 1.8))
        for t in tl.get("onsets", []):
            ax.axvline(t, ymin=0.0, ymax=0.3, color="#999999", lw=0.6)
        for t in tl.get("beats", []):
            ax.axvline(t, ymin=0.0, ymax=0.6, color="#4c72b0", lw=1.0)
        for t in tl.get("cuts", []):
            ax.axvline(t, ymin=0.0, ymax=1.0, color="#c44e52", lw=1.6)
        ax.set_xlim(0, max(tl.get("duration_s", 1.0), 1e-3))
        ax.set_yticks([])
        ax.set_xlabel("seconds (red: cuts, blue: beats, grey: onsets)")
        ax.set_title(name, fontsize=8)
        save(fig, f"timeline_{name}", f"timeline_{_safe(name)}")
    return written
