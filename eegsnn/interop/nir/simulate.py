r"""A NumPy (float64) reference simulator of the NIR semantics, independent of the eegsnn
neurons: what a NIR backend would run, to check exports against."""

from __future__ import annotations

from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.interop.nir.mapping import (
    _chain,
    _check_dt,
    _check_method,
    _graph_meta,
    _nir,
    tau_to_beta,
)

__all__ = ["simulate_nir"]



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
