r"""Analysis helpers for tuning reservoirs (liquid state machines).

* :func:`firing_rates`, :func:`rate_histogram` — per-neuron rates and their distribution.
* :func:`check_activity` / :func:`warn_activity` — warn when a reservoir is silent or
  saturated on the given input, and say which knob to turn (defined in
  :mod:`eegsnn.nn.activity`, below the reservoir that uses them; re-exported here).
* :func:`separation` — the separation property: mean distance between reservoir states of
  inputs from different classes versus the same class (Maass et al. 2002).
* :func:`state_distance` — time course of the distance between the liquid states driven by
  two inputs (exponentially filtered spike trains).
* :func:`memory_capacity` — fading memory: how well a linear (ridge) readout of the state at
  step ``t`` recovers the input ``u[t - k]``, summed over delays ``k`` (Jaeger 2001).
* The figures of this analysis (``raster_plot``, ``rate_histogram_plot``) are in
  :mod:`eegsnn.visualization.reservoir` (importable from :mod:`eegsnn.visualization`).
* :func:`delta_modulation` — the simple up/down delta code of the reservoir figure and its
  test (``scripts/plot_reservoir.py``); the library's EEG codes are in :mod:`eegsnn.encode`.

Spikes are time-major ``[T, B, N]`` (or ``[T, N]`` for a single trial), float 0/1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.nn.activity import as_spikes_tbn, check_activity, warn_activity
from eegsnn.nn.readout import RidgeReadout

__all__ = [
    "check_activity",
    "delta_modulation",
    "firing_rates",
    "memory_capacity",
    "rate_histogram",
    "separation",
    "state_distance",
    "warn_activity",
]


def firing_rates(spikes: Any, dt_s: float | None = None) -> np.ndarray:
    """Mean firing rate of each neuron over time steps and trials.

    Args:
        spikes: ``[T, B, N]`` or ``[T, N]``.
        dt_s: Step length in seconds; if given, rates are in Hz, else in spikes per step.

    Returns:
        float64 ``[N]``.
    """
    arr = as_spikes_tbn(spikes, "firing_rates")
    rates = arr.mean(axis=(0, 1), dtype=np.float64)
    if dt_s is not None:
        if dt_s <= 0:
            raise ConfigError(f"dt_s must be positive, got {dt_s}")
        rates = rates / dt_s
    return rates


def rate_histogram(
    rates: Any, bins: int | Any = 20, range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of per-neuron rates: ``(counts [bins], edges [bins + 1])``."""
    return np.histogram(np.asarray(rates, dtype=np.float64), bins=bins, range=range)


def separation(states: Any, labels: Any) -> dict[str, float]:
    """Separation property of reservoir states.

    Args:
        states: ``[n_trials, D]`` state vectors (e.g. spike counts or final traces).
        labels: ``[n_trials]`` class labels.

    Returns:
        ``{"between": mean Euclidean distance over pairs of trials from different classes,
        "within": mean over pairs from the same class, "ratio": between / within}``.
    """
    from scipy.spatial.distance import pdist

    X = np.asarray(states, dtype=np.float64)
    y = np.asarray(labels)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ConfigError(f"separation: states must be [n, D] and labels [n], got {X.shape} "
                          f"and {y.shape}")
    if np.unique(y).size < 2:
        raise ConfigError("separation: needs trials from at least two classes")
    d = pdist(X)
    i, j = np.triu_indices(X.shape[0], k=1)
    same = y[i] == y[j]
    if not same.any():
        raise ConfigError("separation: needs at least two trials of one class")
    between = float(d[~same].mean())
    within = float(d[same].mean())
    return {"between": between, "within": within,
            "ratio": between / within if within > 0 else float("inf")}


def state_distance(spikes_a: Any, spikes_b: Any, decay: float = 0.9) -> np.ndarray:
    r"""Euclidean distance between the liquid states of two runs at every step.

    The liquid state is the exponential trace :math:`r[t] = \alpha r[t-1] + s[t]`.

    Args:
        spikes_a, spikes_b: ``[T, B, N]`` or ``[T, N]`` (same shape).

    Returns:
        ``[T]`` for ``[T, N]`` input, else ``[T, B]``.
    """
    a = as_spikes_tbn(spikes_a, "state_distance")
    b = as_spikes_tbn(spikes_b, "state_distance")
    if a.shape != b.shape:
        raise ConfigError(f"state_distance: shapes differ, {a.shape} vs {b.shape}")
    if not 0 <= decay < 1:
        raise ConfigError(f"decay must lie in [0, 1), got {decay}")
    diff = (a - b).astype(np.float64)
    r = np.zeros(diff.shape[1:])
    out = np.empty(diff.shape[:2])
    for t in range(diff.shape[0]):
        r = decay * r + diff[t]
        out[t] = np.linalg.norm(r, axis=-1)
    return out[:, 0] if np.ndim(spikes_a) == 2 else out


