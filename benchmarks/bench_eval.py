"""Speed of ``vmb eval``: FD on the built-in features against decoding the same files alone,
and CLAP embedding throughput on the CPU with a full-size random-weight CLAP.

1. ``features``: 100 generated + 100 reference items of 10 s (drum/bass/chord loops from
   :mod:`vmb.analysis.reference_signals` at 60–160 BPM, wav, 32 kHz) are evaluated with
   ``vmb.eval.evaluate(metrics="fd-features")`` with a cold cache (every item measured) and again
   with a warm cache (nothing measured), and the same 200 files are decoded alone with
   ``vmb.media.read_audio(mono=True)`` — the plain library call, the decode eval itself does —
   in the same run, interleaved; so are they with ``soundfile.read(dtype="float32")``, the plain
   library call (vmb's read is faster: integer PCM read as integers). Eval runs on one thread (``threads=1``) and as shipped on two
   CPUs (``threads=2``: decode-ahead thread, FD bootstrap in two batches at once); the features
   alone (on decoded audio) and FD alone give the breakdown. Ratios are eval / decode, wall and
   CPU time (target in issue 17: cold ≤ 1.2).
2. ``clap``: ``ClapModel`` built from a full-size config (HTSAT depths 2-2-12-2, width 128..1024,
   RoBERTa-base text stack: the shapes of ``laion/larger_clap_music``) with random weights — the
   weights cannot be downloaded here — embedding 10 s items through vmb's CLAP embedder path on
   the CPU; items per second.

    python -m benchmarks.bench_eval [--items 100] [--seconds 10] [--repeats 2] [--clap-items 8]

Writes ``benchmarks/results/eval.json`` (commit, date, machine, command).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "eval.json"
SR = 32000


def make_items(folder: Path, count: int, seconds: float, seed: int) -> Path:
    import soundfile as sf

    from vmb.analysis.reference_signals import arrangement

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    progressions = [((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")), ((2, "min"), (7, "maj"), (0, "maj"), (0, "maj")),
                    ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj"))]
    for i in range(count):
        bpm = float(rng.uniform(60, 160))
        audio = arrangement(bpm, seconds, SR, progression=progressions[i % len(progressions)])
        sf.write(str(folder / f"item{i:03d}.wav"), np.asarray(audio, np.float32).T if np.ndim(audio) > 1 else audio, SR)
    return folder


def _timed(fn) -> tuple[float, float]:
    """``(wall s, CPU s of this process, all threads)`` of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_features(items: int, seconds: float, repeats: int) -> dict:
    from vmb.eval import evaluate
    from vmb.eval.fd import fd_with_uncertainty
    from vmb.eval.features import measure_features, one_blas_thread
    from vmb.media import read_audio
    from vmb.retrieve.encoders.features import FeaturesEncoder

    with tempfile.TemporaryDirectory(prefix="vmb-bench-eval-") as tmp:
        tmp = Path(tmp)
        gen = make_items(tmp / "gen", items, seconds, seed=1)
        ref = make_items(tmp / "ref", items, seconds, seed=2)
        files = sorted(gen.iterdir()) + sorted(ref.iterdir())

        def decode():
            for f in files:
                read_audio(f, mono=True)

        def decode_soundfile():  # the plain library call: libsndfile's own float32 read
            import soundfile as sf

            for f in files:
                sf.read(f, dtype="float32", always_2d=True)[0].T.mean(axis=0, keepdims=True)

        clips = [read_audio(f, mono=True) for f in files]
        rows = [measure_features(a[0], sr)[None, :] for a, sr in clips]
        kinds = ("decode", "decode_soundfile_float32", "eval_cold_1_thread", "eval_cold_2_threads", "eval_warm", "features_only", "fd_only_1_thread")
        wall: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        loads: list[float] = []
        value = {}
        from vmb.eval.measuring import default_threads

        evaluate_threads = default_threads()
        for r in range(repeats):
            loads.append(round(os.getloadavg()[0], 2))
            for key in kinds:
                if key == "decode":
                    fn = decode
                elif key == "decode_soundfile_float32":
                    fn = decode_soundfile
                elif key == "features_only":  # the measuring alone, on audio already decoded

                    def fn():
                        with one_blas_thread():
                            for a, sr in clips:
                                measure_features(a[0], sr)
                elif key == "fd_only_1_thread":  # FD with its bootstrap interval and FD-inf alone

                    def fn():
                        fd_with_uncertainty(rows[:items], rows[items:], bootstrap=200, threads=1)
                else:
                    threads = 1 if key == "eval_cold_1_thread" else 2
                    cache = tmp / f"cache{r}-{threads}" if key != "eval_warm" else tmp / "cache0-2"

                    def fn(cache=cache, threads=threads, key=key):
                        report = evaluate(gen, ref, metrics="fd-features", cache_dir=cache, bootstrap=200, threads=threads)
                        value[key] = report.metric("fd-features").value
                w, c = _timed(fn)
                wall[key].append(w)
                cpu[key].append(c)
        best = {k: min(v) for k, v in wall.items()}
        best_cpu = {k: min(v) for k, v in cpu.items()}
        old = [a[0] for a, _ in clips[:10]]
        start = time.perf_counter()
        for a in old:
            FeaturesEncoder().measure(a, clips[0][1])
        v1_ms = 1000 * (time.perf_counter() - start) / len(old)
        n = len(files)
        return {
            "items": {"generated": items, "reference": items, "seconds_each": seconds, "format": "wav 32 kHz mono PCM-16"},
            "seconds": {k: round(v, 3) for k, v in best.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in best_cpu.items()},
            "all_rounds": {k: [round(x, 3) for x in v] for k, v in wall.items()},
            "load_avg_1m_per_round": loads,
            "threads_evaluate_would_pick_at_start": evaluate_threads,
            "ratio_cold_1_thread_vs_decode": round(best["eval_cold_1_thread"] / best["decode"], 2),
            "ratio_cold_2_threads_vs_decode": round(best["eval_cold_2_threads"] / best["decode"], 2),
            "ratio_warm_vs_decode": round(best["eval_warm"] / best["decode"], 2),
            "ratio_cold_1_thread_vs_soundfile_float32": round(best["eval_cold_1_thread"] / best["decode_soundfile_float32"], 2),
            "ratio_cold_2_threads_vs_soundfile_float32": round(best["eval_cold_2_threads"] / best["decode_soundfile_float32"], 2),
            "cpu_ratio_cold_1_thread_vs_decode": round(best_cpu["eval_cold_1_thread"] / best_cpu["decode"], 2),
            "cpu_ratio_cold_2_threads_vs_decode": round(best_cpu["eval_cold_2_threads"] / best_cpu["decode"], 2),
            "per_item_ms": {
                "decode": round(1000 * best["decode"] / n, 3),
                "decode_soundfile_float32": round(1000 * best["decode_soundfile_float32"] / n, 3),
                "eval_cold_1_thread": round(1000 * best["eval_cold_1_thread"] / n, 3),
                "eval_cold_2_threads": round(1000 * best["eval_cold_2_threads"] / n, 3),
                "features_only": round(1000 * best["features_only"] / n, 3),
                "fd_with_bootstrap_200_per_item": round(1000 * best["fd_only_1_thread"] / n, 3),
                "rest (cache, bookkeeping; cold 1 thread - decode - features - fd)": round(
                    1000 * (best["eval_cold_1_thread"] - best["decode"] - best["features_only"] - best["fd_only_1_thread"]) / n, 3
                ),
                "features_v1_retrieval_encoder (before)": round(v1_ms, 2),
            },
            "cpu_ms_per_item": {k: round(1000 * v / n, 3) for k, v in best_cpu.items()},
            "fd_features": value,
            "target": "eval_cold <= 1.2 x decode (issue 17)",
            "notes": (
                "decode: vmb.media.read_audio(mono=True) of the 200 files, one after another, on one thread (the decode "
                "eval does; since read_audio reads integer PCM as integers it is ~4x faster than libsndfile's float read). "
                "decode_soundfile_float32: soundfile.read(dtype='float32') and the mono mix, the plain library call. eval_cold_1_thread: evaluate(threads=1), everything on the calling thread. "
                "eval_cold_2_threads: evaluate() as shipped on a 2-CPU machine (threads=2): a background thread decodes "
                "the next items while the current one is measured, and the FD bootstrap runs in two batches at once. "
                "cpu_seconds: process CPU time, all threads. Best of the rounds, each kind once a round, interleaved; "
                "the machine is shared, so the wall ratio of the 2-thread run needs a second idle core to show."
            ),
        }


