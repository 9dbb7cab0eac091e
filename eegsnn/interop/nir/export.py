"""eegsnn -> NIR: :func:`export_nir` (a :class:`~eegsnn.model.SpikingNet` as a
``nir.NIRGraph``) and :func:`save_nir` (written to a ``.nir`` file, atomically)."""

from __future__ import annotations

import json
import os
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
from eegsnn.io.files import atomic_path
from eegsnn.model.network import SpikingNet
from eegsnn.nn import IF, Leaky, RLeaky, Synaptic

__all__ = ["FORMS", "UnsupportedNIRError", "export_nir", "export_reservoir", "save_nir"]


class UnsupportedNIRError(ConfigError):
    """A construct NIR cannot represent exactly (``on_unsupported="error"``); ``problem``
    is the message without the Python hint, for callers (the CLI) that give their own."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


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
        hint = "export with form='portable' (exact) or " if "subtract" in message else ""
        raise UnsupportedNIRError(
            f"NIR export: {message}; {hint}pass on_unsupported='warn' to export NIR's "
            "reset-to-zero instead (the eegsnn neuron is kept in the node metadata)", message)
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
    out: list[tuple[str, Any]] = []
    for i, m in enumerate(modules):
        if isinstance(m, nn.Linear):
            out.append(("linear", m))
        elif type(m) is Leaky:
            out.append(("leaky", m))
        elif type(m) is IF:
            out.append(("if", m))
        elif type(m) is Synaptic:
            out.append(("synaptic", m))
        elif type(m) is RLeaky:
            out.append(("rleaky", m))
        elif isinstance(m, nn.Dropout) or type(m).__name__ == "Dropout":
            out.append(("dropout", m))
        else:
            raise ConfigError(f"NIR export: layer {i} ({type(m).__name__}) is not supported "
                              "(Linear, Leaky, IF, Synaptic, Dropout)")
    return out, None, None


FORMS = ("portable", "native")


def _meta(cfg: dict[str, Any] | None, **extra: str) -> dict[str, str]:
    out = {"eegsnn": json.dumps(cfg)} if cfg is not None else {}
    out.update(extra)
    return out


class _Graph:
    """Nodes and edges being built; ``tail`` is the node whose output feeds the next."""

    def __init__(self, nir: Any, n: int) -> None:
        self.nir = nir
        self.nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([n]))}
        self.edges: list[tuple[str, str]] = []
        self.tail = "input"

    def add(self, name: str, node: Any) -> None:
        self.nodes[name] = node
        self.edges.append((self.tail, name))
        self.tail = name

    def loop(self, name: str, weight: np.ndarray, role: str) -> None:
        """A feedback ``name -> name.fb (weight) -> name.hold (identity) -> name``: the
        previous step's output of ``name`` times ``weight`` added to its input. Two
        stateless nodes (not one) so that snnTorch 1.0's importer, which rewrites a
        two-node neuron <-> Linear cycle into an ``RSynaptic`` that nirtorch 2 then runs
        wrongly, leaves the cycle to nirtorch's graph executor (one step of delay on the
        cycle, as in every discrete NIR backend)."""
        nir, n = self.nir, weight.shape[0]
        self.nodes[f"{name}.fb"] = nir.Linear(weight=weight.astype(np.float32),
                                              metadata={"eegsnn_part": role})
        self.nodes[f"{name}.hold"] = nir.Linear(weight=np.eye(n, dtype=np.float32),
                                                metadata={"eegsnn_part": role})
        self.edges += [(name, f"{name}.fb"), (f"{name}.fb", f"{name}.hold"),
                       (f"{name}.hold", name)]


def _portable_neuron(g: _Graph, kind: str, neuron: Any, n: int, dt_s: float, method: str,
                     name: str, on_unsupported: str, recurrent: np.ndarray | None = None
                     ) -> bool:
    """Write ``neuron`` in the portable form when it needs one; ``False`` leaves it to the
    native mapping (zero-reset Leaky/IF, Synaptic). ``recurrent [N, N]`` (post, pre): more
    feedback of the previous step's spikes (a reservoir's connections)."""
    nir = g.nir
    reset = neuron.reset_mechanism
    cfg = json.loads(_neuron_meta(neuron)["eegsnn"])
    if kind in ("leaky", "if") and reset == "none":
        beta = 1.0 if kind == "if" else _full(_value(neuron, "beta"), n, "beta")
        g.add(name, nir.Linear(weight=np.eye(n, dtype=np.float32),
                               metadata=_meta(cfg, eegsnn_form="integrator")))
        if np.any(beta != 0.0):
            g.loop(name, np.diag(np.broadcast_to(beta, (n,))), "integrator")
        return True
    if recurrent is not None and reset != "subtract":
        raise ConfigError(f"NIR export: {name}: a recurrent population of "
                          f"{type(neuron).__name__} with reset_mechanism={reset!r} has no exact "
                          "portable form (the subtract reset has)")
    is_rec = kind in ("rleaky", "rsynaptic")
    if reset != "subtract" and not is_rec:
        return False
    where = f"layer {name} ({type(neuron).__name__}, reset_mechanism={reset!r})"
    if kind in ("synaptic", "rsynaptic") or reset != "subtract" or not neuron.reset_delay:
        raise ConfigError(f"NIR export: {where}: no exact NIR form (the portable form "
                          "carries Leaky and RLeaky with the delayed subtract reset, zero-reset "
                          "Leaky/IF and Synaptic with reset_delay=False; docs/nir.md)")
    if method != "euler":
        raise ConfigError(f"NIR export: {where}: the portable subtract reset needs "
                          "method='euler' (a memoryless membrane, tau_mem = dt)")
    beta = np.ones(n) if kind == "if" else _full(_value(neuron, "beta"), n, "beta")
    if np.any(beta >= 1.0):
        raise ConfigError(f"NIR export: {where}: a subtract reset without leak (beta = 1) "
                          "has no portable NIR form; use beta < 1 or reset_mechanism 'zero'")
    thr = _full(_value(neuron, "threshold"), n, "threshold")
    feedback = -np.diag(thr)
    if recurrent is not None:
        feedback = feedback + np.asarray(recurrent, np.float64)
    if is_rec:
        bias = None
        if neuron.all_to_all:
            rec = neuron.recurrent
            feedback = feedback + np.asarray(rec.weight, np.float64)
            bias = rec["bias"] if "bias" in rec else None
        else:
            feedback = feedback + np.diag(_full(_value(neuron, "V"), n, "V"))
        if bias is not None:  # constant every step: folded into the feedforward bias
            prev = g.nodes.get(g.tail)
            b = np.asarray(bias, np.float32)
            if isinstance(prev, nir.Affine):
                prev.bias = (np.asarray(prev.bias, np.float32) + b).astype(np.float32)
            else:
                g.add(f"{name}.bias", nir.Affine(weight=np.eye(n, dtype=np.float32), bias=b))
    # U[t] = beta U[t-1] + X[t] - thr S[t-1]: the synaptic current of a CubaLIF is the
    # membrane (tau_syn from beta, w_in = 1/(1-beta): gain 1), its own membrane is
    # memoryless (tau_mem = dt, r = 1: v = I) and the reset goes back through the loop.
    g.add(name, nir.CubaLIF(
        tau_syn=beta_to_tau(beta, dt_s, "euler"), tau_mem=np.full(n, dt_s), r=np.ones(n),
        v_leak=np.zeros(n), v_threshold=thr, v_reset=np.zeros(n), w_in=1.0 / (1.0 - beta),
        metadata=_meta(cfg, eegsnn_form="subtract")))
    g.loop(name, feedback, "reset")
    return True


def export_nir(model: Any, *, dt_s: float = 1e-4, method: str = "euler",
               on_unsupported: str = "error", form: str = "portable",
               metadata: dict[str, Any] | None = None) -> Any:
    """Convert a trained network into a ``nir.NIRGraph``.

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` (linear / leaky / if / synaptic /
            rleaky / dropout / flat flatten layers; ``batchnorm`` with its running
            statistics and ``spatial`` on flat input as ``Affine``) or a list /
            ``nn.Sequential`` of ``nn.Linear`` and ``Leaky`` / ``IF`` / ``Synaptic``.
        dt_s: the simulation step the discrete parameters refer to, in seconds (default
            1e-4, the step snnTorch assumes when it reads NIR). Time constants scale with it.
        method: ``"euler"`` (default) or ``"exp"``, see the module docstring.
        on_unsupported: ``"error"`` or ``"warn"`` for resets NIR cannot represent
            (``form="native"``).
        form: ``"portable"`` (default): exact forms snnTorch 1.0 and Norse 1.1 import and
            run (``docs/nir.md``): the subtract reset as a ``CubaLIF`` whose synapse holds
            the membrane with a reset loop, a non-spiking integrator (the readout) as an
            identity ``Linear`` with a decay loop, ``rleaky`` as a loop through its
            recurrent weights. ``"native"``: one NIR neuron node per layer (``LI`` for the
            integrator; the subtract reset refused or, with ``on_unsupported="warn"``,
            written as NIR's reset to zero).
        metadata: more JSON-able entries for the graph's ``metadata["eegsnn"]`` record
            (``eegsnn export`` adds the run, its classes and the signal time per step).

    Returns:
        A graph ``input -> <kind>_<layer index> ... -> output``; dropout is left out
        (identity at inference). Graph and neuron ``metadata["eegsnn"]`` hold JSON records.

    Raises:
        MissingExtraError: ``nir`` is not installed. ConfigError: an unsupported layer or
        neuron, or a reset the chosen form cannot represent.
    """
    nir = _nir("NIR export")
    dt_s, method = _check_dt(dt_s), _check_method(method)
    if on_unsupported not in ("error", "warn"):
        raise ConfigError(f"NIR export: on_unsupported must be 'error' or 'warn', got "
                          f"{on_unsupported!r}")
    if form not in FORMS:
        raise ConfigError(f"NIR export: form must be one of {', '.join(FORMS)}, got {form!r}")
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
    g = _Graph(nir, n)
    for i, (kind, module) in enumerate(layers):
        name = f"{kind}_{i}"
        if kind in ("dropout", "flatten"):
            continue
        if kind in ("batchnorm", "spatial"):  # per-step affine maps: exact as NIR Affine
            w, b = _affine_of(kind, module)
            if w.shape[1] != n:
                raise ConfigError(f"NIR export: layer {i} ({kind}) expects {w.shape[1]} "
                                  f"inputs but receives {n}")
            g.add(name, nir.Affine(weight=w, bias=b))
            n = int(w.shape[0])
        elif kind == "linear":
            w = np.array(module.weight, dtype=np.float32)
            if w.shape[1] != n:
                raise ConfigError(f"NIR export: layer {i} expects {w.shape[1]} inputs but "
                                  f"receives {n}")
            if "bias" in module:
                g.add(name, nir.Affine(weight=w, bias=np.array(module.bias, np.float32)))
            else:
                g.add(name, nir.Linear(weight=w))
            n = int(w.shape[0])
        elif kind in ("leaky", "if", "synaptic", "rleaky", "rsynaptic"):
            if form == "portable" and _portable_neuron(g, kind, module, n, dt_s, method,
                                                       name, on_unsupported):
                continue
            if kind in ("rleaky", "rsynaptic"):
                raise ConfigError(f"NIR export: layer {i} ({kind}) is recurrent; use "
                                  "form='portable' (rleaky with the subtract reset)")
            g.add(name, _export_neuron(kind, module, n, dt_s, method, on_unsupported, name))
        else:
            raise ConfigError(f"NIR export: layer {i} of type {kind!r} has no NIR form here "
                              "(exported: linear, leaky, if, synaptic, rleaky, dropout, "
                              "batchnorm, spatial on flat input; conv_time and avgpool_time "
                              "act across time steps, which a NIR node cannot)")
    g.add("output", nir.Output(output_type=np.array([n])))
    meta = {"format": FORMAT, "version": VERSION, "dt_s": dt_s, "method": method,
            "readout": readout, "input_shape": [int(s) for s in input_shape], "form": form,
            **(metadata or {})}
    try:
        return nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={"eegsnn": json.dumps(meta)})
    except (AssertionError, ValueError) as exc:
        raise ConfigError(f"NIR export: the nir package rejected the graph ({exc})") from exc


def export_reservoir(reservoir: Any, *, dt_s: float = 1e-4,
                     metadata: dict[str, Any] | None = None) -> Any:
    """A liquid state machine's reservoir (:class:`~eegsnn.nn.Reservoir`) as a NIR graph.

    ``input -> w_in (Linear [N, n_inputs]) -> reservoir -> output`` (the reservoir's spikes
    ``[N]`` per step), the reservoir a subtract-reset Leaky population in the portable form
    whose loop carries its connections ``W [post, pre]`` minus the reset (``W - thr I``):
    ``U[t] = beta U[t-1] + W_in x[t] + W s[t-1] - thr s[t-1]``.
    The readout (binned spike counts and a ridge or logistic map) acts on whole windows
    and is no NIR node; ``metadata`` may carry it.

    Raises:
        ConfigError: synaptic delays longer than one step, or a neuron other than a
        subtract-reset Leaky (with beta < 1).
    """
    nir = _nir("NIR export")
    dt_s = _check_dt(dt_s)
    if reservoir.max_delay != 1:
        raise ConfigError(f"NIR export: the reservoir has synaptic delays of up to "
                          f"{reservoir.max_delay} steps; NIR export supports one-step "
                          "connections only")
    neuron = reservoir.neuron
    kind = getattr(neuron, "config_type", type(neuron).__name__.lower())
    if type(neuron) is not Leaky:
        raise ConfigError(f"NIR export: reservoir neuron {type(neuron).__name__} is not "
                          "exported (Leaky with the subtract reset is)")
    n, n_in = reservoir.n_neurons, reservoir.n_inputs
    g = _Graph(nir, n_in)
    g.add("w_in", nir.Linear(weight=np.asarray(reservoir.w_in, np.float32)))
    w_rec = reservoir.recurrent_weights.toarray().astype(np.float64)
    _portable_neuron(g, kind, neuron, n, dt_s, "euler", "reservoir", "error",
                     recurrent=w_rec)
    g.add("output", nir.Output(output_type=np.array([n])))
    meta = {"format": FORMAT, "version": VERSION, "dt_s": dt_s, "method": "euler",
            "readout": None, "input_shape": [n_in], "form": "portable",
            "model": "lsm_reservoir", **(metadata or {})}
    return nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={"eegsnn": json.dumps(meta)})


def save_nir(model: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """:func:`export_nir` (or a ready ``nir.NIRGraph``) written to ``path`` (HDF5,
    atomically: :func:`eegsnn.io.files.atomic_path`); returns the path."""
    nir = _nir("NIR export")
    graph = model if isinstance(model, nir.NIRGraph) else export_nir(model, **kwargs)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path
