"""Render the common plots of a run directory (what ``eegsnn plot RUN_DIR`` does).

Reads whatever the run holds, from the training engine (:func:`eegsnn.train.fit`:
``history.json``, ``metrics.json``) or the pipeline (:mod:`eegsnn.pipeline.run`:
``metrics.json`` with ``snn.pooled``, ``folds/fold-K/train/history.json``,
``predictions.csv``, ``raster.npz``), and writes one figure per item into ``RUN/plots/``:

==============================  ==========================================================
file                            from
==============================  ==========================================================
``training_curves[_<fold>]``    every ``history.json``
``confusion_matrix``            ``metrics.json`` (``confusion_matrix``; pipeline: pooled)
``roc``                         ``predictions.csv`` (column ``true`` and ``p_<class>``)
``raster_<name>``               ``raster.npz`` arrays ``input``, ``layer0``, ...
``membrane``                    ``raster.npz`` array ``membrane``
``firing_rates``                ``raster.npz`` layers (per-neuron rates of that window;
                                not a non-spiking integrator output, as in the report)
==============================  ==========================================================
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.visualization._figure import save_figure
from eegsnn.visualization.layers import neuron_layers, run_model_config
from eegsnn.visualization.roc import roc_plot
from eegsnn.visualization.spikes import firing_rate_histogram, membrane_traces, spike_raster
from eegsnn.visualization.training import confusion_matrix_plot, training_curves

__all__ = ["PLOT_KINDS", "plot_run"]

PLOT_KINDS = ("curves", "confusion", "roc", "raster", "membrane", "rates")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON ({exc})") from exc


def _histories(run: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(run.rglob("history.json")):
        if "plots" in path.relative_to(run).parts:
            continue
        rel = path.parent.relative_to(run)
        parts = [p for p in rel.parts if p not in ("train",)]
        found.append(("_".join(parts), path))
    return found


def _confusion(metrics: dict[str, Any]) -> tuple[Any, list[str] | None] | None:
    names = metrics.get("class_names")
    for record in (metrics, (metrics.get("snn") or {}).get("pooled") or {}):
        if isinstance(record, dict) and record.get("confusion_matrix") is not None:
            return record["confusion_matrix"], names
    return None


def _window_s(run: Path) -> float | None:
    """The window length (s) a pipeline run's ``data.json`` records, or ``None``."""
    path = run / "data.json"
    if not path.is_file():
        return None
    record = _read_json(path)
    value = record.get("window_s") if isinstance(record, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _predictions(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataError(f"{path}: cannot read predictions ({exc})") from exc
    if not rows or "true" not in rows[0]:
        return None
    classes = [k.removeprefix("p_") for k in rows[0] if k.startswith("p_")]
    if len(classes) < 2:
        return None
    index = {c: i for i, c in enumerate(classes)}
    try:
        y = np.array([index[r["true"]] for r in rows])
        proba = np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: malformed predictions ({exc})") from exc
    return y, proba, classes


def plot_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
             fmt: str = "png", kinds: tuple[str, ...] = PLOT_KINDS,
             dt_s: float | None = None) -> list[Path]:
    """Write the run's plots; returns the paths written (in ``out_dir``, default
    ``RUN/plots``, beside the report's figures, whose names they do not take:
    ``training_curves*``, ``confusion_matrix``, ``roc_per_class``, ``raster_*``,
    ``membrane``, ``firing_rate_histogram``; the report writes ``raster``,
    ``firing_rates``, ``confusion``, ``confusion_baseline`` and ``roc``, which its Markdown
    form links to).

    Args:
        run_dir: a run folder of :func:`eegsnn.train.fit` or of the pipeline.
        fmt: ``png``, ``pdf`` or ``svg``.
        kinds: which plots (subset of :data:`PLOT_KINDS`).
        dt_s: step length for raster time axes (seconds); ``None``: a pipeline run's
            window length (``data.json``'s ``window_s``) over each array's steps, else
            steps.

    Raises:
        DataError: the folder does not exist or holds nothing to plot; unreadable files.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(f"{run}: run folder not found")
    unknown = set(kinds) - set(PLOT_KINDS)
    if unknown:
        raise ConfigError(f"plot kinds {sorted(unknown)} unknown; choose from "
                          f"{', '.join(PLOT_KINDS)}")
    if dt_s is not None and not (math.isfinite(float(dt_s)) and float(dt_s) > 0):
        raise ConfigError(f"dt_s must be a positive number of seconds, got {dt_s!r}")
    out = Path(out_dir) if out_dir is not None else run / "plots"
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        written.append(save_figure(fig, out / f"{name}.{fmt}"))

    if "curves" in kinds:
        for tag, path in _histories(run):
            history = _read_json(path)
            if isinstance(history, list) and history:
                save(training_curves(history, title=f"{run.name} {tag}".strip()),
                     "training_curves" + (f"_{tag}" if tag else ""))
    metrics_path = run / "metrics.json"
    if "confusion" in kinds and metrics_path.is_file():
        metrics = _read_json(metrics_path)
        found = _confusion(metrics) if isinstance(metrics, dict) else None
        if found is not None:
            cm, names = found
            save(confusion_matrix_plot(cm, class_names=names, normalize=True),
                 "confusion_matrix")
    if "roc" in kinds:
        pred_files = [run / "predictions.csv"] if (run / "predictions.csv").is_file() else \
            sorted(run.glob("folds/*/predictions.csv"))
        ys, probas, classes = [], [], None
        for path in pred_files:
            got = _predictions(path)
            if got is not None and (classes is None or got[2] == classes):
                ys.append(got[0])
                probas.append(got[1])
                classes = got[2]
        if ys:
            y, proba = np.concatenate(ys), np.concatenate(probas)
            if len(np.unique(y)) >= 2:
                save(roc_plot(y, proba, class_names=classes), "roc_per_class")
    raster_path = run / "raster.npz"
    window_s = _window_s(run) if dt_s is None else None

    def step_s(value: np.ndarray) -> float | None:
        """Seconds per step of ``value [T, ...]``: ``dt_s``, or the window over its T."""
        return dt_s if window_s is None else window_s / value.shape[0]

    if any(k in kinds for k in ("raster", "membrane", "rates")) and raster_path.is_file():
        try:
            with np.load(raster_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{raster_path}: cannot read ({exc})") from exc
        spikes = {k: v for k, v in arrays.items()
                  if k == "input" or (k.startswith("layer") and v.ndim == 2)}
        if "raster" in kinds:
            for name, value in spikes.items():
                save(spike_raster(value, dt_s=step_s(value), title=f"{name} spikes "
                                  f"({int((value > 0).sum())} spikes, {value.shape[1]} lines)"),
                     f"raster_{name}")
        if "membrane" in kinds and arrays.get("membrane") is not None \
                and arrays["membrane"].ndim == 2:
            save(membrane_traces(arrays["membrane"], dt_s=step_s(arrays["membrane"]),
                                 title="output membrane (one window)"), "membrane")
        metrics = _read_json(metrics_path) if metrics_path.is_file() else {}
        quiet = {la["raster_key"] for la in neuron_layers(
            run_model_config(run), metrics.get("model_type") if isinstance(metrics, dict)
            else None) if not la["spiking"]}  # an integrator output never spikes
        layers = {k: v for k, v in spikes.items() if k != "input" and k not in quiet}
        steps = {v.shape[0] for v in layers.values()}
        if "rates" in kinds and layers:  # in Hz when every layer has the same step length
            save(firing_rate_histogram(
                layers, dt_s=step_s(next(iter(layers.values()))) if len(steps) == 1
                else dt_s), "firing_rate_histogram")
    if not written:
        asked = "" if set(kinds) == set(PLOT_KINDS) else f" of {', '.join(kinds)}"
        lsm = (run / "model" / "readout.npz").is_file()
        raise DataError(f"{run}: nothing to plot{asked} (no history.json, metrics.json with "
                        "a confusion matrix, predictions.csv or raster.npz for it"
                        + ("; an LSM run has no training history" if lsm else "") + ")")
    return written
