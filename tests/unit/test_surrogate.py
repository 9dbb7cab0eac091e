"""Surrogate gradients: Heaviside forward, analytic backward (eager, compiled, vmap, jvp)."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eegsnn  # noqa: F401  (BLAS before mlx.core; conftest does it too)
from eegsnn import surrogate
from eegsnn.errors import ConfigError

GRID = np.concatenate([np.linspace(-3.0, 3.0, 601), [-1e-4, 0.0, 1e-4, 0.04, -0.04]]).astype(
    np.float32
)


# Independent NumPy references of the derivatives (snnTorch 1.0's scalings).
def ref_fast_sigmoid(x, slope=25.0):
    return 1.0 / (1.0 + slope * np.abs(x)) ** 2


def ref_atan(x, alpha=2.0):
    return (alpha / 2.0) / (1.0 + (np.pi / 2.0 * alpha * x) ** 2)


def ref_sigmoid(x, slope=25.0):
    e = np.exp(-slope * x.astype(np.float64))
    return slope * e / (e + 1.0) ** 2


def ref_triangular(x, width=1.0):
    return np.maximum(0.0, 1.0 - np.abs(x) / width) / width


def ref_straight_through(x):
    return np.ones_like(x)


CASES = [
    ("fast_sigmoid", surrogate.fast_sigmoid(), ref_fast_sigmoid),
    ("fast_sigmoid_k5", surrogate.fast_sigmoid(slope=5.0), lambda x: ref_fast_sigmoid(x, 5.0)),
    ("atan", surrogate.atan(), ref_atan),
    ("atan_a05", surrogate.atan(alpha=0.5), lambda x: ref_atan(x, 0.5)),
    ("sigmoid", surrogate.sigmoid(), ref_sigmoid),
    ("sigmoid_k4", surrogate.sigmoid(slope=4.0), lambda x: ref_sigmoid(x, 4.0)),
    ("triangular", surrogate.triangular(), ref_triangular),
    ("triangular_w05", surrogate.triangular(width=0.5), lambda x: ref_triangular(x, 0.5)),
    ("straight_through", surrogate.straight_through(), ref_straight_through),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "fn", "ref"), CASES, ids=IDS)
def test_forward_is_heaviside_strict(name, fn, ref):
    x = mx.array(GRID)
    out = fn(x)
    assert out.dtype == mx.float32
    assert out.shape == x.shape
    np.testing.assert_array_equal(np.array(out), (GRID > 0).astype(np.float32))
    assert float(fn(mx.array(0.0))) == 0.0  # at threshold: no spike (x > 0)


@pytest.mark.parametrize(("name", "fn", "ref"), CASES, ids=IDS)
def test_gradient_matches_analytic_eager_and_compiled(name, fn, ref):
    x = mx.array(GRID)
    expected = ref(GRID)

    def total(v):
        return fn(v).sum()

    eager = np.array(mx.grad(total)(x))
    compiled = np.array(mx.compile(mx.grad(total))(x))
    np.testing.assert_allclose(eager, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(compiled, expected, rtol=1e-5, atol=1e-7)
    # The helper used for plots gives the same derivative.
    np.testing.assert_allclose(np.array(fn.grad(x)), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("name", "fn", "ref"), CASES, ids=IDS)
def test_vjp_multiplies_the_cotangent(name, fn, ref):
    x = mx.array(GRID.reshape(-1, 1) * np.ones((1, 3), np.float32))
    weights = mx.array(np.array([0.5, -2.0, 3.0], np.float32))
    grad = np.array(mx.grad(lambda v: (fn(v) * weights).sum())(x))
    expected = ref(np.array(x)) * np.array(weights)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "fn", "ref"), CASES, ids=IDS)
def test_jvp_and_vmap(name, fn, ref):
    x = mx.array(GRID[:50])
    tangent = mx.full(x.shape, 2.0)
    (out,), (jv,) = mx.jvp(fn, [x], [tangent])
    np.testing.assert_array_equal(np.array(out), (GRID[:50] > 0).astype(np.float32))
    np.testing.assert_allclose(np.array(jv), 2.0 * ref(GRID[:50]), rtol=1e-5, atol=1e-7)
    batched = mx.vmap(fn)(mx.array(GRID[:60].reshape(6, 10)))
    np.testing.assert_array_equal(np.array(batched).ravel(), (GRID[:60] > 0).astype(np.float32))


def test_gradient_through_matmul_layer_matches_manual_chain_rule():
    """A surrogate after a matmul (the pattern that broke custom_function in older MLX)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(7, 5)).astype(np.float32) * 0.3
    xin = rng.normal(size=(4, 7)).astype(np.float32)
    v = rng.normal(size=(4, 5)).astype(np.float32)
    fn = surrogate.fast_sigmoid(slope=10.0)

    layer = nn.Linear(7, 5, bias=False)
    layer.weight = mx.array(w.T)

    def loss(model, inp):
        return (fn(model(inp)) * mx.array(v)).sum()

    _, grads = nn.value_and_grad(layer, loss)(layer, mx.array(xin))
    pre = xin @ w
    dpre = v * ref_fast_sigmoid(pre, 10.0)
    expected_w = xin.T @ dpre  # d loss / d w, w is [in, out]
    np.testing.assert_allclose(np.array(grads["weight"]).T, expected_w, rtol=1e-4, atol=1e-5)
    compiled = mx.compile(lambda inp: nn.value_and_grad(layer, loss)(layer, inp)[1]["weight"])
    np.testing.assert_allclose(
        np.array(compiled(mx.array(xin))).T, expected_w, rtol=1e-4, atol=1e-5
    )


