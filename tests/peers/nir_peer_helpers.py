"""Helpers of the peer tests (``tests/peers``): eegsnn models with weights that make every
layer spike, spike input, and running a NIR graph in snnTorch 1.0 or Norse 1.1.

Imported by the test modules beside it (``from nir_peer_helpers import ...``). Importing it
skips the importing module when torch, nirtorch or nir are absent (the main venv); a missing
snnTorch or Norse skips only the tests that run that peer.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx)

torch = pytest.importorskip("torch")
pytest.importorskip("nirtorch")
pytest.importorskip("nir")
import mlx.core as mx  # noqa: E402

from eegsnn.model import build_model  # noqa: E402
from eegsnn.pipeline.modelspec import build_model_config, validate_model_spec  # noqa: E402

__all__ = ["DT", "PEERS", "first_spiking_head", "randomize_weights", "readout", "run_peer",
           "seeded_model", "spike_input"]

DT = 1e-4  # snnTorch 1.0 reads every NIR file with dt = 1e-4

#: Layer kinds that act on one step without a neuron (the head of a network up to its first
#: spiking layer skips them).
_STATELESS = ("linear", "batchnorm", "dropout", "avgpool_time")


def randomize_weights(model: Any, seed: int = 0) -> Any:
    """``model`` with ``N(0, 1)`` weights and ``N(0, 0.2)`` biases in every linear layer
    (random init barely fires), in eval mode."""
    rng = np.random.default_rng(seed)
    for layer, kind in zip(model.layers, model.kinds, strict=True):
        if kind == "linear":
            layer.weight = mx.array(rng.normal(0, 1.0, layer.weight.shape).astype(np.float32))
            if "bias" in layer:
                layer.bias = mx.array(rng.normal(0, 0.2, layer.bias.shape).astype(np.float32))
    model.eval()
    return model


def seeded_model(spec: Mapping[str, Any], n_in: int = 12, n_classes: int = 3, seed: int = 0,
                 steps_per_s: float | None = None) -> Any:
    """The :class:`~eegsnn.model.SpikingNet` of a ``model`` section (as ``eegsnn train``
    builds it) for ``n_in`` input lines, with :func:`randomize_weights`."""
    mx.random.seed(seed)
    cfg = build_model_config(validate_model_spec(spec), n_in, n_classes,
                             steps_per_s=steps_per_s)
    return randomize_weights(build_model(cfg), seed)


def spike_input(n_in: int = 12, steps: int = 60, batch: int = 16, seed: int = 1,
                p: float | np.ndarray = 0.3) -> np.ndarray:
    """Binary spikes ``[steps, batch, n_in]`` float32, each line firing with probability
    ``p`` per step (a number, or ``[batch, n_in]``: per window and line)."""
    rng = np.random.default_rng(seed)
    if n_in:
        return (rng.random((steps, batch, n_in)) < p).astype(np.float32)
    return rng.random((steps, batch, 0)).astype(np.float32)


def first_spiking_head(model: Any) -> Any:
    """The network up to and including its first neuron layer, same weights, readout
    ``count``: its output is that layer's spikes ``[T, B, N]``."""
    cfg = model.config
    first = next(i for i, k in enumerate(model.kinds) if k not in _STATELESS)
    cfg["layers"] = cfg["layers"][:first + 1]
    cfg["readout"] = "count"
    cfg.pop("output_shape", None)
    head = build_model(cfg)
    head.update({"layers": model.parameters()["layers"][:first + 1]})
    head.eval()
    return head


def _snntorch(graph: Any) -> Any:
    from snntorch.import_nir import import_from_nir

    return import_from_nir(graph)


def _norse(graph: Any) -> Any:
    import norse.torch as norse

    return norse.from_nir(graph, dt=DT)


PEERS = {"snntorch": _snntorch, "norse": _norse}


def run_peer(peer: str, graph: Any, x: np.ndarray) -> np.ndarray:
    """``graph`` imported into ``peer`` and run step by step on ``x [T, B, L]``: its
    output ``[T, B, N]`` (skips the test when the peer is not installed)."""
    pytest.importorskip(peer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            net = PEERS[peer](graph)
        finally:
            logging.disable(logging.NOTSET)
    out, state = [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            o, state = net(torch.from_numpy(np.ascontiguousarray(x[t])), state)
            out.append(o.numpy())
    return np.stack(out)


def readout(membrane: np.ndarray, mode: str) -> np.ndarray:
    """eegsnn's readout of the output trace ``[T, B, K]`` (membrane; spikes for
    ``count``) -> ``[B, K]``."""
    return {"mean": membrane.mean(axis=0), "final": membrane[-1],
            "max": membrane.max(axis=0), "count": membrane.sum(axis=0)}[mode]
