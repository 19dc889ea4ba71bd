"""Helpers shared by the benchmark scripts: the interleaved timer and the one way a result is
written (with the commit, date, machine and command, so every result JSON can be traced)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def timed(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Run each function once per round, interleaved; ``(seconds per name, last result)``."""
    durations: dict[str, list[float]] = {name: [] for name in fns}
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            durations[name].append(time.perf_counter() - start)
    return durations, results


def git_commit() -> str:
    """The checkout's commit (``<sha>-dirty`` with uncommitted changes in vmb/ or benchmarks/),
    or ``unknown`` outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "vmb", "benchmarks", "configs"],
                               cwd=root, capture_output=True, text=True, check=True, timeout=10).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty.strip() else sha


def machine_info() -> dict[str, Any]:
    """What ran the benchmark: OS, Python, CPU, core count, torch and its threads when loaded."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def command_line(argv: list[str] | None = None) -> str:
    """How to run this benchmark again: ``python -m benchmarks.<name> <its arguments>``."""
    module = f"benchmarks.{Path(sys.argv[0]).stem}" if sys.argv and sys.argv[0].endswith(".py") else None
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", "-m", module or "benchmarks", *args])


def write_result(path: str | os.PathLike, report: dict[str, Any], argv: list[str] | None = None) -> Path:
    """Write ``report`` as JSON to ``path`` (atomically), with ``commit``, ``date`` (UTC),
    ``machine`` (:func:`machine_info`, plus what the benchmark put under ``machine``) and
    ``command`` (:func:`command_line`; ``argv``: the arguments when ``main(argv)`` was called
    from Python) first. Returns the path."""
    from vmb.fileio import atomic_write_json

    path = Path(path)
    provenance = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine_info(), **(report.get("machine") or {})},
        "command": command_line(argv),
    }
    body = {k: v for k, v in report.items() if k not in provenance}
    data = json.loads(json.dumps({**provenance, **body}, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
    print(f"wrote {path}", file=sys.stderr)
    return path
