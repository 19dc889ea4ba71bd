"""Speed and agreement of :mod:`vmb.analysis` against librosa's equivalents.

On 10 s clips with known tempo (drum+bass+chord loops from
:mod:`vmb.analysis.reference_signals` at 70/90/120/150 BPM, and click tracks), at 22.05, 32,
44.1 and 48 kHz, in the same run and interleaved:

- tempo: ``vmb.analysis.estimate_tempo`` vs ``librosa.beat.beat_track`` (onset strength +
  tempo + Ellis DP beats, librosa's defaults, at the clip's own rate);
- chroma: ``vmb.analysis.chroma`` vs ``librosa.feature.chroma_stft``;
- key: ``vmb.analysis.estimate_key`` vs ``chroma_stft`` + the same Krumhansl-Kessler
  correlation (librosa has no key estimator);
- chords: ``vmb.analysis.estimate_chords`` (its own beat tracking included) vs ``beat_track``
  + ``chroma_stft`` + ``librosa.util.sync`` + the same triad templates (argmax per beat);
- ``tempo+key+chroma``: the three vmb calls together, the budget of the index builder;
  ``analyze``: every measure (tempo, key, loudness, onset density, brightness, energy) in one
  pass.

Wall and CPU (process) seconds are both reported: on a shared machine the wall time of either
side swells with the load, the CPU time much less. BPMs are also compared on click tracks, on
a loop whose bass plays equal-level eighth notes (a pulse at twice the beat: the ambiguous
case) and, with ``--with-generator``, on 20 s renders of the built-in generator (FluidSynth).

Minimum of ``--repeats`` rounds per clip, then the median over clips; ratios are
librosa / vmb (above 1: vmb is faster). librosa's first call JIT-compiles (numba); that warm-up
is timed separately and left out. BPM agreement: each estimate within 4 % of the truth, octave
errors (x2, x1/2) counted, and vmb vs librosa within 4 % of each other.

librosa is used here only: it is not a dependency of vmb.

    python -m benchmarks.bench_analysis [--repeats 3] [--seconds 10] [--with-generator]

Writes ``benchmarks/results/analysis.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from benchmarks.common import write_result

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "analysis.json"
TEMPOS = (70, 90, 120, 150)
RATES = (22050, 32000, 44100, 48000)


def _best(fn, repeats: int) -> tuple[float, float, object]:
    """Minimum wall and CPU seconds of ``repeats`` calls, and the last result."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, out


def librosa_ops(librosa):
    from vmb.analysis.chords import chord_templates
    from vmb.analysis.key import key_correlations

    def tempo(y, sr):
        bpm, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
        return float(np.atleast_1d(bpm)[0]), beats

    def chroma(y, sr):
        return librosa.feature.chroma_stft(y=y, sr=sr)

    def key(y, sr):
        corr = key_correlations(librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1))
        return np.unravel_index(int(np.argmax(corr)), corr.shape)

    def chords(y, sr):
        _, beats = librosa.beat.beat_track(y=y, sr=sr)
        c = librosa.util.sync(librosa.feature.chroma_stft(y=y, sr=sr), beats)
        return np.argmax(chord_templates() @ c, axis=0)

    return {"tempo": tempo, "chroma": chroma, "key": key, "chords": chords}


def vmb_ops():
    from vmb import analysis

    def combined(y, sr):
        return analysis.estimate_tempo(y, sr), analysis.estimate_key(y, sr), analysis.chroma(y, sr)

    return {
        "tempo": lambda y, sr: analysis.estimate_tempo(y, sr),
        "chroma": analysis.chroma,
        "key": analysis.estimate_key,
        "chords": lambda y, sr: analysis.estimate_chords(y, sr),
        "tempo+key+chroma": combined,
        "analyze": lambda y, sr: analysis.analyze(y, sr),
    }


def generator_rows(bpm_row, seconds: float) -> list[dict]:
    """BPM rows on renders of the built-in generator (drummed genres at the four tempos)."""
    from vmb.generate.builtin.generator import BuiltinGenerator
    from vmb.types import Bridges, MusicDescription

    gen = BuiltinGenerator(renderer="fluidsynth")
    rows = []
    for genre in ("pop", "rock", "electronic", "country", "funk/soul"):
        for bpm in TEMPOS:
            d = MusicDescription(genre=genre, tempo_bpm=bpm, key="A", mode="minor", energy=0.6, text=genre)
            r = gen.generate(Bridges(description=d, text=genre), duration_s=seconds, seed=bpm)
            audio = np.asarray(r.audio, dtype=np.float32).mean(axis=0)
            rows.append(bpm_row(audio, r.sample_rate, bpm, f"builtin_generator_{seconds:.0f}s"))
    return rows


