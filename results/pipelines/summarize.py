"""Compact summary of eegsnn runs for results/pipelines/ (numbers + the command that made them).

Usage: python results/pipelines/summarize.py RUN_DIR [RUN_DIR ...] > summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _pick(block: dict) -> dict:
    out = {k: block.get(k) for k in ("n_samples", "accuracy", "accuracy_ci",
                                      "balanced_accuracy", "cohen_kappa", "f1_macro",
                                      "roc_auc_ovr_macro", "confusion_matrix")}
    pos = block.get("positive")
    if pos:
        out["positive"] = {k: pos.get(k) for k in ("class", "sensitivity", "specificity",
                                                    "roc_auc", "tp", "fn", "tn", "fp", "ci")}
    rec = block.get("recording_level")
    if rec and "accuracy" in rec:
        out["recording_level"] = _pick(rec) | {"n_recordings": rec.get("n_recordings")}
    if block.get("events"):
        out["events"] = block["events"]
    return out


def summarize(run: Path) -> dict:
    m = json.loads((run / "metrics.json").read_text())
    out = {"run": run.name, "study": m["study"], "pipeline": m["pipeline"],
           "split": m["split"], "n_folds": m["n_folds"], "class_counts": m["class_counts"],
           "snn": _pick(m["snn"]["pooled"]),
           "snn_fold_accuracy": m["snn"]["summary"]["accuracy"],
           "firing_rates": m["snn"]["firing_rates"], "timing_s": m.get("timing", {}),
           "model_type": m.get("model_type", "snn")}
    if "lsm" in m:  # liquid state machine: the "snn" block holds its held-out scores
        out["lsm"] = {k: m["lsm"][k] for k in ("reservoir", "alpha", "train_accuracy",
                                               "train_firing_rate", "test_firing_rate")}
        out["lsm"]["model"] = m["lsm"]["model"]
    if m.get("warnings"):
        out["warnings"] = m["warnings"]
    if "baseline" in m:
        out["baseline"] = {"type": m["baseline"]["type"], **_pick(m["baseline"]["pooled"]),
                           "fold_accuracy": m["baseline"]["summary"]["accuracy"]}
    return out


if __name__ == "__main__":
    print(json.dumps([summarize(Path(p)) for p in sys.argv[1:]], indent=1))
