"""Recording-level bootstrap, McNemar's exact test and the single-class warning
(eegsnn.evaluate.stats) against hand computations, eegsnn.evaluate.metrics and SciPy."""

from __future__ import annotations

import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.evaluate.metrics import (
    accuracy,
    balanced_accuracy,
    cohen_kappa,
    confusion_matrix,
    f1_macro,
    roc_auc,
)
from eegsnn.evaluate.stats import (
    clopper_pearson,
    cluster_bootstrap,
    cluster_weighted_auc,
    mcnemar_exact,
    metrics_from_confusion,
    single_class_warning,
    weighted_auc,
)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_metrics_from_confusion_match_window_metrics(k):
    rng = np.random.default_rng(k)
    for _ in range(20):
        y = rng.integers(0, k, 40)
        p = np.where(rng.random(40) < 0.6, y, rng.integers(0, k, 40))
        m = metrics_from_confusion(confusion_matrix(y, p, k), positive=k - 1)
        assert m["accuracy"] == pytest.approx(accuracy(y, p))
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy(y, p))
        assert m["cohen_kappa"] == pytest.approx(cohen_kappa(y, p))
        assert m["f1_macro"] == pytest.approx(f1_macro(y, p))
        pos_t, pos_p = y == k - 1, p == k - 1
        assert m["sensitivity"] == pytest.approx(np.mean(pos_p[pos_t]))
        assert m["specificity"] == pytest.approx(np.mean(~pos_p[~pos_t]))


def test_metrics_from_confusion_degenerate_and_batched():
    cm = np.array([[[5, 0], [0, 0]], [[3, 2], [1, 4]]], dtype=float)
    m = metrics_from_confusion(cm, positive=1)
    assert m["cohen_kappa"][0] == 1.0 and np.isnan(m["sensitivity"][0])
    assert m["accuracy"][1] == pytest.approx(0.7)
    assert m["sensitivity"][1] == pytest.approx(0.8) and m["specificity"][1] == pytest.approx(0.6)


def test_weighted_auc_equals_repeated_windows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    s = np.round(rng.random(30) + 0.5 * y, 1)  # ties on purpose
    w = rng.integers(0, 4, (5, 30)).astype(float)
    got = weighted_auc(y == 1, s, w)
    for row, value in zip(w, got, strict=True):
        rep = np.repeat(np.arange(30), row.astype(int))
        assert value == pytest.approx(roc_auc(y[rep], s[rep]))
    assert np.isnan(weighted_auc(y == 1, s, np.where(y == 1, 0.0, 1.0)[None])[0])


def test_cluster_weighted_auc_equals_window_weights():
    rng = np.random.default_rng(1)
    cl = rng.integers(0, 7, 60)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60) + 0.4 * y, 1)
    counts = rng.integers(0, 3, (9, 7)).astype(float)
    got = cluster_weighted_auc(y == 1, s, cl, counts)
    want = weighted_auc(y == 1, s, counts[:, cl])
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def _data(n_rec: int, per_rec: int, correlated: bool, seed: int = 0):
    """Two classes, one class per recording; correct with probability 0.8 per window
    (independent) or per recording (every window of it shares the outcome)."""
    rng = np.random.default_rng(seed)
    rec = np.repeat(np.arange(n_rec), per_rec)
    y = rec % 2
    if correlated:
        ok = np.repeat(rng.random(n_rec) < 0.8, per_rec)
    else:
        ok = rng.random(rec.size) < 0.8
    pred = np.where(ok, y, 1 - y)
    score = np.where(pred == 1, 0.6, 0.4) + 0.01 * rng.random(rec.size)
    return y, pred, rec.astype(str), score


