"""The model contract of the pipeline (one class per ``model.type``) and the one SNN fold
trainer shared by the pipeline and SNNClassifier: validation windows are split off before
oversampling, so no copy of a validation window is trained on."""

from __future__ import annotations

import inspect

import mlx.core as mx
import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.pipeline import MODEL_TYPES, PipelineModel, train_snn
from eegsnn.pipeline.models import model_class
from eegsnn.pipeline.snn import split_validation


def test_every_model_type_implements_the_contract():
    assert set(MODEL_TYPES) == {"snn", "lsm"}
    for name, cls in MODEL_TYPES.items():
        assert issubclass(cls, PipelineModel) and not inspect.isabstract(cls)
        assert cls.type == name and cls.files
    # a saved SNN model_config.json has no "type"; an LSM's says "lsm"
    assert model_class({"layers": []}) is MODEL_TYPES["snn"]
    assert model_class({"type": "lsm"}) is MODEL_TYPES["lsm"]
    with pytest.raises(ConfigError, match=r"model\.type"):
        model_class({"type": "gru"})


def test_validation_is_split_off_before_oversampling():
    rng = np.random.default_rng(0)
    y = np.array([0] * 24 + [1] * 6)
    spikes = (rng.random((6, y.size, 3)) < 0.3).astype(np.float32)
    out = train_snn({"hidden": [4]}, mx.array(spikes), y, 2,
                    {"epochs": 1, "batch_size": 64, "seed": 0}, balance="oversample",
                    val_fraction=0.3, val_seed=5)
    assert out.val_idx is not None and len(out.val_idx) == 9  # stratified: 7 + 2
    assert not set(out.val_idx.tolist()) & set(out.fit_idx.tolist())
    assert set(out.fit_idx.tolist()) == set(out.train_idx.tolist())
    assert np.bincount(y[out.fit_idx]).tolist() == [17, 17]
    assert out.batch_size == 34  # shrunk to the (balanced) training set
    assert len(out.history) == 1
    # groups keep windows of one group on one side
    groups = np.repeat(np.arange(10), 3).astype(str)
    tr, va = split_validation(np.arange(30), 0.3, 1, groups=groups)
    assert va is not None and not set(groups[tr]) & set(groups[va])
    assert split_validation(np.arange(30), 0.0, 1)[1] is None


@pytest.mark.parametrize("engine", ["auto", "mlx"])
def test_binary_spikes_train_packed_exactly_as_unpacked(engine):
    """train_snn hands binary spike trains to fit bit-packed (eegsnn.train.data): the trained
    weights are the ones fit gives on the same spikes as float32, bit for bit."""
    from mlx.utils import tree_flatten

    from eegsnn.pipeline.modelspec import build_model_config, default_loss
    from eegsnn.train import ArrayDataset, TrainConfig, fit

    rng = np.random.default_rng(0)
    spikes = mx.array((rng.random((30, 24, 20)) < 0.1).astype(np.float32))
    y = np.arange(24) % 2
    spec = {"hidden": [16]}
    train = {"epochs": 2, "batch_size": 8, "seed": 1, "engine": engine,
             "optimizer": {"type": "adam", "learning_rate": 1e-2}}
    got = train_snn(spec, spikes, y, 2, train)
    model_cfg = build_model_config(spec, 20, 2)
    cfg = TrainConfig.from_dict({**train, "loss": default_loss(model_cfg["readout"])})
    ref = fit(model_cfg, ArrayDataset(spikes, y, time_major=True), cfg, progress=False)
    a = dict(tree_flatten(got.model.parameters()))
    b = dict(tree_flatten(ref.model.parameters()))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(np.array(a[k]), np.array(b[k]))
