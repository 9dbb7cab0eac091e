"""The NIR <-> eegsnn mapping (see the package docstring and ``docs/nir.md``): the two
discretisations (``euler``, ``exp``), ``tau`` <-> ``beta``, and how eegsnn reads a graph
(its ``metadata["eegsnn"]`` record, the Input -> Output chain order)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.extras import require

__all__ = ["FORMAT", "METHODS", "VERSION", "beta_to_tau", "tau_to_beta"]

METHODS = ("euler", "exp")
FORMAT = "eegsnn-nir"
VERSION = 1


def _nir(purpose: str = "NIR export/import"):
    return require("nir", "nir", purpose)


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
