"""Reservoir analysis helpers: rates, activity warnings, separation, memory, raster plots."""

from __future__ import annotations

import warnings

import mlx.core as mx
import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.evaluate.reservoir import (
    check_activity,
    firing_rates,
    memory_capacity,
    rate_histogram,
    separation,
    state_distance,
)
from eegsnn.nn.reservoir import Reservoir
from eegsnn.visualization import raster_plot, rate_histogram_plot


def test_firing_rates_hand_computed():
    s = np.zeros((4, 2, 3), np.float32)
    s[:, 0, 0] = 1  # neuron 0 fires every step in trial 0 only -> 0.5
    s[0, :, 1] = 1  # neuron 1 fires once per trial -> 0.25
    np.testing.assert_allclose(firing_rates(s), [0.5, 0.25, 0.0])
    np.testing.assert_allclose(firing_rates(s, dt_s=0.001), [500.0, 250.0, 0.0])
    np.testing.assert_allclose(firing_rates(s[:, 0]), [1.0, 0.25, 0.0])  # [T, N] input
    counts, edges = rate_histogram([0.0, 0.1, 0.1, 0.9], bins=2, range=(0, 1))
    assert counts.tolist() == [3, 1] and edges.tolist() == [0.0, 0.5, 1.0]


def test_check_activity_bounds():
    quiet = np.zeros((200, 1, 10))
    quiet[0, 0, 0] = 1
    with pytest.warns(RuntimeWarning, match="silent"):
        assert check_activity(quiet) == pytest.approx(5e-4)
    with pytest.warns(RuntimeWarning, match="saturated"):
        check_activity(np.ones((10, 1, 10)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_activity(np.eye(10)[:, None, :]) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="low < high"):
        check_activity(np.ones((2, 1, 2)), low=0.6, high=0.5)


def test_separation_hand_computed():
    states = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    sep = separation(states, labels)
    assert sep["within"] == pytest.approx(1.0)
    assert sep["between"] == pytest.approx((3 + 3 + np.sqrt(10) * 2) / 4)
    assert sep["ratio"] == pytest.approx(sep["between"])
    with pytest.raises(ConfigError, match="two classes"):
        separation(states, np.zeros(4))


def test_state_distance_hand_computed():
    a = np.zeros((3, 2))
    b = np.zeros((3, 2))
    a[0, 0] = 1  # one extra spike at t=0 in neuron 0
    np.testing.assert_allclose(state_distance(a, b, decay=0.5), [1.0, 0.5, 0.25])
    assert state_distance(a[:, None], b[:, None]).shape == (3, 1)


class _DelayLine:
    """A fake reservoir whose state holds u[t], ..., u[t - L + 1] exactly."""

    n_inputs = 1

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, x):
        u = np.asarray(x)[:, 0, 0]
        t = u.size
        states = np.zeros((t, 1, self.length), np.float32)
        for k in range(self.length):
            states[k:, 0, k] = u[: t - k]
        return mx.array(states), None


def test_memory_capacity_of_a_delay_line_is_its_length():
    out = memory_capacity(_DelayLine(6), n_steps=1200, max_delay=12, alpha=1e-6)
    np.testing.assert_allclose(out["r2"][:6], 1.0, atol=1e-6)
    assert np.all(out["r2"][6:] < 0.05)
    assert out["capacity"] == pytest.approx(5.0, abs=0.25)  # k = 1..5 recalled


def test_memory_capacity_of_a_reservoir_is_bounded_and_positive():
    res = Reservoir(1, 100, input_gain=2.0, seed=0)
    out = memory_capacity(res, n_steps=1200, max_delay=8)
    assert 0.0 < out["r2"][0] <= 1.0  # the current input is decodable
    assert 0.0 < out["capacity"] < 100  # bounded by the number of neurons
    assert out["r2"][1] >= out["r2"][8]  # memory fades
    with pytest.raises(ConfigError, match="too short"):
        memory_capacity(res, n_steps=120, max_delay=30)


def test_raster_and_rate_plots_write_png(tmp_path):
    import matplotlib.image as mpimg

    res = Reservoir(2, 60, input_gain=2.0, seed=0)
    x = (np.random.default_rng(0).random((50, 2, 2)) < 0.3).astype(np.float32)
    spikes, _ = res(mx.array(x))
    path = tmp_path / "raster.png"
    fig = raster_plot(spikes, res.excitatory, trial=1, dt_s=0.004, path=path)
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert len(fig.axes[0].collections) == 2  # excitatory and inhibitory populations
    path2 = tmp_path / "rates.png"
    rate_histogram_plot(firing_rates(spikes), path=path2)
    assert mpimg.imread(path2).ndim == 3
    with pytest.raises(ConfigError, match="trial"):
        raster_plot(spikes, trial=5)
