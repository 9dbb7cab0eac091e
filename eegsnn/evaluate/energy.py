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

A first layer fed by a count code (the delta encoder's bins hold 0..9 events) is
"analog" per NeuroBench: its operations are MACs, and they often dominate the total; each
such row carries ``input_values: "counts"`` and ``input_max``, and the report and CLI say
so next to the number (``notes``).

**Liquid state machine** (:func:`reservoir_synops`): the input projection ``W_in``
(one AC per (non-zero spike input, existing input synapse); MACs for analog or count
input), the recurrent weights ``W`` (one AC per (reservoir spike, outgoing synapse) that
is delivered within the window: a synapse with delay ``d`` delivers spikes of steps
``t < T - d``) and the closed-form readout (one MAC per (non-zero feature, class): a
dense ``D x K`` product of the binned spike counts). The ANN equivalent runs every
existing synapse at every step (the reservoir's sparse connectivity is kept: absent
connections are not synapses) and the same readout. Counting spikes into the feature
bins and the neuron updates are not synaptic operations (``neuron_updates`` gives their
number).

**Encoder front-end** (:func:`encoder_ops`, ``encoder`` in a report): operations before
the network, per window, listed apart from the network's own synaptic operations and
added to them only in ``total_energy_pj``: the filter bank (``sosfiltfilt``: 2 passes x
``order`` second-order sections x 5 MACs per sample of each channel and band), the
spatial filter (CSP: ``C`` MACs per virtual channel, band and sample) and the
z-scoring (one MAC per source and sample, ``(x - mean) * gain / std``; the ``direct``
current's bin average folds into it: one AC per source and sample). Not counted: the
dataset's preprocessing steps (re-referencing, notch, resampling), ``sosfiltfilt``'s
edge padding, the codes' comparisons and random draws.

Energy (an estimate, with its assumption recorded in every output):
:math:`E = 0.9\,\text{pJ} \times \text{AC} + 4.6\,\text{pJ} \times \text{MAC}`, the 45 nm
CMOS cost of a 32-bit float add (0.9 pJ) and of a 32-bit float multiply (3.7 pJ) plus add
(M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
pp. 10-14). Memory access, which dominates on real hardware, is not included.

.. code-block:: python

    from eegsnn.evaluate.energy import synops
    rep = synops(model, spikes)        # spikes [T, B, ...]: B predictions
    rep["per_prediction_ac"], rep["energy_pj"], rep["ann_energy_pj"], rep["per_layer"]
    rep = window_synops(pipeline_model, spikes, test_idx, encoder=enc_config,
                        n_samples=ws.n_samples)   # SNN or LSM, plus the encoder front-end
    rep["encoder"]["energy_pj"], rep["total_energy_pj"]
    describe(rep)                      # "1.2e+03 ACs + ... = 229 pJ per prediction; ..."
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from eegsnn.encode.eeg import EEGEncoder
from eegsnn.encode.filterbank import resolve_bands
from eegsnn.errors import ConfigError
from eegsnn.model.network import RECURRENT, STATELESS, SpikingNet
from eegsnn.nn.readout import reservoir_features
from eegsnn.nn.reservoir import Reservoir

__all__ = ["ASSUMPTIONS", "E_AC_PJ", "E_MAC_PJ", "SYNAPTIC", "combine", "describe",
           "describe_encoder", "encoder_ops", "format_energy", "reservoir_synops", "synops",
           "window_synops"]

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
    "not_counted": "neuron state updates (their number: neuron_updates), batchnorm, "
                   "avgpool_time, the readout reduction (summing spikes into counts), "
                   "memory access; the encoder front-end is counted apart (encoder) and "
                   "added only in total_energy_pj",
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


def _values(a: np.ndarray) -> tuple[bool, float]:
    """``(all integers, max |value|)`` of a layer's input: a count code (0..9 events per
    bin) is integer with a maximum above one."""
    return bool(np.all(a == np.round(a))), float(np.abs(a).max()) if a.size else 0.0


def synops(model: SpikingNet, x: Any, *, batch_size: int = 64) -> dict[str, Any]:
    """Synaptic operations and energy of ``model`` on ``x [T, B, *input_shape]``.

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` (run in eval mode).
        x: the encoded input of ``B`` predictions (windows), spikes or current.
        batch_size: windows per forward pass (memory only; counts do not depend on it).

    Returns:
        ``{"n_predictions", "per_layer": [{"layer", "type", "input": "spikes"|"analog",
        "input_values": "binary"|"counts"|"real", "input_max", "ac", "mac", "dense_mac",
        "input_sparsity"}], "per_prediction_ac", "per_prediction_mac", "energy_pj",
        "ann_equivalent_mac", "ann_energy_pj", "energy_ratio_ann_to_snn",
        "activation_sparsity", "neuron_updates", "neuron_layers": [{"layer", "type",
        "sparsity"}], "notes": [str], "assumptions"}``; operation counts and energies are
        per prediction (window), sparsities are fractions of zeros; ``neuron_updates``:
        spiking-neuron steps (not counted in the energy); ``notes``: e.g. a first layer
        fed by spike counts, counted as MACs.

    Raises:
        ConfigError: ``model`` is not a SpikingNet or ``x`` has the wrong shape.
    """
    if not isinstance(model, SpikingNet):
        raise ConfigError(f"synops: expected a SpikingNet, got {type(model).__name__} "
                          "(an LSM's reservoir: reservoir_synops)")
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
                    _add(layers, i, kind, _is_binary(a), eff, dense, a.size, int((a == 0).sum()),
                         *_values(a))
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


def reservoir_synops(reservoir: Reservoir, x: Any, *, n_classes: int,
                     features: Mapping[str, Any] | None = None,
                     batch_size: int = 64) -> dict[str, Any]:
    """Synaptic operations and energy of a liquid state machine on ``x [T, B, n_inputs]``.

    Rows of ``per_layer``: ``reservoir.input`` (``W_in``: fan-out = the input line's
    existing synapses), ``reservoir.recurrent`` (``W``: a reservoir spike at step ``t``
    reaches the synapses whose delay ``d`` satisfies ``t + d < T``) and ``readout`` (the
    ``D x K`` linear readout of the features: one MAC per (non-zero feature, class);
    dense: ``D * K``). ``neuron_updates``: ``N * T`` per prediction (not counted).

    Args:
        reservoir: the fixed :class:`~eegsnn.nn.Reservoir`.
        x: the encoded input of ``B`` predictions (spikes, counts or current).
        n_classes: ``K``, the readout's outputs.
        features: ``{"kind": "counts"|"trace"|"membrane", "bins", "decay"}`` (the LSM's
            ``model.features``); default counts in one bin.
        batch_size: windows per reservoir run (memory only).

    Returns:
        the :func:`synops` report (same keys).

    Raises:
        ConfigError: ``x`` is not ``[T, B, n_inputs]`` with ``B > 0``.
    """
    x = mx.array(np.asarray(x, dtype=np.float32)) if not isinstance(x, mx.array) else x
    if x.ndim != 3 or int(x.shape[2]) != reservoir.n_inputs or x.shape[1] == 0:
        raise ConfigError(f"reservoir_synops: expected input [T, B, {reservoir.n_inputs}] "
                          f"with B > 0, got {list(x.shape)}")
    if batch_size < 1:
        raise ConfigError(f"reservoir_synops: batch_size must be >= 1, got {batch_size}")
    feat = {"kind": "counts", "bins": 1, "decay": 0.9, **dict(features or {})}
    w_in = np.asarray(reservoir.w_in)
    fan_in = (w_in != 0).sum(axis=0).astype(np.float64)  # [n_inputs] synapses per line
    w = reservoir.topology.weights.tocoo()
    delay = np.asarray(reservoir.topology.delays[w.row, w.col]).ravel().astype(np.int64)
    # fan[d - 1, pre]: synapses of neuron pre with delay d
    fan_rec = np.zeros((max(int(delay.max(initial=1)), 1), reservoir.n_neurons))
    np.add.at(fan_rec, (delay - 1, w.col), 1.0)
    n_classes = int(n_classes)
    layers: dict[Any, dict[str, Any]] = {}
    n_spk = zeros_spk = 0
    for start in range(0, int(x.shape[1]), batch_size):
        chunk = x[:, start:start + batch_size]
        spikes, state = reservoir(chunk)
        a = np.asarray(chunk)
        steps, b = a.shape[0], a.shape[1]
        eff = float(((a != 0).sum(axis=(0, 1)) * fan_in).sum())
        _add(layers, 0, "reservoir.input", _is_binary(a), eff, steps * b * fan_in.sum(),
             a.size, int((a == 0).sum()), *_values(a), name="input projection W_in")
        s = np.asarray(spikes)
        active = (s != 0).astype(np.float64)
        eff = dense = 0.0
        for d in range(1, fan_rec.shape[0] + 1):
            if steps - d > 0:
                eff += float((active[:steps - d].sum(axis=(0, 1)) * fan_rec[d - 1]).sum())
                dense += float((steps - d) * b * fan_rec[d - 1].sum())
        _add(layers, 0, "reservoir.recurrent", _is_binary(s), eff, dense, s.size,
             int((s == 0).sum()), *_values(s), name="recurrent W")
        f = np.asarray(reservoir_features(spikes, state, feat["kind"],
                                          n_bins=int(feat["bins"]),
                                          decay=float(feat["decay"])), dtype=np.float64)
        _add(layers, 1, "readout", _is_binary(f), float((f != 0).sum()) * n_classes,
             float(f.size) * n_classes, f.size, int((f == 0).sum()), *_values(f),
             name=f"readout ({feat['kind']} features)")
        n_spk += s.size
        zeros_spk += int((s == 0).sum())
    return _summary(list(layers.values()),
                    [{"layer": 0, "type": "reservoir", "n": n_spk, "zeros": zeros_spk}],
                    int(x.shape[1]))


def encoder_ops(encoder: Any, n_samples: int) -> dict[str, Any] | None:
    """Operations of the encoder's front-end per window (prediction), before the network.

    Args:
        encoder: a fitted :class:`~eegsnn.encode.EEGEncoder` or its ``to_config()``
            (``encoder.json``).
        n_samples: samples per window ``N`` at the native rate.

    Returns:
        ``{"stages": [{"stage", "mac", "ac", "detail"}], "per_prediction_mac",
        "per_prediction_ac", "energy_pj", "not_counted"}`` (per window), or ``None`` for an
        unfitted encoder or one that is not an EEGEncoder.
    """
    cfg = encoder.to_config() if hasattr(encoder, "to_config") else encoder
    if not isinstance(cfg, Mapping) or cfg.get("name") != "EEGEncoder" \
            or not cfg.get("state"):
        return None
    params, state = cfg["params"], cfg["state"]
    n = int(n_samples)
    c = len(state["ch_names"])
    bands = () if params.get("bands") is None else resolve_bands(params["bands"],
                                                                 params["sfreq_hz"])
    n_bands = max(len(bands), 1)
    stages: list[dict[str, Any]] = []
    if bands:
        order = int(params.get("filter_order", 4))
        per = 2 * order * 5
        stages.append({"stage": "filter bank", "mac": float(c * len(bands) * n * per),
                       "ac": 0.0,
                       "detail": f"{_n(c, 'channel')} x {_n(len(bands), 'band')} x "
                                 f"{_n(n, 'sample')} x {per} "
                                 f"(zero-phase: 2 passes x {order} second-order sections x "
                                 "5 multiply-adds)"})
    sources = c
    if state.get("filters") is not None:
        filt = np.asarray(state["filters"])  # [bands, K_s, C]
        k_s = int(filt.shape[1])
        kind = (params.get("spatial_filter") or {}).get("type", "spatial")
        stages.append({"stage": f"spatial filter ({kind})",
                       "mac": float(filt.shape[0] * k_s * filt.shape[2] * n), "ac": 0.0,
                       "detail": f"{filt.shape[2]} -> {_n(k_s, 'channel')} x "
                                 f"{_n(filt.shape[0], 'band')} x {_n(n, 'sample')} "
                                 f"({filt.shape[2]} MACs per output sample)"})
        sources = k_s
    src = sources * n_bands
    direct = params.get("method") == "direct"
    stages.append({"stage": "z-score" + (" x gain, bin mean (direct current)" if direct
                                         else ""),
                   "mac": float(src * n), "ac": float(src * n) if direct else 0.0,
                   "detail": f"{_n(src, 'source')} x {_n(n, 'sample')}: "
                             "(x - mean) x scale"
                             + (", summed into the time bins" if direct else "")})
    gains = params.get("gain")
    if direct and isinstance(gains, list):
        fitted = encoder if hasattr(encoder, "num_steps_for") else EEGEncoder.from_config(dict(cfg))
        t_steps = int(fitted.num_steps_for(n))
        stages.append({"stage": "gain copies (direct current)",
                       "mac": float(src * len(gains) * t_steps), "ac": 0.0,
                       "detail": f"{_n(src, 'source')} x {_n(len(gains), 'gain')} x "
                                 f"{_n(t_steps, 'step')}"})
    mac = float(sum(st["mac"] for st in stages))
    ac = float(sum(st["ac"] for st in stages))
    return {"stages": stages, "per_prediction_mac": mac, "per_prediction_ac": ac,
            "energy_pj": mac * E_MAC_PJ + ac * E_AC_PJ,
            "not_counted": "the dataset's preprocessing steps (filtering, referencing, "
                           "resampling), sosfiltfilt's edge padding, the spike code's "
                           "comparisons and random draws"}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _counted_model(model: Any) -> Any:
    """The network inside a pipeline model (``.net``: SNN, ``.lsm``: LSM) or ``model``."""
    if isinstance(model, SpikingNet):
        return model
    for attr in ("net", "lsm"):
        inner = getattr(model, attr, None)
        if inner is not None:
            return inner
    return model


def window_synops(model: Any, spikes: Any, idx: Any = None, *, limit: int = 256,
                  encoder: Any = None, n_samples: int | None = None
                  ) -> dict[str, Any] | None:
    """:func:`synops` (a :class:`SpikingNet`) or :func:`reservoir_synops` (an LSM: an
    object with ``reservoir``, ``n_classes`` and ``spec["features"]``) on the windows
    ``idx`` of ``spikes [T, W, ...]`` (all: ``None``), at most ``limit`` of them, evenly
    spaced (deterministic); ``model`` may be the pipeline model (its ``net`` or ``lsm``).
    With ``encoder`` and ``n_samples`` the front-end's operations are added as
    ``encoder`` and ``total_energy_pj`` (network + encoder) / ``total_ann_energy_pj``.
    ``None`` for another model or no windows."""
    model = _counted_model(model)
    is_lsm = isinstance(getattr(model, "reservoir", None), Reservoir)
    if not isinstance(model, SpikingNet) and not is_lsm:
        return None
    idx = np.arange(spikes.shape[1]) if idx is None else np.asarray(idx)
    if idx.size == 0:
        return None
    if idx.size > limit:
        idx = idx[np.linspace(0, idx.size - 1, limit).round().astype(int)]
    x = spikes[:, idx] if isinstance(spikes, np.ndarray) else spikes[:, mx.array(idx)]
    if is_lsm:
        rep = reservoir_synops(model.reservoir, x, n_classes=model.n_classes,
                               features=model.spec["features"])
    else:
        rep = synops(model, x)
    rep["windows_counted"] = int(idx.size)
    front = None if encoder is None or n_samples is None else encoder_ops(encoder, n_samples)
    if front is not None:
        _with_encoder(rep, front)
    return rep


def _with_encoder(rep: dict[str, Any], front: dict[str, Any]) -> None:
    rep["encoder"] = front
    rep["total_energy_pj"] = rep["energy_pj"] + front["energy_pj"]
    rep["total_ann_energy_pj"] = rep["ann_energy_pj"] + front["energy_pj"]


def _add(layers: dict[Any, dict[str, Any]], i: int, kind: str, binary: bool, eff: float,
         dense: float, n: int, zeros: int, integer: bool = True, vmax: float = 1.0,
         name: str | None = None) -> None:
    key = (i, kind)
    rec = layers.setdefault(key, {"layer": i, "type": kind, "binary": True, "eff": 0.0,
                                  "dense": 0.0, "n": 0, "zeros": 0, "integer": True,
                                  "max": 0.0, "name": name})
    rec["binary"] = rec["binary"] and binary
    rec["integer"] = rec["integer"] and integer
    rec["max"] = max(rec["max"], vmax)
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
               "input_values": "binary" if rec["binary"] else
               "counts" if rec.get("integer", False) else "real",
               "input_max": rec.get("max", 1.0),
               "ac": eff if rec["binary"] else 0.0, "mac": 0.0 if rec["binary"] else eff,
               "dense_mac": d,
               "input_sparsity": rec["zeros"] / rec["n"] if rec["n"] else 0.0}
        if rec.get("name"):
            row["name"] = rec["name"]
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
        "neuron_updates": n_act / n_pred,
        "neuron_layers": [{"layer": r["layer"], "type": r["type"],
                           "sparsity": r["zeros"] / r["n"] if r["n"] else None}
                          for r in neurons],
        "notes": _notes(per_layer, energy),
        "assumptions": dict(ASSUMPTIONS),
    }


