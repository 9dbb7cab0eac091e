r"""Synaptic operations, activation sparsity and an energy estimate per prediction.

Counts follow NeuroBench's definitions (Yik et al., "NeuroBench: a framework for
benchmarking neuromorphic computing algorithms and systems", Nature Communications 2025;
``neurobench.metrics`` *synaptic operations*):

* **effective ACs**: for a synaptic layer (``linear``, ``conv1d``/``conv2d``, ``conv_time``,
  ``spatial``, the recurrent weights of ``rleaky``/``rsynaptic``) whose input is spikes
  (every value 0 or +-1), each non-zero input element triggers one accumulate per
  connection it fans out to;
* **effective MACs**: the same count for a layer with analog (non-binary) input, e.g. the
  ``direct`` encoder's current, a batch-normalised map, or a count code (several events
  per step, values > 1; NeuroBench counts any non-binary input as MACs): one
  multiply-accumulate per (non-zero input element, connection) pair; zeros are skipped;
* **dense MACs** (``ann_equivalent_mac``): every connection at every step, zeros
  included: the same network run as a non-spiking ANN (activations in place of spikes) on
  the same ``T`` steps.

The counting is exact and generic: a layer's weights are replaced by ones and its bias by
zeros and it is applied to the indicator of its non-zero inputs (``1[x != 0]``); the sum of
the result is the number of (non-zero input, connection) pairs (NeuroBench counts the same
way). Zero *weights* are counted (sparse weights are not exploited). Neuron state updates,
``batchnorm`` (foldable into the weights at inference), ``avgpool_time``, ``dropout`` and
the readout reduction are not synaptic operations and are not counted.

Energy (an estimate, with its assumption recorded in every output):
:math:`E = 0.9\,\text{pJ} \times \text{AC} + 4.6\,\text{pJ} \times \text{MAC}`, the 45 nm
CMOS cost of a 32-bit float add (0.9 pJ) and of a 32-bit float multiply (3.7 pJ) plus add
(M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
pp. 10-14). Memory access, which dominates on real hardware, is not included.

.. code-block:: python

    from eegsnn.evaluate.energy import synops
    rep = synops(model, spikes)        # spikes [T, B, ...]: B predictions
    rep["per_prediction_ac"], rep["energy_pj"], rep["ann_energy_pj"], rep["per_layer"]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from eegsnn.errors import ConfigError
from eegsnn.model.network import RECURRENT, STATELESS, SpikingNet

__all__ = ["ASSUMPTIONS", "E_AC_PJ", "E_MAC_PJ", "SYNAPTIC", "combine", "describe",
           "synops", "window_synops"]

#: Energy of one accumulate (32-bit float add) and one multiply-accumulate (32-bit float
#: multiply + add) in 45 nm CMOS, picojoules (Horowitz, ISSCC 2014).
E_AC_PJ = 0.9
E_MAC_PJ = 4.6
#: Layer types whose weights are synapses (their operations are counted).
SYNAPTIC = ("linear", "conv1d", "conv2d", "conv_time", "spatial")
#: Recorded beside every estimate.
ASSUMPTIONS = {
    "e_ac_pj": E_AC_PJ,
    "e_mac_pj": E_MAC_PJ,
    "source": "Horowitz, 'Computing's energy problem (and what we can do about it)', "
              "ISSCC 2014: 45 nm CMOS, 32-bit float add 0.9 pJ (AC), multiply 3.7 pJ + add "
              "0.9 pJ (MAC)",
    "definitions": "NeuroBench synaptic operations: effective ACs (non-zero spike inputs x "
                   "fan-out), effective MACs (non-zero analog inputs x fan-out), dense MACs "
                   "(every connection every step: the same network as a non-spiking ANN)",
    "not_counted": "neuron state updates, batchnorm, avgpool_time, memory access",
}


def _trace(model: SpikingNet, x: mx.array) -> Iterator[tuple[int, str, Any, mx.array,
                                                             mx.array]]:
    """``(index, kind, layer, input, output)`` of every layer of ``model`` on ``x``, the
    same computation as :meth:`SpikingNet.__call__` (a neuron layer's output is its
    spikes ``[T, B, ...]``)."""
    h = x
    batch = x.shape[1]
    for i, (kind, layer) in enumerate(zip(model.kinds, model.layers, strict=True)):
        inp = h
        steps = h.shape[0]
        if kind in ("conv1d", "conv2d"):
            out = layer(h.reshape(steps * batch, *h.shape[2:]))
            h = out.reshape(steps, batch, *out.shape[1:])
        elif kind in STATELESS:
            h = layer(h)
        else:
            spk, _, _ = layer.unroll(h.reshape(steps, batch, -1))
            h = spk.reshape(steps, batch, *h.shape[2:])
        yield i, kind, layer, inp, h


def _connection_count(kind: str, layer: Any, mask: mx.array) -> float:
    """Sum over the non-zero inputs ``mask`` (0/1, the layer's input shape) of their
    fan-out: the layer with unit weights and no bias applied to the mask."""
    params: list[tuple[str, mx.array]] = tree_flatten(layer.parameters())  # type: ignore[assignment]
    ones = [(k, mx.zeros_like(v) if k.endswith("bias") else mx.ones_like(v))
            for k, v in params]
    layer.update(tree_unflatten(ones))
    try:
        if kind in ("conv1d", "conv2d"):
            out = layer(mask.reshape(-1, *mask.shape[2:]))
        else:
            out = layer(mask)
        total = float(np.asarray(mx.sum(out.astype(mx.float32))))
    finally:
        layer.update(tree_unflatten(params))
    return total


def _is_binary(a: np.ndarray) -> bool:
    return bool(np.all((a == 0) | (np.abs(a) == 1)))


def synops(model: SpikingNet, x: Any, *, batch_size: int = 64) -> dict[str, Any]:
    """Synaptic operations and energy of ``model`` on ``x [T, B, *input_shape]``.

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` (run in eval mode).
        x: the encoded input of ``B`` predictions (windows), spikes or current.
        batch_size: windows per forward pass (memory only; counts do not depend on it).

    Returns:
        ``{"n_predictions", "per_layer": [{"layer", "type", "input": "spikes"|"analog",
        "ac", "mac", "dense_mac", "input_sparsity"}], "per_prediction_ac",
        "per_prediction_mac", "energy_pj", "ann_equivalent_mac", "ann_energy_pj",
        "energy_ratio_ann_to_snn", "activation_sparsity", "neuron_layers": [{"layer",
        "type", "sparsity"}], "assumptions"}``; operation counts and energies are per
        prediction (window), sparsities are fractions of zeros.

    Raises:
        ConfigError: ``model`` is not a SpikingNet or ``x`` has the wrong shape.
    """
    if not isinstance(model, SpikingNet):
        raise ConfigError(f"synops: expected a SpikingNet, got {type(model).__name__} "
                          "(an LSM has no per-layer count here)")
    x = mx.array(np.asarray(x, dtype=np.float32)) if not isinstance(x, mx.array) else x
    expected = tuple(model.config["input_shape"])
    if x.ndim != len(expected) + 2 or tuple(x.shape[2:]) != expected or x.shape[1] == 0:
        raise ConfigError(f"synops: expected input [T, B, {', '.join(map(str, expected))}] "
                          f"with B > 0, got {list(x.shape)}")
    if batch_size < 1:
        raise ConfigError(f"synops: batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    layers: dict[int, dict[str, Any]] = {}
    neurons: dict[int, dict[str, Any]] = {}
    try:
        for start in range(0, x.shape[1], batch_size):
            chunk = x[:, start:start + batch_size]
            for i, kind, layer, inp, out in _trace(model, chunk):
                if kind in SYNAPTIC:
                    a = np.asarray(inp)
                    mask = mx.array((a != 0).astype(np.float32))
                    eff = _connection_count(kind, layer, mask)
                    dense = _connection_count(kind, layer, mx.ones_like(mask))
                    _add(layers, i, kind, _is_binary(a), eff, dense, a.size, int((a == 0).sum()))
                if kind in RECURRENT:  # the recurrent weights see the previous step's spikes
                    s = np.asarray(out).reshape(out.shape[0], out.shape[1], -1)[:-1]
                    fan = s.shape[-1] if layer.all_to_all else 1
                    _add(layers, i, f"{kind}.recurrent", True, float((s != 0).sum()) * fan,
                         float(s.size) * fan, s.size, int((s == 0).sum()))
                if kind not in STATELESS and getattr(layer, "reset_mechanism", "") != "none":
                    s = np.asarray(out)
                    rec = neurons.setdefault(i, {"layer": i, "type": kind, "n": 0, "zeros": 0})
                    rec["n"] += s.size
                    rec["zeros"] += int((s == 0).sum())
    finally:
        if was_training:
            model.train()
    return _summary(list(layers.values()), list(neurons.values()), int(x.shape[1]))


def window_synops(model: Any, spikes: Any, idx: Any = None, *, limit: int = 256
                  ) -> dict[str, Any] | None:
    """:func:`synops` on the windows ``idx`` of ``spikes [T, W, ...]`` (all: ``None``),
    at most ``limit`` of them, evenly spaced (deterministic); ``None`` when ``model`` is not
    a :class:`SpikingNet` (an LSM) or there are no windows."""
    if not isinstance(model, SpikingNet):
        return None
    idx = np.arange(spikes.shape[1]) if idx is None else np.asarray(idx)
    if idx.size == 0:
        return None
    if idx.size > limit:
        idx = idx[np.linspace(0, idx.size - 1, limit).round().astype(int)]
    x = spikes[:, idx] if isinstance(spikes, np.ndarray) else spikes[:, mx.array(idx)]
    rep = synops(model, x)
    rep["windows_counted"] = int(idx.size)
    return rep


def _add(layers: dict[Any, dict[str, Any]], i: int, kind: str, binary: bool, eff: float,
         dense: float, n: int, zeros: int) -> None:
    key = (i, kind)
    rec = layers.setdefault(key, {"layer": i, "type": kind, "binary": True, "eff": 0.0,
                                  "dense": 0.0, "n": 0, "zeros": 0})
    rec["binary"] = rec["binary"] and binary
    rec["eff"] += eff
    rec["dense"] += dense
    rec["n"] += n
    rec["zeros"] += zeros


def _summary(layers: Sequence[dict[str, Any]], neurons: Sequence[dict[str, Any]],
             n_pred: int) -> dict[str, Any]:
    per_layer = []
    ac = mac = dense = 0.0
    for rec in layers:
        eff = rec["eff"] / n_pred
        d = rec["dense"] / n_pred
        row = {"layer": rec["layer"], "type": rec["type"],
               "input": "spikes" if rec["binary"] else "analog",
               "ac": eff if rec["binary"] else 0.0, "mac": 0.0 if rec["binary"] else eff,
               "dense_mac": d,
               "input_sparsity": rec["zeros"] / rec["n"] if rec["n"] else 0.0}
        per_layer.append(row)
        ac += row["ac"]
        mac += row["mac"]
        dense += d
    n_act = sum(r["n"] for r in neurons)
    zeros = sum(r["zeros"] for r in neurons)
    energy = ac * E_AC_PJ + mac * E_MAC_PJ
    ann = dense * E_MAC_PJ
    return {
        "n_predictions": n_pred,
        "per_layer": per_layer,
        "per_prediction_ac": ac,
        "per_prediction_mac": mac,
        "energy_pj": energy,
        "ann_equivalent_mac": dense,
        "ann_energy_pj": ann,
        "energy_ratio_ann_to_snn": ann / energy if energy > 0 else None,
        "activation_sparsity": zeros / n_act if n_act else None,
        "neuron_layers": [{"layer": r["layer"], "type": r["type"],
                           "sparsity": r["zeros"] / r["n"] if r["n"] else None}
                          for r in neurons],
        "assumptions": dict(ASSUMPTIONS),
    }


def combine(reports: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Pool :func:`synops` reports of one architecture (e.g. the folds of a run), weighted
    by their numbers of predictions; ``None`` for no reports."""
    reports = [r for r in reports if r]
    if not reports:
        return None
    n = sum(r["n_predictions"] for r in reports)

    def wmean(get: Any) -> float | None:
        vals = [(get(r), r["n_predictions"]) for r in reports]
        if any(v is None for v, _ in vals):
            return None
        return float(sum(v * w for v, w in vals) / n)

    out = {k: wmean(lambda r, k=k: r[k]) for k in
           ("per_prediction_ac", "per_prediction_mac", "energy_pj", "ann_equivalent_mac",
            "ann_energy_pj", "activation_sparsity")}
    ann, snn = out["ann_energy_pj"], out["energy_pj"]
    out["energy_ratio_ann_to_snn"] = ann / snn if ann is not None and snn else None
    first = reports[0]
    per_layer = []
    for j, row in enumerate(first["per_layer"]):
        merged = dict(row)
        for key in ("ac", "mac", "dense_mac", "input_sparsity"):
            merged[key] = wmean(lambda r, j=j, key=key: r["per_layer"][j][key])
        per_layer.append(merged)
    return {"n_predictions": n, "per_layer": per_layer, **out,
            "neuron_layers": first["neuron_layers"] if len(reports) == 1 else [
                {**row, "sparsity": wmean(lambda r, j=j: r["neuron_layers"][j]["sparsity"])}
                for j, row in enumerate(first["neuron_layers"])],
            "assumptions": dict(ASSUMPTIONS)}


def describe(rep: dict[str, Any], *, micro: str = "u") -> str:
    """One line of a :func:`synops` (or :func:`combine`) report, for the CLI and reports.

    Args:
        micro: the prefix of microjoules: ``"u"`` (plain ASCII, the CLI) or ``"µ"``
            (reports).
    """
    ratio = rep.get("energy_ratio_ann_to_snn")
    sparsity = rep.get("activation_sparsity")
    return (f"{rep['per_prediction_ac']:.3g} ACs + {rep['per_prediction_mac']:.3g} MACs "
            f"= {rep['energy_pj'] / 1e6:.3g} {micro}J per prediction; the same network as an "
            f"ANN: {rep['ann_equivalent_mac']:.3g} MACs = {rep['ann_energy_pj'] / 1e6:.3g} "
            f"{micro}J"
            + (f" ({ratio:.3g}x)" if ratio else "")
            + (f"; activation sparsity {sparsity:.3f}" if sparsity is not None else "")
            + f" [45 nm: {E_AC_PJ} pJ/AC, {E_MAC_PJ} pJ/MAC, Horowitz ISSCC 2014]")
