"""Training engine: losses vs NumPy, regulariser, encoder statistics, optimizer/clipping,
configs, a generic time-major training run, early stopping."""

from __future__ import annotations

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.model import build_model
from eegsnn.train import (
    ArrayDataset,
    TrainConfig,
    build_optimizer,
    ce_count,
    ce_membrane,
    epoch_order,
    fit,
    get_loss,
    make_train_step,
    mse_count,
    rate_encoder,
    rate_regularizer,
    split_indices,
    step_seed,
)


def _np_ce(logits, y):
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


RNG = np.random.default_rng(0)
MEM = RNG.normal(size=(6, 4, 3)).astype(np.float32)
SPK = (RNG.random((6, 4, 3)) < 0.4).astype(np.float32)
Y = np.array([0, 2, 1, 2])


def test_losses_match_numpy():
    m, s, y = mx.array(MEM), mx.array(SPK), mx.array(Y)
    assert float(ce_membrane(s, m, y, "final")) == pytest.approx(_np_ce(MEM[-1], Y), rel=1e-5)
    assert float(ce_membrane(s, m, y, "max")) == pytest.approx(_np_ce(MEM.max(0), Y), rel=1e-5)
    assert float(ce_count(s, m, y)) == pytest.approx(_np_ce(SPK.sum(0), Y), rel=1e-5)
    target = np.full((4, 3), 0.2 * 6)
    target[np.arange(4), Y] = 0.8 * 6
    assert float(mse_count(s, m, y)) == pytest.approx(((SPK.sum(0) - target) ** 2).mean(),
                                                       rel=1e-5)


def test_rate_regularizer_hand_values():
    # neuron rates over T*B = 4 slots: 0, 0.25, 1.0
    spikes = np.zeros((2, 2, 3), dtype=np.float32)
    spikes[0, 0, 1] = 1
    spikes[:, :, 2] = 1
    penalty = rate_regularizer([mx.array(spikes)], low=0.1, high=0.5)
    # silent: (0.1 - 0)^2 / 3; over-active: (1.0 - 0.5)^2 / 3
    assert float(penalty) == pytest.approx((0.01 + 0.25) / 3, rel=1e-5)
    assert float(rate_regularizer([mx.array(spikes)], low=0.0, high=1.0)) == 0.0


def test_get_loss_and_errors():
    _, readout = get_loss({"type": "ce_membrane", "reduce": "max"})
    assert readout == "max"
    assert get_loss("ce_count")[1] == "count"
    with pytest.raises(ConfigError, match="unknown loss 'hinge'"):
        get_loss({"type": "hinge"})
    with pytest.raises(ConfigError, match="unknown option"):
        get_loss({"type": "ce_count", "reduce": "max"})
    with pytest.raises(ConfigError, match="reduce"):
        get_loss({"type": "ce_membrane", "reduce": "median"})


