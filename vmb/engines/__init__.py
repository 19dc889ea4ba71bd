"""Running vmb's big jobs in one process or on Ray: index builds and batch scoring.

* :func:`build_index_distributed` — ``vmb index build --engine ray``: the index build as a Ray
  Data pipeline (decode tasks → encoder actors → shards), the FAISS index trained once and
  merged from the shards; the same index folder as :func:`vmb.retrieve.build_index`.
* :func:`run_batch` — ``vmb generate --batch MANIFEST``: many items, one
  :class:`~vmb.pipeline.Pipeline` per worker (``engine="local"``: this process; ``"ray"``: Ray
  actors), a summary and a status table, ``resume`` to skip finished items.

Ray is optional (``pip install 'vmb[ray]'``); :mod:`vmb.engines.runtime` connects to it.
"""

from __future__ import annotations

from vmb.lazy import lazy_exports

__all__ = ["build_index_distributed", "run_batch"]

__getattr__ = lazy_exports(
    __name__, {"build_index_distributed": "vmb.engines.ray_build", "run_batch": "vmb.engines.batch"}
)
