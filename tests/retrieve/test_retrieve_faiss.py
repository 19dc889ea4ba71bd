"""FAISS construction, build-time tuning and partition-restricted search, for every type."""

import numpy as np
import pytest

from vmb.retrieve import faiss_index
from vmb.retrieve.faiss_index import (
    build_faiss_index,
    exact_search,
    recall_at_k,
    search,
    tune_search,
)
from vmb.retrieve.index_type import choose_index_type

N, D = 4000, 32


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def data():
    # clustered, like real embeddings: 40 centres plus noise
    rng = np.random.default_rng(1)
    centres = unit_rows(40, D, seed=2)
    x = centres[rng.integers(0, 40, N)] + 0.08 * rng.standard_normal((N, D)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = centres[rng.integers(0, 40, 60)] + 0.08 * rng.standard_normal((60, D)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ids = np.sort(rng.choice(N, N // 10, replace=False)).astype(np.int64)
    return x.astype(np.float32), q.astype(np.float32), ids


@pytest.fixture(scope="module")
def built(data):
    x, _, _ = data
    out = {}
    for kind in ("flat", "hnsw", "ivf_flat"):
        spec = choose_index_type(N, D, kind=kind)
        index = build_faiss_index(x, spec)
        out[kind] = (index, {**spec.params, **tune_search(index, x, spec)})
    return out


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf_flat"])
def test_tuned_recall_on_unseen_queries(built, data, kind):
    x, q, _ = data
    index, params = built[kind]
    assert index.ntotal == N
    if kind != "flat":
        assert ("efSearch" if kind == "hnsw" else "nprobe") in params
    _, truth = exact_search(x, q, 10)
    _, found = search(index, kind, q, 10, params)
    assert recall_at_k(found, truth) >= 0.9


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf_flat"])
@pytest.mark.parametrize("exact_max", [faiss_index.EXACT_PARTITION_MAX, 10])
def test_partition_search_ranks_only_members(built, data, kind, exact_max, monkeypatch):
    # exact_max=10 forces the approximate-with-selector branch of HNSW and IVF
    monkeypatch.setattr(faiss_index, "EXACT_PARTITION_MAX", exact_max)
    x, q, ids = data
    index, params = built[kind]
    scores, found = search(index, kind, q, 10, params, ids)
    assert found.shape == (len(q), 10)
    assert np.isin(found[found >= 0], ids).all()
    _, truth_local = exact_search(x[ids], q, 10)
    recall = recall_at_k(found, ids[truth_local])
    assert recall >= (0.999 if exact_max > len(ids) else 0.8)
    # scores are the true inner products of the returned vectors
    valid = found[0] >= 0
    np.testing.assert_allclose(scores[0][valid], x[found[0][valid]] @ q[0], rtol=1e-4, atol=1e-5)


def test_empty_and_tiny_partitions(built, data):
    _, q, _ = data
    index, params = built["ivf_flat"]
    scores, found = search(index, "ivf_flat", q[:2], 5, params, np.array([], dtype=np.int64))
    assert found.shape == scores.shape == (2, 0)
    _scores, found = search(index, "ivf_flat", q[:2], 5, params, np.array([7, 3999]))
    assert sorted(found[0].tolist()) == [7, 3999]


def test_ivf_pq_builds_and_searches_within_partition():
    x = unit_rows(3000, 16, seed=5)
    spec = choose_index_type(len(x), 16, memory_budget_bytes=3000 * 16 * 4 / 2)
    assert spec.kind == "ivf_pq"
    index = build_faiss_index(x, spec)
    params = tune_search(index, x, spec)
    ids = np.arange(0, 3000, 7)
    _, found = search(index, "ivf_pq", x[:3], 5, params, ids)
    assert np.isin(found[found >= 0], ids).all()
    assert (found >= 0).sum() == 15


@pytest.mark.parametrize("kind", ["ivf_flat", "ivf_pq"])
def test_partition_subset_ranks_what_the_selector_ranks(kind):
    """The IVF copy holding only a partition gives the selector search's results, faster."""
    import faiss

    from vmb.retrieve.faiss_index import Selector, build_faiss_index, ivf_subset
    from vmb.retrieve.index_type import choose_index_type

    rng = np.random.default_rng(3)
    x = rng.standard_normal((8000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = build_faiss_index(x, choose_index_type(len(x), 32, kind=kind))
    part = np.sort(rng.choice(len(x), 800, replace=False))
    member = np.zeros(len(x), bool)
    member[part] = True
    subset = ivf_subset(index, member)
    assert subset.ntotal == 800 and index.ntotal == 8000  # the original keeps its lists
    sel = Selector(part, len(x))
    for nprobe in (4, 32):
        d1, i1 = index.search(x[:20], 10, params=faiss.SearchParametersIVF(sel=sel.sel, nprobe=nprobe))
        d2, i2 = subset.search(x[:20], 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
        assert np.array_equal(i1, i2)
        np.testing.assert_allclose(d1, d2, atol=1e-5)
    assert set(i2[i2 >= 0].tolist()) <= set(part.tolist())
    assert sel.ivf_subset(index) is sel.ivf_subset(index)  # built once
