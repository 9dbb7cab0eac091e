"""Models built from configs: layer stacks of :mod:`eegsnn.nn` neurons and a readout."""

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
    "LAYER_TYPES",
    "NEURONS",
    "READOUTS",
    "Dropout",
    "SpikingNet",
    "build_model",
    "reference_mnist_config",
    "validate_config",
]
