r"""Clinical-research metrics on top of :mod:`eegsnn.evaluate.metrics` (pure NumPy).

* :func:`softmax`: logits ``[N, K]`` -> probabilities.
* :func:`class_counts`: windows per class name.
* :func:`binary_metrics`: one class against the rest (``positive``): sensitivity (recall of
  the positive class), specificity, PPV, NPV, and ROC-AUC from the positive-class
  probability, with the ROC curve points.
* :func:`wilson_interval`: 95 % Wilson score interval of a proportion :math:`k/n`.
* :func:`fold_summary`: mean, standard deviation and a 95 % Student-t interval over folds.
* :func:`aggregate_recordings`: one prediction per recording from the mean probability of
  its windows (Bonn segments, whole trials).
* :func:`event_metrics`: event-level sensitivity and false alarms per hour on long
  recordings scored with sliding windows (CHB-MIT style).
* :func:`choose_operating_point`: a decision threshold for the positive class chosen on
  training or validation windows (``evaluate.operating_point``).
* :func:`window_statistics`: what :func:`eegsnn.pipeline.folds.score_windows` adds to a
  report: recording-level bootstrap intervals, a single-class warning, and the metrics at
  the operating threshold.

``evaluate.operating_point`` (a study config key; binary tasks or one class against the
rest, needs ``evaluate.positive_class``)::

    evaluate:
      operating_point: {rule: target_sensitivity, value: 0.95, on: validation}
      # rule: target_sensitivity | target_specificity | youden (value unused)
      # on: validation (the SNN's inner validation windows, split.val_fraction > 0; the
      #     training windows when there are none) | training

Records it produces: ``folds/fold-K/metrics.json`` and ``model/operating_point.json`` hold
the choice ``{"rule", "value", "on", "windows", "threshold", "positive_class",
"selection": {"sensitivity", "specificity"}}`` (on the selection windows); every scored
report (fold, pooled, ``evaluate``) then holds ``operating_point``: the choice plus
``accuracy``, ``balanced_accuracy``, ``cohen_kappa``, ``f1_macro``, ``confusion_matrix``,
``per_class``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``, ``tp``/``fn``/``tn``/
``fp``, ``ci`` (Wilson) and ``bootstrap`` of the predictions at the threshold (pooled over
folds: each window at its own fold's threshold, ``threshold`` then a list). The
``positive`` block (arg-max) also holds ``sensitivity_at_specificity`` and
``specificity_at_sensitivity`` (``{"0.90": x, "0.95": y}``, read off the held-out ROC).
When the selection windows hold one class only, no threshold is chosen: the record has
``threshold: null`` and ``skipped`` (a reason), reports keep it as
``operating_point_skipped`` and the arg-max rule stays.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.metrics import (
    choose_threshold,
    classification_report,
    predict_with_threshold,
    roc_auc,
    roc_curve,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from eegsnn.evaluate.stats import cluster_bootstrap, single_class_warning
from eegsnn.io.files import atomic_write_json

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "FIXED_RATES", "aggregate_recordings",
           "binary_metrics", "choose_operating_point", "class_counts", "event_metrics",
           "fold_summary", "full_report", "read_operating_point", "softmax", "wilson_interval",
           "window_statistics", "write_operating_point"]

log = logging.getLogger("eegsnn.pipeline")

BOOTSTRAP_RESAMPLES = 2000  # recording-level bootstrap resamples of every report
BOOTSTRAP_SEED = 0  # fixed: a report's intervals are a function of its predictions
FIXED_RATES = (0.90, 0.95)  # sensitivity at these specificities and the reverse


def class_counts(y: np.ndarray, class_names: Sequence[str]) -> dict[str, int]:
    """``{class name: number of windows}`` of labels ``y`` (every class, zeros included)."""
    c = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
    return {name: int(c[i]) for i, name in enumerate(class_names)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``[N, K]`` logits (float64, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    r"""95 % Wilson score interval of the proportion ``k / n`` (``(nan, nan)`` if ``n = 0``).

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, center - half)), float(min(1.0, center + half)))


