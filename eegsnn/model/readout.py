r"""Readouts: an output layer's ``[T, B, C]`` trace -> ``[B, C]`` logits.

* ``"count"``: spike count :math:`n_c = \sum_t S_t[c]`
* ``"final"``: membrane at the last step :math:`U_T[c]`
* ``"max"``: maximum membrane over time :math:`\max_t U_t[c]`
* ``"mean"``: mean membrane over time

The model's forward pass (:meth:`eegsnn.model.SpikingNet.__call__`) applies its configured
readout; the losses of :mod:`eegsnn.train.losses` reduce the same traces with it.
"""

from __future__ import annotations

import mlx.core as mx

from eegsnn.errors import ConfigError

__all__ = ["READOUTS", "readout"]

#: The readout names a model config's ``readout`` may take.
READOUTS = ("count", "final", "max", "mean")


def readout(spikes: mx.array | None, membrane: mx.array | None, mode: str) -> mx.array:
    """Reduce an output layer's ``[T, B, C]`` trace to ``[B, C]`` logits (see module doc)."""
    if mode == "count":
        if spikes is None:
            raise ConfigError("readout 'count' needs a spiking output layer")
        return spikes.sum(axis=0)
    if membrane is None:
        raise ConfigError(f"readout {mode!r} needs the output membrane")
    if mode == "final":
        return membrane[-1]
    if mode == "max":
        return membrane.max(axis=0)
    if mode == "mean":
        return membrane.mean(axis=0)
    raise ConfigError(f"unknown readout {mode!r}; expected one of {', '.join(READOUTS)}")
