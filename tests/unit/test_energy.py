"""Synaptic operations and energy (eegsnn.evaluate.energy) against hand-computed counts."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401
from eegsnn.errors import ConfigError
from eegsnn.evaluate.energy import E_AC_PJ, E_MAC_PJ, combine, synops
from eegsnn.model import build_model


def _mlp(beta: float = 0.5):
    model = build_model({"input_shape": [3], "readout": "mean", "layers": [
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": beta, "threshold": 1.0},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
    model.layers[0].weight = mx.array([[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    model.layers[0].bias = mx.zeros(2)
    return model


def test_hand_counted_mlp_on_spikes():
    # step 0: inputs 0 and 2 spike, step 1: input 2: 3 non-zero inputs, fan-out 2 -> 6 ACs
    x = np.array([[[1, 0, 1]], [[0, 0, 1]]], np.float32)  # [T=2, B=1, 3]
    # hidden: U0 = [4, 0] -> spike [1, 0]; U1 = 0.5*4 + 2 - 1 (subtract) = 3 -> [1, 0]
    rep = synops(_mlp(), x)
    first, second = rep["per_layer"]
    assert first == pytest.approx({"layer": 0, "type": "linear", "input": "spikes", "ac": 6.0,
                                   "mac": 0.0, "dense_mac": 12.0, "input_sparsity": 0.5})
    # 2 hidden spikes x fan-out 2 -> 4 ACs; dense: 2 steps x 2 x 2 connections
    assert second["ac"] == 4.0 and second["dense_mac"] == 8.0 and second["input"] == "spikes"
    assert rep["per_prediction_ac"] == 10.0 and rep["per_prediction_mac"] == 0.0
    assert rep["energy_pj"] == pytest.approx(10 * E_AC_PJ)
    assert rep["ann_equivalent_mac"] == 20.0
    assert rep["ann_energy_pj"] == pytest.approx(20 * E_MAC_PJ)
    assert rep["energy_ratio_ann_to_snn"] == pytest.approx(20 * 4.6 / 9.0)
    # the hidden layer's 4 outputs hold 2 zeros; the readout integrator is not counted
    assert rep["activation_sparsity"] == 0.5
    assert [r["layer"] for r in rep["neuron_layers"]] == [1]
    assert "Horowitz" in rep["assumptions"]["source"]


def test_analog_input_counts_macs_and_skips_zeros():
    x = np.array([[[0.5, 0.0, 1.5]], [[0.0, 0.0, 0.0]]], np.float32)
    rep = synops(_mlp(), x)
    first = rep["per_layer"][0]
    assert first["input"] == "analog" and first["mac"] == 4.0 and first["ac"] == 0.0
    assert first["dense_mac"] == 12.0
    # hidden: U0 = 2*0.5 + 2*1.5 = 4 -> spike; U1 = 0.5*4 + 0 - 1 = 1 -> no spike (strict)
    assert rep["per_layer"][1]["ac"] == 2.0
    assert rep["energy_pj"] == pytest.approx(4 * E_MAC_PJ + 2 * E_AC_PJ)


def test_conv_time_fan_out_matches_a_numpy_count():
    T, K, out = 6, 3, 2
    model = build_model({"input_shape": [2], "readout": "mean", "layers": [
        {"type": "conv_time", "out_channels": out, "kernel_size": K, "causal": True},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
    rng = np.random.default_rng(0)
    x = (rng.random((T, 3, 2)) < 0.5).astype(np.float32)
    # causal: input step t reaches outputs t .. t+K-1 (those < T), every output channel
    fan = np.array([out * min(K, T - t) for t in range(T)], float)
    expected = float(((x != 0).sum(axis=(1, 2)) * fan).sum()) / 3
    rep = synops(model, x)
    assert rep["per_layer"][0]["ac"] == pytest.approx(expected)
    assert rep["per_layer"][0]["dense_mac"] == pytest.approx(2 * fan.sum())


def test_recurrent_weights_count_the_previous_steps_spikes():
    model = build_model({"input_shape": [3], "readout": "mean", "layers": [
        {"type": "linear", "out_features": 4},
        {"type": "rleaky", "beta": 0.9},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
    model.layers[0].weight = mx.full((4, 3), 1.5)
    rng = np.random.default_rng(1)
    x = (rng.random((10, 2, 3)) < 0.5).astype(np.float32)
    out = model(mx.array(x))
    s = np.array(out["layer_spikes"][0])
    assert s.sum() > 0
    rep = synops(model, x)
    rec = next(r for r in rep["per_layer"] if r["type"] == "rleaky.recurrent")
    assert rec["ac"] == pytest.approx((s[:-1] != 0).sum() * 4 / 2)
    assert rec["dense_mac"] == pytest.approx(9 * 4 * 4)
    after = next(r for r in rep["per_layer"] if r["layer"] == 2)
    assert after["ac"] == pytest.approx((s != 0).sum() * 2 / 2)


def test_counts_do_not_depend_on_the_batch_split_and_combine_pools():
    rng = np.random.default_rng(2)
    x = (rng.random((8, 5, 3)) < 0.4).astype(np.float32)
    a = synops(_mlp(), x, batch_size=2)
    b = synops(_mlp(), x, batch_size=64)
    for ra, rb in zip(a["per_layer"], b["per_layer"], strict=True):
        assert ra == pytest.approx(rb)
    assert a["energy_pj"] == pytest.approx(b["energy_pj"])
    one, two = synops(_mlp(), x[:, :2]), synops(_mlp(), x[:, 2:])
    pooled = combine([one, two])
    assert pooled["n_predictions"] == 5
    assert pooled["per_prediction_ac"] == pytest.approx(b["per_prediction_ac"])
    assert pooled["activation_sparsity"] == pytest.approx(b["activation_sparsity"])
    assert combine([]) is None


def test_bad_input_is_refused():
    with pytest.raises(ConfigError, match="expected input"):
        synops(_mlp(), np.zeros((4, 2, 5), np.float32))
    with pytest.raises(ConfigError, match="SpikingNet"):
        synops(object(), np.zeros((4, 2, 3), np.float32))
