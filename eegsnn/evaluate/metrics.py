"""Classification metrics for spiking classifiers, as small pure NumPy functions.

All functions take integer labels ``y_true`` and ``y_pred`` of shape ``[N]`` (any array-like;
MLX arrays are converted). Classes are ``0 .. num_classes - 1``; ``num_classes`` defaults to
``max(y_true, y_pred) + 1``. Definitions follow scikit-learn so results can be compared:

* accuracy :math:`= \\frac{1}{N}\\sum_i [\\hat y_i = y_i]`
* balanced accuracy: mean over classes *present in* ``y_true`` of the per-class recall
* Cohen's kappa :math:`\\kappa = (p_o - p_e) / (1 - p_e)` from the confusion matrix
* macro-F1: unweighted mean over classes of :math:`2PR/(P+R)` (0 where undefined);
  classes absent from both ``y_true`` and ``y_pred`` are left out (``labels`` not given):
  a class with no windows that is never predicted does not count, one that is predicted
  counts with F1 0 (``sklearn.metrics.f1_score(average="macro")``)
* per-class tables (:func:`classification_report`'s ``per_class``): ``None`` (shown as
  n/a) where a score is undefined: recall of a class with no windows, precision of a class
  never predicted, F1 of a class in neither (the classes macro-F1 leaves out)
* ROC-AUC (two classes): probability that a random positive scores above a random
  negative, ties counting 1/2 (Mann-Whitney U).
* ROC curve (two classes): the points of ``sklearn.metrics.roc_curve(...,
  drop_intermediate=False)``.

scikit-learn is an optional extra (``eegsnn[sklearn]``), so these stay NumPy; the tests
compare each of them with ``sklearn.metrics`` where it is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eegsnn.errors import ConfigError


def _as_labels(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ConfigError(f"{name}: expected a 1-D array of class labels, got shape "
                          f"{array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.equal(np.mod(array, 1), 0)):
            raise ConfigError(f"{name}: class labels must be integers")
        array = array.astype(np.int64)
    if array.size and array.min() < 0:
        raise ConfigError(f"{name}: class labels must be >= 0, found {array.min()}")
    return array.astype(np.int64)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ConfigError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if t.size == 0:
        raise ConfigError("y_true is empty: no samples to score")
    return t, p


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``; ``[K, K]`` int64."""
    t, p = _pair(y_true, y_pred)
    k = int(max(t.max(), p.max()) + 1) if num_classes is None else int(num_classes)
    if max(t.max(), p.max()) >= k:
        raise ConfigError(f"num_classes={k} but labels go up to {max(t.max(), p.max())}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples predicted correctly."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean recall over the classes present in ``y_true``."""
    cm = confusion_matrix(y_true, y_pred)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def cohen_kappa(y_true: Any, y_pred: Any) -> float:
    """Cohen's kappa: agreement beyond chance, ``(p_o - p_e) / (1 - p_e)``.

    Returns 1.0 when ``p_e == 1`` and predictions match (a single class everywhere), else
    0.0 in that degenerate case.
    """
    cm = confusion_matrix(y_true, y_pred).astype(np.float64)
    n = cm.sum()
    p_o = np.trace(cm) / n
    p_e = float(np.sum(cm.sum(axis=0) * cm.sum(axis=1))) / (n * n)
    if np.isclose(p_e, 1.0):
        return 1.0 if np.isclose(p_o, 1.0) else 0.0
    return float((p_o - p_e) / (1.0 - p_e))


def precision_recall_f1(y_true: Any, y_pred: Any, num_classes: int | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 (``[K]`` float64; 0 where the ratio is undefined)."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def per_class_scores(cm: Any) -> dict[str, list[Any]]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` of a confusion matrix
    ``cm [K, K]`` (rows true), as JSON-ready lists of ``K``; a score is ``None`` where it is
    undefined: recall of a class with no windows (support 0), precision of a class never
    predicted, F1 of a class neither present nor predicted (left out of macro-F1). The
    numbers equal :func:`precision_recall_f1` (and scikit-learn's) where defined."""
    cm = np.asarray(cm, dtype=np.int64)
    actual, predicted = cm.sum(axis=1), cm.sum(axis=0)
    tp = np.diag(cm).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)

    def masked(values: np.ndarray, defined: np.ndarray) -> list[Any]:
        return [float(v) if d else None for v, d in zip(values, defined, strict=True)]

    return {"precision": masked(precision, predicted > 0), "recall": masked(recall, actual > 0),
            "f1": masked(f1, (actual > 0) | (predicted > 0)), "support": actual.tolist()}


