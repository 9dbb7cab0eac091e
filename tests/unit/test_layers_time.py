"""Sequence layers for EEG (eegsnn.nn.layers and their config types): conv_time against
NumPy convolutions, causality, spatial filters, avgpool_time, batch norm through time
(train/eval statistics), config validation, gradients and mx.compile."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError
from eegsnn.model import build_model, validate_config
from eegsnn.nn import layers as L

RNG = np.random.default_rng(3)


def _np_conv_time(x, w, dilation, causal, groups=1):
    """Reference: y[t, n, o] = sum_k sum_i w[o, k, i] x[t - left + k d, n, g(o) i]."""
    num_steps, fin = x.shape[0], x.shape[-1]
    out_ch, kernel, per_group = w.shape
    left, _ = L.conv_time_padding(kernel, dilation, causal)
    y = np.zeros((num_steps, *x.shape[1:-1], out_ch))
    outs_per_group = out_ch // groups
    for o in range(out_ch):
        g = o // outs_per_group
        for k in range(kernel):
            src = np.arange(num_steps) - left + k * dilation
            ok = (src >= 0) & (src < num_steps)
            for i in range(per_group):
                y[ok, ..., o] += w[o, k, i] * x[src[ok], ..., g * per_group + i]
    assert fin == per_group * groups
    return y


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv_time_matches_numpy(causal, dilation):
    x = RNG.normal(size=(11, 2, 3)).astype(np.float32)
    w = RNG.normal(size=(4, 3, 3)).astype(np.float32)
    got = np.array(L.conv_time(mx.array(x), mx.array(w), dilation=dilation, causal=causal))
    np.testing.assert_allclose(got, _np_conv_time(x, w, dilation, causal), atol=1e-5)
    # depthwise (groups = F_in, two filters per feature) on [T, B, C, F]
    x4 = RNG.normal(size=(9, 2, 5, 3)).astype(np.float32)
    wd = RNG.normal(size=(6, 3, 1)).astype(np.float32)
    got = np.array(L.conv_time(mx.array(x4), mx.array(wd), dilation=dilation, causal=causal,
                               groups=3))
    np.testing.assert_allclose(got, _np_conv_time(x4, wd, dilation, causal, groups=3),
                               atol=1e-5)


def test_per_channel_conv_is_numpy_convolve_and_causal():
    # [T, B, C] raw channels -> [T, B, C, F1]; causal = full convolution cut to T steps
    x = RNG.normal(size=(20, 2, 3)).astype(np.float32)
    layer = L.ConvTime(1, 4, 5, per_channel=True, bias=True)
    layer.bias = mx.array([0.5, -1.0, 0.0, 2.0])
    y = np.array(layer(mx.array(x)))
    assert y.shape == (20, 2, 3, 4)
    w = np.array(layer.weight)[:, :, 0]
    for b in range(2):
        for c in range(3):
            for f in range(4):
                ref = np.convolve(x[:, b, c], w[f, ::-1])[:20] + float(layer.bias[f])
                np.testing.assert_allclose(y[:, b, c, f], ref, atol=1e-5)
    # centred ('same') for an odd kernel
    same = L.ConvTime(1, 4, 5, per_channel=True, causal=False, bias=False)
    same.weight = layer.weight
    ys = np.array(same(mx.array(x)))
    np.testing.assert_allclose(ys[:, 1, 2, 3], np.convolve(x[:, 1, 2], w[3, ::-1], "same"),
                               atol=1e-5)
    # causality: changing step 12 leaves steps < 12 unchanged
    x2 = x.copy()
    x2[12] += 10.0
    y2 = np.array(layer(mx.array(x2)))
    np.testing.assert_array_equal(y2[:12], y[:12])
    assert np.abs(y2[12:17] - y[12:17]).max() > 1e-3


def test_spatial_filter_and_avgpool_match_numpy():
    x = RNG.normal(size=(6, 2, 5, 3)).astype(np.float32)  # [T, B, C, F]
    w = RNG.normal(size=(3, 2, 5)).astype(np.float32)  # [F, D, C]
    y = np.array(L.spatial_filter(mx.array(x), mx.array(w)))
    ref = np.einsum("tbcf,fdc->tbfd", x, w).reshape(6, 2, 6)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert y[0, 0, 3] == pytest.approx(float((x[0, 0, :, 1] * w[1, 1]).sum()), abs=1e-5)

    seq = RNG.normal(size=(11, 2, 3)).astype(np.float32)
    out = np.array(L.avgpool_time(mx.array(seq), 4))
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out[1], seq[4:8].mean(axis=0), atol=1e-6)
    out = np.array(L.avgpool_time(mx.array(seq), 3, stride=2))  # overlapping windows
    assert out.shape == (5, 2, 3)
    np.testing.assert_allclose(out, np.stack([seq[2 * j:2 * j + 3].mean(0) for j in range(5)]),
                               atol=1e-6)
    with pytest.raises(ConfigError, match="fewer than the kernel_size"):
        L.avgpool_time(mx.array(seq), 12)


@pytest.mark.parametrize(("steps", "kernel", "stride"), [(23, 6, 3), (40, 8, 2), (21, 9, 3)])
def test_overlapping_avgpool_by_whole_blocks_matches_numpy_and_its_gradient(steps, kernel,
                                                                           stride):
    """A stride that divides the kernel: block sums first (the spiking_shallow default 40 /
    8); values and the input gradient as the window means."""
    seq = RNG.normal(size=(steps, 2, 3)).astype(np.float32)
    n_out = (steps - kernel) // stride + 1
    ref = np.stack([seq[stride * j:stride * j + kernel].mean(0) for j in range(n_out)])
    out = L.avgpool_time(mx.array(seq), kernel, stride=stride)
    np.testing.assert_allclose(np.array(out), ref, atol=1e-6)
    cot = RNG.normal(size=ref.shape).astype(np.float32)
    grad = mx.vjp(lambda x: L.avgpool_time(x, kernel, stride=stride), [mx.array(seq)],
                  [mx.array(cot)])[1][0]
    expected = np.zeros_like(seq)
    for j in range(n_out):
        expected[stride * j:stride * j + kernel] += cot[j] / kernel
    np.testing.assert_allclose(np.array(grad), expected, atol=1e-6)


def test_batchnorm_train_and_eval_statistics():
    x = (RNG.normal(size=(7, 4, 3, 2)) * [2.0, 0.5] + [1.0, -3.0]).astype(np.float32)
    bn = L.BatchNormTime(2, momentum=0.1)
    bn.train()
    y = np.array(bn(mx.array(x)))
    flat = x.reshape(-1, 2)
    np.testing.assert_allclose(y.reshape(-1, 2).mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 2).std(0), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.array(bn.running_mean), 0.1 * flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.array(bn.running_var), 0.9 + 0.1 * flat.var(0, ddof=1),
                               rtol=1e-5)
    bn.weight = mx.array([2.0, 1.0])
    bn.bias = mx.array([0.0, 0.5])
    bn.eval()
    before = np.array(bn.running_mean)
    y = np.array(bn(mx.array(x)))
    rm, rv = np.array(bn.running_mean), np.array(bn.running_var)
    np.testing.assert_array_equal(rm, before)  # eval: no update
    ref = (x - rm) / np.sqrt(rv + 1e-5) * [2.0, 1.0] + [0.0, 0.5]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    # statistics are not trained, but they are saved with the parameters
    assert set(dict(tree_flatten(bn.trainable_parameters()))) == {"weight", "bias"}
    assert {"running_mean", "running_var"} <= set(dict(tree_flatten(bn.parameters())))


def _stack(layers, input_shape=(4,)):
    return {"input_shape": list(input_shape), "layers": layers, "readout": "mean"}


def test_config_shapes_and_readout_on_pooled_time():
    cfg = validate_config(_stack([
        {"type": "conv_time", "per_channel": True, "out_channels": 3, "kernel_size": 4},
        {"type": "batchnorm"},
        {"type": "spatial", "depth_multiplier": 2},
        {"type": "leaky"},
        {"type": "avgpool_time", "kernel_size": 2},
        {"type": "conv_time", "depthwise": True, "out_channels": 12, "kernel_size": 3,
         "dilation": 2},
        {"type": "conv_time", "out_channels": 5, "kernel_size": 2, "causal": False},
        {"type": "rleaky"},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "reset_mechanism": "none"},
    ]))
    assert cfg["output_shape"] == [2]
    assert cfg["layers"][2]["in_channels"] == 4 and cfg["layers"][2]["feature_maps"] == 3
    assert cfg["layers"][7]["features"] == 5
    model = build_model(cfg)
    out = model(mx.random.normal((10, 3, 4)))
    assert out["membrane"].shape == (5, 3, 2) and out["logits"].shape == (3, 2)
    assert [s.shape for s in out["layer_spikes"]] == [(10, 3, 6), (5, 3, 5), (5, 3, 2)]
    # spatial on raw channels [C] reads F = 1: a learned channel mixing
    cfg = validate_config(_stack([{"type": "spatial", "depth_multiplier": 3},
                                  {"type": "leaky"}], (6,)))
    assert cfg["output_shape"] == [3]


@pytest.mark.parametrize("layer, match", [
    ({"type": "conv_time"}, "missing required option 'kernel_size'"),
    ({"type": "conv_time", "kernel_size": [3, 3]}, "must be one integer"),
    ({"type": "conv_time", "kernel_size": 3, "causal": "yes"}, "causal must be true or false"),
    ({"type": "conv_time", "kernel_size": 3, "depthwise": True, "out_channels": 6},
     "multiple of the 4 input features"),
    ({"type": "conv_time", "kernel_size": 3, "per_channel": True, "depthwise": True},
     "exclude each other"),
    ({"type": "avgpool_time", "kernel_size": 0}, "integer >= 1"),
    ({"type": "avgpool_time", "kernel_size": 2, "strde": 2}, r"unknown option\(s\) \['strde'\]"),
    ({"type": "batchnorm", "momentum": 0.0}, r"momentum must be a number in \(0.0, 1.0\]"),
    ({"type": "rleaky", "features": 3}, "features=3 but the input gives 4"),
    ({"type": "spatial", "in_channels": 5}, "in_channels=5 but the input gives 4"),
])
def test_config_errors(layer, match):
    with pytest.raises(ConfigError, match=match):
        validate_config(_stack([layer, {"type": "leaky"}]))
    with pytest.raises(ConfigError, match="per_channel expects the raw channels"):
        validate_config(_stack([{"type": "conv_time", "kernel_size": 2, "per_channel": True},
                                {"type": "conv_time", "kernel_size": 2, "per_channel": True},
                                {"type": "leaky"}]))
    with pytest.raises(ConfigError, match=r"expects \[C, F\]"):
        validate_config(_stack([{"type": "spatial"}, {"type": "leaky"}], (2, 3, 4)))


def _eeg_net(readout_neuron="leaky"):
    return build_model(_stack([
        {"type": "conv_time", "per_channel": True, "out_channels": 3, "kernel_size": 4},
        {"type": "batchnorm"},
        {"type": "spatial", "depth_multiplier": 2},
        {"type": "batchnorm", "weight_init": 2.0},
        {"type": "leaky", "beta": 0.8, "surrogate": {"type": "fast_sigmoid", "slope": 5}},
        {"type": "avgpool_time", "kernel_size": 2},
        {"type": "conv_time", "depthwise": True, "kernel_size": 3},
        {"type": "linear", "out_features": 2},
        {"type": readout_neuron, "reset_mechanism": "none"},
    ]))


def test_gradients_reach_every_parameter_and_compile_matches():
    mx.random.seed(0)
    model = _eeg_net()
    model.train()
    x = mx.random.normal((12, 5, 4)) * 2.0
    y = mx.array([0, 1, 0, 1, 1])

    def loss(m, x, y):
        return nn.losses.cross_entropy(m(x)["logits"], y, reduction="mean")

    value, grads = nn.value_and_grad(model, loss)(model, x, y)
    flat = dict(tree_flatten(grads))
    assert set(flat) == set(dict(tree_flatten(model.trainable_parameters())))
    for name, g in flat.items():
        g = np.array(g)
        assert np.all(np.isfinite(g)), name
        assert np.abs(g).max() > 0, name
    model.eval()
    eager = model(x)["logits"]
    compiled = mx.compile(lambda x: model(x)["logits"])(x)
    np.testing.assert_allclose(np.array(compiled), np.array(eager), rtol=1e-5, atol=1e-6)
    assert np.isfinite(float(value))