def test_custom_derivative_form():
    fn = surrogate.custom(lambda x: 3.0 * mx.exp(-mx.abs(x)))
    x = mx.array(GRID)
    np.testing.assert_array_equal(np.array(fn(x)), (GRID > 0).astype(np.float32))
    grad = np.array(mx.grad(lambda v: (2.0 * fn(v)).sum())(x))
    np.testing.assert_allclose(grad, 6.0 * np.exp(-np.abs(GRID)), rtol=1e-5)


def test_custom_snntorch_calling_convention():
    """snnTorch's custom_surrogate signature: (input_, grad_input, spikes) -> grad."""
    seen = {}

    def custom_fast_sigmoid(input_, grad_input, spikes):
        seen["spikes"] = spikes
        slope = 25
        return grad_input / (slope * mx.abs(input_) + 1.0) ** 2

    fn = surrogate.custom(custom_fast_sigmoid)
    x = mx.array(GRID)
    grad = np.array(mx.grad(lambda v: (3.0 * fn(v)).sum())(x))
    np.testing.assert_allclose(grad, 3.0 * ref_fast_sigmoid(GRID), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(np.array(seen["spikes"]), (GRID > 0).astype(np.float32))


def test_get_by_name_and_default():
    assert surrogate.get(None).name == "atan"
    assert surrogate.get(None).params == {"alpha": 2.0}
    fs = surrogate.get("fast-sigmoid", slope=10)
    assert fs.name == "fast_sigmoid" and fs.params == {"slope": 10.0}
    rebuilt = surrogate.get(fs.name, **fs.params)
    x = mx.array(GRID)
    np.testing.assert_allclose(np.array(rebuilt.grad(x)), np.array(fs.grad(x)))
    same = surrogate.atan()
    assert surrogate.get(same) is same
    assert "slope=10.0" in repr(fs)


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (surrogate.fast_sigmoid, {"slope": 0.0}, "slope"),
        (surrogate.fast_sigmoid, {"slope": -1.0}, "slope"),
        (surrogate.atan, {"alpha": float("nan")}, "alpha"),
        (surrogate.sigmoid, {"slope": "steep"}, "slope"),
        (surrogate.triangular, {"width": 0}, "width"),
    ],
)
def test_bad_hyperparameters_raise_config_error(factory, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        factory(**kwargs)


def test_bad_specs_raise_config_error():
    with pytest.raises(ConfigError, match="unknown surrogate 'relu'"):
        surrogate.get("relu")
    with pytest.raises(ConfigError, match="bad parameters"):
        surrogate.get("atan", slope=3)
    with pytest.raises(ConfigError, match="together with a surrogate name"):
        surrogate.get(surrogate.atan(), alpha=3)
    with pytest.raises(ConfigError, match="must be a name"):
        surrogate.get(3.0)
    with pytest.raises(ConfigError, match="callable"):
        surrogate.custom(5)
    with pytest.raises(ConfigError, match="1 argument"):
        surrogate.custom(lambda a, b: a)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=64),
    st.floats(0.1, 100.0),
)
def test_fast_sigmoid_gradient_property(values, slope):
    x = np.array(values, np.float32)
    fn = surrogate.fast_sigmoid(slope=slope)
    grad = np.array(mx.grad(lambda v: fn(v).sum())(mx.array(x)))
    np.testing.assert_allclose(grad, ref_fast_sigmoid(x, np.float32(slope)), rtol=2e-5, atol=1e-9)
    assert np.all(grad > 0) and np.all(grad <= 1.0)


def test_atan_is_derivative_of_its_smooth_function():
    """atan's backward is d/dx [arctan(pi*alpha*x/2)/pi + 1/2]: check by finite differences."""
    alpha = 2.0
    x = np.linspace(-2, 2, 41)
    h = 1e-5

    def smooth(v):
        return np.arctan(math.pi * alpha * v / 2) / math.pi + 0.5

    fd = (smooth(x + h) - smooth(x - h)) / (2 * h)
    got = np.array(surrogate.atan(alpha).grad(mx.array(x.astype(np.float32))))
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-6)


def test_matches_snntorch_surrogate_gradients():
    torch = pytest.importorskip("torch")
    snn_surrogate = pytest.importorskip("snntorch.surrogate")
    pairs = [
        (snn_surrogate.fast_sigmoid(slope=25), surrogate.fast_sigmoid(25.0)),
        (snn_surrogate.atan(alpha=2.0), surrogate.atan(2.0)),
        (snn_surrogate.sigmoid(slope=25), surrogate.sigmoid(25.0)),
        (snn_surrogate.straight_through_estimator(), surrogate.straight_through()),
    ]
    for theirs, ours in pairs:
        xt = torch.tensor(GRID, requires_grad=True)
        out = theirs(xt)
        out.sum().backward()
        np.testing.assert_array_equal(np.array(ours(mx.array(GRID))), out.detach().numpy())
        got = np.array(mx.grad(lambda v, f=ours: f(v).sum())(mx.array(GRID)))
        np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-5, atol=1e-7)
