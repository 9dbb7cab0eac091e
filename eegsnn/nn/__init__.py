"""Surrogate-gradient spiking neurons (and, beside them, layers and reservoirs).

Pure step functions live in :mod:`eegsnn.nn.functional`; the modules here are thin
:class:`mlx.nn.Module` shells over them with the interface documented in
:mod:`eegsnn.nn.neurons` (``init_state``, ``__call__`` for one step, ``unroll`` over a
time-major ``[T, B, F]`` sequence).
"""

from __future__ import annotations

from eegsnn.nn import functional, readout, reservoir, topology
from eegsnn.nn.neurons import (
    ALIF,
    IF,
    IZHIKEVICH_PRESETS,
    NEURON_MODELS,
    Alpha,
    Izhikevich,
    Leaky,
    SpikingNeuron,
    Synaptic,
    neuron_from_config,
)
from eegsnn.nn.readout import (
    LogisticReadout,
    LSMClassifier,
    RidgeReadout,
    exponential_traces,
    extract_features,
    final_state_features,
    spike_count_features,
    trace_features,
)
from eegsnn.nn.reservoir import Reservoir, reservoir_step

__all__ = [
    "ALIF",
    "IF",
    "IZHIKEVICH_PRESETS",
    "NEURON_MODELS",
    "Alpha",
    "Izhikevich",
    "LSMClassifier",
    "Leaky",
    "LogisticReadout",
    "Reservoir",
    "RidgeReadout",
    "SpikingNeuron",
    "Synaptic",
    "exponential_traces",
    "extract_features",
    "final_state_features",
    "functional",
    "neuron_from_config",
    "readout",
    "reservoir",
    "reservoir_step",
    "spike_count_features",
    "topology",
    "trace_features",
]
