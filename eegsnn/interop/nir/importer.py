"""NIR -> eegsnn: :func:`nir_to_config` (a graph as a model config and weights),
:func:`import_nir` (a :class:`~eegsnn.model.SpikingNet`) and :func:`load_nir` (from a file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.interop.nir.mapping import (
    _chain,
    _check_dt,
    _check_method,
    _graph_meta,
    _nir,
    beta_to_tau,
    tau_to_beta,
)
from eegsnn.model.network import build_model
from eegsnn.nn.registry import upgrade_neuron_config

__all__ = ["import_nir", "load_nir", "nir_to_config"]

def _original_neuron(meta: dict[str, Any]) -> dict[str, Any]:
    """The exported eegsnn neuron's config from a node's metadata, in the current format
    (files written before the registry hold ``{"model": "Leaky", ...}``); ``{}`` when it is
    not a Leaky, IF or Synaptic record."""
    if "type" not in meta and "model" not in meta:
        return {}
    try:
        cfg = upgrade_neuron_config(meta)
    except ConfigError:
        return {}
    return cfg if cfg["type"] in ("leaky", "if", "synaptic") else {}


def _vec(node: Any, name: str, n: int | None) -> np.ndarray:
    v = np.asarray(getattr(node, name), dtype=np.float64).reshape(-1)
    if n is not None and v.size == 1:
        v = np.full(n, float(v[0]))
    if n is not None and v.size != n:
        raise ConfigError(f"NIR import: {type(node).__name__}.{name} has {v.size} values, "
                          f"expected {n}")
    return v


def _scalar_or_list(v: np.ndarray) -> float | list[float]:
    v = np.asarray(v, dtype=np.float64)
    if v.size and np.allclose(v, v[0], rtol=0, atol=0):
        return float(v[0])
    return [float(x) for x in v]


def _node_meta(node: Any) -> dict[str, Any]:
    return _graph_meta(node)


def _form(node: Any, key: str) -> str | None:
    raw = (getattr(node, "metadata", None) or {}).get(key)
    return raw.decode("utf8") if isinstance(raw, bytes) else raw


def _to_native(graph: Any, dt_s: float, method: str) -> Any:
    """An eegsnn ``form="portable"`` graph rewritten as the equivalent native chain (the
    subtract-reset ``CubaLIF`` and its reset loop -> ``LIF``, restored to the subtract
    reset from the metadata; an integrator loop -> ``LI``/``I``); other graphs unchanged.
    Recurrent (``rleaky``) loops are not imported."""
    nir = _nir("NIR import")
    loops = {k for k, v in graph.nodes.items() if _form(v, "eegsnn_part")}
    if not loops:
        return graph
    nodes = {k: v for k, v in graph.nodes.items() if k not in loops}
    for name, node in list(nodes.items()):
        form = _form(node, "eegsnn_form")
        meta = {"eegsnn": node.metadata["eegsnn"]} if "eegsnn" in node.metadata else {}
        fb = graph.nodes.get(f"{name}.fb")
        diag = np.zeros(0) if fb is None else np.diag(np.asarray(fb.weight, np.float64))
        if fb is not None and np.any(np.asarray(fb.weight) != np.diag(diag)):
            raise ConfigError(f"NIR import: node {name!r} has a recurrent loop; recurrent "
                              "layers are exported for other tools but not imported")
        if form == "integrator":
            n = int(np.asarray(node.weight).shape[0])
            beta = diag if fb is not None else np.zeros(n)
            if np.all(beta == 1.0):
                nodes[name] = nir.I(r=np.full(n, 1.0 / dt_s), metadata=meta)
            else:
                tau = beta_to_tau(beta, dt_s, "euler" if np.any(beta == 0.0) else method)
                nodes[name] = nir.LI(tau=tau, r=1.0 / (1.0 - beta), v_leak=np.zeros(n),
                                     metadata=meta)
        elif form == "subtract":
            thr = np.asarray(node.v_threshold, np.float64)
            if not np.array_equal(-diag, thr):
                raise ConfigError(f"NIR import: node {name!r}: its reset loop does not "
                                  "subtract the threshold")
            nodes[name] = nir.LIF(tau=np.asarray(node.tau_syn, np.float64),  # euler
                                  r=np.asarray(node.w_in, np.float64), v_leak=np.zeros(thr.size),
                                  v_threshold=thr, v_reset=np.zeros(thr.size), metadata=meta)
    edges = [(a, b) for a, b in graph.edges if a not in loops and b not in loops]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata)


def nir_to_config(graph: Any, *, dt_s: float | None = None, method: str | None = None,
                  readout: str | None = None, use_metadata: bool = True,
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A NIR chain graph -> (eegsnn model config, ``{"layers.i.weight": array}``).

    See :func:`import_nir` for the arguments. Consecutive Affine/Linear/Scale nodes are
    multiplied into one linear layer; neuron input gains and leak drives are folded into it.
    """
    nir = _nir("NIR import")
    meta = _graph_meta(graph) if use_metadata else {}
    if dt_s is None:
        dt_s = meta.get("dt_s")
        if dt_s is None:
            raise ConfigError("NIR import: the graph does not record its time step (it was not "
                              "written by eegsnn); pass dt_s= in seconds (snnTorch uses 1e-4)")
    dt_s = _check_dt(dt_s)
    method = _check_method(method or meta.get("method", "euler"))
    graph = _to_native(graph, dt_s, method)
    order = _chain(graph)
    shape = np.asarray(graph.nodes[order[0]].input_type["input"]).reshape(-1)
    if shape.size != 1:
        raise ConfigError(f"NIR import: only flat inputs are supported, the graph's Input has "
                          f"shape {shape.tolist()}")
    n = int(shape[0])
    n_in = n
    layers: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    pending: list[np.ndarray] | None = None  # [W [out, in], b [out]] not yet emitted

    def emit_linear(gain: np.ndarray, drive: np.ndarray) -> None:
        nonlocal pending
        if pending is None:
            if np.all(gain == 1.0) and np.all(drive == 0.0):
                return
            pending = [np.eye(n), np.zeros(n)]
        w, b = pending
        w = gain[:, None] * w
        b = gain * b + drive
        has_bias = bool(np.any(b != 0.0))
        idx = len(layers)
        layers.append({"type": "linear", "out_features": int(w.shape[0]), "bias": has_bias})
        weights[f"layers.{idx}.weight"] = w.astype(np.float32)
        if has_bias:
            weights[f"layers.{idx}.bias"] = b.astype(np.float32)
        pending = None

    def decay(node: Any, tau_name: str) -> np.ndarray:
        return tau_to_beta(_vec(node, tau_name, n), dt_s, method)

    for name in order[1:-1]:
        node = graph.nodes[name]
        nmeta = _node_meta(node) if use_metadata else {}
        where = f"NIR import: node {name!r} ({type(node).__name__})"
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != n:
                raise ConfigError(f"{where}: weight shape {list(w.shape)} does not take {n} "
                                  "inputs")
            b = (np.asarray(node.bias, dtype=np.float64).reshape(-1)
                 if isinstance(node, nir.Affine) else np.zeros(w.shape[0]))
            if pending is None:
                pending = [w, b]
            else:
                pending = [w @ pending[0], w @ pending[1] + b]
            n = int(w.shape[0])
            continue
        if isinstance(node, nir.Scale):
            s = _vec(node, "scale", n)
            pending = [np.diag(s), np.zeros(n)] if pending is None else \
                [s[:, None] * pending[0], s * pending[1]]
            continue
        if isinstance(node, nir.Flatten):
            continue  # flat input: nothing to flatten
        spiking = isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF))
        if not isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.I, nir.CubaLI)):
            raise ConfigError(f"{where}: not supported (Affine, Linear, Scale, LIF, IF, "
                              "CubaLIF, LI, I, CubaLI)")
        spec: dict[str, Any] = {}
        if spiking:
            thr = _vec(node, "v_threshold", n)
            v_reset = _vec(node, "v_reset", n)
            if np.any(v_reset != 0.0):
                raise ConfigError(f"{where}: v_reset = {v_reset[v_reset != 0][0]:g}; eegsnn "
                                  "neurons reset to 0")
            spec["threshold"] = _scalar_or_list(thr)
        if isinstance(node, (nir.IF, nir.I)):
            gain = _vec(node, "r", n) * dt_s
            drive = np.zeros(n)
            spec["type"] = "if" if spiking else "leaky"
            if not spiking:
                spec["beta"] = 1.0
        elif isinstance(node, (nir.LIF, nir.LI)):
            beta = decay(node, "tau")
            gain = (1.0 - beta) * _vec(node, "r", n)
            drive = (1.0 - beta) * _vec(node, "v_leak", n)
            spec["type"] = "leaky"
            spec["beta"] = _scalar_or_list(beta)
        else:  # CubaLIF / CubaLI
            alpha = decay(node, "tau_syn")
            beta = decay(node, "tau_mem")
            if np.any(_vec(node, "v_leak", n) != 0.0):
                raise ConfigError(f"{where}: v_leak != 0 is not supported for current-based "
                                  "neurons (its drive would be filtered by the synapse)")
            gain = (1.0 - alpha) * _vec(node, "w_in", n) * (1.0 - beta) * _vec(node, "r", n)
            drive = np.zeros(n)
            spec.update(type="synaptic", alpha=_scalar_or_list(alpha),
                        beta=_scalar_or_list(beta))
            if spiking:
                spec["reset_delay"] = False  # NIR resets at the spike step (see docstring)
        spec["reset_mechanism"] = "zero" if spiking else "none"
        original = _original_neuron(nmeta)
        if original:
            for key in ("surrogate", "detach_reset"):
                if key in original:
                    spec[key] = original[key]
            if spec["type"] != "synaptic" and "reset_delay" in original:
                spec["reset_delay"] = original["reset_delay"]
            restore = original.get("reset_mechanism") == "subtract" or (
                spec["type"] == "synaptic" and original.get("reset_mechanism") == "zero"
                and original.get("reset_delay", True))
            if spiking and restore:
                # an eegsnn neuron exported with on_unsupported="warn": restore it exactly
                spec["reset_mechanism"] = original["reset_mechanism"]
                spec["reset_delay"] = original.get("reset_delay", True)
        emit_linear(gain, drive)
        layers.append(spec)
    if pending is not None:
        # a graph ending in a linear map: add a pass-through readout U[t] = X[t]
        emit_linear(np.ones(n), np.zeros(n))
        layers.append({"type": "leaky", "beta": 0.0, "reset_mechanism": "none"})
    if not layers:
        raise ConfigError("NIR import: the graph has no layers between Input and Output")
    last = layers[-1]
    if readout is None:
        readout = meta.get("readout") or ("final" if last["reset_mechanism"] == "none"
                                           else "count")
    config = {"input_shape": [n_in], "layers": layers, "readout": readout}
    return config, weights