def f1_macro(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean F1 over the classes that occur in ``y_true`` or ``y_pred``."""
    t, p = _pair(y_true, y_pred)
    _, _, f1 = precision_recall_f1(t, p)
    seen = np.zeros(f1.size, dtype=bool)
    seen[np.unique(np.concatenate([t, p]))] = True
    return float(np.mean(f1[seen]))


def roc_auc(y_true: Any, scores: Any) -> float:
    """Two-class ROC-AUC from labels in {0, 1} and scores for class 1 (higher = class 1).

    Computed with average ranks (Mann-Whitney U), so ties count one half.

    Raises:
        ConfigError: labels other than 0/1, or only one class present.
    """
    t = _as_labels(y_true, "y_true")
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != t.shape:
        raise ConfigError(f"scores: expected shape {t.shape} (one score per sample), "
                          f"got {s.shape}")
    if t.size and t.max() > 1:
        raise ConfigError("roc_auc: needs two classes labelled 0 and 1")
    n_pos = int(t.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ConfigError("roc_auc: y_true holds only one class; ROC-AUC is undefined")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties (1-based)
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [s.size]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = 0.5 * (start + end + 1)
    u = ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve points of a two-class problem.

    Args:
        y_true: ``[N]`` labels in {0, 1} (or booleans; 1 = positive).
        scores: ``[N]`` scores, higher = more likely positive.

    Returns:
        ``(fpr, tpr, thresholds)``: one point per distinct score, from (0, 0) (threshold
        ``+inf``) to (1, 1); a sample is called positive when ``score >= threshold``. The
        same points as ``sklearn.metrics.roc_curve(y_true, scores,
        drop_intermediate=False)``.

    Raises:
        ConfigError: labels other than 0/1, a length mismatch, or only one class present.
    """
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ConfigError(f"roc_curve: {y.size} labels but {s.size} scores")
    if not np.isin(y, (0, 1)).all():
        raise ConfigError("roc_curve: labels must be 0 or 1")
    y = y.astype(np.int64)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    if n_pos == 0 or n_neg == 0:
        raise ConfigError("roc_curve: needs both classes in y_true")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]  # end of each tie group
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    return fpr, tpr, np.r_[np.inf, s_sorted[last]]


def mean_firing_rates(layer_spikes: dict[str, Any]) -> dict[str, float]:
    """Mean firing rate (spikes per neuron per time step, in [0, 1]) of each spiking layer.

    Args:
        layer_spikes: ``name -> spikes [T, B, ...]`` (0/1), or already-reduced means.
    """
    return {name: float(np.mean(np.asarray(spikes))) for name, spikes in layer_spikes.items()}


def classification_report(y_true: Any, y_pred: Any, scores: Any | None = None,
                          num_classes: int | None = None) -> dict[str, Any]:
    """All metrics as a JSON-ready dict.

    Keys: ``accuracy``, ``balanced_accuracy``, ``cohen_kappa``, ``f1_macro``,
    ``confusion_matrix`` (list of lists), ``per_class`` (:func:`per_class_scores`: lists,
    ``None`` where undefined),
    ``n_samples``; plus ``roc_auc`` for two classes when ``scores`` (``[N]`` class-1 scores or
    ``[N, 2]`` logits) are given.
    """
    t, p = _pair(y_true, y_pred)
    cm = confusion_matrix(t, p, num_classes)
    report: dict[str, Any] = {
        "n_samples": int(t.size),
        "accuracy": accuracy(t, p),
        "balanced_accuracy": balanced_accuracy(t, p),
        "cohen_kappa": cohen_kappa(t, p),
        "f1_macro": f1_macro(t, p),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class_scores(cm),
    }
    if scores is not None and cm.shape[0] == 2:
        s = np.asarray(scores, dtype=np.float64)
        if s.ndim == 2:
            s = s[:, 1] - s[:, 0]
        if 0 < int(t.sum()) < t.size:
            report["roc_auc"] = roc_auc(t, s)
    return report


