"""Reservoir readouts: spike features, closed-form ridge and logistic readouts."""

from __future__ import annotations

import warnings

import mlx.core as mx
import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.nn.readout import (
    LogisticReadout,
    RidgeReadout,
    bin_edges,
    exponential_traces,
    extract_features,
    final_state_features,
    reservoir_features,
    spike_count_features,
    trace_features,
)
from eegsnn.nn.reservoir import Reservoir


# -- features ------------------------------------------------------------------------------
def test_bin_edges_like_array_split():
    assert bin_edges(10, 3).tolist() == [0, 4, 7, 10]
    assert bin_edges(6, 6).tolist() == list(range(7))
    with pytest.raises(ConfigError, match="n_bins"):
        bin_edges(5, 6)
    with pytest.raises(ConfigError, match="n_bins"):
        bin_edges(5, 0)


def test_spike_count_features_hand_computed():
    # T=5, B=1, N=2: neuron 0 spikes at t=0,1,4; neuron 1 at t=2,3
    s = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 0]], np.float32)[:, None, :]
    f = np.asarray(spike_count_features(mx.array(s), n_bins=2))
    # bins [0, 3) and [3, 5): counts bin-major
    assert f.tolist() == [[2.0, 1.0, 1.0, 1.0]]
    assert np.asarray(spike_count_features(mx.array(s))).tolist() == [[3.0, 2.0]]


def test_traces_hand_computed_and_closed_form_matches_recursion():
    s = np.array([1, 0, 1, 0], np.float32)[:, None, None]
    tr = np.asarray(exponential_traces(mx.array(s), decay=0.5))[:, 0, 0]
    np.testing.assert_allclose(tr, [1.0, 0.5, 1.25, 0.625])
    rng = np.random.default_rng(0)
    spikes = (rng.random((23, 3, 7)) < 0.3).astype(np.float32)
    full = np.asarray(exponential_traces(mx.array(spikes), 0.8))
    f = np.asarray(trace_features(mx.array(spikes), 0.8, n_samples=4)).reshape(3, 4, 7)
    ends = bin_edges(23, 4)[1:] - 1
    np.testing.assert_allclose(f, full[ends].transpose(1, 0, 2), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="decay"):
        trace_features(mx.array(spikes), 1.0)


def test_reservoir_features_dispatch_and_membrane():
    state = {"neuron": {"mem": mx.ones((2, 3))}, "history": mx.zeros((1, 2, 3))}
    assert np.asarray(final_state_features(state)).shape == (2, 3)
    spikes = mx.zeros((4, 2, 3))
    assert reservoir_features(spikes, state, "membrane").shape == (2, 3)
    assert reservoir_features(spikes, None, "trace", n_bins=2).shape == (2, 6)
    with pytest.raises(ConfigError, match="unknown feature kind"):
        reservoir_features(spikes, state, "rates")
    with pytest.raises(ConfigError, match="no 'syn'"):
        final_state_features(state, "syn")
    with pytest.raises(ConfigError, match=r"\[T, B, N\]"):
        spike_count_features(mx.zeros((4, 3)))


def test_extract_features_batches_equal_one_run():
    res = Reservoir(3, 80, input_gain=2.0, seed=0)
    x = (np.random.default_rng(1).random((30, 10, 3)) < 0.3).astype(np.float32)
    batched = extract_features(res, x, kind="counts", n_bins=3, batch_size=4)
    spikes, _ = res(mx.array(x))
    direct = np.asarray(spike_count_features(spikes, 3))
    np.testing.assert_array_equal(batched, direct)
    # an iterable of batches works too
    again = extract_features(res, [x[:, :5], x[:, 5:]], kind="counts", n_bins=3)
    np.testing.assert_array_equal(again, direct)


# -- ridge ---------------------------------------------------------------------------------
def _ridge_reference(X, Y, alpha):
    """Unpenalised intercept via centring, then the normal equations (float64)."""
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    return W, ym - xm @ W


@pytest.mark.parametrize("n, d", [(60, 8), (15, 40)])  # primal and dual branches
def test_ridge_matches_normal_equations(n, d):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n) + 3.0
    r = RidgeReadout(2.5, task="regression", standardize=False).fit(X, y)
    W, b = _ridge_reference(X, y[:, None], 2.5)
    np.testing.assert_allclose(r.coef_, W, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r.intercept_, b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r.predict(X), X @ W[:, 0] + b[0], rtol=1e-8)


def test_ridge_standardize_is_equivalent_to_scaled_features():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 5)) * [1, 10, 100, 0.1, 1]
    y = rng.integers(0, 3, 50)
    r = RidgeReadout(1.0, standardize=True).fit(X, y)
    Xs = (X - X.mean(0)) / X.std(0)
    Y = -np.ones((50, 3))
    Y[np.arange(50), y] = 1
    W, b = _ridge_reference(Xs, Y, 1.0)
    np.testing.assert_allclose(r.decision_function(X), Xs @ W + b, rtol=1e-8, atol=1e-10)


