"""The neuron layers of a run's model, named once for every record that holds them.

:func:`neuron_layers` maps a run's model config to its neuron layers (the keys under which
``metrics.json``'s ``firing_rates`` and ``raster.npz`` hold each one, a human name, and
whether it spikes at all); :func:`run_model_config` reads that config from a run folder.
The run report (:mod:`eegsnn.report`) and ``eegsnn plot`` (:func:`eegsnn.visualization.plot_run`)
both name layers and leave out a non-spiking integrator output through them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eegsnn.errors import DataError
from eegsnn.nn import NEURONS

__all__ = ["neuron_layers", "run_model_config"]


def run_model_config(run: Path) -> dict[str, Any] | None:
    """The run's model config (``model/model_config.json``, else fold 1's), or ``None``.

    Raises:
        DataError: the file exists but cannot be read or is not JSON (named).
    """
    for path in (run / "model" / "model_config.json",
                 run / "folds" / "fold-1" / "model_config.json"):
        if path.is_file():
            try:
                cfg = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
            except ValueError as exc:
                raise DataError(f"{path}: not valid JSON ({exc})") from exc
            return cfg if isinstance(cfg, dict) else None
    return None


def neuron_layers(model_cfg: Mapping[str, Any] | None, model_type: str | None = None,
                  sizes: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The neuron layers of a run's model, each with one human name for all of its records.

    Returns one dict per neuron layer, input to output: ``rate_key`` (its key in
    ``metrics.json``'s ``firing_rates``, e.g. ``layers.1.leaky``), ``raster_key`` (in
    ``raster.npz``, e.g. ``layer0``), ``name`` (``"hidden 1 (Leaky, 128)"``, ``"output
    (Leaky integrator, 3)"``, ``"reservoir (500 neurons)"``) and ``spiking`` (``False``
    for an output that never spikes: no reset, read out from its membrane).

    Args:
        model_cfg: the run's ``model_config.json`` (``None``: no layers known).
        model_type: ``metrics.json``'s ``model_type`` (``"lsm"``: one reservoir).
        sizes: ``raster key -> neurons`` (from ``raster.npz``), preferred over the config.
    """
    sizes = dict(sizes or {})
    if model_type == "lsm":
        n = sizes.get("layer0") or ((model_cfg or {}).get("reservoir") or {}).get("n_neurons")
        return [{"rate_key": "reservoir", "raster_key": "layer0", "spiking": True,
                 "name": "reservoir" + (f" ({n} neurons)" if n else "")}]
    layers = list((model_cfg or {}).get("layers") or [])
    found = [(i, layer) for i, layer in enumerate(layers) if layer.get("type") in NEURONS]
    out = []
    for j, (i, layer) in enumerate(found):
        kind = layer["type"]
        size = sizes.get(f"layer{j}")
        if size is None:  # the width of the layer feeding it
            prev = [p for p in layers[:i] if "out_features" in p or "out_channels" in p]
            if prev:
                size = prev[-1].get("out_features", prev[-1].get("out_channels"))
        cls = NEURONS[kind].__name__
        last = j == len(found) - 1
        spiking = not (last and layer.get("reset_mechanism") == "none"
                       and (model_cfg or {}).get("readout") != "count")
        what = f"{cls}{'' if spiking else ' integrator'}" + (f", {size}" if size else "")
        out.append({"rate_key": f"layers.{i}.{kind}", "raster_key": f"layer{j}",
                    "spiking": spiking,
                    "name": f"output ({what})" if last else f"hidden {j + 1} ({what})"})
    return out