def bench_clap(count: int, seconds: float) -> dict:
    import torch
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
    )

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny.clap import make_tiny_tokenizer

    from vmb.eval.embedders import ClapEmbedder
    from vmb.retrieve.encoders.clap import ClapEncoder

    torch.manual_seed(0)
    audio_config = ClapAudioConfig(depths=[2, 2, 12, 2], enable_fusion=False, projection_dim=512)
    text_config = ClapTextConfig(projection_dim=512)
    config = ClapConfig(text_config=text_config.to_dict(), audio_config=audio_config.to_dict(), projection_dim=512)
    start = time.perf_counter()
    model = ClapModel(config).eval()
    build_s = time.perf_counter() - start
    params = sum(p.numel() for p in model.audio_model.parameters()) + sum(p.numel() for p in model.audio_projection.parameters())
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")  # larger_clap_music: no fusion
    processor = ClapProcessor(feature_extractor=extractor, tokenizer=make_tiny_tokenizer())
    embedder = ClapEmbedder.__new__(ClapEmbedder)
    embedder.device = "cpu"
    embedder.record = "random full-size CLAP (larger_clap_music shapes)"
    embedder.encoder = ClapEncoder(model, processor, embedder.record, "cpu", batch_size=8)
    embedder.sample_rate = embedder.encoder.sample_rate
    rng = np.random.default_rng(0)
    clips = [0.1 * rng.standard_normal(int(seconds * 48000)).astype(np.float32) for _ in range(count)]
    embedder.embed(clips[0], 48000)  # warm-up
    start = time.perf_counter()
    for clip in clips:
        embedder.embed(clip, 48000)
    elapsed = time.perf_counter() - start
    return {
        "items": count,
        "seconds_each": seconds,
        "audio_params_millions": round(params / 1e6, 1),
        "model_build_s": round(build_s, 1),
        "seconds": round(elapsed, 2),
        "items_per_s": round(count / elapsed, 3),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--clap-items", type=int, default=8)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    features = bench_features(args.items, args.seconds, args.repeats)
    print(json.dumps(features, indent=2), flush=True)
    clap = bench_clap(args.clap_items, args.seconds) if args.clap_items > 0 else None
    print(json.dumps(clap, indent=2), flush=True)
    result = {
        "commit": commit,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.bench_eval " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
        "features": features,
        "clap_cpu": clap,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    from vmb.fileio import atomic_write_json

    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
