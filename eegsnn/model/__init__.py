"""Models built from configs: layer stacks of :mod:`eegsnn.nn` neurons and a readout."""

from eegsnn.model.families import (
    FAMILIES,
    family_config,
    recurrent_snn,
    spiking_eegnet,
    spiking_shallow,
)
from eegsnn.model.network import (
    LAYER_TYPES,
    NEURONS,
    READOUTS,
    Dropout,
    SpikingNet,
    build_model,
    reference_mnist_config,
    validate_config,
)

__all__ = [
    "FAMILIES",
    "LAYER_TYPES",
    "NEURONS",
    "READOUTS",
    "Dropout",
    "SpikingNet",
    "build_model",
    "family_config",
    "recurrent_snn",
    "reference_mnist_config",
    "spiking_eegnet",
    "spiking_shallow",
    "validate_config",
]
