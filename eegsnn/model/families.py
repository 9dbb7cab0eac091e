"""Ready model families for multichannel EEG, expanded to full layer configs.

A family is a named recipe with defaults chosen for motor-imagery EEG given as *direct*
input (the band-passed, standardised signal, ``[T, B, C]``, ``C`` channels or CSP
components, about 80-160 steps/s). :func:`family_config` turns
``(name, options, n_inputs, n_classes)`` into a :func:`eegsnn.model.build_model` config;
:func:`validate_family` checks the options and fills the defaults (study configs name a
family as ``model: {family: spiking_eegnet, ...}``, see :mod:`eegsnn.pipeline.modelspec`).
A ``neuron`` option without a ``type``, or with the default's type, changes the family's
default neuron key by key (``neuron: {beta: 0.95}`` keeps its type, threshold and
surrogate; ``neuron: {surrogate: {slope: 10}}`` keeps the surrogate's type); a neuron of
another type is taken whole (:func:`merge_neuron`).

``spiking_eegnet`` (EEGNet-8,2 of Lawhern et al. 2018 with spiking neurons for the ELUs;
``K1``, ``K2``, ``P1``, ``P2`` below are ``kernel``, ``separable_kernel``, ``pool1``,
``pool2``)::

    [T, B, C] -> conv_time per_channel (f1 filters, K1 taps, causal, no bias) -> [T, B, C, f1]
      -> batchnorm -> spatial (depth D per filter, no bias)          -> [T, B, f1*D]
      -> batchnorm -> neuron -> avgpool_time(P1) -> dropout          -> [T/P1, B, f1*D]
      -> conv_time depthwise (K2 taps) -> linear (f2, no bias)       (separable conv)
      -> batchnorm -> neuron -> avgpool_time(P2) -> dropout          -> [T/(P1 P2), B, f2]
      -> linear (n_classes) -> leaky (reset none: the readout integrator), readout mean

Options (defaults): ``f1`` (8), ``depth`` (2), ``f2`` (``f1 * depth``), ``kernel_s`` (0.4 s;
needs the step rate) or ``kernel_steps`` (32 = 0.4 s at 80 steps/s when no rate is known),
``separable_kernel_s`` (0.4 s at the pooled rate) or ``separable_kernel_steps`` (8),
``pool1`` (4), ``pool2`` (8), ``dropout`` (0.25), ``causal`` (true), ``neuron`` (``{type:
leaky, beta: 0.9, surrogate: {type: fast_sigmoid, slope: 25}}``; any non-recurrent spiking
neuron), ``out_beta`` (0.9, the readout integrator's decay), ``readout`` (mean). The input
must have at least ``pool1 * pool2`` steps.

``spiking_shallow`` (ShallowConvNet of Schirrmeister et al. 2017 with a spiking neuron as
the rectifier in place of square/log: spike rates over a window follow the band power of
each spatially filtered rhythm, the quantity CSP + LDA classifies; fewer parameters than
``spiking_eegnet`` for few trials)::

    [T, B, C] -> conv_time per_channel (f1, K taps, causal, no bias) -> batchnorm
      -> spatial (depth D, no bias) -> batchnorm -> neuron           -> [T, B, f1*D]
      -> avgpool_time(pool, stride) -> dropout -> linear (n_classes) -> leaky (reset none)

Options (defaults): ``f1`` (8), ``depth`` (2), ``kernel_s``/``kernel_steps`` (as above),
``pool_s`` (0.5 s) or ``pool_steps`` (40), ``pool_stride_s`` (0.1 s) or
``pool_stride_steps`` (8), ``dropout`` (0.5), ``causal``, ``neuron``, ``out_beta``,
``readout`` (as above). The input must have at least ``pool`` steps.

``recurrent`` (a recurrent SNN)::

    [T, B, C] -> [avgpool_time(pool)] -> linear (hidden) -> [batchnorm] -> rleaky/rsynaptic
      (all-to-all recurrence) -> dropout -> linear (n_classes) -> leaky (reset none), mean

Options (defaults): ``hidden`` (64), ``neuron`` (``{type: rleaky, beta: 0.9, surrogate:
{type: fast_sigmoid, slope: 25}}``; ``type`` ``rleaky`` or ``rsynaptic`` with their
options, e.g. ``alpha``), ``batchnorm`` (true), ``pool`` (1: no pooling; an integer
``> 1`` averages that many input steps first, shortening the recurrence), ``dropout``
(0.2), ``out_beta`` (0.9), ``readout`` (mean).

``band_power`` (spiking band-power detectors and a linear readout, for spatially filtered
direct input: the ``direct`` encoder with ``polarity: on_off`` and a CSP ``spatial_filter``)::

    [T, B, L] -> [linear (hidden)] -> neuron (driven by the input current) -> [dropout]
      -> linear (n_classes) -> leaky (reset none), readout mean

With ``hidden`` unset (default) each input line drives its own neuron with no input
weights: a Leaky neuron on the positive (or negative) half-wave of one CSP component fires
at a rate that grows with that component's amplitude in the band, so the readout is a
linear classifier of spike rates, the spiking counterpart of CSP + LDA's log-variance
features. With the encoder's ``gain`` a list (the motor-imagery pipeline: 0.5, 1, 2) each
half-wave drives one neuron per gain, i.e. detectors with thresholds an octave apart, a
more graded amplitude code: on z-scored 8-30 Hz noise at 80 steps/s (beta 0.8, the
motor-imagery pipeline's; ``scripts/detector_rate_curve.py``) one neuron at gain 1 fires
0.01, 0.10, 0.26 and 0.51 spikes per step at 0.25, 0.5, 1 and 2 standard deviations
(amplitude^3.4 over the lowest octave), the three gains together 0.04, 0.12, 0.29 and
0.53 (amplitude^1.7 there), then rising by 0.17-0.24 per octave up to 4 standard
deviations (a logarithm would rise by a constant step) and saturating towards one spike per
step above. Few parameters (``L K + K``
for ``L`` lines and ``K`` classes), which suits tens of training trials. Options
(defaults): ``hidden`` (None), ``neuron`` (``{type: leaky, beta: 0.9, threshold: 1.0,
surrogate: {type: fast_sigmoid, slope: 25}}``; any non-recurrent spiking neuron),
``dropout`` (0.0), ``out_beta`` (0.9), ``readout`` (mean).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from eegsnn.errors import ConfigError
from eegsnn.model.readout import READOUTS

__all__ = ["FAMILIES", "band_power", "family_config", "family_neuron", "merge_neuron",
           "recurrent_snn", "spiking_eegnet", "spiking_shallow", "validate_family"]

_SURROGATE = {"type": "fast_sigmoid", "slope": 25.0}

#: Default options of each family (see the module docstring).
FAMILIES: dict[str, dict[str, Any]] = {
    "spiking_eegnet": {
        "f1": 8, "depth": 2, "f2": None, "kernel_s": None, "kernel_steps": None,
        "separable_kernel_s": None, "separable_kernel_steps": None, "pool1": 4, "pool2": 8,
        "dropout": 0.25, "causal": True,
        "neuron": {"type": "leaky", "beta": 0.9, "surrogate": _SURROGATE},
        "out_beta": 0.9, "readout": "mean",
    },
    "spiking_shallow": {
        "f1": 8, "depth": 2, "kernel_s": None, "kernel_steps": None, "pool_s": None,
        "pool_steps": None, "pool_stride_s": None, "pool_stride_steps": None,
        "dropout": 0.5, "causal": True,
        "neuron": {"type": "leaky", "beta": 0.9, "surrogate": _SURROGATE},
        "out_beta": 0.9, "readout": "mean",
    },
    "band_power": {
        "hidden": None, "dropout": 0.0,
        "neuron": {"type": "leaky", "beta": 0.9, "threshold": 1.0, "surrogate": _SURROGATE},
        "out_beta": 0.9, "readout": "mean",
    },
    "recurrent": {
        "hidden": 64, "batchnorm": True, "pool": 1, "dropout": 0.2,
        "neuron": {"type": "rleaky", "beta": 0.9, "surrogate": _SURROGATE},
        "out_beta": 0.9, "readout": "mean",
    },
}
#: Default lengths in seconds, and in steps when no step rate is known (80 steps/s).
_DEFAULT_S = {"kernel_s": 0.4, "separable_kernel_s": 0.4, "pool_s": 0.5, "pool_stride_s": 0.1}
_FALLBACK_STEPS = {"kernel_steps": 32, "separable_kernel_steps": 8, "pool_steps": 40,
                   "pool_stride_steps": 8}


def _positive_int(name: str, value: Any, family: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        hint = (" (layer sizes as a list are the short form's: give the whole model, "
                f"model={{hidden: {value!r}}})" if name == "hidden" and isinstance(value, list)
                else "")
        raise ConfigError(f"model ({family}): {name} must be a positive integer, got "
                          f"{value!r}{hint}")
    return value


def validate_family(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``{"family": name, **options}`` and return it with every default filled in.

    Raises:
        ConfigError: unknown family or option, or a bad value.
    """
    options: dict[str, Any] = copy.deepcopy(dict(spec))
    name = options.pop("family", None)
    if name not in FAMILIES:
        raise ConfigError(f"model.family must be one of {', '.join(FAMILIES)}, got {name!r}")
    defaults = FAMILIES[name]
    unknown = set(options) - set(defaults)
    if unknown:
        raise ConfigError(f"model ({name}): unknown option(s) {sorted(unknown)}; known: "
                          f"{', '.join(sorted(defaults))}")
    if isinstance(options.get("neuron"), Mapping):
        options["neuron"] = merge_neuron(defaults["neuron"], options["neuron"])
    out = {"family": name, **copy.deepcopy(defaults), **options}
    for key, value in out.items():
        if key in ("family", "neuron", "readout", "causal", "batchnorm") or value is None:
            continue
        if key.endswith("_s") or key in ("dropout", "out_beta"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"model ({name}): {key} must be a number, got {value!r}")
            if key == "dropout" and not 0.0 <= value < 1.0:
                raise ConfigError(f"model ({name}): dropout must be in [0, 1), got {value!r}")
            if key == "out_beta" and not 0.0 <= value <= 1.0:
                raise ConfigError(f"model ({name}): out_beta must be in [0, 1], got {value!r}")
            if key.endswith("_s") and not value > 0:
                raise ConfigError(f"model ({name}): {key} must be > 0 seconds, got {value!r}")
        else:
            _positive_int(key, value, name)
    for key in ("causal", "batchnorm"):
        if key in out and not isinstance(out[key], bool):
            raise ConfigError(f"model ({name}): {key} must be true or false, got {out[key]!r}")
    for seconds in _DEFAULT_S:
        steps = seconds.removesuffix("_s") + "_steps"
        if out.get(seconds) is not None and out.get(steps) is not None:
            raise ConfigError(f"model ({name}): give {seconds} or {steps}, not both")
    neuron = out["neuron"]
    if not isinstance(neuron, Mapping) or "type" not in neuron:
        raise ConfigError(f"model ({name}): neuron must be a mapping with a 'type'")
    kind = str(neuron["type"]).lower()
    allowed = ("rleaky", "rsynaptic") if name == "recurrent" else \
        ("leaky", "if", "synaptic", "alif", "alpha", "izhikevich")
    if kind not in allowed:
        raise ConfigError(f"model ({name}): neuron type must be one of {', '.join(allowed)}, "
                          f"got {neuron['type']!r}")
    out["neuron"] = {**dict(neuron), "type": kind}
    if out["readout"] not in READOUTS or out["readout"] == "count":
        raise ConfigError(f"model ({name}): readout must be final, max or mean (the output "
                          f"is a non-spiking integrator), got {out['readout']!r}")
    return out