def octave_label(bpm: float, truth: float) -> str:
    for factor, label in ((1.0, "right"), (2.0, "double"), (0.5, "half"), (1.5, "x3/2"), (2 / 3, "x2/3")):
        if abs(bpm / (truth * factor) - 1) < 0.04:
            return label
    return "wrong"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--with-generator", action="store_true",
                        help="also compare BPMs on renders of the built-in generator (FluidSynth)")
    parser.add_argument("--generator-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)

    from vmb.analysis.reference_signals import arrangement, click_track

    t0 = time.perf_counter()
    import librosa

    lib = librosa_ops(librosa)
    warm = np.asarray(arrangement(100, 3.0, 22050))
    for fn in lib.values():
        fn(warm, 22050)
    librosa_warmup_s = time.perf_counter() - t0
    ours = vmb_ops()
    ours["tempo"](warm, 22050)

    def bpm_row(clip, sr, bpm, kind, vmb_bpm=None, lib_bpm=None) -> dict:
        if vmb_bpm is None:
            vmb_bpm = ours["tempo"](clip, sr).bpm
        if lib_bpm is None:
            lib_bpm = lib["tempo"](clip, sr)[0]
        row = {"sr": sr, "truth_bpm": bpm, "clip": kind, "vmb_bpm": round(vmb_bpm, 2),
               "librosa_bpm": round(lib_bpm, 2), "vmb": octave_label(vmb_bpm, bpm),
               "librosa": octave_label(lib_bpm, bpm),
               "agree": abs(vmb_bpm / max(lib_bpm, 1e-6) - 1) < 0.04}
        print(row, flush=True)
        return row

    per_rate: dict[int, dict] = {}
    bpm_rows = []
    for sr in RATES:
        times: dict[str, dict[str, list[tuple[float, float]]]] = {"vmb": {}, "librosa": {}}
        for bpm in TEMPOS:
            loop = np.asarray(arrangement(bpm, args.seconds, sr, seed=bpm), dtype=np.float32)
            results = {}
            for name in ours:
                t, cpu, out = _best(lambda f=ours[name], y=loop, r=sr: f(y, r), args.repeats)
                times["vmb"].setdefault(name, []).append((t, cpu))
                results[("vmb", name)] = out
                if name in lib:
                    t, cpu, out = _best(lambda f=lib[name], y=loop, r=sr: f(y, r), args.repeats)
                    times["librosa"].setdefault(name, []).append((t, cpu))
                    results[("librosa", name)] = out
            bpm_rows.append(bpm_row(loop, sr, bpm, "loop", results[("vmb", "tempo")].bpm,
                                    results[("librosa", "tempo")][0]))
            bpm_rows.append(bpm_row(click_track(bpm, args.seconds, sr), sr, bpm, "clicks"))
            # equal-level eighth notes in the bass: a pulse at twice the beat, the ambiguous case
            even = arrangement(bpm, args.seconds, sr, seed=bpm, bass_offbeat_gain=1.0)
            bpm_rows.append(bpm_row(even, sr, bpm, "loop_even_eighths"))
        summary = {}
        for name, ts in times["vmb"].items():
            entry = {"vmb_s": round(statistics.median(t for t, _ in ts), 5),
                     "vmb_cpu_s": round(statistics.median(c for _, c in ts), 5)}
            if name in times["librosa"]:
                lib_ts = times["librosa"][name]
                entry["librosa_s"] = round(statistics.median(t for t, _ in lib_ts), 5)
                entry["librosa_cpu_s"] = round(statistics.median(c for _, c in lib_ts), 5)
                entry["librosa_over_vmb"] = round(entry["librosa_s"] / entry["vmb_s"], 2)
                entry["librosa_over_vmb_cpu"] = round(entry["librosa_cpu_s"] / max(entry["vmb_cpu_s"], 1e-6), 2)
            summary[name] = entry
        per_rate[sr] = summary
        print(sr, summary, flush=True)

    if args.with_generator:
        bpm_rows += generator_rows(bpm_row, args.generator_seconds)

    def tally(key, kind=None):
        labels = [r[key] for r in bpm_rows if kind is None or r["clip"] == kind]
        return {label: labels.count(label) for label in sorted(set(labels))}

    result = {
        "what": f"seconds per {args.seconds:.0f} s clip (median over clips of the min of {args.repeats} runs)",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "librosa": librosa.__version__, "numpy": np.__version__},
        "librosa_warmup_s": round(librosa_warmup_s, 1),
        "seconds": per_rate,
        "bpm": {"clips": len(bpm_rows),
                "by_clip": {kind: {"vmb": tally("vmb", kind), "librosa": tally("librosa", kind)}
                            for kind in sorted({r["clip"] for r in bpm_rows})},
                "vmb_librosa_agree": sum(r["agree"] for r in bpm_rows), "rows": bpm_rows},
    }
    write_result(RESULTS, result, argv)
    print(json.dumps({k: v for k, v in result.items() if k != "bpm"} | {"bpm": {k: v for k, v in result["bpm"].items() if k != "rows"}}, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
