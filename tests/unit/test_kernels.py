"""The C kernels of eegsnn.kernels against their definitions and the MLX reference:
rate coding (statistics, determinism), the event-driven projection and its weight gradient
(equal to dense products of the same spikes), the fused Leaky recurrence (equal to
eegsnn.nn.sequence.leaky_sequence, forward and backward)."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from eegsnn import surrogate
from eegsnn.kernels import _native
from eegsnn.kernels import leaky as lk
from eegsnn.kernels import rate_projection as rp
from eegsnn.nn.sequence import leaky_sequence
from eegsnn.train.data import rate_encoder

pytestmark = pytest.mark.usefixtures("kernels")


def _thresholds(rng, num_samples=6, num_inputs=37):
    """uint8 images with every edge case: 0, 255 (p = 1), values around p = 1/2."""
    x = rng.integers(0, 256, (num_samples, num_inputs)).astype(np.uint8)
    x[:, :3] = 0
    x[:, 3:5] = 255
    x[:, 5] = 127  # q = 32896 > HALF
    x[:, 6] = 128
    x[0, 7] = 1
    return x, rp.rate_thresholds(x)


def test_thresholds_follow_the_rate_encoder_rule():
    x = np.array([[0, 1, 127, 128, 254, 255]], np.uint8)
    q = rp.rate_thresholds(x)
    exact = np.round(65536 * x[0].astype(np.float64) / 255).astype(np.uint32)
    np.testing.assert_array_equal(q[0], exact)
    assert q[0, -1] == rp.ALWAYS and q[0, 0] == 0
    f = np.array([[0.0, 0.25, 0.5, 1.0, 3.0, -1.0]], np.float32)
    np.testing.assert_array_equal(rp.rate_thresholds(f)[0], [0, 16384, 32768, 65536, 65536, 0])
    np.testing.assert_array_equal(rp.rate_thresholds(f, scale=0.5)[0],
                                  [0, 8192, 16384, 32768, 65536, 0])
    # MLX's encoder makes the same thresholds (compare its empirical rates at p = 0 and 1)
    spikes = np.array(rate_encoder(50)(mx.array(x), mx.random.key(0)))
    assert spikes[:, 0, 0].sum() == 0 and spikes[:, 0, -1].sum() == 50


def test_rate_spikes_statistics_and_determinism():
    p = np.linspace(0.0, 1.0, 21, dtype=np.float32)[None]
    q = rp.rate_thresholds(np.repeat(p, 8, axis=0))
    num_steps = 4000
    spikes = rp.rate_spikes(q, rp.key_to_uint64(7), num_steps)
    assert spikes.dtype == np.uint8 and spikes.shape == (num_steps, 8, 21)
    rate = spikes.mean(axis=(0, 1))
    n = num_steps * 8
    tolerance = 5 * np.sqrt(p[0] * (1 - p[0]) / n) + 1e-12
    assert np.all(np.abs(rate - p[0]) <= tolerance), (rate, p[0])
    assert rate[0] == 0 and rate[-1] == 1
    # independent over time: lag-1 correlation of a p = 1/2 input is ~0
    mid = spikes[:, :, 10].astype(np.float64)
    corr = np.corrcoef(mid[1:].ravel(), mid[:-1].ravel())[0, 1]
    assert abs(corr) < 5 / np.sqrt(n)
    # same key -> same spikes; another key -> other spikes
    np.testing.assert_array_equal(spikes, rp.rate_spikes(q, rp.key_to_uint64(7), num_steps))
    assert (spikes != rp.rate_spikes(q, rp.key_to_uint64(8), num_steps)).mean() > 0.3


def test_key_from_mlx_key():
    key = mx.random.key(123)
    words = np.array(key)
    assert rp.key_to_uint64(key) == np.uint64((int(words[0]) << 32) | int(words[1]))
    assert rp.key_to_uint64(5) == np.uint64(5)
    with pytest.raises(ValueError, match="two uint32"):
        rp.key_to_uint64(np.zeros(3, np.uint32))


@pytest.mark.parametrize("hidden", [1, 16, 33])
def test_projection_equals_dense_products_of_the_same_spikes(hidden):
    rng = np.random.default_rng(hidden)
    _, q = _thresholds(rng)
    num_steps, (num_samples, num_inputs) = 9, q.shape
    weight = rng.standard_normal((num_inputs, hidden)).astype(np.float32)
    bias = rng.standard_normal(hidden).astype(np.float32)
    key = rp.key_to_uint64(mx.random.key(3))
    plan = rp.plan(q)
    out = np.empty((num_steps, num_samples, hidden), np.float32)
    rp.project_forward(q, plan, key, num_steps, weight, bias, out)
    spikes = rp.rate_spikes(q, key, num_steps).astype(np.float64)
    expected = spikes @ weight.astype(np.float64) + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)

    grad = rng.standard_normal((num_steps, num_samples, hidden)).astype(np.float32)
    dw = np.empty((num_inputs, hidden), np.float32)
    rp.project_weight_grad(q, key, grad, grad.sum(axis=0), dw)
    expected_dw = np.einsum("tbi,tbh->ih", spikes, grad.astype(np.float64))
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-5, atol=1e-4)
    assert np.all(dw[:3] == 0)  # inputs that never fire get no gradient


def test_plan_lists_every_active_input_once_per_sample():
    rng = np.random.default_rng(1)
    _, q = _thresholds(rng)
    made = rp.plan(q)
    lo_n, lo_i, hi_n, hi_i = made.low_count, made.low_index, made.high_count, made.high_index
    for b in range(q.shape[0]):
        low = set(lo_i[b, :lo_n[b]].tolist())
        high = set(hi_i[b, :hi_n[b]].tolist())
        assert low == set(np.flatnonzero((q[b] > 0) & (q[b] <= rp.HALF)).tolist())
        assert high == set(np.flatnonzero(q[b] > rp.HALF).tolist())


def test_kernels_give_the_same_bits_with_one_or_two_threads():
    rng = np.random.default_rng(2)
    _, q = _thresholds(rng, 20, 64)
    weight = rng.standard_normal((64, 40)).astype(np.float32)
    bias = np.zeros(40, np.float32)
    grad = rng.standard_normal((7, 20, 40)).astype(np.float32)
    plan = rp.plan(q)
    results = []
    before = _native.get_num_threads()
    try:
        for threads in (1, 3):  # 3: more threads than this 2-core machine, uneven chunks
            _native.set_num_threads(threads)
            assert _native.get_num_threads() == threads
            out = np.empty((7, 20, 40), np.float32)
            rp.project_forward(q, plan, np.uint64(11), 7, weight, bias, out)
            dw = np.empty((64, 40), np.float32)
            rp.project_weight_grad(q, np.uint64(11), grad, grad.sum(0), dw)
            spk, mem = np.empty((7, 800), np.float32), np.empty((7, 800), np.float32)
            lk.leaky_forward(out.reshape(7, -1), 0.9, 1.0, 0, spk, mem)
            gx = np.empty_like(mem)
            lk.leaky_backward(grad.reshape(7, -1), None, mem, 0.9, 1.0, 0, 0, 25.0, gx)
            results.append((out, dw, spk, gx))
    finally:
        _native.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


SURROGATE_CASES = [
    ("fast_sigmoid", surrogate.fast_sigmoid(25.0)),
    ("sigmoid", surrogate.sigmoid(5.0)),
    ("atan", surrogate.atan(2.0)),
    ("triangular", surrogate.triangular(0.5)),
    ("straight_through", surrogate.straight_through()),
]


@pytest.mark.parametrize("mechanism", ["subtract", "zero", "none"])
@pytest.mark.parametrize("name,spike_fn", SURROGATE_CASES, ids=[c[0] for c in SURROGATE_CASES])
def test_leaky_kernels_match_leaky_sequence(mechanism, name, spike_fn):
    rng = np.random.default_rng(0)
    num_steps, num_neurons = 12, 300  # two parallel blocks, the second one partial
    x = (rng.standard_normal((num_steps, num_neurons)) * 0.7 + 0.3).astype(np.float32)
    g_spk = rng.standard_normal((num_steps, num_neurons)).astype(np.float32)
    g_mem = rng.standard_normal((num_steps, num_neurons)).astype(np.float32)
    beta, threshold = 0.8, 1.0
    spk, mem = np.empty_like(x), np.empty_like(x)
    lk.leaky_forward(x, beta, threshold, lk.MECHANISMS[mechanism], spk, mem)
    code, param = lk.SURROGATES[name]
    a = spike_fn.params[param] if param else 0.0
    gx = np.empty_like(x)
    lk.leaky_backward(g_spk, g_mem, mem, beta, threshold, lk.MECHANISMS[mechanism], code, a, gx)

    def reference(x_seq):
        return leaky_sequence(x_seq, mx.zeros((num_neurons,)), beta=beta, threshold=threshold,
                              spike_fn=spike_fn, reset_mechanism=mechanism)

    s_ref, m_ref = reference(mx.array(x))
    np.testing.assert_array_equal(spk, np.array(s_ref))
    np.testing.assert_array_equal(mem, np.array(m_ref))
    assert 0.05 < spk.mean() < 0.9  # the case exercises the reset

    def loss(x_seq):
        s, m = reference(x_seq)
        return (s * mx.array(g_spk)).sum() + (m * mx.array(g_mem)).sum()

    g_ref = np.array(mx.grad(loss)(mx.array(x)))
    np.testing.assert_allclose(gx, g_ref, rtol=1e-5, atol=1e-5 * np.abs(g_ref).max())
    # spikes-only gradient (the fused step's case): no dL/dU
    gx_spk = np.empty_like(x)
    lk.leaky_backward(g_spk, None, mem, beta, threshold, lk.MECHANISMS[mechanism], code, a,
                      gx_spk)
    g_ref_spk = np.array(mx.grad(lambda z: (reference(z)[0] * mx.array(g_spk)).sum())(
        mx.array(x)))
    np.testing.assert_allclose(gx_spk, g_ref_spk, rtol=1e-5,
                               atol=1e-5 * max(np.abs(g_ref_spk).max(), 1e-6))


def test_kernel_wrappers_reject_wrong_arrays():
    q = rp.rate_thresholds(np.zeros((2, 5), np.uint8))
    plan = rp.plan(q)
    out = np.empty((3, 2, 4), np.float32)
    with pytest.raises(TypeError, match="weight: expected a numpy float32"):
        rp.project_forward(q, plan, 1, 3, np.zeros((5, 4)), np.zeros(4, np.float32), out)
    with pytest.raises(ValueError, match="do not fit"):
        rp.project_forward(q, plan, 1, 3, np.zeros((6, 4), np.float32),
                           np.zeros(4, np.float32), out)
    with pytest.raises(ValueError, match="C-contiguous"):
        rp.project_forward(q, plan, 1, 3, np.zeros((4, 5), np.float32).T,
                           np.zeros(4, np.float32), out)
    with pytest.raises(ValueError, match="call plan"):
        rp.project_forward(q, rp.plan(np.zeros((3, 5), np.uint32)), 1, 3,
                           np.zeros((5, 4), np.float32), np.zeros(4, np.float32), out)
    # a plan is trusted only with the very array it was made from (its indices reach C)
    with pytest.raises(ValueError, match="call plan"):
        rp.project_forward(q.copy(), plan, 1, 3, np.zeros((5, 4), np.float32),
                           np.zeros(4, np.float32), out)
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="shape of current"):
        lk.leaky_forward(x, 0.9, 1.0, 0, np.empty((3, 5), np.float32), np.empty_like(x))


def test_missing_kernels_are_reported(monkeypatch):
    import importlib.util

    monkeypatch.setattr(_native, "_REASON", [])
    _native.library.cache_clear()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.endswith("_ckernels") else real(name, *a))
    try:
        assert _native.library() is None
        assert "not built" in _native.unavailable_reason()
        with pytest.raises(RuntimeError, match="not built"):
            _native.require()
    finally:
        _native.library.cache_clear()
    monkeypatch.undo()
    assert _native.library() is not None


def test_a_library_built_from_another_version_is_refused(monkeypatch):
    monkeypatch.setattr(_native, "_REASON", [])
    monkeypatch.setattr(_native, "ABI_VERSION", _native.ABI_VERSION + 1)
    _native.library.cache_clear()
    try:
        assert _native.library() is None
        assert "another version" in _native.unavailable_reason()
    finally:
        monkeypatch.undo()
        _native.library.cache_clear()
    assert _native.library() is not None


# -- event-driven projection of given (sparse) spike input ---------------------------------

def _sparse_input(rng, rows=300, cols=45, density=0.05):
    x = (rng.random((rows, cols)) < density).astype(np.float32)
    x[0] = 0.0  # a row without events
    x[1, :] = 1.0  # a full row
    return x


def test_sparse_rows_list_every_nonzero_in_order_and_packed_input_agrees():
    from eegsnn.kernels import sparse_projection as sp

    rng = np.random.default_rng(5)
    x = _sparse_input(rng, cols=45)
    x[2, 3] = -0.5  # any value is indexed with its value
    index = sp.sparse_rows(x)
    rows, cols = np.nonzero(x)
    assert index.nnz == rows.size and index.density == pytest.approx(rows.size / x.size)
    np.testing.assert_array_equal(index.row_ptr, np.r_[0, np.cumsum(np.bincount(
        rows, minlength=x.shape[0]))])
    np.testing.assert_array_equal(index.col, cols)
    np.testing.assert_array_equal(index.val, x[rows, cols])
    # numpy.packbits storage (45 columns: a partial last byte) gives the same lists
    packed = np.packbits(x != 0, axis=1)
    from_bits = sp.sparse_rows(packed, cols=45)
    np.testing.assert_array_equal(from_bits.row_ptr, index.row_ptr)
    np.testing.assert_array_equal(from_bits.col, index.col)
    assert np.all(from_bits.val == 1.0)
    assert sp.sparse_rows(x, max_density=0.01) is None  # denser than asked: no lists


def test_packed_rows_list_set_bits_in_column_order_and_skip_padding_bits():
    """The packed listing visits set bits only: full bytes, single high/low bits and set
    padding bits past the last column (ignored) give numpy's nonzeros."""
    from eegsnn.kernels import sparse_projection as sp

    rng = np.random.default_rng(11)
    bits = rng.random((40, 21)) < 0.5
    bits[0] = True            # every bit of every byte
    bits[1] = False
    bits[1, [0, 7, 8, 15, 20]] = True  # the first and last bit of bytes
    packed = np.packbits(bits, axis=1)
    packed[:, -1] |= 0x07     # 21 columns: the last byte's 3 padding bits set
    index = sp.sparse_rows(packed, cols=21)
    rows, cols = np.nonzero(bits)
    np.testing.assert_array_equal(index.row_ptr, np.r_[0, np.cumsum(np.bincount(
        rows, minlength=40))])
    np.testing.assert_array_equal(index.col, cols)


