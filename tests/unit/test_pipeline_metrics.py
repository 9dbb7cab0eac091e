"""Pipeline building blocks by hand: clinical metrics, splits, balancing, configs, models."""

from __future__ import annotations

import os

import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.pipeline import (
    aggregate_recordings,
    apply_overrides,
    binary_metrics,
    build_model_config,
    deep_merge,
    event_metrics,
    fold_summary,
    full_report,
    get_pipeline,
    list_pipelines,
    make_folds,
    oversample,
    resolve_study_config,
    softmax,
    wilson_interval,
)


def test_wilson_interval_by_hand():
    # p = 0.8, n = 10, z = 1.96: center (0.8 + 0.19208) / 1.38415 = 0.71676,
    # half = 1.96 * sqrt(0.016 + 0.0096040) / 1.38415 = 0.22657
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert np.isnan(wilson_interval(0, 0)[0])


def test_binary_metrics_by_hand():
    y = np.array([2, 2, 2, 0, 1, 0, 1, 2])
    # predicted classes: 2, 2, 0, 0, 2, 0, 1, 2 -> positive class 2:
    # TP = 3 (idx 0, 1, 7), FN = 1 (idx 2), FP = 1 (idx 4), TN = 3
    pred = np.array([2, 2, 0, 0, 2, 0, 1, 2])
    scores = np.array([0.9, 0.8, 0.3, 0.1, 0.7, 0.2, 0.05, 0.95])
    proba = np.zeros((8, 3))
    proba[np.arange(8), pred] = 0.5
    proba[:, 2] = np.where(pred == 2, 0.5 + scores / 10, scores / 2)
    proba[pred != 2, pred[pred != 2]] = 0.9
    m = binary_metrics(y, proba, positive=2)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 1, 3)
    assert m["sensitivity"] == 0.75 and m["specificity"] == 0.75
    assert m["ppv"] == 0.75 and m["npv"] == 0.75
    # AUC of proba[:, 2] for y == 2 by counting pairs
    s = proba[:, 2]
    pos, neg = s[y == 2], s[y != 2]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert m["roc_auc"] == pytest.approx(pairs / (pos.size * neg.size))
    assert m["roc"]["fpr"][0] == 0.0 and m["roc"]["tpr"][-1] == 1.0


def test_full_report_and_softmax():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    p = softmax(logits)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] == pytest.approx(np.exp(2) / (np.exp(2) + 1))
    rep = full_report(np.array([0, 1, 1]), p, ["a", "b"], positive_class="b")
    assert rep["accuracy"] == pytest.approx(2 / 3)  # the tie goes to class 0
    assert rep["confusion_matrix"] == [[1, 0], [1, 1]]
    assert rep["positive"]["sensitivity"] == 0.5 and rep["positive"]["specificity"] == 1.0
    with pytest.raises(ConfigError, match="positive class"):
        full_report(np.array([0, 1]), p[:2], ["a", "b"], positive_class="c")


def test_aggregate_recordings_mean_probability():
    rec = np.array(["r1", "r1", "r2", "r2", "r2"])
    y = np.array([1, 1, 0, 0, 0])
    proba = np.array([[0.6, 0.4], [0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.5, 0.5]])
    names, ry, rp = aggregate_recordings(rec, y, proba)
    assert names.tolist() == ["r1", "r2"] and ry.tolist() == [1, 0]
    np.testing.assert_allclose(rp, [[0.4, 0.6], [0.6, 0.4]])
    with pytest.raises(ConfigError, match="several classes"):
        aggregate_recordings(rec, np.array([1, 0, 0, 0, 0]), proba)


def test_event_metrics_by_hand():
    # one recording, windows every 2 s (4 s long); true seizure windows at 10..16 s,
    # predicted positive at 12, 14 (hit) and at 30 (false alarm), and a second
    # recording with no seizure and one false alarm run of two windows.
    onset = np.arange(0, 40, 2.0)
    y = np.isin(onset, [10, 12, 14, 16]).astype(int)
    pred = np.isin(onset, [12, 14, 30]).astype(int)
    rec = np.array(["a"] * onset.size + ["b"] * onset.size)
    m = event_metrics(rec, np.r_[onset, onset], np.r_[y, 0 * y], np.r_[pred, np.isin(
        onset, [20, 22]).astype(int)], positive=1, window_s=4.0, step_s=2.0)
    assert m["events"] == 1 and m["detected"] == 1 and m["event_sensitivity"] == 1.0
    assert m["false_alarms"] == 2
    hours = 2 * (38 + 4) / 3600
    assert m["hours"] == pytest.approx(hours)
    assert m["false_alarms_per_hour"] == pytest.approx(2 / hours)
    assert m["mean_latency_s"] == pytest.approx(2.0)
    # requiring two consecutive windows removes the single-window alarm at 30 s
    m2 = event_metrics(rec, np.r_[onset, onset], np.r_[y, 0 * y], np.r_[pred, np.isin(
        onset, [20, 22]).astype(int)], positive=1, window_s=4.0, step_s=2.0, min_windows=2)
    assert m2["false_alarms"] == 1 and m2["detected"] == 1


