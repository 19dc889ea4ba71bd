"""FD and KL: the numbers themselves (closed forms, identities, intervals)."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.eval.fd import fd_of_rows, fd_with_uncertainty, frechet_distance, gaussian_stats
from vmb.eval.kl import kl_divergence, softmax


def test_fd_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16)) @ rng.standard_normal((16, 16))
    assert fd_of_rows(x, x) == pytest.approx(0.0, abs=1e-9)
    result = fd_with_uncertainty(list(x[:50]), list(x[:50]), bootstrap=0)
    assert result.value == pytest.approx(0.0, abs=1e-9)


def test_fd_matches_the_closed_form_between_two_gaussians():
    # diagonal covariances: FD = |mu1 - mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2))
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 3.0, -2.0])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)
    # full covariances that commute: same eigenvectors, so tr sqrt(S1 S2) = sum sqrt(l1 l2)
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))
    c1, c2 = q @ np.diag(s1) @ q.T, q @ np.diag(s2) @ q.T
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
    # 1-D: (m1 - m2)^2 + (sd1 - sd2)^2
    assert frechet_distance(np.array([2.0]), np.array([[4.0]]), np.array([-1.0]), np.array([[1.0]])) == pytest.approx(10.0)


def test_fd_of_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal([0, 0], [1, 2], size=(20000, 2))
    b = rng.normal([1, 0], [1, 1], size=(20000, 2))
    expected = 1.0 + (1 + 4 + 1 + 1 - 2 * (1 + 2))  # = 2
    assert fd_of_rows(a, b) == pytest.approx(expected, abs=0.08)


def test_bootstrap_interval_covers_the_true_fd_where_the_plug_in_value_is_biased():
    # 8-D unit Gaussians, means 1 apart: the true FD is 1; 50 items a side bias the estimate up
    rng = np.random.default_rng(3)
    shift = np.eye(8)[0]
    gen = list(rng.standard_normal((50, 8)) + shift)
    ref = list(rng.standard_normal((50, 8)))
    result = fd_with_uncertainty(gen, ref, bootstrap=200, seed=0)
    assert result.value > 1.5  # the small-sample bias
    assert result.ci_low <= 1.0 <= result.ci_high
    assert result.bootstrap_bias > 0
    assert result.fd_inf is not None and abs(result.fd_inf - 1.0) < abs(result.value - 1.0)
    small = fd_with_uncertainty(gen[:2], ref[:2], bootstrap=100)
    assert small.ci_low is None and small.fd_inf is None


def test_gaussian_stats_rejects_empty_input():
    with pytest.raises(ValueError, match=r"non-empty \[N, D\] matrix, got shape \(0, 3\)"):
        gaussian_stats(np.zeros((0, 3)))


def test_kl_of_identical_distributions_is_zero_and_positive_otherwise():
    logits = np.random.default_rng(4).standard_normal((5, 527))
    p = softmax(logits)
    assert np.allclose(kl_divergence(p, p), 0.0, atol=1e-12)
    q = softmax(np.roll(logits, 1, axis=1))
    assert np.all(kl_divergence(p, q) > 0)
    # a known value: KL([1/2, 1/2] || [1/4, 3/4]) = 0.5 ln 2 + 0.5 ln(2/3)
    expected = 0.5 * np.log(2) + 0.5 * np.log(2 / 3)
    assert kl_divergence(np.array([0.5, 0.5]), np.array([0.25, 0.75]), eps=0) == pytest.approx(expected)
