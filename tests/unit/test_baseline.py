"""Non-spiking baselines: spectral features by hand, CSP + LDA against MNE/scikit-learn
and tangent space + LR against pyriemann/scikit-learn used directly, the missing-extra
messages, and the spectral baseline on real Bonn data."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.pipeline import run_baseline, spectral_features
from eegsnn.pipeline.baselines import validate_baseline

BANDS = [[0.5, 4.0], [4.0, 8.0], [8.0, 13.0], [13.0, 30.0], [30.0, 70.0]]


def test_spectral_features_of_a_sine_by_hand():
    sfreq, n = 200.0, 800
    t = np.arange(n) / sfreq
    amp = 20.0
    x = (amp * np.sin(2 * np.pi * 10.0 * t))[None, None, :]  # [1, 1, n], alpha band
    f = spectral_features(x, sfreq, BANDS)
    assert f.shape == (1, 2 * len(BANDS) + 1)
    log_power, rel, line = f[0, :5], f[0, 5:10], f[0, 10]
    # power of a sine = amp^2 / 2, all of it in 8-13 Hz
    assert log_power[2] == pytest.approx(np.log10(amp**2 / 2), abs=0.02)
    assert rel[2] == pytest.approx(1.0, abs=1e-3) and rel.sum() == pytest.approx(1.0)
    assert line == pytest.approx(np.log10(np.abs(np.diff(x[0, 0])).mean()))
    # two channels: features are laid out channel by channel
    two = np.concatenate([x, 2 * x], axis=1)
    f2 = spectral_features(two, sfreq, BANDS)
    assert f2[0, 2 + 11] - f2[0, 2] == pytest.approx(np.log10(4.0), abs=1e-6)


@pytest.fixture(scope="module")
def s001_left_right(shared_data):
    """Windows of S001's runs R03, R04 (training) and R07 (test), left vs right fist, 9
    sensorimotor channels, 8-30 Hz; and the training mask."""
    from eegsnn.preprocess import load_windows

    s001 = shared_data / "eegmmidb" / "S001"
    cfg = {"preprocess": [{"step": "pick", "channels": ["C3", "Cz", "C4", "FC3", "FC4",
                                                        "CP3", "CP4", "C1", "C2"]},
                          {"step": "bandpass", "l_freq": 8, "h_freq": 30}],
           "windows": {"mode": "events", "window_s": 3.0},
           "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}
    ws = load_windows([s001 / "S001R03.edf", s001 / "S001R04.edf", s001 / "S001R07.edf"],
                      cfg, use_cache=False)
    return ws, ws.recording != "S001R07.edf"


def test_csp_lda_equals_mne_and_sklearn_directly(s001_left_right):
    from mne.decoding import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline

    ws, train = s001_left_right
    ours = run_baseline({"type": "csp_lda"}, ws.X[train], ws.y[train], ws.X[~train],
                        ws.sfreq_hz, 2)
    ref = make_pipeline(CSP(n_components=4, log=True), LinearDiscriminantAnalysis())
    ref.fit(ws.X[train].astype(np.float64), ws.y[train])
    np.testing.assert_allclose(ours, ref.predict_proba(ws.X[~train].astype(np.float64)),
                               rtol=1e-6, atol=1e-9)
    assert ours.shape == (int((~train).sum()), 2)


def test_ts_lr_equals_pyriemann_and_sklearn_directly(s001_left_right, require_extra):
    """MOABB's "Tangent Space LR" pipeline (OAS covariance, tangent space at the Riemannian
    mean, logistic regression C 1), fitted on two runs of S001 and scored on a third."""
    require_extra("pyriemann", "riemann")
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    ws, train = s001_left_right
    ours = run_baseline({"type": "ts_lr"}, ws.X[train], ws.y[train], ws.X[~train],
                        ws.sfreq_hz, 2)
    ref = make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                        LogisticRegression(C=1.0, max_iter=1000))
    ref.fit(ws.X[train].astype(np.float64), ws.y[train])
    np.testing.assert_allclose(ours, ref.predict_proba(ws.X[~train].astype(np.float64)),
                               rtol=1e-6, atol=1e-9)
    assert ours.shape == (int((~train).sum()), 2)
    # the options reach pyriemann and scikit-learn: another estimator, metric and C differ
    other = run_baseline({"type": "ts_lr", "estimator": "lwf", "metric": "logeuclid",
                          "C": 0.01}, ws.X[train], ws.y[train], ws.X[~train], ws.sfreq_hz, 2)
    ref2 = make_pipeline(Covariances(estimator="lwf"), TangentSpace(metric="logeuclid"),
                         LogisticRegression(C=0.01, max_iter=1000))
    ref2.fit(ws.X[train].astype(np.float64), ws.y[train])
    np.testing.assert_allclose(other, ref2.predict_proba(ws.X[~train].astype(np.float64)),
                               rtol=1e-6, atol=1e-9)
    assert not np.allclose(other, ours)


def test_spectral_baseline_on_bonn_a_vs_e(shared_data):
    from eegsnn.preprocess import load_windows
    from eegsnn.preprocess.splits import group_train_test_split

    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 4.0},
           "labels": {"source": "path", "mapping": {"Z": "A", "S": "E"}}}
    ws = load_windows(shared_data / "bonn", cfg, use_cache=False)
    tr, te = group_train_test_split(ws.groups("recording"), 0.3, seed=0)
    proba = run_baseline({"type": "spectral"}, ws.X[tr], ws.y[tr], ws.X[te], ws.sfreq_hz, 2)
    acc = np.mean(proba.argmax(axis=1) == ws.y[te])
    assert acc >= 0.95  # published conventional methods: about 99 % on A vs E


def test_missing_training_class_gets_zero_probability():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 1, 200))
    y = np.array([0, 2] * 10)
    p = run_baseline({"type": "spectral"}, X, y, X[:3], 100.0, 3)
    assert p.shape == (3, 3) and np.all(p[:, 1] == 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_baseline_config_and_missing_extra(monkeypatch):
    assert validate_baseline("csp_lda") == {"type": "csp_lda", "n_components": 4, "reg": None}
    with pytest.raises(ConfigError, match="unknown option"):
        validate_baseline({"type": "spectral", "kernel": "rbf"})
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigError, match=r"eegsnn\[sklearn\]"):
        run_baseline({"type": "spectral"}, np.zeros((4, 1, 100)), np.array([0, 1, 0, 1]),
                     np.zeros((1, 1, 100)), 100.0, 2)


def test_ts_lr_config_and_missing_extra(monkeypatch, tmp_path, require_extra):
    require_extra("pyriemann", "riemann")  # (to save a fitted one first)
    assert validate_baseline("ts_lr") == {"type": "ts_lr", "estimator": "oas",
                                          "metric": "riemann", "C": 1.0}
    for bad, match in [({"estimator": "ledoit"}, "estimator must be one of"),
                       ({"metric": "riemannian"}, "metric must be one of"),
                       ({"C": 0}, "C must be a number > 0"),
                       ({"C": "1"}, "C must be a number > 0"),
                       ({"C": True}, "C must be a number > 0"),
                       ({"shrinkage": 0.1}, "unknown option")]:
        with pytest.raises(ConfigError, match=match):
            validate_baseline({"type": "ts_lr", **bad})
    from eegsnn.pipeline.baselines import fit_baseline, load_baseline

    saved = tmp_path / "run" / "model"
    X = np.random.default_rng(0).normal(size=(20, 3, 128))
    fit_baseline({"type": "ts_lr"}, X, np.arange(20) % 2, 64.0, 2).save(saved)
    monkeypatch.setitem(sys.modules, "pyriemann", None)
    with pytest.raises(ConfigError, match=r"baseline 'ts_lr' needs the 'riemann' extra: "
                                          r"pip install 'eegsnn\[riemann\]' \(or set "
                                          r"baseline: none\)"):
        run_baseline({"type": "ts_lr"}, np.zeros((4, 2, 100)), np.array([0, 1, 0, 1]),
                     np.zeros((1, 2, 100)), 100.0, 2)
    # applying a saved run: 'set baseline: none' is nothing evaluate can do
    with pytest.raises(ConfigError, match=r"eegsnn\[riemann\]' \(the run in .*run saved this "
                                          r"baseline beside its model; evaluate scores both\)"):
        load_baseline(saved)


def test_missing_extra_stops_the_pipeline_before_any_work(monkeypatch, repo_root, tmp_path):
    """Without scikit-learn a study with a baseline fails at once, not after training."""
    from eegsnn.pipeline import run_pipeline

    monkeypatch.setitem(sys.modules, "sklearn", None)
    out = tmp_path / "run"
    monkeypatch.chdir(repo_root)
    with pytest.raises(ConfigError, match="eegsnn\\[sklearn\\]"):
        run_pipeline("configs/bonn_example.yaml", out)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["spectral", "csp_lda", "ts_lr"])
def test_saved_baseline_predicts_the_same_without_pickle(kind, tmp_path, require_extra):
    """fit -> save -> load gives the same probabilities; the files hold no pickle."""
    from eegsnn.pipeline.baselines import fit_baseline, load_baseline

    if kind == "ts_lr":
        require_extra("pyriemann", "riemann")

    rng = np.random.default_rng(1)
    n, c = 60, 3
    y = np.arange(n) % 3
    X = rng.normal(size=(n, c, 256))
    X[y == 1, 0] *= 3.0  # class-dependent power on one channel
    X[y == 2, 1] += 2.0 * np.sin(2 * np.pi * 10 * np.arange(256) / 128.0)
    fitted = fit_baseline({"type": kind}, X[:40], y[:40], 128.0, 4, seed=0)
    fitted.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.npz"]
    with np.load(tmp_path / "baseline.npz", allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)
    loaded = load_baseline(tmp_path)
    assert loaded is not None and loaded.spec == fitted.spec
    p1, p2 = fitted.predict_proba(X[40:]), loaded.predict_proba(X[40:])
    assert p1.shape == (20, 4) and np.all(p1[:, 3] == 0)  # class 3 never seen: 0
    np.testing.assert_allclose(p2, p1, rtol=1e-12, atol=1e-12)
    assert p1.argmax(axis=1).tolist() != [0] * 20  # learned something (not one class)
    # run_baseline is fit + predict
    np.testing.assert_allclose(run_baseline({"type": kind}, X[:40], y[:40], X[40:], 128.0, 4),
                               p1, rtol=1e-12, atol=1e-12)


def test_load_baseline_missing_and_corrupt(tmp_path):
    from eegsnn.errors import DataError
    from eegsnn.pipeline.baselines import fit_baseline, load_baseline

    assert load_baseline(tmp_path) is None
    X = np.random.default_rng(0).normal(size=(8, 1, 128))
    fitted = fit_baseline({"type": "spectral"}, X, np.array([0, 1] * 4), 64.0, 2)
    fitted.save(tmp_path)
    with pytest.raises(DataError, match="fitted on 1 channel"):
        fitted.predict_proba(np.zeros((2, 2, 128)))
    (tmp_path / "baseline.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read the saved baseline"):
        load_baseline(tmp_path)


def test_a_baseline_that_cannot_be_fitted_is_a_data_error():
    """One class among the training windows (sklearn's 'needs samples of at least 2
    classes' ended the run as an unexpected error, exit 1) is a DataError naming the
    baseline."""
    from eegsnn.errors import DataError
    from eegsnn.pipeline.baselines import fit_baseline

    X = np.random.default_rng(0).normal(size=(6, 2, 256))
    with pytest.raises(DataError, match=r"baseline spectral: its 6 training windows hold "
                                        r"fewer than two classes"):
        fit_baseline({"type": "spectral"}, X, np.zeros(6, int), 128.0, 2)


def test_a_rank_deficient_ts_lr_fit_is_one_error_with_the_option_to_change(require_extra,
                                                                           recwarn):
    """A duplicated channel with a plain covariance estimator: pyriemann's "invalid value
    in log" warnings came before the error; now only the DataError, naming the shrinkage
    estimators that avoid it; the default (OAS) fits the same windows."""
    require_extra("pyriemann", "riemann")
    from eegsnn.errors import DataError
    from eegsnn.pipeline.baselines import fit_baseline

    X = np.random.default_rng(0).normal(size=(20, 3, 128))
    X[:, 2] = X[:, 1]
    with pytest.raises(DataError, match=r"baseline ts_lr: cannot be fitted .* a shrinkage "
                                        r"estimator \(baseline.estimator: oas or lwf\)"):
        fit_baseline({"type": "ts_lr", "estimator": "scm"}, X, np.arange(20) % 2, 64.0, 2)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    fit_baseline({"type": "ts_lr"}, X, np.arange(20) % 2, 64.0, 2)
