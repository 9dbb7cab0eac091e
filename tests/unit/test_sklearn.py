"""SNNClassifier: scikit-learn's own estimator checks, cross_val_score on real EEGMMIDB
epochs in a Pipeline, MNE Epochs input, grid search, reproducibility, pickling."""

from __future__ import annotations

import importlib
import pickle
import sys

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from eegsnn.errors import MissingExtraError
from eegsnn.interop.sklearn import SNNClassifier
from eegsnn.train import oversample

SMALL = {"num_steps": 8, "hidden": 16, "epochs": 10, "lr": 1e-2, "random_state": 0}
MOTOR = ["FC3", "FC1", "FCz", "FC2", "FC4", "C3", "C1", "Cz", "C2", "C4", "CP3", "CP1",
         "CPz", "CP2", "CP4", "C5"]


def _expected_failures(estimator):
    return {"check_methods_sample_order_invariance":
            "float32 matmul rounding (~1e-7 relative) depends on a row's position in the "
            "batch; predictions are unchanged"}


@parametrize_with_checks([SNNClassifier(**SMALL)], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n: int = 120, c: int = 4, t: int = 40, seed: int = 0):
    """Epochs whose class sets the amplitude of a 10 Hz rhythm in channel 0 vs 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    time = np.arange(t) / 100.0
    X = rng.normal(0, 1.0, (n, c, t))
    X[:, 0] += (3.0 * y)[:, None] * np.sin(2 * np.pi * 10 * time)
    X[:, 1] += (3.0 * (1 - y))[:, None] * np.sin(2 * np.pi * 10 * time)
    return X.astype(np.float32), np.where(y == 1, "right", "left")


def test_learns_separable_epochs_and_is_reproducible():
    X, y = _blobs()
    clf = SNNClassifier(num_steps=20, hidden=16, epochs=15, lr=5e-3, sfreq_hz=100.0,
                        random_state=3).fit(X[:80], y[:80])
    assert list(clf.classes_) == ["left", "right"]
    assert clf.score(X[80:], y[80:]) > 0.9
    proba = clf.predict_proba(X[80:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X[80:])) <= {"left", "right"}
    assert len(clf.history_) == 15 and clf.encoder_.num_steps == 20
    again = clone(clf).fit(X[:80], y[:80])
    np.testing.assert_array_equal(again.predict_proba(X[80:]), proba)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X[80:]), proba)
    other = SNNClassifier(num_steps=20, hidden=16, epochs=15, lr=5e-3, sfreq_hz=100.0,
                          random_state=4).fit(X[:80], y[:80])
    assert not np.array_equal(other.predict_proba(X[80:]), proba)


def test_grid_search_over_hidden_and_encoder():
    X, y = _blobs(n=60)
    grid = GridSearchCV(SNNClassifier(num_steps=10, epochs=6, lr=1e-2, random_state=0),
                        {"hidden": [4, 12], "encoder": ["delta", "threshold"]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"hidden", "encoder"}
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert 0.5 <= grid.best_score_ <= 1.0


def _pick(X, idx):
    return X[:, idx]


@pytest.fixture(scope="module")
def eegmmidb_epochs(shared_data, tmp_path_factory):
    """Left vs right fist, real and imagined (R03, R04, R07, R08), 2 s windows."""
    from eegsnn.preprocess import load_windows

    files = [shared_data / "eegmmidb" / "S001" / f"S001R{r:02d}.edf" for r in (3, 4, 7, 8)]
    ws = load_windows(files, {"windows": {"mode": "events", "window_s": 2.0},
                              "labels": {"source": "annotations",
                                         "mapping": {"T1": "left", "T2": "right"}}},
                      cache_dir=tmp_path_factory.mktemp("cache"))
    return ws


def test_cross_val_score_on_eegmmidb_in_a_pipeline(eegmmidb_epochs):
    ws = eegmmidb_epochs
    assert len(ws) >= 55 and ws.X.shape[1] == 64
    idx = [ws.ch_names.index(c) for c in MOTOR]
    pipe = Pipeline([
        ("pick", FunctionTransformer(_pick, kw_args={"idx": idx})),
        ("snn", SNNClassifier(encoder="delta", num_steps=32, hidden=32, epochs=8, lr=5e-3,
                              sfreq_hz=ws.sfreq_hz, random_state=0)),
    ])
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, ws.X, ws.y, cv=cv)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    # each fold's encoder saw only its training epochs: refit one fold by hand
    train, test = next(cv.split(ws.X, ws.y))
    fold = clone(pipe).fit(ws.X[train], ws.y[train])
    enc = fold.named_steps["snn"].encoder_
    np.testing.assert_allclose(enc.mean_[:, 0], ws.X[train][:, idx].mean(axis=(0, 2)),
                               rtol=1e-4, atol=1e-3)
    assert fold.score(ws.X[test], ws.y[test]) == pytest.approx(scores[0])


def test_mne_epochs_in_and_out(shared_data):
    mne = pytest.importorskip("mne")
    from eegsnn.io import read_recording

    raw = read_recording(shared_data / "eegmmidb" / "S001" / "S001R03.edf").raw
    raw.pick(MOTOR[:8])
    events, _ = mne.events_from_annotations(raw, event_id={"T1": 1, "T2": 2}, verbose="error")
    epochs = mne.Epochs(raw, events, {"left": 1, "right": 2}, tmin=0.0, tmax=2 - 1 / 160,
                        baseline=None, preload=True, verbose="error")
    clf = SNNClassifier(num_steps=16, hidden=8, epochs=3, random_state=0).fit(epochs)
    assert list(clf.classes_) == ["left", "right"]
    assert clf.encoder_.sfreq_hz == 160.0 and clf.ch_names_ == MOTOR[:8]
    assert clf.n_features_in_ == 8
    proba = clf.predict_proba(epochs)
    assert proba.shape == (len(epochs), 2)
    # the array path gives the same probabilities (volts -> microvolts is a scale the
    # relative delta threshold does not see)
    np.testing.assert_allclose(clf.predict_proba(epochs.get_data() * 1e6), proba, atol=1e-5)
    with pytest.raises(ValueError, match="channel names differ"):
        clf.predict(epochs.copy().reorder_channels(MOTOR[:8][::-1]))
    with pytest.raises(ValueError, match="requires y"):
        SNNClassifier().fit(epochs.get_data())


def test_bad_parameters_raise_clear_errors():
    X, y = _blobs(n=20)
    with pytest.raises(ValueError, match="hidden"):
        SNNClassifier(hidden=0, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        SNNClassifier(encoder="morse", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="expecting 4 features"):
        SNNClassifier(**{**SMALL, "epochs": 1}).fit(X, y).predict(X[:, :3])
    # a neuron option is checked before the encoder is fitted (it was: after encoding)
    for model, match in (({"family": "band_power", "neuron": {"betta": 0.8}},
                          r"unknown option\(s\) betta"),
                         ({"hidden": [4], "neuron": {"type": "leaky", "beta": 2}},
                          r"model\.neuron \(leaky\).*beta must lie in")):
        clf = SNNClassifier(model=model, epochs=1)
        with pytest.raises(ValueError, match=match):
            clf.fit(X, y)
        assert not hasattr(clf, "encoder_")


def test_inputs_that_do_not_fit_the_fitted_windows_are_refused():
    """Windows of another length (a 2-D X is windows of one sample) would be squeezed or
    stretched to the fitted steps; misspelt encoder arguments and non-integer epochs or
    batch sizes were taken in silence or failed deep inside."""
    import mne

    from eegsnn.errors import ConfigError

    X, y = _blobs(n=20)
    clf = SNNClassifier(**{**SMALL, "epochs": 1}).fit(X, y)
    for bad in (X[:, :, 0], X[:, :, :10], np.concatenate([X, X], axis=2)):
        with pytest.raises(ValueError, match=r"windows of \d+ sample\(s\) per channel, the "
                                             r"classifier was fitted on windows of 40"):
            clf.predict(bad)
    # fitted on arrays without a rate, predicting Epochs: read at the Epochs' own rate
    info = mne.create_info([f"EEG {i:03d}" for i in range(4)], 100.0, "eeg")
    epochs = mne.EpochsArray(X.astype(np.float64), info, verbose="error")
    np.testing.assert_array_equal(clf.predict(epochs), clf.predict(X))
    for kwargs, match in (({"encoder_params": {"treshold": 0.2}}, "treshold"),
                          ({"encoder": {"methd": "delta"}}, "methd"),
                          ({"epochs": 1.5}, "epochs must be a whole number"),
                          ({"batch_size": 0}, "batch_size must be a whole number")):
        with pytest.raises(ConfigError, match=match):
            SNNClassifier(**{**SMALL, "epochs": 1, **kwargs}).fit(X, y)
    SNNClassifier(**{**SMALL, "epochs": 1.0, "batch_size": 16.0}).fit(X, y)  # (from YAML)
    # steps at a rate: a longer window is more steps at the same rate, nothing stretched
    rated = SNNClassifier(num_steps=None, hidden=8, epochs=1, sfreq_hz=100.0,
                          encoder_params={"spikes_per_s": 50}, random_state=0).fit(X, y)
    assert rated.predict(np.concatenate([X, X], axis=2)).shape == (20,)


def test_missing_sklearn_gives_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "eegsnn.interop.sklearn")
    with pytest.raises(MissingExtraError) as info:
        importlib.import_module("eegsnn.interop.sklearn")
    assert str(info.value) == ("SNNClassifier needs the 'sklearn' extra: "
                               "pip install 'eegsnn[sklearn]'")


def test_oversampling_balances_the_training_epochs():
    y = np.array([0] * 12 + [1] * 3 + [2] * 5)
    idx = oversample(y, seed=0)
    assert np.bincount(y[idx]).tolist() == [12, 12, 12]
    assert set(range(y.size)) <= set(idx.tolist())  # every original epoch is kept
    np.testing.assert_array_equal(idx, oversample(y, seed=0))
    X, labels = _blobs(n=40)
    keep = np.r_[np.flatnonzero(labels == "left"), np.flatnonzero(labels == "right")[:4]]
    clf = SNNClassifier(**{**SMALL, "epochs": 2}, balance="oversample").fit(X[keep],
                                                                             labels[keep])
    assert list(clf.classes_) == ["left", "right"]
    with pytest.raises(ValueError, match="balance"):
        SNNClassifier(**{**SMALL, "epochs": 1}, balance="smote").fit(X, labels)


def test_model_families_and_the_direct_csp_input():
    """``model=`` takes a study config's model section: the estimator builds it with the
    pipeline's builder (same layers), and the band-power SNN on CSP-filtered direct input
    separates the blobs' rhythm amplitudes."""
    from eegsnn.model import validate_config
    from eegsnn.pipeline import build_model_config

    X, y = _blobs(n=80)
    clf = SNNClassifier(encoder="direct", num_steps=40, sfreq_hz=100.0,
                        encoder_params={"polarity": "on_off",
                                        "spatial_filter": {"type": "csp", "n_components": 2}},
                        model={"family": "band_power"}, epochs=30, lr=1e-2, batch_size=16,
                        random_state=0).fit(X[:60], y[:60])
    assert clf.encoder_.source_names == ["csp1", "csp2"]
    assert clf.model_.config == validate_config(build_model_config({"family": "band_power"},
                                                                   4, 2))
    assert clf.score(X[60:], y[60:]) >= 0.9
    eegnet = SNNClassifier(encoder="direct", num_steps=40, sfreq_hz=100.0,
                           encoder_params={"spikes_per_s": 100.0},
                           model={"family": "spiking_eegnet", "kernel_s": 0.1, "pool1": 2,
                                  "pool2": 2}, epochs=1, random_state=0).fit(X[:40], y[:40])
    kinds = [layer["type"] for layer in eegnet.model_.config["layers"]]
    assert kinds[:3] == ["conv_time", "batchnorm", "spatial"]
    assert eegnet.model_.config["layers"][0]["kernel_size"] == 10  # 0.1 s at 100 steps/s