def test_fold_summary_matches_scipy():
    from scipy import stats

    v = [0.8, 0.9, 0.85, 0.95]
    s = fold_summary([*v, None])
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(v), scale=stats.sem(v))
    assert s["n"] == 4 and s["mean"] == pytest.approx(np.mean(v))
    assert s["ci95"][0] == pytest.approx(lo) and s["ci95"][1] == pytest.approx(hi)
    assert fold_summary([0.5])["ci95"] is None and fold_summary([])["mean"] is None


def test_oversample_balances_and_keeps_every_window():
    y = np.array([0] * 7 + [1] * 3 + [2] * 1)
    idx = oversample(y, seed=0)
    counts = np.bincount(y[idx])
    assert counts.tolist() == [7, 7, 7]
    assert set(np.flatnonzero(y == 0)) <= set(idx.tolist())
    assert np.array_equal(idx, oversample(y, seed=0))


def test_make_folds_stratified_by_pure_groups_and_leak_free():
    groups = np.repeat([f"r{i:02d}" for i in range(20)], 5)
    y = np.repeat([0] * 10 + [1] * 6 + [2] * 4, 5)
    (train, test), = make_folds(groups, {"method": "holdout", "test_fraction": 0.25,
                                         "seed": 0}, y)
    assert not set(groups[train]) & set(groups[test])
    # 25 % of each class's groups: round(2.5) = 2, round(1.5) = 2, 1 -> 5 recordings
    assert np.bincount(y[test]).tolist() == [10, 10, 5]
    folds = make_folds(groups, {"method": "kfold", "n_splits": 4, "seed": 1}, y)
    seen = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(seen), np.arange(groups.size))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert set(y[te]) == {0, 1, 2}
    # groups with mixed labels: the data layer's splitters, still leak-free
    mixed = np.array([0, 1] * 50)
    for tr, te in make_folds(groups, {"method": "kfold", "n_splits": 3, "seed": 0}, mixed):
        assert not set(groups[tr]) & set(groups[te])
    with pytest.raises(ConfigError, match="n_splits"):
        make_folds(groups, {"method": "kfold", "n_splits": 50, "seed": 0}, y)


def test_overrides_and_merge():
    cfg = apply_overrides({"train": {"epochs": 3}}, ["train.epochs=5", "model.hidden=[8, 4]",
                                                     "baseline=null", "name=x"])
    assert cfg == {"train": {"epochs": 5}, "model": {"hidden": [8, 4]}, "baseline": None,
                   "name": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["train.epochs"])
    merged = deep_merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 5}, "d": [2]})
    assert merged == {"a": {"b": 5, "c": 2}, "d": [2]}
    # a study's label mapping replaces the pipeline's: its classes are exactly its own
    labels = deep_merge({"labels": {"source": "path", "mapping": {"Z": "h", "O": "h",
                                                                  "S": "ictal"}}},
                        {"labels": {"mapping": {"Z": "A", "S": "E"}}})
    assert labels == {"labels": {"source": "path", "mapping": {"Z": "A", "S": "E"}}}


