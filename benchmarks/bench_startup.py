"""Start-up cost: a fresh-process ``vmb generate --video`` (builtin) against the same call warm.

Makes an 8 s video and a small prebuilt index (three tone tracks, built-in encoders), then,
interleaved ``--repeats`` times:

* **fresh**: ``python -m vmb.cli generate --video clip.mp4 --profile builtin --index IDX --json``
  in a new process — imports, loading the components, the job and the files (wav, muxed mp4,
  json); wall time, CPU time and the child's peak RSS (``ru_maxrss`` from ``wait4``);
* **warm**: the same call in this process on one ``Pipeline`` loaded once (``pipe(...)`` +
  ``pipe.save(...)``, the same files), wall and CPU time.

The target is on wall time (medians, and best against best); the CPU times (FluidSynth's
included) are recorded next to them because a shared machine disturbs them less.

One fresh run first, before anything has filled the data home's caches (the reference
analyses, :mod:`vmb.generate.builtin.reference`), is recorded as ``fresh_cold_cache_s``; the
timed fresh runs are the second and later runs a user makes.

Bytecode: the child processes read and write compiled modules (under a pycache folder in the
temporary directory, filled by one untimed run first), as an installed vmb does (pip compiles
the package at install). A shell that sets ``PYTHONDONTWRITEBYTECODE`` (this project's
development sessions do) would otherwise make every fresh process compile vmb's modules from
source; that case is measured too, interleaved, as ``fresh_no_bytecode_s`` (not the target).

Targets (issue 14): fresh ≤ 2× warm, fresh peak RSS ≤ 500 MB. The import profile of one fresh
run (``python -X importtime``, the slowest top-level imports) is recorded too, so the next
regression names its module.

    python -m benchmarks.bench_startup [--repeats 3] [--seconds 8]

Results: benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).parent / "results" / "startup.json"
ROOT = Path(__file__).resolve().parent.parent


def build_inputs(folder: Path, seconds: float) -> tuple[Path, Path]:
    """An ``seconds`` long 320x240 video and a three-track built-in index."""
    from vmb.retrieve import build_index
    from vmb.testing import make_tone, make_video

    video = make_video(folder / "clip.mp4", seconds=seconds, fps=24, size=(320, 240))
    library = folder / "library"
    library.mkdir()
    rows = []
    for name, chord, caption in (("calm.wav", (261.63, 329.63, 392.0), "a calm piano piece"),
                                 ("fast.wav", (220.0, 261.63, 329.63), "a fast electronic track"),
                                 ("jazz.wav", (174.61, 220.0, 261.63), "a relaxed jazz tune")):  # fmt: skip
        make_tone(library / name, chord, seconds=10.0, sr=32000)
        rows.append({"path": name, "caption": caption})
    (library / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    index = folder / "index"
    build_index(library / "manifest.jsonl", index, encoder="builtin", progress=False)
    return Path(video), index


def child_env(home: Path, pycache: Path | None) -> dict[str, str]:
    """The children's environment: this checkout first on the path, ``home`` as the data home;
    with ``pycache`` compiled modules are read and written there, else never written."""
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
           "VMB_HOME": str(home), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def fresh_run(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """``(wall seconds, peak RSS MB, CPU seconds)`` of one child process running ``args`` (its
    CPU time includes FluidSynth's, a process it waits for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # ru_maxrss: KB on Linux


def import_profile(args: list[str], env: dict[str, str], top: int = 12) -> list[dict]:
    """The slowest top-level imports of one fresh run (``python -X importtime``)."""
    out = subprocess.run([sys.executable, "-X", "importtime", *args[1:]], env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    rows = []
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(3)) == 1:  # imported by vmb itself, not by a dependency
            rows.append({"module": match.group(4), "cumulative_s": int(match.group(2)) / 1e6})
    rows.sort(key=lambda r: -r["cumulative_s"])
    total = sum(r["cumulative_s"] for r in rows)
    heavy = [m for m in ("torch", "transformers", "sentence_transformers", "sklearn")
             if re.search(rf"\|\s+{m}$", out.stderr, re.MULTILINE)]  # fmt: skip
    return [{"all_imports_s": round(total, 3), "heavy_modules_imported": heavy},
            *({"module": r["module"], "cumulative_s": round(r["cumulative_s"], 3)} for r in rows[:top])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="video length = music length")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vmb-startup-") as tmp:
        tmp = Path(tmp)
        home = tmp / "home"
        os.environ["VMB_HOME"] = str(home)
        video, index = build_inputs(tmp, opts.seconds)
        env = child_env(home, tmp / "pycache")
        args = [sys.executable, "-m", "vmb.cli", "generate", "--video", str(video), "--profile", "builtin",
                "--index", str(index), "--seed", "1", "--out", str(tmp / "fresh"), "--json"]  # fmt: skip

        fresh_run(args, child_env(tmp / "home-compile", tmp / "pycache"))  # fills the pycache only
        cold_s, cold_rss, _ = fresh_run(args, env)  # empty caches: the very first run
        no_bytecode_env = child_env(home, None)

        from vmb.pipeline import Pipeline

        load_start = time.perf_counter()
        pipe = Pipeline.load(profile="builtin", index=str(index))
        load_s = time.perf_counter() - load_start

        stages: dict[str, dict[str, float]] = {}

        def cpu_now() -> float:  # this process's threads and the children it waited for (FluidSynth)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            return time.process_time() + children.ru_utime + children.ru_stime

        def warm_call() -> tuple[float, float]:
            start, cpu = time.perf_counter(), cpu_now()
            result = pipe(video=str(video), seed=1)
            # the files the command writes, the mp4 muxed as well (save adds its "mux" timing)
            result = pipe.save(result, out_dir=tmp / "warm", stem="clip", video=str(video))
            stages["warm"] = dict(result.timings)
            return time.perf_counter() - start, cpu_now() - cpu

        first_s, _ = warm_call()  # the first call of a loaded pipeline (lazy imports, caches) is not "warm"
        stages["first_in_process"] = stages["warm"]
        fresh_s, fresh_rss, fresh_cpu, warm_s, warm_cpu, no_bytecode_s = [], [], [], [], [], []
        for _ in range(opts.repeats):
            wall, rss, cpu = fresh_run(args, env)
            fresh_s.append(wall)
            fresh_rss.append(rss)
            fresh_cpu.append(cpu)
            wall, cpu = warm_call()
            warm_s.append(wall)
            warm_cpu.append(cpu)
            no_bytecode_s.append(fresh_run(args, no_bytecode_env)[0])
        fresh_json = json.loads((tmp / "fresh" / "clip.vmb.json").read_text(encoding="utf-8"))
        stages["fresh_process"] = fresh_json["timings"]  # the last fresh run's own stage timings
        imports = import_profile(args, env)

    fresh, warm = statistics.median(fresh_s), statistics.median(warm_s)
    best_ratio = min(fresh_s) / min(warm_s)  # each at its least disturbed (a shared machine)
    report = {
        "benchmark": "startup",
        "what": f"vmb generate --video (builtin, {opts.seconds:g} s clip, 3-track index): fresh process vs warm Pipeline",
        "repeats": opts.repeats,
        "fresh_process_s": [round(x, 3) for x in fresh_s],
        "warm_call_s": [round(x, 3) for x in warm_s],
        "warm_pipeline_load_s": round(load_s, 3),
        "first_call_in_process_s": round(first_s, 3),
        "fresh_cold_cache_s": round(cold_s, 3),
        "fresh_cold_cache_peak_rss_mb": round(cold_rss, 1),
        "fresh_median_s": round(fresh, 3),
        "warm_median_s": round(warm, 3),
        "fresh_over_warm": round(fresh / warm, 2),
        "fresh_best_s": round(min(fresh_s), 3),
        "warm_best_s": round(min(warm_s), 3),
        "best_fresh_over_best_warm": round(best_ratio, 2),
        "fresh_cpu_s": [round(x, 3) for x in fresh_cpu],
        "warm_cpu_s": [round(x, 3) for x in warm_cpu],
        "best_fresh_cpu_over_best_warm_cpu": round(min(fresh_cpu) / min(warm_cpu), 2),
        "fresh_no_bytecode_s": [round(x, 3) for x in no_bytecode_s],
        "fresh_no_bytecode_median_s": round(statistics.median(no_bytecode_s), 3),
        "fresh_peak_rss_mb": round(max(fresh_rss), 1),
        "targets": {"fresh_over_warm": 2.0, "fresh_peak_rss_mb": 500},
        "meets_targets": {"median": fresh / warm <= 2.0 and max(fresh_rss) <= 500,
                          "best": best_ratio <= 2.0 and max(fresh_rss) <= 500},
        "stage_seconds": {name: {k: round(v, 3) for k, v in t.items()} for name, t in stages.items()},
        "import_profile": imports,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "import_profile"}, indent=2))
    write_result(opts.out, report, argv)


if __name__ == "__main__":
    main()