def test_an_encoder_object_clones_and_is_searched_over():
    """An unfitted ``EEGEncoder`` as ``encoder=`` survives ``clone`` (GridSearchCV,
    cross_val_score) and its parameters are searchable as ``encoder__<name>``."""
    from eegsnn.encode import EEGEncoder
    from eegsnn.errors import ConfigError

    X, y = _blobs(n=40)
    enc = EEGEncoder("direct", polarity="on_off", gain=[0.5, 1.0, 2.0])
    clf = SNNClassifier(encoder=enc, num_steps=20, sfreq_hz=100.0,
                        model={"family": "band_power"}, epochs=2, random_state=0)
    copy = clone(clf)
    assert copy.encoder is not enc and copy.encoder.get_params() == enc.get_params()
    search = GridSearchCV(clf, {"encoder__gain": [1.0, [0.5, 1.0, 2.0]]},
                          cv=KFold(2)).fit(X, y)
    assert search.best_params_["encoder__gain"] in (1.0, [0.5, 1.0, 2.0])
    assert search.best_estimator_.encoder_.n_lines == (
        8 if search.best_params_["encoder__gain"] == 1.0 else 24)  # 4 channels x +/- x gains
    assert enc.gain == [0.5, 1.0, 2.0] and not enc.is_fitted  # the user's object untouched
    with pytest.raises(ConfigError, match="unknown parameter"):
        EEGEncoder("direct").set_params(gains=[1.0])
    with pytest.raises(ConfigError, match="strictly increasing"):
        EEGEncoder("direct").set_params(gain=[2.0, 1.0])