def test_plus_equals_adds_to_a_list_once(repo_root):
    """``key+=value`` adds a recording (or several) to the config's list, skipping those it
    has, so re-applying it changes nothing; numbers are added as given; a non-list
    refuses."""
    cfg = {"data": {"source": ["a.edf", "b.edf"]}, "train": {"epochs": 3}}
    once = apply_overrides(cfg, ["data.source+=c.edf"])
    assert once["data"]["source"] == ["a.edf", "b.edf", "c.edf"]
    assert apply_overrides(once, ["data.source+=[c.edf, d.edf, a.edf]"])["data"]["source"] \
        == ["a.edf", "b.edf", "c.edf", "d.edf"]
    assert cfg["data"]["source"] == ["a.edf", "b.edf"]  # the input is not changed
    assert apply_overrides(cfg, ["data.source+=[e.edf, e.edf]"])["data"]["source"] == [
        "a.edf", "b.edf", "e.edf"]
    with pytest.raises(ConfigError, match="a folder or manifest source cannot be added to"):
        apply_overrides({"data": {"source": "dir/"}}, ["data.source+=x.edf"])
    with pytest.raises(ConfigError, match=r"\+= adds to a list, but the config has 3"):
        apply_overrides(cfg, ["train.epochs+=3"])
    with pytest.raises(ConfigError, match=r"-= \(removing items\) is not supported; give "
                                          r"the whole list, data\.source=\[\.\.\.\]"):
        apply_overrides(cfg, ["data.source-=a.edf"])
    # a study config: one more run resolves like the config's own sources, as a tested run
    from eegsnn.pipeline import load_study_config

    path = repo_root / "configs" / "eegmmidb_imagery_lr.yaml"
    extra = "../../shared/data/eegmmidb/S001/S001R12.edf"
    study = load_study_config(path, [f"data.source+={extra}"])
    assert len(study["data"]["source"]) == 5
    assert study["data"]["source"][-1] == os.path.normpath(path.parent / extra)
    # the same recording spelled another way is refused, not read twice
    again = os.path.normpath(path.parent / "../../shared/data/eegmmidb/S001/S001R04.edf")
    with pytest.raises(ConfigError, match=r"S001R04\.edf more than once"):
        load_study_config(path, [f"data.source+={again}"])
    # a list only the pipeline's defaults hold is added to as well
    study = load_study_config(path, ["encoder.gain+=4", "split.train_only+=[S001R12.edf]"])
    assert study["encoder"]["gain"] == [0.5, 1.0, 2.0, 4]
    twice = load_study_config(path, ["split.train_only+=S001R12.edf",
                                     "split.train_only+=[S001R12.edf, S001R14.edf]"])
    assert twice["split"]["train_only"][-2:] == ["S001R12.edf", "S001R14.edf"]  # names once
    # numbers are added as given: a second hidden layer of the same size is a layer more
    # (it was dropped silently as a repeat)
    assert apply_overrides({"model": {"hidden": [128]}}, ["model.hidden+=128"]) == \
        {"model": {"hidden": [128, 128]}}
    assert load_study_config(path, ["encoder.gain+=[4, 8]"])["encoder"]["gain"] == \
        [0.5, 1.0, 2.0, 4, 8]
    with pytest.raises(ConfigError, match=r"strictly increasing, got \[0\.5, 1\.0, 2\.0, 2\.0"):
        load_study_config(path, ["encoder.gain+=2.0"])  # a repeated gain is named
    assert study["split"]["train_only"] == ["S001R03.edf", "S001R07.edf", "S001R12.edf"]
    for key in ("train.epochs+=3", "model.hidden+=[4]"):
        with pytest.raises(ConfigError, match=rf"--set {key.split('+')[0]}\+=\.\.\.: "
                                              r"\+= adds to a list, but neither the config"):
            load_study_config(path, [key])


def test_gain_copies_into_a_family_that_learns_from_channels_are_warned_of(repo_root, caplog):
    """The motor-imagery pipeline's gains are for its band-power detectors: switching the
    family to one that learns filters from the channels says how to get one line each."""
    import logging

    from eegsnn.pipeline import load_study_config

    path = repo_root / "configs" / "eegmmidb_imagery_lr.yaml"
    with caplog.at_level(logging.WARNING, logger="eegsnn.pipeline"):
        load_study_config(path, ["model={family: spiking_eegnet}"])
    assert "encoder.gain is a list (0.5, 1, 2)" in caplog.text
    assert "spiking_eegnet family" in caplog.text and "encoder.gain=1.0" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eegsnn.pipeline"):
        load_study_config(path, ["model={family: spiking_eegnet}", "encoder.gain=1.0"])
        load_study_config(path)  # band_power: the gains are meant for it
    assert "encoder.gain" not in caplog.text


def test_pipelines_are_declared():
    names = list_pipelines()
    for name in ("motor_imagery", "seizure_detection", "sleep_staging",
                 "seizure_long_recordings", "generic"):
        assert name in names
        spec = get_pipeline(name)
        assert spec.stages[0] == "load" and "train" in spec.stages
    with pytest.raises(ConfigError, match="unknown pipeline"):
        get_pipeline("no_such_pipeline")