def _roc_points(y_true: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    """:func:`eegsnn.evaluate.metrics.roc_curve` as JSON lists ``{"fpr", "tpr"}``."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}


def binary_metrics(y_true: Sequence[int] | np.ndarray, proba: np.ndarray, positive: int,
                   y_pred: np.ndarray | None = None) -> dict[str, Any]:
    """Class ``positive`` against the rest, predicted by the arg-max of ``proba [N, K]``
    (or by ``y_pred [N]`` when given, e.g. at an operating threshold).

    Returns ``sensitivity``, ``specificity``, ``ppv``, ``npv`` (each with a 95 % Wilson
    interval under ``ci``), the counts ``tp``, ``fn``, ``tn``, ``fp``, ``roc_auc`` of the
    positive-class probability (``None`` when only one side is present), ``roc`` points,
    and ``sensitivity_at_specificity`` / ``specificity_at_sensitivity`` at
    :data:`FIXED_RATES` (``{"0.90": x, ...}``, read off this ROC curve).
    """
    y = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != y.size:
        raise ConfigError(f"proba must be [N, K] with N={y.size}, got {proba.shape}")
    pos_true = y == positive
    pred = proba.argmax(axis=1) if y_pred is None else np.asarray(y_pred)
    pos_pred = pred == positive
    tp = int(np.sum(pos_true & pos_pred))
    fn = int(np.sum(pos_true & ~pos_pred))
    tn = int(np.sum(~pos_true & ~pos_pred))
    fp = int(np.sum(~pos_true & pos_pred))

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    out: dict[str, Any] = {
        "positive_class_index": int(positive), "tp": tp, "fn": fn, "tn": tn, "fp": fp,
        "sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
        "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
        "ci": {"sensitivity": wilson_interval(tp, tp + fn),
               "specificity": wilson_interval(tn, tn + fp)},
        "roc_auc": None, "roc": None,
        "sensitivity_at_specificity": None, "specificity_at_sensitivity": None,
    }
    if 0 < pos_true.sum() < y.size:
        score = proba[:, positive]
        out["roc_auc"] = roc_auc(pos_true.astype(np.int64), score)
        out["roc"] = _roc_points(pos_true, score)
        out["sensitivity_at_specificity"] = {
            f"{r:.2f}": sensitivity_at_specificity(pos_true, score, r) for r in FIXED_RATES}
        out["specificity_at_sensitivity"] = {
            f"{r:.2f}": specificity_at_sensitivity(pos_true, score, r) for r in FIXED_RATES}
    return out


def full_report(y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str],
                positive_class: str | None = None) -> dict[str, Any]:
    """Every metric of a set of predictions: accuracy, balanced accuracy, kappa, macro-F1,
    confusion matrix, per-class scores, a Wilson interval on accuracy, one-vs-rest ROC-AUC
    per class (macro mean), and :func:`binary_metrics` for ``positive_class``."""
    y = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = len(class_names)
    pred = proba.argmax(axis=1)
    scores = proba if k == 2 else None
    rep = classification_report(y, pred, scores, num_classes=k)
    if k == 2 and "roc_auc" in rep:
        rep["roc_auc"] = roc_auc(y, proba[:, 1])
    rep["class_names"] = list(class_names)
    correct = int(np.sum(pred == y))
    rep["accuracy_ci"] = wilson_interval(correct, y.size)
    rep["accuracy_ci_method"] = ("Wilson 95 % over windows, as if independent (not over "
                                 "recordings: see bootstrap)")
    ovr = {}
    for c, name in enumerate(class_names):
        if 0 < np.sum(y == c) < y.size:
            ovr[name] = roc_auc((y == c).astype(np.int64), proba[:, c])
    rep["roc_auc_ovr"] = ovr
    rep["roc_auc_ovr_macro"] = float(np.mean(list(ovr.values()))) if ovr else None
    if k == 2 and 0 < np.sum(y == 1) < y.size:
        rep["roc"] = {"class": str(class_names[1]), **_roc_points(y == 1, proba[:, 1])}
    if positive_class is not None:
        if positive_class not in class_names:
            raise ConfigError(f"positive class {positive_class!r} is not one of "
                              f"{list(class_names)}")
        rep["positive"] = {"class": positive_class,
                           **binary_metrics(y, proba, list(class_names).index(positive_class))}
    return rep


def aggregate_recordings(recording: Sequence[str] | np.ndarray, y_true: np.ndarray,
                         proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per recording: ``(names, y, mean probability)``.

    Raises:
        ConfigError: a recording whose windows carry different labels (then a whole-recording
        label is undefined; score windows or events instead).
    """
    rec = np.asarray(recording).astype(str)
    y = np.asarray(y_true, dtype=np.int64)
    names, inverse = np.unique(rec, return_inverse=True)
    labels = np.empty(names.size, dtype=np.int64)
    mean = np.zeros((names.size, proba.shape[1]))
    for i in range(names.size):
        members = inverse == i
        ys = np.unique(y[members])
        if ys.size != 1:
            raise ConfigError(f"recording {names[i]} has windows of several classes; "
                              "recording-level scores need one label per recording")
        labels[i] = ys[0]
        mean[i] = proba[members].mean(axis=0)
    return names, labels, mean


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive true values."""
    out, start = [], None
    for i, v in enumerate(mask):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, mask.size))
    return out


def event_metrics(recording: np.ndarray, onset_s: np.ndarray, y_true: np.ndarray,
                  y_pred: np.ndarray, positive: int, window_s: float, step_s: float,
                  min_windows: int = 1) -> dict[str, Any]:
    """Event-level scores of sliding-window predictions on long recordings.

    Per recording, windows are ordered by onset. A *true event* is a run of consecutive
    windows labelled ``positive`` (windows no more than ``step_s`` apart); a *detection* is
    a run of at least ``min_windows`` consecutive windows predicted ``positive``. An event
    is detected when a detection overlaps it in time; a detection overlapping no event is a
    false alarm. Time covered: from the first window's onset to the last window's end.

    Returns:
        ``events``, ``detected``, ``event_sensitivity``, ``false_alarms``, ``hours``,
        ``false_alarms_per_hour``, ``mean_latency_s`` (detection onset minus event onset,
        over detected events; negative when a detection starts before the annotated onset).
    """
    if min_windows < 1:
        raise ConfigError(f"events.min_windows must be >= 1, got {min_windows}")
    rec = np.asarray(recording).astype(str)
    onset = np.asarray(onset_s, dtype=np.float64)
    n_events = n_detected = n_false = 0
    hours = 0.0
    latencies: list[float] = []
    for name in np.unique(rec):
        idx = np.flatnonzero(rec == name)
        idx = idx[np.argsort(onset[idx], kind="stable")]
        t = onset[idx]
        hours += (t[-1] + window_s - t[0]) / 3600.0
        gap_break = np.r_[False, np.diff(t) > step_s + 1e-6]

        def spans(mask: np.ndarray, minimum: int, t=t, gap_break=gap_break
                  ) -> list[tuple[float, float]]:
            out = []
            for a, b in _runs(mask):
                cut = [a, *(a + 1 + np.flatnonzero(gap_break[a + 1:b])).tolist(), b]
                for s, e in pairwise(cut):
                    if e - s >= minimum:
                        out.append((float(t[s]), float(t[e - 1] + window_s)))
            return out

        events = spans(np.asarray(y_true)[idx] == positive, 1)
        dets = spans(np.asarray(y_pred)[idx] == positive, min_windows)
        n_events += len(events)
        for es, ee in events:
            hits = [ds for ds, de in dets if ds < ee and es < de]
            if hits:
                n_detected += 1
                latencies.append(min(hits) - es)
        n_false += sum(1 for ds, de in dets if not any(ds < ee and es < de for es, ee in events))
    return {
        "events": n_events, "detected": n_detected,
        "event_sensitivity": n_detected / n_events if n_events else None,
        "false_alarms": n_false, "hours": hours,
        "false_alarms_per_hour": n_false / hours if hours > 0 else None,
        "mean_latency_s": float(np.mean(latencies)) if latencies else None,
        "min_windows": int(min_windows),
    }


def fold_summary(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95 % Student-t interval of per-fold values.

    ``None`` values (a metric undefined on a fold) are left out; with fewer than two values
    the interval is ``None``.
    """
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "std": None, "ci95": None, "n": 0, "values": []}
    out: dict[str, Any] = {"mean": float(v.mean()), "n": int(v.size), "values": v.tolist()}
    if v.size >= 2:
        from scipy import stats

        sd = float(v.std(ddof=1))
        half = float(stats.t.ppf(0.975, v.size - 1) * sd / np.sqrt(v.size))
        out.update(std=sd, ci95=(float(v.mean() - half), float(v.mean() + half)))
    else:
        out.update(std=None, ci95=None)
    return out