def test_the_encoders_own_num_steps_is_kept():
    from eegsnn.encode import EEGEncoder

    X, y = _blobs(n=20)
    clf = SNNClassifier(encoder={"method": "delta", "num_steps": 20}, epochs=1,
                        random_state=0).fit(X, y)
    assert clf.encoder_.num_steps == 20  # not the estimator's default of 64
    clf = SNNClassifier(encoder=EEGEncoder("delta", num_steps=10), epochs=1,
                        random_state=0).fit(X, y)
    assert clf.encoder_.num_steps == 10
    assert SNNClassifier(encoder="delta", num_steps=12, epochs=1,
                         random_state=0).fit(X, y).encoder_.num_steps == 12



def _small_epochs(n=40, seed=0):
    """An EpochsArray of 2 classes: class "b" carries a 12 Hz rhythm on channel 0."""
    import mne

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.arange(80) / 160.0
    X = rng.normal(size=(n, 4, 80)) * 1e-6
    X[y == 1, 0] += 4e-6 * np.sin(2 * np.pi * 12 * t)
    events = np.column_stack([np.arange(n) * 100, np.zeros(n, int), y + 1])
    info = mne.create_info(["C3", "Cz", "C4", "Pz"], 160.0, "eeg")
    epochs = mne.EpochsArray(X, info, events=events, event_id={"a": 1, "b": 2},
                             verbose="error")
    return epochs, np.array(["a", "b"])[y]


