"""Shot detection: vmb's detector against PySceneDetect's ContentDetector, on videos with known cuts.

Synthetic 640x360 H.264 videos at 25 fps (textured, with a moving object, so neither the
decoder nor the detector gets an easy flat picture):

- ``cards_0.5`` ... ``cards_1.0``: colour cards cut every 0.5, 0.6, 0.75 and 1.0 s;
- ``still_action``: 8 s of a still dark-blue scene, then 8 s of red shapes cut every second;
- ``fade``: 6 s of a blue scene, a 1 s cross-fade, 6 s of an orange one (one gradual cut at
  6.5 s);
- ``pan``: 12 s of a texture panning fast (no cut at all: every detection is a false one).

A detection matches a true cut within 0.1 s (0.5 s for the fade). Reported per method and
video: precision, recall, seconds per minute of video. Methods (interleaved, ``--repeats``
rounds, minimum time):

- ``vmb``: :func:`vmb.describe.scan.scan_video` (the one low-resolution decoding pass) plus
  :class:`vmb.describe.scenes.CutDetector`;
- ``scenedetect``: ``scenedetect.detect(path, ContentDetector())`` with its defaults (OpenCV
  decoding, threshold 27, min_scene_len 15 frames);
- ``scenedetect_min5``: the same with ``min_scene_len=5`` so 0.5 s shots are allowed.

Also the cost of the timeline on a 60 s and a 3 min video (cards cut every 2 s):
``scan_video`` + detector alone, ``describe(video)`` with the timeline, and
``describe(video, sync="off")`` (the keyframe-window describer alone, the cost before the
timeline), with their ratio.

    PYTHONPATH=.:/path/to/scenedetect python -m benchmarks.bench_scenes [--repeats 2]

Writes ``benchmarks/results/scenes.json``. Without ``scenedetect`` installed only vmb runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "scenes.json"
W, H, FPS = 640, 360, 25
PALETTE = [(220, 40, 40), (40, 180, 60), (40, 60, 220), (230, 200, 40), (190, 40, 190),
           (40, 190, 190), (120, 120, 120), (250, 140, 30)]  # fmt: skip


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (H // 8 + 1, W // 8 + 1))
    return np.kron(noise, np.ones((8, 8)))[:H, :W].astype(np.float32)


TEXTURE = _texture(0)


def shot(colour, t: float, speed: float = 60.0) -> np.ndarray:
    base = np.array(colour, np.float32)[None, None] * (0.85 + 0.15 * np.tanh(TEXTURE))[..., None]
    x = int((t * speed) % (W - 60))
    base[150:210, x : x + 60] = 255 - base[150:210, x : x + 60]
    return base.clip(0, 255).astype(np.uint8)


def cards(period: float):
    return lambda i, t: shot(PALETTE[int(t / period + 1e-9) % len(PALETTE)], t)


def still_action(i: int, t: float) -> np.ndarray:
    if t < 8.0:
        return shot((15, 25, 70), 0.0, speed=0.0)
    k = int(t - 8.0)
    frame = np.zeros((H, W, 3), np.float32) + np.array((90 + 40 * (k % 2), 10, 20))
    for j in range(4):
        x = int((t * (150 + 40 * j) + 97 * j + 53 * k) % (W - 80))
        y = int(40 + 70 * j + 30 * np.sin(3 * t + j)) % (H - 80)
        frame[y : y + 80, x : x + 80] = (250, 60 + 40 * j, 30)
    return frame.clip(0, 255).astype(np.uint8)


def fade(i: int, t: float) -> np.ndarray:
    a = shot((40, 60, 200), t)
    b = shot((240, 150, 40), t)
    w = float(np.clip(t - 6.0, 0.0, 1.0))
    return ((1 - w) * a + w * b).astype(np.uint8)


def pan(i: int, t: float) -> np.ndarray:
    return np.roll(shot((90, 140, 90), 0.0, speed=0.0), int(t * 400), axis=1)


CASES = {
    "cards_0.5": (cards(0.5), 20.0, [0.5 * k for k in range(1, 40)], 0.1),
    "cards_0.6": (cards(0.6), 20.0, [0.6 * k for k in range(1, 34)], 0.1),
    "cards_0.75": (cards(0.75), 20.0, [0.75 * k for k in range(1, 27)], 0.1),
    "cards_1.0": (cards(1.0), 20.0, [float(k) for k in range(1, 20)], 0.1),
    "still_action": (still_action, 16.0, [float(k) for k in range(8, 16)], 0.1),
    "fade": (fade, 13.0, [6.5], 0.5),
    "pan": (pan, 12.0, [], 0.1),
}


def score(found: list[float], truth: list[float], tol: float) -> dict:
    used = set()
    hits = 0
    for t in truth:
        best = [j for j, f in enumerate(found) if j not in used and abs(f - t) <= tol + 1e-6]
        if best:
            used.add(min(best, key=lambda j: abs(found[j] - t)))
            hits += 1
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return {"precision": round(precision, 3), "recall": round(recall, 3),
            "found": len(found), "true": len(truth)}  # fmt: skip


def run_vmb(path: Path) -> list[float]:
    from vmb.describe.scan import scan_video
    from vmb.describe.scenes import CutDetector

    scan = scan_video(path)
    return [c.time_s for c in CutDetector().detect(scan.rgb, scan.times_s, scan.fps)]


def run_scenedetect(path: Path, min_len: int | None = None) -> list[float]:
    from scenedetect import ContentDetector, detect

    detector = ContentDetector() if min_len is None else ContentDetector(min_scene_len=min_len)
    scenes = detect(str(path), detector)
    return [start.get_seconds() for start, _ in scenes[1:]]


def main(argv: list[str] | None = None) -> dict:
    from vmb.testing import make_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    methods = {"vmb": run_vmb}
    try:
        import scenedetect  # noqa: F401

        methods["scenedetect"] = run_scenedetect
        methods["scenedetect_min5"] = lambda p: run_scenedetect(p, 5)
    except ImportError:
        print("scenedetect is not installed: only vmb runs")
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fn, seconds, truth, tol) in CASES.items():
            path = make_video(Path(tmp) / f"{name}.mp4", seconds=seconds, fps=FPS, size=(W, H),
                              frame_fn=fn)  # fmt: skip
            row = {"video": name, "seconds": seconds}
            for method, run in methods.items():
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    found = run(path)
                    times.append(time.perf_counter() - start)
                row[method] = {**score(found, truth, tol),
                               "s_per_min": round(min(times) * 60 / seconds, 3)}  # fmt: skip
            cases.append(row)
            print(json.dumps(row))
        cost = []
        from vmb.describe import describe

        for seconds in (60.0, 180.0):
            path = make_video(Path(tmp) / f"long{seconds:.0f}.mp4", seconds=seconds, fps=FPS,
                              size=(W, H), frame_fn=cards(2.0))  # fmt: skip
            fns = {
                "scan_and_detect": lambda p=path: run_vmb(p),
                "describe_with_timeline": lambda p=path: describe(video=p),
                "describe_sync_off": lambda p=path: describe(video=p, sync="off"),
            }
            row = {"video_s": seconds}
            for name, fn in fns.items():
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - start)
                row[name] = round(min(times), 3)
            row["timeline_over_sync_off"] = round(
                row["describe_with_timeline"] / row["describe_sync_off"], 2
            )
            cost.append(row)
            print(json.dumps(row))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, check=False,
                            text=True, cwd=Path(__file__).parent).stdout.strip()  # fmt: skip
    result = {
        "topic": "describe.scenes",
        "command": "python -m benchmarks.bench_scenes",
        "commit": commit,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "repeats": args.repeats,
        "statistic": "precision/recall of cut times (0.1 s, fade 0.5 s); minimum seconds per "
        "minute of video",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_end": list(os.getloadavg()),
        },
        "cases": cases,
        "timeline_cost": cost,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = RESULTS.with_suffix(".json.tmp")
    tmp_file.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_file, RESULTS)
    print(f"wrote {RESULTS}")
    return result


if __name__ == "__main__":
    main()
