"""The records of a run folder: fold and run results, data provenance, predictions, the
recordings the deployable model was trained on (``model/training_files.json``) and the
train/evaluate overlap check that reads it (:func:`check_overlap`).

See :mod:`eegsnn.pipeline.run` for the folder's layout.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.evaluate.metrics import predict_with_threshold
from eegsnn.io.files import atomic_write_json, atomic_write_text, sha256_file
from eegsnn.manifest import load_manifest
from eegsnn.pipeline.metrics import class_counts
from eegsnn.preprocess.splits import identical_recordings

__all__ = ["TRAINING_FILES", "FoldResult", "RunResult", "check_overlap", "data_record",
           "training_files", "write_predictions_csv", "write_training_files"]

#: ``model/training_files.json``: the recordings the deployable model and its encoder were
#: fitted on (validation recordings included): path, file ``sha256`` and ``signal_sha256``
#: (of the decoded samples, :func:`eegsnn.preprocess.objects.signal_sha256`).
TRAINING_FILES = "training_files.json"


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
                          class_names: Sequence[str], *, positive_class: str | None = None,
                          threshold: float | None = None,
                          flat_channels: Sequence[str] | None = None) -> None:
    """``predictions.csv``: recording, onset, true class (when known), predicted class
    (arg-max) and the probability of every class, one row per window. With an operating
    point (``positive_class`` and its ``threshold``) a column ``predicted_at_threshold``
    holds the decision at that threshold (the one the operating-point metrics score).
    ``flat_channels`` (one string per window, ``"C3;Cz"``) adds a last column of that name:
    the channels flat in the window, whose prediction is not reliable."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    at = None
    if isinstance(threshold, (int, float)) and positive_class is not None:
        at = predict_with_threshold(proba, list(class_names).index(str(positive_class)),
                                    float(threshold))
    header = ["recording", "onset_s"] + (["true"] if y is not None else []) + [
        "predicted"] + (["predicted_at_threshold"] if at is not None else []) + [
        f"p_{c}" for c in class_names] + (["flat_channels"] if flat_channels is not None
                                          else [])
    writer.writerow(header)
    pred = proba.argmax(axis=1)
    for i in range(proba.shape[0]):
        row = [str(recording[i]), f"{float(onset_s[i]):.4f}"]
        if y is not None:
            row.append(class_names[int(y[i])])
        row.append(class_names[int(pred[i])])
        if at is not None:
            row.append(class_names[int(at[i])])
        row += [f"{float(p):.6f}" for p in proba[i]]
        if flat_channels is not None:
            row.append(flat_channels[i])
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())



def data_record(cfg: Mapping[str, Any], ws: Any) -> dict[str, Any]:
    """Provenance of the windows (no patient identity: only paths, checksums, counts)."""
    src = cfg["data"]["source"]
    record: dict[str, Any] = {"source": src, "root": cfg["data"]["root"]}
    if isinstance(src, str) and src.lower().endswith((".yaml", ".yml")):
        manifest = load_manifest(src)
        record["manifest"] = {"path": src, "name": manifest.name,
                              "sha256": sha256_file(src),
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
    same = identical_recordings(prov.get("files", []), np.unique(ws.recording).tolist())
    if same:  # kept on one side of every split (eegsnn.pipeline.folds.make_folds)
        record["identical_recordings"] = same
    return record


def write_training_files(path: Path, ws: Any, idx: np.ndarray | None) -> None:
    """Write ``training_files.json``: the recordings of the windows ``idx`` (``None``: all)
    with the sha256 of their content (from the window provenance; no patient identity)."""
    used = set((ws.recording if idx is None else ws.recording[idx]).tolist())
    files = [dict(f) for f in ws.provenance.get("files", []) if f.get("path") in used]
    atomic_write_json(path, {"note": "recordings the model was trained on (validation "
                                     "recordings included); eegsnn evaluate refuses them",
                             "n_windows": int(len(ws) if idx is None else len(idx)),
                             "files": files})


def training_files(run_dir: str | os.PathLike, cfg: Mapping[str, Any],
                   record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"path", "sha256"}]`` of the recordings the run's deployable model was trained on.

    Runs from before ``model/training_files.json``: every file of ``data.json`` (less the
    last fold's test recordings when the split is by recording and the model is that
    fold's).
    """
    run_dir = Path(run_dir)
    path = run_dir / "model" / TRAINING_FILES
    if path.is_file():
        try:
            return list(json.loads(path.read_text(encoding="utf-8"))["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: corrupt training record ({exc})") from exc
    files = list(record.get("files", []))
    split = cfg.get("split") or {}
    refit = split.get("method") == "kfold" and split.get("refit")
    splits = run_dir / "splits.json"
    if split.get("by") == "recording" and not refit and splits.is_file():
        try:
            held = set(json.loads(splits.read_text(encoding="utf-8"))["folds"][-1]
                       ["test_groups"])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            held = set()
        files = [f for f in files if f.get("path") not in held]
    return files


def check_overlap(run_dir: str | os.PathLike, cfg: Mapping[str, Any],
                  record: Mapping[str, Any], ws: Any, source: str, *,
                  allow: bool = False) -> dict[str, Any] | None:
    """Compare the content of the recordings of ``ws`` with the run's training recordings
    (:func:`training_files`): the same recording is one whose file sha256 or whose decoded
    signal's sha256 (``signal_sha256``: a copy with an edited EDF header, a Bonn segment
    with another line ending, an MNE ``Raw`` of a training file) is the run's. Runs from
    before ``signal_sha256`` was recorded are compared by file sha256 only.

    Returns:
        ``None`` without overlap, else ``{"n_files", "files", "trained_as", "n_windows"}``
        (the overlapping recordings as ``ws`` names them, as the run names them, and how
        many of the windows of ``ws`` they hold).

    Raises:
        ConfigError: an overlap and ``allow`` is false (one line naming the files).
    """
    trained: dict[tuple[str, str], str] = {}
    for f in training_files(run_dir, cfg, record):
        for kind in ("sha256", "signal_sha256"):
            if f.get(kind):
                trained.setdefault((kind, str(f[kind])), str(f["path"]))

    def match(f: Mapping[str, Any]) -> str | None:
        for kind in ("sha256", "signal_sha256"):
            if f.get(kind) and (kind, str(f[kind])) in trained:
                return trained[(kind, str(f[kind]))]
        return None

    hits = [(f, match(f)) for f in ws.provenance.get("files", [])]
    hits = [(f, t) for f, t in hits if t is not None]
    if not hits:
        return None
    names = [str(f["path"]) for f, _ in hits]
    if not allow:
        pairs = [name if t is None or Path(name).name == Path(t).name else
                 f"{name} = {Path(t).name}" for name, (_, t) in zip(names, hits, strict=True)]
        shown = ", ".join(pairs[:5]) + (f" and {len(pairs) - 5} more" if len(pairs) > 5
                                        else "")
        raise ConfigError(f"{source}: {len(names)} recording(s) have the same content as "
                          f"recordings the run {run_dir} was trained on ({shown}); "
                          "evaluate held-out recordings, or allow the overlap to score "
                          "them anyway (--allow-overlap; allow_overlap=True in Python; the "
                          "metrics then say so)")
    return {"n_files": len(names), "files": names,
            "trained_as": [t for _, t in hits],
            "n_windows": int(np.isin(ws.recording, names).sum())}
