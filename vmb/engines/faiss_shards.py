"""A FAISS index trained once and filled shard by shard on Ray, then merged.

The index is trained once, in the driver, on the rows :func:`~vmb.retrieve.faiss_index.
training_rows` picks (the same rows, hence the same centroids and codebooks, as the
single-process build). Each shard's vectors are added to a copy of the trained, empty index by
a Ray task (assigning vectors to lists and encoding PQ codes is the part of an IVF build that
grows with N), and the filled copies are merged in shard order with FAISS' ``merge_from``
(:func:`~vmb.retrieve.faiss_index.merge_into`): the result holds the vectors in the order a
single process adds them, ids ``0..N-1``. HNSW graphs cannot be merged and are filled in the
driver.
"""

from __future__ import annotations

import itertools

import numpy as np

from vmb.retrieve.faiss_index import add_vectors, merge_into, trained_faiss_index, training_rows
from vmb.retrieve.index_type import IndexSpec


def _fill_shard(trained: bytes, vectors: np.ndarray, threads: int) -> bytes:
    """A copy of the serialized, trained index holding ``vectors`` (run as a Ray task)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.deserialize_index(np.frombuffer(trained, dtype=np.uint8))
    add_vectors(index, vectors)
    return faiss.serialize_index(index).tobytes()


def build_sharded_index(
    vectors: np.ndarray,
    spec: IndexSpec,
    bounds: list[int],
    seed: int = 0,
    task_cpus: float = 1.0,
):
    """The FAISS index of ``vectors`` ``[N, D]`` built as the module docstring says; shard
    ``s`` holds rows ``bounds[s]:bounds[s + 1]``. Needs a connected Ray runtime for more than
    one shard; an index equal to :func:`~vmb.retrieve.faiss_index.build_faiss_index`'s."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    rows = training_rows(len(x), spec, seed) if spec.kind in ("ivf_flat", "ivf_pq") else None
    sample = x[rows] if rows is not None else x[:0]
    index = trained_faiss_index(spec, x.shape[1], sample, seed)
    spans = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    if spec.kind == "hnsw" or len(spans) < 2:
        add_vectors(index, x)
        return index
    import ray

    trained = ray.put(faiss.serialize_index(index).tobytes())
    threads = max(1, int(task_cpus))
    fill = ray.remote(num_cpus=task_cpus)(_fill_shard)
    parts = [fill.remote(trained, x[a:b], threads) for a, b in spans]
    for ref in parts:  # merged in shard order: ids stay 0..N-1 in row order
        part = faiss.deserialize_index(np.frombuffer(ray.get(ref), dtype=np.uint8))
        merge_into(index, part)
    return index


__all__ = ["build_sharded_index"]
