"""Non-spiking baselines run on the same splits as the SNN (honest comparison).

* ``csp_lda`` (motor imagery): common spatial patterns (:class:`mne.decoding.CSP`, log
  variance of ``n_components`` spatial filters) followed by linear discriminant analysis,
  the standard BCI pipeline. Needs scikit-learn (``pip install "eegsnn[sklearn]"``).
* ``ts_lr`` (motor imagery): Riemannian tangent space and logistic regression (Barachant
  et al. 2013, Neurocomputing 112:172-178): each window's spatial covariance (``estimator``,
  default OAS shrinkage), mapped onto the tangent space at the training windows' mean
  covariance (``metric``, default the affine-invariant Riemannian mean), then a logistic
  regression (``C``). The defaults are those of MOABB's "Tangent Space LR" pipeline
  (``pipelines/TSLR.yml``). Needs pyriemann and scikit-learn (``pip install
  "eegsnn[riemann]"``).
* ``spectral`` (seizure detection, sleep): per channel, log band power in the classical
  bands (Welch periodogram) and relative band power, plus log line length, then a
  class-balanced logistic regression on standardised features. Needs scikit-learn.

All fit on the training windows of a fold only and predict probabilities for its test
windows; :func:`run_baseline` returns ``proba [N_test, K]``. :func:`fit_baseline` returns
the fitted :class:`FittedBaseline`, which a run saves beside its SNN in ``model/``
(``baseline.json`` + ``baseline.npz``) so that ``eegsnn evaluate`` scores both on new data.

Saved format and trust model: no pickle. ``baseline.npz`` holds only the numeric arrays
that fitting learned (scaler means, regression and LDA coefficients, CSP filters, the
tangent space's reference covariance; read
with ``allow_pickle=False``) and ``baseline.json`` the baseline config, the channel count,
the scalars learned and the scikit-learn/MNE/pyriemann versions. Loading rebuilds the same
unfitted scikit-learn pipeline from the config and sets those attributes, so a saved
baseline cannot execute code when loaded (unlike pickle/joblib); a file altered by hand
can still give wrong predictions, which the run's integrity record (sha256 of the model
files) is there to catch. Probabilities are reproduced to float rounding as long as
scikit-learn keeps these attribute names (a mismatch fails in one line naming the file).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.extras import require
from eegsnn.io.files import atomic_open, atomic_write_json

__all__ = ["BASELINES", "BASELINE_FILES", "FittedBaseline", "fit_baseline", "load_baseline",
           "run_baseline", "spectral_features", "validate_baseline"]

BASELINE_FILES = ("baseline.json", "baseline.npz")
_FORMAT = 1

BASELINES: dict[str, dict[str, Any]] = {
    "spectral": {"bands": [[0.5, 4.0], [4.0, 8.0], [8.0, 13.0], [13.0, 30.0], [30.0, 70.0]],
                 "C": 1.0},
    "csp_lda": {"n_components": 4, "reg": None},
    "ts_lr": {"estimator": "oas", "metric": "riemann", "C": 1.0},
}
#: ``ts_lr`` options: pyriemann's covariance estimators, and the metrics that have both a
#: mean and a tangent-space map in pyriemann.
_TS_ESTIMATORS = ("corr", "cov", "hub", "lwf", "mcd", "oas", "sch", "scm", "stu", "tyl")
_TS_METRICS = ("riemann", "logeuclid", "euclid")


def require_baseline_extras(what: str, alternative: str = "or set baseline: none") -> None:
    """Raise a one-line :class:`~eegsnn.errors.MissingExtraError` naming the extra when
    scikit-learn (or, for ``ts_lr``, pyriemann) is missing (the one mechanism for optional
    extras, see :mod:`eegsnn.extras`); ``alternative`` ends the message."""
    if what == "ts_lr":
        require("pyriemann", "riemann", f"baseline {what!r}", alternative)
    require("sklearn", "sklearn", f"baseline {what!r}", alternative)


def validate_baseline(spec: Mapping[str, Any] | str) -> dict[str, Any]:
    """``{"type": name, **options}`` with defaults filled in."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or spec.get("type") not in BASELINES:
        raise ConfigError(f"baseline.type must be one of {', '.join(BASELINES)} or none, got "
                          f"{spec!r}")
    kind = spec["type"]
    unknown = set(spec) - set(BASELINES[kind]) - {"type"}
    if unknown:
        raise ConfigError(f"baseline {kind}: unknown option(s) {sorted(unknown)} (known: "
                          f"{', '.join(BASELINES[kind])})")
    if kind == "ts_lr":
        for key, known in (("estimator", _TS_ESTIMATORS), ("metric", _TS_METRICS)):
            if key in spec and spec[key] not in known:
                raise ConfigError(f"baseline ts_lr: {key} must be one of {', '.join(known)}, "
                                  f"got {spec[key]!r}")
        c = spec.get("C", 1.0)
        if (isinstance(c, bool) or not isinstance(c, (int, float))
                or not (np.isfinite(c) and c > 0)):
            raise ConfigError(f"baseline ts_lr: C must be a number > 0, got {c!r}")
    return {"type": kind, **BASELINES[kind], **{k: v for k, v in spec.items() if k != "type"}}


