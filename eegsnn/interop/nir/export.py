"""eegsnn -> NIR: :func:`export_nir` (a :class:`~eegsnn.model.SpikingNet` as a
``nir.NIRGraph``) and :func:`save_nir` (written to a ``.nir`` file, atomically)."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.nn as nn
import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.interop.nir.mapping import (
    FORMAT,
    VERSION,
    _check_dt,
    _check_method,
    _nir,
    beta_to_tau,
)
from eegsnn.model.network import SpikingNet
from eegsnn.nn import IF, Leaky, Synaptic

__all__ = ["export_nir", "save_nir"]



def _value(neuron: Any, name: str) -> np.ndarray:
    v = neuron._param(name) if hasattr(neuron, "_param") else getattr(neuron, name)
    return np.asarray(v, dtype=np.float64)


def _full(v: np.ndarray, n: int, what: str) -> np.ndarray:
    """``v`` broadcast to ``[n]`` float64 (neuron parameters are written in float64 so that
    ``beta -> tau -> beta`` round-trips to ~1e-16)."""
    try:
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
    except ValueError as exc:
        raise ConfigError(f"NIR export: {what} of shape {np.shape(v)} does not fit {n} "
                          "neurons") from exc


def _neuron_meta(neuron: Any) -> dict[str, str]:
    try:
        cfg = neuron.config()
    except ConfigError:  # a custom surrogate has no name: keep the rest
        cfg = {"type": neuron.config_type, "reset_mechanism": neuron.reset_mechanism,
               "reset_delay": neuron.reset_delay}
    return {"eegsnn": json.dumps(cfg)}



def _unsupported(message: str, on_unsupported: str) -> None:
    if on_unsupported == "error":
        raise ConfigError(f"NIR export: {message}; pass on_unsupported='warn' to export NIR's "
                          "reset-to-zero instead (the eegsnn neuron is kept in the node "
                          "metadata)")
    warnings.warn(f"NIR export: {message}; exported as NIR's reset to v_reset = 0, which "
                  "other tools will simulate", RuntimeWarning, stacklevel=4)


def _export_neuron(kind: str, neuron: Any, n: int, dt_s: float, method: str,
                   on_unsupported: str, name: str):
    nir = _nir("NIR export")
    meta = _neuron_meta(neuron)
    reset = neuron.reset_mechanism
    thr = _full(_value(neuron, "threshold"), n, "threshold")
    zeros = np.zeros(n)
    if reset == "subtract":
        _unsupported(f"layer {name} ({type(neuron).__name__}) uses reset_mechanism="
                     "'subtract', which NIR cannot represent (NIR resets to v_reset)",
                     on_unsupported)
    if kind == "synaptic" and reset == "zero" and neuron.reset_delay:
        _unsupported(f"layer {name} (Synaptic) uses the delayed 'zero' reset, which clears "
                     "the whole next membrane (input included); NIR's CubaLIF matches "
                     "Synaptic(reset_delay=False)", on_unsupported)
    if kind == "if" or (kind == "leaky" and np.all(_value(neuron, "beta") == 1.0)):
        r = np.full(n, 1.0 / dt_s)
        if reset == "none":
            return nir.I(r=r, metadata=meta)
        return nir.IF(r=r, v_threshold=thr, v_reset=zeros, metadata=meta)
    if kind == "leaky":
        beta = _full(_value(neuron, "beta"), n, "beta")
        tau = beta_to_tau(beta, dt_s, method)
        r = (1.0 / (1.0 - beta))
        if reset == "none":
            return nir.LI(tau=tau, r=r, v_leak=zeros, metadata=meta)
        return nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=thr, v_reset=zeros.copy(),
                       metadata=meta)
    if kind == "synaptic":
        alpha = _full(_value(neuron, "alpha"), n, "alpha")
        beta = _full(_value(neuron, "beta"), n, "beta")
        tau_syn = beta_to_tau(alpha, dt_s, method)
        tau_mem = beta_to_tau(beta, dt_s, method)
        w_in = (1.0 / (1.0 - alpha))
        r = (1.0 / (1.0 - beta))
        if reset == "none":
            return nir.CubaLI(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=zeros, w_in=w_in,
                              metadata=meta)
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=zeros,
                           v_threshold=thr, v_reset=zeros.copy(), w_in=w_in, metadata=meta)
    raise ConfigError(f"NIR export: layer {name}: neuron {type(neuron).__name__} has no NIR "
                      "equivalent (supported: Leaky, IF, Synaptic)")


def _affine_of(kind: str, module: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W [out, in], b [out])`` float32 of a ``batchnorm`` (its inference form, with the
    running statistics: ``W = diag(g)``, ``g = gamma / sqrt(var + eps)``,
    ``b = beta - g mu``) or a ``spatial`` layer on flat ``[C]`` input (``W = weight[0]``)."""
    if kind == "batchnorm":
        mean = np.asarray(module.running_mean, np.float64)
        gain = 1.0 / np.sqrt(np.asarray(module.running_var, np.float64) + module.eps)
        shift = -gain * mean
        if "weight" in module:
            gamma = np.asarray(module.weight, np.float64)
            gain, shift = gamma * gain, gamma * shift + np.asarray(module.bias, np.float64)
        return np.diag(gain).astype(np.float32), shift.astype(np.float32)
    weight = np.asarray(module.weight, np.float32)  # [F, D, C]
    if weight.shape[0] != 1:
        raise ConfigError("NIR export: a spatial layer over [C, F] feature maps comes after a "
                          "temporal convolution, which NIR has no node for")
    bias = np.asarray(module.bias, np.float32) if "bias" in module else \
        np.zeros(weight.shape[1], np.float32)
    return weight[0], bias


