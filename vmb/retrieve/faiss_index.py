"""FAISS index construction, build-time tuning and (partition-restricted) search.

The type comes from :func:`vmb.retrieve.index_type.choose_index_type`. Every search that is
restricted to a partition passes the partition to FAISS as an ``IDSelectorBitmap`` in the
search parameters, so FAISS itself only ranks partition members (no over-fetch-and-filter):

===========  ====================================  ========================================
type         partition ≤ ``EXACT_PARTITION_MAX``    larger partition
===========  ====================================  ========================================
flat         exact scan with the selector           exact scan with the selector
hnsw         exact scan of the graph's flat          graph search with the selector, efSearch
             storage with the selector              raised by 1 / fraction (≤ 8×)
ivf_flat/pq  all lists (nprobe = nlist) with the     nprobe raised by 6 / fraction (≤ nlist)
             selector: exact over the partition
===========  ====================================  ========================================

An IVF partition of at most 25 % of the index is searched on a copy of the inverted lists that
holds only its vectors (:func:`ivf_subset`, built once per partition): the same lists and the
same candidates as with the selector, without visiting the other vectors.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vmb.retrieve.index_type import TARGET_RECALL, IndexSpec

logger = logging.getLogger(__name__)

EXACT_PARTITION_MAX = 50_000
# The top-k within a partition lie farther out than the global top-k, so 1 / fraction more
# lists (the same expected number of partition candidates) is not enough. On 1M clustered
# vectors, a 10 % partition (python -m benchmarks.bench_faiss --margins 2,3,4,6): recall@10
# 0.92 with 1 / fraction, 0.934 with 2 / fraction, 0.945 with 3, 0.9545 with 4, 0.9665 with 6.
# With the partition's lists copied once (ivf_subset), the scan of 6 / fraction lists answered
# 182 queries/s at batch 1 against 11 for exact search with the selector (16x; recall@10
# 0.9665; benchmarks/results/faiss.json); 6 is the margin used.
PARTITION_PROBE_MARGIN = 6.0
TUNE_QUERIES = 200


def build_faiss_index(vectors: np.ndarray, spec: IndexSpec, seed: int = 0):
    """A FAISS index of ``spec.kind`` holding ``vectors`` ``[N, D]`` (L2-normalised float32),
    inner-product metric, ids 0..N-1: :func:`trained_faiss_index` on
    :func:`training_sample`, then :func:`add_vectors`."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = trained_faiss_index(spec, x.shape[1], training_sample(x, spec, seed), seed)
    add_vectors(index, x)
    return index


def training_size(n: int, spec: IndexSpec) -> int:
    """How many of ``n`` vectors train an index of ``spec`` (0: no training).

    k-means on 40 points per list (FAISS asks for >= 39) for 10 iterations keeps a 1M x 512
    build to minutes on one core; the recall is then set by the nprobe tuning. PQ wants 256
    training points per code."""
    if spec.kind not in ("ivf_flat", "ivf_pq"):
        return 0
    nlist = int(spec.params["nlist"])
    return min(n, max(40 * nlist, 256 * 40 if spec.kind == "ivf_pq" else 0))


def training_rows(n: int, spec: IndexSpec, seed: int = 0) -> np.ndarray:
    """The rows ``[M]`` (ascending int64) of ``n`` vectors that train an index of ``spec``: all
    of them, or a seeded random choice. A sharded build reads these rows from its shards and
    so trains exactly the index a single-process build trains."""
    count = training_size(n, spec)
    if count >= n:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng(seed).choice(n, count, replace=False).astype(np.int64)


def training_sample(vectors: np.ndarray, spec: IndexSpec, seed: int = 0) -> np.ndarray:
    """The training vectors of :func:`training_rows` (in the order drawn)."""
    if training_size(len(vectors), spec) == 0:
        return vectors[:0]
    rows = training_rows(len(vectors), spec, seed)
    return vectors if len(rows) == len(vectors) else vectors[rows]


