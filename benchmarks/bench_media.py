"""Speed of vmb.media.read_frames against the plain PyAV approach, and PyAV against decord.

Samples 16 frames uniformly from a generated 60 s 640x360 H.264 video, in the same run:

- ``vmb``: ``read_frames(path, num_frames=16, backend="pyav")`` (seeks to far targets, decodes
  forward);
- ``plain``: open with PyAV, decode every frame, keep the one on screen at each target (only
  the 16 kept frames are converted to RGB, so the baseline is not handicapped);
- ``decord`` (when the ``decord`` extra is installed): ``read_frames(..., backend="decord")``,
  and the plain decord call ``VideoReader(path).get_batch(indices)`` with the same indices.

All must return the same frames (checked; at ``max_side=224`` the two scalers differ slightly,
so only the shapes are compared there). Two keyframe intervals are measured: x264's
default (250 frames, ~10 s) and a streaming-style 2 s GOP. The methods are interleaved in each
of ``--repeats`` rounds; the minimum (the least disturbed run on a shared machine) and the
median are reported, the speed-up from the minima.

    python -m benchmarks.bench_media [--seconds 60] [--repeats 3]

Writes ``benchmarks/results/media.json``.
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

RESULTS = Path(__file__).resolve().parent / "results" / "media.json"


def plain_pyav(path: Path, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode everything, pick the frame on screen at each slice centre."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base)
        targets = (np.arange(num_frames) + 0.5) * duration / num_frames
        picked, times = [], []
        previous = None
        index = 0
        for frame in container.decode(stream):
            while index < num_frames and frame.time > targets[index] + 1e-6:
                picked.append(previous.to_ndarray(format="rgb24"))
                times.append(previous.time)
                index += 1
            previous = frame
        while index < num_frames:
            picked.append(previous.to_ndarray(format="rgb24"))
            times.append(previous.time)
            index += 1
    return np.stack(picked), np.array(times)


def plain_decord(path: Path, num_frames: int) -> np.ndarray:
    """decord's own call: the frame starting at or before each slice centre, one get_batch."""
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    starts = reader.get_frame_timestamp(range(len(reader)))[:, 0]
    duration = float(reader.get_frame_timestamp(len(reader) - 1)[1])
    targets = (np.arange(num_frames) + 0.5) * duration / num_frames
    index = np.clip(np.searchsorted(starts, targets + 1e-6, side="right") - 1, 0, len(reader) - 1)
    return reader.get_batch([int(i) for i in index]).asnumpy()


def _decord_version() -> str:
    import decord

    return str(decord.__version__)


def main(argv: list[str] | None = None) -> dict:
    from vmb.media import read_frames
    from vmb.testing import make_video

    parser = argparse.ArgumentParser(description="read_frames vs decode-everything")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    from vmb.media.video_decord import decord_available

    has_decord = decord_available()
    cases = []
    with tempfile.TemporaryDirectory() as folder:
        for label, gop in (("x264 default GOP (250 frames)", None), ("2 s GOP", 48)):
            path = make_video(
                Path(folder) / f"bench_{gop}.mp4",
                seconds=args.seconds,
                fps=24,
                size=(640, 360),
                gop=gop,
            )
            methods = {
                "vmb": lambda p=path: read_frames(p, num_frames=args.num_frames, backend="pyav"),
                "plain": lambda p=path: plain_pyav(p, args.num_frames),
                "vmb_224": lambda p=path: read_frames(
                    p, num_frames=args.num_frames, max_side=224, backend="pyav"
                ),
            }
            if has_decord:
                methods["decord"] = lambda p=path: read_frames(p, num_frames=args.num_frames, backend="decord")
                methods["decord_224"] = lambda p=path: read_frames(
                    p, num_frames=args.num_frames, max_side=224, backend="decord"
                )
                methods["plain_decord"] = lambda p=path: plain_decord(p, args.num_frames)
            durations, results = timed(methods, args.repeats)
            (frames, times), (plain_frames, plain_times) = results["vmb"], results["plain"]
            same = bool(np.array_equal(frames, plain_frames) and np.allclose(times, plain_times))
            if has_decord:
                decord_frames, decord_times = results["decord"]
                same = same and bool(np.array_equal(frames, decord_frames) and np.allclose(times, decord_times, atol=1e-4))
                same = same and bool(np.array_equal(frames, results["plain_decord"]))
                same = same and results["decord_224"][0].shape == results["vmb_224"][0].shape
            best = {name: min(values) for name, values in durations.items()}
            middle = {name: statistics.median(values) for name, values in durations.items()}
            cases.append(
                {
                    "video": f"{args.seconds:g} s 640x360 24 fps H.264, {label}",
                    "num_frames": args.num_frames,
                    "vmb_read_frames_s": {
                        "min": round(best["vmb"], 4),
                        "median": round(middle["vmb"], 4),
                    },
                    "vmb_read_frames_max_side_224_s": {
                        "min": round(best["vmb_224"], 4),
                        "median": round(middle["vmb_224"], 4),
                    },
                    "plain_pyav_decode_all_s": {
                        "min": round(best["plain"], 4),
                        "median": round(middle["plain"], 4),
                    },
                    "speedup_vs_plain": round(best["plain"] / best["vmb"], 2),
                    "same_frames_as_plain": same,
                }
            )
            if has_decord:
                for name, label in (("decord", "decord_read_frames_s"), ("decord_224", "decord_read_frames_max_side_224_s"),
                                    ("plain_decord", "plain_decord_get_batch_s")):  # fmt: skip
                    cases[-1][label] = {"min": round(best[name], 4), "median": round(middle[name], 4)}
                cases[-1]["pyav_over_decord"] = round(best["vmb"] / best["decord"], 2)
                cases[-1]["pyav_over_decord_224"] = round(best["vmb_224"] / best["decord_224"], 2)
            print(json.dumps(cases[-1]))
            if not same:
                raise SystemExit(
                    "read_frames and the plain decode disagree: fix before trusting timings"
                )

    result = {
        "topic": "media.read_frames",
        "decord": _decord_version() if has_decord else "not installed (pip install 'vmb[decord]')",
        "repeats": args.repeats,
        "statistic": "seconds (min and median over interleaved rounds); speedup from the minima",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "cases": cases,
    }
    write_result(RESULTS, result, argv)
    return result


if __name__ == "__main__":
    main()
