"""The records of a run folder: fold and run results, data provenance, predictions.

See :mod:`eegsnn.pipeline.run` for the folder's layout.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.encode import file_sha256
from eegsnn.io.files import atomic_write_text
from eegsnn.manifest import load_manifest
from eegsnn.pipeline.metrics import class_counts

__all__ = ["FoldResult", "RunResult", "data_record", "write_predictions_csv"]


@dataclass
class FoldResult:
    """One fold: indices into the window set, test probabilities and metrics."""

    index: int
    train_idx: np.ndarray
    test_idx: np.ndarray
    proba: np.ndarray
    metrics: dict[str, Any]
    baseline_proba: np.ndarray | None = None
    baseline_metrics: dict[str, Any] | None = None
    firing_rates: dict[str, float] = field(default_factory=dict)
    train_time_s: float = 0.0


@dataclass
class RunResult:
    """What :func:`run_pipeline` returns.

    Attributes:
        run_dir: the run directory (``None`` when nothing was written).
        config: the resolved study config.
        metrics: the content of ``metrics.json``.
        folds: per-fold results.
        windows: the :class:`~eegsnn.preprocess.WindowSet` that was used.
    """

    run_dir: Path | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    folds: list[FoldResult]
    windows: Any = None

    @property
    def accuracy(self) -> float:
        return float(self.metrics["snn"]["pooled"]["accuracy"])




def write_predictions_csv(path: Path, recording: np.ndarray, onset_s: np.ndarray,
                          y: np.ndarray | None, proba: np.ndarray,
                          class_names: Sequence[str]) -> None:
    """``predictions.csv``: recording, onset, true class (when known), predicted class and
    the probability of every class, one row per window."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["recording", "onset_s"] + (["true"] if y is not None else []) + [
        "predicted"] + [f"p_{c}" for c in class_names]
    writer.writerow(header)
    pred = proba.argmax(axis=1)
    for i in range(proba.shape[0]):
        row = [str(recording[i]), f"{float(onset_s[i]):.4f}"]
        if y is not None:
            row.append(class_names[int(y[i])])
        row.append(class_names[int(pred[i])])
        row += [f"{float(p):.6f}" for p in proba[i]]
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())



def data_record(cfg: Mapping[str, Any], ws: Any) -> dict[str, Any]:
    """Provenance of the windows (no patient identity: only paths, checksums, counts)."""
    src = cfg["data"]["source"]
    record: dict[str, Any] = {"source": src, "root": cfg["data"]["root"]}
    if isinstance(src, str) and src.lower().endswith((".yaml", ".yml")):
        manifest = load_manifest(src)
        record["manifest"] = {"path": src, "name": manifest.name,
                              "sha256": file_sha256(src),
                              "license": getattr(manifest, "license", ""),
                              "citation": list(getattr(manifest, "citation", []) or [])}
    prov = ws.provenance
    record.update({
        "files": prov.get("files", []),
        "n_recordings": int(np.unique(ws.recording).size),
        "n_windows": len(ws),
        "class_names": list(ws.class_names),
        "class_counts": class_counts(ws.y, ws.class_names),
        "ch_names": list(ws.ch_names),
        "sfreq_hz": float(ws.sfreq_hz),
        "n_samples": int(ws.n_samples),
        "unit": ws.unit,
        "window_s": float(cfg["dataset"]["windows"]["window_s"]),
        "cache": {k: v for k, v in (prov.get("cache") or {}).items() if k != "dir"},
        "recordings": prov.get("recordings", []),
    })
    return record

