"""Recurrent spiking layers (RLeaky, RSynaptic): hand-computed traces, one-to-one weights,
state handling, config use, gradients through the recurrence and mx.compile."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError
from eegsnn.model import build_model
from eegsnn.nn import RLeaky, RSynaptic
from eegsnn.nn.recurrent import rleaky_step

W = [[0.5, -1.0], [0.2, 0.3]]  # W[o, i]: neuron o receives W[o, i] * S_i[t-1]
B_REC = [0.1, 0.0]
X = np.array([[[1.2, 0.5]], [[0.3, 0.9]], [[0.0, 0.2]]], dtype=np.float32)  # [T=3, B=1, 2]


def _set_recurrent(layer):
    layer.recurrent.weight = mx.array(W)
    layer.recurrent.bias = mx.array(B_REC)
    return layer


@pytest.mark.parametrize("mechanism, mem, spk", [
    # t1: U = x + b = [1.3, 0.5] -> S = [1, 0]
    # t2: R = [1, 0], rec = W S1 + b = [0.6, 0.2], B = 0.5 U1 + x2 + rec = [1.55, 1.35]
    # t3: rec = W [0, 1] + b = [-0.9, 0.3]
    ("subtract", [[1.3, 0.5], [0.55, 1.35], [-0.625, 0.175]], [[1, 0], [0, 1], [0, 0]]),
    ("zero", [[1.3, 0.5], [0.0, 1.35], [-0.9, 0.0]], [[1, 0], [0, 1], [0, 0]]),
    # none: S2 = [1, 1], so rec3 = W [1, 1] + b = [-0.4, 0.5]
    ("none", [[1.3, 0.5], [1.55, 1.35], [0.375, 1.375]], [[1, 0], [1, 1], [0, 1]]),
])
def test_rleaky_hand_trace(mechanism, mem, spk):
    layer = _set_recurrent(RLeaky(beta=0.5, features=2, reset_mechanism=mechanism))
    spikes, membrane, state = layer.unroll(mx.array(X))
    np.testing.assert_allclose(np.array(membrane)[:, 0], mem, atol=1e-6)
    np.testing.assert_array_equal(np.array(spikes)[:, 0], spk)
    assert set(state) == {"mem", "spk"}
    np.testing.assert_array_equal(np.array(state["spk"])[0], spk[-1])
    # one step at a time gives the same numbers
    st = None
    for t in range(3):
        s, st = layer(mx.array(X[t]), st)
        np.testing.assert_allclose(np.array(st["mem"])[0], mem[t], atol=1e-6)
        np.testing.assert_array_equal(np.array(s)[0], spk[t])


def test_rsynaptic_hand_trace():
    layer = _set_recurrent(RSynaptic(alpha=0.5, beta=0.5, features=2))
    spikes, membrane, state = layer.unroll(mx.array(X))
    # t1: I = [1.3, 0.5], U = I -> S = [1, 0]
    # t2: I = 0.5 I1 + x2 + [0.6, 0.2] = [1.55, 1.35]; U = 0.5 U1 + I2 - [1, 0] = [1.2, 1.6]
    # t3: rec = W [1, 1] + b = [-0.4, 0.5]; I = [0.375, 1.375]; U = 0.5 U2 + I3 - 1
    np.testing.assert_allclose(np.array(membrane)[:, 0],
                               [[1.3, 0.5], [1.2, 1.6], [-0.025, 1.175]], atol=1e-6)
    np.testing.assert_array_equal(np.array(spikes)[:, 0], [[1, 0], [1, 1], [0, 1]])
    np.testing.assert_allclose(np.array(state["syn"])[0], [0.375, 1.375], atol=1e-6)


def test_one_to_one_immediate_reset_and_frozen_recurrence():
    # V = 0.5 per neuron, immediate reset: B = beta U + x + V S[t-1]
    layer = RLeaky(beta=1.0, features=2, all_to_all=False, V=[0.5, 2.0], reset_delay=False,
                   learn_recurrent=False)
    x = mx.array([[[1.5, 0.2]], [[0.2, 0.2]], [[0.0, 0.0]]])
    spikes, membrane, _ = layer.unroll(x)
    # t1: B = [1.5, 0.2] -> S = [1, 0], U = [0.5, 0.2]
    # t2: B = [0.5 + 0.2 + 0.5, 0.2 + 0.2] = [1.2, 0.4] -> S = [1, 0], U = [0.2, 0.4]
    # t3: B = [0.2 + 0.5, 0.4] = [0.7, 0.4]
    np.testing.assert_allclose(np.array(membrane)[:, 0], [[0.5, 0.2], [0.2, 0.4], [0.7, 0.4]],
                               atol=1e-6)
    np.testing.assert_array_equal(np.array(spikes)[:, 0], [[1, 0], [1, 0], [0, 0]])
    assert dict(tree_flatten(layer.trainable_parameters())) == {}
    assert layer.config()["learn_recurrent"] is False
    dense = RLeaky(features=3, learn_recurrent=False)
    assert dict(tree_flatten(dense.trainable_parameters())) == {}
    assert set(dict(tree_flatten(RLeaky(features=3).trainable_parameters()))) == {
        "recurrent.weight", "recurrent.bias"}
    # the pure step with a scalar weight
    spk, mem = rleaky_step(mx.array([0.3]), mx.array([1.0]), mx.array([0.0]), weight=0.8,
                           bias=None, beta=0.9, threshold=1.0, spike_fn=lambda v: v > 0)
    assert float(mem[0]) == pytest.approx(1.1) and bool(spk[0])


def test_errors():
    with pytest.raises(ConfigError, match="features must be a positive integer"):
        RLeaky(features=0)
    with pytest.raises(ConfigError, match=r"expected \[..., B, 3\]"):
        RLeaky(features=3).unroll(mx.zeros((4, 2, 5)))
    with pytest.raises(ConfigError, match="unknown reset_mechanism"):
        RSynaptic(features=2, reset_mechanism="soft")


def test_gradients_flow_through_the_recurrence_and_compile():
    mx.random.seed(1)
    for kind in ("rleaky", "rsynaptic"):
        model = build_model({"input_shape": [3], "readout": "mean", "layers": [
            {"type": "linear", "out_features": 8},
            {"type": kind, "beta": 0.8, "learn_beta": True,
             "surrogate": {"type": "fast_sigmoid", "slope": 5}},
            {"type": "linear", "out_features": 2},
            {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
        x = mx.random.normal((15, 4, 3)) * 2.0
        y = mx.array([0, 1, 1, 0])

        def loss(m, x, y):
            return nn.losses.cross_entropy(m(x)["logits"], y, reduction="mean")

        _, grads = nn.value_and_grad(model, loss)(model, x, y)
        flat = {k: np.array(v) for k, v in tree_flatten(grads)}
        assert {"layers.1.recurrent.weight", "layers.1.recurrent.bias",
                "layers.1.beta"} <= set(flat)
        for name, g in flat.items():
            assert np.all(np.isfinite(g)) and np.abs(g).max() > 0, (kind, name)
        eager = model(x)["logits"]
        compiled = mx.compile(lambda x, model=model: model(x)["logits"])(x)
        np.testing.assert_allclose(np.array(compiled), np.array(eager), rtol=1e-5, atol=1e-6)
        # the layer reports its spikes like any neuron layer
        assert model(x)["layer_spikes"][0].shape == (15, 4, 8)


@pytest.mark.parametrize("mechanism", ["subtract", "zero", "none"])
def test_rleaky_sequence_backward_equals_the_step_loop(mechanism):
    """The hand-written BPTT of RLeaky.unroll gives autodiff's gradients (every input)."""
    mx.random.seed(2)
    layer = RLeaky(beta=0.8, features=5, reset_mechanism=mechanism, surrogate="fast_sigmoid",
                   learn_beta=True, learn_threshold=True)
    x = mx.random.normal((20, 3, 5)) * 1.5
    mem0 = mx.random.normal((3, 5))
    spk0 = (mx.random.uniform(shape=(3, 5)) > 0.5).astype(mx.float32)
    g_s, g_m = mx.random.normal((20, 3, 5)), mx.random.normal((20, 3, 5))

    def loss(params, x, mem0, spk0, fused):
        layer.update(params)
        layer.fused = fused
        s, m, _ = layer.unroll(x, {"mem": mem0, "spk": spk0})
        return (s * g_s).sum() + (m * g_m).sum()

    grad = mx.grad(loss, argnums=(0, 1, 2, 3))
    fused = grad(layer.trainable_parameters(), x, mem0, spk0, True)
    loop = grad(layer.trainable_parameters(), x, mem0, spk0, False)
    a, b = dict(tree_flatten(fused[0])), dict(tree_flatten(loop[0]))
    assert set(a) == {"beta", "threshold", "recurrent.weight", "recurrent.bias"}
    for key in a:
        np.testing.assert_allclose(np.array(a[key]), np.array(b[key]), rtol=2e-5, atol=2e-5)
    for i in (1, 2, 3):
        np.testing.assert_allclose(np.array(fused[i]), np.array(loop[i]), rtol=2e-5,
                                   atol=2e-5)
    layer.fused = True
    s1, m1, _ = layer.unroll(x, {"mem": mem0, "spk": spk0})
    layer.fused = False
    s2, m2, _ = layer.unroll(x, {"mem": mem0, "spk": spk0})
    np.testing.assert_array_equal(np.array(s1), np.array(s2))
    np.testing.assert_array_equal(np.array(m1), np.array(m2))
    assert 0.05 < float(s1.mean()) < 0.95


