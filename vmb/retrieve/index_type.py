"""Which FAISS index an index folder gets: the rule, in one table.

=====================================  ==============  =============================================
vectors N (dim D, float32)             type            why
=====================================  ==============  =============================================
N·D·4 bytes > ``memory_budget``        ``ivf_pq``      flat vectors do not fit: IVF (nlist ≈ 4·√N)
                                                       over product-quantised codes (m bytes per
                                                       vector, the largest m that fits the budget)
N < 50,000                             ``flat``        exact ``IndexFlatIP``: a full scan takes
                                                       milliseconds at this size
N ≥ 50,000                             ``ivf_flat``    IVF-Flat, nlist ≈ 4·√N, nprobe tuned at
                                                       build time for recall@10 ≥ 0.95
=====================================  ==============  =============================================

Why IVF-Flat and not HNSW above 50k (``python -m benchmarks.bench_faiss``, one FAISS thread,
2 shared CPU cores, ``benchmarks/results/faiss.json``): on 1M clustered 512-d vectors IVF-Flat
built in 3 minutes (plus 2 for the nprobe tuning) and answered 730 queries/s at recall@10
0.99, 221x exact search; an HNSW graph (M = 32) inserted about 1,550 vectors/s on a 20k
subset, so 11 minutes or more for 1M, and needed efSearch 512 to pass recall 0.95 on that
data. HNSW stays available with ``kind="hnsw"`` (``vmb index build --index-type hnsw``).

All use the inner product on L2-normalised vectors (cosine similarity). With ``faiss-gpu``
installed and a GPU present, flat and IVF indexes are searched on the GPU
(:func:`search_on_gpu`); FAISS has no GPU HNSW, so HNSW stays on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from vmb.errors import UsageError

IndexKind = Literal["flat", "hnsw", "ivf_flat", "ivf_pq"]
INDEX_KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf_flat", "ivf_pq")

EXACT_MAX = 50_000
HNSW_M = 32
TARGET_RECALL = 0.95


@dataclass(frozen=True)
class IndexSpec:
    """The chosen index: ``kind``, FAISS construction parameters and the reason, in words."""

    kind: IndexKind
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def nlist_for(n: int) -> int:
    """Number of IVF lists ≈ 4·√N, at least 1, and at most N / 39 (FAISS wants ≥ 39 training
    points per centroid)."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def pq_bytes_for(n: int, dim: int, budget_bytes: float) -> int:
    """The largest PQ code size m (bytes per vector; m divides ``dim``; m ≤ 64) whose codes and
    ids (8 bytes) fit ``budget_bytes``.

    Raises:
        UsageError: even the smallest code does not fit.
    """
    candidates = [m for m in (64, 48, 32, 24, 16, 12, 8, 4, 2, 1) if dim % m == 0]
    for m in candidates:
        if n * (m + 8) <= budget_bytes:
            return m
    need = n * (candidates[-1] + 8) / 1e9
    raise UsageError(
        f"--memory-budget-gb {budget_bytes / 1e9:g}: too small for {n} vectors (needs at least {need:.3f} GB)"
    )


def choose_index_type(
    n: int, dim: int, memory_budget_bytes: float | None = None, kind: str = "auto"
) -> IndexSpec:
    """Apply the rule of the module table to ``n`` vectors of dimension ``dim`` (or build the
    given ``kind``: ``flat``, ``hnsw``, ``ivf_flat``, ``ivf_pq``).

    Raises:
        UsageError: an unknown kind, or a memory budget too small even for PQ codes.
    """
    if kind not in ("auto", *INDEX_KINDS):
        raise UsageError(f"--index-type {kind}: unknown; use auto, {', '.join(INDEX_KINDS)}")
    flat_bytes = n * dim * 4
    over_budget = memory_budget_bytes is not None and flat_bytes > memory_budget_bytes
    if kind == "ivf_pq" or (kind == "auto" and over_budget):
        budget = memory_budget_bytes if memory_budget_bytes is not None else flat_bytes / 8
        m = pq_bytes_for(n, dim, budget)
        nlist = nlist_for(n)
        # 2**nbits centroids per sub-quantizer, each wanting ~39 training points
        nbits = min(8, max(1, int(math.log2(max(2, n // 39)))))
        why = (
            f"{flat_bytes / 1e9:.2f} GB of flat vectors exceed the {budget / 1e9:g} GB budget"
            if over_budget
            else "asked for"
        )
        return IndexSpec(
            "ivf_pq",
            {"nlist": nlist, "m": m, "nbits": nbits},
            f"{why}: IVF{nlist} over {m}-byte PQ codes",
        )
    if over_budget:
        raise UsageError(
            f"--index-type {kind}: {flat_bytes / 1e9:.2f} GB of vectors exceed --memory-budget-gb {memory_budget_bytes / 1e9:g}; use auto or ivf_pq"
        )
    if kind == "flat" or (kind == "auto" and n < EXACT_MAX):
        why = f"{n:,} < {EXACT_MAX:,} vectors" if kind == "auto" else "asked for"
        return IndexSpec("flat", {}, f"{why}: exact search")
    if kind == "hnsw":
        return IndexSpec(
            "hnsw",
            {"M": HNSW_M, "efConstruction": 40},
            f"asked for: HNSW graph, M={HNSW_M}, efSearch tuned",
        )
    nlist = nlist_for(n)
    why = f"{n:,} ≥ {EXACT_MAX:,} vectors" if kind == "auto" else "asked for"
    return IndexSpec(
        "ivf_flat", {"nlist": nlist}, f"{why}: IVF-Flat with {nlist} lists, nprobe tuned"
    )


def search_on_gpu(kind: str, num_gpus: int, gpu_faiss: bool) -> bool:
    """Whether an index of ``kind`` is moved to the GPU for (broad) search: only with a
    GPU-enabled FAISS (``gpu_faiss``), at least one GPU, and a kind FAISS implements on GPUs
    (flat, IVF). Partition-restricted searches stay on the CPU copy (FAISS GPU indexes take no
    ID selector)."""
    return bool(gpu_faiss) and num_gpus > 0 and kind in ("flat", "ivf_flat", "ivf_pq")
