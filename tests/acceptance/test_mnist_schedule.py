"""The MNIST run's learning-rate schedule option (constant = published config, or cosine)."""

from __future__ import annotations

import itertools
import math

import mlx.core as mx
import pytest

from eegsnn.errors import ConfigError
from eegsnn.train.config import TrainConfig
from eegsnn.train.mnist import reference_train_config
from eegsnn.train.step import build_optimizer


def test_constant_schedule_is_the_published_configuration():
    config = reference_train_config(25, 0)
    assert "schedule" not in config
    assert config["optimizer"] == {"type": "adam", "learning_rate": 1e-3}


def test_cosine_schedule_decays_from_1e3_to_0_over_the_run():
    config = TrainConfig.from_dict(reference_train_config(2, 0, "cosine", steps_per_epoch=10))
    optimizer = build_optimizer(config.optimizer, config.schedule)
    params = {"w": mx.zeros((1,))}
    optimizer.init(params)
    rates = []
    for _ in range(21):
        rates.append(optimizer.learning_rate.item())
        optimizer.update(params, {"w": mx.ones((1,))})
    cosine = [0.5e-3 * (1 + math.cos(math.pi * k / 20)) for k in range(21)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(any(r == pytest.approx(c, abs=1e-9) for c in cosine) for r in rates)
    assert all(a >= b for a, b in itertools.pairwise(rates))
    assert rates[-1] < 0.05e-3  # decayed to (nearly) zero by the end of the run


def test_unknown_schedule_is_refused():
    with pytest.raises(ConfigError, match="--schedule"):
        reference_train_config(1, 0, "step")
