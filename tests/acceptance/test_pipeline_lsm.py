"""The liquid state machine as a pipeline model (``model: {type: lsm}``): an end-to-end run
on the shipped Bonn example, evaluation reproducibility, saved model round trip, config
errors, silent/saturated reservoir warnings, and the same splits as the SNN studies."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.nn.readout import RidgeReadout
from eegsnn.pipeline import evaluate_run, load_study_config, run_pipeline
from eegsnn.pipeline.lsm import LSMModel, validate_lsm_spec

# small and fast: 120 neurons, 20 steps/s (T = 80 steps per 4 s window)
FAST = ["model.reservoir.n_neurons=120", "encoder.spikes_per_s=20"]


@pytest.fixture(scope="module")
def lsm_run(repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "bonn_example_lsm"
    cfg = repo_root / "configs" / "bonn_example_lsm.yaml"
    result = run_pipeline(cfg, out, overrides=[*FAST, f"cache_dir={out.parent / 'cache'}"],
                          progress=False)
    return result, out


def test_lsm_run_writes_a_complete_run_directory(lsm_run):
    _, out = lsm_run
    for name in ("config.yaml", "data.json", "splits.json", "pipeline.log", "metrics.json",
                 "report.html", "raster.npz", "model/encoder.json", "model/model_config.json",
                 "model/readout.npz", "folds/fold-1/predictions.csv",
                 "folds/fold-1/readout.npz", "folds/fold-1/baseline.json"):
        assert (out / name).exists(), name
    assert not (out / "model" / "checkpoint").exists()  # no BPTT: no trained checkpoint
    model_cfg = json.loads((out / "model" / "model_config.json").read_text())
    assert model_cfg["type"] == "lsm" and model_cfg["n_classes"] == 3
    assert model_cfg["reservoir"]["seed"] == 0 and model_cfg["reservoir"]["n_neurons"] == 120
    assert model_cfg["reservoir"]["n_inputs"] == model_cfg["input_shape"][0] == 10
    with np.load(out / "model" / "readout.npz") as z:
        assert z["coef"].shape == (120 * 4, 3) and z["intercept"].shape == (3,)

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_type"] == "lsm"
    rate = metrics["snn"]["firing_rates"]["reservoir"]
    assert 1e-3 < rate < 0.5  # neither silent nor saturated on Bonn
    assert "warnings" not in metrics
    assert metrics["lsm"]["test_firing_rate"] == [pytest.approx(rate)]
    # the readout predicts real held-out Bonn windows well above chance (1/3)
    assert metrics["accuracy"] > 0.85
    assert metrics["lsm"]["train_accuracy"][0] >= metrics["accuracy"] - 0.1
    # metrics.json agrees with the predictions file; the baseline saw the same windows
    rows = list(csv.DictReader(open(out / "folds/fold-1/predictions.csv")))
    assert np.mean([r["true"] == r["predicted"] for r in rows]) == \
        pytest.approx(metrics["accuracy"])
    assert metrics["baseline"]["pooled"]["n_samples"] == len(rows) == 125
    fold = metrics["snn"]["folds"][0]
    assert len(set(fold["train_class_counts_balanced"].values())) == 1  # oversampled
    assert fold["epochs_trained"] == 0
    # the raster holds the reservoir's spikes; the report shows the reservoir rate
    with np.load(out / "raster.npz") as z:
        assert z["layer0"].shape == (80, 120) and z["input"].shape == (80, 10)
    assert "reservoir" in (out / "report.html").read_text()
    assert "LSM reservoir 120 neurons" in (out / "pipeline.log").read_text()
    # synaptic operations per held-out window: reservoir input, recurrent W, readout
    ops = metrics["snn"]["synops"]
    assert [r["type"] for r in ops["per_layer"]] == ["reservoir.input",
                                                     "reservoir.recurrent", "readout"]
    rec, readout = ops["per_layer"][1], ops["per_layer"][2]
    assert 0 < rec["ac"] < rec["dense_mac"]  # event-driven: fewer than every synapse
    assert readout["dense_mac"] == 120 * 4 * 3  # D = 4 bins x 120 neurons, K = 3
    assert ops["energy_pj"] == pytest.approx(0.9 * ops["per_prediction_ac"]
                                             + 4.6 * ops["per_prediction_mac"])
    assert ops["neuron_updates"] == 80 * 120 and ops["n_predictions"] == 125
    assert ops["total_energy_pj"] == pytest.approx(ops["energy_pj"]
                                                   + ops["encoder"]["energy_pj"])
    assert "Synaptic operations and energy" in (out / "report.html").read_text()


def test_lsm_evaluate_is_reproducible_and_matches_the_fold(lsm_run, tmp_path):
    result, out = lsm_run
    test_recs = sorted(set(result.windows.recording[result.folds[0].test_idx]))
    data_root = result.config["data"]["source"].replace(".yaml", "")
    files = [f"{data_root}/{r}" for r in test_recs]
    a = evaluate_run(out, files, out_dir=tmp_path / "a", predict=True)
    b = evaluate_run(out, files, out_dir=tmp_path / "b")
    assert (tmp_path / "a" / "metrics.json").read_text() == \
        (tmp_path / "b" / "metrics.json").read_text()
    np.testing.assert_array_equal(a.proba, b.proba)
    ev = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert ev["synops"]["per_layer"][1]["type"] == "reservoir.recurrent"  # energy, as fit
    # the reservoir rebuilt from config + seed and the saved readout give the fold's
    # held-out probabilities (holdout: model/ is the fold's model)
    np.testing.assert_allclose(np.sort(a.proba, axis=0),
                               np.sort(result.folds[0].proba, axis=0), atol=1e-6)
    assert a.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert a.metrics["firing_rates"]["reservoir"] == pytest.approx(
        result.metrics["snn"]["firing_rates"]["reservoir"], rel=1e-5)


def test_lsm_model_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    spec = validate_lsm_spec({"reservoir": {"n_neurons": 40, "seed": 3},
                              "features": {"kind": "trace", "bins": 2}})
    model = LSMModel(spec, n_inputs=5, n_classes=3)
    x = (rng.random((30, 24, 5)) < 0.3).astype(np.float32)
    feats, rates = model.run(x)
    assert feats.shape == (24, 80) and rates.shape == (24,)
    y = np.arange(24) % 3
    model.fit(feats, y)
    model.save(tmp_path / "m")
    again = LSMModel.load(tmp_path / "m")
    assert again.alpha == model.alpha
    np.testing.assert_array_equal(again.reservoir.recurrent_weights.toarray(),
                                  model.reservoir.recurrent_weights.toarray())
    feats2, _ = again.run(x)
    np.testing.assert_array_equal(feats2, feats)
    np.testing.assert_array_equal(again.predict_proba(feats2), model.predict_proba(feats))
    # probabilities are the softmax of the linear scores (hand formula)
    z = feats.astype(np.float64) @ model.coef + model.intercept
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(feats), p / p.sum(1, keepdims=True))


def test_ridge_alpha_is_chosen_on_distinct_rows_when_oversampled():
    """Repeated (oversampled) rows would bias leave-one-out towards little regularisation:
    the alpha is searched on the distinct rows, then refitted on the oversampled rows."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 60))
    y = (X[:, 0] + 0.8 * rng.normal(size=40) > 0).astype(int)
    grid = [0.01, 1.0, 100.0, 10000.0]
    spec = validate_lsm_spec({"reservoir": {"n_neurons": 20}, "readout": {"type": "ridge",
                                                                       "alpha": grid}})
    model = LSMModel(spec, n_inputs=1, n_classes=2)
    sample = np.concatenate([np.arange(40), np.arange(40)])  # every row twice
    model.fit(X, y, sample)
    expected = RidgeReadout(alpha=grid).fit(X, y).alpha_
    assert model.alpha == expected
    ref = RidgeReadout(alpha=expected).fit(X[sample], y[sample])
    np.testing.assert_allclose(model.coef, ref.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("override, message", [
    ("model.reservoir.frac_inhibitory=0.3", "model.reservoir"),   # 0.8 + 0.3 != 1
    ("model.reservoir.topology={kind: random, p: 1.5}", "model.reservoir"),
    ("model.reservoir.n_inputs=10", "filled in from the encoder"),
    ("model.reservoir.bogus=1", "model.reservoir"),
    ("model.features.kind=final", "model.features.kind"),
    ("model.features.bins=0", "model.features.bins"),
    ("model.readout.type=svm", "model.readout.type"),
    ("model.readout.alpha=-1", "model.readout"),
    ("model.activity.low=0.9", "model.activity"),
    ("model.type=gru", "model.type"),
])
def test_bad_lsm_configs_are_refused(repo_root, override, message):
    with pytest.raises(ConfigError, match=message):
        load_study_config(repo_root / "configs" / "bonn_example_lsm.yaml", [override])


def test_frac_not_summing_to_one_names_the_problem(repo_root):
    with pytest.raises(ConfigError, match="sum"):
        load_study_config(repo_root / "configs" / "bonn_example_lsm.yaml",
                          ["model.reservoir.frac_excitatory=0.5",
                           "model.reservoir.frac_inhibitory=0.3"])


SATURATING = ["model.reservoir.input_distribution=positive", "model.reservoir.input_gain=5",
              "model.reservoir.spectral_radius=0.1",
              "model.reservoir.neuron={model: Leaky, beta: 0.99, threshold: 0.5, "
              "reset_mechanism: none}"]


@pytest.mark.parametrize("extra, word", [(["model.reservoir.input_gain=0.001"], "silent"),
                                         (SATURATING, "saturated")])
def test_silent_or_saturated_reservoir_warns_in_log_and_metrics(repo_root, tmp_path, extra,
                                                                word):
    out = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_pipeline(repo_root / "configs" / "bonn_example_lsm.yaml", out,
                              overrides=["model.reservoir.n_neurons=40",
                                         "encoder.spikes_per_s=10", "baseline=null",
                                         "report.format=none", *extra,
                                         f"cache_dir={tmp_path / 'cache'}"], progress=False)
    assert any(word in str(w.message) for w in caught)
    assert any(word in m for m in result.metrics["warnings"])
    log_text = (out / "pipeline.log").read_text()
    assert "WARNING" in log_text and word in log_text
    rate = result.metrics["snn"]["firing_rates"]["reservoir"]
    assert (rate < 1e-3) if word == "silent" else (rate > 0.5)


@pytest.mark.parametrize("snn, lsm", [("bonn_3class", "bonn_3class_lsm"),
                                      ("eegmmidb_imagery_lr", "eegmmidb_imagery_lsm")])
def test_lsm_studies_use_the_snn_studies_splits(repo_root, snn, lsm):
    """Same data, windows, split (method, seed), encoder, balance and baseline: the LSM's
    held-out results are on exactly the SNN's folds."""
    a = load_study_config(repo_root / "configs" / f"{snn}.yaml")
    b = load_study_config(repo_root / "configs" / f"{lsm}.yaml")
    for key in ("data", "dataset", "split", "encoder", "balance", "baseline", "evaluate"):
        assert a[key] == b[key], key
    assert a["train"]["seed"] == b["train"]["seed"]
    assert b["model"]["type"] == "lsm" and "hidden" not in b["model"]
    assert 200 <= b["model"]["reservoir"]["n_neurons"] <= 1000


def test_resolving_a_resolved_lsm_config_is_stable(repo_root):
    """The CLI resolves a config, then run_pipeline resolves it again: nothing changes."""
    from eegsnn.pipeline import resolve_study_config

    cfg = load_study_config(repo_root / "configs" / "bonn_example_lsm.yaml")
    assert resolve_study_config(cfg) == cfg
