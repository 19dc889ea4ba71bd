"""The README's "no leaks under repetition" promise, in a short run of its benchmark.

``benchmarks.bench_pipeline_memory`` calls the builtin ``Pipeline`` repeatedly in one process and
exits 1 when the RSS grows by its target or more. Here it runs 12 calls (the README's figure is for
50): the run must pass, and after the warm-up calls the growth must stay under 1 MB per call (what
50 MB over 50 calls allows), so a leak of a result's audio per call is caught.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_pipeline_rss_does_not_grow_under_repetition(tmp_path):
    out = tmp_path / "pipeline_memory.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks.bench_pipeline_memory", "--calls", "12",
                          "--seconds", "1", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=280)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(out.read_text())
    per_call = report["rss_mb"]["per_call"]
    assert len(per_call) == 12 and report["passes"] is True
    late_growth = per_call[-1] - per_call[3]
    assert late_growth < 8.0, f"RSS grew {late_growth:.1f} MB over calls 4-12: {per_call}"
