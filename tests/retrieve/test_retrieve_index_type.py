"""The readable FAISS type rule and the GPU decision."""

import pytest

from vmb.errors import UsageError
from vmb.retrieve.index_type import (
    EXACT_MAX,
    choose_index_type,
    nlist_for,
    pq_bytes_for,
    search_on_gpu,
)


def test_exact_below_50k_ivf_flat_above():
    assert choose_index_type(10, 384).kind == "flat"
    assert choose_index_type(EXACT_MAX - 1, 512).kind == "flat"
    spec = choose_index_type(EXACT_MAX, 512)
    assert spec.kind == "ivf_flat"
    assert spec.params["nlist"] == nlist_for(EXACT_MAX) == round(4 * EXACT_MAX**0.5)
    big = choose_index_type(1_000_000, 512)
    assert big.kind == "ivf_flat" and big.params["nlist"] == 4000
    assert "IVF-Flat" in big.reason


def test_memory_budget_switches_to_ivf_pq_with_codes_that_fit():
    # 1M x 512 float32 = 2.05 GB of flat vectors
    assert choose_index_type(1_000_000, 512, memory_budget_bytes=3e9).kind == "ivf_flat"
    spec = choose_index_type(1_000_000, 512, memory_budget_bytes=1e9)
    assert spec.kind == "ivf_pq"
    m = spec.params["m"]
    assert 512 % m == 0 and 1_000_000 * (m + 8) <= 1e9
    assert spec.params["nbits"] == 8 and "budget" in spec.reason
    assert pq_bytes_for(1_000_000, 512, 1e9) == 64
    assert pq_bytes_for(1_000_000, 512, 30e6) == 16


def test_budget_too_small_and_unknown_kind_are_usage_errors():
    with pytest.raises(UsageError, match="memory-budget-gb"):
        choose_index_type(1_000_000, 512, memory_budget_bytes=1e6)
    with pytest.raises(UsageError, match="--index-type annoy"):
        choose_index_type(10, 8, kind="annoy")
    with pytest.raises(UsageError, match="exceed"):
        choose_index_type(1_000_000, 512, memory_budget_bytes=1e9, kind="hnsw")


def test_explicit_kinds():
    assert choose_index_type(100, 32, kind="hnsw").params["M"] == 32
    assert choose_index_type(100_000, 32, kind="flat").kind == "flat"
    assert choose_index_type(1000, 32, kind="ivf_flat").params["nlist"] == nlist_for(1000) == 25


def test_gpu_decision():
    assert search_on_gpu("flat", num_gpus=1, gpu_faiss=True)
    assert search_on_gpu("ivf_flat", num_gpus=2, gpu_faiss=True)
    assert search_on_gpu("ivf_pq", num_gpus=1, gpu_faiss=True)
    assert not search_on_gpu("hnsw", num_gpus=1, gpu_faiss=True)  # FAISS has no GPU HNSW
    assert not search_on_gpu("flat", num_gpus=0, gpu_faiss=True)
    assert not search_on_gpu("flat", num_gpus=1, gpu_faiss=False)
