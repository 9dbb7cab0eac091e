"""Config-built spiking models: hand-computed traces, the Leaky kernels vs the step loop,
shapes for conv stacks, and clear errors for bad configs."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.model import Dropout, build_model, reference_mnist_config, validate_config
from eegsnn.nn import Leaky
from eegsnn.nn.sequence import MATMUL_MAX_STEPS, decay_matrix
from eegsnn.train.losses import ce_membrane


def _tiny(readout="final", fast=True):
    cfg = {
        "input_shape": [1],
        "layers": [
            {"type": "linear", "out_features": 1},
            {"type": "leaky", "beta": 0.5, "surrogate": "fast_sigmoid"},
            {"type": "linear", "out_features": 1},
            {"type": "leaky", "beta": 0.5, "reset_mechanism": "none"},
        ],
        "readout": readout,
    }
    model = build_model(cfg, use_fast_path=fast)
    model.layers[0].weight = mx.array([[1.0]])
    model.layers[0].bias = mx.array([0.0])
    model.layers[2].weight = mx.array([[2.0]])
    model.layers[2].bias = mx.array([0.0])
    return model


@pytest.mark.parametrize("fast", [True, False])
def test_hand_computed_two_layer_trace(fast):
    # hidden: U = 0.6, 0.9, 1.05 (spike), 0.525 + 0.6 - 1 = 0.125 (delayed subtract reset)
    # output (no reset, beta 0.5, weight 2): 0, 0, 2, 1
    x = mx.full((4, 1, 1), 0.6)
    out = _tiny(fast=fast)(x)
    hidden = out["layer_spikes"][0]
    np.testing.assert_array_equal(np.array(hidden).ravel(), [0, 0, 1, 0])
    np.testing.assert_allclose(np.array(out["membrane"]).ravel(), [0, 0, 2, 1], atol=1e-6)
    np.testing.assert_allclose(np.array(out["logits"]).ravel(), [1.0], atol=1e-6)
    out_max = _tiny("max", fast)(x)
    np.testing.assert_allclose(np.array(out_max["logits"]).ravel(), [2.0], atol=1e-6)


def test_decay_matrices():
    up = np.array(decay_matrix(0.5, 3, upper=True))
    np.testing.assert_allclose(up, [[1, 0.5, 0.25], [0, 1, 0.5], [0, 0, 1]])
    np.testing.assert_allclose(np.array(decay_matrix(0.5, 3, upper=False)), up.T)


def _step_loop_lif(lif):
    loop = Leaky(beta=lif.beta, reset_mechanism=lif.reset_mechanism, surrogate=lif.spike_fn)
    loop.fused = False
    return loop


@pytest.mark.parametrize("num_steps", [25, MATMUL_MAX_STEPS + 5])
@pytest.mark.parametrize("mechanism", ["subtract", "none"])
def test_leaky_kernels_match_the_step_loop_forward_and_gradient(mechanism, num_steps):
    # fixed scalar beta from rest: the matmul backward (T <= MATMUL_MAX_STEPS) or the loop
    # backward; "none": the one-matmul linear filter
    lif = Leaky(beta=0.85, reset_mechanism=mechanism, surrogate="fast_sigmoid")
    loop = _step_loop_lif(lif)
    shape = (num_steps, 8, 16)
    x = mx.random.normal(shape, key=mx.random.key(0)) * 0.6 + 0.3
    g_spk = mx.random.normal(shape, key=mx.random.key(1))
    g_mem = mx.random.normal(shape, key=mx.random.key(2))
    spk_ref, mem_ref, _ = loop.unroll(x)
    spk, mem, _ = lif.unroll(x)
    assert float(spk_ref.sum()) > 10  # the test exercises spikes and resets
    if mechanism == "subtract":  # same step-by-step arithmetic: bitwise equal
        assert mx.array_equal(spk, spk_ref) and mx.array_equal(mem, mem_ref)
    else:  # one matmul over time: equal up to rounding
        np.testing.assert_allclose(np.array(mem), np.array(mem_ref), rtol=1e-5, atol=1e-5)

    def objective(neuron):
        def obj(v):
            s, m, _ = neuron.unroll(v)
            return (s * g_spk).sum() + (m * g_mem).sum()
        return obj

    ref = np.array(mx.grad(objective(loop))(x))
    np.testing.assert_allclose(np.array(mx.grad(objective(lif))(x)), ref, rtol=1e-4, atol=1e-4)
    # and inside mx.compile
    np.testing.assert_allclose(np.array(mx.compile(mx.grad(objective(lif)))(x)), ref,
                               rtol=1e-4, atol=1e-4)


def test_model_layers_run_the_neurons_own_unroll():
    # the model calls unroll (no kernel choice of its own): same values as a direct call
    model = build_model(reference_mnist_config(hidden=16))
    x = (mx.random.uniform(shape=(25, 3, 784), key=mx.random.key(5)) < 0.3).astype(mx.float32)
    out = model(x)
    hidden = model.layers[0](x)
    spk, _, _ = model.layers[1].unroll(hidden)
    assert mx.array_equal(out["layer_spikes"][0], spk)
    _, mem, _ = model.layers[3].unroll(model.layers[2](spk))
    assert mx.array_equal(out["membrane"], mem)
    assert not build_model(reference_mnist_config(hidden=16), use_fast_path=False).layers[1].fused


def test_reference_model_gradients_equal_with_and_without_fast_path():
    cfg = reference_mnist_config(hidden=32)
    x = (mx.random.uniform(shape=(25, 6, 784), key=mx.random.key(3)) < 0.3).astype(mx.float32)
    y = mx.array([0, 1, 2, 3, 4, 5])
    grads = []
    for fast in (True, False):
        mx.random.seed(7)
        model = build_model(cfg, use_fast_path=fast)

        def loss(m, x=x):
            out = m(x)
            return ce_membrane(out["spikes"], out["membrane"], y)

        value, g = nn.value_and_grad(model, loss)(model)
        grads.append((float(value), g))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for name in ("weight", "bias"):
        for i in (0, 2):
            np.testing.assert_allclose(np.array(grads[0][1]["layers"][i][name]),
                                       np.array(grads[1][1]["layers"][i][name]),
                                       rtol=1e-3, atol=1e-5)


def test_reference_model_shapes_and_readout():
    model = build_model(reference_mnist_config())
    x = mx.zeros((25, 4, 784))
    out = model(x)
    assert out["membrane"].shape == (25, 4, 10)
    assert out["logits"].shape == (4, 10)
    assert [s.shape for s in out["layer_spikes"]] == [(25, 4, 256), (25, 4, 10)]
    assert mx.array_equal(out["logits"], out["membrane"][-1])
    assert model.config["output_shape"] == [10]
    with pytest.raises(ConfigError, match=r"expected \[T, B, 784\]"):
        model(mx.zeros((4, 784)))


def test_conv1d_stack_time_major():
    cfg = {
        "input_shape": [32, 3],  # [L, C] channels last
        "layers": [
            {"type": "conv1d", "out_channels": 4, "kernel_size": 5, "stride": 2},
            {"type": "leaky", "beta": 0.9},
            {"type": "flatten"},
            {"type": "dropout", "p": 0.2},
            {"type": "linear", "out_features": 2},
            {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"},
        ],
        "readout": "max",
    }
    resolved = validate_config(cfg)
    assert resolved["layers"][4]["in_features"] == 14 * 4
    model = build_model(cfg)
    out = model(mx.ones((5, 3, 32, 3)))
    assert out["layer_spikes"][0].shape == (5, 3, 14, 4)
    assert out["logits"].shape == (3, 2)
    # the resolved config rebuilds the same architecture
    assert build_model(model.config).config == model.config


def test_dropout_train_and_eval():
    drop = Dropout(0.25)
    x = mx.ones((10, 20, 50))
    mx.random.seed(0)
    y = np.array(drop(x))
    assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1.0) / np.float32(0.75))}
    assert abs((y == 0).mean() - 0.25) < 0.03
    shared = np.array(Dropout(0.5, shared_over_time=True)(x))
    assert (shared == shared[0:1]).all()  # one mask for every time step
    drop.eval()
    assert mx.array_equal(drop(x), x)


def _with_layers(layers, **extra):
    return {"input_shape": [10], "layers": layers, **extra}


LEAKY_OUT = {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}


@pytest.mark.parametrize("cfg, message", [
    (_with_layers([{"type": "lstm"}, LEAKY_OUT]), "unknown layer type 'lstm'"),
    (_with_layers([{"type": "linear", "out_features": 3},
                   {"type": "leaky", "beta": 0.9, "gamma": 2}]),
     r"unknown option\(s\) gamma \(known: beta"),
    (_with_layers([{"type": "linear", "in_features": 12, "out_features": 3}, LEAKY_OUT]),
     "in_features=12 but the previous layer gives 10"),
    (_with_layers([{"type": "linear"}, LEAKY_OUT]), "out_features"),
    (_with_layers([{"type": "linear", "out_features": 3}, LEAKY_OUT], readout="mean_spk"),
     "unknown readout"),
    (_with_layers([{"type": "linear", "out_features": 3}]), "last layer must be a neuron"),
    (_with_layers([{"type": "linear", "out_features": 3}, LEAKY_OUT], readout="count"),
     "needs a spiking output layer"),
    (_with_layers([{"type": "conv1d", "out_channels": 2, "kernel_size": 3}, LEAKY_OUT]),
     "conv1d expects input"),
    ({"input_shape": [4, 2], "layers": [{"type": "linear", "out_features": 3}, LEAKY_OUT]},
     "add a 'flatten' layer"),
    ({"input_shape": [4, 2], "layers": [{"type": "conv1d", "out_channels": 2,
                                         "kernel_size": 9}, LEAKY_OUT]}, "larger than"),
    (_with_layers([{"type": "linear", "out_features": 3},
                   {"type": "leaky", "surrogate": "banana"}]), "unknown surrogate"),
    (_with_layers([{"type": "dropout", "p": 1.5}, LEAKY_OUT]), "dropout p"),
    ({"layers": [LEAKY_OUT]}, "input_shape"),
    (_with_layers([]), "non-empty"),
    (_with_layers([LEAKY_OUT], extra_key=1), "unknown key"),
])
def test_bad_configs_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_model(cfg)


def test_model_input_checks():
    """SpikingNet names what is wrong with its input: not an MLX array (NumPy gave MLX's
    addmm error), no samples or no steps (a reshape error, or a pooling message listing no
    pool); integer spike counts run as float32."""
    net = build_model({"input_shape": [4], "readout": "count",
                       "layers": [{"type": "leaky", "beta": 0.5}]})
    with pytest.raises(ConfigError, match=r"model input must be an mlx array .*ndarray"):
        net(np.ones((3, 2, 4), np.float32))
    with pytest.raises(ConfigError, match=r"model input \[3, 0, 4\] has no samples \(B = 0\)"):
        net(mx.ones((3, 0, 4)))
    with pytest.raises(ConfigError, match=r"has no time steps \(T = 0\)"):
        net(mx.ones((0, 2, 4)))
    counts = net(mx.ones((4, 2, 4), dtype=mx.int32))["logits"]
    assert counts.dtype == mx.float32
    np.testing.assert_array_equal(np.array(counts), np.array(net(mx.ones((4, 2, 4)))["logits"]))