def spectral_features(X: np.ndarray, sfreq_hz: float, bands: list[list[float]]) -> np.ndarray:
    """Features ``[W, C * (2 * n_bands + 1)]`` of windows ``X [W, C, n]``.

    Per channel: ``log10`` absolute band power (Welch, 1 s segments or the window if
    shorter), relative band power (band / total power in all bands), and ``log10`` of the
    mean absolute sample difference (line length).
    """
    from scipy.signal import welch

    X = np.asarray(X, dtype=np.float64)
    n = X.shape[-1]
    nper = int(min(n, max(16, round(sfreq_hz))))
    freqs, psd = welch(X, fs=sfreq_hz, nperseg=nper, axis=-1)  # [W, C, F]
    df = freqs[1] - freqs[0] if freqs.size > 1 else 1.0
    nyq = sfreq_hz / 2
    powers = []
    for lo, hi in bands:
        hi = min(hi, nyq)
        sel = (freqs >= lo) & (freqs < hi)
        powers.append(psd[..., sel].sum(axis=-1) * df if sel.any()
                      else np.zeros(psd.shape[:2]))
    p = np.stack(powers, axis=-1) + 1e-12  # [W, C, B]
    rel = p / p.sum(axis=-1, keepdims=True)
    line = np.log10(np.abs(np.diff(X, axis=-1)).mean(axis=-1) + 1e-12)[..., None]
    feats = np.concatenate([np.log10(p), rel, line], axis=-1)
    return feats.reshape(X.shape[0], -1)


def _classifier(spec: Mapping[str, Any], n_channels: int, seed: int) -> Any:
    """The unfitted scikit-learn pipeline of a validated baseline ``spec``."""
    from sklearn.pipeline import make_pipeline

    if spec["type"] == "spectral":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(
            C=float(spec["C"]), class_weight="balanced", max_iter=2000, random_state=seed))
    if spec["type"] == "ts_lr":
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression

        if n_channels < 2:
            raise ConfigError("baseline ts_lr needs at least two channels")
        return make_pipeline(Covariances(estimator=spec["estimator"]),
                             TangentSpace(metric=spec["metric"]),
                             LogisticRegression(C=float(spec["C"]), max_iter=1000,
                                                random_state=seed))
    from mne.decoding import CSP
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    if n_channels < 2:
        raise ConfigError("baseline csp_lda needs at least two channels")
    n_comp = int(min(spec["n_components"], n_channels))
    return make_pipeline(CSP(n_components=n_comp, reg=spec["reg"], log=True),
                         LinearDiscriminantAnalysis())