def test_study_config_validation_names_the_key(tmp_path):
    base = {"pipeline": "seizure_detection", "data": {"source": str(tmp_path)}}
    cfg = resolve_study_config(base)
    assert cfg["train"]["loss"] == {"type": "ce_membrane", "reduce": "mean"}
    assert resolve_study_config(cfg) == cfg  # idempotent
    for bad, match in [({"split": {"method": "random"}}, "split.method"),
                       ({"split": {"folds": 3}}, "unknown key"),
                       ({"evaluate": {"positive_class": "nope"}}, "positive_class"),
                       ({"balance": "smote"}, "balance"),
                       ({"train": {"val_fraction": 0.2}}, "split.val_fraction"),
                       ({"encoder": {"method": "morse"}}, "method"),
                       ({"model": {"hidden": [0]}}, "model.hidden"),
                       ({"baseline": {"type": "svm"}}, "baseline.type"),
                       ({"colour": 1}, "unknown key")]:
        with pytest.raises(ConfigError, match=match):
            resolve_study_config(deep_merge(base, bad))
    with pytest.raises(ConfigError, match=r"data\.source"):
        resolve_study_config({"pipeline": "seizure_detection"})
    with pytest.raises(DataError, match="not valid YAML"):
        from eegsnn.pipeline import load_study_config

        (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
        load_study_config(tmp_path / "bad.yaml")



def test_config_yaml_as_a_config_writer_means_it(tmp_path):
    """Config files: ``1e-2`` is a number (PyYAML's YAML 1.1 made it the string '1e-2',
    which failed inside training), a key given twice is refused (the last one won
    silently), and a syntax error says where and what (the line and problem were cut)."""
    from eegsnn.io.files import dump_yaml, load_config_yaml
    from eegsnn.pipeline import load_study_config

    assert load_config_yaml("a: 1e-2\nb: 5E3\nc: .5e1\nd: -2e-1\ne: '1e-2'\nf: 1e") == {
        "a": 0.01, "b": 5000.0, "c": 5.0, "d": -0.2, "e": "1e-2", "f": "1e"}
    assert load_config_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n")["m"] == \
        {"x": 3, "y": 2}  # a merged key may be overridden
    # a saved config reads back as written: a string that looks like 1e3 is quoted
    saved = {"name": "1e3", "mapping": {"2E5": "a", "x": "1e-1"}, "lr": 1e-5}
    assert load_config_yaml(dump_yaml(saved)) == saved
    with pytest.raises(ConfigError, match=r"--set .*duplicate key 'type' \(first on line 1, "
                                          r"column 2\)"):
        apply_overrides({}, ["train.optimizer={type: adam, type: sgd}"])
    # only a key given twice is that error: other YAML that cannot be built (a tag such as
    # !raw) is the text itself, as before the duplicate-key check
    assert apply_overrides({}, ["data.root=!raw"]) == {"data": {"root": "!raw"}}
    study = tmp_path / "study.yaml"
    for text, match in (
            ("name: a\ntrain:\n  epochs: 3\npipeline: motor_imagery\ntrain:\n  seed: 1\n",
             r"study\.yaml: not valid YAML: line 5, column 1: duplicate key 'train' \(first on "
             r"line 2, column 1\)"),
            ("name: a\ntrain:\n\tepochs: 3\n",
             r"line 3, column 1: found character '\\t' that cannot start any token \(YAML "
             r"indents with spaces, not tabs\)"),
            ("name: a\nnotes: {x: 1\n", r"line 3, column 1: expected ',' or '}'"),
            ("name: a\ntrain: {epochs: 2, epochs: 5}\n",
             r"line 2, column 20: duplicate key 'epochs' \(first on line 2, column 9\)")):
        study.write_text(text)
        with pytest.raises(DataError, match=match):
            load_study_config(study)
    study.write_text("name: a\npipeline: seizure_detection\ndata: {source: x}\n"
                     "train: {optimizer: {type: adamw, learning_rate: 2e-3, weight_decay: 1e-2}}"
                     "\n")
    cfg = load_study_config(study, ["train.grad_clip=1e0"])
    assert cfg["train"]["optimizer"]["weight_decay"] == 0.01
    assert cfg["train"]["grad_clip"] == 1.0

def test_model_config_from_short_and_full_forms():
    cfg = build_model_config({"hidden": [16, 8], "dropout": 0.1}, n_inputs=10, n_classes=3)
    kinds = [layer["type"] for layer in cfg["layers"]]
    assert kinds == ["linear", "leaky", "dropout", "linear", "leaky", "dropout", "linear",
                     "leaky"]
    assert cfg["input_shape"] == [10] and cfg["layers"][-2]["out_features"] == 3
    assert cfg["layers"][-1]["reset_mechanism"] == "none"
    full = build_model_config({"layers": [{"type": "linear", "out_features": "classes"},
                                          {"type": "leaky", "beta": 0.5}],
                               "readout": "count"}, 4, 2)
    assert full["layers"][0]["out_features"] == 2 and full["readout"] == "count"
    from eegsnn.model import build_model

    build_model(cfg)  # a valid eegsnn.model config


def test_leave_subjects_out_folds_on_eegmmidb_layout(shared_data, tmp_path):
    """Two 'subjects' (S001 and a renamed copy as S002): split.by subject keeps each
    subject's runs on one side."""
    import shutil

    from eegsnn.preprocess import load_windows

    s001 = shared_data / "eegmmidb" / "S001"
    for subj in ("S001", "S002"):
        for run in ("R04", "R08"):
            (tmp_path / subj).mkdir(exist_ok=True)
            shutil.copy(s001 / f"S001{run}.edf", tmp_path / subj / f"{subj}{run}.edf")
    cfg = resolve_study_config({"pipeline": "motor_imagery", "data": {"source": str(tmp_path)},
                                "split": {"by": "subject", "n_splits": 2}})
    ws = load_windows(cfg["data"]["source"], cfg["dataset"], cache_dir=tmp_path / "c")
    assert sorted(set(ws.subject)) == ["001", "002"] and set(ws.run) == {"04", "08"}
    assert len(ws.ch_names) == 21  # the sensorimotor channels of the pipeline's defaults
    folds = make_folds(ws.groups("subject"), cfg["split"], ws.y)
    assert len(folds) == 2
    for tr, te in folds:
        assert len(set(ws.subject[te])) == 1 and not set(ws.subject[tr]) & set(ws.subject[te])


_SPLIT = {"method": "kfold", "by": "recording", "n_splits": 2, "seed": 0, "test_fraction": 0.2,
         "test_groups": [], "val_fraction": 0.0, "refit": True}


def test_train_only_groups_are_in_every_training_side_and_never_tested():
    groups = np.array(["R04"] * 3 + ["R03"] * 2 + ["R08"] * 3 + ["R07"] * 2)
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0])
    folds = make_folds(groups, {**_SPLIT, "train_only": ["R03", "R07"]}, y)
    assert len(folds) == 2
    transfer = set(np.flatnonzero(np.isin(groups, ["R03", "R07"])).tolist())
    tested = []
    for train, test in folds:
        assert transfer <= set(train.tolist())
        assert not transfer & set(test.tolist())
        assert len(set(groups[test])) == 1  # leave one run out
        assert not set(groups[train]) & set(groups[test])
        tested += test.tolist()
    assert sorted(tested) == sorted(set(range(10)) - transfer)  # each other window once