#: rules :func:`choose_threshold` knows
THRESHOLD_RULES = ("target_sensitivity", "target_specificity", "youden")


def choose_threshold(y_true: Any, scores: Any, rule: str, value: float | None = None
                     ) -> float:
    """Decision threshold on positive-class ``scores`` (a sample is positive when
    ``score >= threshold``), chosen on data the model is *not* tested on.

    Rules (on the ROC points of :func:`roc_curve`):

    * ``target_sensitivity`` (``value`` in (0, 1]): the highest threshold whose sensitivity
      is at least ``value`` (the best specificity that keeps it);
    * ``target_specificity``: the lowest threshold whose specificity is at least ``value``
      (the best sensitivity that keeps it);
    * ``youden``: the threshold maximising sensitivity + specificity - 1 (the highest on
      ties).

    The threshold returned lies midway between the chosen point's score and the next
    lower score of the data, so it classifies the data exactly as the chosen point does
    while leaving a margin for new data (the lowest score itself when nothing is below).

    Raises:
        ConfigError: an unknown rule, a ``value`` outside (0, 1], or one class only.
    """
    if rule not in THRESHOLD_RULES:
        raise ConfigError(f"operating point: rule must be one of {', '.join(THRESHOLD_RULES)}, "
                          f"got {rule!r}")
    if rule != "youden" and (value is None or not 0.0 < float(value) <= 1.0):
        raise ConfigError(f"operating point: {rule} needs a value in (0, 1], got {value!r}")
    target = 0.0 if value is None else float(value)
    fpr, tpr, thr = roc_curve(y_true, scores)
    if rule == "target_sensitivity":
        i = int(np.flatnonzero(tpr >= target - 1e-12)[0])
    elif rule == "target_specificity":
        i = int(np.flatnonzero(1.0 - fpr >= target - 1e-12)[-1])
    else:
        j = tpr - fpr
        i = int(np.flatnonzero(j >= j.max() - 1e-12)[0])  # the highest threshold on ties
    if i == 0:  # nothing called positive: just above the highest score
        return float(np.nextafter(thr[1], np.inf))
    if i + 1 < thr.size:
        return float(0.5 * (thr[i] + thr[i + 1]))
    return float(thr[i])


def sensitivity_at_specificity(y_true: Any, scores: Any, specificity: float) -> float:
    """Best sensitivity of the ROC curve among points with specificity >= ``specificity``.

    The threshold is read off the same data, so this describes the curve (how much
    sensitivity a given specificity costs), not a pre-chosen operating point."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    ok = 1.0 - fpr >= float(specificity) - 1e-12
    return float(tpr[ok].max())


def specificity_at_sensitivity(y_true: Any, scores: Any, sensitivity: float) -> float:
    """Best specificity of the ROC curve among points with sensitivity >= ``sensitivity``
    (read off the same data, like :func:`sensitivity_at_specificity`)."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    ok = tpr >= float(sensitivity) - 1e-12
    return float((1.0 - fpr[ok]).max())


def predict_with_threshold(proba: Any, positive: int, threshold: float | np.ndarray
                           ) -> np.ndarray:
    """Class predictions ``[N]`` from probabilities ``proba [N, K]``: ``positive`` where its
    probability is at least ``threshold`` (a scalar or one per row), else the most probable
    other class. With two classes and threshold 0.5 this is the arg-max rule (ties aside)."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or not 0 <= int(positive) < p.shape[1]:
        raise ConfigError(f"predict_with_threshold: proba [N, K] and a class in [0, K), got "
                          f"shape {p.shape} and class {positive}")
    others = p.copy()
    others[:, positive] = -np.inf
    rest = others.argmax(axis=1)
    return np.where(p[:, positive] >= np.asarray(threshold, dtype=np.float64), int(positive),
                    rest).astype(np.int64)
