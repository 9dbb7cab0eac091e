"""Applying a finished run to new data: its model, and :func:`evaluate_run`."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from eegsnn.encode import EEGEncoder
from eegsnn.errors import DataError
from eegsnn.io.files import atomic_write_json
from eegsnn.pipeline.contract import PipelineModel
from eegsnn.pipeline.folds import encode_windows, score_windows
from eegsnn.pipeline.metrics import class_counts
from eegsnn.pipeline.models import model_class
from eegsnn.pipeline.records import write_predictions_csv
from eegsnn.pipeline.runstate import require_finished
from eegsnn.preprocess import load_windows
from eegsnn.visualization import confusion_matrix_plot, write_figure

__all__ = ["EvaluationResult", "check_compatible", "default_root", "evaluate_run",
           "load_run_model"]


@dataclass
class EvaluationResult:
    """What :func:`evaluate_run` returns: metrics, probabilities and window metadata."""

    metrics: dict[str, Any]
    proba: np.ndarray
    y: np.ndarray
    recording: np.ndarray
    onset_s: np.ndarray
    class_names: tuple[str, ...]
    out_dir: Path | None = None


def load_run_model(run_dir: str | os.PathLike
                   ) -> tuple[dict[str, Any], dict[str, Any], EEGEncoder, PipelineModel]:
    """``(config, data record, encoder, model)`` of a finished run; the model is the
    :class:`~eegsnn.pipeline.contract.PipelineModel` of its ``model.type``.

    Raises:
        DataError: ``run_dir`` is not a finished eegsnn run (names the missing file).
    """
    run_dir = Path(run_dir)
    require_finished(run_dir)
    model_dir = run_dir / "model"

    def need(paths: list[Path]) -> None:
        for p in paths:
            if not p.exists():
                raise DataError(f"{run_dir}: not a finished eegsnn run "
                                f"({p.relative_to(run_dir)} is missing)")

    need([run_dir / "config.yaml", run_dir / "data.json", model_dir / "encoder.json",
          model_dir / "model_config.json"])
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        record = json.loads((run_dir / "data.json").read_text(encoding="utf-8"))
        enc_cfg = json.loads((model_dir / "encoder.json").read_text(encoding="utf-8"))
        model_cfg = json.loads((model_dir / "model_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise DataError(f"{run_dir}: corrupt run record ({exc})") from exc
    kind = model_class(model_cfg)
    need([model_dir / name for name in kind.files])
    return cfg, record, EEGEncoder.from_config(enc_cfg), kind.load(model_dir, cfg)


def default_root(source: Any, root: Any, dataset: Mapping[str, Any]) -> Any:
    """Root for labels read from paths: a folder or files given alone are labelled by
    their parent folder's name (Bonn ``S/``), so the root is taken one level up."""
    if root is not None or (dataset.get("labels") or {}).get("source") != "path":
        return root
    paths = [Path(p) for p in (source if isinstance(source, (list, tuple)) else [source])]
    if any(p.suffix.lower() in (".yaml", ".yml") for p in paths):
        return root  # a manifest names its own root
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0].resolve().parent
    if paths and all(p.is_file() for p in paths):
        parents = {p.resolve().parent for p in paths}
        if len(parents) == 1:
            return parents.pop().parent
    return root


def check_compatible(ws: Any, record: Mapping[str, Any], source: str, run_dir: Path) -> None:
    """Refuse windows whose sampling rate, channels or length differ from the run's.

    Raises:
        DataError: one line naming the data, the run and the difference.
    """
    if not np.isclose(ws.sfreq_hz, record["sfreq_hz"]):
        raise DataError(f"{source}: sampling rate {ws.sfreq_hz:g} Hz (after the run's "
                        f"preprocessing) does not fit the run {run_dir}, trained at "
                        f"{record['sfreq_hz']:g} Hz; resample the recordings first")
    trained = list(record["ch_names"])
    got = list(ws.ch_names)
    if got != trained:
        missing = [c for c in trained if c not in got]
        extra = [c for c in got if c not in trained]
        detail = (f"missing {missing[:8]}" if missing else "") + \
                 (f"{'; ' if missing else ''}extra {extra[:8]}" if extra else "")
        raise DataError(f"{source}: channels do not fit the run {run_dir} (trained on "
                        f"{len(trained)} channels; {detail or 'different order'})")
    if ws.n_samples != int(record["n_samples"]):
        raise DataError(f"{source}: windows of {ws.n_samples} samples, the run {run_dir} "
                        f"was trained on {record['n_samples']}")


def evaluate_run(run_dir: str | os.PathLike, source: Any = None, *,
                 root: str | os.PathLike | None = None,
                 out_dir: str | os.PathLike | None = None, predict: bool = False,
                 cache_dir: str | os.PathLike | None = None) -> EvaluationResult:
    """Apply a run's preprocessing, encoder and model to recordings; score them.

    Args:
        run_dir: a finished run of :func:`~eegsnn.pipeline.run_pipeline`.
        source: recording files, a folder or a data manifest (default: the run's own data
            source, i.e. every window, training windows included).
        root: dataset root for ``source``.
        out_dir: where ``metrics.json`` (and ``predictions.csv``, ``confusion.png``) go
            (``None``: nothing is written).
        predict: write per-window predictions with class probabilities.

    Raises:
        DataError: the data do not fit the run (channels, sampling rate, window length),
        or ``run_dir`` is not a finished run.
    """
    run_dir = Path(run_dir)
    cfg, record, encoder, model = load_run_model(run_dir)
    if source is None:
        source, root = cfg["data"]["source"], cfg["data"]["root"] if root is None else root
    if isinstance(source, (list, tuple)) and len(source) == 1:
        source = source[0]
    src_name = str(source) if not isinstance(source, (list, tuple)) else \
        f"{len(source)} files"
    root = default_root(source, root, cfg["dataset"])
    ws = load_windows(source, cfg["dataset"], root=root,
                      cache_dir=cache_dir if cache_dir is not None else cfg.get("cache_dir"))
    check_compatible(ws, record, src_name, run_dir)
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    if spikes.shape[2] != model.n_inputs:
        raise DataError(f"{src_name}: encoder gives {spikes.shape[2]} lines, the model takes "
                        f"{model.n_inputs}")
    pred = model.predict_proba(spikes, where=f"evaluate {src_name}")
    rep = score_windows(cfg, ws, np.arange(len(ws)), pred.proba)
    rep["firing_rates"] = pred.rates
    if pred.warnings:
        rep["warnings"] = pred.warnings
    rep["data"] = {"source": source if isinstance(source, str) else [str(s) for s in source],
                   "files": ws.provenance.get("files", []), "n_windows": len(ws),
                   "class_counts": class_counts(ws.y, ws.class_names)}
    rep["run"] = str(run_dir)
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "metrics.json", rep)
        if predict:
            write_predictions_csv(out / "predictions.csv", ws.recording, ws.onset_s, ws.y,
                                  pred.proba, ws.class_names)

        write_figure(out / "confusion.png", confusion_matrix_plot,
                     np.asarray(rep["confusion_matrix"]), class_names=ws.class_names,
                     normalize=True, title="Confusion matrix")
    return EvaluationResult(copy.deepcopy(rep), pred.proba, ws.y, ws.recording, ws.onset_s,
                            ws.class_names, out)