def test_cross_val_score_and_pipeline_take_epochs_and_arrays():
    epochs, y = _small_epochs()
    clf = SNNClassifier(encoder="delta", num_steps=16, hidden=16, epochs=15, lr=1e-2,
                        random_state=0)
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    # scikit-learn indexes an Epochs as a list of one-epoch Epochs: read as one array
    on_epochs = cross_val_score(clf, epochs, y, cv=cv, error_score="raise")
    # the same folds on the [n, channels, times] array (volts -> µV: the encoder's
    # standardisation makes the code unit-free) give the same scores
    on_array = cross_val_score(clf, epochs.get_data() * 1e6, y, cv=cv, error_score="raise")
    np.testing.assert_allclose(on_epochs, on_array)
    assert on_epochs.mean() >= 0.75, on_epochs  # the 12 Hz rhythm is learnable
    in_pipeline = cross_val_score(Pipeline([("snn", clf)]), epochs, y, cv=cv,
                                  error_score="raise")
    np.testing.assert_allclose(in_pipeline, on_epochs)
    # no y at all: the labels come from the Epochs' events for fitting and for scoring
    kf = KFold(n_splits=2, shuffle=True, random_state=1)
    no_y = cross_val_score(clf, epochs, cv=kf, error_score="raise")
    np.testing.assert_allclose(no_y, cross_val_score(clf, epochs, y, cv=kf,
                                                     error_score="raise"))
    assert np.all(np.isfinite(no_y)) and no_y.mean() >= 0.75, no_y
    # labels from the Epochs' events when y is omitted, list of Epochs accepted
    fitted = clone(clf).fit([epochs[:20], epochs[20:]])
    assert list(fitted.classes_) == ["a", "b"]
    assert fitted.predict(epochs).shape == (40,)
    assert fitted.score(epochs) == fitted.score(epochs, y)
    with pytest.raises(ValueError, match="score requires y"):
        fitted.score(epochs.get_data())
    import mne

    other = mne.EpochsArray(epochs.get_data()[:, :3], mne.create_info(3, 160.0, "eeg"),
                            verbose="error")
    with pytest.raises(ValueError, match="other channels"):
        clf.fit([epochs, other], np.r_[y, y])
