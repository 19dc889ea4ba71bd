"""Speed and recall of the music bridge's FAISS search against exact search.

N random unit vectors of dimension 512 (default N = 1,000,000), two distributions:

- ``clustered``: an embedding-like mixture: N / 100 random unit centres, each vector a centre
  plus isotropic Gaussian noise of norm ``--noise`` (1.0: cosine to its centre about 0.7;
  1.5: about 0.55, where a few % of each query's 10 neighbours are chance neighbours from
  other clusters), normalised. Queries are fresh draws from the same mixture.
- ``uniform``: i.i.d. uniform on the sphere, queries too. The worst case for any approximate
  index: the 10 nearest neighbours are barely nearer than any other vector (top-1 cosine about
  0.2 against about 0.16 for the 10th), so no partitioning or graph can skip most vectors.

For each, in the same run:

- ``exact``: the plain library call, ``faiss.IndexFlatIP``: build (add) time, queries/s at
  batch 1 and batch 64, and the ground truth top-10.
- ``vmb``: what ``vmb index build`` makes for N vectors (``choose_index_type``: IVF-Flat with
  nlist = 4·√N above 50k) via ``build_faiss_index`` + ``tune_search`` (nprobe tuned for
  recall@10 ≥ 0.95 on synthetic queries made from the indexed vectors, as in production):
  build and tune time, queries/s at batch 1 and 64, recall@10 against exact on the benchmark
  queries.
- targeted: a random 10 % partition, given to FAISS as an ID selector: exact (``IndexFlatIP``
  with ``SearchParameters(sel=IDSelectorBatch)``, the plain library call) against vmb's
  ``search(..., ids=partition)``; queries/s at batch 1 and recall@10 within the partition.
- ``hnsw`` (clustered only, on a ``--hnsw-n`` subset, because inserting into an HNSW graph
  runs at a few hundred vectors/s here): build rate, the N-vector build time extrapolated
  linearly from it (a lower bound: insertion slows as the graph grows), tuned efSearch, recall
  and queries/s at batch 1 against exact on the same subset.

Target: recall@10 ≥ 0.95 at ≥ 10× the batch-1 queries/s of exact search.

    python -m benchmarks.bench_faiss [--n 1000000] [--uniform-n N] [--noise 1.0]
                                     [--data clustered,uniform] [--threads 1]

Writes ``benchmarks/results/faiss.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
from pathlib import Path

from benchmarks.common import write_result

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "faiss.json"
K = 10


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_data(
    kind: str, n: int, dim: int, n_queries: int, seed: int = 0, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors [n, dim], queries [n_queries, dim])`` float32 unit rows; ``noise`` is the
    norm of the Gaussian noise added to a unit centre (clustered data)."""
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        x = np.empty((n, dim), np.float32)
        for s in range(0, n, 100_000):
            x[s : s + 100_000] = unit(
                rng.standard_normal((min(100_000, n - s), dim), dtype=np.float32)
            )
        return x, unit(rng.standard_normal((n_queries, dim), dtype=np.float32))
    centres = unit(rng.standard_normal((max(10, n // 100), dim), dtype=np.float32))
    sigma = noise / np.sqrt(dim)  # noise of norm ~noise: cosine to the centre 1/sqrt(1 + noise**2)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, dim), np.float32)
        for s in range(0, count, 100_000):
            m = min(100_000, count - s)
            jitter = rng.standard_normal((m, dim), dtype=np.float32) * np.float32(sigma)
            out[s : s + m] = unit(centres[rng.integers(0, len(centres), m)] + jitter)
        return out

    return draw(n), draw(n_queries)


def qps(
    fn, queries: np.ndarray, batch: int, min_s: float = 3.0, max_queries: int | None = None
) -> float:
    """Queries per second of ``fn(batch_of_queries)`` over the queries (at least ``min_s``
    seconds or all of them, at most ``max_queries``)."""
    done, start = 0, time.perf_counter()
    limit = len(queries) if max_queries is None else min(len(queries), max_queries)
    while done < limit:
        fn(queries[done : done + batch])
        done += len(queries[done : done + batch])
        if time.perf_counter() - start > min_s and done >= min(limit, 2 * batch):
            break
    return done / (time.perf_counter() - start)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    from vmb.retrieve.faiss_index import recall_at_k

    return round(recall_at_k(found, truth), 4)


STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[bench_faiss {time.perf_counter() - STARTED:7.1f} s] {message}", flush=True)


def bench_kind(
    kind: str, n: int, dim: int, n_queries: int, hnsw_n: int, noise: float = 1.0,
    margins: tuple[float, ...] = (),
) -> dict:
    import faiss

    from vmb.retrieve import faiss_index
    from vmb.retrieve.index_type import choose_index_type

    out: dict = {"data": kind, "n": n, "dim": dim, "queries": n_queries}
    if kind == "clustered":
        out["noise"] = noise
    t = time.perf_counter()
    x, q = make_data(kind, n, dim, n_queries, noise=noise)
    out["generate_s"] = round(time.perf_counter() - t, 2)

    log(f"{kind}: generated")
    # ---- exact: the plain library call -------------------------------------------------------
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(x)
    exact: dict = {"build_s": round(time.perf_counter() - t, 2)}
    exact["qps_batch1"] = round(qps(lambda b: flat.search(b, K), q, 1, max_queries=50), 2)
    exact["qps_batch64"] = round(qps(lambda b: flat.search(b, K), q, 64), 2)
    scores, truth = flat.search(q, K)
    exact["top1_cosine"], exact["top10_cosine"] = (
        round(float(scores[:, 0].mean()), 3),
        round(float(scores[:, -1].mean()), 3),
    )
    rng = np.random.default_rng(1)
    part = np.sort(rng.choice(n, n // 10, replace=False)).astype(np.int64)
    batch_sel = faiss.IDSelectorBatch(part)
    params = faiss.SearchParameters(sel=batch_sel)
    exact["targeted_qps_batch1"] = round(
        qps(lambda b: flat.search(b, K, params=params), q, 1, max_queries=50), 2
    )
    _, truth_part = flat.search(q, K, params=params)
    out["exact"] = exact
    flat.reset()  # frees its vectors
    gc.collect()

    log(f"{kind}: exact done")
    # ---- vmb: the index vmb index build makes for n vectors ----------------------------------
    spec = choose_index_type(n, dim)
    t = time.perf_counter()
    index = faiss_index.build_faiss_index(x, spec)
    build_s = time.perf_counter() - t
    log(f"{kind}: vmb index built")
    t = time.perf_counter()
    tuned = faiss_index.tune_search(index, x, spec)
    tune_s = time.perf_counter() - t
    search_params = {**spec.params, **tuned}
    vmb: dict = {"type": spec.kind, "params": search_params, "reason": spec.reason}
    vmb["build_s"], vmb["tune_s"] = round(build_s, 2), round(tune_s, 2)
    log(f"{kind}: vmb index tuned")
    vmb["qps_batch1"] = round(qps(lambda b: index.search(b, K), q, 1), 2)
    vmb["qps_batch64"] = round(qps(lambda b: index.search(b, K), q, 64), 2)
    _, found = index.search(q, K)
    vmb["recall_at_10"] = recall(found, truth)
    # the partition's selector is built once, as the exact baseline's IDSelectorBatch is and
    # as the Retriever caches it per wants
    t = time.perf_counter()
    part_sel = faiss_index.Selector(part, n)
    vmb["targeted_selector_build_ms"] = round(1000 * (time.perf_counter() - t), 2)
    vmb["targeted_qps_batch1"] = round(
        qps(
            lambda b: faiss_index.search(index, spec.kind, b, K, search_params, part_sel),
            q,
            1,
            max_queries=100,
        ),
        2,
    )
    _, found_part = faiss_index.search(index, spec.kind, q, K, search_params, part_sel)
    vmb["targeted_recall_at_10"] = recall(found_part, truth_part)
    vmb["targeted_only_partition_ids"] = bool(np.isin(found_part[found_part >= 0], part).all())
    vmb["targeted_probe_margin"] = faiss_index.PARTITION_PROBE_MARGIN
    sweep = []
    for margin in margins:  # nprobe = margin * tuned nprobe / fraction (faiss_index.search)
        row = {"margin": margin}
        row["qps_batch1"] = round(
            qps(
                lambda b, m=margin: faiss_index.search(index, spec.kind, b, K, search_params,
                                                       part_sel, probe_margin=m),  # fmt: skip
                q,
                1,
                max_queries=100,
            ),
            2,
        )
        _, f = faiss_index.search(index, spec.kind, q, K, search_params, part_sel, probe_margin=margin)
        row["recall_at_10"] = recall(f, truth_part)
        row["qps_vs_exact"] = round(row["qps_batch1"] / exact["targeted_qps_batch1"], 2)
        sweep.append(row)
        log(f"{kind}: targeted margin {margin}: {row}")
    if sweep:
        vmb["targeted_margin_sweep"] = sweep
    out["vmb"] = vmb
    out["ratios"] = {
        "qps_batch1_vs_exact": round(vmb["qps_batch1"] / exact["qps_batch1"], 2),
        "qps_batch64_vs_exact": round(vmb["qps_batch64"] / exact["qps_batch64"], 2),
        "targeted_qps_batch1_vs_exact": round(
            vmb["targeted_qps_batch1"] / exact["targeted_qps_batch1"], 2
        ),
    }
    out["target_met"] = bool(
        vmb["recall_at_10"] >= 0.95 and out["ratios"]["qps_batch1_vs_exact"] >= 10
    )
    out["targeted_target_met"] = bool(
        vmb["targeted_recall_at_10"] >= 0.95
        and out["ratios"]["targeted_qps_batch1_vs_exact"] >= 10
    )
    index.reset()
    gc.collect()

    log(f"{kind}: vmb searches done")
    # ---- HNSW on a subset ---------------------------------------------------------------------
    if hnsw_n and kind == "clustered":
        sub, sq = x[:hnsw_n].copy(), q
        sub_flat = faiss.IndexFlatIP(dim)
        sub_flat.add(sub)
        _, sub_truth = sub_flat.search(sq, K)
        sub_exact_qps = qps(lambda b: sub_flat.search(b, K), sq, 1)
        hspec = choose_index_type(hnsw_n, dim, kind="hnsw")
        t = time.perf_counter()
        h = faiss_index.build_faiss_index(sub, hspec)
        h_build = time.perf_counter() - t
        htuned = faiss_index.tune_search(h, sub, hspec)
        _, hfound = h.search(sq, K)
        out["hnsw_subset"] = {
            "n": hnsw_n,
            "params": {**hspec.params, **htuned},
            "build_s": round(h_build, 2),
            "insert_vectors_per_s": round(hnsw_n / h_build, 1),
            "extrapolated_build_s_for_n": round(n / (hnsw_n / h_build), 0),
            "recall_at_10": recall(hfound, sub_truth),
            "qps_batch1": round(qps(lambda b: h.search(b, K), sq, 1), 2),
            "exact_qps_batch1_same_subset": round(sub_exact_qps, 2),
        }
    del x
    gc.collect()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument(
        "--uniform-n", type=int, default=None, help="N for the uniform data (default: --n)"
    )
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm of the clustered data")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", default="clustered,uniform")
    parser.add_argument("--hnsw-n", type=int, default=20_000, help="HNSW subset size (0: skip)")
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS OpenMP threads (0: FAISS default)"
    )
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--margins", default="", help="targeted search: also measure these probe margins (2,3,4)"
    )
    args = parser.parse_args()

    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    runs = []
    for kind in args.data.split(","):
        kind = kind.strip()
        n = args.uniform_n if kind == "uniform" and args.uniform_n else args.n
        log(f"{kind}: n={n} dim={args.dim}")
        margins = tuple(float(m) for m in args.margins.split(",") if m.strip())
        runs.append(bench_kind(kind, n, args.dim, args.queries, args.hnsw_n, args.noise, margins))
        print(json.dumps(runs[-1], indent=1), flush=True)
    result = {
        "benchmark": "faiss",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "faiss": faiss.__version__,
            "faiss_threads": faiss.omp_get_max_threads(),
        },
        "target": "recall@10 >= 0.95 at >= 10x exact queries/s at batch 1",
        "runs": runs,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    write_result(args.out, result)


if __name__ == "__main__":
    main()
