"""Checkpoints: a killed run resumes and ends exactly where an uninterrupted run ends;
checkpoints from another model/config are refused; corrupt files are clear errors."""

from __future__ import annotations

import json

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError, DataError
from eegsnn.model import build_model
from eegsnn.train import ArrayDataset, fit, load_checkpoint, rate_encoder, save_checkpoint

CFG = {"input_shape": [20], "layers": [
    {"type": "linear", "out_features": 12},
    {"type": "leaky", "beta": 0.85, "surrogate": {"type": "fast_sigmoid", "slope": 25}},
    {"type": "dropout", "p": 0.2},
    {"type": "linear", "out_features": 3},
    {"type": "leaky", "beta": 0.85, "reset_mechanism": "none"},
]}
TRAIN = {"epochs": 2, "batch_size": 16, "seed": 3,
         "optimizer": {"type": "adam", "learning_rate": 0.01}}


def _data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 96)
    x = (rng.random((96, 20)) * 0.3 + 0.5 * (np.arange(20)[None] % 3 == y[:, None]))
    return ArrayDataset(mx.array((x * 255).astype(np.uint8)), y)


def _weights(model):
    return {k: np.array(v) for k, v in tree_flatten(model.parameters())}


@pytest.mark.parametrize("engine", ["fused", "mlx"])
def test_killed_run_resumes_to_the_same_weights(tmp_path, engine, request):
    if engine == "fused":
        request.getfixturevalue("kernels")
    data, enc = _data(), rate_encoder(8)
    train = {**TRAIN, "engine": engine}
    full = fit(CFG, data, train, encoder=enc, run_dir=tmp_path / "full", progress=False)
    assert full.engine == engine
    # "killed" after epoch 1 (checkpoint written), then a fresh process-like call resumes
    part = fit(CFG, data, train, encoder=enc, run_dir=tmp_path / "part", progress=False,
               stop_after_epochs=1)
    assert len(part.history) == 1
    state = json.loads((tmp_path / "part" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1 and state["seed"] == 3 and state["model_config"]["layers"]
    mx.random.seed(12345)  # a resumed process starts with some other global RNG state
    resumed = fit(CFG, data, train, encoder=enc, run_dir=tmp_path / "part", progress=False)
    assert resumed.resumed_from_epoch == 1 and len(resumed.history) == 2
    w_full, w_res = _weights(full.model), _weights(resumed.model)
    assert w_full.keys() == w_res.keys()
    for name in w_full:
        np.testing.assert_allclose(w_res[name], w_full[name], rtol=0, atol=1e-6, err_msg=name)
    assert resumed.history[-1]["train_loss"] == pytest.approx(full.history[-1]["train_loss"],
                                                              abs=1e-6)
    # optimizer moments saved with the final checkpoint match too
    a = mx.load(str(tmp_path / "full" / "checkpoint" / "optimizer.safetensors"))
    b = mx.load(str(tmp_path / "part" / "checkpoint" / "optimizer.safetensors"))
    for name in a:
        np.testing.assert_allclose(np.array(b[name]), np.array(a[name]), atol=1e-6)


def test_resume_with_a_changed_train_config_is_refused(tmp_path):
    data = _data()
    fit(CFG, data, TRAIN, encoder=rate_encoder(8), run_dir=tmp_path, progress=False,
        stop_after_epochs=1)
    with pytest.raises(ConfigError, match="different train config"):
        fit(CFG, data, {**TRAIN, "batch_size": 8}, encoder=rate_encoder(8), run_dir=tmp_path,
            progress=False)


def test_checkpoint_round_trip_and_wrong_model(tmp_path):
    mx.random.seed(0)
    model = build_model(CFG)
    opt = optim.Adam(learning_rate=1e-3)
    opt.init(model.trainable_parameters())
    save_checkpoint(tmp_path / "ck", model, opt, {"epoch": 4})
    save_checkpoint(tmp_path / "ck", model, opt, {"epoch": 5})  # overwrite atomically
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp leftovers
    mx.random.seed(1)
    other = build_model(CFG)
    assert load_checkpoint(tmp_path / "ck", other)["epoch"] == 5
    for name, value in _weights(model).items():
        np.testing.assert_array_equal(_weights(other)[name], value)
    wider = {**CFG, "layers": [{"type": "linear", "out_features": 13}, *CFG["layers"][1:]]}
    with pytest.raises(ConfigError, match="different model config"):
        load_checkpoint(tmp_path / "ck", build_model(wider))


def test_corrupt_or_missing_checkpoint_files(tmp_path):
    model = build_model(CFG)
    with pytest.raises(DataError, match=r"state\.json"):
        load_checkpoint(tmp_path / "none", model)
    save_checkpoint(tmp_path / "ck", model)
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match=r"model\.safetensors"):
        load_checkpoint(tmp_path / "ck", model)
    (tmp_path / "ck" / "state.json").write_text("{broken")
    with pytest.raises(DataError, match="corrupt"):
        load_checkpoint(tmp_path / "ck", model)
    (tmp_path / "ck" / "state.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not an eegsnn checkpoint"):
        load_checkpoint(tmp_path / "ck", model)
