"""The fused CPU training step (eegsnn.train.fused) against the MLX step: same loss, same
gradients and same logits for the same spikes; engine selection and its record in a run."""

from __future__ import annotations

import json

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError
from eegsnn.kernels import rate_projection as rp
from eegsnn.model import build_model
from eegsnn.train import ArrayDataset, fit, rate_encoder
from eegsnn.train.fused import (
    FusedEvalStep,
    FusedTrainStep,
    fused_eligibility,
    select_engine,
)
from eegsnn.train.losses import get_loss
from eegsnn.train.step import make_eval_step, make_loss

pytestmark = pytest.mark.usefixtures("kernels")

NUM_STEPS = 10


def _config(reset="subtract", surrogate="fast_sigmoid", bias=True, out_reset="none"):
    return {"input_shape": [30], "layers": [
        {"type": "linear", "out_features": 24, "bias": bias},
        {"type": "leaky", "beta": 0.8, "threshold": 0.5, "reset_mechanism": reset,
         "surrogate": surrogate},
        {"type": "linear", "out_features": 16},
        {"type": "leaky", "beta": 0.9, "surrogate": "atan"},
        {"type": "linear", "out_features": 4},
        {"type": "leaky", "beta": 0.85, "reset_mechanism": out_reset},
    ], "readout": "final" if out_reset == "none" else "count"}


def _batch(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 30)).astype(np.uint8)
    x[:, :4] = 0
    x[:, 4:6] = 255
    return mx.array(x), mx.array(rng.integers(0, 4, n).astype(np.int32))


def _reference(model, loss_fn, regularizer, x, y, key):
    """The MLX step's loss and gradients on the spikes the kernels draw for ``key``."""
    spikes = rp.rate_spikes(rp.rate_thresholds(np.array(x)), rp.key_to_uint64(key), NUM_STEPS)
    value_and_grad = nn.value_and_grad(model, make_loss(loss_fn, regularizer))
    (loss, correct), grads = value_and_grad(model, mx.array(spikes.astype(np.float32)), y)
    return loss, correct, grads, spikes


CASES = [
    ({}, {"type": "ce_membrane", "reduce": "final"}, None),
    ({"reset": "zero", "surrogate": "sigmoid"}, {"type": "ce_membrane", "reduce": "max"},
     {"low": 0.05, "high": 0.3, "weight_low": 1.0, "weight_high": 1.0}),
    ({"bias": False, "surrogate": "triangular"}, {"type": "ce_membrane", "reduce": "final"},
     None),
    ({"reset": "none", "out_reset": "subtract"}, {"type": "ce_count"}, None),
    ({"out_reset": "subtract", "surrogate": "straight_through"}, {"type": "mse_count"},
     {"low": 0.1, "weight_low": 2.0}),
]


@pytest.mark.parametrize("options,loss,regularizer", CASES)
@pytest.mark.parametrize("compile", [True, False])
def test_fused_gradients_equal_the_mlx_step_on_the_same_spikes(options, loss, regularizer,
                                                               compile):
    mx.random.seed(1)
    model = build_model(_config(**options))
    loss_fn, _ = get_loss(loss)
    prefix, reason = fused_eligibility(model, rate_encoder(NUM_STEPS))
    assert prefix is not None, reason
    step = FusedTrainStep(model, optim.Adam(learning_rate=1e-3), loss_fn, prefix,
                          regularizer=regularizer, compile=compile)
    x, y = _batch()
    key = mx.random.key(5)
    loss_f, correct_f, grads_f = step.loss_and_grads(x, y, key)
    loss_r, correct_r, grads_r, spikes = _reference(model, loss_fn, regularizer, x, y, key)
    assert 0.02 < spikes.mean() < 0.98
    assert float(loss_f) == pytest.approx(float(loss_r), rel=1e-5, abs=1e-6)
    assert int(correct_f) == int(correct_r)
    flat_f, flat_r = dict(tree_flatten(grads_f)), dict(tree_flatten(grads_r))
    assert flat_f.keys() == flat_r.keys()
    for name, g_ref in flat_r.items():
        g_ref = np.array(g_ref)
        scale = max(float(np.abs(g_ref).max()), 1e-6)
        np.testing.assert_allclose(np.array(flat_f[name]), g_ref, rtol=1e-4,
                                   atol=1e-5 * scale, err_msg=name)
    assert float(np.abs(np.array(flat_f["layers.0.weight"])).max()) > 0


