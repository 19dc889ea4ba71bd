"""`vmb generate --video` end to end with the built-in profile, stage by stage.

Measures, on a 30 s 640x360 clip (made with vmb.testing):
- the CLI in a fresh process (what a user runs), first run with the demo index present and a
  second one (warm file cache);
- the Pipeline API warm in one process (components loaded once), per stage: decode, describe,
  retrieve, compose, render, mux;
- the plain floor for the same audio length: FluidSynth alone rendering the composed MIDI file,
  so the ratio shows vmb's overhead over the renderer it uses.

    python -m benchmarks.bench_generate [--seconds 30] [--runs 3]

Results: benchmarks/results/generate.json. Target (issue 7): under 10 s end to end warm.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).parent / "results" / "generate.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--index", default="demo")
    args = parser.parse_args()

    from vmb.pipeline import Pipeline
    from vmb.config import load_config
    from vmb.library import ensure_demo_index
    from vmb.testing import make_video

    ensure_demo_index(args.index, progress=True)
    work = Path(tempfile.mkdtemp(prefix="vmb-bench-generate-"))
    video = make_video(work / "clip.mp4", seconds=args.seconds, fps=24, size=(640, 360))
    vmb_cli = str(Path(sys.executable).with_name("vmb"))

    cli_runs = []
    for i in range(2):
        start = time.perf_counter()
        subprocess.run(
            [vmb_cli, "generate", "--video", str(video), "--profile", "builtin", "--index", args.index,
             "--out", str(work / f"cli{i}"), "--seed", "1", "--json"],
            check=True, capture_output=True,
        )
        cli_runs.append(time.perf_counter() - start)

    start = time.perf_counter()
    pipe = Pipeline.from_config(load_config(profile="builtin"), index=args.index)
    load_s = time.perf_counter() - start
    warm = []
    for i in range(args.runs):
        start = time.perf_counter()
        result = pipe(video=video, seed=i, midi_path=work / f"api{i}.mid")
        result = pipe.save(result, out_dir=work / f"api{i}", stem="clip", video=video)
        total = time.perf_counter() - start
        warm.append({"total_s": total, **{k: round(v, 4) for k, v in result.timings.items()}})

    fluid = shutil.which("fluidsynth")
    plain = None
    if fluid:
        from vmb.generate.builtin.render import choose_renderer

        soundfont = choose_renderer("fluidsynth").soundfont
        times = []
        for i in range(args.runs):
            start = time.perf_counter()
            subprocess.run(
                [fluid, "-ni", "-q", "-F", str(work / "plain.wav"), "-r", "32000", str(soundfont), str(work / f"api{i}.mid")],
                check=True, capture_output=True,
            )
            times.append(time.perf_counter() - start)
        plain = min(times)

    best = min(warm, key=lambda r: r["total_s"])
    report = {
        "benchmark": "generate",
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "clip": {"seconds": args.seconds, "size": [640, 360], "fps": 24},
        "cli_fresh_process_s": [round(t, 3) for t in cli_runs],
        "pipeline_load_s": round(load_s, 3),
        "pipeline_warm_runs": warm,
        "pipeline_warm_best_s": round(best["total_s"], 3),
        "plain_fluidsynth_render_s": None if plain is None else round(plain, 3),
        "ratio_warm_vs_plain_render": None if plain is None else round(best["total_s"] / plain, 2),
        "target_warm_s": 10.0,
        "meets_target": best["total_s"] < 10.0,
    }
    write_result(RESULTS, report)
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