def import_nir(graph: Any, *, dt_s: float | None = None, method: str | None = None,
               readout: str | None = None, use_metadata: bool = True) -> Any:
    """Build a :class:`~eegsnn.model.SpikingNet` from a NIR graph (or a ``.nir`` file path).

    Args:
        graph: a ``nir.NIRGraph`` chain ``Input -> ... -> Output`` of Affine / Linear / Scale
            and LIF / IF / CubaLIF / LI / I / CubaLI nodes, or the path of a NIR file.
        dt_s: simulation step in seconds (default: the one recorded by :func:`export_nir`;
            required for graphs from other tools).
        method: ``"euler"`` or ``"exp"`` (default: recorded, else ``"euler"``).
        readout: the model's readout (``count``/``final``/``max``/``mean``; default:
            recorded, else ``final`` for a non-spiking last layer and ``count`` otherwise).
        use_metadata: use eegsnn's records in the graph (dt, surrogate, original reset).

    Raises:
        ConfigError: graphs that are not feedforward chains, unsupported nodes or parameters
        (``v_reset != 0``, ``tau < dt`` with euler), a missing ``dt_s``.
        DataError: an unreadable file.
    """
    if isinstance(graph, (str, os.PathLike)):
        graph = _read(graph)
    config, weights = nir_to_config(graph, dt_s=dt_s, method=method, readout=readout,
                                    use_metadata=use_metadata)
    model = build_model(config)
    from mlx.utils import tree_unflatten

    model.update(tree_unflatten([(k, mx.array(v)) for k, v in weights.items()]))
    mx.eval(model.parameters())
    model.eval()
    return model


def _read(path: str | os.PathLike) -> Any:
    nir = _nir("NIR import")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: NIR file not found")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py / nir raise many kinds
        raise DataError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})"
                        ) from exc


def load_nir(path: str | os.PathLike, **kwargs: Any) -> Any:
    """Read a NIR file and :func:`import_nir` it."""
    return import_nir(_read(path), **kwargs)