def test_interval_wider_when_windows_of_a_recording_agree():
    widths = {}
    for correlated in (False, True):
        y, p, rec, s = _data(40, 20, correlated)
        b = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s,
                              n_resamples=1000, seed=1)
        lo, hi = b["metrics"]["accuracy"]["ci95"]
        assert lo <= b["metrics"]["accuracy"]["estimate"] <= hi
        widths[correlated] = hi - lo
    # 800 independent windows: about 2 * 1.96 * sqrt(.16 / 800) = 0.055 wide; 40 recordings
    # whose windows all agree: about 2 * 1.96 * sqrt(.16 / 40) = 0.25 wide
    assert widths[False] < 0.09 and widths[True] > 0.15
    assert widths[True] > 2.5 * widths[False]


def test_bootstrap_is_deterministic_given_seed_and_estimates_match():
    y, p, rec, s = _data(12, 5, True, seed=3)
    a = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s, n_resamples=300,
                          seed=7)
    b = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s, n_resamples=300,
                          seed=7)
    c = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s, n_resamples=300,
                          seed=8)
    assert a == b and a != c
    m = a["metrics"]
    assert set(m) == {"accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro",
                      "sensitivity", "specificity", "roc_auc"}
    assert m["accuracy"]["estimate"] == pytest.approx(accuracy(y, p))
    assert m["roc_auc"]["estimate"] == pytest.approx(roc_auc(y, s))
    assert a["n_clusters"] == 12 and a["cluster"] == "recording"
    for rec_ in m.values():
        lo, hi = rec_["ci95"]
        assert lo <= hi and rec_["n_valid"] <= 300


def test_bootstrap_one_recording_has_no_interval_and_checks_lengths():
    b = cluster_bootstrap([0, 1, 1], [0, 1, 0], ["r", "r", "r"], num_classes=2)
    assert b["metrics"]["accuracy"] == {
        "estimate": pytest.approx(2 / 3), "ci95": None, "n_valid": 0,
        "method": "not estimated: only 1 recording (a cluster bootstrap needs >= 5)"}
    assert "sensitivity" not in b["metrics"]
    with pytest.raises(ConfigError, match="cluster labels"):
        cluster_bootstrap([0, 1], [0, 1], ["a"], num_classes=2)


def test_mcnemar_by_hand_and_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    y = np.zeros(20, dtype=int)
    # a right on 0..14, b right on 0..9 and 15..16: only a right on 10..14 (5), only b on
    # 15, 16 (2); two-sided p = 2 * P(X <= 2 | n=7, 1/2) = 2 * (1 + 7 + 21) / 128 = 0.453125
    a = np.where(np.arange(20) < 15, 0, 1)
    b = np.where((np.arange(20) < 10) | np.isin(np.arange(20), [15, 16]), 0, 1)
    r = mcnemar_exact(y, a, b, names=("snn", "baseline"))
    assert (r["snn_only_correct"], r["baseline_only_correct"], r["both_correct"],
            r["both_wrong"], r["discordant"]) == (5, 2, 10, 3, 7)
    assert r["p_value"] == pytest.approx(0.453125)
    assert r["p_value"] == pytest.approx(stats.binomtest(5, 7, 0.5).pvalue)
    for k, n in [(0, 10), (3, 30), (15, 30), (40, 61), (1, 1)]:
        yy = np.zeros(n, dtype=int)
        aa = np.r_[np.zeros(k), np.ones(n - k)].astype(int)
        got = mcnemar_exact(yy, aa, 1 - aa)["p_value"]
        assert got == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-9)
    assert mcnemar_exact([0, 1], [0, 1], [0, 1])["p_value"] == 1.0


def test_single_class_warning():
    names = ["left", "right"]
    assert single_class_warning([0] * 45, names) == \
        "SNN predicted a single class (left) for all 45 windows"
    assert single_class_warning([1, 1], names, "baseline") == \
        "baseline predicted a single class (right) for all 2 windows"
    assert single_class_warning([0, 1], names) is None
    assert single_class_warning([0], names) is None