@pytest.mark.parametrize("hidden", [1, 70, 200])
def test_sparse_projection_equals_dense_products(hidden):
    from eegsnn.kernels import sparse_projection as sp

    rng = np.random.default_rng(hidden)
    x = _sparse_input(rng)
    x[5, 7] = 0.25
    weight = rng.standard_normal((45, hidden)).astype(np.float32)
    bias = rng.standard_normal(hidden).astype(np.float32)
    index = sp.sparse_rows(x)
    out = np.empty((300, hidden), np.float32)
    sp.sparse_forward(index, weight, bias, out)
    exact = x.astype(np.float64) @ weight + bias
    np.testing.assert_allclose(out, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    grad = rng.standard_normal((300, hidden)).astype(np.float32)
    dw = np.empty((45, hidden), np.float32)
    sp.sparse_weight_grad(index, grad, dw)
    exact = x.T.astype(np.float64) @ grad
    np.testing.assert_allclose(dw, exact, rtol=1e-5, atol=1e-5 * np.abs(exact).max())
    # and the MLX dense product (the MLX step's) to float rounding
    mlx_out = np.array(mx.addmm(mx.array(bias), mx.array(x), mx.array(weight)))
    np.testing.assert_allclose(out, mlx_out, rtol=1e-5, atol=1e-5 * np.abs(mlx_out).max())


def test_sparse_kernels_give_the_same_bits_with_one_or_three_threads():
    from eegsnn.kernels import sparse_projection as sp

    rng = np.random.default_rng(6)
    x = _sparse_input(rng, rows=257, cols=64, density=0.2)
    weight = rng.standard_normal((64, 150)).astype(np.float32)
    bias = np.zeros(150, np.float32)
    grad = rng.standard_normal((257, 150)).astype(np.float32)
    results = []
    before = _native.get_num_threads()
    try:
        for threads in (1, 3):
            _native.set_num_threads(threads)
            index = sp.sparse_rows(x)
            out = np.empty((257, 150), np.float32)
            sp.sparse_forward(index, weight, bias, out)
            dw = np.empty((64, 150), np.float32)
            sp.sparse_weight_grad(index, grad, dw)
            results.append((index.row_ptr, index.col, out, dw))
    finally:
        _native.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sparse_wrappers_reject_wrong_arrays():
    import dataclasses

    from eegsnn.kernels import sparse_projection as sp

    x = np.eye(4, 5, dtype=np.float32)
    index = sp.sparse_rows(x)
    with pytest.raises(ValueError, match="do not fit"):
        sp.sparse_forward(index, np.zeros((6, 3), np.float32), np.zeros(3, np.float32),
                          np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="x: expected a numpy float32"):
        sp.sparse_rows(x.astype(np.float64))
    with pytest.raises(ValueError, match="bytes per row"):
        sp.sparse_rows(np.zeros((4, 2), np.uint8), cols=5)
    # index lists reach C unchecked: only sparse_rows' own (read-only) lists are accepted
    forged = dataclasses.replace(index, col=np.full_like(index.col, 10**6))
    with pytest.raises(ValueError, match="call sparse_rows"):
        sp.sparse_weight_grad(forged, np.zeros((4, 3), np.float32),
                              np.empty((5, 3), np.float32))
    with pytest.raises(ValueError, match="read-only"):
        index.col[0] = 10**6


@pytest.mark.parametrize("mechanism", [0, 1, 2])
def test_leaky_kernels_run_in_place(mechanism):
    """The fused step writes U over X and dL/dX over U (no extra [T, N] arrays)."""
    rng = np.random.default_rng(mechanism)
    x = rng.standard_normal((9, 300)).astype(np.float32)
    grad = rng.standard_normal((9, 300)).astype(np.float32)
    spikes, membrane = np.empty_like(x), np.empty_like(x)
    lk.leaky_forward(x, 0.9, 0.5, mechanism, spikes, membrane)
    gx = np.empty_like(x)
    lk.leaky_backward(grad, None, membrane, 0.9, 0.5, mechanism, 0, 25.0, gx)
    inplace, spikes2 = x.copy(), np.empty_like(x)
    lk.leaky_forward(inplace, 0.9, 0.5, mechanism, spikes2, inplace)
    np.testing.assert_array_equal(inplace, membrane)
    np.testing.assert_array_equal(spikes2, spikes)
    lk.leaky_backward(grad, None, inplace, 0.9, 0.5, mechanism, 0, 25.0, inplace)
    np.testing.assert_array_equal(inplace, gx)