@pytest.mark.parametrize("mechanism", ["subtract", "zero", "none"])
def test_rsynaptic_sequence_backward_equals_the_step_loop(mechanism):
    mx.random.seed(4)
    layer = RSynaptic(alpha=0.7, beta=0.8, features=4, reset_mechanism=mechanism,
                      surrogate="atan", learn_alpha=True, learn_beta=True,
                      learn_threshold=True)
    x = mx.random.normal((18, 3, 4))
    state = {"syn": mx.random.normal((3, 4)), "mem": mx.random.normal((3, 4)),
             "spk": (mx.random.uniform(shape=(3, 4)) > 0.5).astype(mx.float32)}
    g_s, g_m = mx.random.normal((18, 3, 4)), mx.random.normal((18, 3, 4))

    def loss(params, x, state, fused):
        layer.update(params)
        layer.fused = fused
        s, m, final = layer.unroll(x, state)
        return (s * g_s).sum() + (m * g_m).sum() + final["syn"].sum()

    grad = mx.grad(loss, argnums=(0, 1, 2))
    fused = grad(layer.trainable_parameters(), x, state, True)
    loop = grad(layer.trainable_parameters(), x, state, False)
    for a, b in zip(tree_flatten(fused), tree_flatten(loop), strict=True):
        assert a[0] == b[0]
        np.testing.assert_allclose(np.array(a[1]), np.array(b[1]), rtol=2e-5, atol=2e-5,
                                   err_msg=a[0])
    assert {"0.alpha", "0.recurrent.weight", "2.syn"} <= {k for k, _ in tree_flatten(fused)}