def test_fused_step_updates_like_the_optimizer_and_eval_matches():
    mx.random.seed(2)
    model = build_model(_config())
    loss_fn, _ = get_loss({"type": "ce_membrane", "reduce": "final"})
    prefix, _ = fused_eligibility(model, rate_encoder(NUM_STEPS))
    x, y = _batch(3)
    key = mx.random.key(9)
    # one fused SGD step moves every parameter by -lr * its gradient
    step = FusedTrainStep(model, optim.SGD(learning_rate=0.1), loss_fn, prefix)
    before = {k: np.array(v) for k, v in tree_flatten(model.trainable_parameters())}
    _, _, grads = step.loss_and_grads(x, y, key)
    grads = {k: np.array(v) for k, v in tree_flatten(grads)}
    step(x, y, key)
    after = {k: np.array(v) for k, v in tree_flatten(model.trainable_parameters())}
    for name in before:
        np.testing.assert_allclose(after[name], before[name] - 0.1 * grads[name], atol=1e-6)
    # evaluation: logits of the fused forward equal the MLX model on the same spikes
    model.eval()
    loss_e, logits, rates = FusedEvalStep(model, loss_fn, prefix)(x, y, key)
    spikes = rp.rate_spikes(rp.rate_thresholds(np.array(x)), rp.key_to_uint64(key), NUM_STEPS)
    out = model(mx.array(spikes.astype(np.float32)))
    np.testing.assert_allclose(np.array(logits), np.array(out["logits"]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(rates),
                               [float(s.mean()) for s in out["layer_spikes"]], atol=1e-6)
    ref_loss, _, _ = make_eval_step(model, loss_fn)(mx.array(spikes.astype(np.float32)), y,
                                                    key)
    assert float(loss_e) == pytest.approx(float(ref_loss), rel=1e-5)


def test_fused_step_rejects_a_batch_of_the_wrong_width():
    model = build_model(_config())
    loss_fn, _ = get_loss("ce_count")
    prefix, _ = fused_eligibility(model, rate_encoder(NUM_STEPS))
    step = FusedTrainStep(model, optim.Adam(learning_rate=1e-3), loss_fn, prefix)
    with pytest.raises(ConfigError, match=r"expected \[B, 30\]"):
        step(mx.zeros((4, 31), dtype=mx.uint8), mx.zeros((4,), dtype=mx.int32),
             mx.random.key(0))


@pytest.mark.parametrize("change,reason", [
    (lambda c: c["layers"].insert(1, {"type": "dropout", "p": 0.1}), "linear -> leaky"),
    (lambda c: c["layers"][1].update(learn_beta=True), "learnable"),
    (lambda c: c["layers"][1].update(type="synaptic", alpha=0.9), "linear -> leaky"),
    (lambda c: c["layers"][1].update(reset_delay=False), "delayed"),
    (lambda c: c.update(layers=c["layers"][:2], readout="count"), "followed by more"),
])
def test_ineligible_models_fall_back_to_mlx_with_a_reason(change, reason):
    config = _config()
    change(config)
    model = build_model(config)
    prefix, why = fused_eligibility(model, rate_encoder(NUM_STEPS))
    assert prefix is None and reason in why
    assert select_engine("auto", model, rate_encoder(NUM_STEPS))[:2] == ("mlx", why)
    with pytest.raises(ConfigError, match="engine 'fused' cannot train"):
        select_engine("fused", model, rate_encoder(NUM_STEPS))


def test_frozen_or_half_precision_first_layer_is_not_eligible():
    model = build_model(_config())
    model.layers[0].freeze()
    assert "frozen" in fused_eligibility(model, rate_encoder(NUM_STEPS))[1]
    model = build_model(_config())
    model.layers[0].set_dtype(mx.float16)
    assert "float32" in fused_eligibility(model, rate_encoder(NUM_STEPS))[1]


def test_fused_step_accepts_bfloat16_and_float_input_like_the_encoder():
    mx.random.seed(4)
    model = build_model(_config())
    loss_fn, _ = get_loss("ce_count")
    prefix, _ = fused_eligibility(model, rate_encoder(NUM_STEPS))
    step = FusedTrainStep(model, optim.SGD(learning_rate=0.0), loss_fn, prefix)
    x8, y = _batch(6)
    as_float = mx.array(np.array(x8).astype(np.float32) / 255.0)
    key = mx.random.key(1)
    loss_f32, _, _ = step.loss_and_grads(as_float, y, key)
    loss_bf16, _, _ = step.loss_and_grads(as_float.astype(mx.bfloat16), y, key)
    assert np.isfinite(float(loss_f32)) and np.isfinite(float(loss_bf16))


def test_engine_selection_rules():
    model = build_model(_config())
    enc = rate_encoder(NUM_STEPS)
    assert select_engine("auto", model, enc)[0] == "fused"
    assert select_engine("mlx", model, enc)[:2] == ("mlx", "requested")
    engine, _, prefix = select_engine("auto", model, None)  # spike trains given
    assert engine == "fused" and prefix.input == "spikes"
    assert "data-parallel" in select_engine("auto", model, enc, distributed=True)[1]
    assert "not rate-coded" in fused_eligibility(model, lambda x, k: x)[1]
    with pytest.raises(ConfigError, match="engine must be one of"):
        select_engine("fast", model, enc)


def _dataset():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 160)
    x = rng.random((160, 30)) * 0.3 + 0.6 * (np.arange(30)[None] % 4 == y[:, None])
    return ArrayDataset(mx.array((x * 255).astype(np.uint8)), y)


