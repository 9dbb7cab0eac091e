"""Neuron models: hand-computed traces, NumPy references, gradients, compile, errors, snnTorch."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn import surrogate
from eegsnn.errors import ConfigError
from eegsnn.nn import (
    ALIF,
    IF,
    IZHIKEVICH_PRESETS,
    NEURON_MODELS,
    NEURONS,
    Alpha,
    Izhikevich,
    Leaky,
    Synaptic,
    functional,
    neuron_from_config,
)
from eegsnn.nn.registry import upgrade_neuron_config


def const_seq(value: float, steps: int, batch: int = 1, features: int = 1) -> mx.array:
    return mx.full((steps, batch, features), value, dtype=mx.float32)


def trace(neuron, value: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    spikes, mem, _ = neuron.unroll(const_seq(value, steps))
    return np.array(spikes)[:, 0, 0], np.array(mem)[:, 0, 0]


# --------------------------------------------------------------------------- hand traces
# Leaky, beta = 0.5, threshold = 1, constant input.
#   subtract (delayed): U = 0.6, 0.9, 1.05*, 0.525+0.6-1 = 0.125, 0.6625, 0.93125
#   zero (delayed):     U = 0.6, 0.9, 1.05*, 0 + 0.6 = 0.6, 0.9, 1.05*
#   none:               U = 0.6, 0.9, 1.05*, 1.125*, 1.1625*, 1.18125*
#   subtract (immediate): V = 1.05 at t=2 -> U = 0.05; 0.625, 0.9125, 1.05625* -> 0.05625
LEAKY_CASES = [
    ("subtract", True, [0.6, 0.9, 1.05, 0.125, 0.6625, 0.93125], [0, 0, 1, 0, 0, 0]),
    ("zero", True, [0.6, 0.9, 1.05, 0.6, 0.9, 1.05], [0, 0, 1, 0, 0, 1]),
    ("none", True, [0.6, 0.9, 1.05, 1.125, 1.1625, 1.18125], [0, 0, 1, 1, 1, 1]),
    ("subtract", False, [0.6, 0.9, 0.05, 0.625, 0.9125, 0.05625], [0, 0, 1, 0, 0, 1]),
    ("zero", False, [0.6, 0.9, 0.0, 0.6, 0.9, 0.0], [0, 0, 1, 0, 0, 1]),
]


@pytest.mark.parametrize(("reset", "delay", "mem", "spk"), LEAKY_CASES)
def test_leaky_hand_computed_traces(reset, delay, mem, spk):
    lif = Leaky(beta=0.5, threshold=1.0, reset_mechanism=reset, reset_delay=delay)
    got_spk, got_mem = trace(lif, 0.6, 6)
    np.testing.assert_allclose(got_mem, mem, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got_spk, spk)


def test_leaky_step_by_step_equals_unroll():
    rng = np.random.default_rng(1)
    x = mx.array(rng.uniform(0, 0.8, size=(12, 3, 5)).astype(np.float32))
    lif = Leaky(beta=0.7, threshold=0.9)
    spikes, mem, final = lif.unroll(x)
    state = lif.init_state(3, 5)
    for t in range(12):
        spk, state = lif(x[t], state)
        np.testing.assert_array_equal(np.array(spk), np.array(spikes[t]))
        np.testing.assert_allclose(np.array(state["mem"]), np.array(mem[t]), atol=1e-7)
    np.testing.assert_allclose(np.array(final["mem"]), np.array(state["mem"]), atol=1e-7)


def test_if_is_exact_at_threshold_no_spike():
    """x = 0.25 is exact in float32: U reaches exactly 1.0 (no spike, needs U > thr)."""
    got_spk, got_mem = trace(IF(), 0.25, 9)
    np.testing.assert_array_equal(got_mem, [0.25, 0.5, 0.75, 1.0, 1.25, 0.5, 0.75, 1.0, 1.25])
    np.testing.assert_array_equal(got_spk, [0, 0, 0, 0, 1, 0, 0, 0, 1])


def test_synaptic_hand_computed_traces():
    # alpha = beta = 0.5, x = 1: I = 1, 1.5, 1.75, 1.875, 1.9375
    syn = Synaptic(alpha=0.5, beta=0.5)
    spikes, mem, state = syn.unroll(const_seq(1.0, 5))
    # subtract: U = 1 (not > 1), 0.5+1.5 = 2*, 1+1.75-1 = 1.75*, 0.875+1.875-1 = 1.75*,
    #           0.875+1.9375-1 = 1.8125*
    np.testing.assert_allclose(np.array(mem)[:, 0, 0], [1.0, 2.0, 1.75, 1.75, 1.8125], atol=1e-6)
    np.testing.assert_array_equal(np.array(spikes)[:, 0, 0], [0, 1, 1, 1, 1])
    np.testing.assert_allclose(float(state["syn"][0, 0]), 1.9375)
    # zero (snnTorch): the whole new membrane is cleared at the step after a spike.
    syn0 = Synaptic(alpha=0.5, beta=0.5, reset_mechanism="zero")
    spikes, mem, _ = syn0.unroll(const_seq(1.0, 5))
    np.testing.assert_allclose(np.array(mem)[:, 0, 0], [1.0, 2.0, 0.0, 1.875, 0.0], atol=1e-6)
    np.testing.assert_array_equal(np.array(spikes)[:, 0, 0], [0, 1, 0, 1, 0])


def test_alif_hand_computed_trace_shows_adaptation():
    # beta = 0.5, rho = 0.9, b = 1, x = 1.2 (worked out in the ALIF docstring's equations):
    # t: A      theta    U
    # 0: 0      1        1.2*
    # 1: 1      2        0.8
    # 2: 0.9    1.9      1.6
    # 3: 0.81   1.81     2.0*
    # 4: 1.729  2.729    1.2
    # 5: 1.5561 2.5561   1.8
    # 6: 1.40049 2.40049 2.1
    # 7: 1.260441 2.260441 2.25
    # 8: 1.1343969 2.1343969 2.325*
    alif = ALIF(beta=0.5, rho=0.9, b=1.0)
    spikes, mem, state = alif.unroll(const_seq(1.2, 9))
    np.testing.assert_allclose(
        np.array(mem)[:, 0, 0], [1.2, 0.8, 1.6, 2.0, 1.2, 1.8, 2.1, 2.25, 2.325], atol=1e-5
    )
    np.testing.assert_array_equal(np.array(spikes)[:, 0, 0], [1, 0, 0, 1, 0, 0, 0, 0, 1])
    np.testing.assert_allclose(float(state["adapt"][0, 0]), 1.1343969, atol=1e-5)
    # Inter-spike intervals grow (3 then 5); the same LIF without adaptation fires 5 times:
    # U = 1.2*, 0.8, 1.6*, 1.0, 1.7*, 1.05*, 0.725, 1.5625*, 0.98125
    lif_spk, lif_mem = trace(Leaky(beta=0.5), 1.2, 9)
    np.testing.assert_array_equal(lif_spk, [1, 0, 1, 0, 1, 1, 0, 1, 0])
    np.testing.assert_allclose(
        lif_mem, [1.2, 0.8, 1.6, 1.0, 1.7, 1.05, 0.725, 1.5625, 0.98125], atol=1e-5
    )


def test_alpha_impulse_response_is_difference_of_exponentials():
    a, b = 0.9, 0.8
    neuron = Alpha(alpha=a, beta=b, reset_mechanism="none")
    x = np.zeros((30, 1, 1), np.float32)
    x[0] = 1.0
    _, mem, _ = neuron.unroll(mx.array(x))
    tau = math.log(b) / (math.log(b) - math.log(a))
    t = np.arange(30)
    np.testing.assert_allclose(np.array(mem)[:, 0, 0], tau * (a**t - b**t), atol=1e-6)
    # Rise then decay: peak strictly inside the window.
    peak = int(np.argmax(np.array(mem)[:, 0, 0]))
    assert 1 <= peak < 29


def test_alpha_zero_reset_clears_all_traces_and_subtract_lowers_by_threshold():
    neuron = Alpha(alpha=0.9, beta=0.5)  # default reset: "zero"
    spikes, mem, _ = neuron.unroll(const_seq(1.0, 40))
    s = np.array(spikes)[:, 0, 0]
    m = np.array(mem)[:, 0, 0]
    first = int(np.argmax(s))
    assert s[first] == 1 and m[first] > 1.0
    assert m[first + 1] == 0.0  # every trace cleared at the step after the spike
    # subtract: U[t] = tau*(alpha*E + beta*N) - threshold at the step after a spike.
    sub = Alpha(alpha=0.9, beta=0.5, reset_mechanism="subtract", threshold=1.0)
    sp, mem2, _ = sub.unroll(const_seq(1.0, 40))
    none = Alpha(alpha=0.9, beta=0.5, reset_mechanism="none")
    _, mem3, _ = none.unroll(const_seq(1.0, 40))
    k = int(np.argmax(np.array(sp)[:, 0, 0]))
    np.testing.assert_allclose(float(mem2[k + 1, 0, 0]), float(mem3[k + 1, 0, 0]) - 1.0, atol=1e-5)


# ------------------------------------------------------------------------- Izhikevich
def izhikevich_reference(a, b, c, d, current, steps):
    """Izhikevich (2003) MATLAB reference loop (float64, 1 ms steps, two 0.5 ms v-steps)."""
    v, u = -65.0, b * -65.0
    vs, fired = [], []
    for _ in range(steps):
        if v >= 30.0:
            v, u = c, u + d
        v += 0.5 * (0.04 * v * v + 5 * v + 140 - u + current)
        v += 0.5 * (0.04 * v * v + 5 * v + 140 - u + current)
        u += a * (b * v - u)
        vs.append(v)
        fired.append(v >= 30.0)
    return np.array(vs), np.array(fired)


@pytest.mark.parametrize("preset", list(IZHIKEVICH_PRESETS))
def test_izhikevich_matches_reference_code(preset):
    a, b, c, d = IZHIKEVICH_PRESETS[preset]
    v_ref, fired_ref = izhikevich_reference(a, b, c, d, 10.0, 200)
    neuron = Izhikevich(preset)
    # float64 (CPU): the same scheme as the reference, so the same numbers.
    with mx.stream(mx.cpu):
        spikes, mem, _ = neuron.unroll(mx.full((200, 1, 1), 10.0, dtype=mx.float64))
        s = np.array(spikes)[:, 0, 0].astype(bool)
        m = np.array(mem)[:, 0, 0]
    assert mem.dtype == mx.float64
    np.testing.assert_array_equal(np.flatnonzero(s), np.flatnonzero(fired_ref))
    assert s.sum() >= 4
    np.testing.assert_allclose(m, v_ref, rtol=1e-9, atol=1e-9)
    # float32: the overshoot of up to ~1.5 V amplifies rounding, so spike times agree
    # over the first 80 ms, and the trace over the first 20 ms to 0.01 mV.
    spikes32, mem32, _ = neuron.unroll(const_seq(10.0, 80))
    np.testing.assert_array_equal(
        np.flatnonzero(np.array(spikes32)[:, 0, 0]), np.flatnonzero(fired_ref[:80])
    )
    np.testing.assert_allclose(np.array(mem32)[:20, 0, 0], v_ref[:20], rtol=1e-5, atol=1e-2)


def test_izhikevich_firing_patterns():
    def spike_times(preset):
        spikes, _, _ = Izhikevich(preset).unroll(const_seq(10.0, 300))
        return np.flatnonzero(np.array(spikes)[:, 0, 0])

    rs, fs, ch = spike_times("RS"), spike_times("FS"), spike_times("CH")
    assert len(fs) > len(rs)  # fast spiking fires faster than regular spiking
    ch_isi = np.diff(ch)
    assert ch_isi.min() <= 6 and ch_isi.max() >= 3 * ch_isi.min()  # bursts
    rs_isi = np.diff(rs)
    assert rs_isi[-1] > rs_isi[0]  # RS adapts


def test_izhikevich_initial_state_and_options():
    neuron = Izhikevich("FS", d=3.0, dt_ms=0.5, substeps=1)
    state = neuron.init_state(2, 4)
    np.testing.assert_allclose(np.array(state["mem"]), -65.0)
    np.testing.assert_allclose(np.array(state["rec"]), 0.2 * -65.0)
    assert neuron.d == 3.0 and neuron.a == 0.1 and neuron.v_peak == 30.0
    with pytest.raises(ConfigError, match="subtract"):
        Izhikevich(reset_mechanism="subtract")
    with pytest.raises(ConfigError, match="unknown preset 'XX'"):
        Izhikevich("XX")
    with pytest.raises(ConfigError, match="dt_ms"):
        Izhikevich(dt_ms=0)


# ------------------------------------------------------------------ per-neuron parameters
def test_per_neuron_beta_array():
    lif = Leaky(beta=np.array([0.5, 1.0], np.float32))
    _, mem, _ = lif.unroll(mx.full((3, 1, 2), 0.25))
    np.testing.assert_allclose(np.array(mem)[:, 0, :], [[0.25, 0.25], [0.375, 0.5], [0.4375, 0.75]])
    assert lif.trainable_parameters() == {}
    assert "beta" in lif.parameters()  # frozen, saved with the weights


def test_learnable_parameters_and_clipping():
    lif = Leaky(beta=0.9, learn_beta=True, learn_threshold=True)
    assert set(lif.trainable_parameters()) == {"beta", "threshold"}
    assert Leaky(beta=0.9).trainable_parameters() == {}
    syn = Synaptic(alpha=0.8, beta=0.7, learn_alpha=True)
    assert set(syn.trainable_parameters()) == {"alpha"}
    # A learned beta pushed outside [0, 1] by an update acts as its clipped value.
    lif.beta = mx.array(1.7)
    _, mem, _ = lif.unroll(const_seq(0.25, 3))
    np.testing.assert_allclose(np.array(mem)[:, 0, 0], [0.25, 0.5, 0.75])


def test_learnable_beta_and_threshold_get_gradients():
    lif = Leaky(beta=0.8, learn_beta=True, learn_threshold=True, reset_mechanism="none")
    x = const_seq(0.5, 4)

    def loss(model, inp):
        _, mem, _ = model.unroll(inp)
        return mem[-1].sum()

    value, grads = nn.value_and_grad(lif, loss)(lif, x)
    # U[3] = x (1 + b + b^2 + b^3): dU/db = x (1 + 2b + 3b^2), no dependence on threshold.
    np.testing.assert_allclose(float(value), 0.5 * (1 + 0.8 + 0.64 + 0.512), rtol=1e-6)
    np.testing.assert_allclose(float(grads["beta"]), 0.5 * (1 + 1.6 + 3 * 0.64), rtol=1e-5)
    np.testing.assert_allclose(float(grads["threshold"]), 0.0)


# --------------------------------------------------------------------------- gradients
def test_leaky_bptt_gradient_matches_numpy_reference():
    """Detached delayed reset: dL/dx[t] = sum_{s>=t} w[s] sg(U[s] - thr) beta^(s-t)."""
    rng = np.random.default_rng(3)
    steps, beta, thr = 15, 0.8, 1.0
    x = rng.uniform(0.0, 0.7, size=(steps, 2, 3)).astype(np.float32)
    w = rng.normal(size=(steps, 2, 3)).astype(np.float32)
    fn = surrogate.fast_sigmoid(slope=5.0)
    lif = Leaky(beta=beta, threshold=thr, surrogate=fn)

    def loss(inp):
        spikes, _, _ = lif.unroll(inp)
        return (spikes * mx.array(w)).sum()

    got = np.array(mx.grad(loss)(mx.array(x)))
    _, mem, _ = lif.unroll(mx.array(x))
    sg = 1.0 / (1.0 + 5.0 * np.abs(np.array(mem) - thr)) ** 2
    expected = np.zeros_like(x)
    for t in range(steps):
        for s in range(t, steps):
            expected[t] += w[s] * sg[s] * beta ** (s - t)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


FUSED_CASES = [
    (cls, reset, per_neuron)
    for cls in ("Leaky", "IF", "Synaptic")
    for reset in ("subtract", "zero", "none")
    for per_neuron in (False, True)
    if not (cls == "IF" and per_neuron)
]


def _build(cls: str, reset: str, per_neuron: bool):
    thr = np.linspace(0.8, 1.2, 5).astype(np.float32) if per_neuron else 0.9
    beta = np.linspace(0.6, 0.95, 5).astype(np.float32) if per_neuron else 0.8
    fn = surrogate.fast_sigmoid(slope=8.0)
    if cls == "Leaky":
        return Leaky(beta=beta, threshold=thr, reset_mechanism=reset, surrogate=fn,
                     learn_beta=True, learn_threshold=True)
    if cls == "IF":
        return IF(threshold=thr, reset_mechanism=reset, surrogate=fn, learn_threshold=True)
    return Synaptic(alpha=0.6, beta=beta, threshold=thr, reset_mechanism=reset, surrogate=fn,
                    learn_alpha=True, learn_beta=True, learn_threshold=True)


@pytest.mark.parametrize(("cls", "reset", "per_neuron"), FUSED_CASES)
def test_fused_sequence_matches_step_loop_values_and_gradients(cls, reset, per_neuron):
    """The hand-written BPTT of ``unroll`` equals autodiff through the step loop."""
    rng = np.random.default_rng(4)
    x = mx.array(rng.uniform(-0.2, 0.9, size=(16, 3, 5)).astype(np.float32))
    w_spk = mx.array(rng.normal(size=(16, 3, 5)).astype(np.float32))
    w_mem = mx.array(rng.normal(size=(16, 3, 5)).astype(np.float32))
    names = _build(cls, reset, per_neuron).state_names
    state0 = {k: mx.array(rng.uniform(0, 1.3, (3, 5)).astype(np.float32)) for k in names}
    results = []
    for fused in (True, False):
        neuron = _build(cls, reset, per_neuron)
        neuron.fused = fused

        def loss(model, inp, st, neuron=neuron):
            spikes, mem, final = neuron.unroll(inp, dict(st))
            return ((spikes * w_spk).sum() + (mem * w_mem).sum()
                    + sum(v.sum() for v in final.values()))

        grad_inputs = mx.grad(lambda inp, st, n=neuron: loss(n, inp, st), argnums=(0, 1))
        g_x, g_state = grad_inputs(x, state0)
        _, g_params = nn.value_and_grad(neuron, loss)(neuron, x, state0)
        spikes, mem, final = neuron.unroll(x, dict(state0))
        results.append((spikes, mem, final, g_x, g_state, g_params))
    fused_r, loop_r = results
    np.testing.assert_array_equal(np.array(fused_r[0]), np.array(loop_r[0]))
    assert 0.02 < float(fused_r[0].mean()) < 0.98  # spikes and resets actually happen
    np.testing.assert_allclose(np.array(fused_r[1]), np.array(loop_r[1]), rtol=1e-5, atol=1e-6)
    for key in fused_r[2]:
        np.testing.assert_allclose(np.array(fused_r[2][key]), np.array(loop_r[2][key]),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(fused_r[3]), np.array(loop_r[3]), rtol=1e-4, atol=1e-5)
    for key in fused_r[4]:
        np.testing.assert_allclose(np.array(fused_r[4][key]), np.array(loop_r[4][key]),
                                   rtol=1e-4, atol=1e-5)
    assert set(fused_r[5]) == set(loop_r[5]) and fused_r[5]
    for key in fused_r[5]:
        a, b = np.array(fused_r[5][key]), np.array(loop_r[5][key])
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_fused_sequence_under_compile_and_with_unused_outputs():
    lif = Leaky(beta=0.85, surrogate=surrogate.atan())
    x = mx.array(np.random.default_rng(5).uniform(0, 0.6, (20, 4, 8)).astype(np.float32))

    def spikes_only(inp):  # the membrane output gets no cotangent
        return lif.unroll(inp)[0].sum()

    def mem_only(inp):
        return lif.unroll(inp)[1].sum()

    for fn in (spikes_only, mem_only):
        eager = np.array(mx.grad(fn)(x))
        compiled = np.array(mx.compile(mx.grad(fn))(x))
        lif.fused = False
        loop = np.array(mx.grad(fn)(x))
        lif.fused = True
        np.testing.assert_allclose(eager, loop, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(compiled, loop, rtol=1e-5, atol=1e-6)


def test_plain_callable_spike_fn_uses_the_step_loop():
    def spike_fn(v):  # not a Surrogate: no custom backward available, H(x) forward only
        return (v > 0).astype(mx.float32)

    lif = Leaky(beta=0.5, surrogate=spike_fn)
    got_spk, got_mem = trace(lif, 0.6, 6)
    np.testing.assert_allclose(got_mem, LEAKY_CASES[0][2], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got_spk, LEAKY_CASES[0][3])


def make_neurons():
    return {
        "Leaky": (Leaky(beta=0.8), 0.4),
        "IF": (IF(), 0.3),
        "Synaptic": (Synaptic(alpha=0.7, beta=0.8), 0.2),
        "ALIF": (ALIF(beta=0.8), 0.5),
        "Alpha": (Alpha(alpha=0.9, beta=0.7), 0.5),
        "Izhikevich": (Izhikevich("RS", surrogate=surrogate.fast_sigmoid(0.1)), 10.0),
    }


@pytest.mark.parametrize("name", list(make_neurons()))
def test_compile_and_value_and_grad_match_eager(name):
    neuron, scale = make_neurons()[name]
    rng = np.random.default_rng(7)
    x = mx.array(rng.uniform(0, 2 * scale, size=(20, 4, 6)).astype(np.float32))
    lin = nn.Linear(6, 6)
    lin.weight = mx.array(np.eye(6, dtype=np.float32) + 0.1)
    lin.bias = mx.zeros(6)
    model = nn.Sequential(lin)
    model.neuron = neuron

    def forward(inp):
        spikes, mem, state = neuron.unroll(lin(inp))
        return spikes, mem, state

    eager = forward(x)
    compiled = mx.compile(forward)(x)
    np.testing.assert_array_equal(np.array(eager[0]), np.array(compiled[0]))
    np.testing.assert_allclose(np.array(eager[1]), np.array(compiled[1]), rtol=1e-5, atol=1e-4)
    assert float(eager[0].sum()) > 0  # the inputs make every model spike
    assert set(eager[2]) == set(neuron.state_names)

    def loss(m, inp):
        spikes, mem, _ = neuron.unroll(m.layers[0](inp))
        return spikes.sum() + 1e-3 * mem.sum()

    vg = nn.value_and_grad(model, loss)
    v1, g1 = vg(model, x)
    v2, g2 = mx.compile(lambda inp: vg(model, inp))(x)
    gw1, gw2 = np.array(g1["layers"][0]["weight"]), np.array(g2["layers"][0]["weight"])
    assert np.all(np.isfinite(gw1)) and np.abs(gw1).sum() > 0
    np.testing.assert_allclose(float(v1), float(v2), rtol=1e-5)
    np.testing.assert_allclose(gw1, gw2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(make_neurons()))
def test_step_matches_unroll_for_every_neuron(name):
    neuron, scale = make_neurons()[name]
    x = mx.array(np.random.default_rng(2).uniform(0, 2 * scale, (8, 2, 3)).astype(np.float32))
    spikes, mem, final = neuron.unroll(x)
    state = neuron.init_state(2, 3)
    for t in range(8):
        spk, state = neuron(x[t], state)
        np.testing.assert_array_equal(np.array(spk), np.array(spikes[t]))
        np.testing.assert_allclose(np.array(state["mem"]), np.array(mem[t]), rtol=1e-6)
    for key in neuron.state_names:
        np.testing.assert_allclose(np.array(final[key]), np.array(state[key]), rtol=1e-6)


def test_multidimensional_features():
    lif = Leaky(beta=0.5)
    state = lif.init_state(2, (3, 4, 4))
    assert state["mem"].shape == (2, 3, 4, 4)
    spikes, mem, _ = lif.unroll(mx.full((5, 2, 3, 4, 4), 0.6))
    assert spikes.shape == (5, 2, 3, 4, 4)
    np.testing.assert_allclose(np.array(mem)[:, 0, 0, 0, 0], [0.6, 0.9, 1.05, 0.125, 0.6625])


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Leaky(beta=1.5), r"Leaky: beta must lie in \[0.0, 1.0\], got 1.5"),
        (lambda: Leaky(beta=-0.1), "beta must lie in"),
        (lambda: Leaky(beta=[0.5, 1.2]), "got 1.2"),
        (lambda: Leaky(beta=float("nan")), "finite"),
        (lambda: Leaky(beta="fast"), "beta must be a number"),
        (lambda: Synaptic(alpha=2.0), "Synaptic: alpha must lie in"),
        (lambda: ALIF(rho=1.1), "ALIF: rho must lie in"),
        (lambda: ALIF(b=-1.0), "ALIF: b must lie in"),
        (lambda: Alpha(alpha=1.0), r"Alpha: alpha must lie in \(0.0, 1.0\)"),
        (lambda: Alpha(alpha=0.8, beta=0.8), "alpha and beta must differ"),
        (lambda: Leaky(reset_mechanism="soft"), "unknown reset_mechanism 'soft'"),
        (lambda: IF(reset_mechanism=None), "unknown reset_mechanism None"),
        (lambda: Leaky(surrogate="relu"), "unknown surrogate 'relu'"),
    ],
)
def test_bad_arguments_raise_config_error(factory, message):
    with pytest.raises(ConfigError, match=message):
        factory()


def test_bad_state_and_input_raise_config_error():
    lif = Leaky(beta=0.9)
    state = lif.init_state(4, 10)
    with pytest.raises(ConfigError, match=r"state\['mem'\] has shape \(4, 10\).*\(4, 12\)"):
        lif(mx.zeros((4, 12)), state)
    with pytest.raises(ConfigError, match=r"missing \['syn'\]"):
        Synaptic()(mx.zeros((4, 10)), state)
    with pytest.raises(ConfigError, match="state must be a dict"):
        lif(mx.zeros((4, 10)), state["mem"])
    with pytest.raises(ConfigError, match=r"time-major \[T, B, F\]"):
        lif.unroll(mx.zeros((4, 10)))
    with pytest.raises(ConfigError, match=r"Leaky.unroll: state\['mem'\]"):
        lif.unroll(mx.zeros((5, 10, 4)), state)  # batch-major mix-up is caught
    with pytest.raises(ConfigError, match="positive"):
        lif.init_state(0, 10)


def test_call_without_state_starts_from_rest():
    lif = Leaky(beta=0.5)
    spk, state = lif(mx.full((2, 3), 1.5))
    np.testing.assert_array_equal(np.array(spk), 1.0)
    np.testing.assert_allclose(np.array(state["mem"]), 1.5)


def test_functional_step_is_pure():
    mem = mx.array([[0.9, 1.2]])
    spk, new = functional.leaky_step(
        mx.array([[0.2, 0.0]]), mem, beta=0.5, threshold=1.0, spike_fn=surrogate.atan()
    )
    np.testing.assert_allclose(np.array(new), [[0.65, -0.4]])  # 0.45+0.2; 0.6+0-1
    np.testing.assert_array_equal(np.array(spk), [[0, 0]])
    np.testing.assert_allclose(np.array(mem), [[0.9, 1.2]])  # input state untouched


# ----------------------------------------------------------------------------- snnTorch
def _snntorch_run(layer, x, n_states):
    """Run an snnTorch neuron step by step on a numpy [T, B, F] input with grad."""
    import torch

    xt = torch.tensor(x, requires_grad=True)
    state = [None] * n_states
    spikes, mems = [], []
    for t in range(x.shape[0]):
        if n_states == 1:
            spk, mem = layer(xt[t]) if state[0] is None else layer(xt[t], state[0])
            state = [mem]
        elif n_states == 2:
            spk, syn, mem = layer(xt[t]) if state[0] is None else layer(xt[t], *state)
            state = [syn, mem]
        else:
            spk, exc, inh, mem = layer(xt[t]) if state[0] is None else layer(xt[t], *state)
            state = [exc, inh, mem]
        spikes.append(spk)
        mems.append(mem)
    return xt, torch.stack(spikes), torch.stack(mems)


def _compare_with_snntorch(ours, theirs, n_states, scale, seed=0, steps=30):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.2 * scale, scale, size=(steps, 4, 16)).astype(np.float32)
    wsp = rng.normal(size=x.shape).astype(np.float32)
    wm = rng.normal(size=x.shape).astype(np.float32)
    xt, spk_t, mem_t = _snntorch_run(theirs, x, n_states)
    (
        (spk_t * __import__("torch").tensor(wsp)).sum()
        + (mem_t * __import__("torch").tensor(wm)).sum()
    ).backward()

    def loss(inp):
        spikes, mem, _ = ours.unroll(inp)
        return (spikes * mx.array(wsp)).sum() + (mem * mx.array(wm)).sum()

    spikes, mem, _ = ours.unroll(mx.array(x))
    np.testing.assert_array_equal(np.array(spikes), spk_t.detach().numpy())
    np.testing.assert_allclose(np.array(mem), mem_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert np.array(spikes).mean() > 0.05  # the comparison exercises resets
    grad = np.array(mx.grad(loss)(mx.array(x)))
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_leaky_matches_snntorch(reset):
    snn = pytest.importorskip("snntorch")
    _compare_with_snntorch(
        Leaky(beta=0.8, reset_mechanism=reset), snn.Leaky(beta=0.8, reset_mechanism=reset), 1, 0.8
    )


def test_leaky_defaults_match_snntorch_defaults():
    snn = pytest.importorskip("snntorch")
    _compare_with_snntorch(Leaky(beta=0.9), snn.Leaky(beta=0.9), 1, 0.6, seed=5, steps=40)


def test_leaky_immediate_reset_matches_snntorch_below_twice_threshold():
    """snnTorch's reset_delay=False backpropagates through the reset (detach_reset=False).

    Its spike test also subtracts a second threshold when the stored (already reset)
    membrane is still above threshold, which needs inputs that drive U above 2 thr; below
    that the two agree exactly.
    """
    snn = pytest.importorskip("snntorch")
    for reset in ("subtract", "zero"):
        _compare_with_snntorch(
            Leaky(beta=0.8, reset_mechanism=reset, reset_delay=False, detach_reset=False),
            snn.Leaky(beta=0.8, reset_mechanism=reset, reset_delay=False),
            1,
            0.5,
            seed=11,
        )


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_synaptic_matches_snntorch(reset):
    snn = pytest.importorskip("snntorch")
    _compare_with_snntorch(
        Synaptic(alpha=0.7, beta=0.8, reset_mechanism=reset),
        snn.Synaptic(alpha=0.7, beta=0.8, reset_mechanism=reset),
        2,
        0.4,
    )


@pytest.mark.parametrize("reset", ["zero", "none"])
def test_alpha_matches_snntorch(reset):
    snn = pytest.importorskip("snntorch")
    _compare_with_snntorch(
        Alpha(alpha=0.9, beta=0.7, reset_mechanism=reset),
        snn.Alpha(alpha=0.9, beta=0.7, reset_mechanism=reset),
        3,
        0.5,
    )


# ------------------------------------------------------------------------------ configs
@pytest.mark.parametrize("name", list(make_neurons()))
def test_config_round_trip_rebuilds_the_same_dynamics(name):
    import json

    neuron, scale = make_neurons()[name]
    config = json.loads(json.dumps(neuron.config()))  # plain JSON values
    assert config["type"] == name.lower()  # the model-config layer format
    rebuilt = neuron_from_config(config)
    assert rebuilt.config() == config
    x = mx.array(np.random.default_rng(8).uniform(0, 2 * scale, (10, 2, 3)).astype(np.float32))
    np.testing.assert_array_equal(np.array(rebuilt.unroll(x)[0]), np.array(neuron.unroll(x)[0]))


def test_config_keeps_learned_and_per_neuron_values():
    lif = Leaky(beta=np.array([0.5, 0.7], np.float32), learn_threshold=True,
                surrogate=surrogate.fast_sigmoid(slope=10))
    lif.threshold = mx.array(1.25)  # as after training
    config = lif.config()
    assert config["beta"] == pytest.approx([0.5, 0.7])
    assert config["threshold"] == pytest.approx(1.25) and config["learn_threshold"] is True
    assert config["surrogate"] == {"type": "fast_sigmoid", "slope": 10.0}
    rebuilt = neuron_from_config(config)
    assert set(rebuilt.trainable_parameters()) == {"threshold"}


def test_older_config_format_is_read():
    # {"model": ClassName, surrogate: {"name": ...}}: what config() wrote before the registry
    old = {"model": "Leaky", "beta": [0.5, 0.7], "threshold": 1.25, "learn_threshold": True,
           "surrogate": {"name": "fast_sigmoid", "slope": 10.0}}
    assert upgrade_neuron_config(old) == {
        "type": "leaky", "beta": [0.5, 0.7], "threshold": 1.25, "learn_threshold": True,
        "surrogate": {"type": "fast_sigmoid", "slope": 10.0}}
    rebuilt = neuron_from_config(old)
    assert isinstance(rebuilt, Leaky) and set(rebuilt.trainable_parameters()) == {"threshold"}
    assert rebuilt.config()["surrogate"] == {"type": "fast_sigmoid", "slope": 10.0}
    for name, cls in NEURON_MODELS.items():
        assert NEURONS[cls.config_type] is cls and cls.__name__ == name
    assert {"rleaky", "rsynaptic"} <= set(NEURONS)


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown neuron model 'LIF'"):
        neuron_from_config({"model": "LIF"})
    with pytest.raises(ConfigError, match="'model' key"):
        neuron_from_config({"beta": 0.9})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) tau \(known: beta, "):
        neuron_from_config({"model": "Leaky", "tau": 5})
    with pytest.raises(ConfigError, match="needs a 'name'"):
        neuron_from_config({"model": "Leaky", "surrogate": {"slope": 3}})
    with pytest.raises(ConfigError, match="no name to write"):
        Leaky(surrogate=surrogate.custom(lambda x: mx.ones_like(x))).config()


@pytest.mark.parametrize(
    ("factory", "scale", "names"),
    [
        (lambda: ALIF(learn_beta=True, learn_rho=True, learn_threshold=True), 0.5,
         {"beta", "rho", "threshold"}),
        (lambda: Alpha(learn_alpha=True, learn_beta=True, learn_threshold=True), 0.5,
         {"alpha", "beta", "threshold"}),
        (lambda: Synaptic(learn_alpha=True, learn_beta=True), 0.3, {"alpha", "beta"}),
        (lambda: Izhikevich(learn_params=True, surrogate=surrogate.fast_sigmoid(0.1)), 10.0,
         {"a", "b", "c", "d"}),
    ],
)
def test_every_learnable_option_receives_a_gradient(factory, scale, names):
    neuron = factory()
    assert set(neuron.trainable_parameters()) == names
    x = mx.array(np.random.default_rng(0).uniform(0, 2 * scale, (20, 2, 3)).astype(np.float32))

    def loss(model, inp):
        spikes, mem, _ = model.unroll(inp)
        return spikes.sum() + 0.01 * mem.sum()

    _, grads = nn.value_and_grad(neuron, loss)(neuron, x)
    for name in names:
        value = float(grads[name])
        assert math.isfinite(value) and value != 0.0, (name, value)


def test_integer_and_boolean_input_is_taken_as_float():
    """Spike counts or 0/1 given as int or bool: the fused unroll cast beta and the
    threshold to the input's dtype (beta 0.5 became 0), so its membrane and spikes differed
    from the step loop's; now both run in float32, as with float input."""
    expected_mem = [1.0, 1.5, 0.75, 1.375]  # beta 0.5, threshold 1, subtract reset
    for dtype in (mx.int32, mx.bool_, mx.uint8):
        for fused in (True, False):
            neuron = Leaky(beta=0.5)
            neuron.fused = fused
            spk, mem, _ = neuron.unroll(mx.ones((4, 1, 1), dtype=dtype))
            assert mem.dtype == mx.float32
            np.testing.assert_allclose(np.array(mem).ravel(), expected_mem, rtol=1e-6)
            np.testing.assert_array_equal(np.array(spk).ravel(), [0, 1, 0, 1])
        spk, state = Leaky(beta=0.5)(mx.ones((1, 1), dtype=dtype))
        assert state["mem"].dtype == mx.float32 and float(state["mem"][0, 0]) == 1.0