@dataclass
class FittedBaseline:
    """A fitted baseline: its config, the scikit-learn pipeline and what it was fitted on.

    Attributes:
        spec: the validated baseline config (``{"type": ..., **options}``).
        classifier: the fitted scikit-learn pipeline.
        n_classes: ``K``, the study's classes (a class missing from training gets 0).
        n_channels: channels of the windows ``[W, C, n]`` it takes.
        sfreq_hz: sampling rate of those windows (spectral features depend on it).
        seed: the seed it was fitted with.
    """

    spec: dict[str, Any]
    classifier: Any
    n_classes: int
    n_channels: int
    sfreq_hz: float
    seed: int = 0

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``[N, K]`` of windows ``X [N, C, n]`` (at ``sfreq_hz``)."""
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1] != self.n_channels:
            raise DataError(f"baseline {self.spec['type']}: windows of shape {X.shape}, "
                            f"fitted on {self.n_channels} channel(s)")
        if self.spec["type"] == "spectral":
            proba = self.classifier.predict_proba(
                spectral_features(X, self.sfreq_hz, self.spec["bands"]))
        else:
            import mne

            level = mne.set_log_level("ERROR", return_old_level=True)
            try:
                proba = self.classifier.predict_proba(np.asarray(X, dtype=np.float64))
            finally:
                mne.set_log_level(level)
        out = np.zeros((len(X), self.n_classes))
        out[:, self.classifier.classes_.astype(int)] = proba  # classes missing from training: 0
        return out

    def save(self, dest: str | Path) -> None:
        """Write ``baseline.json`` and ``baseline.npz`` into the folder ``dest`` (see the
        module docstring: learned arrays and scalars only, no pickle)."""
        import sklearn

        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        fresh = _classifier(self.spec, self.n_channels, self.seed)
        arrays: dict[str, Any] = {}  # name -> np.ndarray
        steps = []
        for i, ((name, step), (_, step0)) in enumerate(zip(self.classifier.steps,
                                                           fresh.steps, strict=True)):
            scalars: dict[str, Any] = {}
            for key, value in vars(step).items():
                if key in vars(step0):
                    continue  # a constructor argument: rebuilt from the config
                if isinstance(value, np.ndarray) and value.dtype != object:
                    arrays[f"{i}:{key}"] = value
                elif isinstance(value, (bool, int, float, str, np.generic)) or value is None:
                    scalars[key] = value.item() if isinstance(value, np.generic) else value
                else:
                    raise ConfigError(f"baseline {self.spec['type']}: cannot save the fitted "
                                      f"attribute {name}.{key} ({type(value).__name__})")
            steps.append({"name": name, "class": type(step).__name__, "scalars": scalars})
        with atomic_open(dest / "baseline.npz") as fh:  # (a temp name remove_temp_files
            np.savez(fh, **arrays)                     # knows, fsync, then rename)
        versions = {"sklearn": sklearn.__version__}
        if self.spec["type"] == "csp_lda":
            import mne

            versions["mne"] = mne.__version__
        if self.spec["type"] == "ts_lr":
            import pyriemann

            versions["pyriemann"] = pyriemann.__version__
        atomic_write_json(dest / "baseline.json", {
            "format": _FORMAT, "baseline": self.spec, "n_classes": self.n_classes,
            "n_channels": self.n_channels, "sfreq_hz": self.sfreq_hz, "seed": self.seed,
            "steps": steps, "versions": versions})


def load_baseline(src: str | Path) -> FittedBaseline | None:
    """The baseline saved in the folder ``src`` by :meth:`FittedBaseline.save` (``None``
    when the folder holds none).

    Raises:
        DataError: a corrupt or incompatible file (named). MissingExtraError: no sklearn.
    """
    src = Path(src)
    meta_path, npz_path = src / "baseline.json", src / "baseline.npz"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        spec = validate_baseline(meta["baseline"])
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        n_channels, seed = int(meta["n_channels"]), int(meta["seed"])
        steps = meta["steps"]
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
        raise DataError(f"{src}: cannot read the saved baseline ({exc})") from exc
    require_baseline_extras(spec["type"], f"the run in {src.parent} saved this baseline beside its "
                    "model; evaluate scores both")
    clf = _classifier(spec, n_channels, seed)
    if [s["class"] for s in steps] != [type(s).__name__ for _, s in clf.steps]:
        raise DataError(f"{meta_path}: saved steps {[s['class'] for s in steps]} do not match "
                        f"the baseline {spec['type']!r}")
    for i, ((_, step), saved) in enumerate(zip(clf.steps, steps, strict=True)):
        for key, value in saved["scalars"].items():
            setattr(step, key, value)
        for key, value in arrays.items():
            idx, attr = key.split(":", 1)
            if int(idx) == i:
                setattr(step, attr, value)
    return FittedBaseline(spec, clf, int(meta["n_classes"]), n_channels,
                          float(meta["sfreq_hz"]), seed)


def fit_baseline(spec: Mapping[str, Any], X_train: np.ndarray, y_train: np.ndarray,
                 sfreq_hz: float, n_classes: int, seed: int = 0) -> FittedBaseline:
    """Fit the baseline on training windows ``X_train [W, C, n]`` with labels ``[W]``."""
    spec = validate_baseline(spec)
    require_baseline_extras(spec["type"])
    if np.unique(y_train).size < 2:  # (sklearn: "needs samples of at least 2 classes")
        raise DataError(f"baseline {spec['type']}: its {len(y_train)} training windows "
                        "hold fewer than two classes, so there is nothing to tell apart; "
                        "check the labels of the training recordings (or baseline: none)")
    clf = _classifier(spec, int(X_train.shape[1]), seed)
    with warnings.catch_warnings(record=True) as caught:  # (kept until the fit is known
        warnings.simplefilter("always")                   # to have worked)
        try:
            if spec["type"] == "spectral":
                clf.fit(spectral_features(X_train, sfreq_hz, spec["bands"]), y_train)
            else:
                import mne

                level = mne.set_log_level("ERROR", return_old_level=True)
                try:
                    clf.fit(np.asarray(X_train, dtype=np.float64), y_train)
                finally:
                    mne.set_log_level(level)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. a singular covariance
            # (the library's warnings on the way, such as pyriemann's "invalid value in
            # log", are what this message explains: not shown)
            hint = ("; a shrinkage estimator (baseline.estimator: oas or lwf) keeps the "
                    "covariances positive definite" if spec["type"] == "ts_lr"
                    and spec["estimator"] not in ("oas", "lwf") else "")
            raise DataError(f"baseline {spec['type']}: cannot be fitted on these training "
                            f"windows ({type(exc).__name__}: {exc}){hint}") from exc
    for w in caught:  # it worked: its warnings are the user's to see
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return FittedBaseline(spec, clf, int(n_classes), int(X_train.shape[1]), float(sfreq_hz),
                          int(seed))


def run_baseline(spec: Mapping[str, Any], X_train: np.ndarray, y_train: np.ndarray,
                 X_test: np.ndarray, sfreq_hz: float, n_classes: int, seed: int = 0
                 ) -> np.ndarray:
    """Fit the baseline on training windows, return test probabilities ``[N_test, K]``."""
    return fit_baseline(spec, X_train, y_train, sfreq_hz, n_classes, seed
                        ).predict_proba(X_test)
