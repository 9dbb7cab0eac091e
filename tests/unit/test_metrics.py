"""Classification metrics against hand-computed values and brute-force NumPy references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.evaluate import (
    accuracy,
    balanced_accuracy,
    classification_report,
    cohen_kappa,
    confusion_matrix,
    f1_macro,
    mean_firing_rates,
    precision_recall_f1,
    roc_auc,
    roc_curve,
)

Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]


def test_hand_computed_three_class_example():
    # confusion matrix rows = true, cols = predicted
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED),
                                  [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    # recalls 1/2, 1, 1/2
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx(2 / 3)
    # p_o = 2/3, p_e = (2*2 + 2*3 + 2*1) / 36 = 1/3 -> kappa = (1/3) / (2/3)
    assert cohen_kappa(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    # F1 per class: 0.5, 0.8, 2/3
    assert f1_macro(Y_TRUE, Y_PRED) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_perfect_and_degenerate_predictions():
    y = [1, 0, 2, 2]
    assert accuracy(y, y) == 1.0
    assert cohen_kappa(y, y) == pytest.approx(1.0)
    assert f1_macro(y, y) == pytest.approx(1.0)
    # everything predicted as one class: kappa 0 (no agreement beyond chance)
    assert cohen_kappa([0, 1, 0, 1], [0, 0, 0, 0]) == pytest.approx(0.0)
    # single class everywhere and right: kappa defined as 1
    assert cohen_kappa([3, 3], [3, 3]) == 1.0


def test_balanced_accuracy_ignores_classes_absent_from_truth():
    # class 2 predicted but never true: mean recall over classes 0 and 1 only
    assert balanced_accuracy([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx((0.5 + 1.0) / 2)


def _auc_bruteforce(y, s):
    pos = [v for v, t in zip(s, y, strict=True) if t == 1]
    neg = [v for v, t in zip(s, y, strict=True) if t == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0
               for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_hand_values_and_ties():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # ties count one half: (0.5 + 0.5 + 1 + 1) / 4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.9]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [1.0, 0.0]) == 0.0


def test_roc_auc_matches_pairwise_count_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding creates many ties
    assert roc_auc(y, s) == pytest.approx(_auc_bruteforce(y, s), abs=1e-12)


def test_confusion_matrix_matches_counting_loop():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    ref = np.zeros((5, 5), dtype=int)
    for a, b in zip(t, p, strict=True):
        ref[a, b] += 1
    np.testing.assert_array_equal(confusion_matrix(t, p, num_classes=5), ref)


def test_report_keys_and_two_class_auc():
    rep = classification_report([0, 1, 1, 0], [0, 1, 0, 0],
                                scores=np.array([[2.0, 0.0], [0.0, 1.0], [0.5, 0.4],
                                                 [1.0, 0.9]]))
    for key in ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro",
                "confusion_matrix", "per_class", "roc_auc"):
        assert key in rep
    # class-1 scores = logit difference: [-2, 1, -0.1, -0.1]; positives 1, -0.1
    assert rep["roc_auc"] == pytest.approx(_auc_bruteforce([0, 1, 1, 0], [-2, 1, -0.1, -0.1]))
    assert rep["confusion_matrix"] == [[2, 0], [1, 1]]


def test_mean_firing_rates():
    spikes = np.zeros((4, 2, 5))
    spikes[0, 0, :] = 1  # 5 spikes of 40 slots
    assert mean_firing_rates({"a": spikes}) == {"a": pytest.approx(5 / 40)}


def test_roc_curve_points_by_hand():
    # scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.7 (neg), 0.2 (neg)
    fpr, tpr, thr = roc_curve([1, 0, 1, 0, 0], [0.9, 0.8, 0.7, 0.7, 0.2])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert thr[0] == np.inf and list(thr[1:]) == [0.9, 0.8, 0.7, 0.2]
    fpr_b, tpr_b, _ = roc_curve(np.array([True, False, True, False, False]),
                                [0.9, 0.8, 0.7, 0.7, 0.2])
    np.testing.assert_array_equal(fpr_b, fpr)
    np.testing.assert_array_equal(tpr_b, tpr)
    # the area under the points is the rank ROC-AUC
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc([1, 0, 1, 0, 0],
                                                           [0.9, 0.8, 0.7, 0.7, 0.2]))


def test_metrics_match_sklearn():
    """Where scikit-learn (the optional ``sklearn`` extra) computes the same thing, the NumPy
    metrics give its numbers."""
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        y = rng.integers(0, k, 300)
        pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, k, 300))
        np.testing.assert_array_equal(confusion_matrix(y, pred, k),
                                      skm.confusion_matrix(y, pred, labels=range(k)))
        assert accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
        assert balanced_accuracy(y, pred) == pytest.approx(
            skm.balanced_accuracy_score(y, pred))
        assert cohen_kappa(y, pred) == pytest.approx(skm.cohen_kappa_score(y, pred))
        assert f1_macro(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"))
        p, r, f = precision_recall_f1(y, pred, k)
        sp, sr, sf, _ = skm.precision_recall_fscore_support(y, pred, labels=range(k),
                                                            zero_division=0)
        np.testing.assert_allclose(p, sp)
        np.testing.assert_allclose(r, sr)
        np.testing.assert_allclose(f, sf)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # ties on purpose
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    fpr, tpr, thr = roc_curve(y, s)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])


@pytest.mark.parametrize("call", [
    lambda: accuracy([0, 1], [0]),
    lambda: accuracy([], []),
    lambda: accuracy([[0, 1]], [[0, 1]]),
    lambda: accuracy([0, -1], [0, 1]),
    lambda: accuracy([0.5, 1], [0, 1]),
    lambda: roc_auc([1, 1], [0.2, 0.3]),
    lambda: roc_auc([0, 2], [0.2, 0.3]),
    lambda: roc_auc([0, 1], [0.2]),
    lambda: confusion_matrix([0, 3], [0, 1], num_classes=2),
    lambda: roc_curve([1, 1], [0.1, 0.2]),
    lambda: roc_curve([0, 2], [0.1, 0.2]),
    lambda: roc_curve([0, 1], [0.1]),
])
def test_bad_input_raises_config_error(call):
    with pytest.raises(ConfigError):
        call()


def test_a_class_with_no_windows_matches_sklearn_and_is_na_per_class():
    """Three classes, data holding two: macro-F1 and balanced accuracy as scikit-learn
    gives them with ``labels=None`` (classes in y_true or y_pred), and the per-class table
    says n/a (None) for what is undefined, never 0 or 1."""
    import warnings

    skm = pytest.importorskip("sklearn.metrics")
    y = np.array([0] * 40 + [1] * 40)
    # perfect on the two classes present: class 2 counts nowhere
    rep = classification_report(y, y, num_classes=3)
    assert rep["f1_macro"] == 1.0 == skm.f1_score(y, y, average="macro")
    assert rep["balanced_accuracy"] == 1.0
    assert rep["per_class"] == {"precision": [1.0, 1.0, None], "recall": [1.0, 1.0, None],
                                "f1": [1.0, 1.0, None], "support": [40, 40, 0]}
    # two windows of each class called the absent class: it counts, with F1 0
    pred = y.copy()
    pred[[0, 1, 40, 41]] = 2
    rep = classification_report(y, pred, num_classes=3)
    assert rep["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert rep["f1_macro"] == pytest.approx(2 / 3 * (2 * 0.95 / 1.95))
    with warnings.catch_warnings():  # sklearn warns about y_pred classes not in y_true
        warnings.simplefilter("ignore")
        assert rep["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    pc = rep["per_class"]
    assert pc["recall"][2] is None and pc["precision"][2] == 0.0 and pc["f1"][2] == 0.0
    assert pc["support"] == [40, 40, 0]
    sp, sr, sf, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1],
                                                        zero_division=0)
    np.testing.assert_allclose(pc["precision"][:2], sp)
    np.testing.assert_allclose(pc["recall"][:2], sr)
    np.testing.assert_allclose(pc["f1"][:2], sf)
    # a class present but never predicted: precision n/a, recall and F1 0
    pred = np.where(y == 1, 0, 0)
    pc = classification_report(y, pred, num_classes=3)["per_class"]
    assert pc["precision"][1] is None and pc["recall"][1] == 0.0 and pc["f1"][1] == 0.0
    assert pc["precision"][2] is None and pc["f1"][2] is None
