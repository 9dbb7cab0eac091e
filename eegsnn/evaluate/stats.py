r"""Statistics that respect recordings: cluster-bootstrap intervals, McNemar's exact test,
a single-class warning (pure NumPy).

Windows of one recording are not independent (same patient, same electrode contact, same
day), so an interval that treats every window as an independent draw is too narrow.
:func:`cluster_bootstrap` resamples *recordings* (clusters) with replacement, keeps all
windows of each drawn recording, and recomputes every headline metric on each resample;
the 95 % interval is the 2.5th and 97.5th percentile of the resampled values (percentile
bootstrap). A resample is one vector of draw counts per recording, so a metric on it is a
weighted metric on the original windows: confusion matrices of the resamples are one
matrix product (``counts [B, R] @ per-recording confusion [R, K*K]``) and the AUC a
weighted Mann-Whitney statistic.

* :func:`cluster_bootstrap`: estimates and 95 % intervals of accuracy, balanced accuracy,
  Cohen's kappa, macro-F1 and, for a positive class, sensitivity, specificity and ROC-AUC.
* :func:`clopper_pearson`: the exact binomial interval of ``k`` successes in ``n``;
  :func:`interval_note`: the words that name the intervals that are not the bootstrap's.

A degenerate bootstrap: when every resample gives the same value of a proportion
(:data:`PROPORTION_METRICS`) and that value is 0 or 1 (every recording right, or every one
wrong), the percentile interval would be ``[1, 1]`` (or ``[0, 0]``), which claims a
certainty the data cannot give. That metric's interval is then the exact Clopper-Pearson
interval of ``k = n`` (or ``0``) successes in ``n`` trials, ``n`` the number of clusters the
metric counts (recordings; for sensitivity those holding a positive window, for
specificity those holding a negative one): windows of one recording are not independent,
so a recording is the effective sample. E.g. 12 recordings all right: ``[0.735, 1]``.
Each metric records its ``method`` (``"cluster bootstrap"`` or ``"exact Clopper-Pearson
(degenerate bootstrap; n = 12 recordings)"``) and, for the fallback, ``n_effective``; the
report and the ``train``/``evaluate`` summary name the fallback where it was used. Other
metrics (kappa, macro-F1, ROC-AUC), and proportions away from 0 and 1, get no exact
fallback: when their percentile interval has zero width (every resample, or at least
95 % of them, give the same value) it is ``None`` (a zero-width ``[1, 1]`` would look
informative) and ``method`` reads ``"interval not estimable: every resample gives
1.000"`` (or ``"... at least 95 % of the resamples give 0.000"``).

Too few clusters: below :data:`MIN_CLUSTERS` (5) recordings no bootstrap interval is
given (``ci95`` ``None``, ``method`` ``"not estimated: only 2 recordings (a cluster
bootstrap needs >= 5)"``); a proportion at 0 or 1 keeps its exact interval.
* :func:`metrics_from_confusion`: the same metrics from ``[..., K, K]`` confusion matrices
  (the definitions of :mod:`eegsnn.evaluate.metrics`, batched).
* :func:`weighted_auc`: ROC-AUC with per-window weights (ties count one half);
  :func:`cluster_weighted_auc`: the same with one weight per cluster (the bootstrap's).
* :func:`mcnemar_exact`: McNemar's exact (binomial) test of two classifiers scored on the
  same windows.
* :func:`single_class_warning`: the text of a warning when every prediction is one class.

Keys these produce in ``metrics.json`` (written by :mod:`eegsnn.pipeline.folds`), for the
report and other readers::

    <report>.bootstrap = {                   # every window-level report (SNN, baseline,
      "cluster": "recording",                #   each fold, pooled, evaluate)
      "n_clusters": 80, "n_resamples": 2000, "seed": 0, "level": 0.95,
      "min_clusters": 5,                     # fewer: no bootstrap interval (MIN_CLUSTERS)
      "metrics": {"accuracy": {"estimate": 0.97, "ci95": [0.94, 0.99], "n_valid": 2000,
                               "method": "cluster bootstrap"},
                  "balanced_accuracy": ..., "cohen_kappa": ..., "f1_macro": ...,
                  "sensitivity": ..., "specificity": ..., "roc_auc": ...}}
                                             # (the last three only with a positive class;
                                             # ci95 None when fewer than MIN_CLUSTERS
                                             # recordings, every resample equal (not a
                                             # proportion) or none defines it; a
                                             # degenerate proportion: method "exact
                                             # Clopper-Pearson (...)" and n_effective)
    <report>.operating_point.bootstrap       # the same for the thresholded predictions
    <report>.warnings = ["SNN predicted a single class (left) for all 45 windows"]
    metrics.json "mcnemar" = {               # SNN vs baseline, pooled held-out windows
      "n": 400, "both_correct": 380, "snn_only_correct": 12, "baseline_only_correct": 3,
      "both_wrong": 5, "discordant": 15, "p_value": 0.035, "test": "McNemar exact"}

(``<report>`` is ``snn.pooled``, ``snn.folds[k]``, ``baseline.pooled``, the ``evaluate``
``metrics.json``; per-class precision/recall/F1/support are ``<report>.per_class`` and the
operating point is described in :mod:`eegsnn.pipeline.metrics`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from eegsnn.errors import ConfigError

__all__ = ["BOOTSTRAP_METHOD", "BOOTSTRAP_METRICS", "MIN_CLUSTERS", "PROPORTION_METRICS",
           "clopper_pearson",
           "cluster_bootstrap", "cluster_weighted_auc", "interval_note", "mcnemar_exact",
           "metrics_from_confusion", "single_class_warning", "weighted_auc"]

#: metrics :func:`cluster_bootstrap` gives intervals for (the last three need a positive
#: class; ``roc_auc`` also its scores)
BOOTSTRAP_METRICS = ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro",
                     "sensitivity", "specificity", "roc_auc")

#: proportions whose degenerate bootstrap at 0 or 1 falls back to :func:`clopper_pearson`
PROPORTION_METRICS = ("accuracy", "balanced_accuracy", "sensitivity", "specificity")
#: the ``method`` of an interval from the resamples
BOOTSTRAP_METHOD = "cluster bootstrap"
#: fewest clusters (recordings) a cluster-bootstrap interval is reported for. With fewer,
#: the resamples are a handful of distinct mixtures of the same recordings and the
#: percentile interval is unreliable (with 2 recordings often narrower than the window
#: Wilson interval); each metric's ``ci95`` is then ``None`` and its ``method`` says why,
#: except a proportion at 0 or 1, which keeps its exact Clopper-Pearson interval.
MIN_CLUSTERS = 5

_AUC_CHUNK = 4_000_000  # resamples x windows weighed at once (bounds memory)


def metrics_from_confusion(cm: np.ndarray, positive: int | None = None
                           ) -> dict[str, np.ndarray]:
    """Metrics of confusion matrices ``cm [..., K, K]`` (rows true, columns predicted;
    float counts or weights allowed), each ``[...]`` float64, NaN where undefined.

    Same definitions as :mod:`eegsnn.evaluate.metrics`: balanced accuracy over classes
    present in the truth; kappa 1 (all agree) or 0 when chance agreement is 1; macro-F1
    over classes present in the truth or the predictions. With ``positive``: sensitivity
    (recall of that class) and specificity (recall of the rest).
    """
    cm = np.asarray(cm, dtype=np.float64)
    n = cm.sum(axis=(-2, -1))
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    actual, predicted = cm.sum(axis=-1), cm.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.trace(cm, axis1=-2, axis2=-1) / n
        recall = np.where(actual > 0, diag / np.where(actual > 0, actual, 1), np.nan)
        bal = np.nanmean(np.where(actual > 0, recall, np.nan), axis=-1) \
            if cm.shape[-1] else np.full(n.shape, np.nan)
        p_e = (actual * predicted).sum(axis=-1) / (n * n)
        degenerate = np.isclose(p_e, 1.0)
        kappa = np.where(degenerate, np.where(np.isclose(acc, 1.0), 1.0, 0.0),
                         (acc - p_e) / np.where(degenerate, 1.0, 1.0 - p_e))
        prec = np.where(predicted > 0, diag / np.where(predicted > 0, predicted, 1), 0.0)
        rec0 = np.nan_to_num(recall, nan=0.0)
        denom = prec + rec0
        f1 = np.where(denom > 0, 2 * prec * rec0 / np.where(denom > 0, denom, 1), 0.0)
        seen = (actual > 0) | (predicted > 0)
        f1_macro = (f1 * seen).sum(axis=-1) / seen.sum(axis=-1)
    out = {"accuracy": acc, "balanced_accuracy": bal, "cohen_kappa": kappa,
           "f1_macro": f1_macro}
    if positive is not None:
        tp = cm[..., positive, positive]
        fn = actual[..., positive] - tp
        fp = predicted[..., positive] - tp
        tn = n - tp - fn - fp
        with np.errstate(divide="ignore", invalid="ignore"):
            out["sensitivity"] = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
            out["specificity"] = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
    return out


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of ``scores [N]`` for the 0/1 labels ``positive [N]`` under each row of
    ``weights [B, N]`` (a window of weight 2 counts twice): ``[B]``, NaN where one side
    has no weight. Ties count one half (equals :func:`eegsnn.evaluate.metrics.roc_auc` on
    the windows repeated by their weights)."""
    pos = np.asarray(positive).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    _, group = np.unique(s, return_inverse=True)  # tie groups in ascending score order
    n_groups = int(group.max()) + 1 if group.size else 0
    out = np.empty(w.shape[0])
    rows = max(1, _AUC_CHUNK // max(1, s.size))
    for start in range(0, w.shape[0], rows):
        wc = w[start:start + rows]
        wp = np.zeros((wc.shape[0], n_groups))
        wn = np.zeros((wc.shape[0], n_groups))
        np.add.at(wp.T, group[pos], wc[:, pos].T)
        np.add.at(wn.T, group[~pos], wc[:, ~pos].T)
        below = np.cumsum(wn, axis=1) - wn  # negative weight strictly below each group
        num = (wp * (below + 0.5 * wn)).sum(axis=1)
        den = wp.sum(axis=1) * wn.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start:start + rows] = np.where(den > 0, num / np.where(den > 0, den, 1),
                                               np.nan)
    return out