@pytest.mark.parametrize("engine", ["fused", "mlx"])
def test_fit_records_the_engine_and_both_learn(tmp_path, engine):
    data = _dataset()
    train = {"epochs": 4, "batch_size": 16, "seed": 0, "engine": engine,
             "optimizer": {"type": "adam", "learning_rate": 0.01}}
    result = fit(_config(), data, train, test=data, encoder=rate_encoder(NUM_STEPS),
                 run_dir=tmp_path, progress=False)
    assert result.engine == engine
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["engine"]["name"] == engine and record["train"]["engine"] == engine
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["engine"] == engine
    assert metrics["accuracy"] > 0.8  # chance is 0.25


def test_fit_with_engine_fused_on_an_ineligible_setup_is_a_config_error():
    data = ArrayDataset(mx.zeros((NUM_STEPS, 32, 30)), np.zeros(32, np.int64), time_major=True)
    config = _config()
    config["layers"][1]["learn_beta"] = True
    with pytest.raises(ConfigError, match="engine 'fused'"):
        fit(config, data, {"epochs": 1, "batch_size": 16, "engine": "fused"},
            progress=False)


# -- given spike trains (the EEG pipelines): event-driven projection, every hidden pair ------

def _spike_batch(seed=0, n=12, density=0.05, num_steps=NUM_STEPS):
    rng = np.random.default_rng(seed)
    x = (rng.random((num_steps, n, 30)) < density).astype(np.float32)
    x[:, :, :3] = (rng.random((num_steps, n, 3)) < 0.6)  # a few busy lines: hidden spikes
    return mx.array(x), mx.array(rng.integers(0, 4, n).astype(np.int32))


def test_every_hidden_linear_leaky_pair_joins_the_prefix():
    prefix, _ = fused_eligibility(build_model(_config()), None)
    assert prefix.input == "spikes" and prefix.start == 4  # two pairs, the output pair in MLX
    assert [layer.hidden for layer in prefix.layers] == [24, 16]
    config = _config()
    config["layers"][3]["learn_beta"] = True  # the second pair stays in MLX
    assert fused_eligibility(build_model(config), None)[0].start == 2