def test_ridge_loo_selection_equals_brute_force():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 6))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * rng.normal(size=30)
    alphas = [0.01, 0.3, 3.0, 30.0, 300.0]
    r = RidgeReadout(alphas, task="regression", standardize=False).fit(X, y)
    brute = []
    for a in alphas:
        err = []
        for i in range(30):
            keep = np.arange(30) != i
            W, b = _ridge_reference(X[keep], y[keep, None], a)
            err.append((X[i] @ W[:, 0] + b[0] - y[i]) ** 2)
        brute.append(np.mean(err))
    np.testing.assert_allclose(r.loo_mse_, brute, rtol=1e-8)
    assert r.alpha_ == alphas[int(np.argmin(brute))]
    W, b = _ridge_reference(X, y[:, None], r.alpha_)
    np.testing.assert_allclose(r.coef_, W, rtol=1e-8, atol=1e-10)


def test_ridge_classifier_and_linear_export():
    rng = np.random.default_rng(3)
    centers = np.array([[0, 0], [4, 0], [0, 4]])
    y = np.repeat([0, 1, 2], 40)
    X = centers[y] + rng.normal(size=(120, 2))
    r = RidgeReadout(1.0).fit(X, np.array(["a", "b", "c"])[y])
    assert r.score(X, np.array(["a", "b", "c"])[y]) > 0.9
    lin = r.to_linear()
    np.testing.assert_allclose(np.asarray(lin(mx.array(X.astype(np.float32)))),
                               r.decision_function(X), rtol=1e-4, atol=1e-4)
    with pytest.raises(DataError, match="two classes"):
        RidgeReadout().fit(X, np.zeros(120))
    with pytest.raises(DataError, match="features"):
        r.predict(np.zeros((2, 3)))
    with pytest.raises(DataError, match="NaN"):
        RidgeReadout().fit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    with pytest.raises(ConfigError, match="fit"):
        RidgeReadout().predict(X)
    with pytest.raises(ConfigError, match="alpha"):
        RidgeReadout(-1.0).fit(X, y)


# -- logistic ------------------------------------------------------------------------------
def test_logistic_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20, 3))
    Y = np.eye(3)[rng.integers(0, 3, 20)]
    theta = rng.normal(size=3 * 3 + 3)
    _, g = LogisticReadout._loss_grad(theta, X, Y, 0.7)
    eps = 1e-6
    num = np.array([(LogisticReadout._loss_grad(theta + eps * e, X, Y, 0.7)[0]
                     - LogisticReadout._loss_grad(theta - eps * e, X, Y, 0.7)[0]) / (2 * eps)
                    for e in np.eye(theta.size)])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)


def _irls_binary(X, y, lam, iters=50):
    """Binary logistic regression, penalty (lam/2)||w||^2 (no intercept penalty), Newton."""
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    w = np.zeros(Xa.shape[1])
    P = lam * np.eye(Xa.shape[1])
    P[-1, -1] = 0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Xa @ w))
        g = Xa.T @ (p - y) + P @ w
        H = Xa.T @ (Xa * (p * (1 - p))[:, None]) + P
        w -= np.linalg.solve(H, g)
    return Xa, w


def test_logistic_binary_equals_newton_reference():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=80) > 0).astype(int)
    alpha = 2.0
    m = LogisticReadout(alpha, standardize=False, tol=1e-10).fit(X, y)
    # softmax with 2 classes and (alpha/2)||W||^2 == binary logistic with w = w1 - w0 and
    # penalty (alpha/4)||w||^2, since the optimum has w0 = -w1
    Xa, w = _irls_binary(X, y, alpha / 2)
    p_ref = 1 / (1 + np.exp(-Xa @ w))
    np.testing.assert_allclose(m.predict_proba(X)[:, 1], p_ref, atol=1e-5)
    np.testing.assert_allclose(m.predict_proba(X).sum(1), 1.0)
    assert m.converged_
    np.testing.assert_allclose(np.asarray(m.to_linear()(mx.array(X.astype(np.float32)))),
                               m.decision_function(X), rtol=1e-4, atol=1e-4)


def test_logistic_multiclass_separable():
    rng = np.random.default_rng(6)
    y = np.repeat([0, 1, 2, 3], 25)
    X = np.eye(4)[y] * 5 + rng.normal(size=(100, 4))
    m = LogisticReadout(0.1).fit(X, y)
    assert m.score(X, y) > 0.95
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match="one number"):
            LogisticReadout([1.0, 2.0])