def choose_operating_point(spec: Mapping[str, Any], y: np.ndarray, proba: np.ndarray,
                           positive: int, class_names: Sequence[str], on: str
                           ) -> dict[str, Any]:
    """The decision threshold of ``evaluate.operating_point`` (``spec``: ``rule``,
    ``value``) chosen on the windows ``y [N]``, ``proba [N, K]`` that are *not* tested on
    (``on``: ``"validation"`` or ``"training"``, recorded).

    Returns the record described in the module docstring; with windows of one class only
    the threshold is ``None`` and ``skipped`` says why (the arg-max rule then stays).
    """
    y = np.asarray(y, dtype=np.int64)
    score = np.asarray(proba, dtype=np.float64)[:, positive]
    rec: dict[str, Any] = {"rule": str(spec["rule"]), "value": spec.get("value"), "on": on,
                           "windows": int(y.size), "positive_class": str(class_names[positive]),
                           "threshold": None}
    pos = y == positive
    if not 0 < int(pos.sum()) < y.size:
        rec["skipped"] = (f"the {on} windows hold one class only; the arg-max rule is used")
        log.warning("operating point: %s", rec["skipped"])
        return rec
    t = choose_threshold(pos, score, str(spec["rule"]), spec.get("value"))
    called = score >= t
    rec["threshold"] = t
    rec["selection"] = {"sensitivity": float(np.mean(called[pos])),
                        "specificity": float(np.mean(~called[~pos]))}
    return rec