@pytest.mark.parametrize("held_key", ["heldout", "test"])  # "test": histories before
def test_training_curves_are_named_for_what_they_are(held_key):
    pytest.importorskip("matplotlib")
    from eegsnn.visualization import training_curves

    history = [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5, "val_loss": 0.9,
                "val_accuracy": 0.6, f"{held_key}_loss": 0.8, f"{held_key}_accuracy": 0.7}
               for e in (1, 2, 3)]
    fig = training_curves(history)
    _, acc_ax = fig.axes
    labels = [line.get_label() for line in acc_ax.get_lines()]
    assert labels == ["training", "validation",
                      "held-out monitoring (not used for model selection)"]
    assert list(acc_ax.get_lines()[2].get_ydata()) == [70.0, 70.0, 70.0]


def test_clopper_pearson_by_hand_and_against_scipy():
    # k = n: [(a/2)^(1/n), 1]; k = 0: [0, 1 - (a/2)^(1/n)]
    assert clopper_pearson(12, 12) == (pytest.approx(0.025 ** (1 / 12), abs=1e-12), 1.0)
    assert clopper_pearson(0, 12) == (0.0, pytest.approx(1 - 0.025 ** (1 / 12), abs=1e-12))
    assert clopper_pearson(1, 1, 0.9) == (pytest.approx(0.05, abs=1e-12), 1.0)
    stats = pytest.importorskip("scipy.stats")
    for k, n, level in ((5, 12, 0.95), (37, 80, 0.95), (3, 400, 0.9), (79, 80, 0.99)):
        a = 1 - level
        lo, hi = clopper_pearson(k, n, level)
        assert lo == pytest.approx(stats.beta.ppf(a / 2, k, n - k + 1), abs=1e-10)
        assert hi == pytest.approx(stats.beta.ppf(1 - a / 2, k + 1, n - k), abs=1e-10)
    for bad in ((3, 2), (-1, 2), (0, 0)):
        with pytest.raises(ConfigError, match="clopper_pearson"):
            clopper_pearson(*bad)


def test_degenerate_bootstrap_at_a_perfect_score_gives_an_exact_interval():
    """Every recording right: the percentile interval would be [1, 1]; accuracy, balanced
    accuracy, sensitivity and specificity get the exact interval over their recordings
    (12 recordings: 6 positive, 6 negative) and say so; kappa keeps the bootstrap's."""
    rec = np.repeat(np.arange(12), 5).astype(str)
    y = np.repeat(np.arange(12) % 2, 5)
    b = cluster_bootstrap(y, y, rec, num_classes=2, positive=1, n_resamples=200, seed=0)
    m = b["metrics"]
    for name, n in (("accuracy", 12), ("balanced_accuracy", 12), ("sensitivity", 6),
                    ("specificity", 6)):
        assert m[name]["estimate"] == 1.0
        assert m[name]["ci95"] == [pytest.approx(0.025 ** (1 / n)), 1.0]
        assert m[name]["n_effective"] == n
        assert m[name]["method"] == (f"exact Clopper-Pearson (degenerate bootstrap; n = {n} "
                                     "recordings)")
    for name in ("cohen_kappa", "f1_macro"):  # not proportions: no zero-width interval
        assert m[name]["ci95"] is None and m[name]["estimate"] == 1.0
        assert m[name]["method"] == "interval not estimable: every resample gives 1.000"
    # every recording wrong: [0, upper]
    z = cluster_bootstrap(y, 1 - y, rec, num_classes=2, positive=1, n_resamples=200)
    assert z["metrics"]["accuracy"]["ci95"] == [0.0, pytest.approx(1 - 0.025 ** (1 / 12))]
    # not degenerate: the percentile interval, no n_effective
    p = y.copy()
    p[:5] = 1  # recording 0 (negative) all wrong
    c = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, n_resamples=200)["metrics"]
    assert c["accuracy"]["method"] == "cluster bootstrap" and "n_effective" not in c["accuracy"]
    assert c["accuracy"]["ci95"][0] < c["accuracy"]["estimate"] < 1.0
    # sensitivity is perfect in every resample that holds a positive: exact over 6
    assert c["sensitivity"]["n_effective"] == 6


