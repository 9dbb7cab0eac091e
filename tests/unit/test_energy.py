"""Synaptic operations and energy (eegsnn.evaluate.energy) against hand-computed counts."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401
from eegsnn.encode import EEGEncoder
from eegsnn.errors import ConfigError
from eegsnn.evaluate.energy import (
    E_AC_PJ,
    E_MAC_PJ,
    combine,
    describe,
    describe_encoder,
    encoder_ops,
    format_energy,
    reservoir_synops,
    synops,
    window_synops,
)
from eegsnn.model import build_model
from eegsnn.nn.reservoir import Reservoir


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
    assert first == pytest.approx({"layer": 0, "type": "linear", "input": "spikes",
                                   "input_values": "binary", "input_max": 1.0, "ac": 6.0,
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


def test_count_code_input_is_macs_and_said_so_next_to_the_number():
    # the delta code's bins hold event counts: layer 0 is "analog" (NeuroBench) -> MACs
    x = np.array([[[2, 0, 1]], [[0, 0, 3]]], np.float32)
    rep = synops(_mlp(), x)
    first = rep["per_layer"][0]
    assert first["input_values"] == "counts" and first["input_max"] == 3.0
    assert first["mac"] == 6.0 and first["ac"] == 0.0  # 3 non-zero inputs x fan-out 2
    share = 6 * E_MAC_PJ / rep["energy_pj"]
    assert rep["notes"] == [f"layer 0: its input is spike counts (0-3 per step), counted as "
                            f"MACs per NeuroBench ({100 * share:.0f} % of the energy)"]
    assert rep["notes"][0] in describe(rep)
    # real-valued current is analog too, but no count note
    rep = synops(_mlp(), np.array([[[0.5, 0, 1.5]]], np.float32))
    assert rep["per_layer"][0]["input_values"] == "real" and rep["notes"] == []


def test_energy_reads_with_si_prefixes():
    assert format_energy(229.4) == "229 pJ"
    assert format_energy(999.6) == "1 nJ"
    assert format_energy(12_345.0) == "12.3 nJ"
    assert format_energy(2.3e6) == "2.3 uJ" and format_energy(2.3e6, micro="µ") == "2.3 µJ"
    assert format_energy(4.2e9) == "4.2 mJ" and format_energy(0.5) == "0.5 pJ"
    rep = synops(_mlp(), np.array([[[1, 0, 1]], [[0, 0, 1]]], np.float32))
    assert "= 9 pJ per prediction" in describe(rep)  # 10 ACs x 0.9 pJ
    assert "uJ" not in describe(rep)


def _tiny_reservoir(delays: int = 1) -> Reservoir:
    """3 excitatory LIF neurons, 2 input lines: W_in fan-out [2, 1] (3 synapses), recurrent
    synapses 0->1, 0->2, 1->0 (fan-out [2, 1, 0])."""
    w = np.zeros((3, 3))
    w[1, 0] = w[2, 0] = w[0, 1] = 0.1  # [post, pre]
    res = Reservoir(2, 3, topology={"kind": "adjacency", "weights": w,
                                    "excitatory": np.ones(3, bool)},
                    frac_excitatory=1.0, frac_inhibitory=0.0, spectral_radius=None,
                    delays=delays, neuron={"type": "leaky", "beta": 0.0, "threshold": 1.0})
    res.w_in = mx.array(np.array([[2, 0], [2, 2], [0, 0]], np.float32))
    return res


def test_reservoir_counts_by_hand():
    res = _tiny_reservoir()
    x = np.array([[[1, 0]], [[0, 1]], [[1, 1]]], np.float32)  # [T=3, B=1, 2]
    s = np.asarray(res(mx.array(x))[0])[:, 0]
    assert s[:2].sum() > 0  # spikes the recurrent weights carry
    rep = reservoir_synops(res, x, n_classes=2)
    inp, rec, readout = rep["per_layer"]
    # input: line 0 active at t0, t2 (fan-out 2), line 1 at t1, t2 (fan-out 1): 6 ACs;
    # dense: 3 steps x 3 input synapses
    assert (inp["type"], inp["input"], inp["ac"], inp["mac"], inp["dense_mac"]) == \
        ("reservoir.input", "spikes", 6.0, 0.0, 9.0)
    # recurrent: spikes of steps 0..T-2 times the fan-out [2, 1, 0]; dense: 2 steps x 3
    fan = np.array([2.0, 1.0, 0.0])
    assert rec["ac"] == pytest.approx(float((s[:-1] * fan).sum()))
    assert rec["dense_mac"] == 6.0
    # readout: counts in one bin (D = 3) -> non-zero features x K = 2 MACs; dense 3 x 2
    counts = s.sum(axis=0)
    assert readout["mac"] == pytest.approx(2 * float((counts != 0).sum()))
    assert readout["dense_mac"] == 6.0 and readout["input_values"] == "counts"
    assert rep["per_prediction_ac"] == pytest.approx(6 + rec["ac"])
    assert rep["energy_pj"] == pytest.approx((6 + rec["ac"]) * E_AC_PJ
                                             + readout["mac"] * E_MAC_PJ)
    assert rep["ann_equivalent_mac"] == 21.0 and rep["neuron_updates"] == 9.0
    assert rep["notes"] == []  # the readout reads counts by design: no note


def test_reservoir_delays_and_count_input():
    res = _tiny_reservoir(delays=2)
    x = np.array([[[3, 0]], [[0, 1]], [[1, 2]], [[1, 0]]], np.float32)  # counts, T=4
    s = np.asarray(res(mx.array(x))[0])[:, 0]
    rep = reservoir_synops(res, x, n_classes=2, features={"kind": "counts", "bins": 2})
    inp, rec, readout = rep["per_layer"]
    # counts are analog: MACs, 5 non-zero inputs: line 0 x3 (fan 2), line 1 x2 (fan 1)
    assert inp["input"] == "analog" and inp["mac"] == 8.0 and inp["ac"] == 0.0
    # delay 2: spikes of steps 0..T-3 reach a synapse within the window
    assert rec["ac"] == pytest.approx(float((s[:-2] * np.array([2.0, 1, 0])).sum()))
    assert rec["dense_mac"] == 2 * 3
    assert readout["dense_mac"] == 2 * 3 * 2  # D = bins x N = 6, K = 2
    assert rep["notes"][0].startswith("input projection W_in: its input is spike counts "
                                      "(0-3 per step)")


def test_window_synops_takes_an_lsm_and_bad_input_is_refused():
    res = _tiny_reservoir()

    class Lsm:  # the LSMModel attributes the count reads
        reservoir, n_classes, spec = res, 2, {"features": {"kind": "counts", "bins": 1}}

    class Pipeline:
        lsm = Lsm()

    x = (np.random.default_rng(3).random((5, 4, 2)) < 0.5).astype(np.float32)
    rep = window_synops(Pipeline(), x, np.array([1, 3]))
    assert rep is not None and rep["windows_counted"] == 2
    direct = reservoir_synops(res, x[:, [1, 3]], n_classes=2)
    assert rep["per_layer"] == direct["per_layer"]
    assert rep["energy_pj"] == pytest.approx(direct["energy_pj"])
    assert window_synops(object(), x) is None
    with pytest.raises(ConfigError, match=r"expected input \[T, B, 2\]"):
        reservoir_synops(res, np.zeros((4, 2, 3), np.float32), n_classes=2)


def _two_class_windows(c: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, c, n))
    y = np.repeat([0, 1], 6)
    X[y == 1, 0] *= 3.0  # class 1: more variance on channel 0
    return X, y


def test_csp_front_end_counts_by_hand():
    X, y = _two_class_windows(5, 64)
    enc = EEGEncoder("direct", polarity="on_off", num_steps=16,
                     spatial_filter={"type": "csp", "n_components": 2}).fit(X, y)
    front = encoder_ops(enc, 64)
    assert front is not None
    csp, zscore = front["stages"]
    # 5 channels -> 2 components, 1 band, 64 samples: 5 MACs per output sample
    assert csp["stage"] == "spatial filter (csp)" and csp["mac"] == 2 * 5 * 64
    # direct current: (x - mean) x gain / std, one MAC per source and sample, summed
    # into the time bins: one AC each
    assert zscore["mac"] == 2 * 64 and zscore["ac"] == 2 * 64
    assert front["per_prediction_mac"] == 640 + 128 and front["per_prediction_ac"] == 128
    assert front["energy_pj"] == pytest.approx(768 * E_MAC_PJ + 128 * E_AC_PJ)
    assert encoder_ops(enc.to_config(), 64) == front  # encoder.json gives the same
    assert encoder_ops(EEGEncoder("direct"), 64) is None  # not fitted


def test_gain_copies_count_one_mac_per_source_gain_and_step():
    X, y = _two_class_windows(5, 64)
    enc = EEGEncoder("direct", polarity="on_off", num_steps=16, gain=[0.5, 1.0, 2.0],
                     spatial_filter={"type": "csp", "n_components": 2}).fit(X, y)
    front = encoder_ops(enc, 64)
    csp, zscore, copies = front["stages"]
    assert copies["stage"] == "gain copies (direct current)"
    assert copies["mac"] == 2 * 3 * 16 and copies["ac"] == 0.0  # sources x gains x steps
    assert front["per_prediction_mac"] == csp["mac"] + zscore["mac"] + 96
    assert encoder_ops(enc.to_config(), 64) == front


def test_filter_bank_front_end_and_totals():
    X, _ = _two_class_windows(3, 320)
    enc = EEGEncoder("delta", bands=[("mu", 8, 13), ("beta", 13, 30)], sfreq_hz=160.0,
                     filter_order=4, num_steps=40).fit(X)
    front = encoder_ops(enc, 320)
    bank, zscore = front["stages"]
    # sosfiltfilt: 2 passes x 4 sections x 5 multiply-adds per sample, 3 channels x 2 bands
    assert bank["mac"] == 3 * 2 * 320 * 40
    assert zscore["mac"] == 3 * 2 * 320 and zscore["ac"] == 0.0  # spike code: no bin mean
    spikes = enc.transform(X)
    net = build_model({"input_shape": [int(spikes.shape[2])], "readout": "mean", "layers": [
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
    rep = window_synops(net, spikes, encoder=enc, n_samples=320)
    assert rep["encoder"]["energy_pj"] == pytest.approx(front["energy_pj"])
    assert rep["total_energy_pj"] == pytest.approx(rep["energy_pj"] + front["energy_pj"])
    assert rep["total_ann_energy_pj"] == pytest.approx(rep["ann_energy_pj"]
                                                       + front["energy_pj"])
    line = describe_encoder(rep)
    assert line is not None and "filter bank" in line and "not counted" in line
    pooled = combine([rep, rep])
    assert pooled["total_energy_pj"] == pytest.approx(rep["total_energy_pj"])
    assert describe_encoder(synops(net, spikes)) is None
