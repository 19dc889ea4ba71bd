"""Fréchet distance between two sets of embeddings, with bootstrap intervals and FD-∞.

``FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between Gaussians fitted to the rows
of two embedding matrices ``[N, D]``. On a trained audio embedder (CLAP, EnCodec, AST) this is
the Fréchet Audio Distance (FAD); on vmb's built-in measured features it is *not* FAD and is
always reported as "FD (built-in features)".

Small sets bias FD upwards, so two corrections are offered: a bootstrap confidence interval
(items resampled with replacement on both sides; the basic, bias-corrected interval, because
the percentile interval of a biased statistic misses the truth) and FD-∞ (FD on subsets of growing size,
fitted linearly in ``1/N`` and extrapolated to ``1/N = 0``, after Chong & Forsyth's FID-∞ and
fadtk's FAD-∞).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmb.eval.measuring import default_threads


def gaussian_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (float64, ``ddof=1``; zeros for one row) of ``[N, D]``."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty [N, D] matrix, got shape {x.shape}")
    mu = x.mean(axis=0)
    cov = np.cov(x, rowvar=False) if x.shape[0] > 1 else np.zeros((x.shape[1], x.shape[1]))
    return mu, np.atleast_2d(cov)


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """The Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b).

    ``tr((S_a S_b)^(1/2))`` is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix ``S_a^(1/2) S_b S_a^(1/2)`` (same spectrum, no complex round-off), so the
    FD of a set with itself is 0 to numerical precision.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    scale = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b))
    # round-off below 1e-10 of the total variance is zero (never a tiny negative distance)
    return 0.0 if value < 1e-10 * max(scale, 1e-30) else value


def fd_of_rows(a: np.ndarray, b: np.ndarray) -> float:
    """FD between the rows of ``a`` ``[N, D]`` and ``b`` ``[M, D]``."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


@dataclass(frozen=True)
class FDResult:
    """FD with its uncertainty.

    Attributes:
        value: FD on all items.
        ci_low, ci_high: bias-corrected ("basic") bootstrap interval, clipped at 0 (``None``
            with fewer than 3 items a side).
        fd_inf: FD-∞ extrapolation (``None`` with fewer than 10 generated items).
        n_generated, n_reference: items on each side; ``rows_*``: embedding rows used.
    """

    value: float
    ci_low: float | None
    ci_high: float | None
    fd_inf: float | None
    n_generated: int
    n_reference: int
    rows_generated: int
    rows_reference: int
    confidence: float = 0.95
    bootstrap: int = 0
    bootstrap_bias: float | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _stack(items: Sequence[np.ndarray], index: np.ndarray) -> np.ndarray:
    return np.concatenate([np.atleast_2d(items[i]) for i in index], axis=0)


def bootstrap_fds(
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    draws: int,
    rng: np.random.Generator,
    threads: int | None = None,
) -> np.ndarray:
    """FDs ``[draws]`` of bootstrap resamples: items (each ``[R_i, D]`` rows) drawn with
    replacement on both sides, many draws computed together.

    A resample is a weighting of the rows by how often their item was drawn, so its mean and
    covariance are weighted sums over the rows, batched as matrix products over the draws.
    ``tr((S_g S_r)^(1/2))`` is the sum of square roots of the eigenvalues of a symmetric matrix
    of the smaller size: with fewer rows than dimensions, ``K K^T`` with ``K = A_g A_r^T``
    (``S = A^T A``, ``A`` the weighted centred rows; exact); otherwise ``L^T S_g L`` with
    ``S_r = L L^T`` (Cholesky; a resampled covariance can be singular, so ``S_r`` gets a ridge of
    1e-9 of its mean variance, which moves a draw by ~1e-5 relative at most).

    From 64 draws on they are computed in two batches (the same draws on every machine),
    at once on two threads unless ``threads=1`` (``None``: when two CPUs are usable).
    """
    xg, owner_g = _rows(generated)
    xr, owner_r = _rows(reference)
    centre = np.concatenate([xg, xr]).mean(axis=0)  # centred rows: the weighted sums keep precision
    xg, xr = xg - centre, xr - centre
    dim = xg.shape[1]
    by_rows = min(xg.shape[0], xr.shape[0]) < dim
    # draws per batch: keep the largest [batch, ., .] intermediate near 32 MB
    per_draw = (xg.shape[0] + xr.shape[0]) * dim + xg.shape[0] * xr.shape[0] if by_rows else dim * max(xg.shape[0], xr.shape[0], dim)
    batch = int(max(1, min(draws, 4_000_000 // per_draw)))
    if draws >= 2 * MIN_THREAD_DRAWS:  # (at least) two batches, whatever the CPUs: the same draws everywhere
        batch = min(batch, -(-draws // 2))
    weights = []
    for start in range(0, draws, batch):
        count = min(batch, draws - start)
        wg = _draw_counts(rng, len(generated), count)[:, owner_g]  # [B, Ng] row weights
        wr = _draw_counts(rng, len(reference), count)[:, owner_r]
        weights.append((wg, wr))

    def run(pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        wg, wr = pair
        if by_rows:
            return _batched_fd_rows(xg, wg, xr, wr)
        return _batched_fd(*_weighted_stats(xg, wg), *_weighted_stats(xr, wr))

    threads = min(len(weights), 2, default_threads() if threads is None else threads)
    if threads > 1:  # LAPACK and BLAS run outside Python's lock: two batches at once
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads, thread_name_prefix="vmb-eval-fd") as pool:
            out = list(pool.map(run, weights))
    else:
        out = [run(pair) for pair in weights]
    return np.concatenate(out)


MIN_THREAD_DRAWS = 32


def _rows(items: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All rows ``[N, D]`` and the item each came from ``[N]``."""
    blocks = [np.atleast_2d(item) for item in items]
    owner = np.repeat(np.arange(len(blocks)), [b.shape[0] for b in blocks])
    return np.concatenate(blocks).astype(np.float64), owner