def test_interval_note_and_the_summary_name_the_exact_fallback(capsys):
    from eegsnn.commands.summary import print_scores
    from eegsnn.evaluate.stats import interval_note

    rec = np.repeat(np.arange(8), 3).astype(str)
    y = np.repeat(np.arange(8) % 2, 3)
    perfect = cluster_bootstrap(y, y, rec, num_classes=2, positive=1, n_resamples=100)
    note = interval_note(perfect)
    assert note == ("accuracy, balanced accuracy: exact Clopper-Pearson (degenerate "
                    "bootstrap; n = 8 recordings); cohen kappa, f1 macro: interval not "
                    "estimable: every resample gives 1.000; sensitivity, specificity: exact "
                    "Clopper-Pearson (degenerate bootstrap; n = 4 recordings)")
    p = y.copy()
    p[:3] = 1
    assert interval_note(cluster_bootstrap(y, p, rec, num_classes=2, n_resamples=100)) == ""
    assert interval_note(None) == ""
    rep = {"accuracy": 1.0, "balanced_accuracy": 1.0, "cohen_kappa": 1.0, "f1_macro": 1.0,
           "bootstrap": perfect}
    print_scores(rep, None, family="SNN", scope="", counts="24 windows")
    out = capsys.readouterr().out
    lo = 0.025 ** (1 / 8)
    assert f"accuracy 1.0000 [{lo:.3f}, 1.000]" in out
    assert f"  [{note}]" in out


def test_training_curve_epoch_ticks_are_whole_numbers():
    pytest.importorskip("matplotlib")
    from eegsnn.visualization import training_curves

    fig = training_curves([{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5}
                           for e in (1, 2, 3)])
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_too_few_recordings_give_no_bootstrap_interval_but_keep_exact_ones():
    """Below MIN_CLUSTERS recordings no percentile interval (n/a, method says why), except
    a proportion at 1, which keeps its exact interval over its recordings."""
    from eegsnn.evaluate.stats import MIN_CLUSTERS, interval_note

    assert MIN_CLUSTERS == 5
    rec = np.repeat(np.arange(4), 10).astype(str)
    y = np.repeat(np.arange(4) % 2, 10)
    p = y.copy()
    p[:3] = 1  # recording 0: 3 of 10 wrong
    s = np.where(y == 1, 0.9, 0.1)
    b = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s)
    m = b["metrics"]
    why = "not estimated: only 4 recordings (a cluster bootstrap needs >= 5)"
    for name in ("accuracy", "balanced_accuracy", "cohen_kappa", "specificity", "roc_auc"):
        assert m[name]["ci95"] is None and m[name]["method"] == why, name
    assert m["sensitivity"]["estimate"] == 1.0  # 2 positive recordings all right: exact
    assert m["sensitivity"]["ci95"] == [pytest.approx(0.025 ** 0.5), 1.0]
    assert b["min_clusters"] == 5 and why in interval_note(b)
    # five recordings: intervals again
    rec5 = np.repeat(np.arange(5), 8).astype(str)
    y5 = np.repeat(np.arange(5) % 2, 8)
    p5 = y5.copy()
    p5[:3] = 1
    b5 = cluster_bootstrap(y5, p5, rec5, num_classes=2, n_resamples=200)
    assert b5["metrics"]["accuracy"]["method"] == "cluster bootstrap"
    assert b5["metrics"]["accuracy"]["ci95"] is not None


def test_a_score_every_resample_agrees_on_has_no_zero_width_interval():
    rec = np.repeat(np.arange(10), 4).astype(str)
    y = np.repeat(np.arange(10) % 2, 4)
    p = y.copy()
    p[0] = 1  # one window wrong: accuracy is not degenerate, the AUC (scores) is
    s = np.where(y == 1, 0.9, 0.1)
    m = cluster_bootstrap(y, p, rec, num_classes=2, positive=1, scores=s,
                          n_resamples=200)["metrics"]
    assert m["roc_auc"]["estimate"] == 1.0 and m["roc_auc"]["ci95"] is None
    assert m["roc_auc"]["method"] == "interval not estimable: every resample gives 1.000"
    assert m["accuracy"]["method"] == "cluster bootstrap"