def trained_faiss_index(spec: IndexSpec, dim: int, sample: np.ndarray, seed: int = 0):
    """An empty FAISS index of ``spec.kind`` (inner product), trained on ``sample`` ``[M, D]``
    when the kind needs training (IVF). Copies of it (``faiss.clone_index``) can be filled
    separately and merged (:func:`merge_into`)."""
    import faiss

    d = int(dim)
    ip = faiss.METRIC_INNER_PRODUCT
    if spec.kind == "flat":
        return faiss.IndexFlatIP(d)
    if spec.kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, int(spec.params["M"]), ip)
        index.hnsw.efConstruction = int(spec.params.get("efConstruction", 40))
        return index
    if spec.kind not in ("ivf_flat", "ivf_pq"):
        raise ValueError(f"unknown index kind {spec.kind!r}")
    nlist = int(spec.params["nlist"])
    quantizer = faiss.IndexFlatIP(d)
    if spec.kind == "ivf_flat":
        index = faiss.IndexIVFFlat(quantizer, d, nlist, ip)
    else:
        index = faiss.IndexIVFPQ(
            quantizer, d, nlist, int(spec.params["m"]), int(spec.params["nbits"]), ip
        )
    index.own_fields = True
    quantizer.this.disown()
    index.cp.seed = seed
    index.cp.niter = 10
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def add_vectors(index, vectors: np.ndarray, chunk: int = 100_000) -> None:
    """Add ``vectors`` ``[N, D]`` to ``index`` in chunks (ids continue from ``index.ntotal``)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    for start in range(0, len(x), chunk):
        index.add(x[start : start + chunk])


def merge_into(index, part) -> None:
    """Append the vectors of ``part`` (a filled copy of the same trained, empty index) to
    ``index``: FAISS' ``merge_from`` for flat and IVF indexes (the inverted lists are
    concatenated, ids shifted by ``index.ntotal``), so the result equals one index filled in
    order. HNSW graphs cannot be merged; they are filled in one place (:func:`add_vectors`)."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        raise TypeError("HNSW indexes cannot be merged; add the vectors to one index")
    # flat codes take their ids from their position; IVF lists store ids, shifted here
    shift = index.ntotal if isinstance(index, faiss.IndexIVF) else 0
    index.merge_from(part, shift)


def tuning_queries(vectors: np.ndarray, count: int = TUNE_QUERIES, seed: int = 0) -> np.ndarray:
    """Queries ``[count, D]`` like new draws from the indexed distribution: stored vectors
    moved in a random direction by the distance to their nearest other vector (a new point
    lies about that far from its nearest stored one). Stored points themselves would flatter
    the index, a graph index most."""
    rng = np.random.default_rng(seed)
    n, d = vectors.shape
    picked = np.ascontiguousarray(vectors[np.sort(rng.choice(n, min(count, n), replace=False))])
    scores, _ = exact_search(vectors, picked, min(2, n))
    nearest = scores[:, -1] if n > 1 else np.zeros(len(picked), np.float32)
    step = np.sqrt(np.maximum(2.0 - 2.0 * nearest, 0.0))
    direction = rng.standard_normal((len(picked), d)).astype(np.float32)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    q = picked + step[:, None].astype(np.float32) * direction
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def score_recall(
    found_scores: np.ndarray, found_ids: np.ndarray, truth_scores: np.ndarray
) -> float:
    """Recall@k that counts ties as hits: the share of the k results scoring at least the
    true k-th score. (Clips of one track often share a caption, hence identical vectors; which
    of them an index returns does not matter.)"""
    kth = truth_scores[:, -1:] - 1e-5
    hits = ((found_scores >= kth) & (found_ids >= 0)).sum(axis=1)
    return float(np.mean(np.minimum(hits, truth_scores.shape[1]) / truth_scores.shape[1]))


