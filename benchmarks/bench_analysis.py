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
- ``tempo+key+chroma``: the three vmb calls together, the budget of the index builder.

Minimum of ``--repeats`` rounds per clip, then the median over clips; ratios are
librosa / vmb (above 1: vmb is faster). librosa's first call JIT-compiles (numba); that warm-up
is timed separately and left out. BPM agreement: each estimate within 4 % of the truth, octave
errors (x2, x1/2) counted, and vmb vs librosa within 4 % of each other.

librosa is used here only: it is not a dependency of vmb.

    python -m benchmarks.bench_analysis [--repeats 3] [--seconds 10]

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

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "analysis.json"
TEMPOS = (70, 90, 120, 150)
RATES = (22050, 32000, 44100, 48000)


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


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
    }


def octave_label(bpm: float, truth: float) -> str:
    for factor, label in ((1.0, "right"), (2.0, "double"), (0.5, "half"), (1.5, "x3/2"), (2 / 3, "x2/3")):
        if abs(bpm / (truth * factor) - 1) < 0.04:
            return label
    return "wrong"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
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

    per_rate: dict[int, dict] = {}
    bpm_rows = []
    for sr in RATES:
        times: dict[str, dict[str, list[float]]] = {"vmb": {}, "librosa": {}}
        for bpm in TEMPOS:
            for kind, clip in (("loop", arrangement(bpm, args.seconds, sr, seed=bpm)),
                               ("clicks", click_track(bpm, args.seconds, sr))):
                clip = np.asarray(clip, dtype=np.float32)
                row = {"sr": sr, "truth_bpm": bpm, "clip": kind}
                for name in ours:
                    if kind == "clicks" and name != "tempo":
                        continue
                    t, out = _best(lambda: ours[name](clip, sr), args.repeats)
                    times["vmb"].setdefault(name, []).append(t)
                    if name == "tempo":
                        row["vmb_bpm"] = round(out.bpm, 2)
                    if name in lib:
                        t, out = _best(lambda: lib[name](clip, sr), args.repeats)
                        times["librosa"].setdefault(name, []).append(t)
                        if name == "tempo":
                            row["librosa_bpm"] = round(out[0], 2)
                row["vmb"] = octave_label(row["vmb_bpm"], bpm)
                row["librosa"] = octave_label(row["librosa_bpm"], bpm)
                row["agree"] = abs(row["vmb_bpm"] / max(row["librosa_bpm"], 1e-6) - 1) < 0.04
                bpm_rows.append(row)
                print(row, flush=True)
        summary = {}
        for name, ts in times["vmb"].items():
            entry = {"vmb_s": round(statistics.median(ts), 5)}
            if name in times["librosa"]:
                lib_s = statistics.median(times["librosa"][name])
                entry["librosa_s"] = round(lib_s, 5)
                entry["librosa_over_vmb"] = round(lib_s / entry["vmb_s"], 2)
            summary[name] = entry
        per_rate[sr] = summary
        print(sr, summary, flush=True)

    def tally(key):
        labels = [r[key] for r in bpm_rows]
        return {label: labels.count(label) for label in sorted(set(labels))}

    result = {
        "what": f"seconds per {args.seconds:.0f} s clip (median over clips of the min of {args.repeats} runs)",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "librosa": librosa.__version__, "numpy": np.__version__},
        "librosa_warmup_s": round(librosa_warmup_s, 1),
        "seconds": per_rate,
        "bpm": {"clips": len(bpm_rows), "vmb": tally("vmb"), "librosa": tally("librosa"),
                "vmb_librosa_agree": sum(r["agree"] for r in bpm_rows), "rows": bpm_rows},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str))
    os.replace(tmp, RESULTS)
    print(json.dumps({k: v for k, v in result.items() if k != "bpm"} | {"bpm": {k: v for k, v in result["bpm"].items() if k != "rows"}}, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
