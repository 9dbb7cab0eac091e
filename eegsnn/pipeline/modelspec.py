"""The ``model`` section of a study config -> an :mod:`eegsnn.model` config.

Two forms. The short form builds a feedforward stack::

    model:
      hidden: [64]                 # hidden layer sizes
      neuron: {type: leaky, beta: 0.9, surrogate: {type: fast_sigmoid, slope: 25}}
      dropout: 0.0                 # dropout after each hidden neuron layer
      readout: mean                # count | final | max | mean

giving ``linear(L->64) -> leaky -> linear(64->K) -> leaky(reset none)`` for ``L`` encoder
lines and ``K`` classes; the output layer is a non-spiking integrator whose membrane is the
readout (``readout: count`` keeps it spiking). A ``neuron`` without a ``type`` changes the
default one shown above key by key (``neuron: {beta: 0.5}``). The full form lists
``layers`` as :func:`eegsnn.model.build_model` takes them; ``out_features: classes`` is
replaced by the number of classes, and ``input_shape`` is filled in from the encoder.

Families (:mod:`eegsnn.model.families`) name a ready network with EEG defaults, for direct
multichannel input ``[T, B, C]`` (``C`` = channels or spatial-filter components)::

    model:
      family: spiking_eegnet       # temporal filter bank -> spatial filters -> spiking
      f1: 8                        # temporal filters (per channel)
      depth: 2                     # spatial filters per temporal filter (D)
      f2: 16                       # separable-conv features (default f1 * depth)
      kernel_s: 0.4                # first temporal kernel, seconds (or kernel_steps: 32)
      separable_kernel_s: 0.4      # at the rate after pool1 (or separable_kernel_steps: 8)
      pool1: 4                     # avgpool_time after the spatial block
      pool2: 8                     # avgpool_time after the separable block
      dropout: 0.25
      causal: true                 # temporal convolutions see only past steps
      neuron: {type: leaky, beta: 0.9, surrogate: {type: fast_sigmoid, slope: 25}}
      out_beta: 0.9                # readout integrator decay
      readout: mean

    model:
      family: spiking_shallow      # ShallowConvNet-like: spike rates ~ band power
      f1: 8
      depth: 2
      kernel_s: 0.4                # (or kernel_steps: 32)
      pool_s: 0.5                  # avgpool_time window (or pool_steps: 40)
      pool_stride_s: 0.1           # its stride (or pool_stride_steps: 8)
      dropout: 0.5
      causal: true
      neuron: {type: leaky, beta: 0.9, surrogate: {type: fast_sigmoid, slope: 25}}
      out_beta: 0.9
      readout: mean

    model:
      family: recurrent            # linear -> batchnorm -> rleaky (all-to-all) -> linear
      hidden: 64
      neuron: {type: rleaky, beta: 0.9, surrogate: {type: fast_sigmoid, slope: 25}}
                                   # or {type: rsynaptic, alpha: 0.9, beta: 0.8, ...}
      batchnorm: true              # batch norm through time before the recurrent layer
      pool: 1                      # avgpool_time over the input first (1: none)
      dropout: 0.2
      out_beta: 0.9
      readout: mean

(values shown are the defaults). Seconds are converted with the input step rate
(``steps_per_s`` of :func:`build_model_config`); without it options in seconds are errors
and the ``*_steps`` defaults apply (their values at 80 steps/s: kernel 32, separable
kernel 8, pool 40, pool stride 8).

``type: lsm`` selects the liquid state machine instead (a fixed spiking reservoir and a
closed-form readout, no BPTT; see :mod:`eegsnn.pipeline.lsm`); ``type: snn`` (the default)
is the feedforward SNN above.

The loss follows the readout (cross-entropy on the membrane reduced the same way, or on
spike counts for ``count``) unless ``train.loss`` is given.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from eegsnn.errors import ConfigError
from eegsnn.model import LAYER_TYPES, READOUTS
from eegsnn.model.families import family_config, merge_neuron, validate_family
from eegsnn.nn.registry import NEURONS, build_neuron
from eegsnn.pipeline.lsm import validate_lsm_spec

__all__ = ["build_model_config", "check_neuron_layers", "default_loss", "validate_model_spec"]

_DEFAULT_NEURON = {"type": "leaky", "beta": 0.9,
                   "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}
_SHORT_KEYS = {"hidden", "neuron", "dropout", "readout"}
_FULL_KEYS = {"layers", "readout"}
_FORMS = "hidden/neuron (short form), layers (full form) or family"


def validate_model_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check the ``model`` section and fill defaults (a new dict)."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"model: expected a mapping, got {type(spec).__name__}")
    out: dict[str, Any] = copy.deepcopy(dict(spec))
    model_type = out.pop("type", "snn")
    if model_type == "lsm":
        return validate_lsm_spec({"type": "lsm", **out})
    if model_type != "snn":
        raise ConfigError(f"model.type must be 'snn' (feedforward SNN trained by BPTT) or "
                          f"'lsm' (liquid state machine), got {model_type!r}")
    if "family" in out:
        if "layers" in out:
            raise ConfigError(f"model: give one of {_FORMS}")

        return validate_family(out)
    if "layers" in out:
        unknown = set(out) - _FULL_KEYS
        if unknown:
            raise ConfigError(f"model: with 'layers', only 'readout' may be given too "
                              f"(unknown: {sorted(unknown)})")
        if not isinstance(out["layers"], list) or not out["layers"]:
            raise ConfigError("model.layers must be a non-empty list")
        out.setdefault("readout", "mean")
    else:
        unknown = set(out) - _SHORT_KEYS
        if unknown:
            raise ConfigError(f"model: unknown key(s) {sorted(unknown)} (known: "
                              f"{', '.join(sorted(_SHORT_KEYS | _FULL_KEYS | {'family'}))})")
        hidden = out.get("hidden", [64])
        if isinstance(hidden, int):
            hidden = [hidden]
        if not isinstance(hidden, list) or not all(isinstance(h, int) and h > 0
                                                   for h in hidden):
            raise ConfigError(f"model.hidden must be a list of positive ints, got {hidden!r}")
        neuron = out.get("neuron", _DEFAULT_NEURON)
        if isinstance(neuron, Mapping) and "type" not in neuron:
            # options without a type change the default neuron (--set model.neuron.beta=0.5)
            neuron = merge_neuron(_DEFAULT_NEURON, neuron)
        if not isinstance(neuron, Mapping):
            raise ConfigError("model.neuron must be a mapping with a 'type' (e.g. leaky)")
        p = out.get("dropout", 0.0)
        if not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {p!r}")
        out = {"hidden": hidden, "neuron": dict(neuron), "dropout": float(p),
               "readout": out.get("readout", "mean")}

    if out["readout"] not in READOUTS:
        raise ConfigError(f"model.readout must be one of {', '.join(READOUTS)}, got "
                          f"{out['readout']!r}")
    return out


def build_model_config(spec: Mapping[str, Any], n_inputs: int, n_classes: int,
                       steps_per_s: float | None = None) -> dict[str, Any]:
    """A :func:`eegsnn.model.build_model` config for ``n_inputs`` lines, ``n_classes``.

    ``steps_per_s`` (input steps per second) converts a family's options in seconds.
    """
    spec = validate_model_spec(spec)
    if spec.get("type") == "lsm":
        raise ConfigError("build_model_config: model.type lsm is not a layer stack (use "
                          "eegsnn.pipeline.lsm.LSMModel)")
    if "family" in spec:
        return family_config(spec, n_inputs, n_classes, steps_per_s)
    if "layers" in spec:
        layers = copy.deepcopy(spec["layers"])
        for layer in layers:
            if isinstance(layer, dict) and layer.get("out_features") == "classes":
                layer["out_features"] = n_classes
    else:
        layers = []
        for h in spec["hidden"]:
            layers.append({"type": "linear", "out_features": h})
            layers.append(copy.deepcopy(spec["neuron"]))
            if spec["dropout"] > 0:
                layers.append({"type": "dropout", "p": spec["dropout"]})
        layers.append({"type": "linear", "out_features": n_classes})
        out = copy.deepcopy(spec["neuron"])
        if spec["readout"] != "count":
            out["reset_mechanism"] = "none"
        layers.append(out)
    return {"input_shape": [int(n_inputs)], "layers": layers, "readout": spec["readout"]}


def check_neuron_layers(spec: Mapping[str, Any]) -> None:
    """Check every layer type of a validated ``model`` section and build each neuron layer
    once, at one unit.

    Layer and neuron types and a neuron's options (a misspelt ``beta``, a decay outside
    [0, 1], an unknown surrogate) are otherwise checked only when the network is built,
    which in a pipeline run comes after the data are loaded and encoded; this makes them
    fail when the config is read. Layer sizes and lengths in seconds depend on the data: a
    network that cannot be laid out on a placeholder input (one line at 80 steps/s) is
    left to the build.

    Raises:
        ConfigError: naming the layer and the bad type or option.
    """
    if spec.get("type") == "lsm":
        return  # validate_lsm_spec builds the reservoir (and its neuron) itself
    try:
        layers = build_model_config(spec, 1, 2, steps_per_s=80.0)["layers"]
    except ConfigError:
        return
    for index, layer in enumerate(layers):
        kind = str(layer.get("type", "")).lower() if isinstance(layer, Mapping) else ""
        if "layers" in spec:
            where = f"model.layers[{index}]"
        elif index == len(layers) - 1:
            where = f"model: the output layer{'' if 'family' in spec else ' (model.neuron)'}"
        else:
            where = "model.neuron"
        if kind in LAYER_TYPES and kind not in NEURONS:
            continue  # a stateless layer (linear, convolution, pooling...)
        if not kind:
            raise ConfigError(f"{where}: expected a mapping with a 'type', got {layer!r}")
        if kind not in NEURONS:
            known = LAYER_TYPES if "layers" in spec else tuple(NEURONS)
            raise ConfigError(f"{where}: unknown {'layer' if 'layers' in spec else 'neuron'} "
                              f"type {kind!r}; expected one of {', '.join(known)}")
        build_neuron(kind, {k: v for k, v in layer.items() if k != "type"},
                     where=f"{where} ({kind})")


def default_loss(readout: str) -> dict[str, Any]:
    """Loss matching a readout: CE on spike counts, or on the membrane reduced alike."""
    if readout == "count":
        return {"type": "ce_count"}
    return {"type": "ce_membrane", "reduce": readout}
