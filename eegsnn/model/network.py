"""Spiking networks built from a config: a stack of layers and a readout.

A model config is a plain dict (JSON/YAML)::

    {
      "input_shape": [784],                 # per-time-step input shape (features, or [L, C])
      "layers": [
        {"type": "linear", "out_features": 256},
        {"type": "leaky", "beta": 0.85, "surrogate": {"type": "fast_sigmoid", "slope": 25}},
        {"type": "dropout", "p": 0.1},
        {"type": "linear", "out_features": 10},
        {"type": "leaky", "beta": 0.85, "reset_mechanism": "none",
         "surrogate": {"type": "fast_sigmoid", "slope": 25}}
      ],
      "readout": "final"                    # count | final | max | mean
    }

Layer types: ``linear`` (``out_features``, optional ``in_features``, ``bias``), ``conv1d``
(``out_channels``, ``kernel_size``, ``stride``, ``padding``; input ``[L, C]`` channels-last),
``conv2d`` (same, input ``[H, W, C]``), ``flatten``, ``dropout`` (``p``,
``shared_over_time``), and the neurons of :mod:`eegsnn.nn` (``leaky``, ``if``, ``izhikevich``,
``alif``, ``synaptic``, ``alpha``; :data:`eegsnn.nn.registry.NEURONS`) with their constructor
options; ``surrogate`` may be a name or ``{"type": name, **params}``. A neuron layer entry is
the neuron's own config (:meth:`eegsnn.nn.base.SpikingNeuron.config`).

Layers over time for multichannel EEG (:mod:`eegsnn.nn.layers`, :mod:`eegsnn.nn.recurrent`;
per-step shapes, ``C`` channels, ``F`` features):

* ``conv_time``: convolution along *time* (:func:`eegsnn.nn.layers.conv_time`), ``[F] ->
  [out]`` or ``[C, F] -> [C, out]`` (same filters for every channel); ``out_channels``
  (default: the input features), ``kernel_size`` (steps, required), ``dilation`` (1),
  ``depthwise`` (false: one group per input feature, ``out_channels`` a multiple of ``F``),
  ``causal`` (true: left zero padding, ``T`` unchanged and step ``t`` sees only steps
  ``<= t``; false: centred window), ``per_channel`` (false; true: input ``[C]``, the raw
  channels, gives ``[C, out]``: EEGNet's temporal filter bank), ``bias`` (true).
* ``spatial``: ``depth_multiplier`` ``D`` (2) learned spatial filters over the ``C``
  channels per feature map, ``[C, F] -> [F * D]`` (``[C]`` reads as ``F = 1``); ``bias``
  (true). EEGNet's depthwise spatial convolution.
* ``avgpool_time``: mean over ``kernel_size`` steps every ``stride`` (default
  ``kernel_size``) steps: ``T -> (T - kernel_size) // stride + 1``; the layers after it and
  the readout run on the shorter sequence.
* ``batchnorm``: batch norm through time (statistics per feature over ``T``, ``B`` and
  channels; running statistics in eval mode), ``momentum`` (0.1), ``eps`` (1e-5),
  ``affine`` (true), ``weight_init`` (1.0).
* ``rleaky`` / ``rsynaptic``: recurrent spiking layers (snnTorch ``RLeaky``/``RSynaptic``)
  with the neuron options of ``leaky``/``synaptic`` plus ``all_to_all`` (true), ``V``,
  ``learn_recurrent`` (true), ``recurrent_bias`` (true); ``features`` is filled in.

Time-major data flow: the model takes ``x [T, B, *input_shape]``. Stateless layers (linear,
conv, flatten, dropout and the sequence layers above) are applied to the whole sequence at
once (time folded into the batch, one large matmul instead of ``T`` small ones); each neuron
layer runs its recurrence over time with its ``unroll`` (which picks its own whole-sequence
kernel, :mod:`eegsnn.nn.sequence`) (``rleaky``/``rsynaptic`` include their
own spikes' feedback there). This is exact because no layer feeds back to an earlier one.
``avgpool_time`` shortens the sequence for the layers after it.

The output is the last layer's trace: ``spikes`` and ``membrane`` ``[T', B, C]`` (``T'`` after
any pooling); the readout
(see :func:`eegsnn.model.readout.readout`) turns it into ``[B, C]`` logits. A last neuron with
``reset_mechanism="none"`` is a non-spiking integrator whose membrane is the readout.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from eegsnn.errors import ConfigError
from eegsnn.model.readout import READOUTS, readout
from eegsnn.nn import layers as L
from eegsnn.nn.base import float_input
from eegsnn.nn.registry import NEURONS, build_neuron

RECURRENT = ("rleaky", "rsynaptic")
#: Stateless layers over the whole sequence ``[T, B, ...]`` (:mod:`eegsnn.nn.layers`).
SEQUENCE = ("conv_time", "spatial", "avgpool_time", "batchnorm")
STATELESS = ("linear", "conv1d", "conv2d", "flatten", "dropout", *SEQUENCE)
LAYER_TYPES = STATELESS + tuple(NEURONS)


class Dropout(nn.Module):
    """Dropout on ``[T, B, ...]``; a fresh mask per step, or one per sample shared over time.

    In training mode, zeroes each element with probability ``p`` and scales the rest by
    ``1 / (1 - p)``; identity in eval mode. Uses MLX's global PRNG (seeded per step by the
    training loop, so runs are reproducible).
    """

    def __init__(self, p: float = 0.5, shared_over_time: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout: p must be in [0, 1), got {p}")
        self._p = float(p)
        self._shared = bool(shared_over_time)

    def __call__(self, x: mx.array) -> mx.array:
        if not self.training or self._p == 0.0:
            return x
        shape = (1, *x.shape[1:]) if self._shared else x.shape
        keep = mx.random.bernoulli(1.0 - self._p, shape)
        return mx.where(keep, x / (1.0 - self._p), mx.zeros_like(x))


def _int_option(spec: dict, key: str, default: Any = None, minimum: int = 1) -> Any:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(f"layer {spec['type']!r}: missing required option {key!r}")
    values = value if isinstance(value, list | tuple) else [value]
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise ConfigError(f"layer {spec['type']!r}: {key} must be an integer >= {minimum}, "
                              f"got {value!r}")
    return tuple(value) if isinstance(value, list | tuple) else value


def _scalar_int(spec: dict, key: str, default: Any = None, minimum: int = 1) -> int:
    value = _int_option(spec, key, default, minimum)
    if isinstance(value, tuple):
        raise ConfigError(f"layer {spec['type']!r}: {key} must be one integer, got {value!r}")
    return value


def _bool_option(spec: dict, key: str, default: bool) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"layer {spec['type']!r}: {key} must be true or false, got {value!r}")
    return value


_SEQUENCE_OPTIONS = {
    "conv_time": {"out_channels", "kernel_size", "dilation", "depthwise", "causal",
                  "per_channel", "bias", "in_features"},
    "spatial": {"depth_multiplier", "bias", "in_channels", "feature_maps"},
    "avgpool_time": {"kernel_size", "stride"},
    "batchnorm": {"momentum", "eps", "affine", "weight_init", "num_features"},
}


def _sequence_shape(kind: str, layer: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Check a :data:`SEQUENCE` or :data:`RECURRENT` layer's options, fill in the sizes it
    takes from its input (``in_features``, ``in_channels``, ``features``...) and return its
    per-step output shape."""
    unknown = set(layer) - {"type"} - _SEQUENCE_OPTIONS.get(kind, set(layer))
    if unknown:
        raise ConfigError(f"unknown option(s) {sorted(unknown)}; expected "
                          f"{', '.join(sorted(_SEQUENCE_OPTIONS[kind]))}")

    def fill(key: str, value: int) -> None:
        if layer.get(key, value) != value:
            raise ConfigError(f"{key}={layer[key]} but the input gives {value}")
        layer[key] = value

    if kind == "conv_time":
        per_channel = _bool_option(layer, "per_channel", False)
        depthwise = _bool_option(layer, "depthwise", False)
        _bool_option(layer, "causal", True)
        _bool_option(layer, "bias", True)
        _scalar_int(layer, "kernel_size")
        _scalar_int(layer, "dilation", 1)
        if per_channel:
            if len(shape) != 1:
                raise ConfigError(f"per_channel expects the raw channels [C] per step, got "
                                  f"shape {list(shape)}")
            if depthwise:
                raise ConfigError("per_channel and depthwise exclude each other")
            shape = (*shape, 1)
        elif len(shape) not in (1, 2):
            raise ConfigError(f"expects [F] or [C, F] per step, got shape {list(shape)}")
        in_features = shape[-1]
        fill("in_features", in_features)
        out = _scalar_int(layer, "out_channels", in_features)
        if depthwise and out % in_features:
            raise ConfigError(f"depthwise: out_channels ({out}) must be a multiple of the "
                              f"{in_features} input features")
        layer["out_channels"] = out
        return (*shape[:-1], out)
    if kind == "spatial":
        if len(shape) not in (1, 2):
            raise ConfigError(f"expects [C, F] (channels, feature maps) or [C] per step, got "
                              f"shape {list(shape)}")
        _bool_option(layer, "bias", True)
        depth = _scalar_int(layer, "depth_multiplier", 2)
        fill("in_channels", shape[0])
        fill("feature_maps", shape[1] if len(shape) == 2 else 1)
        layer["depth_multiplier"] = depth
        return (layer["feature_maps"] * depth,)
    if kind == "avgpool_time":
        _scalar_int(layer, "kernel_size")
        _scalar_int(layer, "stride", layer["kernel_size"])
        return shape
    if kind == "batchnorm":
        for key, lo, hi in (("momentum", 0.0, 1.0), ("eps", 0.0, math.inf)):
            value = layer.get(key, 0.1 if key == "momentum" else 1e-5)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not lo < value <= hi:
                raise ConfigError(f"{key} must be a number in ({lo}, {hi}], got {value!r}")
        _bool_option(layer, "affine", True)
        value = layer.get("weight_init", 1.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"weight_init must be a number, got {value!r}")
        fill("num_features", shape[-1])
        return shape
    # rleaky / rsynaptic: one recurrent layer over all the features of a step
    fill("features", math.prod(shape))
    return shape


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check a model config and return a resolved deep copy (inferred sizes filled in).

    Raises:
        ConfigError: missing keys, unknown layer type, bad options, incompatible sizes.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"model config: expected a dict, got {type(config).__name__}")
    unknown = set(config) - {"input_shape", "layers", "readout", "output_shape"}
    if unknown:
        raise ConfigError(f"model config: unknown key(s) {sorted(unknown)}")
    cfg = copy.deepcopy(config)
    shape = cfg.get("input_shape")
    if isinstance(shape, int):
        shape = [shape]
    if not isinstance(shape, list | tuple) or not shape or not all(
            isinstance(s, int) and s > 0 for s in shape):
        raise ConfigError(f"model config: input_shape must be a list of positive ints, "
                          f"got {shape!r}")
    cfg["input_shape"] = list(shape)
    layers = cfg.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConfigError("model config: 'layers' must be a non-empty list")
    shape = tuple(shape)
    for index, layer in enumerate(layers):
        where = f"model config layers[{index}]"
        if not isinstance(layer, dict) or "type" not in layer:
            raise ConfigError(f"{where}: expected a dict with a 'type'")
        kind = str(layer["type"]).lower()
        layer["type"] = kind
        if kind not in LAYER_TYPES:
            raise ConfigError(f"{where}: unknown layer type {layer['type']!r}; expected one of "
                              f"{', '.join(LAYER_TYPES)}")
        try:
            if kind == "linear":
                if len(shape) != 1:
                    raise ConfigError(f"linear expects a flat input, got shape {list(shape)} "
                                      "(add a 'flatten' layer)")
                in_features = layer.get("in_features", shape[0])
                if in_features != shape[0]:
                    raise ConfigError(f"in_features={in_features} but the previous layer "
                                      f"gives {shape[0]} features")
                layer["in_features"] = shape[0]
                shape = (_int_option(layer, "out_features"),)
            elif kind in ("conv1d", "conv2d"):
                dims = 1 if kind == "conv1d" else 2
                if len(shape) != dims + 1:
                    raise ConfigError(f"{kind} expects input [{'L' if dims == 1 else 'H, W'}, C]"
                                      f" (channels last), got shape {list(shape)}")
                in_ch = layer.get("in_channels", shape[-1])
                if in_ch != shape[-1]:
                    raise ConfigError(f"in_channels={in_ch} but the input has {shape[-1]} "
                                      "channels")
                layer["in_channels"] = shape[-1]
                out_ch = _int_option(layer, "out_channels")
                kernel = _int_option(layer, "kernel_size")
                stride = _int_option(layer, "stride", 1)
                padding = _int_option(layer, "padding", 0, minimum=0)
                k = (kernel,) * dims if isinstance(kernel, int) else kernel
                s = (stride,) * dims if isinstance(stride, int) else stride
                p = (padding,) * dims if isinstance(padding, int) else padding
                spatial = tuple(_conv_out(n, kk, ss, pp)
                                for n, kk, ss, pp in zip(shape[:-1], k, s, p, strict=True))
                if any(n < 1 for n in spatial):
                    raise ConfigError(f"kernel {list(k)} larger than the input {list(shape[:-1])}")
                shape = (*spatial, out_ch)
            elif kind == "flatten":
                shape = (math.prod(shape),)
            elif kind == "dropout":
                p = layer.get("p", 0.5)
                if not isinstance(p, int | float) or not 0.0 <= p < 1.0:
                    raise ConfigError(f"dropout p must be in [0, 1), got {p!r}")
            elif kind in SEQUENCE or kind in RECURRENT:
                shape = _sequence_shape(kind, layer, shape)
        except ConfigError as exc:
            raise ConfigError(f"{where} ({kind}): {exc}") from None
    readout = cfg.get("readout", "final")
    if readout not in READOUTS:
        raise ConfigError(f"model config: unknown readout {readout!r}; expected one of "
                          f"{', '.join(READOUTS)}")
    cfg["readout"] = readout
    last = layers[-1]["type"]
    if last not in NEURONS:
        raise ConfigError(f"model config: the last layer must be a neuron layer (the output "
                          f"trace), got {last!r}")
    if readout == "count" and layers[-1].get("reset_mechanism") == "none":
        raise ConfigError("model config: readout 'count' needs a spiking output layer, but "
                          "the last neuron has reset_mechanism='none'")
    if "output_shape" in cfg and list(cfg["output_shape"]) != list(shape):
        raise ConfigError(f"model config: output_shape {cfg['output_shape']} does not match "
                          f"the layers, which give {list(shape)}")
    cfg["output_shape"] = list(shape)
    return cfg