def _same_type(base: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether ``given`` names no ``type`` or the same one as ``base`` (any case)."""
    return "type" not in given or str(given["type"]).lower() == str(base.get("type")).lower()


def merge_neuron(base: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` neuron options over ``base``'s: key by key when ``given`` names no type or
    ``base``'s (its ``surrogate`` likewise, one level down), else ``given`` whole (another
    neuron type takes none of ``base``'s options).

    >>> merge_neuron({"type": "leaky", "beta": 0.9, "surrogate": {"type": "fast_sigmoid",
    ...               "slope": 25}}, {"surrogate": {"slope": 10}})["surrogate"]
    {'type': 'fast_sigmoid', 'slope': 10}
    """
    if not _same_type(base, given):
        return copy.deepcopy(dict(given))
    out = {**copy.deepcopy(dict(base)), **copy.deepcopy(dict(given))}
    sur, base_sur = given.get("surrogate"), base.get("surrogate")
    if isinstance(sur, Mapping) and isinstance(base_sur, Mapping) and _same_type(base_sur, sur):
        out["surrogate"] = {**copy.deepcopy(dict(base_sur)), **copy.deepcopy(dict(sur))}
    return out


def family_neuron(name: Any) -> dict[str, Any] | None:
    """The default ``neuron`` of family ``name`` (``None``: not a family)."""
    return copy.deepcopy(FAMILIES[name]["neuron"]) if name in FAMILIES else None


def _steps(opts: dict[str, Any], seconds: str, steps: str, rate: float | None) -> int:
    """Kernel length in steps from ``opts[steps]``, ``opts[seconds] * rate`` or defaults."""
    if opts.get(steps) is not None:
        return int(opts[steps])
    if rate is None:
        if opts.get(seconds) is not None:
            raise ConfigError(f"model ({opts['family']}): {seconds} needs the input step rate "
                              f"(steps_per_s); give {steps} instead")
        return _FALLBACK_STEPS[steps]
    value = opts[seconds] if opts.get(seconds) is not None else _DEFAULT_S[seconds]
    return max(1, round(value * rate))


def _readout_layer(opts: dict[str, Any]) -> dict[str, Any]:
    sur = opts["neuron"].get("surrogate", _SURROGATE)
    return {"type": "leaky", "beta": opts["out_beta"], "reset_mechanism": "none",
            "surrogate": copy.deepcopy(sur)}


def spiking_eegnet(n_inputs: int, n_classes: int, steps_per_s: float | None = None,
                   **options: Any) -> dict[str, Any]:
    """The ``spiking_eegnet`` model config for ``[T, B, n_inputs]`` input (module doc)."""
    opts = validate_family({"family": "spiking_eegnet", **options})
    f1, depth = opts["f1"], opts["depth"]
    f2 = opts["f2"] or f1 * depth
    k1 = _steps(opts, "kernel_s", "kernel_steps", steps_per_s)
    k2 = _steps(opts, "separable_kernel_s", "separable_kernel_steps",
                None if steps_per_s is None else steps_per_s / opts["pool1"])
    neuron = opts["neuron"]
    drop = [{"type": "dropout", "p": opts["dropout"]}] if opts["dropout"] > 0 else []
    layers = [
        {"type": "conv_time", "per_channel": True, "out_channels": f1, "kernel_size": k1,
         "causal": opts["causal"], "bias": False},
        {"type": "batchnorm"},
        {"type": "spatial", "depth_multiplier": depth, "bias": False},
        {"type": "batchnorm"},
        copy.deepcopy(neuron),
        {"type": "avgpool_time", "kernel_size": opts["pool1"]},
        *copy.deepcopy(drop),
        {"type": "conv_time", "depthwise": True, "kernel_size": k2, "causal": opts["causal"],
         "bias": False},
        {"type": "linear", "out_features": f2, "bias": False},
        {"type": "batchnorm"},
        copy.deepcopy(neuron),
        {"type": "avgpool_time", "kernel_size": opts["pool2"]},
        *copy.deepcopy(drop),
        {"type": "linear", "out_features": int(n_classes)},
        _readout_layer(opts),
    ]
    return {"input_shape": [int(n_inputs)], "layers": layers, "readout": opts["readout"]}


def spiking_shallow(n_inputs: int, n_classes: int, steps_per_s: float | None = None,
                    **options: Any) -> dict[str, Any]:
    """The ``spiking_shallow`` model config for ``[T, B, n_inputs]`` input (module doc)."""
    opts = validate_family({"family": "spiking_shallow", **options})
    pool = _steps(opts, "pool_s", "pool_steps", steps_per_s)
    stride = _steps(opts, "pool_stride_s", "pool_stride_steps", steps_per_s)
    layers = [
        {"type": "conv_time", "per_channel": True, "out_channels": opts["f1"],
         "kernel_size": _steps(opts, "kernel_s", "kernel_steps", steps_per_s),
         "causal": opts["causal"], "bias": False},
        {"type": "batchnorm"},
        {"type": "spatial", "depth_multiplier": opts["depth"], "bias": False},
        {"type": "batchnorm"},
        copy.deepcopy(opts["neuron"]),
        {"type": "avgpool_time", "kernel_size": pool, "stride": stride},
        *([{"type": "dropout", "p": opts["dropout"]}] if opts["dropout"] > 0 else []),
        {"type": "linear", "out_features": int(n_classes)},
        _readout_layer(opts),
    ]
    return {"input_shape": [int(n_inputs)], "layers": layers, "readout": opts["readout"]}


def recurrent_snn(n_inputs: int, n_classes: int, steps_per_s: float | None = None,
                  **options: Any) -> dict[str, Any]:
    """The ``recurrent`` model config for ``[T, B, n_inputs]`` input (module doc)."""
    del steps_per_s  # the recurrent family has no time constants in seconds
    opts = validate_family({"family": "recurrent", **options})
    layers: list[dict[str, Any]] = []
    if opts["pool"] > 1:
        layers.append({"type": "avgpool_time", "kernel_size": opts["pool"]})
    layers.append({"type": "linear", "out_features": opts["hidden"]})
    if opts["batchnorm"]:
        layers.append({"type": "batchnorm"})
    layers.append(copy.deepcopy(opts["neuron"]))
    if opts["dropout"] > 0:
        layers.append({"type": "dropout", "p": opts["dropout"]})
    layers += [{"type": "linear", "out_features": int(n_classes)}, _readout_layer(opts)]
    return {"input_shape": [int(n_inputs)], "layers": layers, "readout": opts["readout"]}


def band_power(n_inputs: int, n_classes: int, steps_per_s: float | None = None,
               **options: Any) -> dict[str, Any]:
    """The ``band_power`` model config for ``[T, B, n_inputs]`` input (module doc)."""
    del steps_per_s  # no time constants in seconds
    opts = validate_family({"family": "band_power", **options})
    layers: list[dict[str, Any]] = []
    if opts["hidden"] is not None:
        layers.append({"type": "linear", "out_features": opts["hidden"]})
    layers.append(copy.deepcopy(opts["neuron"]))
    if opts["dropout"] > 0:
        layers.append({"type": "dropout", "p": opts["dropout"]})
    layers += [{"type": "linear", "out_features": int(n_classes)}, _readout_layer(opts)]
    return {"input_shape": [int(n_inputs)], "layers": layers, "readout": opts["readout"]}


_BUILDERS = {"spiking_eegnet": spiking_eegnet, "spiking_shallow": spiking_shallow,
             "recurrent": recurrent_snn, "band_power": band_power}


def family_config(spec: Mapping[str, Any], n_inputs: int, n_classes: int,
                  steps_per_s: float | None = None) -> dict[str, Any]:
    """``{"family": name, **options}`` -> a :func:`eegsnn.model.build_model` config.

    Args:
        spec: the family and its options (module docstring).
        n_inputs: input lines per step (EEG channels or spatial-filter components).
        n_classes: number of classes.
        steps_per_s: input steps per second, for options given in seconds.
    """
    opts = validate_family(spec)
    name = opts.pop("family")
    if steps_per_s is not None and not (isinstance(steps_per_s, int | float)
                                        and steps_per_s > 0):
        raise ConfigError(f"steps_per_s must be a positive number, got {steps_per_s!r}")
    return _BUILDERS[name](n_inputs, n_classes, steps_per_s, **opts)
