"""The neuron registry: every neuron of :mod:`eegsnn.nn` by its config name, and the one config
format that builds them.

A neuron config is a model-config layer entry::

    {"type": "leaky", "beta": 0.9, ..., "surrogate": {"type": "fast_sigmoid", "slope": 25}}

``type`` is a key of :data:`NEURONS` (case-insensitive); ``surrogate`` may be a name,
``{"type": name, **params}`` or ``None``. :meth:`SpikingNeuron.config` writes it,
:func:`neuron_from_config` reads it, and model configs (:mod:`eegsnn.model.network`),
reservoir configs (:mod:`eegsnn.nn.reservoir`) and NIR metadata (:mod:`eegsnn.interop.nir`)
use it. Older saved configs wrote ``{"model": "Leaky", ..., "surrogate": {"name": ...}}``;
:func:`upgrade_neuron_config` converts them, and :func:`neuron_from_config` does so on load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eegsnn import surrogate as _surrogate
from eegsnn.errors import ConfigError, refuse_unknown_options
from eegsnn.nn.base import SpikingNeuron
from eegsnn.nn.neurons import ALIF, IF, Alpha, Izhikevich, Leaky, Synaptic
from eegsnn.nn.recurrent import RLeaky, RSynaptic

__all__ = ["NEURONS", "NEURON_MODELS", "build_neuron", "neuron_from_config",
           "upgrade_neuron_config"]

#: Neuron classes by config name (the ``type`` of a neuron config or model-config layer).
NEURONS: dict[str, type[SpikingNeuron]] = {
    cls.config_type: cls
    for cls in (Leaky, IF, Izhikevich, ALIF, Synaptic, Alpha, RLeaky, RSynaptic)
}
#: The same classes by class name (the ``model`` of the older config format).
NEURON_MODELS: dict[str, type[SpikingNeuron]] = {cls.__name__: cls for cls in NEURONS.values()}


def upgrade_neuron_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A neuron config in the current format (a copy): ``{"model": "Leaky", ...,
    "surrogate": {"name": ...}}`` (older saved configs) becomes ``{"type": "leaky", ...,
    "surrogate": {"type": ...}}``; a current config is returned as is.

    Raises:
        ConfigError: Not a mapping, neither ``type`` nor ``model``, an unknown ``model``, or
            an old surrogate dict without its ``name``.
    """
    if not isinstance(config, Mapping) or ("type" not in config and "model" not in config):
        raise ConfigError(f"neuron config must be a mapping with a 'type' key (older configs: "
                          f"a 'model' key), got {config!r}")
    out = dict(config)
    if "type" in out:
        return out
    model = out.pop("model")
    if model not in NEURON_MODELS:
        raise ConfigError(f"unknown neuron model {model!r}; expected one of "
                          f"{', '.join(NEURON_MODELS)}")
    spec = out.get("surrogate")
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "name" not in params:
            raise ConfigError(f"{model}: surrogate config needs a 'name', got {spec!r}")
        out["surrogate"] = {"type": params.pop("name"), **params}
    return {"type": NEURON_MODELS[model].config_type, **out}


def _surrogate_from(spec: Any, where: str) -> Callable[..., Any]:
    if isinstance(spec, Mapping):
        params = {k: v for k, v in spec.items() if k != "type"}
        if "type" not in spec:
            raise ConfigError(f"{where}: surrogate dict needs a 'type', got {dict(spec)!r}")
        kind = spec["type"]
    else:
        kind, params = spec, {}
    try:
        return _surrogate.get(kind, **params)
    except ValueError as exc:  # ConfigError included: unknown name, bad parameters
        raise ConfigError(f"{where}: {exc}") from exc


def build_neuron(type_name: str, options: Mapping[str, Any], *,
                 where: str | None = None) -> SpikingNeuron:
    """``NEURONS[type_name](**options)``, the surrogate resolved from its config form.

    Args:
        type_name: A key of :data:`NEURONS` (case-insensitive).
        options: Constructor arguments; ``"surrogate"`` a name, ``{"type": name, **params}``,
            a callable or ``None``.
        where: What to name in errors (default: the type).

    Raises:
        ConfigError: Unknown type, surrogate or arguments.
    """
    return _build(type_name, options, where, "bad options")


def neuron_from_config(config: Mapping[str, Any]) -> SpikingNeuron:
    """Build a neuron from a dict such as :meth:`SpikingNeuron.config` returns (older
    ``{"model": ...}`` configs are converted by :func:`upgrade_neuron_config`).

    Raises:
        ConfigError: Unknown type or surrogate, or bad arguments.
    """
    kwargs = upgrade_neuron_config(config)
    return _build(kwargs.pop("type"), kwargs, None, "bad arguments")


def _build(type_name: str, options: Mapping[str, Any], where: str | None,
           bad: str) -> SpikingNeuron:
    kind = str(type_name).lower()
    where = where or kind
    if kind not in NEURONS:
        raise ConfigError(f"{where}: unknown neuron type {type_name!r}; expected one of "
                          f"{', '.join(NEURONS)}")
    kwargs = dict(options)
    if "surrogate" in kwargs and not callable(kwargs["surrogate"]):
        kwargs["surrogate"] = _surrogate_from(kwargs["surrogate"], where)
    refuse_unknown_options(where, kwargs, NEURONS[kind])
    try:
        return NEURONS[kind](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {bad} {sorted(kwargs)}: {exc}") from exc
    except ValueError as exc:  # ConfigError included: an option out of range
        raise ConfigError(f"{where}: {exc}") from exc
