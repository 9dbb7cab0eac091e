"""Surrogate-gradient spiking neurons (and, beside them, layers and reservoirs).

Recurrent spiking layers (``RLeaky``, ``RSynaptic``) are in :mod:`eegsnn.nn.recurrent`;
stateless sequence layers for EEG (temporal/spatial convolution, pooling and batch norm
through time) in :mod:`eegsnn.nn.layers`.

Pure step functions live in :mod:`eegsnn.nn.functional`, the whole-sequence kernels (and the
choice among them) in :mod:`eegsnn.nn.sequence`; the neurons (:mod:`eegsnn.nn.neurons`) are
thin :class:`mlx.nn.Module` shells over them with the interface documented in
:mod:`eegsnn.nn.base` (``init_state``, ``__call__`` for one step, ``unroll`` over a
time-major ``[T, B, F]`` sequence). :mod:`eegsnn.nn.registry` names them for configs
(:data:`NEURONS`, :func:`neuron_from_config`).
"""

from __future__ import annotations

from eegsnn.nn import (
    functional,
    layers,
    readout,
    recurrent,
    registry,
    reservoir,
    sequence,
    topology,
)
from eegsnn.nn.base import SpikingNeuron
from eegsnn.nn.layers import AvgPoolTime, BatchNormTime, ConvTime, SpatialFilter
from eegsnn.nn.neurons import (
    ALIF,
    IF,
    IZHIKEVICH_PRESETS,
    Alpha,
    Izhikevich,
    Leaky,
    Synaptic,
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
from eegsnn.nn.recurrent import RLeaky, RSynaptic
from eegsnn.nn.registry import NEURON_MODELS, NEURONS, build_neuron, neuron_from_config
from eegsnn.nn.reservoir import Reservoir, reservoir_step

__all__ = [
    "ALIF",
    "IF",
    "IZHIKEVICH_PRESETS",
    "NEURONS",
    "NEURON_MODELS",
    "Alpha",
    "AvgPoolTime",
    "BatchNormTime",
    "ConvTime",
    "Izhikevich",
    "LSMClassifier",
    "Leaky",
    "LogisticReadout",
    "RLeaky",
    "RSynaptic",
    "Reservoir",
    "RidgeReadout",
    "SpatialFilter",
    "SpikingNeuron",
    "Synaptic",
    "build_neuron",
    "exponential_traces",
    "extract_features",
    "final_state_features",
    "functional",
    "layers",
    "neuron_from_config",
    "readout",
    "recurrent",
    "registry",
    "reservoir",
    "reservoir_step",
    "sequence",
    "spike_count_features",
    "topology",
    "trace_features",
]