def test_per_neuron_parameters_must_fit_the_features_not_the_batch():
    """beta with one value per neuron must broadcast to the features: two values for one
    feature and a batch of two gave a [T, 2, 2] output; three for four gave MLX's
    broadcast error; a NumPy input to a step, MLX's zeros() error."""
    with pytest.raises(ConfigError, match=r"Leaky\.unroll: beta has one value per neuron of "
                                          r"shape \(2,\), which does not fit the input's "
                                          r"features \(1,\)"):
        Leaky(beta=[0.1, 0.2]).unroll(mx.ones((3, 2, 1)))
    with pytest.raises(ConfigError, match=r"Leaky\.__call__: beta .* \(3,\).*features \(4,\)"):
        Leaky(beta=[0.1, 0.2, 0.3])(mx.ones((2, 4)))
    spk, _, _ = Leaky(beta=[0.1, 0.2]).unroll(mx.ones((3, 5, 2)))
    assert spk.shape == (3, 5, 2)
    spk, _, _ = Leaky(threshold=mx.ones((1, 2))).unroll(mx.ones((3, 5, 2)))  # (1, F): fits
    assert spk.shape == (3, 5, 2)
    with pytest.raises(ConfigError, match=r"the input must be an mlx array .*got ndarray"):
        Leaky(beta=0.5)(np.ones((2, 4), np.float32))