def _rep(y, p, rec, s, **extra):
    from eegsnn.pipeline.metrics import full_report, window_statistics

    proba = np.stack([1 - s, s], axis=1)
    rep = full_report(np.asarray(y), proba, ["rest", "seizure"], "seizure")
    rep.update(window_statistics(np.asarray(y), proba, ["rest", "seizure"], 1,
                                 np.asarray(rec), **extra))
    return rep


def test_summary_says_which_interval_it_shows(capsys):
    """One recording: the accuracy interval is the window Wilson one and is named so; the
    line never claims a bootstrap over 1 recording. Enough recordings: the bootstrap's,
    with ROC-AUC at 1.000 marked not estimable, and the fixed-rate points printed."""
    from eegsnn.commands.summary import print_scores

    y = np.array([0, 1] * 10)
    s = np.where(y == 1, 0.8, 0.3)
    s[0] = 0.6  # one rest window called seizure
    print_scores(_rep(y, (s > 0.5).astype(int), ["r"] * 20, s), None, family="SNN",
                 scope="", counts="20 windows")
    out = capsys.readouterr().out
    assert "(window Wilson)" in out and "bootstrap over" not in out
    assert "not estimated: only 1 recording (a cluster bootstrap needs >= 5)" in out
    rec = np.repeat(np.arange(10), 2).astype(str)
    print_scores(_rep(y, (s > 0.5).astype(int), rec, s), None, family="SNN", scope="",
                 counts="20 windows")
    out = capsys.readouterr().out
    assert "[intervals: 95 % cluster bootstrap over 10 recordings]" in out
    assert "(window Wilson)" not in out
    assert "ROC-AUC 1.0000 (interval not estimable: every resample gives 1.000)" in out
    assert "sensitivity at specificity >= 0.90: 1.000" in out
    assert "specificity at sensitivity >= 0.90: " in out


def test_operating_point_line_intervals_fold_order_and_plurals(capsys):
    from eegsnn.commands.summary import print_decision_and_comparison

    y = np.array([0, 1] * 10)
    s = np.where(y == 1, 0.8, 0.3)
    rec = np.repeat(np.arange(10), 2).astype(str)
    thr = np.r_[np.full(10, 0.7), np.full(10, 0.2)]  # fold 1 then fold 2
    choice = {"rule": "youden", "value": None, "on": "validation",
              "fold_thresholds": [0.7, 0.2]}
    op = _rep(y, (s > 0.5).astype(int), rec, s, threshold=thr,
              operating_point=choice)["operating_point"]
    assert op["threshold"] == [0.7, 0.2]  # fold order, not sorted
    no_folds = _rep(y, (s > 0.5).astype(int), rec, s, threshold=thr,
                    operating_point={"rule": "youden"})["operating_point"]
    assert no_folds["threshold"] == [0.7, 0.2]
    mc = {"snn_only_correct": 1, "baseline_only_correct": 0, "p_value": 1.0}
    print_decision_and_comparison({"mcnemar": mc}, op)
    out = capsys.readouterr().out
    assert "at threshold 0.7, 0.2 (per fold) (youden, chosen on the validation" in out
    assert "sensitivity 1.0000 [" in out and "youden None" not in out
    assert "at the threshold: " in out
    assert "1 window right only by the SNN" in out


