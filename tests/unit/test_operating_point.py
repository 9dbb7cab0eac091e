"""Operating points of binary decisions: threshold rules by hand, curve read-outs, the
config key, the per-fold choice and the metrics at the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.evaluate.metrics import (
    choose_threshold,
    predict_with_threshold,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from eegsnn.pipeline import resolve_study_config
from eegsnn.pipeline.metrics import choose_operating_point, window_statistics

# scores of 5 negatives and 5 positives, all distinct
NEG = [0.05, 0.20, 0.30, 0.55, 0.70]
POS = [0.40, 0.60, 0.80, 0.90, 0.95]
Y = np.r_[np.zeros(5), np.ones(5)].astype(int)
S = np.r_[NEG, POS]


def _called(t):
    called = S >= t
    return np.mean(called[Y == 1]), np.mean(~called[Y == 0])


def test_target_sensitivity_by_hand():
    # sensitivity >= 0.8 needs the 4 highest positives (0.60 ... 0.95); the highest such
    # threshold is 0.60; the next lower score is 0.55: midway 0.575 (sens 0.8, spec 0.8)
    t = choose_threshold(Y, S, "target_sensitivity", 0.8)
    assert t == pytest.approx(0.575)
    assert _called(t) == (pytest.approx(0.8), pytest.approx(0.8))
    # 100 % sensitivity: down to 0.40, next lower 0.30 -> 0.35
    assert choose_threshold(Y, S, "target_sensitivity", 1.0) == pytest.approx(0.35)


def test_target_specificity_and_youden_by_hand():
    # specificity >= 0.8 allows one false positive (0.70): lowest threshold 0.60 (0.55 would
    # be a second one); midway to 0.55 -> 0.575 (sens 0.8)
    assert choose_threshold(Y, S, "target_specificity", 0.8) == pytest.approx(0.575)
    # specificity 1.0: above 0.70, down to 0.80; midway to 0.70 -> 0.75 (sens 0.6)
    t = choose_threshold(Y, S, "target_specificity", 1.0)
    assert t == pytest.approx(0.75) and _called(t) == (pytest.approx(0.6), 1.0)
    # Youden J at each cut: 0.95:.2, .9:.4, .8:.6, .7:.4, .6:.6, .55:.4, .4:.6, .3:.4 ...
    # max 0.6 first reached (highest threshold) at 0.80 -> midway to 0.70 = 0.75
    assert choose_threshold(Y, S, "youden") == pytest.approx(0.75)


def test_threshold_errors_and_edges():
    with pytest.raises(ConfigError, match="rule"):
        choose_threshold(Y, S, "max_accuracy", 0.9)
    with pytest.raises(ConfigError, match="value"):
        choose_threshold(Y, S, "target_sensitivity", 1.5)
    with pytest.raises(ConfigError, match="both classes"):
        choose_threshold(np.ones(4, dtype=int), [0.1, 0.2, 0.3, 0.4], "youden")
    # a negative above every positive and specificity 1.0: nothing may be called positive
    t = choose_threshold([0, 1, 0], [0.9, 0.5, 0.1], "target_specificity", 1.0)
    assert t > 0.9


def test_curve_read_outs_by_hand():
    # specificity >= 0.8 (at most one of the 5 negatives above): best sensitivity 0.8
    assert sensitivity_at_specificity(Y, S, 0.8) == pytest.approx(0.8)
    assert sensitivity_at_specificity(Y, S, 1.0) == pytest.approx(0.6)
    assert specificity_at_sensitivity(Y, S, 1.0) == pytest.approx(0.6)
    assert specificity_at_sensitivity(Y, S, 0.6) == pytest.approx(1.0)


def test_predict_with_threshold():
    proba = np.array([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    assert predict_with_threshold(proba, 1, 0.5).tolist() == proba.argmax(1).tolist()
    assert predict_with_threshold(proba, 1, 0.25).tolist() == [1, 1, 1]
    assert predict_with_threshold(proba, 1, np.array([0.9, 0.9, 0.5])).tolist() == [0, 0, 1]
    three = np.array([[0.5, 0.2, 0.3], [0.1, 0.6, 0.3]])
    # not positive (class 2) -> the most probable other class
    assert predict_with_threshold(three, 2, 0.25).tolist() == [2, 2]
    assert predict_with_threshold(three, 2, 0.4).tolist() == [0, 1]


def test_choose_operating_point_records_the_choice():
    proba = np.c_[1 - S, S]
    op = choose_operating_point({"rule": "target_sensitivity", "value": 0.8}, Y, proba, 1,
                                ["rest", "ictal"], "validation")
    assert op["threshold"] == pytest.approx(0.575) and op["on"] == "validation"
    assert op["selection"] == {"sensitivity": pytest.approx(0.8),
                               "specificity": pytest.approx(0.8)}
    assert op["positive_class"] == "ictal" and op["windows"] == 10
    one = choose_operating_point({"rule": "youden"}, np.zeros(3, dtype=int),
                                 np.full((3, 2), 0.5), 1, ["rest", "ictal"], "training")
    assert one["threshold"] is None and "one class" in one["skipped"]


def test_window_statistics_at_threshold_and_warning():
    proba = np.c_[1 - S, S]
    rec = np.array([f"r{i}" for i in range(10)])
    out = window_statistics(Y, proba, ["rest", "ictal"], 1, rec, threshold=0.35,
                            operating_point={"rule": "target_sensitivity", "value": 1.0,
                                             "on": "validation", "threshold": 0.99})
    op = out["operating_point"]
    # at 0.35 every positive and the negatives 0.55, 0.70 are called positive
    assert op["threshold"] == 0.35 and op["rule"] == "target_sensitivity"
    assert (op["tp"], op["fn"], op["fp"], op["tn"]) == (5, 0, 2, 3)
    assert op["sensitivity"] == 1.0 and op["specificity"] == pytest.approx(0.6)
    assert op["accuracy"] == pytest.approx(0.8)
    assert op["bootstrap"]["metrics"]["sensitivity"]["estimate"] == 1.0
    assert out["bootstrap"]["n_clusters"] == 10 and "warnings" not in out
    collapsed = window_statistics(Y, np.c_[np.ones(10), np.zeros(10)], ["rest", "ictal"],
                                  1, rec)
    assert collapsed["warnings"] == ["SNN predicted a single class (rest) for all 10 windows"]
    assert "operating_point" not in collapsed


def _cfg(**ev):
    return {"name": "t", "pipeline": "seizure_detection", "data": {"source": "x"},
            "evaluate": ev}


def test_config_key_is_validated():
    cfg = resolve_study_config(_cfg(operating_point={"rule": "target_sensitivity",
                                                     "value": 0.95}))
    assert cfg["evaluate"]["operating_point"] == {"rule": "target_sensitivity",
                                                  "value": 0.95, "on": "validation"}
    assert resolve_study_config(_cfg())["evaluate"]["operating_point"] is None
    for bad, msg in [({"rule": "best"}, "rule"), ({"rule": "target_specificity"}, "value"),
                     ({"rule": "youden", "on": "test"}, "on must be"),
                     ({"rule": "youden", "margin": 1}, "unknown"), ("youden", "mapping")]:
        with pytest.raises(ConfigError, match=msg):
            resolve_study_config(_cfg(operating_point=bad))
    with pytest.raises(ConfigError, match="positive_class"):
        resolve_study_config(_cfg(positive_class=None, operating_point={"rule": "youden"}))


def test_config_key_on_survives_yaml():
    import yaml

    op = yaml.safe_load("{rule: youden, on: training}")  # YAML 1.1: 'on' -> True
    cfg = resolve_study_config(_cfg(operating_point=op))
    assert cfg["evaluate"]["operating_point"] == {"rule": "youden", "value": None,
                                                  "on": "training"}


def test_event_metrics_use_the_operating_threshold():
    from types import SimpleNamespace

    from eegsnn.pipeline.folds import score_windows

    # one continuous recording of 10 windows of 1 s; a seizure in windows 4-6 whose
    # p(seizure) is 0.3-0.4: arg-max misses it, a threshold of 0.25 catches it
    p = np.array([0.05, 0.1, 0.05, 0.1, 0.3, 0.4, 0.35, 0.1, 0.05, 0.1])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 0, 0])
    ws = SimpleNamespace(y=y, class_names=("bckg", "seiz"), recording=np.array(["r"] * 10),
                         onset_s=np.arange(10.0))
    cfg = {"evaluate": {"positive_class": "seiz", "aggregate": False,
                        "events": {"min_windows": 1}},
           "dataset": {"windows": {"window_s": 1.0, "step_s": 1.0}}, "model": {}}
    proba = np.c_[1 - p, p]
    plain = score_windows(cfg, ws, np.arange(10), proba)
    assert plain["events"]["detected"] == 0 and plain["events"]["decision"] == "arg-max"
    at = score_windows(cfg, ws, np.arange(10), proba,
                       operating_point={"rule": "youden", "value": None, "on": "validation",
                                        "threshold": 0.25})
    assert at["events"]["detected"] == 1 and at["events"]["false_alarms"] == 0
    assert at["events"]["decision"] == "operating threshold"
    assert at["operating_point"]["sensitivity"] == 1.0
    assert at["bootstrap"]["n_clusters"] == 1  # one recording: no interval
    assert at["bootstrap"]["metrics"]["accuracy"]["ci95"] is None
    assert plain["warnings"] == ["SNN predicted a single class (bckg) for all 10 windows"]
    skipped = score_windows(cfg, ws, np.arange(10), proba,
                            operating_point={"rule": "youden", "threshold": None,
                                             "skipped": "one class"})
    assert "operating_point" not in skipped and skipped["events"]["decision"] == "arg-max"
    assert skipped["operating_point_skipped"]["skipped"] == "one class"
