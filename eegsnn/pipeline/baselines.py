"""Non-spiking baselines run on the same splits as the SNN (honest comparison).

* ``csp_lda`` (motor imagery): common spatial patterns (:class:`mne.decoding.CSP`, log
  variance of ``n_components`` spatial filters) followed by linear discriminant analysis,
  the standard BCI pipeline. Needs scikit-learn (``pip install "eegsnn[sklearn]"``).
* ``spectral`` (seizure detection, sleep): per channel, log band power in the classical
  bands (Welch periodogram) and relative band power, plus log line length, then a
  class-balanced logistic regression on standardised features. Needs scikit-learn.

Both fit on the training windows of a fold only and predict probabilities for its test
windows; :func:`run_baseline` returns ``proba [N_test, K]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.extras import require

__all__ = ["BASELINES", "run_baseline", "spectral_features", "validate_baseline"]

BASELINES = {
    "spectral": {"bands": [[0.5, 4.0], [4.0, 8.0], [8.0, 13.0], [13.0, 30.0], [30.0, 70.0]],
                 "C": 1.0},
    "csp_lda": {"n_components": 4, "reg": None},
}


def require_sklearn(what: str) -> None:
    """Raise a one-line :class:`~eegsnn.errors.MissingExtraError` naming the extra when
    scikit-learn is missing (the one mechanism for optional extras, see
    :mod:`eegsnn.extras`)."""
    require("sklearn", "sklearn", f"baseline {what!r}", "or set baseline: none")


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


def run_baseline(spec: Mapping[str, Any], X_train: np.ndarray, y_train: np.ndarray,
                 X_test: np.ndarray, sfreq_hz: float, n_classes: int, seed: int = 0
                 ) -> np.ndarray:
    """Fit the baseline on training windows, return test probabilities ``[N_test, K]``."""
    spec = validate_baseline(spec)
    require_sklearn(spec["type"])
    from sklearn.pipeline import make_pipeline

    if spec["type"] == "spectral":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        clf = make_pipeline(StandardScaler(), LogisticRegression(
            C=float(spec["C"]), class_weight="balanced", max_iter=2000, random_state=seed))
        f_train = spectral_features(X_train, sfreq_hz, spec["bands"])
        f_test = spectral_features(X_test, sfreq_hz, spec["bands"])
        clf.fit(f_train, y_train)
        proba = clf.predict_proba(f_test)
    else:
        import mne
        from mne.decoding import CSP
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        if X_train.shape[1] < 2:
            raise ConfigError("baseline csp_lda needs at least two channels")
        n_comp = int(min(spec["n_components"], X_train.shape[1]))
        clf = make_pipeline(CSP(n_components=n_comp, reg=spec["reg"], log=True),
                            LinearDiscriminantAnalysis())
        level = mne.set_log_level("ERROR", return_old_level=True)
        try:
            clf.fit(np.asarray(X_train, dtype=np.float64), y_train)
            proba = clf.predict_proba(np.asarray(X_test, dtype=np.float64))
        finally:
            mne.set_log_level(level)
    out = np.zeros((len(X_test), n_classes))
    out[:, clf.classes_.astype(int)] = proba  # classes missing from training get 0
    return out