def test_collapse_warnings_of_a_run_name_their_fold():
    from types import SimpleNamespace

    from eegsnn.pipeline.folds import aggregate_metrics
    from eegsnn.pipeline.metrics import full_report, window_statistics
    from eegsnn.pipeline.records import FoldResult

    names = ["left", "right"]
    y = np.array([0, 1] * 6)
    ws = SimpleNamespace(y=y, class_names=names, recording=np.repeat(np.arange(6), 2).astype(str))
    cfg = {"name": "t", "pipeline": "motor_imagery", "balance": None,
           "split": {"method": "kfold", "by": "recording", "train_only": None},
           "train": {"seed": 0}, "model": {"type": "snn"}, "baseline": None,
           "evaluate": {"positive_class": None, "aggregate": False, "events": None}}
    folds = []
    for k, idx in enumerate((np.arange(6), np.arange(6, 12))):
        proba = np.zeros((6, 2))
        proba[:, 0] = 1.0 if k == 1 else 0.0  # fold 2 predicts "left" for every window
        proba[:, 1] = 1.0 - proba[:, 0]
        proba[0] = [0.9, 0.1] if k == 0 else proba[0]  # fold 1 predicts both classes
        rep = full_report(y[idx], proba, names)
        rep.update(window_statistics(y[idx], proba, names, None, ws.recording[idx]))
        folds.append(FoldResult(k + 1, idx, idx, proba, rep))
    out = aggregate_metrics(cfg, ws, folds)
    assert out["warnings"] == ["fold 2: SNN predicted a single class (left) for all 6 windows"]


def test_collapse_warning_is_recorded_not_logged_as_a_warning(caplog):
    """`evaluate` printed the collapse twice: Python's last-resort handler showed the
    WARNING record bare, then the summary its ``warning:`` line. The record is info now;
    the report's ``warnings`` carry it to the one printer."""
    import logging

    from eegsnn.pipeline.metrics import window_statistics

    y = np.array([0, 1] * 5)
    with caplog.at_level(logging.INFO, logger="eegsnn"):
        out = window_statistics(y, np.c_[np.ones(10), np.zeros(10)], ["rest", "ictal"], 1,
                                np.arange(10).astype(str), threshold=0.99)
    assert len(out["warnings"]) == 2  # arg-max and at the threshold
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("single class" in r.getMessage() for r in caplog.records) == 2


def test_a_constant_predictor_gets_no_zero_width_intervals():
    """Always "rest": balanced accuracy 0.5 and the AUC 0.5 in every resample, kappa 0 in
    nearly all; none gets a zero-width interval, the exact fallback stays for 0 and 1."""
    rec = np.arange(20).astype(str)
    y = np.arange(20) % 2
    m = cluster_bootstrap(y, np.zeros(20, dtype=int), rec, num_classes=2, positive=1,
                          scores=np.full(20, 0.3), n_resamples=500)["metrics"]
    assert m["balanced_accuracy"]["ci95"] is None
    assert m["balanced_accuracy"]["method"] == \
        "interval not estimable: every resample gives 0.500"
    assert m["roc_auc"]["ci95"] is None and m["roc_auc"]["estimate"] == 0.5
    assert m["cohen_kappa"]["ci95"] is None
    assert m["cohen_kappa"]["method"].startswith("interval not estimable: ")
    assert m["sensitivity"]["ci95"] == [0.0, pytest.approx(1 - 0.025 ** 0.1)]  # exact, 10
    assert m["accuracy"]["ci95"][0] < 0.5 < m["accuracy"]["ci95"][1]


def test_youden_operating_point_log_has_no_none(caplog):
    """The choice's log line: "youden" alone (a rule without a value), never "youden None"."""
    import logging
    from types import SimpleNamespace

    import mlx.core as mx

    from eegsnn.pipeline.snn import SNNPipelineModel

    y = np.array([0, 1] * 10)
    s = np.where(y == 1, 0.8, 0.3)
    model = SimpleNamespace(
        cfg={"evaluate": {"positive_class": "ictal", "operating_point": {"rule": "youden"}}},
        predict_proba=lambda spikes: SimpleNamespace(proba=np.c_[1 - s, s]))
    fold = SimpleNamespace(spikes=mx.zeros((2, 20, 1)), y=y, class_names=["rest", "ictal"])
    trained = SimpleNamespace(val_idx=None, train_idx=np.arange(20))
    with caplog.at_level(logging.INFO, logger="eegsnn"):
        op = SNNPipelineModel.choose_operating_point(model, fold, trained, "fold 1")
    assert op is not None and op["rule"] == "youden"
    line = next(r.getMessage() for r in caplog.records if "operating point" in r.getMessage())
    assert "fold 1: operating point youden on 20 training windows" in line and "None" not in line
