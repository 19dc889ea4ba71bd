"""Speed of the built-in generator: compose + render 30 s and 180 s of music.

For each length and renderer (FluidSynth with the GM soundfont, the numpy synthesiser), in the
same run:

- ``vmb``: ``BuiltinGenerator.generate`` (reference-free: compose, write MIDI, balance levels,
  render, master), with its own ``compose`` / ``render`` timings;
- ``plain fluidsynth``: the bare CLI ``fluidsynth -ni -q -F out.wav -r RATE SF2 MID`` on the
  same arrangement's MIDI file, the baseline every renderer is compared against (the ratio
  shows vmb's overhead over rendering alone, or the numpy synthesiser's cost relative to it).

Each case runs once to warm up (imports, soundfont level measurement, caches), then
``--repeats`` times interleaved with the baseline; the minimum (least disturbed run on a shared
machine) and the median are reported, ratios from the minima. Wall-clock and CPU seconds (this
process plus its child processes) are both recorded: on a loaded machine the CPU time is the
steadier measure.

    python -m benchmarks.bench_builtin [--lengths 30 180] [--repeats 3]

Writes ``benchmarks/results/builtin.json`` (with commit, date, machine and command). Target
(issue 16): 30 s of music in at most 1.5x the CPU time of plain ``fluidsynth`` at the same rate
(48 kHz, the default output); the process exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "builtin.json"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def bridges():
    from vmb.types import Bridges, MusicDescription

    d = MusicDescription(genre="pop", mood=("happy",), tempo_bpm=116, key="G", mode="major", energy=0.7,
                         instruments=("piano", "bass", "drums", "synthesizer", "strings"))
    return Bridges(description=d, text="An uplifting pop track with piano, bass, drums, synthesizer and strings.")


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def plain_fluidsynth(midi: Path, out: Path, sample_rate: int) -> tuple[float, float]:
    """Wall and CPU seconds of the bare CLI rendering ``midi``."""
    cmd = ["fluidsynth", "-ni", "-q", "-F", str(out), "-r", str(sample_rate), SOUNDFONT, str(midi)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return time.perf_counter() - t0, cpu_seconds() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-rate", type=int, default=48000)
    args = parser.parse_args()

    from vmb.generate.builtin import BuiltinGenerator, write_midi

    have_fluidsynth = shutil.which("fluidsynth") is not None and os.path.isfile(SOUNDFONT)
    renderers = ["fluidsynth", "numpy"] if have_fluidsynth else ["numpy"]
    b = bridges()
    cases = []
    with tempfile.TemporaryDirectory(prefix="vmb-bench-builtin-") as tmp:
        for length in args.lengths:
            midi = write_midi(BuiltinGenerator(renderer="numpy").compose(b, length, seed=0), Path(tmp) / "a.mid")
            for renderer in renderers:
                gen = BuiltinGenerator(renderer=renderer, sample_rate=args.sample_rate)
                gen.generate(b, length, seed=0)  # warm-up
                totals, cpus, composes, renders, plains, plain_cpus = [], [], [], [], [], []
                for _ in range(args.repeats):
                    c0, t0 = cpu_seconds(), time.perf_counter()
                    result = gen.generate(b, length, seed=0)
                    totals.append(time.perf_counter() - t0)
                    cpus.append(cpu_seconds() - c0)
                    composes.append(result.timings["compose"])
                    renders.append(result.timings["render"])
                    if have_fluidsynth:
                        wall, cpu = plain_fluidsynth(midi, Path(tmp) / "plain.wav", args.sample_rate)
                        plains.append(wall)
                        plain_cpus.append(cpu)
                case = {
                    "music_s": length,
                    "renderer": gen.name,
                    "vmb_total_s": {"min": min(totals), "median": statistics.median(totals)},
                    "vmb_cpu_s": {"min": min(cpus), "median": statistics.median(cpus)},
                    "compose_s": {"min": min(composes), "median": statistics.median(composes)},
                    "render_s": {"min": min(renders), "median": statistics.median(renders)},
                    "realtime_factor": length / min(totals),
                }
                if plains:
                    case["plain_fluidsynth_s"] = {"min": min(plains), "median": statistics.median(plains)}
                    case["plain_fluidsynth_cpu_s"] = {"min": min(plain_cpus), "median": statistics.median(plain_cpus)}
                    case["ratio_vmb_to_plain_fluidsynth"] = min(totals) / min(plains)
                    case["cpu_ratio_vmb_to_plain_fluidsynth"] = min(cpus) / min(plain_cpus)
                cases.append(case)
                print(f"{length:5.0f} s  {gen.name:45s} vmb {min(totals):6.2f} s wall, {min(cpus):6.2f} s CPU "
                      f"(compose {min(composes):.2f}, render {min(renders):.2f})"
                      + (f" | plain fluidsynth {min(plains):6.2f} s wall, {min(plain_cpus):6.2f} s CPU"
                         f" | ratio wall {min(totals) / min(plains):.2f}, CPU {min(cpus) / min(plain_cpus):.2f}"
                         if plains else ""), flush=True)
    target = [c for c in cases if c["music_s"] == 30.0 and "cpu_ratio_vmb_to_plain_fluidsynth" in c]
    met = None if not target else all(c["cpu_ratio_vmb_to_plain_fluidsynth"] <= 1.5 for c in target)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False,
                            cwd=Path(__file__).resolve().parent).stdout.strip()
    report = {
        "benchmark": "builtin",
        "description": "BuiltinGenerator.generate vs the plain fluidsynth CLI on the same MIDI",
        "commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m benchmarks.bench_builtin " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "repeats": args.repeats,
        "sample_rate": args.sample_rate,
        "target": "30 s of music in <= 1.5x plain fluidsynth CPU time (fluidsynth renderer)",
        "target_met": met,
        "cases": cases,
    }
    write_result(RESULTS, report)
    if met is False:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
