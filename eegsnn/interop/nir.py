r"""Exchange feedforward spiking networks with the Neuromorphic Intermediate Representation.

NIR (https://neuroir.org, the ``nir`` package, optional extra ``eegsnn[nir]``) describes
neurons by continuous-time ODEs; eegsnn simulates discrete-time recurrences with a step
``dt``. This module converts between the two with one documented mapping (``docs/nir.md``):

.. code-block:: python

    from eegsnn.interop.nir import export_nir, import_nir, save_nir, load_nir

    graph = export_nir(model, dt_s=1e-3)          # SpikingNet -> nir.NIRGraph
    save_nir(model, "net.nir", dt_s=1e-3)         # ... written to HDF5 (atomic)
    model2 = load_nir("net.nir")                  # -> SpikingNet, same outputs
    model3 = import_nir(other_graph, dt_s=1e-4)   # a graph from another tool: give dt

The mapping
-----------
Every NIR neuron used here integrates ``tau dv/dt = (v_leak - v) + r I``. Over one step
``dt`` both discretisations eegsnn supports give the same form

.. math::

    v[t] = \beta\,v[t-1] + (1 - \beta)\,(v_\mathrm{leak} + r\,I[t]),

with :math:`\beta = 1 - \Delta t/\tau` (``method="euler"``, forward Euler: what snnTorch,
Norse and Spyx use, the default) or :math:`\beta = e^{-\Delta t/\tau}` (``method="exp"``,
exact decay with the input held over the step). eegsnn's ``Leaky`` adds its input with gain
1 (:math:`U[t] = \beta U[t-1] + X[t]`), so export writes

.. math::

    \tau = \frac{\Delta t}{1-\beta}\ (\text{euler}) \text{ or } \frac{-\Delta t}{\ln\beta}\
    (\text{exp}), \qquad r = \frac{1}{1 - \beta}, \qquad v_\mathrm{leak} = 0,

(for ``euler`` this is snnTorch's ``tau = dt/(1-beta)``, ``r = tau/dt``), and import folds
the input gain :math:`g = (1-\beta)\,r` and the leak drive :math:`(1-\beta) v_\mathrm{leak}`
into the weights and bias of the preceding ``Affine``/``Linear`` (exactly; a diagonal linear
layer is inserted when there is none). ``CubaLIF`` adds the synapse
``tau_syn dI/dt = -I + w_in S`` with :math:`\alpha` from ``tau_syn`` the same way and
``w_in = 1/(1-alpha)``; the membrane uses the *new* current (synapse first, as snnTorch's
``Synaptic``). ``IF``: :math:`dv/dt = r I`, so ``r = 1/dt``. Non-spiking readouts
(``reset_mechanism="none"``) become ``LI`` / ``I`` / ``CubaLI``.

Resets. NIR has one reset: on :math:`v > v_\mathrm{thr}` emit a spike and set
:math:`v \leftarrow v_\mathrm{reset}` at once. eegsnn's ``Leaky``/``IF`` ``"zero"`` reset
gives the same spikes with the default delayed reset (the stored trace shows the
pre-reset value at spike steps) and is exported exactly. ``Synaptic``'s delayed ``"zero"``
(snnTorch's) clears the whole next membrane, input included: not NIR; ``reset_delay=False``
is. ``"subtract"`` has no NIR form. What cannot be represented raises
:class:`~eegsnn.errors.ConfigError` (``on_unsupported="error"``, default) or is written as
NIR's reset-to-zero with a :class:`RuntimeWarning` (``"warn"``); the original eegsnn neuron
config is always kept in the node's ``metadata["eegsnn"]`` (JSON), so an eegsnn round trip
is exact while other tools run what the NIR node says.

The graph's ``metadata["eegsnn"]`` records ``dt_s``, ``method``, the readout and the input
shape; :func:`import_nir` uses them unless overridden. A graph from another tool has no
``dt_s``: pass it (snnTorch writes its graphs with ``dt = 1e-4``).

:func:`simulate_nir` is an independent NumPy (float64) simulator of the NIR semantics above,
used to check exports against what a NIR backend would run.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.extras import require
from eegsnn.model.network import SpikingNet, build_model
from eegsnn.nn import IF, Leaky, Synaptic
from eegsnn.nn.registry import upgrade_neuron_config

__all__ = [
    "METHODS",
    "beta_to_tau",
    "export_nir",
    "import_nir",
    "load_nir",
    "nir_to_config",
    "save_nir",
    "simulate_nir",
    "tau_to_beta",
]

METHODS = ("euler", "exp")
FORMAT = "eegsnn-nir"
VERSION = 1


def _nir(purpose: str = "NIR export/import"):
    return require("nir", "nir", purpose)


# ----------------------------------------------------------------------------- mapping


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"NIR: method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def _check_dt(dt_s: Any) -> float:
    if isinstance(dt_s, bool) or not isinstance(dt_s, (int, float, np.floating)) or \
            not math.isfinite(float(dt_s)) or float(dt_s) <= 0:
        raise ConfigError(f"NIR: dt_s must be a positive number of seconds, got {dt_s!r}")
    return float(dt_s)


def tau_to_beta(tau: Any, dt_s: float, method: str = "euler") -> np.ndarray:
    r"""Per-step decay of ``tau dv/dt = -v``: :math:`1 - \Delta t/\tau` (euler) or
    :math:`e^{-\Delta t/\tau}` (exp). ``tau`` in seconds (array-like, > 0)."""
    dt_s, method = _check_dt(dt_s), _check_method(method)
    tau = np.asarray(tau, dtype=np.float64)
    if np.any(~(tau > 0)):
        raise ConfigError(f"NIR: time constants must be > 0 s, got {tau.ravel()[:4]}")
    beta = 1.0 - dt_s / tau if method == "euler" else np.exp(-dt_s / tau)
    if np.any(beta < 0):
        raise ConfigError(
            f"NIR: tau = {float(tau.min()):g} s is shorter than dt_s = {dt_s:g} s, which gives "
            "a negative forward-Euler decay; use a smaller dt_s or method='exp'"
        )
    return beta


def beta_to_tau(beta: Any, dt_s: float, method: str = "euler") -> np.ndarray:
    r"""Inverse of :func:`tau_to_beta`: :math:`\tau = \Delta t/(1-\beta)` (euler) or
    :math:`-\Delta t/\ln\beta` (exp), for :math:`\beta \in [0, 1)` (``exp``: ``(0, 1)``)."""
    dt_s, method = _check_dt(dt_s), _check_method(method)
    beta = np.asarray(beta, dtype=np.float64)
    if np.any((beta < 0) | (beta >= 1)):
        raise ConfigError(f"NIR: a decay of 1 has no finite time constant (got {beta.max():g})")
    if method == "euler":
        return dt_s / (1.0 - beta)
    if np.any(beta <= 0):
        raise ConfigError("NIR: beta = 0 has no finite time constant with method='exp'; "
                          "use method='euler'")
    return -dt_s / np.log(beta)


# ----------------------------------------------------------------------------- export


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


# ----------------------------------------------------------------------------- import


def _graph_meta(graph: Any) -> dict[str, Any]:
    raw = (getattr(graph, "metadata", None) or {}).get("eegsnn")
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf8")
    try:
        meta = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _chain(graph: Any) -> list[str]:
    """Node names from the Input to the Output of a chain graph (ConfigError otherwise)."""
    nir = _nir("NIR import")
    succ: dict[str, list[str]] = {k: [] for k in graph.nodes}
    pred: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        if a not in succ or b not in succ:
            raise ConfigError(f"NIR import: edge ({a!r}, {b!r}) names a node not in the graph")
        succ[a].append(b)
        pred[b].append(a)
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ConfigError(f"NIR import: expected one Input node, found {len(inputs)}")
    order, node = [], inputs[0]
    seen = set()
    while True:
        if node in seen:
            raise ConfigError(f"NIR import: node {node!r} is part of a cycle; only "
                              "feedforward chains are supported")
        seen.add(node)
        order.append(node)
        if isinstance(graph.nodes[node], nir.Output):
            break
        nxt = succ[node]
        if len(nxt) != 1:
            raise ConfigError(f"NIR import: node {node!r} has {len(nxt)} successors; only "
                              "feedforward chains (one path from Input to Output) are "
                              "supported")
        if len(pred[nxt[0]]) != 1:
            raise ConfigError(f"NIR import: node {nxt[0]!r} has {len(pred[nxt[0]])} inputs "
                              "(recurrent or merging graphs are not supported)")
        node = nxt[0]
    if len(order) != len(graph.nodes):
        extra = sorted(set(graph.nodes) - set(order))
        raise ConfigError(f"NIR import: nodes {extra} are not on the Input-Output path")
    return order


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


# ----------------------------------------------------------------------------- reference


def simulate_nir(graph: Any, x: Any, *, dt_s: float | None = None,
                 method: str | None = None) -> np.ndarray:
    r"""Run a NIR chain graph on ``x [T, B, F]`` in NumPy (float64); returns ``[T, B, F_out]``.

    An independent reading of the NIR equations (not the eegsnn neurons), discretised as in
    the module docstring: per step, synapse first (``CubaLIF``), then
    :math:`v \leftarrow \beta v + (1-\beta)(v_\mathrm{leak} + r I)` (``IF``/``I``:
    :math:`v \leftarrow v + \Delta t\,r I`), spike where :math:`v > v_\mathrm{thr}` and set
    :math:`v \leftarrow v_\mathrm{reset}` at once. The output of a spiking node is its
    spikes, of ``LI``/``I``/``CubaLI`` its membrane; states start at 0.
    """
    nir = _nir("NIR simulation")
    meta = _graph_meta(graph)
    dt_s = _check_dt(dt_s if dt_s is not None else meta.get("dt_s", None) or _missing_dt())
    method = _check_method(method or meta.get("method", "euler"))
    h = np.asarray(x, dtype=np.float64)
    if h.ndim != 3:
        raise ConfigError(f"simulate_nir: x must be [T, B, F], got shape {h.shape}")
    for name in _chain(graph)[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, nir.Affine):
            h = h @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
        elif isinstance(node, nir.Linear):
            h = h @ np.asarray(node.weight, np.float64).T
        elif isinstance(node, nir.Scale):
            h = h * np.asarray(node.scale, np.float64)
        elif isinstance(node, nir.Flatten):
            continue
        else:
            h = _simulate_neuron(nir, node, h, dt_s, method)
    return h


def _missing_dt() -> float:
    raise ConfigError("simulate_nir: pass dt_s (the graph does not record it)")


def _simulate_neuron(nir: Any, node: Any, h: np.ndarray, dt_s: float, method: str
                     ) -> np.ndarray:
    def p(name: str) -> np.ndarray:
        return np.asarray(getattr(node, name), dtype=np.float64)

    n_steps = h.shape[0]
    v = np.zeros(h.shape[1:])
    i_syn = np.zeros(h.shape[1:])
    out = np.empty_like(h)
    spiking = isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF))
    for t in range(n_steps):
        drive = h[t]
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            a = tau_to_beta(p("tau_syn"), dt_s, method)
            i_syn = a * i_syn + (1.0 - a) * p("w_in") * drive
            drive = i_syn
        if isinstance(node, (nir.IF, nir.I)):
            v = v + dt_s * p("r") * drive
        else:
            tau = p("tau_mem") if isinstance(node, (nir.CubaLIF, nir.CubaLI)) else p("tau")
            b = tau_to_beta(tau, dt_s, method)
            v = b * v + (1.0 - b) * (p("v_leak") + p("r") * drive)
        if spiking:
            z = (v > p("v_threshold")).astype(np.float64)
            v = np.where(z > 0, p("v_reset"), v)
            out[t] = z
        else:
            out[t] = v
    return out
