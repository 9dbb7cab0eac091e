"""Training-batch augmentation (cropped training, scaling, noise, channel dropout)."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.errors import ConfigError
from eegsnn.train import ArrayDataset, TrainConfig, fit
from eegsnn.train.augment import augment_batch, make_augment, validate_augment


def _ramp(num_steps: int = 20, batch: int = 5, lines: int = 3) -> mx.array:
    """x[t, b, l] = 1000 b + 10 l + t: every entry says where it came from."""
    t = np.arange(num_steps)[:, None, None]
    b = np.arange(batch)[None, :, None]
    lane = np.arange(lines)[None, None, :]
    return mx.array((1000 * b + 10 * lane + t).astype(np.float32))


def test_crops_are_contiguous_windows_of_each_sample():
    x = _ramp()
    out = np.asarray(augment_batch(x, mx.random.key(3), crop_steps=8))
    assert out.shape == (8, 5, 3)
    starts = out[0, :, 0] - 1000 * np.arange(5)
    assert np.all((starts >= 0) & (starts <= 12))
    expected = np.asarray(x)[starts[None, :].astype(int) + np.arange(8)[:, None],
                             np.arange(5)[None, :]]
    np.testing.assert_array_equal(out, expected)
    # a different key gives other crops, the same key the same ones
    again = np.asarray(augment_batch(x, mx.random.key(3), crop_steps=8))
    np.testing.assert_array_equal(out, again)
    starts_by_key = {tuple(np.asarray(augment_batch(x, mx.random.key(k), crop_steps=8))[0, :, 0])
                     for k in range(5)}
    assert len(starts_by_key) > 1


def test_scale_noise_and_channel_dropout():
    x = mx.ones((50, 4, 6))
    scaled = np.asarray(augment_batch(x, mx.random.key(0), scale=0.3))
    per_sample = scaled[:, :, 0]
    assert np.allclose(scaled, per_sample[:, :, None])  # one factor per sample
    assert np.allclose(per_sample, per_sample[0][None])  # ... over all steps
    assert np.all((per_sample[0] >= 0.7) & (per_sample[0] <= 1.3))
    assert np.ptp(per_sample[0]) > 0
    noisy = np.asarray(augment_batch(x, mx.random.key(0), noise=0.5)) - 1.0
    assert 0.4 < noisy.std() < 0.6 and abs(noisy.mean()) < 0.05
    dropped = np.asarray(augment_batch(mx.ones((50, 64, 6)), mx.random.key(0),
                                       channel_dropout=0.5))
    kept = dropped[0] != 0  # [B, L]: a line is dropped for all steps of a sample
    np.testing.assert_array_equal(dropped != 0, np.broadcast_to(kept, dropped.shape))
    assert np.allclose(dropped[:, kept], 2.0)  # rescaled by 1 / (1 - p)
    assert 0.35 < kept.mean() < 0.65


def test_validation():
    assert validate_augment(None) is None
    assert validate_augment({"noise": 0.0}) is None  # nothing on
    assert validate_augment({"crop_steps": 10}) == {"crop_steps": 10, "scale": 0.0,
                                                    "noise": 0.0, "channel_dropout": 0.0}
    for bad, match in (({"crop": 3}, "unknown option"), ({"crop_steps": 0}, "crop_steps"),
                       ({"scale": 1.5}, "scale"), ({"channel_dropout": 1.0}, "channel_drop")):
        with pytest.raises(ConfigError, match=match):
            validate_augment(bad)
    with pytest.raises(ConfigError, match="longer than the input"):
        augment_batch(mx.zeros((5, 2, 1)), mx.random.key(0), crop_steps=6)
    assert make_augment(None) is None


def test_fit_trains_on_crops_and_evaluates_whole_windows():
    """Cropped training through fit: the MLX step is used, the model learns a task whose
    evidence is spread over the window, and evaluation sees the full T."""
    rng = np.random.default_rng(0)
    n, num_steps = 64, 40
    y = np.repeat([0, 1], n // 2)
    x = rng.standard_normal((num_steps, n, 2)).astype(np.float32) * 0.3
    x[:, y == 1, 0] += 1.0
    x[:, y == 0, 1] += 1.0
    model = {"input_shape": [2], "layers": [
        {"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.9},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}], "readout": "mean"}
    config = TrainConfig(epochs=15, batch_size=16, loss={"type": "ce_membrane",
                                                         "reduce": "mean"},
                         augment={"crop_steps": 10, "noise": 0.1, "scale": 0.1},
                         optimizer={"type": "adam", "learning_rate": 1e-2})
    data = ArrayDataset(mx.array(x), y, time_major=True)
    result = fit(model, data, config, test=data)
    assert result.engine == "mlx"
    assert result.metrics["accuracy"] > 0.9
    assert config.to_dict()["augment"]["crop_steps"] == 10