def test_train_only_errors():
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(ConfigError, match="no windows of c"):
        make_folds(groups, {**_SPLIT, "train_only": ["c"]})
    with pytest.raises(ConfigError, match="nothing is left to test"):
        make_folds(groups, {**_SPLIT, "train_only": ["a", "b"]})


def test_train_only_groups_never_become_validation_or_test_groups():
    from eegsnn.pipeline.snn import split_validation

    groups = np.array(["R03", "R04", "R07", "R08", "R11", "R12"]).repeat(4)
    y = np.tile([0, 1], 12)
    split = {**_SPLIT, "n_splits": 3, "train_only": ["R03", "R07", "R11"]}
    for train, _ in make_folds(groups, split, y):
        for seed in range(5):
            tr, va = split_validation(train, 0.3, seed, groups=groups, y=y,
                                      keep_in_training=split["train_only"])
            assert va is not None and len(va)
            assert not set(groups[va]) & set(split["train_only"])
            assert set(split["train_only"]) <= set(groups[tr])
    with pytest.raises(ConfigError, match=r"both split\.test_groups and split\.train_only"):
        make_folds(groups, {**_SPLIT, "method": "leave_groups_out", "test_groups": ["R07"],
                            "train_only": ["R03", "R07"]})



def test_the_encoder_is_fitted_without_the_validation_windows():
    """With split.val_fraction the SNN holds out validation recordings; the fold's encoder
    (statistics, CSP) must not see them, and the LSM (no validation) uses every window."""
    from types import SimpleNamespace

    from eegsnn.pipeline.lsm import LSMPipelineModel
    from eegsnn.pipeline.run import _encoder_windows
    from eegsnn.pipeline.snn import SNNPipelineModel, split_validation

    groups = np.array(["a", "b", "c", "d", "e", "t"]).repeat(3)
    ws = SimpleNamespace(y=np.tile([0, 1, 1], 6), groups=lambda by: groups, recording=groups,
                         provenance={})
    split = {**_SPLIT, "val_fraction": 0.4, "seed": 3, "train_only": ["t"]}
    cfg = {"split": split}
    train = np.arange(18)
    enc = _encoder_windows(cfg, ws, SNNPipelineModel, train)
    tr, va = split_validation(train, 0.4, 4, groups=groups, y=ws.y, keep_in_training=["t"])
    np.testing.assert_array_equal(enc, tr)
    assert va is not None and not set(enc) & set(va) and set(groups[enc]) >= {"t"}
    np.testing.assert_array_equal(_encoder_windows(cfg, ws, LSMPipelineModel, train), train)
    no_val = {"split": {**split, "val_fraction": 0.0}}
    np.testing.assert_array_equal(_encoder_windows(no_val, ws, SNNPipelineModel, train), train)