def test_rate_encoder_statistics_and_reproducibility():
    enc = rate_encoder(200)
    pixels = mx.array(np.array([[0, 51, 128, 204, 255]], dtype=np.uint8))
    spikes = enc(pixels, mx.random.key(0))
    assert spikes.shape == (200, 1, 5) and spikes.dtype == mx.float32
    # wide batch for statistics: 200 steps x 400 samples per level
    wide = mx.array(np.repeat(np.array([[0, 51, 128, 204, 255]], dtype=np.uint8), 400, 0))
    rates = np.array(enc(wide, mx.random.key(1)).mean(axis=(0, 1)))
    p = np.array([0, 51, 128, 204, 255]) / 255
    n = 200 * 400
    assert rates[0] == 0.0 and rates[-1] == 1.0
    assert np.all(np.abs(rates - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
    assert mx.array_equal(enc(pixels, mx.random.key(0)), spikes)
    assert not mx.array_equal(enc(pixels, mx.random.key(5)), spikes)
    floats = rate_encoder(200)(mx.array([[0.0, 0.5, 1.0]]), mx.random.key(2))
    assert float(floats[:, 0, 0].sum()) == 0 and float(floats[:, 0, 2].sum()) == 200
    # samples at different time steps are independent: lag-1 correlation ~ 0
    s = np.array(enc(wide, mx.random.key(3)))[:, :, 2].astype(np.float64)
    corr = np.corrcoef(s[:-1].ravel(), s[1:].ravel())[0, 1]
    assert abs(corr) < 0.02


def test_orders_and_seeds_are_functions_of_their_arguments():
    np.testing.assert_array_equal(epoch_order(100, 3, 1), epoch_order(100, 3, 1))
    assert not np.array_equal(epoch_order(100, 3, 1), epoch_order(100, 3, 2))
    assert sorted(epoch_order(100, 3, 1)) == list(range(100))
    assert step_seed(0, 1, 2) == step_seed(0, 1, 2) != step_seed(0, 2, 1)
    labels = np.repeat(np.arange(4), 25)
    tr, va = split_indices(100, 0.2, 0, labels)
    assert len(va) == 20 and np.bincount(labels[va]).tolist() == [5, 5, 5, 5]
    assert not set(tr) & set(va)


def test_optimizer_schedule_and_errors():
    opt = build_optimizer({"type": "adam", "learning_rate": 0.1},
                          {"type": "cosine_decay", "decay_steps": 10})
    assert isinstance(opt, optim.Adam)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        build_optimizer({"type": "adamz"})
    with pytest.raises(ConfigError, match="unknown schedule"):
        build_optimizer({"type": "sgd"}, {"type": "warp"})
    with pytest.raises(ConfigError, match=r"optimizer 'sgd': unknown option\(s\) betas "
                                          r"\(known: dampening, learning_rate, momentum"):
        build_optimizer({"type": "sgd", "learning_rate": 0.1, "betas": [0.9]})
    with pytest.raises(ConfigError, match=r"schedule 'cosine_decay': unknown option\(s\) "
                                          r"decay_stpes \(known: decay_steps, end, init\)"):
        build_optimizer({"type": "adam"}, {"type": "cosine_decay", "decay_stpes": 10})
    with pytest.raises(ConfigError, match=r"schedule: give its type .* \['tpye'\]"):
        build_optimizer({"type": "adam"}, {"tpye": "cosine_decay"})
    with pytest.raises(ConfigError, match=r"weight_decay must be a number, got 'x'"):
        build_optimizer({"type": "adamw", "weight_decay": "x"})
    # caught with the config, before any data is read (it failed at the first step)
    with pytest.raises(ConfigError, match=r"train config: optimizer 'adam': unknown option"):
        TrainConfig.from_dict({"optimizer": {"type": "adam", "lr": 0.1}})
    with pytest.raises(ConfigError, match=r"learning_rate must be a number, got '1e-2' "
                                          r"\(str\); write it without quotes"):
        TrainConfig.from_dict({"optimizer": {"type": "adam", "learning_rate": "1e-2"}})


def test_train_config_validation():
    assert TrainConfig.from_dict({"epochs": 2}).epochs == 2
    for bad, message in [({"epochs": 0}, "epochs"), ({"bogus": 1}, "unknown key"),
                         ({"optimizer": {"type": "nope"}}, "unknown optimizer"),
                         ({"loss": {"type": "nope"}}, "unknown loss"),
                         ({"grad_clip": -1.0}, "grad_clip"),
                         ({"early_stopping": {"metric": "train_loss"}}, "metric"),
                         ({"regularizer": {"lo": 0.1}}, "regularizer")]:
        with pytest.raises(ConfigError, match=message):
            TrainConfig.from_dict(bad)


def _linear_cfg(n_in, n_out=2, hidden=16):
    return {"input_shape": [n_in], "layers": [
        {"type": "linear", "out_features": hidden},
        {"type": "leaky", "beta": 0.8, "surrogate": "fast_sigmoid"},
        {"type": "linear", "out_features": n_out},
        {"type": "leaky", "beta": 0.8, "reset_mechanism": "none"},
    ]}


def test_gradient_clipping_bounds_the_update():
    mx.random.seed(0)
    model = build_model(_linear_cfg(8))
    opt = optim.SGD(learning_rate=1.0)
    before = [np.array(v) for v in (model.layers[0].weight, model.layers[2].weight)]
    step = make_train_step(model, opt, get_loss("ce_membrane")[0], grad_clip=1e-3,
                           compile=False)
    x = mx.ones((5, 4, 8))
    step(x, mx.array([0, 1, 0, 1]), mx.random.key(0))
    after = [np.array(v) for v in (model.layers[0].weight, model.layers[2].weight)]
    # SGD lr=1: the update is minus the clipped gradient (global norm <= 1e-3)
    delta = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after, before, strict=True)))
    assert 0 < delta <= 1e-3 * (1 + 1e-4)


