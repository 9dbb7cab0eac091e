r"""Losses and spike-rate regularisers for spiking classifiers (pure functions).

Shapes: ``spikes`` / ``membrane`` are time-major ``[T, B, C]`` (``C`` classes), ``targets``
are integer class labels ``[B]``. Every loss returns a scalar mean over the batch.

Readouts (``[T, B, C] -> [B, C]`` logits, ``"count"``, ``"final"``, ``"max"``, ``"mean"``):
:func:`eegsnn.model.readout.readout`, the model's own (re-exported here and by
:mod:`eegsnn.train`).

Losses:

* :func:`ce_count` — cross-entropy on spike counts (rate coding, snnTorch ``ce_rate_loss``
  up to summing vs averaging over time: we use the count, i.e. ``T`` x the rate).
* :func:`ce_membrane` — cross-entropy on the output membrane, ``reduce="final"`` or ``"max"``
  (snnTorch ``ce_max_membrane_loss`` for ``"max"``).
* :func:`mse_count` — mean squared error between spike counts and target counts
  ``correct_rate * T`` for the true class, ``incorrect_rate * T`` for the others
  (snnTorch ``mse_count_loss``).
* :func:`rate_regularizer` — penalises silent and over-active neurons:
  :math:`\lambda_\text{low}\,\overline{\max(0, r_\text{low} - r_i)^2}
  + \lambda_\text{high}\,\overline{\max(0, r_i - r_\text{high})^2}` with :math:`r_i` the
  firing rate (spikes per step) of neuron :math:`i` averaged over time and batch.
"""

from __future__ import annotations

from collections.abc import Callable

import mlx.core as mx
import mlx.nn as nn

from eegsnn.errors import ConfigError
from eegsnn.model.readout import readout


def cross_entropy(logits: mx.array, targets: mx.array) -> mx.array:
    """Mean softmax cross-entropy of ``logits [B, C]`` against integer ``targets [B]``."""
    return nn.losses.cross_entropy(logits, targets, reduction="mean")


def ce_count(spikes: mx.array | None, membrane: mx.array | None, targets: mx.array,
             ) -> mx.array:
    """Cross-entropy on spike counts ``sum_t S_t`` (``[T, B, C]`` spikes)."""
    return cross_entropy(readout(spikes, membrane, "count"), targets)


def ce_membrane(spikes: mx.array | None, membrane: mx.array | None, targets: mx.array,
                reduce: str = "final") -> mx.array:
    """Cross-entropy on the output membrane: final step (``"final"``) or max over time."""
    if reduce not in ("final", "max", "mean"):
        raise ConfigError(f"ce_membrane: reduce={reduce!r}, expected 'final', 'max' or 'mean'")
    return cross_entropy(readout(spikes, membrane, reduce), targets)


def mse_count(spikes: mx.array | None, membrane: mx.array | None, targets: mx.array,
              correct_rate: float = 0.8, incorrect_rate: float = 0.2) -> mx.array:
    """MSE between spike counts and target counts (``rate * T``), averaged over ``B`` and ``C``."""
    if spikes is None:
        raise ConfigError("mse_count needs a spiking output layer")
    num_steps, _, num_classes = spikes.shape
    counts = spikes.sum(axis=0)
    onehot = (mx.arange(num_classes)[None, :] == targets[:, None]).astype(counts.dtype)
    target = num_steps * (incorrect_rate + (correct_rate - incorrect_rate) * onehot)
    return mx.mean(mx.square(counts - target))


def rate_regularizer(layer_spikes: list[mx.array], low: float = 0.0, high: float = 1.0,
                     weight_low: float = 1.0, weight_high: float = 1.0) -> mx.array:
    """Penalty on neurons firing below ``low`` or above ``high`` spikes per step.

    Args:
        layer_spikes: spike trains ``[T, B, ...]`` of the layers to regularise.
        low, high: allowed band of per-neuron firing rate (spikes per step, 0-1).
        weight_low, weight_high: weights of the silent / over-active terms.

    Returns:
        Scalar: sum over layers of the mean squared excursion outside ``[low, high]``.
    """
    total = mx.array(0.0)
    for spikes in layer_spikes:
        rate = spikes.reshape(spikes.shape[0] * spikes.shape[1], -1).mean(axis=0)
        total = total + weight_low * mx.mean(mx.square(mx.maximum(low - rate, 0.0)))
        total = total + weight_high * mx.mean(mx.square(mx.maximum(rate - high, 0.0)))
    return total


LossFn = Callable[[mx.array | None, mx.array | None, mx.array], mx.array]

LOSSES = ("ce_count", "ce_membrane", "mse_count")


def get_loss(spec: dict | str) -> tuple[LossFn, str]:
    """Build a loss from a config: ``{"type": "ce_membrane", "reduce": "final"}`` etc.

    Returns:
        ``(loss_fn, readout_mode)``: ``loss_fn(spikes, membrane, targets) -> scalar`` and
        the readout used for predictions (``argmax`` of the logits it gives).

    Raises:
        ConfigError: unknown loss type or option.
    """
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"loss: expected a name or a dict with 'type', got {spec!r}")
    options = {k: v for k, v in spec.items() if k != "type"}
    kind = spec["type"]

    def _check(allowed: set[str]) -> None:
        extra = set(options) - allowed
        if extra:
            raise ConfigError(f"loss {kind!r}: unknown option(s) {sorted(extra)}; "
                              f"allowed: {sorted(allowed)}")

    if kind == "ce_count":
        _check(set())
        return ce_count, "count"
    if kind == "ce_membrane":
        _check({"reduce"})
        reduce = options.get("reduce", "final")
        if reduce not in ("final", "max", "mean"):
            raise ConfigError(f"loss ce_membrane: reduce={reduce!r}, expected 'final', 'max' "
                              "or 'mean'")
        return (lambda s, m, y: ce_membrane(s, m, y, reduce)), reduce
    if kind == "mse_count":
        _check({"correct_rate", "incorrect_rate"})
        correct = float(options.get("correct_rate", 0.8))
        incorrect = float(options.get("incorrect_rate", 0.2))
        return (lambda s, m, y: mse_count(s, m, y, correct, incorrect)), "count"
    raise ConfigError(f"unknown loss {kind!r}; expected one of {', '.join(LOSSES)}")