@pytest.mark.parametrize("kind", ["rleaky", "rsynaptic"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_matches_snntorch(kind, reset):
    """Optional (.venv-peers): spikes, membranes and input gradients equal snnTorch's."""
    snn = pytest.importorskip("snntorch")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    if kind == "rleaky":
        theirs = snn.RLeaky(beta=0.8, linear_features=16, reset_mechanism=reset)
        ours = RLeaky(beta=0.8, features=16, reset_mechanism=reset)
    else:
        theirs = snn.RSynaptic(alpha=0.7, beta=0.8, linear_features=16, reset_mechanism=reset)
        ours = RSynaptic(alpha=0.7, beta=0.8, features=16, reset_mechanism=reset)
    ours.recurrent.weight = mx.array(theirs.recurrent.weight.detach().numpy())
    ours.recurrent.bias = mx.array(theirs.recurrent.bias.detach().numpy())
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.2, 0.8, size=(30, 4, 16)).astype(np.float32)
    wsp, wm = (rng.normal(size=x.shape).astype(np.float32) for _ in range(2))
    xt = torch.tensor(x, requires_grad=True)
    theirs.reset_mem()
    spikes_t, mems_t = [], []
    for t in range(x.shape[0]):  # the layer keeps its own state between calls
        out = theirs(xt[t])
        spikes_t.append(out[0])
        mems_t.append(out[-1])
    spk_t, mem_t = torch.stack(spikes_t), torch.stack(mems_t)
    ((spk_t * torch.tensor(wsp)).sum() + (mem_t * torch.tensor(wm)).sum()).backward()

    def loss(inp):
        spikes, mem, _ = ours.unroll(inp)
        return (spikes * mx.array(wsp)).sum() + (mem * mx.array(wm)).sum()

    spikes, mem, _ = ours.unroll(mx.array(x))
    np.testing.assert_array_equal(np.array(spikes), spk_t.detach().numpy())
    np.testing.assert_allclose(np.array(mem), mem_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert np.array(spikes).mean() > 0.05
    np.testing.assert_allclose(np.array(mx.grad(loss)(mx.array(x))), xt.grad.numpy(),
                               rtol=1e-4, atol=1e-4)
