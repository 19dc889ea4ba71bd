"""Speed of the built-in describer against decoding the whole video.

On a generated 60 s 640x360 H.264 video, in the same run:

- ``vmb``: ``VisualDescriber.describe(load_inputs(path, decode=False))``, end to end: short
  keyframe-aligned windows spread over the video, colour/motion/cut measurements, rule table,
  sentence;
- ``decode_all``: the naive reference: decode every frame with PyAV, convert each to the same
  small RGB and grey frames, measure colour on all of them and motion/cuts on every pair, then
  the same rule table;
- ``decode_only``: decode every frame and do nothing else: the floor under any decode-all
  approach, however cheap its measurements;
- ``uniform_32``: the plain library sampling ``vmb.media.read_frames(num_frames=32,
  max_side=128)`` plus colour measurements only (no motion), for context.

The descriptions of ``vmb`` and ``decode_all`` are compared (energy, BPM, mood), so the speed
is not bought with a different answer. Two keyframe intervals: x264's default (250 frames,
10 s) and a streaming-style 2 s GOP. Methods are interleaved in each of ``--repeats`` rounds;
minimum and median are reported, ratios from the minima. "frames/s" is video frames covered
per second of describing (video frames / seconds).

    python -m benchmarks.bench_describe [--seconds 60] [--repeats 3]

Writes ``benchmarks/results/describe.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import timed, write_result

RESULTS = Path(__file__).resolve().parent / "results" / "describe.json"
FPS = 25


def decode_all(path: Path, describer):
    """Measure every frame of the video, then apply the same rules: ``(description, frames)``."""
    import av

    from vmb.describe.measure import colour_stats, motion_stats
    from vmb.describe.visual import Measurements
    from vmb.media.video import output_size

    s = describer.rules.sampling
    colour, grey = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            w, h = output_size(frame.width, frame.height, 1.0, int(s["colour_side"]))
            colour.append(
                frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
            )
            w, h = output_size(frame.width, frame.height, 1.0, int(s["motion_side"]))
            grey.append(frame.reformat(width=w, height=h, format="gray").to_ndarray())
    stats = colour_stats(np.stack(colour), s["min_saturation"])
    moving = motion_stats([np.stack(grey)], 1 / FPS, s["cut_histogram"], s["cut_difference"])
    m = Measurements(**stats, **moving, frames=len(colour), frames_decoded=len(colour))
    return describer.describe_measurements(m), len(colour)


def decode_only(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def uniform_32(path: Path, describer):
    from vmb.describe.measure import colour_stats
    from vmb.media import read_frames

    frames, _ = read_frames(
        path, num_frames=32, max_side=int(describer.rules.sampling["colour_side"])
    )
    return colour_stats(frames)


def main(argv: list[str] | None = None) -> dict:
    from vmb.describe import load_inputs
    from vmb.describe.visual import VisualDescriber
    from vmb.testing import make_video

    parser = argparse.ArgumentParser(description="built-in describer vs decode-everything")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    describer = VisualDescriber.from_config()
    cases = []
    with tempfile.TemporaryDirectory() as folder:
        for label, gop in (("x264 default GOP (250 frames)", None), ("2 s GOP", 2 * FPS)):
            path = make_video(
                Path(folder) / f"bench_{gop}.mp4",
                seconds=args.seconds,
                fps=FPS,
                size=(640, 360),
                gop=gop,
            )

            def vmb_describe(path=path):
                description = describer.describe(load_inputs(path, decode=False))
                return description, describer.last_measurements

            durations, results = timed(
                {
                    "vmb": vmb_describe,
                    "decode_all": lambda path=path: decode_all(path, describer),
                    "decode_only": lambda path=path: decode_only(path),
                    "uniform_32": lambda path=path: uniform_32(path, describer),
                },
                args.repeats,
            )
            (ours, measured), (reference, total) = results["vmb"], results["decode_all"]
            best = {name: min(values) for name, values in durations.items()}
            middle = {name: statistics.median(values) for name, values in durations.items()}
            cases.append(
                {
                    "video": f"{args.seconds:g} s 640x360 {FPS} fps H.264, {label}",
                    "video_frames": total,
                    "seconds": {
                        name: {"min": round(best[name], 4), "median": round(middle[name], 4)}
                        for name in best
                    },
                    "frames_per_s_vmb": round(total / best["vmb"], 1),
                    "frames_per_s_decode_all": round(total / best["decode_all"], 1),
                    "speedup_vs_decode_all": round(best["decode_all"] / best["vmb"], 2),
                    "speedup_vs_decode_only": round(best["decode_only"] / best["vmb"], 2),
                    "frames_decoded_vmb": measured.frames_decoded,
                    "frames_measured_vmb": measured.frames,
                    "under_2_s_target": best["vmb"] < 2.0,
                    "agreement_with_decode_all": {
                        "energy": [ours.energy, reference.energy],
                        "tempo_bpm": [ours.tempo_bpm, reference.tempo_bpm],
                        "mood": [list(ours.mood), list(reference.mood)],
                        "genre": [ours.genre, reference.genre],
                        "theme": [ours.theme, reference.theme],
                    },
                }
            )
            print(json.dumps(cases[-1]))

    result = {
        "topic": "describe.visual",
        "repeats": args.repeats,
        "statistic": "seconds (min and median over interleaved rounds); ratios from the minima",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "cases": cases,
    }
    write_result(RESULTS, result, argv)
    return result


if __name__ == "__main__":
    main()
