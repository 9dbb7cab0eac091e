"""Operating point and statistics end to end: a Bonn run chooses its threshold on the
validation segments, records it in model/, reports held-out metrics at it beside arg-max
with recording-level intervals, and `evaluate_run` applies (or overrides) it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegsnn.pipeline import evaluate_run, run_pipeline

FAST = ["train.epochs=2", "encoder.spikes_per_s=20", "model.hidden=[16]",
        "split.val_fraction=0.25",
        "evaluate.operating_point={rule: target_sensitivity, value: 0.9, on: validation}"]


@pytest.fixture(scope="module")
def op_run(repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "bonn_op"
    result = run_pipeline(repo_root / "configs" / "bonn_example.yaml", out,
                          overrides=[*FAST, f"cache_dir={out.parent / 'cache'}"],
                          progress=False)
    return result, out


def test_threshold_is_chosen_on_validation_and_recorded(op_run):
    _, out = op_run
    recorded = json.loads((out / "model" / "operating_point.json").read_text())
    fold = json.loads((out / "folds" / "fold-1" / "metrics.json").read_text())
    assert recorded["on"] == "validation" and recorded["rule"] == "target_sensitivity"
    assert recorded["windows"] == fold["val_windows"] > 0  # validation windows, not test
    assert recorded["selection"]["sensitivity"] >= 0.9
    # holdout: model/ is the fold's model, with the fold's threshold
    assert fold["operating_point"]["threshold"] == recorded["threshold"]
    assert 0.0 < recorded["threshold"] < 1.0


def test_held_out_metrics_at_the_threshold(op_run):
    result, out = op_run
    metrics = json.loads((out / "metrics.json").read_text())
    op = metrics["snn"]["pooled"]["operating_point"]
    fr = result.folds[0]
    y = result.windows.y[fr.test_idx]
    ictal = list(result.windows.class_names).index("ictal")
    t = json.loads((out / "model" / "operating_point.json").read_text())["threshold"]
    called = fr.proba[:, ictal] >= t
    assert op["tp"] == int(np.sum(called & (y == ictal)))
    assert op["fp"] == int(np.sum(called & (y != ictal)))
    assert op["sensitivity"] == pytest.approx(np.mean(called[y == ictal]))
    assert op["threshold"] == [t] and metrics["operating_point"]["tp"] == op["tp"]
    # arg-max metrics stay beside it, with curve read-outs and bootstrap intervals
    pos = metrics["snn"]["pooled"]["positive"]
    assert set(pos["sensitivity_at_specificity"]) == {"0.90", "0.95"}
    boot = metrics["snn"]["pooled"]["bootstrap"]
    assert boot["n_clusters"] == len(set(result.windows.recording[fr.test_idx]))
    assert boot["metrics"]["accuracy"]["estimate"] == pytest.approx(metrics["accuracy"])
    assert set(metrics["baseline"]["pooled"]["bootstrap"]["metrics"]) >= {"roc_auc",
                                                                         "cohen_kappa"}
    # McNemar on the same windows as the two prediction files
    mc = metrics["mcnemar"]
    snn_ok = fr.proba.argmax(1) == y
    base_ok = fr.baseline_proba.argmax(1) == y
    assert mc["snn_only_correct"] == int(np.sum(snn_ok & ~base_ok))
    assert mc["baseline_only_correct"] == int(np.sum(~snn_ok & base_ok))
    assert 0.0 <= mc["p_value"] <= 1.0
    html = (out / "report.html").read_text()
    for text in ("Operating point (ictal)", "Intervals over recordings", "McNemar",
                 "Per class: baseline"):
        assert text in html


def test_evaluate_uses_the_recorded_threshold_or_the_override(op_run, tmp_path):
    result, out = op_run
    fr = result.folds[0]
    root = result.config["data"]["source"].replace(".yaml", "")
    files = [f"{root}/{r}" for r in sorted(set(result.windows.recording[fr.test_idx]))]
    metrics = json.loads((out / "metrics.json").read_text())
    got = evaluate_run(out, files, out_dir=tmp_path / "a").metrics["operating_point"]
    want = metrics["snn"]["pooled"]["operating_point"]
    assert (got["tp"], got["fp"], got["tn"], got["fn"]) == \
        (want["tp"], want["fp"], want["tn"], want["fn"])
    assert got["on"] == "validation"
    forced = evaluate_run(out, files, threshold=0.0).metrics["operating_point"]
    assert forced["rule"] == "given" and forced["sensitivity"] == 1.0 \
        and forced["specificity"] == 0.0


def test_lsm_chooses_its_threshold_on_training_windows(repo_root, tmp_path):
    out = tmp_path / "lsm_op"
    run_pipeline(repo_root / "configs" / "bonn_example_lsm.yaml", out,
                 overrides=["model.reservoir.n_neurons=120", "encoder.spikes_per_s=20",
                            "evaluate.operating_point={rule: youden}", "report.format=none",
                            f"cache_dir={tmp_path / 'cache'}"], progress=False)
    recorded = json.loads((out / "model" / "operating_point.json").read_text())
    assert recorded["on"] == "training" and recorded["rule"] == "youden"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["operating_point"]["threshold"] == [recorded["threshold"]]
    assert metrics["snn"]["folds"][0]["operating_point"]["windows"] == \
        metrics["snn"]["folds"][0]["train_windows"]