def _notes(per_layer: Sequence[dict[str, Any]], energy_pj: float | None) -> list[str]:
    """What a reader must know next to the number: a layer fed by spike counts is
    counted as MACs (NeuroBench), with its share of the energy."""
    notes = []
    for row in per_layer:
        # the readout of an LSM reads binned counts by design (a dense product, noted in
        # its name); the note is for layers fed by the encoder's count code
        if row.get("input_values") == "counts" and row.get("mac") \
                and row.get("type") != "readout":
            share = (f" ({100 * row['mac'] * E_MAC_PJ / energy_pj:.0f} % of the energy)"
                     if energy_pj else "")
            what = row.get("name") or f"layer {row['layer']}"
            notes.append(f"{what}: its input is spike counts (0-{row['input_max']:.0f} per "
                         f"step), counted as MACs per NeuroBench{share}")
    return notes


def combine(reports: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Pool :func:`synops` / :func:`reservoir_synops` reports of one architecture (e.g.
    the folds of a run), weighted by their numbers of predictions (the encoder front-end
    too, when every report has one); ``None`` for no reports (``None`` entries skipped)."""
    kept = [r for r in reports if r]
    return _combine(kept) if kept else None


def _combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    n = sum(r["n_predictions"] for r in reports)

    def wmean(get: Any) -> float | None:
        vals = [(get(r), r["n_predictions"]) for r in reports]
        if any(v is None for v, _ in vals):
            return None
        return float(sum(v * w for v, w in vals) / n)

    out = {k: wmean(lambda r, k=k: r.get(k)) for k in
           ("per_prediction_ac", "per_prediction_mac", "energy_pj", "ann_equivalent_mac",
            "ann_energy_pj", "activation_sparsity", "neuron_updates")}
    ann, snn = out["ann_energy_pj"], out["energy_pj"]
    out["energy_ratio_ann_to_snn"] = ann / snn if ann is not None and snn else None
    first = reports[0]
    per_layer = []
    for j, row in enumerate(first["per_layer"]):
        merged = dict(row)
        for key in ("ac", "mac", "dense_mac", "input_sparsity"):
            merged[key] = wmean(lambda r, j=j, key=key: r["per_layer"][j][key])
        if "input_max" in row:
            merged["input_max"] = max(r["per_layer"][j].get("input_max", 0.0)
                                      for r in reports)
        per_layer.append(merged)
    pooled = {"n_predictions": n, "per_layer": per_layer, **out,
              "neuron_layers": first["neuron_layers"] if len(reports) == 1 else [
                  {**row, "sparsity": wmean(lambda r, j=j: r["neuron_layers"][j]["sparsity"])}
                  for j, row in enumerate(first["neuron_layers"])],
              "notes": _notes(per_layer, out["energy_pj"]),
              "assumptions": dict(ASSUMPTIONS)}
    if all(r.get("encoder") for r in reports):
        enc = first["encoder"]
        front = {**enc, "stages": [
            {**st, "mac": wmean(lambda r, j=j: r["encoder"]["stages"][j]["mac"]),
             "ac": wmean(lambda r, j=j: r["encoder"]["stages"][j]["ac"])}
            for j, st in enumerate(enc["stages"])]}
        for key in ("per_prediction_mac", "per_prediction_ac", "energy_pj"):
            front[key] = wmean(lambda r, key=key: r["encoder"][key])
        if snn is not None and ann is not None:
            _with_encoder(pooled, front)
    return pooled


def format_energy(pj: float, *, micro: str = "u") -> str:
    """An energy in picojoules with the SI prefix that reads best, 3 significant digits:
    ``229 pJ``, ``1.5 nJ``, ``3.2 uJ`` (``micro="µ"``: ``3.2 µJ``), ``mJ``, ``J``."""
    value = float(f"{float(pj):.3g}")  # rounded first: 999.6 pJ reads 1 nJ
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, f"{micro}J"), (1e3, "nJ")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} pJ"


def describe(rep: dict[str, Any], *, micro: str = "u") -> str:
    """One line of a :func:`synops` (or :func:`combine`) report, for the CLI and reports:
    the network's own operations and energy per prediction, the ANN equivalent, and the
    notes (a first layer fed by spike counts is counted as MACs).

    Args:
        micro: the prefix of microjoules: ``"u"`` (plain ASCII, the CLI) or ``"µ"``
            (reports).
    """
    ratio = rep.get("energy_ratio_ann_to_snn")
    sparsity = rep.get("activation_sparsity")
    notes = rep.get("notes") or []
    return (f"{rep['per_prediction_ac']:.3g} ACs + {rep['per_prediction_mac']:.3g} MACs "
            f"= {format_energy(rep['energy_pj'], micro=micro)} per prediction"
            + (f" ({'; '.join(notes)})" if notes else "")
            + f"; the same network as an ANN: {rep['ann_equivalent_mac']:.3g} MACs = "
            f"{format_energy(rep['ann_energy_pj'], micro=micro)}"
            + (f" ({ratio:.3g}x)" if ratio else "")
            + (f"; activation sparsity {sparsity:.3f}" if sparsity is not None else "")
            + f" [45 nm: {E_AC_PJ} pJ/AC, {E_MAC_PJ} pJ/MAC, Horowitz ISSCC 2014]")


def describe_encoder(rep: dict[str, Any], *, micro: str = "u") -> str | None:
    """One line on the encoder front-end of a report (``None`` without one): its
    operations per prediction by stage, and the total with the network's."""
    front = rep.get("encoder")
    if not front:
        return None
    stages = ", ".join(f"{st['stage']} {st['mac']:.3g} MACs"
                       + (f" + {st['ac']:.3g} ACs" if st["ac"] else "")
                       for st in front["stages"])
    total = rep["total_energy_pj"]
    share = f", {100 * front['energy_pj'] / total:.3g} % of the total" if total else ""
    return (f"{stages} = {format_energy(front['energy_pj'], micro=micro)} per prediction "
            f"(not in the network's count above{share}); network + encoder: "
            f"{format_energy(rep['total_energy_pj'], micro=micro)} (as an ANN: "
            f"{format_energy(rep['total_ann_energy_pj'], micro=micro)}); not counted: "
            f"{front['not_counted']}")
