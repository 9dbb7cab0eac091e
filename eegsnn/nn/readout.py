r"""Readouts for reservoirs: spike features, closed-form ridge / logistic readouts, BPTT head.

Features (MLX, differentiable, time-major input ``spikes [T, B, N]``):

* :func:`spike_count_features` — spike counts in ``n_bins`` consecutive time bins,
  ``[B, n_bins * N]`` (bin-major: ``feature[b, k * N + i]`` = count of neuron ``i`` in bin ``k``).
* :func:`exponential_traces` — low-pass filtered spikes
  :math:`r[t] = \alpha\, r[t-1] + s[t]`, :math:`r[-1] = 0`, :math:`\alpha = e^{-\Delta t/\tau}`,
  ``[T, B, N]``.
* :func:`trace_features` — the trace sampled at the end of each of ``n_samples`` equal bins
  (``n_samples=1``: the final trace, a "liquid state" snapshot), ``[B, n_samples * N]``,
  computed in closed form :math:`r[t] = \sum_{u \le t} \alpha^{t-u} s[u]` as one matmul.
* :func:`final_state_features` — a neuron-state snapshot (e.g. the final membrane) ``[B, N]``.

Readouts trained without backpropagation (NumPy/SciPy, float64):

* :class:`RidgeReadout` — closed-form ridge regression / classification, with the
  regularisation chosen by exact leave-one-out error over a grid of ``alpha`` (one SVD).
* :class:`LogisticReadout` — multinomial logistic regression with an L2 penalty, fitted by
  L-BFGS on the exact gradient.

Both can be exported as an ``mlx.nn.Linear`` (:meth:`RidgeReadout.to_linear`) to be
fine-tuned by BPTT; :class:`LSMClassifier` is the differentiable reservoir -> features ->
linear head model for training with ``mlx.nn.value_and_grad``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt

from eegsnn.errors import ConfigError, DataError
from eegsnn.nn.activity import warn_activity

__all__ = [
    "FEATURE_KINDS",
    "LSMClassifier",
    "LogisticReadout",
    "RidgeReadout",
    "bin_edges",
    "exponential_traces",
    "extract_features",
    "final_state_features",
    "reservoir_features",
    "spike_count_features",
    "trace_features",
]

FEATURE_KINDS = ("counts", "trace", "membrane")


# --------------------------------------------------------------------------------------
# features (MLX)
# --------------------------------------------------------------------------------------
def _check_spikes(spikes: Any, where: str) -> mx.array:
    if not isinstance(spikes, mx.array):
        spikes = mx.array(np.asarray(spikes, dtype=np.float32))
    if spikes.ndim != 3:
        raise ConfigError(f"{where}: spikes must be time-major [T, B, N], got shape "
                          f"{tuple(spikes.shape)}")
    return spikes


def bin_edges(n_steps: int, n_bins: int) -> np.ndarray:
    """Edges of ``n_bins`` consecutive bins covering ``n_steps`` steps (as ``np.array_split``:
    the first ``n_steps % n_bins`` bins are one step longer)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    if n_bins > n_steps:
        raise ConfigError(f"n_bins={n_bins} exceeds the number of time steps T={n_steps}")
    sizes = np.full(n_bins, n_steps // n_bins)
    sizes[: n_steps % n_bins] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def spike_count_features(spikes: mx.array, n_bins: int = 1) -> mx.array:
    """Spike counts per neuron in ``n_bins`` consecutive time bins.

    Args:
        spikes: ``[T, B, N]``.
        n_bins: Number of bins (see :func:`bin_edges`).

    Returns:
        ``[B, n_bins * N]``, bin-major.
    """
    spikes = _check_spikes(spikes, "spike_count_features")
    t, b, n = spikes.shape
    edges = bin_edges(t, n_bins)
    counts = [spikes[int(edges[k]):int(edges[k + 1])].sum(axis=0) for k in range(n_bins)]
    return mx.stack(counts, axis=1).reshape(b, n_bins * n)


def _check_decay(decay: float) -> float:
    decay = float(decay)
    if not 0.0 <= decay < 1.0:
        raise ConfigError(f"trace decay must lie in [0, 1) (decay = exp(-dt/tau)), got {decay}")
    return decay


def exponential_traces(spikes: mx.array, decay: float = 0.9) -> mx.array:
    r"""Exponentially filtered spikes :math:`r[t] = \alpha r[t-1] + s[t]`, ``[T, B, N]``."""
    spikes = _check_spikes(spikes, "exponential_traces")
    decay = _check_decay(decay)
    r = mx.zeros(spikes.shape[1:], dtype=spikes.dtype)
    out = []
    for t in range(spikes.shape[0]):
        r = decay * r + spikes[t]
        out.append(r)
    return mx.stack(out)


def trace_features(spikes: mx.array, decay: float = 0.9, n_samples: int = 1) -> mx.array:
    r"""Exponential traces sampled at the last step of each of ``n_samples`` bins.

    :math:`r[t_k] = \sum_{u \le t_k} \alpha^{t_k - u} s[u]`, evaluated as one
    ``[n_samples, T] @ [T, B*N]`` matmul.

    Returns:
        ``[B, n_samples * N]`` (sample-major).
    """
    spikes = _check_spikes(spikes, "trace_features")
    decay = _check_decay(decay)
    t, b, n = spikes.shape
    ends = bin_edges(t, n_samples)[1:] - 1
    lag = ends[:, None] - np.arange(t)[None, :]
    kernel = np.where(lag >= 0, decay ** np.maximum(lag, 0), 0.0).astype(np.float32)
    out = mx.array(kernel) @ spikes.reshape(t, b * n)
    return out.reshape(n_samples, b, n).transpose(1, 0, 2).reshape(b, n_samples * n)


def final_state_features(state: Mapping[str, Any], key: str = "mem") -> mx.array:
    """A snapshot of the reservoir's neuron state, ``[B, N]`` (e.g. the final membrane).

    Args:
        state: A reservoir state (``{"neuron": {...}, "history": ...}``) or a neuron state.
        key: Which neuron state variable (``"mem"``; ``"syn"`` for ``Synaptic``...).
    """
    neuron_state = state.get("neuron", state)
    if key not in neuron_state:
        raise ConfigError(f"final_state_features: the neuron state has no {key!r}; it has "
                          f"{sorted(neuron_state)}")
    return neuron_state[key]


def reservoir_features(
    spikes: mx.array,
    state: Mapping[str, Any] | None = None,
    kind: str = "counts",
    *,
    n_bins: int = 1,
    decay: float = 0.9,
    key: str = "mem",
) -> mx.array:
    """Dispatch on ``kind``: ``"counts"`` (:func:`spike_count_features` with ``n_bins``),
    ``"trace"`` (:func:`trace_features`, ``n_bins`` samples, ``decay``) or ``"membrane"``
    (:func:`final_state_features` of ``state``). Returns ``[B, D]``."""
    if kind == "counts":
        return spike_count_features(spikes, n_bins)
    if kind == "trace":
        return trace_features(spikes, decay, n_bins)
    if kind == "membrane":
        if state is None:
            raise ConfigError("feature kind 'membrane' needs the reservoir's final state")
        return final_state_features(state, key)
    raise ConfigError(f"unknown feature kind {kind!r}; choose one of {list(FEATURE_KINDS)}")


def extract_features(
    reservoir: Any,
    inputs: Any,
    *,
    kind: str = "counts",
    n_bins: int = 1,
    decay: float = 0.9,
    batch_size: int = 64,
    check_activity: bool = True,
    low: float = 1e-3,
    high: float = 0.5,
) -> np.ndarray:
    """Run a reservoir over a dataset and return NumPy features (no gradients kept).

    Args:
        reservoir: A :class:`~eegsnn.nn.reservoir.Reservoir` (``__call__(x) -> (spikes,
            state)``).
        inputs: ``[T, B_total, n_inputs]`` array (NumPy or MLX), or an iterable of such
            batches.
        kind, n_bins, decay: See :func:`reservoir_features`.
        batch_size: Batch size when ``inputs`` is one array.
        check_activity: Warn if the mean rate over all data is below ``low`` or above
            ``high`` (silent / saturated reservoir).

    Returns:
        float32 ``[B_total, D]``.
    """
    if isinstance(inputs, (np.ndarray, mx.array)):
        if inputs.ndim != 3:
            raise ConfigError(f"extract_features: inputs must be [T, B, n_inputs], got shape "
                              f"{tuple(inputs.shape)}")
        total = inputs.shape[1]
        batches: Iterable[Any] = (inputs[:, i:i + batch_size] for i in range(0, total, batch_size))
    else:
        batches = inputs
    feats, n_spikes, n_slots = [], 0.0, 0
    for xb in batches:
        xb = xb if isinstance(xb, mx.array) else mx.array(np.asarray(xb, dtype=np.float32))
        spikes, state = reservoir(xb)
        f = reservoir_features(spikes, state, kind, n_bins=n_bins, decay=decay)
        total_spikes = spikes.sum()
        mx.eval(f, total_spikes)
        n_spikes += float(total_spikes.item())
        n_slots += int(np.prod(spikes.shape))
        feats.append(np.asarray(f))
    if not feats:
        raise DataError("extract_features: no input batches")
    if check_activity:
        warn_activity(n_spikes / max(n_slots, 1), low=low, high=high)
    return np.concatenate(feats, axis=0)


# --------------------------------------------------------------------------------------
# closed-form readouts (NumPy)
# --------------------------------------------------------------------------------------
def _as_2d(X: Any, where: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"{where}: features must be [n_samples, n_features], got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{where}: features contain NaN or infinite values")
    return X


class _Standardizer:
    """Column centring (if intercept) and scaling (if standardize) learned in fit."""

    def __init__(self, fit_intercept: bool, standardize: bool) -> None:
        self.fit_intercept = fit_intercept
        self.standardize = standardize

    def fit(self, X: np.ndarray) -> np.ndarray:
        self.mean_ = X.mean(0) if self.fit_intercept else np.zeros(X.shape[1])
        if self.standardize:
            scale = X.std(0)
            scale[scale < 1e-12] = 1.0
        else:
            scale = np.ones(X.shape[1])
        self.scale_ = scale
        return (X - self.mean_) / self.scale_

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_


def _check_alpha(alpha: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"alpha must be a non-negative number or a list of them, got {alpha!r}")
    return arr


class RidgeReadout:
    r"""Closed-form ridge readout (regression or classification).

    Minimises :math:`\|Y - X W - \mathbf{1} b^\top\|_F^2 + \alpha \|W\|_F^2` (the intercept
    ``b`` is not penalised; features are centred, and scaled to unit variance if
    ``standardize``). Solved exactly: primal :math:`(X^\top X + \alpha I)^{-1} X^\top Y` when
    ``n_features <= n_samples``, dual :math:`X^\top (X X^\top + \alpha I)^{-1} Y` otherwise.

    For classification, ``y`` holds integer labels and the targets are one-hot vectors coded
    ``+1 / -1``; the predicted class is the arg-max score.

    If ``alpha`` is a sequence, the value with the smallest exact leave-one-out mean squared
    error is chosen, using the SVD :math:`X = U S V^\top` and
    :math:`e_i^{LOO} = e_i / (1 - H_{ii})`, :math:`H = \tfrac{1}{n}\mathbf{1}\mathbf{1}^\top
    + U \operatorname{diag}(s^2/(s^2+\alpha)) U^\top`.

    Attributes after :meth:`fit`: ``coef_`` ``[n_features, n_outputs]`` and ``intercept_``
    ``[n_outputs]`` in the original feature units, ``alpha_``, ``loo_mse_`` (per alpha, when
    a grid was given), ``classes_`` (classification).
    """

    def __init__(
        self,
        alpha: float | Sequence[float] = 1.0,
        *,
        task: str = "classification",
        fit_intercept: bool = True,
        standardize: bool = True,
    ) -> None:
        if task not in ("classification", "regression"):
            raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")
        self.alpha = alpha
        self.task = task
        self.fit_intercept = bool(fit_intercept)
        self.standardize = bool(standardize)

    def _targets(self, y: Any, n: int) -> np.ndarray:
        if self.task == "classification":
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != n:
                raise DataError(f"RidgeReadout.fit: y must be [n_samples]={n} labels, got shape "
                                f"{y.shape}")
            self.classes_, idx = np.unique(y, return_inverse=True)
            if self.classes_.size < 2:
                raise DataError("RidgeReadout.fit: need at least two classes in y")
            Y = -np.ones((n, self.classes_.size))
            Y[np.arange(n), idx] = 1.0
            return Y
        Y = np.asarray(y, dtype=np.float64)
        self._y_1d = Y.ndim == 1
        Y = Y.reshape(n, -1) if Y.ndim == 1 else Y
        if Y.ndim != 2 or Y.shape[0] != n:
            raise DataError(f"RidgeReadout.fit: y must be [n_samples] or [n_samples, n_outputs] "
                            f"with n_samples={n}, got shape {np.shape(y)}")
        return Y

    def fit(self, X: Any, y: Any) -> RidgeReadout:
        X = _as_2d(X, "RidgeReadout.fit")
        n, d = X.shape
        Y = self._targets(y, n)
        alphas = _check_alpha(self.alpha)
        self._std = _Standardizer(self.fit_intercept, self.standardize)
        Xc = self._std.fit(X)
        y_mean = Y.mean(0) if self.fit_intercept else np.zeros(Y.shape[1])
        Yc = Y - y_mean
        if alphas.size == 1:
            alpha = float(alphas[0])
            W = self._solve(Xc, Yc, alpha)
            self.loo_mse_ = None
        else:
            U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
            UtY = U.T @ Yc
            mse = np.empty(alphas.size)
            for j, a in enumerate(alphas):
                f = s**2 / (s**2 + a) if a > 0 else (s > 1e-10 * s.max()).astype(float)
                fitted = U @ (f[:, None] * UtY)
                h = (U**2) @ f + (1.0 / n if self.fit_intercept else 0.0)
                loo = (Yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
                mse[j] = float(np.mean(loo**2))
            self.loo_mse_ = mse
            alpha = float(alphas[int(np.argmin(mse))])
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(s > 0, s / (s**2 + alpha), 0.0) if alpha > 0 else np.where(
                    s > 1e-10 * s.max(), 1.0 / np.where(s > 0, s, 1.0), 0.0)
            W = Vt.T @ (g[:, None] * UtY)
        self.alpha_ = alpha
        self.coef_ = W / self._std.scale_[:, None]
        self.intercept_ = y_mean - self._std.mean_ @ self.coef_
        self.n_features_in_ = d
        return self

    @staticmethod
    def _solve(Xc: np.ndarray, Yc: np.ndarray, alpha: float) -> np.ndarray:
        n, d = Xc.shape
        try:
            if d <= n:
                G = Xc.T @ Xc
                G[np.diag_indices(d)] += alpha
                return sla.solve(G, Xc.T @ Yc, assume_a="pos" if alpha > 0 else "sym")
            K = Xc @ Xc.T
            K[np.diag_indices(n)] += alpha
            return Xc.T @ sla.solve(K, Yc, assume_a="pos" if alpha > 0 else "sym")
        except (np.linalg.LinAlgError, sla.LinAlgError):
            warnings.warn("RidgeReadout: singular system (alpha too small for these features); "
                          "using the least-squares pseudo-inverse", RuntimeWarning, stacklevel=3)
            return np.linalg.lstsq(Xc, Yc, rcond=None)[0]

    def _check_fitted(self: RidgeReadout | LogisticReadout, X: Any, where: str) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ConfigError(f"{type(self).__name__}.{where}: call fit() first")
        X = _as_2d(X, f"{type(self).__name__}.{where}")
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"{type(self).__name__}.{where}: expected {self.n_features_in_} "
                            f"features, got {X.shape[1]}")
        return X

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X @ coef_ + intercept_``, ``[n_samples, n_outputs]``."""
        X = self._check_fitted(X, "decision_function")
        return X @ self.coef_ + self.intercept_

    def predict(self, X: Any) -> np.ndarray:
        """Class labels (classification) or predicted targets (regression)."""
        scores = self.decision_function(X)
        if self.task == "classification":
            return self.classes_[np.argmax(scores, axis=1)]
        return scores[:, 0] if getattr(self, "_y_1d", False) else scores

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or coefficient of determination R^2 (regression)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if self.task == "classification":
            return float(np.mean(pred == y))
        y = y.reshape(pred.shape).astype(np.float64)
        ss_res = np.sum((y - pred) ** 2)
        ss_tot = np.sum((y - y.mean(0)) ** 2)
        return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0

    def to_linear(self) -> nn.Linear:
        """An ``mlx.nn.Linear`` computing :meth:`decision_function` (e.g. to fine-tune it)."""
        if not hasattr(self, "coef_"):
            raise ConfigError("RidgeReadout.to_linear: call fit() first")
        return _linear_from(self.coef_, self.intercept_)


def _linear_from(coef: np.ndarray, intercept: np.ndarray) -> nn.Linear:
    lin = nn.Linear(coef.shape[0], coef.shape[1], bias=True)
    lin.weight = mx.array(coef.T.astype(np.float32))
    lin.bias = mx.array(intercept.astype(np.float32))
    return lin


class LogisticReadout:
    r"""Multinomial logistic-regression readout with an L2 penalty (no backpropagation
    through the reservoir: fitted by L-BFGS on the exact gradient, float64).

    Minimises :math:`\sum_i -\log p_{i, y_i} + \tfrac{\alpha}{2} \|W\|_F^2` with
    :math:`p_i = \operatorname{softmax}(W^\top x_i + b)`; the intercept ``b`` is not
    penalised (``alpha`` = ``1 / C`` of scikit-learn's ``LogisticRegression``). Features are
    standardised first if ``standardize``.

    Attributes after :meth:`fit`: ``coef_`` ``[n_features, n_classes]``, ``intercept_``,
    ``classes_``, ``n_iter_``, ``converged_``.
    """

    def __init__(self, alpha: float = 1.0, *, standardize: bool = True, max_iter: int = 500,
                 tol: float = 1e-8) -> None:
        a = _check_alpha(alpha)
        if a.size != 1:
            raise ConfigError("LogisticReadout: alpha must be one number")
        self.alpha = float(a[0])
        self.standardize = bool(standardize)
        self.max_iter = int(max_iter)
        self.tol = float(tol)

    @staticmethod
    def _loss_grad(theta: np.ndarray, X: np.ndarray, Y: np.ndarray,
                   alpha: float) -> tuple[float, np.ndarray]:
        d, k = X.shape[1], Y.shape[1]
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        Z = X @ W + b
        Z -= Z.max(axis=1, keepdims=True)
        logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
        loss = -np.sum(Y * logp) + 0.5 * alpha * np.sum(W * W)
        G = np.exp(logp) - Y
        gW = X.T @ G + alpha * W
        gb = G.sum(0)
        return float(loss), np.concatenate([gW.ravel(), gb])

    def fit(self, X: Any, y: Any) -> LogisticReadout:
        X = _as_2d(X, "LogisticReadout.fit")
        n, d = X.shape
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise DataError(f"LogisticReadout.fit: y must be [n_samples]={n} labels, got shape "
                            f"{y.shape}")
        self.classes_, idx = np.unique(y, return_inverse=True)
        k = self.classes_.size
        if k < 2:
            raise DataError("LogisticReadout.fit: need at least two classes in y")
        Y = np.zeros((n, k))
        Y[np.arange(n), idx] = 1.0
        self._std = _Standardizer(True, self.standardize)
        Xs = self._std.fit(X)
        res = sopt.minimize(self._loss_grad, np.zeros(d * k + k), args=(Xs, Y, self.alpha),
                            jac=True, method="L-BFGS-B",
                            options={"maxiter": self.max_iter, "gtol": self.tol})
        W = res.x[: d * k].reshape(d, k)
        b = res.x[d * k:]
        self.coef_ = W / self._std.scale_[:, None]
        self.intercept_ = b - self._std.mean_ @ self.coef_
        self.n_iter_ = int(res.nit)
        self.converged_ = bool(res.success)
        self.n_features_in_ = d
        if not res.success:
            warnings.warn(f"LogisticReadout: L-BFGS stopped before convergence ({res.message}); "
                          "raise max_iter or alpha", RuntimeWarning, stacklevel=2)
        return self

    _check_fitted = RidgeReadout._check_fitted

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits ``[n_samples, n_classes]``."""
        X = self._check_fitted(X, "decision_function")
        return X @ self.coef_ + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``[n_samples, n_classes]`` (rows sum to one)."""
        Z = self.decision_function(X)
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def to_linear(self) -> nn.Linear:
        """An ``mlx.nn.Linear`` producing the logits (e.g. to fine-tune by BPTT)."""
        if not hasattr(self, "coef_"):
            raise ConfigError("LogisticReadout.to_linear: call fit() first")
        return _linear_from(self.coef_, self.intercept_)


# --------------------------------------------------------------------------------------
# differentiable model for BPTT
# --------------------------------------------------------------------------------------
class LSMClassifier(nn.Module):
    """Reservoir -> spike features -> linear readout, differentiable end to end.

    With a reservoir whose ``w_in`` is frozen (the default), ``nn.value_and_grad`` trains
    only the linear readout; with ``input_trainable=True`` it also fine-tunes the input
    weights by BPTT through the fixed recurrent weights (use ``compute="dense"`` or
    ``"sparse"``: ``"host"`` passes no gradient through the recurrence).

    Args:
        reservoir: A :class:`~eegsnn.nn.reservoir.Reservoir`.
        n_classes: Output size.
        kind, n_bins, decay: Feature choice (see :func:`reservoir_features`).
        readout: Optional initial ``nn.Linear`` (e.g. ``RidgeReadout(...).fit(...).to_linear()``).

    Call: ``x_seq [T, B, n_inputs] -> logits [B, n_classes]``.
    """

    def __init__(self, reservoir: nn.Module, n_classes: int, *, kind: str = "counts",
                 n_bins: int = 1, decay: float = 0.9, readout: nn.Linear | None = None) -> None:
        super().__init__()
        if kind not in FEATURE_KINDS:
            raise ConfigError(f"unknown feature kind {kind!r}; choose one of {list(FEATURE_KINDS)}")
        self.reservoir = reservoir
        self.kind = kind
        self.n_bins = int(n_bins)
        self.decay = float(decay)
        n_feat = reservoir.n_neurons * (1 if kind == "membrane" else self.n_bins)
        if readout is None:
            readout = nn.Linear(n_feat, int(n_classes))
        elif readout.weight.shape != (int(n_classes), n_feat):
            raise ConfigError(f"readout weight must be [{n_classes}, {n_feat}], got "
                              f"{tuple(readout.weight.shape)}")
        self.readout = readout

    def features(self, x_seq: mx.array) -> mx.array:
        spikes, state = self.reservoir(x_seq)
        return reservoir_features(spikes, state, self.kind, n_bins=self.n_bins, decay=self.decay)

    def __call__(self, x_seq: mx.array) -> mx.array:
        return self.readout(self.features(x_seq))