def true_scores(vectors: np.ndarray, queries: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The exact inner products ``[Q, k]`` of each query with the vectors an index returned
    (``-inf`` for ``-1`` padding). A PQ index reports approximate scores, which would make
    :func:`score_recall` count wrong results as ties."""
    safe = np.where(found >= 0, found, 0)
    scores = np.einsum("qd,qkd->qk", queries, vectors[safe])
    return np.where(found >= 0, scores, -np.inf).astype(np.float32)


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth: exact inner-product top-k ``([Q, k] scores, [Q, k] ids)``."""
    import faiss

    xb = np.ascontiguousarray(vectors, dtype=np.float32)
    xq = np.ascontiguousarray(queries, dtype=np.float32)
    return faiss.knn(xq, xb, min(k, len(xb)), metric=faiss.METRIC_INNER_PRODUCT)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true top-k ids ``[Q, k]`` found in ``found`` ``[Q, k']``."""
    hits = [
        len(set(f[f >= 0].tolist()) & set(t[t >= 0].tolist())) / max(1, int((t >= 0).sum()))
        for f, t in zip(found, truth)
    ]
    return float(np.mean(hits)) if hits else 1.0


def tune_search(
    index,
    vectors: np.ndarray,
    spec: IndexSpec,
    k: int = 10,
    target: float = TARGET_RECALL,
    queries=None,
) -> dict[str, Any]:
    """The smallest efSearch (HNSW) or nprobe (IVF) with recall@k ≥ ``target``; sets it on
    ``index`` and returns ``{"efSearch"|"nprobe": value, "recall_at_10": measured}``.

    The queries are ``queries`` if given, else :func:`tuning_queries`. Recall counts ties as
    hits (:func:`score_recall`) on the exact scores of the returned vectors
    (:func:`true_scores`). Flat indexes are exact."""
    if spec.kind == "flat":
        return {"recall_at_10": 1.0}
    queries = (
        tuning_queries(vectors)
        if queries is None
        else np.ascontiguousarray(queries, dtype=np.float32)
    )
    truth_scores, _ = exact_search(vectors, queries, k)
    if spec.kind == "hnsw":
        name, values = "efSearch", [16, 32, 64, 128, 256, 512, 1024, 2048]
    else:
        nlist = int(spec.params["nlist"])
        name, values = "nprobe", sorted({min(nlist, 2**i) for i in range(16)})
    best: dict[str, Any] = {}
    for value in values:
        set_search_param(index, spec.kind, value)
        _, found = index.search(queries, k)
        recall = score_recall(true_scores(vectors, queries, found), found, truth_scores)
        best = {name: int(value), "recall_at_10": round(recall, 4)}
        if recall >= target:
            break
    else:
        logger.warning(
            "index tuning: recall@%d %.3f < %.2f even at %s=%d",
            k,
            best["recall_at_10"],
            target,
            name,
            best[name],
        )
    set_search_param(index, spec.kind, best[name])
    return best


def set_search_param(index, kind: str, value: int) -> None:
    import faiss

    if kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = int(value)
    elif kind in ("ivf_flat", "ivf_pq"):
        faiss.extract_index_ivf(index).nprobe = int(value)


class Selector:
    """An ``IDSelectorBitmap`` over ``ids`` (unique) of an index of ``n`` vectors (keeps its
    bitmap alive). Build it once per partition and pass it to :func:`search` as ``ids``: at
    1M vectors building the bitmap costs about as much as the partition search itself."""

    def __init__(self, ids: np.ndarray, n: int):
        import faiss

        ids = np.asarray(ids, dtype=np.int64)
        self.ids = ids
        # one bit per vector, little-endian within a byte (FAISS' IDSelectorBitmap layout);
        # ids are unique, so adding the bits of a byte is OR-ing them
        weights = np.left_shift(1, ids & 7)
        counts = np.bincount(ids >> 3, weights=weights, minlength=(n + 7) // 8)
        self.bitmap = counts.astype(np.uint8)
        self.sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(self.bitmap))
        self.n = n
        self.size = len(ids)
        self.fraction = self.size / max(1, n)
        self._subsets: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.size

    def ivf_subset(self, index):
        """:func:`ivf_subset` of ``index`` for these ids (built once per index and kept), or
        ``None`` for a partition above :data:`SUBSET_MAX_FRACTION` of the index (its copy
        would cost memory for little gain) or an index that is not a plain IVF."""
        if self.fraction > SUBSET_MAX_FRACTION:
            return None
        key = id(index)
        if key not in self._subsets:
            member = np.zeros(self.n, dtype=bool)
            member[self.ids] = True
            self._subsets[key] = (index, ivf_subset(index, member))  # keeps index alive
        return self._subsets[key][1]


def search(
    index,
    kind: str,
    queries: np.ndarray,
    k: int,
    params: dict[str, Any] | None = None,
    ids: np.ndarray | Selector | None = None,
    probe_margin: float | None = None,
):
    """Top-``k`` ``([Q, k] scores, [Q, k] ids)`` of ``queries`` ``[Q, D]``; ids ``-1`` pad
    missing results. With ``ids`` (an id array, or its :class:`Selector` built once), only
    those vectors are ranked (see the module table); ``probe_margin`` overrides
    :data:`PARTITION_PROBE_MARGIN` (benchmarks)."""
    import faiss

    params = params or {}
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(int(k), index.ntotal))
    if ids is None:
        return index.search(q, k)
    if len(ids) == 0:
        return np.full((q.shape[0], 0), -np.inf, np.float32), np.full((q.shape[0], 0), -1, np.int64)
    k = min(k, len(ids))
    selector = ids if isinstance(ids, Selector) else Selector(ids, index.ntotal)
    exact = selector.size <= EXACT_PARTITION_MAX
    if kind == "flat":
        return index.search(q, k, params=faiss.SearchParameters(sel=selector.sel))
    if kind == "hnsw":
        hnsw_index = faiss.downcast_index(index)
        if exact:
            storage = faiss.downcast_index(hnsw_index.storage)
            return storage.search(q, k, params=faiss.SearchParameters(sel=selector.sel))
        ef = int(params.get("efSearch", hnsw_index.hnsw.efSearch))
        ef = int(min(ef * 8, ef / max(selector.fraction, 1e-9)))
        return index.search(
            q, k, params=faiss.SearchParametersHNSW(sel=selector.sel, efSearch=max(ef, k))
        )
    if kind in ("ivf_flat", "ivf_pq"):
        ivf = faiss.extract_index_ivf(index)
        nprobe = int(params.get("nprobe", ivf.nprobe))
        margin = PARTITION_PROBE_MARGIN if probe_margin is None else float(probe_margin)
        nprobe = (
            ivf.nlist
            if exact
            else int(
                min(
                    ivf.nlist,
                    np.ceil(margin * nprobe / max(selector.fraction, 1e-9)),
                )
            )
        )
        subset = selector.ivf_subset(index)
        if subset is not None:  # the same lists, holding only the partition's vectors
            return subset.search(q, k, params=faiss.SearchParametersIVF(nprobe=nprobe))
        return index.search(q, k, params=faiss.SearchParametersIVF(sel=selector.sel, nprobe=nprobe))
    raise ValueError(f"unknown index kind {kind!r}")


SUBSET_MAX_FRACTION = 0.25


def ivf_subset(index, member: np.ndarray):
    """A copy of the IVF ``index`` whose inverted lists hold only the vectors with
    ``member[id]`` true (same quantizer, same codes, same ids), or ``None`` when ``index`` is
    not a plain IVF index.

    Searching it with nprobe ``p`` ranks exactly what searching ``index`` with nprobe ``p``
    and the partition's selector ranks, without visiting the other vectors of each list: on a
    10 % partition about 10x less work. Built by copying list entries (no re-encoding)."""
    import faiss

    if not isinstance(index, faiss.IndexIVF):
        return None
    ivf = index
    lists = ivf.invlists
    # clone the trained index around an empty set of lists: detach the lists for the clone
    empty = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
    ivf.own_invlists = False
    ivf.replace_invlists(empty, False)
    try:
        subset = faiss.clone_index(index)
    finally:
        ivf.replace_invlists(lists, True)
    code_size = ivf.code_size
    total = 0
    for list_no in range(ivf.nlist):
        size = lists.list_size(list_no)
        if not size:
            continue
        ids = faiss.rev_swig_ptr(lists.get_ids(list_no), size)
        keep = np.flatnonzero(member[ids])
        if not len(keep):
            continue
        codes = faiss.rev_swig_ptr(lists.get_codes(list_no), size * code_size)
        kept_ids = np.ascontiguousarray(ids[keep], dtype=np.int64)
        kept_codes = np.ascontiguousarray(codes.reshape(size, code_size)[keep])
        subset.invlists.add_entries(
            list_no, len(keep), faiss.swig_ptr(kept_ids), faiss.swig_ptr(kept_codes)
        )
        total += len(keep)
    subset.ntotal = total
    return subset


def gpu_status() -> tuple[bool, int]:
    """``(faiss built with GPU support, number of GPUs FAISS sees)``."""
    import faiss

    has_gpu_build = hasattr(faiss, "StandardGpuResources")
    return has_gpu_build, (faiss.get_num_gpus() if has_gpu_build else 0)


def to_gpu(index):
    """A GPU copy of ``index`` (device 0)."""
    import faiss

    return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)


def to_cpu(index):
    """``index`` itself, or its CPU copy if it lives on a GPU."""
    import faiss

    if hasattr(faiss, "index_gpu_to_cpu") and "Gpu" in type(index).__name__:
        return faiss.index_gpu_to_cpu(index)
    return index