def cluster_weighted_auc(positive: np.ndarray, scores: np.ndarray, cluster: np.ndarray,
                         counts: np.ndarray) -> np.ndarray:
    """:func:`weighted_auc` where every window of cluster ``r`` weighs ``counts[b, r]``
    (``cluster [N]``: cluster index of each window in ``0 .. R-1``; ``counts [B, R]``):
    ``[B]``. Computed from the ``[R, R]`` matrix of positive-negative pair scores between
    clusters, so the cost does not grow with ``B x N`` (long recordings, many windows)."""
    pos = np.asarray(positive).astype(bool).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    cl = np.asarray(cluster, dtype=np.int64).reshape(-1)
    c = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n_clusters = c.shape[1]
    _, group = np.unique(s, return_inverse=True)
    n_groups = int(group.max()) + 1 if group.size else 0
    neg_at = np.zeros((n_groups, n_clusters))
    np.add.at(neg_at, (group[~pos], cl[~pos]), 1.0)
    below = np.cumsum(neg_at, axis=0) - neg_at  # negatives of each cluster below a group
    pair = np.zeros((n_clusters, n_clusters))  # pair[a, b]: positives of a over negatives of b
    pos_idx = np.flatnonzero(pos)
    rows = max(1, _AUC_CHUNK // max(1, n_clusters))
    for start in range(0, pos_idx.size, rows):
        i = pos_idx[start:start + rows]
        contrib = below[group[i]] + 0.5 * neg_at[group[i]]  # [P, R]
        onehot = np.zeros((i.size, n_clusters))
        onehot[np.arange(i.size), cl[i]] = 1.0
        pair += onehot.T @ contrib
    n_pos = np.bincount(cl[pos], minlength=n_clusters).astype(np.float64)
    n_neg = np.bincount(cl[~pos], minlength=n_clusters).astype(np.float64)
    num = ((c @ pair) * c).sum(axis=1)
    den = (c @ n_pos) * (c @ n_neg)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def interval_note(bootstrap: Mapping[str, Any] | None) -> str:
    """What a reader must be told about a ``bootstrap`` record's intervals that are not the
    bootstrap's (the exact fallback of a degenerate one), e.g. ``"accuracy, sensitivity:
    exact Clopper-Pearson (degenerate bootstrap; n = 12 recordings)"``; ``""`` when every
    interval is the cluster bootstrap's. The report and the train/evaluate summary print it."""
    by_method: dict[str, list[str]] = {}
    for metric, rec in ((bootstrap or {}).get("metrics") or {}).items():
        method = (rec or {}).get("method")
        if method and method != BOOTSTRAP_METHOD:
            by_method.setdefault(str(method), []).append(str(metric).replace("_", " "))
    return "; ".join(f"{', '.join(names)}: {method}" for method, names in by_method.items())


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion: ``k`` successes in ``n``
    trials, coverage ``level``. The lower end ``L`` solves ``P(X >= k | L) = a/2`` (0 when
    ``k = 0``), the upper ``U`` solves ``P(X <= k | U) = a/2`` (1 when ``k = n``), with
    ``a = 1 - level``; for ``k = n`` that is ``[(a/2)^(1/n), 1]``. Same numbers as the beta
    quantiles of ``scipy.stats.beta``, which compute it.

    Raises:
        ConfigError: ``n < 1``, ``k`` outside ``0 .. n`` or ``level`` outside (0, 1).
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ConfigError(f"clopper_pearson: need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"clopper_pearson: level must be in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    lower = 0.0 if k == 0 else float(scipy_stats.beta.ppf(tail, k, n - k + 1))
    upper = 1.0 if k == n else float(scipy_stats.beta.ppf(1.0 - tail, k + 1, n - k))
    return lower, upper


def _clusters(clusters: Sequence[Any] | np.ndarray, n: int) -> tuple[np.ndarray, int]:
    c = np.asarray(clusters).astype(str).reshape(-1)
    if c.size != n:
        raise ConfigError(f"cluster_bootstrap: {c.size} cluster labels for {n} windows")
    _, inverse = np.unique(c, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if inverse.size else 0


def cluster_bootstrap(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                      clusters: Sequence[Any] | np.ndarray, *, num_classes: int,
                      positive: int | None = None, scores: np.ndarray | None = None,
                      n_resamples: int = 2000, seed: int = 0, level: float = 0.95,
                      cluster_name: str = "recording") -> dict[str, Any]:
    """Percentile intervals of the headline metrics, resampling ``clusters`` (recordings).

    Args:
        y_true, y_pred: ``[N]`` integer labels and predictions of the windows.
        clusters: ``[N]`` cluster (recording) of each window; whole clusters are drawn.
        num_classes: ``K``.
        positive: class for sensitivity/specificity (and ROC-AUC with ``scores``).
        scores: ``[N]`` score of the positive class (higher = more likely positive).
        n_resamples: bootstrap resamples ``B``; ``seed``: the generator's seed (the result
            is a function of the inputs and the seed).
        level: interval coverage (0.95: the 2.5th and 97.5th percentiles).

    Returns:
        the ``bootstrap`` record described in the module docstring. ``estimate`` is the
        metric on the windows as they are; resamples where a metric is undefined (no
        positive window drawn) are left out of its interval (``n_valid`` says how many
        remain). A proportion whose resamples all equal 0 or 1 gets the exact
        :func:`clopper_pearson` interval over its clusters instead (``method``,
        ``n_effective``; module docstring).
    """
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if p.size != y.size or y.size == 0:
        raise ConfigError(f"cluster_bootstrap: {y.size} labels and {p.size} predictions")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"cluster_bootstrap: level must be in (0, 1), got {level}")
    k = int(num_classes)
    inverse, n_clusters = _clusters(clusters, y.size)
    per_cluster = np.zeros((n_clusters, k * k))
    np.add.at(per_cluster, (inverse, y * k + p), 1.0)
    rng = np.random.default_rng(seed)
    counts = np.zeros((int(n_resamples), n_clusters))
    resampled = n_clusters >= MIN_CLUSTERS
    if resampled:
        draws = rng.integers(0, n_clusters, size=(int(n_resamples), n_clusters))
        np.add.at(counts, (np.repeat(np.arange(int(n_resamples)), n_clusters),
                           draws.reshape(-1)), 1.0)
    point = metrics_from_confusion(per_cluster.sum(axis=0).reshape(k, k), positive)
    boot = metrics_from_confusion((counts @ per_cluster).reshape(-1, k, k), positive) \
        if resampled else {}
    if positive is not None and scores is not None:
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if s.size != y.size:
            raise ConfigError(f"cluster_bootstrap: {s.size} scores for {y.size} windows")
        pos = y == positive
        point["roc_auc"] = weighted_auc(pos, s, np.ones((1, y.size)))[0]
        if resampled:
            boot["roc_auc"] = cluster_weighted_auc(pos, s, inverse, counts)
    tail = 100.0 * (1.0 - level) / 2.0
    counted = {"accuracy": n_clusters, "balanced_accuracy": n_clusters}  # clusters a
    if positive is not None:  # proportion counts (its effective sample when degenerate)
        is_pos = y == positive
        counted["sensitivity"] = int(np.unique(inverse[is_pos]).size)
        counted["specificity"] = int(np.unique(inverse[~is_pos]).size)
    out: dict[str, Any] = {}
    for name in BOOTSTRAP_METRICS:
        if name not in point:
            continue
        est = float(point[name])
        rec: dict[str, Any] = {"estimate": None if np.isnan(est) else est, "ci95": None,
                               "n_valid": 0, "method": BOOTSTRAP_METHOD}
        flat = not resampled  # every resample equal (none drawn: the point estimate)
        if name in boot:
            values = np.asarray(boot[name], dtype=np.float64)
            values = values[~np.isnan(values)]
            rec["n_valid"] = int(values.size)
            if values.size:
                lo, hi = np.percentile(values, [tail, 100.0 - tail])
                rec["ci95"] = [float(lo), float(hi)]
            flat = bool(values.size) and np.ptp(values) == 0.0
            zero_width = rec["ci95"] is not None and rec["ci95"][0] == rec["ci95"][1]
            if zero_width and not (name in PROPORTION_METRICS and est in (0.0, 1.0)):
                # zero width: no information about the metric (a proportion at 0 or 1
                # gets the exact interval below instead)
                rec["method"] = ("interval not estimable: " + (
                    "every resample gives" if flat else "at least 95 % of the resamples "
                    "give") + f" {float(rec['ci95'][0]):.3f}")
                rec["ci95"] = None
        elif not resampled:
            rec["method"] = (f"not estimated: only {n_clusters} {cluster_name}"
                             f"{'' if n_clusters == 1 else 's'} (a cluster bootstrap "
                             f"needs >= {MIN_CLUSTERS})")
        m = counted.get(name, 0)
        if name in PROPORTION_METRICS and m >= 1 and flat and est in (0.0, 1.0):
            # every resample equals a perfect (or zero) score: exact interval, n = clusters
            rec["ci95"] = list(clopper_pearson(round(est * m), m, level))
            rec["method"] = (f"exact Clopper-Pearson (degenerate bootstrap; n = {m} "
                             f"{cluster_name}{'' if m == 1 else 's'})")
            rec["n_effective"] = m
        out[name] = rec
    return {"cluster": cluster_name, "n_clusters": n_clusters, "n_resamples": int(n_resamples),
            "seed": int(seed), "level": float(level), "min_clusters": MIN_CLUSTERS,
            "metrics": out}


def mcnemar_exact(y_true: Sequence[int] | np.ndarray, pred_a: Sequence[int] | np.ndarray,
                  pred_b: Sequence[int] | np.ndarray, names: tuple[str, str] = ("a", "b")
                  ) -> dict[str, Any]:
    """McNemar's exact test: do two classifiers scored on the same windows err differently?

    Counts the discordant windows (``b``: only the first is right; ``c``: only the second
    is) and tests ``b ~ Binomial(b + c, 1/2)``, two-sided. ``names`` label the counts
    (``"<name>_only_correct"``). Windows are treated as independent pairs (the test has
    no cluster version here; read it beside the recording-level intervals).
    """
    y = np.asarray(y_true).reshape(-1)
    a = np.asarray(pred_a).reshape(-1) == y
    b = np.asarray(pred_b).reshape(-1) == y
    if a.size != y.size or b.size != y.size:
        raise ConfigError(f"mcnemar_exact: {y.size} labels, {a.size} and {b.size} predictions")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return {"test": "McNemar exact (two-sided binomial on discordant windows)",
            "n": int(y.size), "both_correct": int(np.sum(a & b)),
            f"{names[0]}_only_correct": only_a, f"{names[1]}_only_correct": only_b,
            "both_wrong": int(np.sum(~a & ~b)), "discordant": only_a + only_b,
            "p_value": 1.0 if only_a + only_b == 0 else
            float(scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)}


def single_class_warning(y_pred: Sequence[int] | np.ndarray, class_names: Sequence[str],
                         who: str = "SNN") -> str | None:
    """``"SNN predicted a single class (left) for all 45 windows"`` when every prediction
    is the same class and more than one class exists, else ``None``."""
    p = np.asarray(y_pred).reshape(-1)
    if p.size < 2 or len(class_names) < 2:
        return None
    first = int(p[0])
    if np.all(p == first):
        return f"{who} predicted a single class ({class_names[first]}) for all {p.size} windows"
    return None