@pytest.mark.parametrize("options,loss,regularizer", CASES)
@pytest.mark.parametrize("dense", [False, True])
def test_fused_step_on_spike_trains_equals_the_mlx_step(options, loss, regularizer, dense):
    """Same spikes in both engines: loss, correct count and every gradient to float
    rounding; ``dense``: current-valued input, projected by MLX's dense product."""
    mx.random.seed(1)
    model = build_model(_config(**options))
    loss_fn, _ = get_loss(loss)
    prefix, reason = fused_eligibility(model, None)
    assert prefix is not None, reason
    x, y = _spike_batch()
    if dense:
        x = x * 0.5 + mx.array(np.random.default_rng(1).random(x.shape).astype(np.float32))
    step = FusedTrainStep(model, optim.Adam(learning_rate=1e-3), loss_fn, prefix,
                          regularizer=regularizer)
    loss_f, correct_f, grads_f = step.loss_and_grads(x, y, mx.random.key(0))
    value_and_grad = nn.value_and_grad(model, make_loss(loss_fn, regularizer))
    (loss_r, correct_r), grads_r = value_and_grad(model, x, y)
    assert float(loss_f) == pytest.approx(float(loss_r), rel=1e-5, abs=1e-6)
    assert int(correct_f) == int(correct_r)
    flat_f, flat_r = dict(tree_flatten(grads_f)), dict(tree_flatten(grads_r))
    assert flat_f.keys() == flat_r.keys()
    for name, g_ref in flat_r.items():
        g_ref = np.array(g_ref)
        scale = max(float(np.abs(g_ref).max()), 1e-6)
        np.testing.assert_allclose(np.array(flat_f[name]), g_ref, rtol=1e-4,
                                   atol=1e-5 * scale, err_msg=name)
    assert float(np.abs(np.array(flat_f["layers.2.weight"])).max()) > 0
    # evaluation: logits and layer rates of the fused forward equal the MLX model's
    model.eval()
    _, logits, rates = FusedEvalStep(model, loss_fn, prefix)(x, y, mx.random.key(0))
    out = model(x)
    np.testing.assert_allclose(np.array(logits), np.array(out["logits"]), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(np.array(rates), [float(s.mean()) for s in out["layer_spikes"]],
                               atol=1e-6)


def test_fused_spike_step_is_independent_of_the_thread_count():
    from eegsnn.kernels import get_num_threads, set_num_threads

    x, y = _spike_batch(3, n=20, density=0.2)
    results = []
    before = get_num_threads()
    try:
        for threads in (1, 3):
            set_num_threads(threads)
            mx.random.seed(4)
            model = build_model(_config())
            loss_fn, _ = get_loss("ce_count")
            prefix, _ = fused_eligibility(model, None)
            step = FusedTrainStep(model, optim.Adam(learning_rate=1e-3), loss_fn, prefix)
            _, _, grads = step.loss_and_grads(x, y, mx.random.key(0))
            results.append({k: np.array(v) for k, v in tree_flatten(grads)
                            if k.startswith(("layers.0.", "layers.2."))})
    finally:
        set_num_threads(before)
    assert results[0].keys() == results[1].keys() and len(results[0]) == 4
    for name in results[0]:
        np.testing.assert_array_equal(results[0][name], results[1][name], err_msg=name)


def test_fused_spike_step_rejects_a_batch_of_the_wrong_width():
    model = build_model(_config())
    loss_fn, _ = get_loss("ce_count")
    prefix, _ = fused_eligibility(model, None)
    step = FusedTrainStep(model, optim.Adam(learning_rate=1e-3), loss_fn, prefix)
    with pytest.raises(ConfigError, match=r"expected \[T, B, 30\]"):
        step(mx.zeros((4, 2, 31)), mx.zeros((2,), dtype=mx.int32), mx.random.key(0))


def test_fit_on_spike_trains_picks_the_fused_step_and_matches_the_mlx_step(tmp_path):
    """Given spike trains: both engines see the same spikes, so a short run gives the same
    losses and accuracy to float rounding."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 96)
    rate = 0.03 + 0.3 * (np.arange(30)[None] % 4 == y[:, None])
    x = (rng.random((NUM_STEPS, 96, 30)) < rate[None]).astype(np.float32)
    data = ArrayDataset(mx.array(x), y, time_major=True)
    train = {"epochs": 3, "batch_size": 16, "seed": 0,
             "optimizer": {"type": "adam", "learning_rate": 0.01}}
    runs = {}
    for engine in ("auto", "mlx"):
        result = fit(_config(), data, {**train, "engine": engine}, test=data,
                     run_dir=tmp_path / engine, progress=False)
        runs[engine] = result
    assert runs["auto"].engine == "fused" and runs["mlx"].engine == "mlx"
    record = json.loads((tmp_path / "auto" / "config.json").read_text())
    assert record["engine"] == {"name": "fused", "reason": "eligible"}
    for fused_epoch, mlx_epoch in zip(runs["auto"].history, runs["mlx"].history, strict=True):
        assert fused_epoch["train_loss"] == pytest.approx(mlx_epoch["train_loss"], rel=1e-3)
    metrics = [json.loads((tmp_path / e / "metrics.json").read_text()) for e in runs]
    assert metrics[0]["accuracy"] == metrics[1]["accuracy"] > 0.5


def test_evaluate_runs_given_spike_trains_on_the_kernels_with_the_mlx_numbers(monkeypatch):
    from eegsnn.train import fused
    from eegsnn.train.loop import evaluate

    mx.random.seed(3)
    model = build_model(_config())
    x, y = _spike_batch(4, n=40)
    data = ArrayDataset(x, np.array(y), time_major=True)
    calls = []
    forward = fused._Prefix.forward
    monkeypatch.setattr(fused._Prefix, "forward",
                        lambda self, *a: calls.append(1) or forward(self, *a))
    res = evaluate(model, data, loss="ce_count", batch_size=16)
    assert len(calls) == 3  # 40 windows in batches of 16: all on the kernels
    ref = evaluate(model, data, loss="ce_count", batch_size=16,
                   eval_fn=make_eval_step(model, get_loss("ce_count")[0]))
    np.testing.assert_allclose(res.logits, ref.logits, rtol=1e-5, atol=1e-5)
    assert res.layer_rates.keys() == ref.layer_rates.keys()
    for name, rate in ref.layer_rates.items():
        assert res.layer_rates[name] == pytest.approx(rate, abs=1e-6)


# -- spike datasets held bit-packed (ArrayDataset(packed=True)) ---------------------------

def test_packed_dataset_round_trips_and_rejects_non_binary_input():
    from eegsnn.train.data import is_packed_batch, unpack_spikes

    x, y = _spike_batch(5, n=10)
    data = ArrayDataset(x, np.array(y), time_major=True, packed=True)
    assert data.features == 30 and data.inputs.dtype == mx.uint8
    assert data.inputs.shape == (NUM_STEPS, 10, 4)  # ceil(30 / 8) bytes per step
    bx, by = data.batch(mx.array([3, 1, 7]))
    assert is_packed_batch(bx, 30) and not is_packed_batch(x, 30)
    np.testing.assert_array_equal(np.array(unpack_spikes(bx, 30)), np.array(x)[:, [3, 1, 7]])
    np.testing.assert_array_equal(np.array(by), np.array(y)[[3, 1, 7]])
    sub = data.subset(np.array([2, 4]))
    assert sub.packed and sub.features == 30
    np.testing.assert_array_equal(np.array(unpack_spikes(sub.inputs, 30)),
                                  np.array(x)[:, [2, 4]])
    with pytest.raises(ConfigError, match="binary"):
        ArrayDataset(x * 0.5, np.array(y), time_major=True, packed=True)
    with pytest.raises(ConfigError, match="time-major"):
        ArrayDataset(x[0], np.array(y), packed=True)


@pytest.mark.parametrize("engine", ["auto", "mlx"])
def test_fit_on_a_packed_dataset_equals_fit_on_the_float_spikes(tmp_path, engine):
    """Packed batches: the fused step indexes the bits directly, the MLX step unpacks them
    inside the step; either way the same run as on the float32 spikes, to the bit."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 48)
    rate = 0.03 + 0.3 * (np.arange(30)[None] % 4 == y[:, None])
    x = mx.array((rng.random((NUM_STEPS, 48, 30)) < rate[None]).astype(np.float32))
    train = {"epochs": 2, "batch_size": 16, "seed": 0, "engine": engine,
             "optimizer": {"type": "adam", "learning_rate": 0.01}}
    runs = []
    for packed in (False, True):
        data = ArrayDataset(x, y, time_major=True, packed=packed)
        runs.append(fit(_config(), data, train, test=data, run_dir=tmp_path / str(packed),
                        progress=False))
    assert runs[0].engine == runs[1].engine == ("fused" if engine == "auto" else "mlx")
    assert [e["train_loss"] for e in runs[0].history] == \
        [e["train_loss"] for e in runs[1].history]
    for (name, a), (_, b) in zip(tree_flatten(runs[0].model.parameters()),
                                 tree_flatten(runs[1].model.parameters()), strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=name)


def test_fused_step_on_a_dense_packed_batch_takes_the_dense_product():
    """A packed batch denser than DENSE_FRACTION is unpacked and projected by MLX: same
    gradients as the float batch."""
    mx.random.seed(2)
    model = build_model(_config())
    prefix, _ = fused_eligibility(model, None)
    x, _ = _spike_batch(6, density=0.6)
    from eegsnn.train.data import pack_spikes

    loss_fn = get_loss("ce_count")[0]
    step = FusedTrainStep(model, optim.Adam(learning_rate=0.0), loss_fn, prefix)
    y = mx.array(np.arange(12) % 4)
    got = [step.loss_and_grads(v, y, mx.random.key(0)) for v in (x, pack_spikes(x))]
    assert float(got[0][0]) == float(got[1][0])
    for (_, a), (_, b) in zip(tree_flatten(got[0][2]), tree_flatten(got[1][2]), strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_packed_shard_batches_are_the_float_batches_bit_packed(tmp_path):
    """ShardedSpikes(packed_batches=True) yields the same spikes, packed along the lines,
    and a fused step on them gives the float batch's loss and gradients to the bit."""
    from eegsnn.encode.shards import ShardedSpikes, ShardWriter
    from eegsnn.train.data import is_packed_batch, unpack_spikes

    x, y = _spike_batch(8, n=20)
    with ShardWriter(tmp_path / "s", shard_windows=8) as writer:
        writer.append(np.array(x), np.array(y))
    plain = list(ShardedSpikes(tmp_path / "s").iter_batches(6, epoch=1, seed=3))
    packed = list(ShardedSpikes(tmp_path / "s", packed_batches=True).iter_batches(
        6, epoch=1, seed=3))
    assert len(plain) == len(packed) == 4
    for (xf, yf, nf), (xp, yp, np_) in zip(plain, packed, strict=True):
        assert is_packed_batch(xp, 30) and xf.dtype == mx.float32 and nf == np_
        np.testing.assert_array_equal(np.array(unpack_spikes(xp, 30)), np.array(xf))
        np.testing.assert_array_equal(np.array(yf), np.array(yp))
    mx.random.seed(2)
    model = build_model(_config())
    step = FusedTrainStep(model, optim.Adam(learning_rate=0.0), get_loss("ce_count")[0],
                          fused_eligibility(model, None)[0])
    (xf, yf, _), (xp, yp, _) = plain[0], packed[0]
    got = [step.loss_and_grads(v, w, mx.random.key(0)) for v, w in ((xf, yf), (xp, yp))]
    assert float(got[0][0]) == float(got[1][0])
    for (_, a), (_, b) in zip(tree_flatten(got[0][2]), tree_flatten(got[1][2]), strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    with pytest.raises(ConfigError, match="packed_batches"):
        with ShardWriter(tmp_path / "one", shard_windows=8) as writer:
            writer.append(np.array(x)[..., :1], np.array(y))
        ShardedSpikes(tmp_path / "one", packed_batches=True)