class SpikingNet(nn.Module):
    """A spiking network built from a model config (see module docstring): a stack of layers,
    each feeding the next (recurrence only inside ``rleaky``/``rsynaptic`` layers).

    Call: ``out = model(x)`` with ``x [T, B, *input_shape]``; returns a dict

    * ``"spikes"``: output layer spikes ``[T, B, C]``
    * ``"membrane"``: output layer membrane ``[T, B, C]``
    * ``"logits"``: the readout ``[B, C]``
    * ``"layer_spikes"``: list of every neuron layer's spikes ``[T, B, ...]``
    """

    def __init__(self, config: dict[str, Any], use_fast_path: bool = True) -> None:
        super().__init__()
        cfg = validate_config(config)
        #: ``False`` sets ``fused = False`` on every neuron layer: their ``unroll`` runs the
        #: step loop under autodiff instead of the whole-sequence kernels that
        #: :func:`eegsnn.nn.sequence.leaky_sequence` chooses (same forward values; for
        #: benchmarks and checks).
        self._use_fast_path = bool(use_fast_path)
        self._config = cfg
        self._min_num_steps = min_num_steps(cfg)  # (checked on every call: computed once)
        self._kinds: list[str] = []
        self.layers: list[nn.Module] = []
        for layer in cfg["layers"]:
            kind = layer["type"]
            opts = {k: v for k, v in layer.items() if k != "type"}
            if kind == "linear":
                module: nn.Module = nn.Linear(opts["in_features"], opts["out_features"],
                                              bias=bool(opts.get("bias", True)))
            elif kind in ("conv1d", "conv2d"):
                cls = nn.Conv1d if kind == "conv1d" else nn.Conv2d
                module = cls(opts["in_channels"], opts["out_channels"], opts["kernel_size"],
                             stride=opts.get("stride", 1), padding=opts.get("padding", 0),
                             bias=bool(opts.get("bias", True)))
            elif kind == "flatten":
                module = _Flatten()
            elif kind == "dropout":
                module = Dropout(opts.get("p", 0.5), opts.get("shared_over_time", False))
            elif kind in SEQUENCE:
                module = _build_sequence_layer(kind, opts)
            else:
                module = build_neuron(kind, opts, where=f"layer {kind!r}")
                if not self._use_fast_path:
                    module.fused = False
            self._kinds.append(kind)
            self.layers.append(module)

    @property
    def min_num_steps(self) -> int:
        """The fewest input steps ``T`` the model takes (:func:`min_num_steps`)."""
        return self._min_num_steps

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config that rebuilds this model (a deep copy)."""
        return copy.deepcopy(self._config)

    @property
    def kinds(self) -> list[str]:
        """Layer type of each entry of ``layers`` (``"linear"``, ``"leaky"``, ...; a copy)."""
        return list(self._kinds)

    @property
    def use_fast_path(self) -> bool:
        return self._use_fast_path

    @property
    def readout_mode(self) -> str:
        return self._config["readout"]

    def __call__(self, x: mx.array, *, start: int = 0,
                 layer_spikes: list[mx.array] | None = None) -> dict[str, Any]:
        """Run the network on ``x [T, B, *input_shape]`` (integer or boolean ``x``, spike
        counts or 0/1, is taken as float32).

        ``start > 0`` runs only ``layers[start:]`` on ``x``, the output ``[T, B, ...]`` of
        ``layers[start - 1]`` computed elsewhere (the fused CPU step computes the first
        layers with :mod:`eegsnn.kernels`); ``layer_spikes`` are the spikes of the neuron
        layers before ``start``, kept in the output's ``"layer_spikes"``.
        """
        x = float_input(x, "model input")  # (spike counts or 0/1 as int/bool: float32)
        if start == 0:
            expected = tuple(self._config["input_shape"])
            if x.ndim != len(expected) + 2 or tuple(x.shape[2:]) != expected:
                raise ConfigError(f"model input: expected [T, B, "
                                  f"{', '.join(map(str, expected))}], got {list(x.shape)}")
            if x.shape[0] == 0 or x.shape[1] == 0:
                empty = "time steps (T = 0)" if x.shape[0] == 0 else "samples (B = 0)"
                raise ConfigError(f"model input {list(x.shape)} has no {empty}")
            if x.shape[0] < self.min_num_steps:
                raise ConfigError(_too_few_steps(self._config, x.shape[0]))
        elif not 0 < start < len(self.layers):
            raise ConfigError(f"start must be in [0, {len(self.layers)}), got {start}")
        batch = x.shape[1]
        layer_spikes = list(layer_spikes or [])
        spikes = membrane = None
        h = x
        for kind, layer in list(zip(self._kinds, self.layers, strict=True))[start:]:
            num_steps = h.shape[0]  # avgpool_time shortens the sequence
            if kind in ("conv1d", "conv2d"):
                folded = h.reshape(num_steps * batch, *h.shape[2:])
                out = layer(folded)
                h = out.reshape(num_steps, batch, *out.shape[1:])
            elif kind in STATELESS:  # linear, flatten, dropout, SEQUENCE: all of [T, B, ...]
                h = layer(h)
            else:
                feature_shape = h.shape[2:]
                flat = h.reshape(num_steps, batch, -1)
                spk, mem, _ = layer.unroll(flat)
                spikes = spk.reshape(num_steps, batch, *feature_shape)
                membrane = mem.reshape(num_steps, batch, *feature_shape)
                layer_spikes.append(spikes)
                h = spikes
        logits = readout(spikes, membrane, self.readout_mode)
        return {"spikes": spikes, "membrane": membrane, "logits": logits,
                "layer_spikes": layer_spikes}


def min_num_steps(config: dict[str, Any]) -> int:
    """The fewest input steps ``T`` a (validated) model config takes: its ``avgpool_time``
    layers drop steps (``T' = floor((T - K) / s) + 1``); every other layer keeps ``T``."""
    needed = 1
    for layer in reversed(config["layers"]):
        if layer["type"] == "avgpool_time":
            kernel = int(layer["kernel_size"])
            needed = (needed - 1) * int(layer.get("stride", kernel)) + kernel
    return needed


def _too_few_steps(config: dict[str, Any], num_steps: int) -> str:
    pools = [f"{layer['kernel_size']}" + (f" (stride {layer['stride']})"
                                          if layer.get("stride", layer["kernel_size"])
                                          != layer["kernel_size"] else "")
             for layer in config["layers"] if layer["type"] == "avgpool_time"]
    return (f"model input: {num_steps} time steps per window, but the model's time pooling "
            f"(avgpool_time over {' then '.join(pools)} steps) needs at least "
            f"{min_num_steps(config)}: give the encoder more steps (num_steps, or "
            "spikes_per_s for a longer window) or pool over fewer steps (a family's pool1/"
            "pool2, pool_s/pool_steps)")


def _build_sequence_layer(kind: str, opts: dict[str, Any]) -> nn.Module:
    """A :data:`SEQUENCE` layer from its resolved options (see :func:`_sequence_shape`)."""
    if kind == "conv_time":
        return L.ConvTime(opts["in_features"], opts["out_channels"], opts["kernel_size"],
                          dilation=opts.get("dilation", 1),
                          depthwise=opts.get("depthwise", False),
                          causal=opts.get("causal", True),
                          per_channel=opts.get("per_channel", False),
                          bias=opts.get("bias", True))
    if kind == "spatial":
        return L.SpatialFilter(opts["in_channels"], opts["feature_maps"],
                               opts["depth_multiplier"], bias=opts.get("bias", True))
    if kind == "avgpool_time":
        return L.AvgPoolTime(opts["kernel_size"], opts.get("stride"))
    return L.BatchNormTime(opts["num_features"], momentum=opts.get("momentum", 0.1),
                           eps=opts.get("eps", 1e-5), affine=opts.get("affine", True),
                           weight_init=opts.get("weight_init", 1.0))


class _Flatten(nn.Module):
    """``[T, B, ...] -> [T, B, prod(...)]``."""

    def __call__(self, x: mx.array) -> mx.array:
        return x.reshape(x.shape[0], x.shape[1], -1)


def build_model(config: dict[str, Any], use_fast_path: bool = True) -> SpikingNet:
    """Build a :class:`SpikingNet` from a model config (validated; raises ConfigError)."""
    return SpikingNet(config, use_fast_path=use_fast_path)


def reference_mnist_config(hidden: int = 256, beta: float = 0.85, slope: float = 25.0,
                           ) -> dict[str, Any]:
    """The mlx-snn paper's best MNIST network (C1): 784-256-10, Leaky beta 0.85, fast sigmoid
    (slope 25), output layer without reset, readout = final output membrane."""
    sur = {"type": "fast_sigmoid", "slope": slope}
    return {
        "input_shape": [784],
        "layers": [
            {"type": "linear", "out_features": hidden},
            {"type": "leaky", "beta": beta, "surrogate": sur},
            {"type": "linear", "out_features": 10},
            {"type": "leaky", "beta": beta, "surrogate": sur, "reset_mechanism": "none"},
        ],
        "readout": "final",
    }