def _layers_of(model: Any) -> tuple[list[tuple[str, Any]], list[int] | None, str | None]:
    """``[(kind, module)]``, the input shape and the readout of a SpikingNet or a list."""
    if isinstance(model, SpikingNet):
        cfg = model.config
        return list(zip(model.kinds, model.layers, strict=True)), cfg["input_shape"], \
            cfg["readout"]
    modules = model.layers if isinstance(model, nn.Sequential) else model
    if not isinstance(modules, Sequence) or isinstance(modules, (str, bytes)):
        raise ConfigError(f"NIR export: expected a SpikingNet, an nn.Sequential or a list of "
                          f"layers, got {type(model).__name__}")
    out = []
    for i, m in enumerate(modules):
        if isinstance(m, nn.Linear):
            out.append(("linear", m))
        elif type(m) is Leaky:
            out.append(("leaky", m))
        elif type(m) is IF:
            out.append(("if", m))
        elif type(m) is Synaptic:
            out.append(("synaptic", m))
        elif isinstance(m, nn.Dropout) or type(m).__name__ == "Dropout":
            out.append(("dropout", m))
        else:
            raise ConfigError(f"NIR export: layer {i} ({type(m).__name__}) is not supported "
                              "(Linear, Leaky, IF, Synaptic, Dropout)")
    return out, None, None


def export_nir(model: Any, *, dt_s: float = 1e-4, method: str = "euler",
               on_unsupported: str = "error") -> Any:
    """Convert a trained feedforward network into a ``nir.NIRGraph``.

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` (linear / leaky / if / synaptic /
            dropout / flat flatten layers; ``batchnorm`` with its running statistics and
            ``spatial`` on flat input as ``Affine``) or a list / ``nn.Sequential`` of
            ``nn.Linear`` and ``Leaky`` / ``IF`` / ``Synaptic`` neurons.
        dt_s: the simulation step the discrete parameters refer to, in seconds (default
            1e-4, the step snnTorch assumes when it reads NIR). Time constants scale with it.
        method: ``"euler"`` (default) or ``"exp"``, see the module docstring.
        on_unsupported: ``"error"`` or ``"warn"`` for resets NIR cannot represent.

    Returns:
        A chain ``input -> <kind>_<layer index> ... -> output``; dropout is left out
        (identity at inference). Graph and neuron ``metadata["eegsnn"]`` hold JSON records.

    Raises:
        MissingExtraError: ``nir`` is not installed. ConfigError: an unsupported layer or
        neuron, or (``on_unsupported="error"``) a reset NIR cannot represent.
    """
    nir = _nir("NIR export")
    dt_s, method = _check_dt(dt_s), _check_method(method)
    if on_unsupported not in ("error", "warn"):
        raise ConfigError(f"NIR export: on_unsupported must be 'error' or 'warn', got "
                          f"{on_unsupported!r}")
    layers, input_shape, readout = _layers_of(model)
    if not layers:
        raise ConfigError("NIR export: the model has no layers")
    if input_shape is None:
        first = next((m for k, m in layers if k == "linear"), None)
        if first is None:
            raise ConfigError("NIR export: cannot tell the input size of a list without a "
                              "Linear layer; export a SpikingNet instead")
        input_shape = [int(first.weight.shape[1])]
    if len(input_shape) != 1:
        raise ConfigError(f"NIR export: only flat inputs are supported, the model takes "
                          f"{input_shape} per step (conv layers are not exported yet)")
    n = int(input_shape[0])
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([n]))}
    order = ["input"]
    for i, (kind, module) in enumerate(layers):
        name = f"{kind}_{i}"
        if kind in ("dropout", "flatten"):
            continue
        if kind in ("batchnorm", "spatial"):  # per-step affine maps: exact as NIR Affine
            w, b = _affine_of(kind, module)
            if w.shape[1] != n:
                raise ConfigError(f"NIR export: layer {i} ({kind}) expects {w.shape[1]} "
                                  f"inputs but receives {n}")
            nodes[name] = nir.Affine(weight=w, bias=b)
            n = int(w.shape[0])
        elif kind == "linear":
            w = np.array(module.weight, dtype=np.float32)
            if w.shape[1] != n:
                raise ConfigError(f"NIR export: layer {i} expects {w.shape[1]} inputs but "
                                  f"receives {n}")
            if "bias" in module:
                nodes[name] = nir.Affine(weight=w, bias=np.array(module.bias, np.float32))
            else:
                nodes[name] = nir.Linear(weight=w)
            n = int(w.shape[0])
        elif kind in ("leaky", "if", "synaptic"):
            nodes[name] = _export_neuron(kind, module, n, dt_s, method, on_unsupported, name)
        else:
            raise ConfigError(f"NIR export: layer {i} of type {kind!r} is not supported "
                              "(linear, leaky, if, synaptic, dropout, batchnorm, spatial on "
                              "flat input)")
        order.append(name)
    nodes["output"] = nir.Output(output_type=np.array([n]))
    order.append("output")
    meta = {"format": FORMAT, "version": VERSION, "dt_s": dt_s, "method": method,
            "readout": readout, "input_shape": [int(s) for s in input_shape]}
    try:
        return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order)),
                            metadata={"eegsnn": json.dumps(meta)})
    except (AssertionError, ValueError) as exc:
        raise ConfigError(f"NIR export: the nir package rejected the graph ({exc})") from exc


def save_nir(model: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`export_nir` and write the graph to ``path`` (HDF5, atomically); returns it."""
    nir = _nir("NIR export")
    graph = model if isinstance(model, nir.NIRGraph) else export_nir(model, **kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
