"""One process against Ray (``vmb.engines``): index builds, embedding workers, batch scoring.

In one run, on a local Ray runtime of ``--cpus`` CPUs (the machine's, by default):

- ``faiss_shards``: ``--n`` synthetic clustered 512-d vectors (``bench_faiss.make_data``) built
  as IVF-PQ (``choose_index_type(kind="ivf_pq")``) by one process (``build_faiss_index``, the
  single-process build) and from ``--shards`` shards (``build_sharded_index``: trained once,
  shards filled by Ray tasks, merged with FAISS' ``merge_from``): build time, then
  ``tune_search`` (the nprobe for recall@10 ≥ 0.95 on synthetic queries) and recall@10 against
  exact search on fresh queries at that nprobe, for both.
- ``embedding``: a library of ``--tracks`` synthetic arrangements (``vmb.analysis.
  reference_signals``, ``--track-s`` seconds, 10 s clips) indexed with the built-in encoders by
  ``build_index`` (one process) and by ``build_index_distributed`` with 1 and 2 encoder
  actors: clips/s end to end, and Ray's overhead over the single process (its time ratio).
- ``batch``: ``--items`` 1 s videos scored with the builtin profile by ``run_batch`` locally
  (one Pipeline in this process) and on Ray (2 Pipeline actors): items/s; then ``vmb generate
  --batch`` killed with SIGKILL halfway and resumed: what the kill lost and what was redone.

    python -m benchmarks.bench_engines [--n 200000] [--shards 4] [--tracks 12] [--items 8]

Writes ``benchmarks/results/engines.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "engines.json"
STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[bench_engines {time.perf_counter() - STARTED:7.1f} s] {message}", flush=True)


def bench_faiss_shards(n: int, shards: int, queries: int = 200) -> dict:
    from benchmarks.bench_faiss import make_data, recall
    from vmb.engines.faiss_shards import build_sharded_index
    from vmb.retrieve.faiss_index import build_faiss_index, exact_search, tune_search
    from vmb.retrieve.index_type import choose_index_type

    x, q = make_data("clustered", n, 512, queries)
    _, truth = exact_search(x, q, 10)
    spec = choose_index_type(n, 512, kind="ivf_pq")
    out: dict = {"n": n, "dim": 512, "spec": {"kind": spec.kind, **spec.params}, "shards": shards}
    bounds = [round(i * n / shards) for i in range(shards + 1)]
    for name, build in (
        ("one_process", lambda: build_faiss_index(x, spec)),
        (f"{shards}_shards_ray", lambda: build_sharded_index(x, spec, bounds)),
    ):
        t = time.perf_counter()
        index = build()
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        tuned = tune_search(index, x, spec)
        tune_s = time.perf_counter() - t
        _, found = index.search(q, 10)
        out[name] = {"build_s": round(build_s, 2), "tune_s": round(tune_s, 2), **tuned,
                     "recall_at_10_fresh_queries": recall(found, truth)}  # fmt: skip
        log(f"faiss {name}: {out[name]}")
        del index
    out["build_time_ratio_shards_vs_one"] = round(
        out[f"{shards}_shards_ray"]["build_s"] / out["one_process"]["build_s"], 2
    )
    return out


def write_tracks(folder: Path, tracks: int, seconds: float) -> Path:
    from vmb.analysis.reference_signals import arrangement
    from vmb.media import write_wav

    progressions = [((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
                    ((9, "min"), (2, "min"), (4, "maj"), (9, "min"))]  # fmt: skip
    audio_dir = folder / "audio"
    audio_dir.mkdir(parents=True)
    for i in range(tracks):
        bpm = 70 + 9 * i
        audio = arrangement(bpm, seconds, 22050, progression=progressions[i % 2], drums=i % 3 != 0,
                            bass_notes_per_beat=1 if bpm < 90 else 2, seed=i)  # fmt: skip
        write_wav(audio_dir / f"track_{i:03d}.wav", audio[None, :], 22050)
    return audio_dir


def bench_embedding(work: Path, tracks: int, track_s: float) -> dict:
    from vmb.engines import build_index_distributed
    from vmb.retrieve import build_index, load_encoder

    source = write_tracks(work / "library", tracks, track_s)
    encoder = load_encoder("builtin", device="cpu")
    build_index(source, work / "warm", encoder=encoder, progress=False)  # loads MiniLM once
    out: dict = {"tracks": tracks, "track_s": track_s, "segment_s": 10.0}
    t = time.perf_counter()
    info = build_index(source, work / "one", encoder=encoder, progress=False)
    one_s = time.perf_counter() - t
    out["clips"] = info.count
    out["one_process"] = {"seconds": round(one_s, 2), "clips_per_s": round(info.count / one_s, 2)}
    log(f"embedding one process: {out['one_process']}")
    for workers in (1, 2):
        t = time.perf_counter()
        build_index_distributed(source, work / f"ray{workers}", workers=workers, progress=False)
        s = time.perf_counter() - t
        out[f"ray_{workers}_workers"] = {"seconds": round(s, 2), "clips_per_s": round(info.count / s, 2),
                                         "overhead_vs_one_process": round(s / one_s, 2)}  # fmt: skip
        log(f"embedding ray {workers} worker(s): {out[f'ray_{workers}_workers']}")
    return out


def bench_batch(work: Path, items: int, index: Path) -> dict:
    from vmb.engines import run_batch
    from vmb.testing import make_video

    rows = []
    for i in range(items):
        video = make_video(work / "videos" / f"v{i:02d}.mp4", seconds=1.0, size=(96, 64),
                           colour=(40 + 20 * i % 200, 80, 200 - 10 * i % 150))  # fmt: skip
        rows.append({"id": f"v{i:02d}", "video": str(video), "duration": 1, "seed": i})
    manifest = work / "batch.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out: dict = {"items": items, "duration_s": 1.0, "profile": "builtin"}
    for name, kwargs in (("local", {"engine": "local"}), ("ray_2_workers", {"engine": "ray", "workers": 2})):
        t = time.perf_counter()
        result = run_batch(manifest, work / f"batch-{name}", profile="builtin", index=index,
                           progress=False, **kwargs)  # fmt: skip
        s = time.perf_counter() - t
        out[name] = {"seconds_with_load": round(s, 2), "items_per_s": round(items / s, 3),
                     "failed": result.failed}  # fmt: skip
        log(f"batch {name}: {out[name]}")
    out["ray_vs_local_items_per_s"] = round(
        out["ray_2_workers"]["items_per_s"] / out["local"]["items_per_s"], 2
    )
    out["sigkill_mid_batch"] = bench_batch_kill(work, manifest, items, index)
    return out


def bench_batch_kill(work: Path, manifest: Path, items: int, index: Path) -> dict:
    """``vmb generate --batch`` (local engine) killed with SIGKILL once half of the items are
    finished, then ``--resume``: what the kill lost (finished items whose files changed or went
    missing: must be 0) and what the resume redid (the item in flight at the kill)."""
    import hashlib
    import subprocess
    import sys

    from vmb.testing import kill_when

    out = work / "batch-killed"
    cmd = [sys.executable, "-m", "vmb.cli", "generate", "--batch", str(manifest), "--out", str(out),
           "--profile", "builtin", "--index", str(index)]  # fmt: skip
    kill_when(cmd, lambda: len(list((out / "items").glob("*/*.vmb.json"))) >= items // 2, 1200)
    finished = sorted((out / "items").glob("*/*.vmb.json"))
    kept = {p: hashlib.sha256(p.read_bytes()).hexdigest() for f in finished for p in f.parent.iterdir()}
    t = time.perf_counter()
    resumed = subprocess.run([*cmd, "--resume", "--json"], capture_output=True, text=True, timeout=1800, check=False)
    resume_s = time.perf_counter() - t
    summary = json.loads(resumed.stdout) if resumed.stdout.strip() else {}
    lost = sum(1 for p, d in kept.items() if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != d)
    done = len(list((out / "items").glob("*/*.vmb.json")))
    result = {"finished_before_kill": len(finished), "files_of_finished_items": len(kept),
              "files_lost_or_changed": lost, "resume_exit": resumed.returncode,
              "resume_s": round(resume_s, 2), "finished_after_resume": done,
              "skipped_by_resume": summary.get("finished_before")}  # fmt: skip
    log(f"batch sigkill + resume: {result}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="synthetic vectors (IVF-PQ)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--track-s", type=float, default=30.0)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray runtime")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: faiss,embedding,batch")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    import faiss

    from vmb.engines.runtime import ray_runtime

    faiss.omp_set_num_threads(1)
    report: dict = {"benchmark": "engines", "machine": {"faiss_threads": 1}}
    work = Path(tempfile.mkdtemp(prefix="vmb-bench-engines-"))
    try:
        t = time.perf_counter()
        with ray_runtime(None, args.cpus) as ray:
            report["ray"] = {"version": ray.__version__, "start_s": round(time.perf_counter() - t, 2),
                             "cpus": ray.cluster_resources().get("CPU")}  # fmt: skip
            log(f"ray started: {report['ray']}")
            if "faiss" not in skip:
                report["faiss_shards"] = bench_faiss_shards(args.n, args.shards)
            if "embedding" not in skip:
                report["embedding"] = bench_embedding(work, args.tracks, args.track_s)
            if "batch" not in skip:
                index = work / "one"
                if not index.exists():
                    from vmb.retrieve import build_index

                    build_index(write_tracks(work / "lib2", 4, 20.0), index, progress=False)
                report["batch"] = bench_batch(work, args.items, index)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["machine"]["load_average"] = [round(v, 2) for v in os.getloadavg()]
    report["wall_s"] = round(time.perf_counter() - STARTED, 1)
    write_result(args.out, report, argv)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
