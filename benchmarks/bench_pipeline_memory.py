"""Memory under repetition: RSS of one process across many ``Pipeline.__call__`` runs (builtin).

Builds a four-track tone library and its index (built-in encoders), loads the builtin Pipeline
once, then calls it ``--calls`` times on the same short video (decode, describe, retrieve,
compose, render). Records the process RSS (``VmRSS``) after every call; the figure of merit is
the growth from after the first call to after the last (target: < 50 MB for 50 calls, issue 8).

The plain-library comparison is the renderer the builtin generator drives: the same number of
plain ``fluidsynth`` CLI renders of the composed MIDI file, timed, so the per-call ratio shows what
the pipeline adds around it (FluidSynth runs in a child process, so it adds no RSS here).

    python -m benchmarks.bench_pipeline_memory [--calls 50] [--seconds 2] [--target-mb 50] [--out PATH]

Results: benchmarks/results/pipeline_memory.json (``--out`` elsewhere). Exits with status 1 when
the growth reaches ``--target-mb`` (the README's promise), so CI can run a short version
(``tests/reliability/test_memory_growth.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).parent / "results" / "pipeline_memory.json"


def rss_mb() -> float:
    """Resident set size of this process now (not the peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def build_library(folder: Path) -> Path:
    from vmb.retrieve import build_index
    from vmb.testing import make_tone

    rows = []
    for name, root, genre in (("calm.wav", 261.63, "classical"), ("jazz.wav", 220.0, "jazz"),
                              ("rock.wav", 164.81, "rock"), ("pop.wav", 196.0, "pop")):
        make_tone(folder / name, (root, root * 1.26, root * 1.5), seconds=6.0, sr=32000)
        rows.append({"path": name, "caption": f"a {genre} piece", "genre": genre})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    build_index(folder / "manifest.jsonl", folder / "index", encoder="builtin", segment_s=3.0, hop_s=3.0,
                progress=False)
    return folder / "index"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=2.0, help="video length = music length")
    parser.add_argument("--target-mb", type=float, default=50.0, help="fail (exit 1) at this growth or more")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the result JSON goes")
    args = parser.parse_args()

    from vmb.generate.builtin.render_fluidsynth import find_soundfont
    from vmb.pipeline import Pipeline
    from vmb.testing import make_video

    work = Path(tempfile.mkdtemp(prefix="vmb-bench-memory-"))
    try:
        index = build_library(work)
        video = make_video(work / "clip.mp4", seconds=args.seconds, fps=24, size=(320, 180))
        rss_start = rss_mb()
        pipe = Pipeline.from_profile("builtin", index=index)
        rss_loaded = rss_mb()

        rss, times = [], []
        for i in range(args.calls):
            start = time.perf_counter()
            result = pipe(video=video, seed=i, midi_path=work / "last.mid")
            times.append(time.perf_counter() - start)
            del result
            rss.append(rss_mb())
        gc.collect()
        rss_after_gc = rss_mb()

        plain = []
        soundfont, _ = find_soundfont()
        exe = shutil.which("fluidsynth")
        if soundfont is not None and exe:
            for _ in range(args.calls):
                start = time.perf_counter()
                subprocess.run([exe, "-ni", "-q", "-F", str(work / "plain.wav"), "-r", "32000",
                                str(soundfont), str(work / "last.mid")], check=True, capture_output=True)
                plain.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    growth = rss[-1] - rss[0]
    median = sorted(times)[len(times) // 2]
    plain_median = sorted(plain)[len(plain) // 2] if plain else None
    report = {
        "benchmark": "pipeline_memory",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "settings": {"calls": args.calls, "seconds": args.seconds, "profile": "builtin"},
        "rss_mb": {
            "before_load": round(rss_start, 1),
            "after_load": round(rss_loaded, 1),
            "after_first_call": round(rss[0], 1),
            "after_last_call": round(rss[-1], 1),
            "after_last_call_gc": round(rss_after_gc, 1),
            "max": round(max(rss), 1),
            "per_call": [round(x, 1) for x in rss],
        },
        "growth_after_first_call_mb": round(growth, 1),
        "target_mb": args.target_mb,
        "passes": growth < args.target_mb,
        "seconds_per_call": {"pipeline_median": round(median, 3), "pipeline_first": round(times[0], 3),
                             "plain_fluidsynth_median": round(plain_median, 3) if plain_median else None,
                             "ratio_pipeline_to_plain": round(median / plain_median, 2) if plain_median else None},
    }
    write_result(args.out, report)
    summary = {k: v for k, v in report.items() if k != "rss_mb"}
    summary["rss_mb"] = {k: v for k, v in report["rss_mb"].items() if k != "per_call"}
    print(json.dumps(summary, indent=2))
    if not report["passes"]:
        print(f"FAIL: RSS grew {growth:.1f} MB over {args.calls} calls (target < {args.target_mb:g} MB)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
