r"""The liquid state machine as a pipeline model: ``model: {type: lsm, ...}``.

A study config selects the model family with ``model.type``; the default (no ``type``, or
``type: snn``) is the BPTT-trained feedforward SNN of :mod:`eegsnn.pipeline.modelspec`.
``type: lsm`` runs the encoded windows through a fixed, seeded spiking reservoir
(:class:`eegsnn.nn.Reservoir`), turns its spikes into features
(:func:`eegsnn.nn.readout.reservoir_features`) and fits a closed-form readout (no BPTT)::

    model:
      type: lsm
      reservoir:                 # eegsnn.nn.Reservoir.from_config keys; n_inputs is filled
        n_neurons: 500           # in from the encoder (number of spike lines)
        topology: {kind: random, p: 0.1}
        frac_excitatory: 0.8
        spectral_radius: 0.9
        input_connectivity: 0.3
        input_gain: 1.0
        neuron: {model: Leaky, beta: 0.95, threshold: 1.0}
        seed: 0
      features: {kind: counts, bins: 4, decay: 0.9}   # counts | trace | membrane
      readout: {type: ridge, alpha: [0.1, 1, 10, 100, 1000]}   # ridge | logistic
      activity: {low: 0.001, high: 0.5}   # mean-rate bounds for the silent/saturated warning
      batch_size: 256            # windows run through the reservoir at once

For window features :math:`f \in \mathbb{R}^{D}` (``D = bins * n_neurons``, or
``n_neurons`` for ``membrane``) the readout gives scores :math:`z = W^\top f + b`
(``[K]`` classes) and probabilities :math:`p = \operatorname{softmax}(z)`. For ``ridge``
(targets coded ``+1 / -1``, ``alpha`` chosen by exact leave-one-out error when a list is
given) the softmax only maps the scores to ``[0, 1]`` for ROC curves and recording-level
averaging; the predicted class is ``argmax z`` either way. For ``logistic`` ``p`` is the
fitted multinomial model.

Everything that defines the fitted model is saved (``model_config.json``: the reservoir's
full config with its seed, features, readout and chosen ``alpha``; ``readout.npz``:
``coef [D, K]``, ``intercept [K]``), so :meth:`LSMModel.load` rebuilds it exactly and
evaluating a run twice gives identical metrics.

:class:`LSMPipelineModel` is the model of the pipeline contract
(:class:`~eegsnn.pipeline.contract.PipelineModel`) around :class:`LSMModel`.

Bad configurations are refused when the study config is resolved (E/I fractions that do
not sum to one, connection probabilities outside ``[0, 1]``, unknown keys: a
:class:`~eegsnn.errors.ConfigError` naming ``model.reservoir``); a reservoir that is silent
or saturated on the given input produces a ``RuntimeWarning`` that the pipeline writes to
its log and to ``metrics.json`` (``warnings``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_json
from eegsnn.nn.activity import warn_activity
from eegsnn.nn.readout import LogisticReadout, RidgeReadout, reservoir_features
from eegsnn.nn.reservoir import Reservoir
from eegsnn.pipeline.contract import FitReport, Fold, PipelineModel, Prediction, issue_warnings
from eegsnn.pipeline.metrics import (
    choose_operating_point,
    read_operating_point,
    softmax,
    write_operating_point,
)
from eegsnn.train.data import oversample

__all__ = ["LSM_DEFAULTS", "LSMModel", "LSMPipelineModel", "is_lsm", "validate_lsm_spec"]

log = logging.getLogger("eegsnn.pipeline")

FEATURE_KINDS = ("counts", "trace", "membrane")
READOUT_TYPES = ("ridge", "logistic")
LSM_DEFAULTS: dict[str, Any] = {
    "reservoir": {"n_neurons": 500, "spectral_radius": 0.9, "seed": 0},
    "features": {"kind": "counts", "bins": 1, "decay": 0.9},
    "readout": {"type": "ridge", "alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]},
    "activity": {"low": 1e-3, "high": 0.5},
    "batch_size": 256,
}
_KEYS = {"type", *LSM_DEFAULTS}
_READOUT_KEYS = {"ridge": {"type", "alpha", "standardize"},
                 "logistic": {"type", "alpha", "standardize", "max_iter"}}


def is_lsm(spec: Mapping[str, Any] | None) -> bool:
    """True when a ``model`` section selects the liquid state machine."""
    return isinstance(spec, Mapping) and spec.get("type") == "lsm"


def validate_lsm_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check a ``model: {type: lsm, ...}`` section and fill its defaults (a new dict).

    The reservoir is built once (with one input line) so that a bad reservoir config (E/I
    fractions not summing to one, a connection probability outside ``[0, 1]``, a bad
    topology or neuron) fails here, before any data is read.

    Raises:
        ConfigError: naming the key (``model.features.kind``, ``model.reservoir: ...``).
    """
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigError(f"model (type lsm): unknown key(s) {sorted(unknown)} (known: "
                          f"{', '.join(sorted(_KEYS))})")
    out: dict[str, Any] = {"type": "lsm"}
    for key in ("reservoir", "features", "readout", "activity"):
        value = spec.get(key, {})
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"model.{key} must be a mapping, got {type(value).__name__}")
        out[key] = {**copy.deepcopy(LSM_DEFAULTS[key]), **copy.deepcopy(dict(value))}

    res = out["reservoir"]
    if "n_inputs" in res:
        raise ConfigError("model.reservoir.n_inputs is filled in from the encoder (its number "
                          "of spike lines); leave it out")

    radius = res.get("spectral_radius")
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, (int, float))
                               or not np.isfinite(radius) or radius <= 0):
        raise ConfigError(f"model.reservoir.spectral_radius must be a positive number or null, "
                          f"got {radius!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the topology is built (E/I split, probabilities, weights, delays, neuron) but
            # not rescaled: the spectral radius's eigenvalue search waits for the run
            Reservoir.from_config({**res, "n_inputs": 1, "spectral_radius": None})
    except ConfigError as exc:
        raise ConfigError(f"model.reservoir: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.reservoir: {exc}") from exc

    feats = out["features"]
    unknown = set(feats) - {"kind", "bins", "decay"}
    if unknown:
        raise ConfigError(f"model.features: unknown key(s) {sorted(unknown)} (known: bins, "
                          "decay, kind)")
    if feats["kind"] not in FEATURE_KINDS:
        raise ConfigError(f"model.features.kind must be one of {', '.join(FEATURE_KINDS)}, "
                          f"got {feats['kind']!r}")
    if not isinstance(feats["bins"], int) or isinstance(feats["bins"], bool) \
            or feats["bins"] < 1:
        raise ConfigError(f"model.features.bins must be a positive int, got {feats['bins']!r}")
    if not isinstance(feats["decay"], (int, float)) or not 0.0 < float(feats["decay"]) < 1.0:
        raise ConfigError(f"model.features.decay must be in (0, 1), got {feats['decay']!r}")
    feats["decay"] = float(feats["decay"])

    ro = out["readout"]
    if ro.get("type") not in READOUT_TYPES:
        raise ConfigError(f"model.readout.type must be one of {', '.join(READOUT_TYPES)}, got "
                          f"{ro.get('type')!r}")
    if ro["type"] == "logistic" and "alpha" not in (spec.get("readout") or {}):
        ro["alpha"] = 1.0
    unknown = set(ro) - _READOUT_KEYS[ro["type"]]
    if unknown:
        raise ConfigError(f"model.readout ({ro['type']}): unknown key(s) {sorted(unknown)} "
                          f"(known: {', '.join(sorted(_READOUT_KEYS[ro['type']]))})")
    alpha = np.atleast_1d(np.asarray(ro.get("alpha", 1.0), dtype=object))
    try:
        alpha_f = alpha.astype(np.float64)
    except (TypeError, ValueError):
        alpha_f = np.array([np.nan])
    if alpha_f.ndim != 1 or alpha_f.size == 0 or not np.all(np.isfinite(alpha_f)) \
            or np.any(alpha_f < 0) or (ro["type"] == "logistic" and alpha_f.size != 1):
        raise ConfigError(f"model.readout.alpha must be a non-negative number"
                          f"{'' if ro['type'] == 'logistic' else ' or a list of them'}, got "
                          f"{ro.get('alpha')!r}")
    try:
        _make_readout(ro)
    except ConfigError as exc:
        raise ConfigError(f"model.readout: {exc}") from exc

    act = out["activity"]
    unknown = set(act) - {"low", "high"}
    if unknown:
        raise ConfigError(f"model.activity: unknown key(s) {sorted(unknown)} (known: high, "
                          "low)")
    try:
        low, high = float(act["low"]), float(act["high"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.activity: low and high must be numbers ({exc})") from exc
    if not 0.0 <= low < high <= 1.0:
        raise ConfigError(f"model.activity: need 0 <= low < high <= 1, got {low}, {high}")
    out["activity"] = {"low": low, "high": high}

    bs = spec.get("batch_size", LSM_DEFAULTS["batch_size"])
    if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
        raise ConfigError(f"model.batch_size must be a positive int, got {bs!r}")
    out["batch_size"] = bs
    return out


def _make_readout(ro: Mapping[str, Any]) -> Any:
    kwargs = {k: v for k, v in ro.items() if k != "type"}
    if ro["type"] == "ridge":
        return RidgeReadout(**kwargs)
    return LogisticReadout(**kwargs)


_RESERVOIRS: dict[str, Any] = {}


def _reservoir(config: Mapping[str, Any]) -> Any:
    """``Reservoir.from_config(config)``, shared between models of one config (the folds of
    a run): a reservoir is fixed and keeps no state between calls, and building one
    (topology, spectral-radius rescaling) takes seconds."""
    key = json.dumps(config, sort_keys=True, default=str)
    if key not in _RESERVOIRS:
        if len(_RESERVOIRS) >= 4:
            _RESERVOIRS.pop(next(iter(_RESERVOIRS)))
        _RESERVOIRS[key] = Reservoir.from_config(config)
    return _RESERVOIRS[key]


class LSMModel:
    """A fixed reservoir, a feature map and a closed-form linear readout.

    Args:
        spec: a validated ``model`` section (:func:`validate_lsm_spec`).
        n_inputs: spike lines per step (from the encoder).
        n_classes: number of classes ``K``.

    Attributes:
        reservoir: the :class:`~eegsnn.nn.Reservoir` (rebuilt from config and seed).
        coef: ``[D, K]`` readout weights after :meth:`fit` (float64).
        intercept: ``[K]``.
        alpha: regularisation used (chosen by leave-one-out for ``ridge`` with a grid).
    """

    def __init__(self, spec: Mapping[str, Any], n_inputs: int, n_classes: int) -> None:

        self.spec = validate_lsm_spec(spec)
        self.n_classes = int(n_classes)
        self.reservoir = _reservoir({**self.spec["reservoir"], "n_inputs": int(n_inputs)})
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.alpha: float | None = None
        self.fit_info: dict[str, Any] = {}

    # -- config ------------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.reservoir.n_inputs

    @property
    def n_features(self) -> int:
        f = self.spec["features"]
        n = self.reservoir.n_neurons
        return n if f["kind"] == "membrane" else n * int(f["bins"])

    @property
    def config(self) -> dict[str, Any]:
        """JSON-able description that :meth:`from_config` rebuilds (with the readout file)."""
        return {"type": "lsm", "input_shape": [self.n_inputs], "n_classes": self.n_classes,
                "reservoir": self.reservoir.to_config(),
                "features": copy.deepcopy(self.spec["features"]),
                "readout": copy.deepcopy(self.spec["readout"]), "alpha": self.alpha,
                "activity": copy.deepcopy(self.spec["activity"]),
                "batch_size": self.spec["batch_size"],
                "n_features": self.n_features,
                "reservoir_summary": {
                    "n_neurons": self.reservoir.n_neurons,
                    "n_synapses": int(self.reservoir.topology.weights.nnz),
                    "n_excitatory": int(self.reservoir.excitatory.sum()),
                    "compute": self.reservoir.compute}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LSMModel:
        res = dict(config["reservoir"])
        n_inputs = int(res.pop("n_inputs"))
        spec = {"type": "lsm", "reservoir": res, "features": config["features"],
                "readout": config["readout"], "activity": config.get("activity") or {},
                "batch_size": config.get("batch_size", LSM_DEFAULTS["batch_size"])}
        model = cls(spec, n_inputs, int(config["n_classes"]))
        model.alpha = config.get("alpha")
        return model

    # -- reservoir ---------------------------------------------------------------------
    def run(self, spikes: Any) -> tuple[np.ndarray, np.ndarray]:
        """Features and per-window firing rates of encoded windows.

        Args:
            spikes: ``[T, W, n_inputs]`` (MLX or NumPy) encoder output.

        Returns:
            ``(features [W, D] float32, rates [W])``: rates in spikes per neuron per step.
        """
        if spikes.ndim != 3 or int(spikes.shape[2]) != self.n_inputs:
            raise DataError(f"LSM: encoded windows must be [T, W, {self.n_inputs}], got "
                            f"{tuple(spikes.shape)}")
        f = self.spec["features"]
        bs = int(self.spec["batch_size"])
        feats, rates = [], []
        for start in range(0, int(spikes.shape[1]), bs):
            xb = spikes[:, start:start + bs]
            if not isinstance(xb, mx.array):
                xb = mx.array(np.asarray(xb, dtype=np.float32))
            out, state = self.reservoir(xb)
            feat = reservoir_features(out, state, f["kind"], n_bins=int(f["bins"]),
                                      decay=float(f["decay"]))
            rate = out.mean(axis=(0, 2))
            mx.eval(feat, rate)
            feats.append(np.asarray(feat, dtype=np.float32))
            rates.append(np.asarray(rate, dtype=np.float64))
        if not feats:
            raise DataError("LSM: no windows to run through the reservoir")
        return np.concatenate(feats), np.concatenate(rates)

    def check_activity(self, rates: np.ndarray) -> float:
        """Mean rate over windows (spikes per neuron per step); issues a ``RuntimeWarning``
        when it is below ``activity.low`` (silent) or above ``activity.high`` (saturated)."""
        mean = float(np.mean(rates)) if np.size(rates) else 0.0
        act = self.spec["activity"]
        return warn_activity(mean, low=act["low"], high=act["high"])

    # -- readout -----------------------------------------------------------------------
    def fit(self, features: np.ndarray, y: np.ndarray,
            sample: np.ndarray | None = None) -> LSMModel:
        """Fit the closed-form readout.

        Args:
            features: ``[n, D]`` features of the training windows.
            y: ``[n]`` labels (``0..K-1``).
            sample: optional indices into the rows (e.g. class-balancing oversampling, with
                repeats) that the readout is fitted on. A ``ridge`` grid of ``alpha`` is
                searched by leave-one-out on the distinct rows only (a repeated row would
                be "left out" while its copy stays in, favouring too little
                regularisation), then the readout is refitted on ``sample`` at that alpha.
        """
        y = np.asarray(y, dtype=np.int64)
        present = np.unique(y)
        if present.size < 2:
            raise DataError("LSM readout: the training windows hold only one class")
        spec = dict(self.spec["readout"])
        rows = np.arange(len(y)) if sample is None else np.asarray(sample, dtype=np.int64)
        if spec["type"] == "ridge" and np.size(spec.get("alpha", 1.0)) > 1 \
                and np.unique(rows).size < rows.size:
            search = _make_readout(spec).fit(features, y)
            spec["alpha"] = float(search.alpha_)
            loo = search.loo_mse_
        else:
            loo = None
        readout = _make_readout(spec).fit(features[rows], y[rows])
        if loo is None:
            loo = getattr(readout, "loo_mse_", None)
        coef = np.zeros((features.shape[1], self.n_classes))
        intercept = np.full(self.n_classes, -1e3)
        # classes absent from the training windows keep a score that never wins
        coef[:, present] = readout.coef_
        intercept[present] = readout.intercept_
        self.coef, self.intercept = coef, intercept
        self.alpha = float(getattr(readout, "alpha_", getattr(readout, "alpha", 0.0)))
        self.fit_info = {"alpha": self.alpha, "readout": self.spec["readout"]["type"],
                         "train_accuracy": float(np.mean(
                             self.decision_function(features).argmax(1) == y))}
        if loo is not None:
            self.fit_info["loo_mse"] = [float(v) for v in loo]
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Scores ``features @ coef + intercept``: ``[n, K]``."""
        if self.coef is None or self.intercept is None:
            raise ConfigError("LSMModel: fit() or load() first")
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.coef.shape[0]:
            raise DataError(f"LSM readout: expected [n, {self.coef.shape[0]}] features, got "
                            f"{features.shape}")
        return features @ self.coef + self.intercept

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``softmax(decision_function)``: ``[n, K]``, rows sum to one."""
        return softmax(self.decision_function(features))

    # -- files -------------------------------------------------------------------------
    def save(self, dest: str | Path) -> None:
        """Write ``model_config.json`` and ``readout.npz`` (atomically) into ``dest``."""
        if self.coef is None or self.intercept is None:
            raise ConfigError("LSMModel.save: fit() first")
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write_json(dest / "model_config.json", self.config)
        tmp = dest / "readout.tmp.npz"
        np.savez(tmp, coef=self.coef, intercept=self.intercept)
        tmp.replace(dest / "readout.npz")

    @classmethod
    def load(cls, src: str | Path) -> LSMModel:
        """Rebuild a saved model (reservoir from config and seed, readout weights).

        Raises:
            DataError: a file is missing or corrupt (named).
        """
        src = Path(src)
        try:
            config = json.loads((src / "model_config.json").read_text(encoding="utf-8"))
            with np.load(src / "readout.npz") as z:
                coef, intercept = np.array(z["coef"]), np.array(z["intercept"])
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{src}: cannot read the LSM model ({exc})") from exc
        if config.get("type") != "lsm":
            raise DataError(f"{src / 'model_config.json'}: not an LSM model")
        model = cls.from_config(config)
        if coef.shape != (model.n_features, model.n_classes) or intercept.shape != (
                model.n_classes,):
            raise DataError(f"{src / 'readout.npz'}: weights {coef.shape} do not fit the "
                            f"model ({model.n_features} features, {model.n_classes} classes)")
        model.coef, model.intercept = coef, intercept
        return model


class LSMPipelineModel(PipelineModel):
    """:class:`LSMModel` behind the pipeline contract (``model.type: lsm``).

    Fitting runs the fixed reservoir once over the training and held-out windows; the
    closed-form readout is fitted on the training windows' features (oversampled like the
    SNN's training set when ``balance: oversample``; ``split.val_fraction`` is not used:
    ``alpha`` is chosen by leave-one-out). Silent or saturated reservoirs (on the training
    and on the held-out windows) are logged and listed in the fold's ``warnings``. A saved
    model holds ``model_config.json`` and ``readout.npz``.
    """

    type = "lsm"
    files = ("readout.npz",)

    def __init__(self, cfg: Mapping[str, Any], lsm: LSMModel | None = None,
                 operating_point: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.lsm = lsm
        self.operating_point = operating_point

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> LSMPipelineModel:
        return cls(cfg)

    @classmethod
    def load(cls, src: Path, cfg: Mapping[str, Any]) -> LSMPipelineModel:
        return cls(cfg, LSMModel.load(src), read_operating_point(src))

    def _fitted(self) -> LSMModel:
        if self.lsm is None:
            raise ConfigError("LSM: fit() or load() first")
        return self.lsm

    @property
    def n_inputs(self) -> int:
        return self._fitted().n_inputs

    def fit(self, fold: Fold, work_dir: Path | None = None, *, progress: bool | None = None,
            where: str = "fit") -> FitReport:
        cfg = self.cfg
        t0 = time.perf_counter()
        if float(cfg["split"]["val_fraction"]) > 0:
            log.info("%s: model.type lsm chooses its readout regularisation by leave-one-out "
                     "on the training windows; split.val_fraction is not used", where)
        model = self.lsm = LSMModel(cfg["model"], fold.n_inputs, fold.n_classes)
        train_idx, test_idx = fold.train_idx, fold.test_idx
        idx = train_idx if test_idx is None else np.concatenate([train_idx, test_idx])
        n_tr = len(train_idx)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            feats, rates = model.run(fold.spikes[:, mx.array(idx.astype(np.int32))])
            train_rate = model.check_activity(rates[:n_tr])
        messages = issue_warnings(f"{where}, reservoir on the training windows", caught)
        fit_local = np.arange(n_tr)
        if cfg["balance"] == "oversample":
            fit_local = oversample(fold.y[train_idx], int(cfg["train"]["seed"]))
        t_fit = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(feats[:n_tr], fold.y[train_idx], fit_local)
        messages += issue_warnings(f"{where}, readout", caught)
        fit_s = time.perf_counter() - t_fit
        test = None
        if test_idx is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                test_rate = model.check_activity(rates[n_tr:])
            test_messages = issue_warnings(f"{where}, reservoir on the test windows", caught)
            messages += test_messages
            test = Prediction(model.predict_proba(feats[n_tr:]), {"reservoir": test_rate},
                              test_messages)
        record = {
            "lsm": {**model.fit_info, "readout_fit_s": fit_s, "n_features": model.n_features,
                    "train_firing_rate": train_rate,
                    "reservoir": model.config["reservoir_summary"]},
            "warnings": messages,
            "train_windows": n_tr, "train_windows_balanced": len(fit_local), "val_windows": 0,
            "train_class_counts": fold.counts(train_idx),
            "train_class_counts_balanced": fold.counts(train_idx[fit_local]),
            "epochs_trained": 0, "stopped_early": False,
            "train_time_s": time.perf_counter() - t0,
        }
        log.info("%s: LSM reservoir %d neurons (%d synapses), rate %.4f spikes/neuron/step "
                 "on the training windows; %s readout alpha=%g on %d features, train "
                 "accuracy %.4f", where, model.reservoir.n_neurons,
                 model.config["reservoir_summary"]["n_synapses"], train_rate,
                 model.spec["readout"]["type"], model.alpha, model.n_features,
                 model.fit_info["train_accuracy"])
        log.info("train: LSM readout fitted in %.1f s (reservoir run included)",
                 record["train_time_s"])
        ev = cfg.get("evaluate") or {}
        if ev.get("operating_point") and ev.get("positive_class") is not None:
            # no validation windows here: the threshold is chosen on the training windows
            self.operating_point = choose_operating_point(
                ev["operating_point"], fold.y[train_idx], model.predict_proba(feats[:n_tr]),
                list(fold.class_names).index(str(ev["positive_class"])), fold.class_names,
                "training")
            record["operating_point"] = self.operating_point
        summary = {k: record[k] for k in ("lsm", "warnings", "train_time_s")}
        return FitReport(record, test, summary)

    def predict_proba(self, spikes: Any, where: str = "predict") -> Prediction:
        """Readout probabilities and the reservoir's mean rate; a silent or saturated
        reservoir warns (logged, issued again and listed, prefixed with ``where``)."""
        model = self._fitted()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            feats, rates = model.run(spikes)
            proba = model.predict_proba(feats)
            rate = model.check_activity(rates)
        return Prediction(proba, {"reservoir": rate}, issue_warnings(where, caught))

    def raster(self, spikes: Any) -> dict[str, np.ndarray]:
        res_spikes, _ = self._fitted().reservoir(spikes)
        return {"layer0": np.asarray(res_spikes[:, 0])}

    def save(self, dest: Path) -> None:
        self._fitted().save(dest)
        write_operating_point(dest, self.operating_point)

    @classmethod
    def summarize(cls, cfg: Mapping[str, Any], reports: list[dict[str, Any]],
                  rates: list[dict[str, float]]) -> dict[str, Any]:
        return {"lsm": {"model": {k: cfg["model"][k] for k in ("reservoir", "features",
                                                                "readout")},
                        "reservoir": reports[0]["lsm"]["reservoir"],
                        "alpha": [r["lsm"]["alpha"] for r in reports],
                        "train_accuracy": [r["lsm"]["train_accuracy"] for r in reports],
                        "train_firing_rate": [r["lsm"]["train_firing_rate"] for r in reports],
                        "test_firing_rate": [r["reservoir"] for r in rates]}}