def window_statistics(y: np.ndarray, proba: np.ndarray, class_names: Sequence[str],
                      positive: int | None, recording: np.ndarray, *,
                      threshold: float | np.ndarray | None = None,
                      operating_point: Mapping[str, Any] | None = None,
                      who: str = "SNN", log_warnings: bool = True) -> dict[str, Any]:
    """The statistics a scored report gets beside :func:`full_report` (module docstring):
    ``bootstrap`` (recording-level, arg-max predictions), ``warnings`` (single-class
    predictions, also logged unless ``log_warnings`` is false) and, with a ``threshold``
    (scalar or ``[N]``) and a ``positive`` class, ``operating_point`` (the choice
    ``operating_point`` plus the metrics of the thresholded predictions)."""
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = len(class_names)
    pred = proba.argmax(axis=1)
    score = None if positive is None else proba[:, positive]

    def boot(p: np.ndarray) -> dict[str, Any]:
        return cluster_bootstrap(y, p, recording, num_classes=k, positive=positive,
                                 scores=score, n_resamples=BOOTSTRAP_RESAMPLES,
                                 seed=BOOTSTRAP_SEED)

    out: dict[str, Any] = {"bootstrap": boot(pred)}
    note = single_class_warning(pred, class_names, who) if np.unique(y).size > 1 else None
    if note:  # info, not warning: the summary prints the report's warnings once
        if log_warnings:
            log.info(note)
        out["warnings"] = [note]
    if threshold is not None and positive is not None:
        t = np.asarray(threshold, dtype=np.float64)
        op_pred = predict_with_threshold(proba, positive, t)
        rep = classification_report(y, op_pred, num_classes=k)
        rep.pop("n_samples", None)
        bm = binary_metrics(y, proba, positive, op_pred)
        op: dict[str, Any] = {k_: v for k_, v in dict(operating_point or {}).items()
                              if k_ != "threshold"}
        # per-window thresholds (pooled k-fold): one per fold, in fold order
        op["threshold"] = float(t) if t.ndim == 0 else list(
            op.get("fold_thresholds") or dict.fromkeys(float(v) for v in t.reshape(-1)))
        op.update(rep)
        op.update({key: bm[key] for key in ("sensitivity", "specificity", "ppv", "npv", "tp",
                                            "fn", "tn", "fp", "ci")})
        op["bootstrap"] = boot(op_pred)
        op_note = single_class_warning(op_pred, class_names,
                                       f"{who} at the operating threshold") \
            if np.unique(y).size > 1 else None
        if op_note:
            if log_warnings:
                log.info(op_note)
            out.setdefault("warnings", []).append(op_note)
        out["operating_point"] = op
    return out


def write_operating_point(dest: Path, operating_point: Mapping[str, Any] | None) -> None:
    """``dest/operating_point.json`` (the choice of ``evaluate.operating_point``); a stale
    one is removed when there is none."""
    path = dest / "operating_point.json"
    if operating_point is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_json(path, dict(operating_point))


def read_operating_point(src: Path) -> dict[str, Any] | None:
    """The recorded operating point of a saved model folder (``None``: none recorded)."""
    path = src / "operating_point.json"
    if not path.exists():
        return None
    try:
        op = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the operating point ({exc})") from exc
    if not isinstance(op, dict) or "threshold" not in op:
        raise DataError(f"{path}: not an operating point record (no threshold)")
    return op
