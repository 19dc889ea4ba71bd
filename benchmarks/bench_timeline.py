"""Music under a picture (issue 15): does the built-in generator follow a video's timeline?

Synthetic videos (the frame functions of ``tests/describe/conftest.py``, 160x96 at 20 fps),
described by the real describer, scored by the built-in generator (FluidSynth) through
:class:`vmb.pipeline.Pipeline` without references, measured on the output audio with librosa
(``tests/generate/builtin/listening.py``):

- ``still_action`` (16 s: 8 s of a dark still, 8 s of red shapes cut every second): the RMS level
  and the librosa onset rate after the scene change over before it (0.5 s kept clear of the
  change, the last 1.5 s of ending left out) and the time of the largest loudness step;
- ``cards_P`` (12 s of colour cards cut every P = 0.5, 0.6, 0.75, 1.0 s) and ``irregular``
  (cards cut at 24 random times, gaps 0.3-1.6 s): the share of cuts within 70 ms of a beat
  that ``librosa.beat.beat_track`` finds in the output, with chance (2 x 70 ms / the median
  beat period), and the generator's own report (cuts within 35 ms of its grid);
- ``calm_action_calm`` (6 s still, 6 s action, 6 s still) and ``still_action``: Pearson
  correlation of the description's energy curve (motion, cut rate, colour; 1 s windows) with
  the music's RMS level (dB) in the same windows, against the 95th percentile of 2000
  shuffles of the curve.

    python -m benchmarks.bench_timeline [--seeds 0 1 2]

Writes ``benchmarks/results/timeline.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test suite's video frames and librosa measures

from benchmarks.common import RESULTS_DIR, write_result

FPS = 20
IRREGULAR = tuple(np.round(np.cumsum(np.random.default_rng(15).uniform(0.3, 1.6, 24)), 2))


def _videos(folder: Path) -> dict[str, tuple[Path, float]]:
    from describe.conftest import (
        CARD_COLOURS,
        H,
        W,
        cards,
        dark_blue_still,
        red_action,
        still_then_action,
        textured,
    )

    from vmb.testing import make_video

    def irregular(i: int, t: float) -> np.ndarray:
        k = int(np.searchsorted(IRREGULAR, t + 1e-9, side="right"))
        out = textured(CARD_COLOURS[k % len(CARD_COLOURS)])
        x = int(t * 40) % (W - 16)
        out[40:56, x:x + 16] = 255 - out[40:56, x:x + 16]
        return out.astype(np.uint8)

    def calm_action_calm(i: int, t: float) -> np.ndarray:
        return red_action(i, t - 6.0) if 6.0 <= t < 12.0 else dark_blue_still(i, t)

    spec = {"still_action": (still_then_action, 16.0), "calm_action_calm": (calm_action_calm, 18.0),
            "irregular": (irregular, float(np.ceil(IRREGULAR[-1] + 1.0)))}
    spec.update({f"cards_{p}": (cards(p), 12.0) for p in (0.5, 0.6, 0.75, 1.0)})
    return {name: (make_video(folder / f"{name}.mp4", seconds=seconds, fps=FPS, size=(W, H), frame_fn=fn), seconds)
            for name, (fn, seconds) in spec.items()}


def _pipeline():
    from vmb.config import Config
    from vmb.describe.visual import VisualDescriber
    from vmb.generate.builtin import BuiltinGenerator
    from vmb.pipeline import Pipeline
    from vmb.retrieve.text import bridge_text

    class NoReferences:
        def search(self, description, wants=None, pinned=(), k_broad=1, k_targeted=1):
            return SimpleNamespace(hits=[], notes=[], text=bridge_text(description, wants))

    return Pipeline(describer=VisualDescriber.from_config(), retriever=NoReferences(),
                    generator=BuiltinGenerator(renderer="fluidsynth"), config=Config())  # fmt: skip


def _note(result, prefix: str) -> str:
    return next((n for n in result.notes if n.startswith(prefix)), "")


def measure(name: str, path: Path, seconds: float, seed: int, pipe) -> dict:
    from generate.builtin import listening as L

    result = pipe(video=path, seed=seed)
    d = result.bridges.description
    audio, sr = result.audio, result.sample_rate
    out = {"video": name, "seed": seed, "length_error_ms": round(abs(audio.shape[1] / sr - seconds) * 1000, 3),
           "described_bpm": d.tempo_bpm, "composed": _note(result, "composed"),
           "tempo": _note(result, "tempo:"), "ending": _note(result, "ending:")}
    cuts = [c.time_s for c in d.cuts]
    if cuts:
        hit, chance = L.cuts_on_beats(audio, sr, cuts)
        report = _note(result, "cuts on beats:")
        hits = int(report.split(": ", 1)[1].split(" of ")[0]) if " of " in report else 0
        out.update(cuts=len(cuts), librosa_cuts_on_beats=round(hit, 3), librosa_chance=round(chance, 3),
                   generator_on_grid=round(hits / len(cuts), 3), generator_report=report)
    if name in ("still_action", "calm_action_calm"):
        loud = L.loudness_curve(audio, sr, d.energy_step_s)
        r, shuffled = L.correlation_vs_shuffled(d.energy_curve, loud)
        out.update(energy_loudness_r=round(r, 3), shuffled_p95=round(shuffled, 3))
    if name == "still_action":
        change = d.sections[1].start_s
        out.update(scene_change_s=change,
                   db_after_minus_before=round(L.rms_db(audio, sr, change + 0.5, 14.5) - L.rms_db(audio, sr, 1.0, change - 0.5), 2),
                   onset_rate_ratio=round(L.onset_rate(audio, sr, change + 0.5, 14.5)
                                          / max(L.onset_rate(audio, sr, 1.0, change - 0.5), 1e-6), 2),
                   loudness_step_s=round(L.loudness_step(audio, sr, 3.0, 13.0), 2))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    pipe = _pipeline()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vmb-bench-timeline-") as tmp:
        videos = _videos(Path(tmp))
        for seed in args.seeds:
            for name, (path, seconds) in videos.items():
                row = measure(name, path, seconds, seed, pipe)
                rows.append(row)
                shown = {k: v for k, v in row.items() if k not in ("composed", "tempo", "ending", "generator_report")}
                print(shown, flush=True)
    summary = {}
    for name in videos:
        mine = [r for r in rows if r["video"] == name]
        keys = [k for k in mine[0] if isinstance(mine[0][k], (int, float)) and k not in ("seed",)]
        summary[name] = {k: {"mean": round(float(np.mean([r[k] for r in mine])), 3),
                             "min": round(float(np.min([r[k] for r in mine])), 3),
                             "max": round(float(np.max([r[k] for r in mine])), 3)} for k in keys}
    report = {"seeds": args.seeds, "irregular_cuts_s": list(IRREGULAR), "summary": summary, "runs": rows}
    path = write_result(RESULTS_DIR / "timeline.json", report, argv)
    for name, figures in summary.items():
        print(name, {k: (v["mean"], v["min"]) for k, v in figures.items()})
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