def memory_capacity(
    reservoir: Any,
    n_steps: int = 2000,
    max_delay: int = 30,
    *,
    washout: int | None = None,
    decay: float = 0.0,
    alpha: float = 1e-2,
    seed: int = 0,
    signal: Any = None,
) -> dict[str, Any]:
    r"""Linear memory capacity (Jaeger 2001) of a reservoir.

    The reservoir is driven by an i.i.d. signal :math:`u[t] \sim U(0, 1)` fed as the same
    analog value to every input channel (or by ``signal``). For each delay ``k`` a ridge
    readout (:class:`~eegsnn.nn.readout.RidgeReadout`, regression) is fitted on the first
    half of the steps after the washout to predict :math:`u[t-k]` from the state at step
    ``t``; :math:`r^2_k` is the squared correlation between prediction and target on the
    second half. The capacity is :math:`\sum_{k=1}^{K} r^2_k`.

    The state is the spike vector at step ``t`` (``decay=0``) or its exponential trace; a
    trace adds memory of its own (of the readout filter, not of the reservoir).

    Returns:
        ``{"delays": [0..K], "r2": [K + 1], "capacity": float, "mean_rate": float}``.
    """
    import mlx.core as mx

    if max_delay < 1:
        raise ConfigError(f"max_delay must be >= 1, got {max_delay}")
    washout = max(100, max_delay) if washout is None else int(washout)
    if washout < max_delay:
        raise ConfigError(f"washout ({washout}) must be >= max_delay ({max_delay})")
    if signal is None:
        u = np.random.default_rng(seed).random(n_steps)
    else:
        u = np.asarray(signal, dtype=np.float64).ravel()
        n_steps = u.size
    if n_steps - washout < 4 * max_delay or n_steps - washout < 40:
        raise ConfigError(f"n_steps={n_steps} is too short for washout={washout} and "
                          f"max_delay={max_delay}")
    n_in = int(reservoir.n_inputs)
    x = np.repeat(u[:, None, None], n_in, axis=2).astype(np.float32)  # [T, 1, n_in]
    spikes, _ = reservoir(mx.array(x))
    s = np.asarray(spikes)[:, 0, :].astype(np.float64)
    mean_rate = float(s.mean())
    if decay > 0:
        r = np.zeros(s.shape[1])
        states = np.empty_like(s)
        for t in range(s.shape[0]):
            r = decay * r + s[t]
            states[t] = r
    else:
        states = s
    t_idx = np.arange(washout, n_steps)
    half = t_idx.size // 2
    tr, te = t_idx[:half], t_idx[half:]
    r2 = np.zeros(max_delay + 1)
    for k in range(max_delay + 1):
        model = RidgeReadout(alpha, task="regression", standardize=False)
        model.fit(states[tr], u[tr - k])
        pred = model.predict(states[te])
        target = u[te - k]
        if pred.std() < 1e-12:
            r2[k] = 0.0
        else:
            r2[k] = float(np.corrcoef(pred, target)[0, 1] ** 2)
    return {"delays": np.arange(max_delay + 1), "r2": r2, "capacity": float(r2[1:].sum()),
            "mean_rate": mean_rate}


def delta_modulation(x: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """``[B, N]`` signals -> ``[N, B, 2]`` up/down delta-modulation spikes of the z-scored input.

    A spike on channel 0 (up) or 1 (down) when the signal moves more than ``threshold``
    (in standard deviations) away from the reference, which then jumps to the current sample.
    """
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    out = np.zeros((x.shape[1], x.shape[0], 2), np.float32)
    ref = x[:, 0].copy()
    for t in range(x.shape[1]):
        up, down = x[:, t] - ref > threshold, ref - x[:, t] > threshold
        out[t, up, 0] = 1
        out[t, down, 1] = 1
        ref = np.where(up | down, x[:, t], ref)
    return out