def _draw_counts(rng: np.random.Generator, n: int, draws: int) -> np.ndarray:
    """``[draws, n]``: how often each of ``n`` items is drawn in ``n`` draws with replacement."""
    picks = rng.integers(0, n, (draws, n)) + n * np.arange(draws)[:, None]
    return np.bincount(picks.ravel(), minlength=draws * n).reshape(draws, n).astype(np.float64)


def _weighted_stats(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means ``[B, D]`` and covariances ``[B, D, D]`` (``ddof=1``) of rows ``x [N, D]`` weighted
    by ``weights [B, N]`` (whole counts)."""
    total = weights.sum(axis=1)  # [B]
    mu = (weights @ x) / total[:, None]
    n, dim = x.shape
    if n * dim * dim <= 4_000_000:  # one matrix product with the rows' outer products [N, D*D]
        cov = (weights @ (x[:, :, None] * x[:, None, :]).reshape(n, dim * dim)).reshape(-1, dim, dim)
    else:
        cov = np.einsum("bn,nd,ne->bde", weights, x, x, optimize=True)  # [B, D, D]
    cov -= total[:, None, None] * mu[:, :, None] * mu[:, None, :]
    cov /= np.maximum(total - 1, 1)[:, None, None]
    return mu, cov  # symmetric: both products are


def _batched_fd(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> np.ndarray:
    """FD ``[B]`` between N(mu_a[i], cov_a[i]) and N(mu_b[i], cov_b[i])."""
    dim = cov_b.shape[-1]
    trace_a = np.trace(cov_a, axis1=1, axis2=2)
    trace_b = np.trace(cov_b, axis1=1, axis2=2)
    ridge = np.maximum(1e-9 * trace_b / dim, 1e-300)[:, None, None] * np.eye(dim)
    try:
        low = np.linalg.cholesky(cov_b + ridge)  # [B, D, D]
    except np.linalg.LinAlgError:  # round-off beyond the ridge: the exact path, one draw at a time
        return np.asarray([frechet_distance(*args) for args in zip(mu_a, cov_a, mu_b, cov_b)])
    middle = low.transpose(0, 2, 1) @ cov_a @ low
    eig = np.linalg.eigvalsh((middle + middle.transpose(0, 2, 1)) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum(axis=1)
    diff = mu_a - mu_b
    return np.maximum(np.einsum("bd,bd->b", diff, diff) + trace_a + trace_b - 2.0 * trace_sqrt, 0.0)


def _batched_fd_rows(xa: np.ndarray, wa: np.ndarray, xb: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """FD ``[B]`` between rows ``xa [Na, D]`` weighted by ``wa [B, Na]`` and ``xb [Nb, D]``
    weighted by ``wb [B, Nb]``, through the ``[B, Na, Nb]`` cross products (for ``N < D``)."""

    def centred(x, w):
        total = w.sum(axis=1)
        mu = (w @ x) / total[:, None]
        scale = np.sqrt(w / np.maximum(total - 1, 1)[:, None])  # [B, N]
        return mu, scale[:, :, None] * (x[None, :, :] - mu[:, None, :])  # [B, N, D]

    mu_a, a = centred(xa, wa)
    mu_b, b = centred(xb, wb)
    cross = a @ b.transpose(0, 2, 1)  # [B, Na, Nb]
    gram = cross @ cross.transpose(0, 2, 1) if cross.shape[1] <= cross.shape[2] else cross.transpose(0, 2, 1) @ cross
    eig = np.linalg.eigvalsh((gram + gram.transpose(0, 2, 1)) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum(axis=1)
    diff = mu_a - mu_b
    traces = np.einsum("bnd,bnd->b", a, a) + np.einsum("bnd,bnd->b", b, b)
    return np.maximum(np.einsum("bd,bd->b", diff, diff) + traces - 2.0 * trace_sqrt, 0.0)


def fd_with_uncertainty(
    generated: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    bootstrap: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    inf_points: int = 8,
    threads: int | None = None,
) -> FDResult:
    """FD between two sets of items, each item ``[R_i, D]`` rows (frames or windows) or ``[D]``.

    Bootstrap: items (not rows) are resampled with replacement on both sides ``bootstrap`` times;
    the interval is ``[2 FD - q_hi, 2 FD - q_lo]`` of the resampled FDs' quantiles, clipped at 0.
    FD-∞: FD of ``inf_points`` random generated subsets from ``N/4`` (at least 5) to ``N`` items
    against all reference items, least-squares line in ``1/n``, value at ``1/n = 0``.
    ``threads``: see :func:`bootstrap_fds`.
    """
    if not generated or not reference:
        raise ValueError("FD needs at least one generated and one reference item")
    with _blas_threads(np.shape(generated[0])[-1]):
        return _fd_with_uncertainty(generated, reference, bootstrap, confidence, seed, inf_points, threads)


def _blas_threads(dim: int):
    """One BLAS thread for small matrices: a 72 x 72 eigh is ~15x slower with threads fighting
    over a loaded CPU than on one thread, and gains nothing from them when idle."""
    from contextlib import nullcontext

    if dim > 256:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with librosa (scikit-learn)
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _fd_with_uncertainty(generated, reference, bootstrap, confidence, seed, inf_points, threads) -> FDResult:
    gen = [np.atleast_2d(np.asarray(g, np.float64)) for g in generated]
    ref = [np.atleast_2d(np.asarray(r, np.float64)) for r in reference]
    all_g = np.concatenate(gen)
    all_r = np.concatenate(ref)
    stats_r = gaussian_stats(all_r)
    value = frechet_distance(*gaussian_stats(all_g), *stats_r)
    rng = np.random.default_rng(seed)
    lo = hi = bias = None
    if bootstrap > 0 and len(gen) >= 3 and len(ref) >= 3:
        draws = bootstrap_fds(gen, ref, bootstrap, rng, threads)
        # The "basic" (reverse-percentile) interval: FD's small-sample bias is positive and the
        # bootstrap sees it again on top (duplicated items), so the plain percentile interval sits
        # above the truth; reflecting it around the estimate corrects for that bias.
        tail = (1.0 - confidence) / 2 * 100
        q_lo, q_hi = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
        lo, hi = max(0.0, 2 * value - q_hi), max(0.0, 2 * value - q_lo)
        bias = float(np.mean(draws) - value)
    fd_inf = None
    if len(gen) >= 10:
        sizes = np.unique(np.linspace(max(5, len(gen) // 4), len(gen), inf_points).astype(int))
        xs, ys = [], []
        for n in sizes:
            idx = rng.choice(len(gen), size=int(n), replace=False)
            xs.append(1.0 / n)
            ys.append(frechet_distance(*gaussian_stats(_stack(gen, idx)), *stats_r))
        if len(set(xs)) >= 2:
            _slope, intercept = np.polyfit(xs, ys, 1)
            fd_inf = float(intercept)
    return FDResult(
        value=value,
        ci_low=lo,
        ci_high=hi,
        fd_inf=fd_inf,
        n_generated=len(gen),
        n_reference=len(ref),
        rows_generated=int(all_g.shape[0]),
        rows_reference=int(all_r.shape[0]),
        confidence=confidence,
        bootstrap=bootstrap if lo is not None else 0,
        bootstrap_bias=bias,
    )
