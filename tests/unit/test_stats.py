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
    assert b["metrics"]["accuracy"] == {"estimate": pytest.approx(2 / 3), "ci95": None,
                                        "n_valid": 0, "method": "cluster bootstrap"}
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
    assert m["cohen_kappa"]["ci95"] == [1.0, 1.0]
    assert m["cohen_kappa"]["method"] == "cluster bootstrap"
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
                    "bootstrap; n = 8 recordings); sensitivity, specificity: exact "
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
