r"""A NumPy (float64) reference simulator of the NIR semantics, independent of the eegsnn
neurons: what a NIR backend would run, to check exports against."""

from __future__ import annotations

from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.interop.nir.mapping import (
    _check_dt,
    _check_method,
    _graph_meta,
    _nir,
    tau_to_beta,
)

__all__ = ["simulate_nir"]


def simulate_nir(graph: Any, x: Any, *, dt_s: float | None = None,
                 method: str | None = None) -> np.ndarray:
    r"""Run a NIR graph on ``x [T, B, F]`` in NumPy (float64); returns ``[T, B, F_out]``.

    An independent reading of the NIR equations (not the eegsnn neurons), discretised as in
    the module docstring: per step, synapse first (``CubaLIF``), then
    :math:`v \leftarrow \beta v + (1-\beta)(v_\mathrm{leak} + r I)` (``IF``/``I``:
    :math:`v \leftarrow v + \Delta t\,r I`), spike where :math:`v > v_\mathrm{thr}` and set
    :math:`v \leftarrow v_\mathrm{reset}` at once. The output of a spiking node is its
    spikes, of ``LI``/``I``/``CubaLI`` its membrane; states start at 0. A node's input is
    the sum over its incoming edges. Cycles (recurrence, the portable resets and
    integrators) carry one step of delay, the convention of discrete NIR backends
    (nirtorch): nodes run in depth-first order from the Input, and an edge back to an
    earlier node delivers its source's output of the previous step (zero at the first).
    """
    nir = _nir("NIR simulation")
    meta = _graph_meta(graph)
    dt_s = _check_dt(dt_s if dt_s is not None else meta.get("dt_s", None) or _missing_dt())
    method = _check_method(method or meta.get("method", "euler"))
    h = np.asarray(x, dtype=np.float64)
    if h.ndim != 3:
        raise ConfigError(f"simulate_nir: x must be [T, B, F], got shape {h.shape}")
    order, preds = _schedule(nir, graph)
    pos = {name: i for i, name in enumerate(order)}
    prev: dict[str, np.ndarray] = {}
    states: dict[str, dict[str, np.ndarray]] = {}
    outputs = []
    for t in range(h.shape[0]):
        cur: dict[str, np.ndarray] = {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                cur[name] = h[t]
                continue
            inp: Any = 0.0
            for src in preds[name]:
                if pos[src] < pos[name]:
                    inp = inp + cur[src]
                elif src in prev:
                    inp = inp + prev[src]
            if isinstance(node, nir.Output):
                cur[name] = inp
                continue
            if np.ndim(inp) == 0:
                inp = np.zeros((*h.shape[1:2], _size(node)))
            cur[name] = _step(nir, node, inp, states.setdefault(name, {}), dt_s, method)
        outputs.append(next(cur[k] for k in order if isinstance(graph.nodes[k], nir.Output)))
        prev = cur
    return np.stack(outputs)


def _missing_dt() -> float:
    raise ConfigError("simulate_nir: pass dt_s (the graph does not record it)")


def _schedule(nir: Any, graph: Any) -> tuple[list[str], dict[str, list[str]]]:
    """Nodes in reverse depth-first post-order from the Input, and each node's sources."""
    succ: dict[str, list[str]] = {k: [] for k in graph.nodes}
    preds: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        if a not in succ or b not in succ:
            raise ConfigError(f"simulate_nir: edge ({a!r}, {b!r}) names a node not in the "
                              "graph")
        succ[a].append(b)
        preds[b].append(a)
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ConfigError(f"simulate_nir: expected one Input node, found {len(inputs)}")
    post: list[str] = []
    seen: set[str] = set()
    stack = [(inputs[0], iter(succ[inputs[0]]))]
    seen.add(inputs[0])
    while stack:
        node, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            post.append(node)
            stack.pop()
        elif nxt not in seen:
            seen.add(nxt)
            stack.append((nxt, iter(succ[nxt])))
    if len(post) != len(graph.nodes):
        raise ConfigError(f"simulate_nir: nodes {sorted(set(graph.nodes) - seen)} are not "
                          "reachable from the Input")
    return post[::-1], preds


def _size(node: Any) -> int:
    """Input features of a node (weights are ``[out, in]``)."""
    if hasattr(node, "weight"):
        return int(np.asarray(node.weight).shape[-1])
    for name in ("tau", "tau_mem", "r", "scale"):
        if hasattr(node, name):
            return int(np.asarray(getattr(node, name)).reshape(-1).shape[0])
    raise ConfigError(f"simulate_nir: cannot size node {type(node).__name__}")


def _step(nir: Any, node: Any, inp: np.ndarray, state: dict[str, np.ndarray], dt_s: float,
          method: str) -> np.ndarray:
    """One step of ``node`` on its summed input ``inp [B, F]``; ``state`` is updated."""
    def p(name: str) -> np.ndarray:
        return np.asarray(getattr(node, name), dtype=np.float64)

    if isinstance(node, nir.Affine):
        return inp @ p("weight").T + p("bias")
    if isinstance(node, nir.Linear):
        return inp @ p("weight").T
    if isinstance(node, nir.Scale):
        return inp * p("scale")
    if isinstance(node, nir.Flatten):
        return inp
    if not isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.I, nir.CubaLI)):
        raise ConfigError(f"simulate_nir: node type {type(node).__name__} is not simulated")
    v = state.get("v", np.zeros_like(inp))
    drive = inp
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        a = tau_to_beta(p("tau_syn"), dt_s, method)
        i_syn = a * state.get("i", np.zeros_like(inp)) + (1.0 - a) * p("w_in") * drive
        state["i"] = i_syn
        drive = i_syn
    if isinstance(node, (nir.IF, nir.I)):
        v = v + dt_s * p("r") * drive
    else:
        tau = p("tau_mem") if isinstance(node, (nir.CubaLIF, nir.CubaLI)) else p("tau")
        b = tau_to_beta(tau, dt_s, method)
        v = b * v + (1.0 - b) * (p("v_leak") + p("r") * drive)
    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
        z = (v > p("v_threshold")).astype(np.float64)
        state["v"] = np.where(z > 0, p("v_reset"), v)
        return z
    state["v"] = v
    return v