def _spike_task(n=256, t=10, features=12, seed=0):
    """Two classes of Poisson spike trains [T, N, F]: class 1 fires more on features 0-5."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    rate = np.full((n, features), 0.1)
    rate[y == 1, :6] = 0.5
    rate[y == 0, 6:] = 0.5
    x = (rng.random((t, n, features)) < rate[None]).astype(np.float32)
    return ArrayDataset(mx.array(x), y, time_major=True)


def test_fit_learns_time_major_spike_data_compiled_and_not(tmp_path):
    train, test = _spike_task(256, seed=0), _spike_task(128, seed=1)
    losses = {}
    for compiled in (True, False):
        result = fit(_linear_cfg(12), train, {"epochs": 3, "batch_size": 32, "seed": 1,
                                              "compile": compiled,
                                              "optimizer": {"type": "adam",
                                                            "learning_rate": 0.01}},
                     test=test, progress=False)
        assert result.metrics["accuracy"] > 0.9
        losses[compiled] = [h["train_loss"] for h in result.history]
        assert set(result.metrics["firing_rates"]) == {"layers.1.leaky", "layers.3.leaky"}
        assert "roc_auc" in result.metrics  # two classes
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_fit_writes_the_run_record(tmp_path):
    run = tmp_path / "run"
    fit(_linear_cfg(12), _spike_task(128), {"epochs": 2, "batch_size": 32,
                                            "val_fraction": 0.25,
                                            "regularizer": {"low": 0.01, "high": 0.5}},
        run_dir=run, progress=False)
    for name in ("config.json", "environment.json", "history.json", "train.log",
                 "metrics.json", "curves.png", "checkpoint/model.safetensors",
                 "checkpoint/optimizer.safetensors", "checkpoint/state.json"):
        assert (run / name).is_file(), name
    import json
    import os

    umask = os.umask(0)
    os.umask(umask)
    for name in ("metrics.json", "curves.png", "checkpoint/state.json"):
        assert (run / name).stat().st_mode & 0o777 == 0o666 & ~umask, name  # not 0600
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "val" and metrics["n_samples"] == 32
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "val_accuracy" in history[0]


def test_early_stopping_stops_when_nothing_improves():
    # learning rate 0: validation loss never improves after epoch 1
    result = fit(_linear_cfg(12), _spike_task(128),
                 {"epochs": 10, "batch_size": 32, "val_fraction": 0.25,
                  "optimizer": {"type": "sgd", "learning_rate": 0.0},
                  "early_stopping": {"patience": 2, "metric": "val_loss"}}, progress=False)
    assert result.stopped_early and len(result.history) == 3
    with pytest.raises(ConfigError, match="no validation set"):
        fit(_linear_cfg(12), _spike_task(64), {"epochs": 2, "batch_size": 32,
                                               "early_stopping": {"patience": 1}},
            progress=False)


def test_fit_input_errors():
    data = _spike_task(16)
    with pytest.raises(ConfigError, match="fewer than batch_size"):
        fit(_linear_cfg(12), data, {"batch_size": 32}, progress=False)
    with pytest.raises(ConfigError, match="labels"):
        ArrayDataset(mx.zeros((5, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ConfigError, match=r"expected \[T, B, 7\]"):
        fit(_linear_cfg(7), data, {"epochs": 1, "batch_size": 8}, progress=False)


def test_fit_refuses_data_the_model_cannot_take():
    """Checked before any step: a label beyond the model's outputs (it indexed past the
    logits: the process crashed with a double free, or trained on a loss of -1e28), [N, T,
    F] inputs without an encoder (a logits/targets shape error from MLX), NaN inputs (a NaN
    membrane never spikes: training went on without a sign)."""
    from eegsnn.errors import DataError

    model = {"input_shape": [3], "readout": "mean",
             "layers": [{"type": "linear", "out_features": 2},
                        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]}
    x = mx.ones((5, 8, 3))
    cfg = {"epochs": 1, "batch_size": 4}
    with pytest.raises(DataError, match=r"train data: label 2 is out of range for a model of "
                                        r"2 outputs \(labels 0 to 1\)"):
        fit(model, ArrayDataset(x, mx.array([0, 2] * 4), time_major=True), cfg)
    ok = ArrayDataset(x, mx.array([0, 1] * 4), time_major=True)
    with pytest.raises(DataError, match=r"val data: label 5"):
        fit(model, ok, cfg, val=ArrayDataset(x, mx.array([0, 5] * 4), time_major=True))
    with pytest.raises(ConfigError, match=r"train data: \[N, \.\.\.\] inputs \(time_major="
                                          r"False\) need an encoder="):
        fit(model, ArrayDataset(mx.ones((8, 5, 3)), mx.array([0, 1] * 4)), cfg)
    nan = mx.where(mx.arange(3) == 1, mx.nan, 1.0) * mx.ones((5, 8, 3))
    with pytest.raises(DataError, match=r"train data: the inputs hold NaN or infinite"):
        fit(model, ArrayDataset(nan, mx.array([0, 1] * 4), time_major=True), cfg)
    assert TrainConfig(seed=np.int64(3), epochs=np.int32(2)).seed == 3  # NumPy integers
    # ... nested too (a sweep over np.arange): patience np.int64(5) was refused
    swept = TrainConfig(early_stopping={"patience": np.int64(5)}, compile=np.bool_(False),
                        optimizer={"type": "adam", "learning_rate": np.float32(1e-3)})
    assert swept.early_stopping["patience"] == 5 and type(swept.compile) is bool
    assert type(swept.optimizer["learning_rate"]) is float
    with pytest.raises(ConfigError, match="epochs must be an integer"):
        TrainConfig(epochs=np.float64(3.0))
    # a tuple reads back from the checkpoint's JSON as a list: a resume of the same config
    # was refused ("a different train config (differs in ['optimizer'])")
    import json

    betas = TrainConfig(optimizer={"type": "adam", "learning_rate": 0.01,
                                   "betas": (0.9, np.float64(0.999))})
    assert betas.optimizer["betas"] == [0.9, 0.999]
    assert json.loads(json.dumps(betas.to_dict())) == betas.to_dict()
    with pytest.raises(ConfigError, match=r"learning_rate must be a finite number"):
        TrainConfig(optimizer={"type": "adam", "learning_rate": float("inf")})