def test_full_report_snn_and_baseline_agree_with_sklearn_when_a_class_is_absent():
    """The SNN and the baseline are scored by the same full_report: on the same windows of a
    3-class task holding 2 classes, a perfect model gets macro-F1 1 whatever its
    probabilities, one that calls the absent class gets sklearn's (labels=None) value; the
    recording-level bootstrap estimate is the same number."""
    skm = pytest.importorskip("sklearn.metrics")
    from eegsnn.pipeline.metrics import window_statistics

    names = ["Z", "F", "S"]
    y = np.repeat([0, 1], 30)
    recording = np.repeat(np.arange(12), 5).astype(str)
    snn = np.full((60, 3), 0.05)
    snn[np.arange(60), y] = 0.9
    base = np.full((60, 3), 0.2)  # other probabilities, same arg-max
    base[np.arange(60), y] = 0.6
    wrong = snn.copy()
    wrong[[0, 30, 31]] = [0.1, 0.1, 0.8]  # three windows called S (no S window exists)
    for proba in (snn, base, wrong):
        rep = full_report(y, proba, names)
        pred = proba.argmax(axis=1)
        assert rep["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
        assert rep["per_class"]["support"] == [30, 30, 0]
        assert rep["per_class"]["recall"][2] is None
        boot = window_statistics(y, proba, names, None, recording)["bootstrap"]["metrics"]
        assert boot["f1_macro"]["estimate"] == pytest.approx(rep["f1_macro"])
        assert boot["balanced_accuracy"]["estimate"] == pytest.approx(rep["balanced_accuracy"])
    assert full_report(y, snn, names)["f1_macro"] == full_report(y, base, names)["f1_macro"] \
        == 1.0
    assert full_report(y, wrong, names)["f1_macro"] < 0.67


def test_kfold_all_is_one_fold_per_tested_group_and_train_only_names_survive_other_folders():
    """n_splits: all gives leave-one-group-out however many groups are listed; a run added
    from another folder makes the recording names longer (relative to the shared folder),
    and split.train_only's file names still mean their groups."""
    from eegsnn.pipeline.config import resolve_study_config
    from eegsnn.pipeline.folds import make_folds

    runs = ["data/S001/S001R04.edf", "data/S001/S001R08.edf", "data/S001/S001R03.edf",
            "data/S001/S001R07.edf", "new/S001R12.edf"]
    groups = np.repeat(runs, 4)
    y = np.tile([0, 1], 10)
    split = {**_SPLIT, "n_splits": "all", "train_only": ["S001R03.edf", "S001R07.edf"]}
    folds = make_folds(groups, split, y)
    assert sorted(tuple(sorted(set(groups[te]))) for _, te in folds) == sorted(
        (r,) for r in (runs[0], runs[1], runs[4]))
    for tr, te in folds:
        assert set(groups[tr]) == set(runs) - set(groups[te])  # train-only runs always in
    two = make_folds(groups[:8], {**_SPLIT, "n_splits": "all"}, y[:8])
    assert len(two) == 2
    dup = np.repeat(["a/S001R03.edf", "b/S001R03.edf", "c/x.edf"], 2)
    with pytest.raises(ConfigError, match="names more than one recording group"):
        make_folds(dup, {**_SPLIT, "n_splits": "all", "train_only": ["S001R03.edf"]})
    with pytest.raises(ConfigError, match="int >= 2 or 'all'"):
        resolve_study_config({"pipeline": "seizure_detection", "data": {"source": "x"},
                              "split": {"method": "kfold", "n_splits": "every"}})


def test_kfold_all_refuses_one_tested_group_and_names_only_match_recordings():
    from eegsnn.pipeline.folds import make_folds, split_groups

    with pytest.raises(ConfigError, match="n_splits: all needs two or more groups to test"):
        make_folds(np.repeat(["a.edf", "b.edf"], 3),
                   {**_SPLIT, "n_splits": "all", "train_only": ["a.edf"]}, np.tile([0, 1], 3))
    sessions = np.repeat(["001/05", "001/06", "001/07"], 2)  # split.by: session
    groups, _, _ = split_groups(sessions, {**_SPLIT, "by": "session", "train_only": ["05"]})
    assert set(groups) == set(sessions)  # no file-name matching outside recordings


def test_flat_channel_warnings_name_channels_and_refuse_windows_without_signal():
    """evaluate's check: a channel flat in some windows is a warning per recording; windows
    in which every channel is flat (band-pass residue of zeros) are refused."""
    from types import SimpleNamespace

    from eegsnn.encode import EEGEncoder
    from eegsnn.pipeline.apply import flat_channel_warnings

    rng = np.random.default_rng(0)
    names = ("C3", "Cz", "C4")
    enc = EEGEncoder("delta").fit(rng.normal(0, 20e-6, (6, 3, 128)), ch_names=list(names))
    X = rng.normal(0, 20e-6, (6, 3, 128))
    X[3:5, 0] = rng.normal(0, 1e-16, (2, 128))  # C3 zeroed, band-passed, in 2 windows of b
    ws = SimpleNamespace(X=X, recording=np.repeat(["/d/a.edf", "/d/b.edf"], 3), ch_names=names)
    assert flat_channel_warnings(enc, ws) == [
        "b.edf: flat (constant or ~0 beside the other channels) channel(s): C3 in 2 of its 3 "
        "windows (a disconnected electrode?); the model was trained with signal there, so "
        "predictions of those windows are not reliable"]
    X[1] = rng.normal(0, 1e-17, (3, 128))  # every channel of a window ~0
    with pytest.raises(DataError, match=r"^a\.edf: every channel is flat \(constant or below "
                                        r"1 pV\) in 1 of its 3 windows"):
        flat_channel_warnings(enc, ws)


def test_scale_warnings_name_channels_at_another_scale_than_in_training():
    """evaluate's check: a channel 1000x smaller (millivolts read as volts) or 1e6x larger
    (microvolts as volts) than in training, or one channel 20x off while the others are
    not, is a warning per recording with its ratio; ordinary differences (2x one channel,
    5x all of them) are not."""
    import json
    import re
    from types import SimpleNamespace

    from eegsnn.encode import EEGEncoder
    from eegsnn.pipeline.apply import scale_warnings

    rng = np.random.default_rng(1)
    names = ("C3", "Cz", "C4", "CP3")
    train = rng.normal(0, 20e-6, (8, 4, 256))
    enc = EEGEncoder("direct", spatial_filter={"type": "csp", "n_components": 2}).fit(
        train, np.tile([0, 1], 4), ch_names=list(names))
    np.testing.assert_allclose(enc.channel_scale_, np.median(train.std(axis=2), axis=0))
    X = rng.normal(0, 20e-6, (15, 4, 256))
    X[:3, 1] *= 2.0  # a.edf: Cz twice as large (not reported)
    X[3:6, 0] *= 1e-3  # b.edf: C3 in millivolts read as volts
    X[6:9, 2] *= 1e6  # c.edf: C4 in microvolts read as volts
    X[9:12, 3] *= 20.0  # d.edf: one channel's gain 20x, the others as in training
    X[12:] *= 5.0  # e.edf: every channel 5x (a loud recording, not an error)
    recs = ["/d/a.edf", "/d/b.edf", "/d/c.edf", "/d/d.edf", "/d/e.edf"]
    ws = SimpleNamespace(X=X, recording=np.repeat(recs, 3), ch_names=names)
    notes = scale_warnings(enc, ws)
    assert [n.split(":")[0] for n in notes] == ["b.edf", "c.edf", "d.edf"]
    assert notes[0].startswith("b.edf: channel(s) at another scale than in training")
    assert re.search(r"\): C3 0\.00(09|10)\d*x \(a unit or gain error", notes[0])
    assert re.search(r"\): C4 (9\.\d+e\+05|1(\.\d+)?e\+06)x", notes[1])
    assert re.search(r"median channel is at (0\.9|1\.0)\d*x\): CP3 (19|20|21)\.?\d*x",
                     notes[2])
    assert "Cz" not in " ".join(notes)
    found = enc.scale_mismatch(X, ws.recording)
    assert found["/d/b.edf"]["ratios"]["C3"] == pytest.approx(1e-3, rel=0.15)
    assert enc.scale_mismatch(X, ws.recording, factor=1.5)["/d/a.edf"]["ratios"]["Cz"] == \
        pytest.approx(2.0, rel=0.15)
    everything = X * 1e-3  # all four channels in the wrong unit: said once, as a range
    note = scale_warnings(enc, SimpleNamespace(X=everything, recording=ws.recording,
                                               ch_names=names))[0]
    assert "all 4 channels, 0.00" in note
    # saved and loaded with the run's encoder.json; an encoder saved without it checks nothing
    again = EEGEncoder.from_config(json.loads(json.dumps(enc.to_config())))
    assert again.scale_mismatch(X, ws.recording) == found
    old = enc.to_config()
    del old["state"]["channel_scale"]
    assert EEGEncoder.from_config(old).scale_mismatch(X, ws.recording) == {}
    assert scale_warnings(EEGEncoder.from_config(old), ws) == []
    with pytest.raises(ConfigError, match="factor must be > 1"):
        enc.scale_mismatch(X, ws.recording, factor=0.5)


def test_the_training_scale_leaves_out_flat_windows():
    """A channel that is filter residue (~1e-15) in some training windows gets its scale
    from the windows with signal, not a residue-sized one (which made every normal
    recording look 1e10x off); a channel without signal in training is not checked."""
    from eegsnn.encode import EEGEncoder

    rng = np.random.default_rng(2)
    train = rng.normal(0, 20e-6, (8, 3, 256))
    train[[0, 1, 2, 4, 5], 1] = rng.normal(0, 1e-15, (5, 256))  # Cz dead in 5 of 8 windows
    enc = EEGEncoder("delta").fit(train, groups=np.repeat(["a", "b"], 4))
    assert enc.channel_scale_[1] == pytest.approx(20e-6, rel=0.2)
    X = rng.normal(0, 20e-6, (4, 3, 256))
    assert enc.scale_mismatch(X, ["new"] * 4) == {}


def test_seizures_are_not_taken_for_a_scale_error(shared_data):
    """Real EEG varies a lot in amplitude: Bonn's ictal segments reach about 11 times the
    median window standard deviation of all five sets. The default factor (100) must not
    call them a unit error; a volts/millivolts mix-up (1000x) still is one."""
    from eegsnn.encode import EEGEncoder

    def windows(folder: str, n: int = 40) -> np.ndarray:
        files = sorted(f for f in (shared_data / "bonn" / folder).iterdir()
                       if f.suffix.lower() == ".txt")[:n]
        x = np.stack([np.loadtxt(f)[: 5 * 695] for f in files])  # 5 windows of 4 s each
        return x.reshape(-1, 1, 695) * 1e-6  # microvolts -> volts

    train = np.concatenate([windows(s) for s in "ZONFS"])
    enc = EEGEncoder("delta", threshold=0.2).fit(train)
    ictal = windows("S", 100)  # every shared ictal segment
    groups = np.repeat([f"S{i:03d}" for i in range(len(ictal) // 5)], 5)
    ratios = [r for g in np.unique(groups) for r in enc.scale_mismatch(
        ictal[groups == g], [g] * 5, factor=5.0).get(g, {}).get("ratios", {}).values()]
    assert ratios and max(ratios) < 20  # loud segments exist, far below the default 100
    assert enc.scale_mismatch(ictal, groups) == {}
    assert set(enc.scale_mismatch(ictal * 1e3, groups)) == set(groups)


def test_predictions_csv_marks_the_windows_with_flat_channels(tmp_path):
    """evaluate's predictions.csv ends with a flat_channels column: per window the channels
    flat in it (a disconnected electrode), empty where none is."""
    import csv
    from types import SimpleNamespace

    from eegsnn.encode import EEGEncoder
    from eegsnn.pipeline.apply import flat_channels_per_window
    from eegsnn.pipeline.records import write_predictions_csv

    rng = np.random.default_rng(4)
    names = ("C3", "Cz", "C4")
    enc = EEGEncoder("delta").fit(rng.normal(0, 20e-6, (4, 3, 128)), ch_names=list(names))
    X = rng.normal(0, 20e-6, (4, 3, 128))
    X[1, 0] = 0.0
    X[2, [0, 2]] = rng.normal(0, 1e-16, (2, 128))
    ws = SimpleNamespace(X=X, ch_names=names)
    flat = flat_channels_per_window(enc, ws)
    assert flat == ["", "C3", "C3;C4", ""]
    proba = np.tile([[0.25, 0.75]], (4, 1))
    write_predictions_csv(tmp_path / "p.csv", np.array(["a.edf"] * 4), np.arange(4.0),
                          np.array([0, 1, 0, 1]), proba, ["x", "y"], flat_channels=flat)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert list(rows[0]) == ["recording", "onset_s", "true", "predicted", "p_x", "p_y",
                             "flat_channels"]
    assert [r["flat_channels"] for r in rows] == flat


def test_misspelt_keys_are_named_in_every_section(repo_root):
    """A misspelt key is named with the known ones wherever it is (report, ids and
    evaluate.events took any key silently; encoder and neuron options gave Python's
    'unexpected keyword argument' or listed valid options as bad)."""
    from eegsnn.pipeline import load_study_config

    path = repo_root / "configs" / "bonn_example.yaml"
    for override, match in (
            ("report.fmt=md", r"report: unknown key\(s\) \['fmt'\] \(known: format\)"),
            ("dataset.ids.patern=x", r"ids must be a mapping with one key, pattern"),
            ("evaluate.events={min_windowz: 2}",
             r"evaluate\.events: unknown key\(s\) \['min_windowz'\] \(known: min_windows\)"),
            ("encoder.treshold=0.3", r"encoder: unknown option\(s\) treshold \(known: .*"
                                     r"threshold"),
            ("model.neuron.bta=0.5", r"unknown option\(s\) bta \(known: beta, ")):
        with pytest.raises(ConfigError, match=match):
            load_study_config(path, [override])
    from eegsnn.pipeline.config import resolve_study_config

    with pytest.raises(ConfigError, match=r"pipeline must be a pipeline's name \(known: "
                                          r"generic, motor_imagery.*got None"):
        resolve_study_config({"name": "x", "pipeline": None, "data": {"source": "x"}})
