"""The stage engine: run a declared pipeline from a study config, and evaluate a run.

:func:`run_pipeline` runs the stages of the config's pipeline (see
:mod:`eegsnn.pipeline.spec`)::

    load -> split -> [encode -> train -> evaluate -> baseline] per fold -> report

and writes a run directory::

    RUN/
      config.yaml         resolved study config (pipeline defaults and overrides applied)
      data.json           data provenance: source, manifest sha256, every input file's
                          sha256, channels, sampling rate, windows and classes
                          (never patient identity)
      splits.json         test groups of every fold, class counts in train/test
      environment.json    eegsnn.env.environment_record() (versions, device, BLAS)
      pipeline.log        one line per stage
      folds/fold-K/       encoder.json, model_config.json, train/ (history.json, train.log,
                          checkpoint/, curves.png), metrics.json, predictions.csv,
                          baseline.json, raster.npz
      model/              the deployable model: encoder.json, model_config.json,
                          checkpoint/ (holdout: the fold's model; kfold + refit: trained
                          on all windows); for ``model.type: lsm`` model_config.json holds
                          the reservoir config and seed and readout.npz the readout
                          weights instead of checkpoint/ (see eegsnn.pipeline.lsm)
      metrics.json        SNN and baseline metrics (pooled, per fold, mean and 95 % CI),
                          written last
      status.json         running | finished | interrupted | failed (see
                          eegsnn.pipeline.runstate): a folder is a finished run only when
                          it says finished
      report.html         (or report.md)

:func:`evaluate_run` applies a run's exact preprocessing, encoder and model to other
recordings and refuses data whose channels, sampling rate or window length do not fit.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import eegsnn.env as env
from eegsnn.encode import EEGEncoder, file_sha256
from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_json, atomic_write_text, dump_yaml
from eegsnn.manifest import load_manifest
from eegsnn.model import build_model
from eegsnn.pipeline import runstate
from eegsnn.pipeline.baselines import require_sklearn, run_baseline
from eegsnn.pipeline.config import apply_overrides, load_study_config, resolve_study_config
from eegsnn.pipeline.lsm import LSMModel
from eegsnn.pipeline.metrics import (
    aggregate_recordings,
    event_metrics,
    fold_summary,
    full_report,
    softmax,
)
from eegsnn.pipeline.modelspec import build_model_config
from eegsnn.pipeline.runstate import require_finished
from eegsnn.pipeline.spec import get_pipeline
from eegsnn.preprocess import (
    check_disjoint,
    group_kfold,
    group_train_test_split,
    leave_groups_out,
    load_windows,
)
from eegsnn.report import write_report
from eegsnn.report.plots import plot_confusion
from eegsnn.train import ArrayDataset, TrainConfig, evaluate, fit, load_checkpoint, save_checkpoint
from eegsnn.train.data import oversample

__all__ = ["EvaluationResult", "FoldResult", "RunResult", "encode_windows", "evaluate_run",
           "load_run_model", "make_folds", "run_pipeline"]

log = logging.getLogger("eegsnn.pipeline")

ENCODE_CHUNK = 256  # windows encoded at once (bounds memory on long recordings)
SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro",
                   "roc_auc_ovr_macro")


@dataclass
class FoldResult:
    """One fold: indices into the window set, test probabilities and metrics."""

    index: int
    train_idx: np.ndarray
    test_idx: np.ndarray
    proba: np.ndarray
    metrics: dict[str, Any]
    baseline_proba: np.ndarray | None = None
    baseline_metrics: dict[str, Any] | None = None
    firing_rates: dict[str, float] = field(default_factory=dict)
    train_time_s: float = 0.0


@dataclass
class RunResult:
    """What :func:`run_pipeline` returns.

    Attributes:
        run_dir: the run directory (``None`` when nothing was written).
        config: the resolved study config.
        metrics: the content of ``metrics.json``.
        folds: per-fold results.
        windows: the :class:`~eegsnn.preprocess.WindowSet` that was used.
    """

    run_dir: Path | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    folds: list[FoldResult]
    windows: Any = None

    @property
    def accuracy(self) -> float:
        return float(self.metrics["snn"]["pooled"]["accuracy"])


@dataclass
class EvaluationResult:
    """What :func:`evaluate_run` returns: metrics, probabilities and window metadata."""

    metrics: dict[str, Any]
    proba: np.ndarray
    y: np.ndarray
    recording: np.ndarray
    onset_s: np.ndarray
    class_names: tuple[str, ...]
    out_dir: Path | None = None


# ---------------------------------------------------------------------------- helpers


def class_counts(y: np.ndarray, class_names: Sequence[str]) -> dict[str, int]:
    """``{class name: number of windows}`` of labels ``y`` (every class, zeros included)."""
    c = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names))
    return {name: int(c[i]) for i, name in enumerate(class_names)}


def _pure_groups(groups: np.ndarray, y: np.ndarray) -> dict[str, int] | None:
    """``{group: class}`` when every group holds windows of one class only, else ``None``."""
    out: dict[str, int] = {}
    for g, c in zip(groups.tolist(), np.asarray(y).tolist(), strict=True):
        if out.setdefault(g, c) != c:
            return None
    return out


def make_folds(groups: np.ndarray, split: Mapping[str, Any], y: np.ndarray | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs from a ``split`` config; groups never straddle a split.

    When ``y`` is given and every group holds one class (Bonn segments, one-label
    recordings), holdout and k-fold splits are stratified: each class's groups are split
    on their own (holdout: ``test_fraction`` of each class's groups, at least one; k-fold:
    each class's shuffled groups dealt round-robin to the folds), so every test side holds
    every class in about the data's proportions. Otherwise the group splitters of
    :mod:`eegsnn.preprocess.splits` are used as they are.

    ``split.train_only`` names groups that are never tested: the folds are made from the
    other groups, and every fold's training side also gets all windows of these (transfer
    from related recordings, e.g. executed movement runs when imagined ones are tested).
    """
    groups = np.asarray(groups).astype(str)
    train_only = [str(g) for g in split.get("train_only") or []]
    if train_only:
        missing = sorted(set(train_only) - set(groups.tolist()))
        if missing:
            raise ConfigError(f"split.train_only: no windows of {', '.join(missing)} (the "
                              f"groups are {', '.join(sorted(set(groups.tolist())))})")
        always = np.isin(groups, train_only)
        tested = np.flatnonzero(~always)
        if tested.size == 0:
            raise ConfigError("split.train_only lists every group; nothing is left to test")
        inner = {**split, "train_only": []}
        sub = make_folds(groups[tested], inner, None if y is None else np.asarray(y)[tested])
        extra = np.flatnonzero(always)
        return [(np.sort(np.concatenate([tested[tr], extra])), tested[te]) for tr, te in sub]

    method = split["method"]
    seed = int(split["seed"])
    pure = _pure_groups(groups, y) if y is not None and method != "leave_groups_out" else None
    if pure is not None:
        rng = np.random.default_rng([seed, 31])
        by_class: dict[int, list[str]] = {}
        for g in sorted(pure):
            by_class.setdefault(pure[g], []).append(g)
        if method == "holdout":
            frac = float(split["test_fraction"])
            test_groups = []
            for members in by_class.values():
                order = rng.permutation(len(members))
                n_test = min(len(members) - 1, max(1, round(frac * len(members))))
                test_groups += [members[i] for i in order[:n_test]]
            if not test_groups:
                raise ConfigError("holdout split: no class has two groups to split")
            folds = [leave_groups_out(groups, test_groups)]
        else:
            k = int(split["n_splits"])
            n_groups = len(pure)
            if k < 2 or k > n_groups:
                raise ConfigError(f"split.n_splits must be in [2, {n_groups}] (the number of "
                                  f"groups), got {k}")
            fold_of: dict[str, int] = {}
            offset = 0
            for members in by_class.values():
                order = rng.permutation(len(members))
                for j, i in enumerate(order):
                    fold_of[members[i]] = (offset + j) % k
                offset += len(members)
            wf = np.array([fold_of[g] for g in groups.tolist()])
            folds = [(np.flatnonzero(wf != f), np.flatnonzero(wf == f)) for f in range(k)]
            if any(te.size == 0 or tr.size == 0 for tr, te in folds):
                raise ConfigError(f"split.n_splits={k} leaves a fold without test groups")
    elif method == "holdout":
        folds = [group_train_test_split(groups, float(split["test_fraction"]), seed=seed)]
    elif method == "kfold":
        folds = group_kfold(groups, int(split["n_splits"]), seed=seed)
    else:
        folds = [leave_groups_out(groups, [str(g) for g in split["test_groups"]])]
    for train, test in folds:
        check_disjoint(groups, train, test)
    return folds


def encode_windows(encoder: Any, X: np.ndarray, seed: int = 0) -> Any:
    """Encode ``X [W, C, n]`` in chunks of :data:`ENCODE_CHUNK`: ``mx.array [T, W, L]``.

    Chunk ``i`` of a ``rate`` code uses the PRNG key ``seed + i``, so the spikes of a
    window depend only on the seed and its position.
    """
    import mlx.core as mx

    parts = []
    for i, start in enumerate(range(0, len(X), ENCODE_CHUNK)):
        chunk = encoder.transform(X[start:start + ENCODE_CHUNK], key=seed + i)
        mx.eval(chunk)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else mx.concatenate(parts, axis=1)


def encoder_params(cfg: Mapping[str, Any], sfreq_hz: float) -> dict[str, Any]:
    """:class:`~eegsnn.encode.EEGEncoder` arguments of a resolved study config (its
    ``encoder`` section, the data's rate, the training seed unless the section sets one)."""
    params = {k: v for k, v in cfg["encoder"].items()}
    params["sfreq_hz"] = float(sfreq_hz)
    params.setdefault("seed", int(cfg["train"]["seed"]))
    return params


def _predictions_csv(path: Path, recording: np.ndarray, onset_s: np.ndarray,
                     y: np.ndarray | None, proba: np.ndarray, class_names: Sequence[str]
                     ) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["recording", "onset_s"] + (["true"] if y is not None else []) + [
        "predicted"] + [f"p_{c}" for c in class_names]
    writer.writerow(header)
    pred = proba.argmax(axis=1)
    for i in range(proba.shape[0]):
        row = [str(recording[i]), f"{float(onset_s[i]):.4f}"]
        if y is not None:
            row.append(class_names[int(y[i])])
        row.append(class_names[int(pred[i])])
        row += [f"{float(p):.6f}" for p in proba[i]]
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())


def _score(cfg: Mapping[str, Any], ws: Any, idx: np.ndarray, proba: np.ndarray
           ) -> dict[str, Any]:
    """Window-level report plus recording-level and event-level scores where configured."""
    ev = cfg["evaluate"]
    y = ws.y[idx]
    rep = full_report(y, proba, ws.class_names, ev["positive_class"])
    if ev["aggregate"]:
        try:
            names, ry, rp = aggregate_recordings(ws.recording[idx], y, proba)
            rec = full_report(ry, rp, ws.class_names, ev["positive_class"])
            rec["n_recordings"] = int(names.size)
            rep["recording_level"] = rec
        except ConfigError as exc:
            rep["recording_level"] = {"skipped": str(exc)}
    if ev["events"] is not None:
        win = cfg["dataset"]["windows"]
        positive = list(ws.class_names).index(str(ev["positive_class"]))
        rep["events"] = event_metrics(
            ws.recording[idx], ws.onset_s[idx], y, proba.argmax(axis=1), positive,
            float(win["window_s"]), float(win.get("step_s") or win["window_s"]),
            int(ev["events"]["min_windows"]))
    return rep


def _setup_log(run_dir: Path | None) -> logging.Handler | None:
    if run_dir is None:
        return None
    handler = logging.FileHandler(run_dir / "pipeline.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler


def _data_record(cfg: Mapping[str, Any], ws: Any) -> dict[str, Any]:
    """Provenance of the windows (no patient identity: only paths, checksums, counts)."""
    src = cfg["data"]["source"]
    record: dict[str, Any] = {"source": src, "root": cfg["data"]["root"]}
    if isinstance(src, str) and src.lower().endswith((".yaml", ".yml")):
        manifest = load_manifest(src)
        record["manifest"] = {"path": src, "name": manifest.name,
                              "sha256": file_sha256(src),
                              "license": getattr(manifest, "license", ""),
                              "citation": list(getattr(manifest, "citation", []) or [])}
    prov = ws.provenance
    record.update({
        "files": prov.get("files", []),
        "n_recordings": int(np.unique(ws.recording).size),
        "n_windows": len(ws),
        "class_names": list(ws.class_names),
        "class_counts": class_counts(ws.y, ws.class_names),
        "ch_names": list(ws.ch_names),
        "sfreq_hz": float(ws.sfreq_hz),
        "n_samples": int(ws.n_samples),
        "unit": ws.unit,
        "window_s": float(cfg["dataset"]["windows"]["window_s"]),
        "cache": {k: v for k, v in (prov.get("cache") or {}).items() if k != "dir"},
        "recordings": prov.get("recordings", []),
    })
    return record


# ---------------------------------------------------------------------------- training


def _train_fold(cfg: dict[str, Any], ws: Any, spikes: Any, train_idx: np.ndarray,
                fold_dir: Path | None, progress: bool | None, encoder_config: dict,
                test_idx: np.ndarray | None = None) -> tuple[Any, dict[str, Any]]:
    """Train a model on ``train_idx`` windows (validation groups split off, oversampled)."""
    import mlx.core as mx

    split = cfg["split"]
    groups = ws.groups(split["by"])
    val_idx = None
    if float(split["val_fraction"]) > 0:
        tr_local, va_local = group_train_test_split(groups[train_idx],
                                                    float(split["val_fraction"]),
                                                    seed=int(split["seed"]) + 1)
        val_idx, train_idx = train_idx[va_local], train_idx[tr_local]
        check_disjoint(groups, train_idx, val_idx)
    fit_idx = train_idx
    if cfg["balance"] == "oversample":
        fit_idx = train_idx[oversample(ws.y[train_idx], int(cfg["train"]["seed"]))]
    train_cfg = dict(cfg["train"])
    if len(fit_idx) < int(train_cfg["batch_size"]) and train_cfg.get("drop_last", True):
        log.warning("training set (%d windows) is smaller than batch_size=%d: using %d",
                    len(fit_idx), train_cfg["batch_size"], len(fit_idx))
        train_cfg["batch_size"] = len(fit_idx)
    tc = TrainConfig.from_dict(train_cfg)
    n_lines = int(spikes.shape[2])
    steps_per_s = int(spikes.shape[0]) * float(ws.sfreq_hz) / float(ws.n_samples)
    model_cfg = build_model_config(cfg["model"], n_lines, len(ws.class_names),
                                   steps_per_s=steps_per_s)

    def dataset(idx: np.ndarray) -> Any:
        return ArrayDataset(spikes[:, mx.array(idx.astype(np.int32))], ws.y[idx],
                            time_major=True)

    val = dataset(val_idx) if val_idx is not None and len(val_idx) else None
    test = dataset(test_idx) if test_idx is not None and len(test_idx) else None
    t0 = time.perf_counter()
    result = fit(model_cfg, dataset(fit_idx), tc, val=val, test=test,
                 run_dir=None if fold_dir is None else fold_dir / "train",
                 progress=progress, resume=True,
                 extra_config={"study": cfg["name"], "pipeline": cfg["pipeline"],
                               "encoder": encoder_config.get("params"),
                               "class_names": list(ws.class_names)})
    info = {
        "train_windows": len(train_idx), "train_windows_balanced": len(fit_idx),
        "val_windows": 0 if val_idx is None else len(val_idx),
        "train_class_counts": class_counts(ws.y[train_idx], ws.class_names),
        "train_class_counts_balanced": class_counts(ws.y[fit_idx], ws.class_names),
        "epochs_trained": len(result.history), "stopped_early": result.stopped_early,
        "train_time_s": time.perf_counter() - t0,
        "model_config": result.model.config,
        "history": result.history,
    }
    return result.model, info


def _caught(where: str, caught: list[warnings.WarningMessage]) -> list[str]:
    """Log caught warnings (prefixed with ``where``), issue them again, return the texts."""
    out = []
    for w in caught:
        text = f"{where}: {w.message}"
        log.warning(text)
        warnings.warn(text, w.category if isinstance(w.category, type) else RuntimeWarning,
                      stacklevel=3)
        out.append(text)
    return out


def _lsm_fold(cfg: dict[str, Any], ws: Any, spikes: Any, train_idx: np.ndarray,
              test_idx: np.ndarray | None, where: str
              ) -> tuple[Any, dict[str, Any], np.ndarray | None]:
    """Fit an LSM on ``train_idx`` windows; ``(model, info, test probabilities)``.

    The fixed reservoir runs once over the training and test windows; the closed-form
    readout is fitted on the training windows' features (oversampled like the SNN's
    training set when ``balance: oversample``), and predicts the test windows. Silent or
    saturated reservoirs (on the training windows, and on the test windows) are logged
    and listed in ``info["warnings"]``.
    """
    import mlx.core as mx

    t0 = time.perf_counter()
    if float(cfg["split"]["val_fraction"]) > 0:
        log.info("%s: model.type lsm chooses its readout regularisation by leave-one-out on "
                 "the training windows; split.val_fraction is not used", where)
    model = LSMModel(cfg["model"], int(spikes.shape[2]), len(ws.class_names))
    idx = train_idx if test_idx is None else np.concatenate([train_idx, test_idx])
    n_tr = len(train_idx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feats, rates = model.run(spikes[:, mx.array(idx.astype(np.int32))])
        train_rate = model.check_activity(rates[:n_tr])
    messages = _caught(f"{where}, reservoir on the training windows", caught)
    fit_local = np.arange(n_tr)
    if cfg["balance"] == "oversample":
        fit_local = oversample(ws.y[train_idx], int(cfg["train"]["seed"]))
    t_fit = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(feats[:n_tr], ws.y[train_idx], fit_local)
    messages += _caught(f"{where}, readout", caught)
    fit_s = time.perf_counter() - t_fit
    proba = None
    rates_out = {"reservoir": train_rate}
    if test_idx is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rates_out = {"reservoir": model.check_activity(rates[n_tr:])}
        messages += _caught(f"{where}, reservoir on the test windows", caught)
        proba = model.predict_proba(feats[n_tr:])
    info = {
        "train_windows": n_tr, "train_windows_balanced": len(fit_local), "val_windows": 0,
        "train_class_counts": class_counts(ws.y[train_idx], ws.class_names),
        "train_class_counts_balanced": class_counts(ws.y[train_idx][fit_local], ws.class_names),
        "epochs_trained": 0, "stopped_early": False,
        "train_time_s": time.perf_counter() - t0, "firing_rates": rates_out,
        "warnings": messages,
        "lsm": {**model.fit_info, "readout_fit_s": fit_s, "n_features": model.n_features,
                "train_firing_rate": train_rate,
                "reservoir": model.config["reservoir_summary"]},
    }
    log.info("%s: LSM reservoir %d neurons (%d synapses), rate %.4f spikes/neuron/step on "
             "the training windows; %s readout alpha=%g on %d features, train accuracy %.4f",
             where, model.reservoir.n_neurons, model.config["reservoir_summary"]["n_synapses"],
             train_rate, model.spec["readout"]["type"], model.alpha, model.n_features,
             model.fit_info["train_accuracy"])
    return model, info, proba


def _is_lsm_model(model: Any) -> bool:
    return isinstance(model, LSMModel)


def _save_model(dest: Path, model: Any, encoder_config: dict, train_config: dict) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_json(dest / "encoder.json", encoder_config)
    if _is_lsm_model(model):
        model.save(dest)
        return
    atomic_write_json(dest / "model_config.json", model.config)
    atomic_write_json(dest / "train_config.json", train_config)
    save_checkpoint(dest / "checkpoint", model)


def _predict(model: Any, spikes: Any, y: np.ndarray, cfg: Mapping[str, Any]
             ) -> tuple[np.ndarray, dict[str, float]]:
    """Probabilities ``[N, K]`` and mean firing rate per neuron layer (LSM: of the
    reservoir; a silent or saturated reservoir warns)."""
    import mlx.core as mx

    if _is_lsm_model(model):
        feats, rates = model.run(spikes)
        return model.predict_proba(feats), {"reservoir": model.check_activity(rates)}

    data = ArrayDataset(spikes, np.asarray(y, dtype=np.int64), time_major=True)
    res = evaluate(model, data, loss=cfg["train"]["loss"],
                   batch_size=int(cfg["train"]["eval_batch_size"]),
                   seed=int(cfg["train"]["seed"]))
    mx.eval(model.parameters())
    return softmax(res.logits), res.layer_rates


def _raster(model: Any, spikes: Any, index: int) -> dict[str, np.ndarray]:
    """Input spikes and every neuron layer's spikes of one window (for the report)."""
    import mlx.core as mx

    x = spikes[:, index:index + 1]
    if _is_lsm_model(model):
        res_spikes, _ = model.reservoir(x)
        return {"input": np.asarray(x[:, 0]), "layer0": np.asarray(res_spikes[:, 0])}
    model.eval()
    out = model(x)
    arrays = {"input": np.asarray(x[:, 0])}
    for i, s in enumerate(out["layer_spikes"]):
        arrays[f"layer{i}"] = np.asarray(s[:, 0].reshape(s.shape[0], -1))
    arrays["membrane"] = np.asarray(out["membrane"][:, 0])
    mx.eval(model.parameters())
    return arrays


# ---------------------------------------------------------------------------- engine


def run_pipeline(config: Mapping[str, Any] | str | os.PathLike,
                 out_dir: str | os.PathLike | None = None, *, overrides: Sequence[str] = (),
                 progress: bool | None = None, resume: bool = False,
                 overwrite: bool = False) -> RunResult:
    """Run a study end to end (see the module docstring for the stages and outputs).

    Args:
        config: a study config file (YAML) or an already loaded dict (relative data paths
            then resolve against the working directory).
        out_dir: run directory (``None``: nothing is written).
        overrides: ``key.sub=value`` strings applied to the config first.
        progress: progress bars (``None``: only on a terminal).
        resume: continue the run in ``out_dir`` (same config; ``train.epochs`` may
            differ): each fold's training resumes from its last checkpoint.
        overwrite: delete an existing run in ``out_dir`` first.

    ``out_dir/status.json`` says ``running`` from the start and ``finished`` only after
    ``metrics.json`` and the report are written (``interrupted`` or ``failed`` when the
    run stops early; see :mod:`eegsnn.pipeline.runstate`).

    Raises:
        ConfigError: bad config, or ``out_dir`` holds files or another run (without
        ``resume`` or ``overwrite``; a different config even with ``resume``), or a run
        still in progress. DataError / ChecksumError: bad or changed data.
    """
    if isinstance(config, (str, os.PathLike)):
        cfg = load_study_config(config, overrides)
    else:
        cfg = resolve_study_config(apply_overrides(config, overrides))

    spec = get_pipeline(cfg["pipeline"])
    if "baseline" in spec.stages and cfg.get("baseline") is not None:
        # Fail before any work (not after training) when the baseline's extra is missing.

        require_sklearn(cfg["baseline"]["type"])
    src = cfg["data"]["source"]
    for p in (src if isinstance(src, list) else [src]):
        if not Path(p).exists():
            raise DataError(f"{p}: file or folder not found (data.source)")
    run_dir = Path(out_dir) if out_dir is not None else None
    if run_dir is not None:
        _check_run_dir(run_dir, cfg, resume=resume, overwrite=overwrite)
        if overwrite and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        # status.json says "running" until the very end (metrics.json and report written)
        runstate.mark_started(run_dir)
    handler = _setup_log(run_dir)
    try:
        result = _run(cfg, spec, run_dir, progress)
    except BaseException as exc:  # Ctrl-C or an error: the folder stays marked incomplete
        if run_dir is not None:
            runstate.mark_ended(run_dir, exc)
        raise
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
    if run_dir is not None:
        runstate.mark_ended(run_dir)
    return result


def _check_run_dir(run_dir: Path, cfg: dict[str, Any], *, resume: bool, overwrite: bool
                   ) -> None:
    """Refuse an output folder that ``run_pipeline`` must not write into (see there)."""
    if overwrite:
        record = runstate.read_status(run_dir) if run_dir.is_dir() else None
        if record is not None and runstate.is_alive(record):
            raise ConfigError(f"{run_dir}: a run is in progress there (pid {record['pid']}); "
                              "stop it before --overwrite")
        return
    state = runstate.inspect_run(run_dir, cfg)
    if state.kind == "empty":
        return
    if state.kind == "busy":
        raise ConfigError(f"{run_dir}: a run is in progress there (pid {state.status['pid']}); "
                          "wait for it, or use another --out folder")
    if state.kind == "foreign":
        raise ConfigError(f"{run_dir}: folder exists, is not empty and holds no eegsnn run; "
                          "use another --out folder (--overwrite deletes what it holds)")
    changes = [c for c in state.changes if not (resume and c.startswith("train.epochs"))]
    if changes:
        shown = ", ".join(changes[:4]) + (f" and {len(changes) - 4} more"
                                          if len(changes) > 4 else "")
        hint = ("; --resume continues it to the new train.epochs"
                if state.only_epochs_changed else " (--resume needs the same config)")
        raise ConfigError(f"{run_dir}: holds a run with a different config ({shown}); use a "
                          f"new --out folder, or --overwrite to replace it{hint}")
    if not resume:
        what = "a finished" if state.kind == "finished" else "an unfinished"
        raise ConfigError(f"{run_dir}: holds {what} run with this config; use --resume to "
                          "continue it or --overwrite to replace it")


def _run(cfg: dict[str, Any], spec: Any, run_dir: Path | None, progress: bool | None
         ) -> RunResult:
    import mlx.core as mx

    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    if run_dir is not None:
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        atomic_write_json(run_dir / "environment.json", env.environment_record())
    log.info("pipeline %s (%s): stages %s", cfg["name"], cfg["pipeline"],
             " -> ".join(spec.stages))

    # load: read -> preprocess -> window/label
    t0 = time.perf_counter()
    ws = load_windows(cfg["data"]["source"], cfg["dataset"], root=cfg["data"]["root"],
                      cache_dir=cfg.get("cache_dir"))
    timing["load_s"] = time.perf_counter() - t0
    if len(np.unique(ws.y)) < 2:
        raise DataError(f"{cfg['data']['source']}: the windows hold only one class "
                        f"({ws.class_names[int(ws.y[0])]}); a classifier needs two or more")
    data_record = _data_record(cfg, ws)
    if run_dir is not None:
        atomic_write_json(run_dir / "data.json", data_record)
    log.info("load: %d windows from %d recordings, %d channels at %g Hz, classes %s",
             len(ws), data_record["n_recordings"], ws.n_channels, ws.sfreq_hz,
             data_record["class_counts"])

    groups = ws.groups(cfg["split"]["by"])
    folds = make_folds(groups, cfg["split"], ws.y) if "split" in spec.stages else []
    if run_dir is not None:
        atomic_write_json(run_dir / "splits.json", {
            "method": cfg["split"]["method"], "by": cfg["split"]["by"],
            "folds": [{"fold": k + 1,
                       "test_groups": sorted(set(groups[te].tolist())),
                       "train_class_counts": class_counts(ws.y[tr], ws.class_names),
                       "test_class_counts": class_counts(ws.y[te], ws.class_names)}
                      for k, (tr, te) in enumerate(folds)]})
    log.info("split: %s by %s, %d fold(s)", cfg["split"]["method"], cfg["split"]["by"],
             len(folds))

    lsm = cfg["model"].get("type") == "lsm"
    fold_results: list[FoldResult] = []
    raster: dict[str, np.ndarray] | None = None
    last_model = last_encoder_config = None
    for k, (train_idx, test_idx) in enumerate(folds):
        fold_dir = None if run_dir is None else run_dir / "folds" / f"fold-{k + 1}"
        if fold_dir is not None:
            fold_dir.mkdir(parents=True, exist_ok=True)
        log.info("fold %d/%d: %d train windows, %d test windows", k + 1, len(folds),
                 len(train_idx), len(test_idx))
        # encode (fit on this fold's training windows only)
        t0 = time.perf_counter()
        encoder = EEGEncoder(**encoder_params(cfg, ws.sfreq_hz)).fit(ws.X[train_idx],
                                                                     ws.y[train_idx])
        enc_config = encoder.to_config()
        spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
        timing[f"encode_s_fold{k + 1}"] = time.perf_counter() - t0
        log.info("encode: %s -> spikes [T=%d, W=%d, L=%d]", cfg["encoder"]["method"],
                 spikes.shape[0], spikes.shape[1], spikes.shape[2])
        if "train" not in spec.stages:
            continue
        if lsm:
            model, info, proba = _lsm_fold(cfg, ws, spikes, train_idx, test_idx,
                                           f"fold {k + 1}")
            rates = info["firing_rates"]
            log.info("train: LSM readout fitted in %.1f s (reservoir run included)",
                     info["train_time_s"])
        else:
            model, info = _train_fold(cfg, ws, spikes, train_idx, fold_dir, progress,
                                      enc_config, test_idx)
            log.info("train: %d epochs in %.1f s", info["epochs_trained"],
                     info["train_time_s"])
            proba, rates = _predict(model, spikes[:, mx.array(test_idx.astype(np.int32))],
                                    ws.y[test_idx], cfg)
        rep = _score(cfg, ws, test_idx, proba)
        rep["firing_rates"] = rates
        if lsm:
            rep["lsm"] = info["lsm"]
            rep["warnings"] = info["warnings"]
        rep.update({key: info[key] for key in (
            "train_windows", "train_windows_balanced", "val_windows", "train_class_counts",
            "train_class_counts_balanced", "epochs_trained", "stopped_early", "train_time_s")})
        rep["test_class_counts"] = class_counts(ws.y[test_idx], ws.class_names)
        fr = FoldResult(k + 1, train_idx, test_idx, proba, rep, firing_rates=rates,
                        train_time_s=info["train_time_s"])
        log.info("evaluate: fold %d accuracy %.4f balanced %.4f", k + 1, rep["accuracy"],
                 rep["balanced_accuracy"])
        if raster is None:
            raster = _raster(model, spikes, int(test_idx[0]))
            raster["class"] = np.array(ws.class_names[int(ws.y[test_idx[0]])])
            raster["recording"] = np.array(str(ws.recording[test_idx[0]]))
        if "baseline" in spec.stages and cfg["baseline"] is not None:
            t0 = time.perf_counter()
            bp = run_baseline(cfg["baseline"], ws.X[train_idx], ws.y[train_idx],
                              ws.X[test_idx], ws.sfreq_hz, len(ws.class_names),
                              seed=int(cfg["train"]["seed"]))
            fr.baseline_proba = bp
            fr.baseline_metrics = _score(cfg, ws, test_idx, bp)
            fr.baseline_metrics["fit_time_s"] = time.perf_counter() - t0
            log.info("baseline %s: fold %d accuracy %.4f", cfg["baseline"]["type"], k + 1,
                     fr.baseline_metrics["accuracy"])
        if fold_dir is not None:
            _save_model(fold_dir, model, enc_config, cfg["train"])
            atomic_write_json(fold_dir / "metrics.json", rep)
            _predictions_csv(fold_dir / "predictions.csv", ws.recording[test_idx],
                             ws.onset_s[test_idx], ws.y[test_idx], proba, ws.class_names)
            if fr.baseline_metrics is not None:
                atomic_write_json(fold_dir / "baseline.json", {"baseline": cfg["baseline"],
                                                         **fr.baseline_metrics})
                _predictions_csv(fold_dir / "baseline_predictions.csv",
                                 ws.recording[test_idx], ws.onset_s[test_idx],
                                 ws.y[test_idx], fr.baseline_proba, ws.class_names)
            if k == 0 and raster is not None:
                np.savez_compressed(fold_dir / "raster.npz", **raster)
        fold_results.append(fr)
        last_model, last_encoder_config = model, enc_config

    # deployable model
    if run_dir is not None and last_model is not None:
        if cfg["split"]["method"] == "kfold" and cfg["split"]["refit"]:
            log.info("refit: training the final model on all %d windows", len(ws))
            all_idx = np.arange(len(ws))
            encoder = EEGEncoder(**encoder_params(cfg, ws.sfreq_hz)).fit(ws.X, ws.y)
            enc_config = encoder.to_config()
            spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
            if lsm:
                model, info, _ = _lsm_fold(cfg, ws, spikes, all_idx, None, "refit")
                atomic_write_json(run_dir / "model" / "fit.json", {
                    k: info[k] for k in ("lsm", "warnings", "train_time_s")})
            else:
                model, _ = _train_fold(cfg, ws, spikes, all_idx, run_dir / "refit",
                                       progress, enc_config)
            _save_model(run_dir / "model", model, enc_config, cfg["train"])
            note = "trained on all windows after cross-validation"
        else:
            _save_model(run_dir / "model", last_model, last_encoder_config, cfg["train"])
            note = "the model of the last fold"
        atomic_write_json(run_dir / "model" / "about.json", {"note": note, "study": cfg["name"]})

    metrics = _aggregate(cfg, ws, fold_results)
    timing["total_s"] = time.perf_counter() - t_start
    metrics["timing"] = timing
    if run_dir is not None:
        atomic_write_json(run_dir / "metrics.json", metrics)
        if raster is not None:
            np.savez_compressed(run_dir / "raster.npz", **raster)
        if "report" in spec.stages and cfg["report"]["format"] != "none":
            for path in write_report(run_dir, fmt=cfg["report"]["format"]):
                log.info("report: %s", path)
    log.info("done in %.1f s: accuracy %.4f", timing["total_s"],
             metrics["snn"]["pooled"]["accuracy"] if fold_results else float("nan"))
    return RunResult(run_dir, cfg, metrics, fold_results, ws)


def _summaries(reports: list[dict[str, Any]]) -> dict[str, Any]:
    out = {m: fold_summary([r.get(m) for r in reports]) for m in SUMMARY_METRICS}
    if reports and "positive" in reports[0]:
        for m in ("sensitivity", "specificity", "roc_auc"):
            out[m] = fold_summary([r["positive"].get(m) for r in reports])
    return out


def _aggregate(cfg: dict[str, Any], ws: Any, folds: list[FoldResult]) -> dict[str, Any]:
    """metrics.json: pooled (every window once, by its fold's model), per fold, summaries."""
    out: dict[str, Any] = {
        "study": cfg["name"], "pipeline": cfg["pipeline"],
        "split": {k: cfg["split"][k] for k in ("method", "by", "train_only")},
        "n_folds": len(folds),
        "class_names": list(ws.class_names), "balance": cfg["balance"],
        "class_counts": class_counts(ws.y, ws.class_names), "seed": int(cfg["train"]["seed"]),
        "model_type": cfg["model"].get("type", "snn"),
    }
    if not folds:
        return out
    test = np.concatenate([f.test_idx for f in folds])
    proba = np.concatenate([f.proba for f in folds])
    pooled = _score(cfg, ws, test, proba)
    rates = {name: float(np.mean([f.firing_rates[name] for f in folds]))
             for name in folds[0].firing_rates}
    out["snn"] = {"pooled": pooled, "folds": [f.metrics for f in folds],
                  "summary": _summaries([f.metrics for f in folds]), "firing_rates": rates}
    if out["model_type"] == "lsm":
        out["lsm"] = {"model": {k: cfg["model"][k] for k in ("reservoir", "features",
                                                               "readout")},
                      "reservoir": folds[0].metrics["lsm"]["reservoir"],
                      "alpha": [f.metrics["lsm"]["alpha"] for f in folds],
                      "train_accuracy": [f.metrics["lsm"]["train_accuracy"] for f in folds],
                      "train_firing_rate": [f.metrics["lsm"]["train_firing_rate"]
                                            for f in folds],
                      "test_firing_rate": [f.firing_rates["reservoir"] for f in folds]}
    notes = [w for f in folds for w in f.metrics.get("warnings", [])]
    if notes:
        out["warnings"] = notes
    for key in ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro"):
        out[key] = pooled[key]
    if "positive" in pooled:
        out["sensitivity"] = pooled["positive"]["sensitivity"]
        out["specificity"] = pooled["positive"]["specificity"]
        out["roc_auc"] = pooled["positive"]["roc_auc"]
    if folds[0].baseline_proba is not None:
        bproba = np.concatenate([f.baseline_proba for f in folds])
        out["baseline"] = {"type": cfg["baseline"]["type"], "config": cfg["baseline"],
                           "pooled": _score(cfg, ws, test, bproba),
                           "folds": [f.baseline_metrics for f in folds],
                           "summary": _summaries([f.baseline_metrics for f in folds])}
    return out


# ---------------------------------------------------------------------------- evaluate


def load_run_model(run_dir: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any], Any,
                                                         Any]:
    """``(config, data record, encoder, model)`` of a finished run.

    Raises:
        DataError: ``run_dir`` is not a finished eegsnn run (names the missing file).
    """
    import yaml

    run_dir = Path(run_dir)
    require_finished(run_dir)
    needed = [run_dir / "config.yaml", run_dir / "data.json", run_dir / "model" /
              "encoder.json", run_dir / "model" / "model_config.json"]
    if not (run_dir / "model" / "readout.npz").is_file():
        needed.append(run_dir / "model" / "checkpoint")
    for p in needed:
        if not p.exists():
            raise DataError(f"{run_dir}: not a finished eegsnn run ({p.relative_to(run_dir)} "
                            "is missing)")
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        record = json.loads((run_dir / "data.json").read_text(encoding="utf-8"))
        enc_cfg = json.loads((run_dir / "model" / "encoder.json").read_text(encoding="utf-8"))
        model_cfg = json.loads((run_dir / "model" / "model_config.json").read_text(
            encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise DataError(f"{run_dir}: corrupt run record ({exc})") from exc
    encoder = EEGEncoder.from_config(enc_cfg)
    if model_cfg.get("type") == "lsm":
        return cfg, record, encoder, LSMModel.load(run_dir / "model")
    model = build_model(model_cfg)
    load_checkpoint(run_dir / "model" / "checkpoint", model)
    model.eval()
    return cfg, record, encoder, model


def default_root(source: Any, root: Any, dataset: Mapping[str, Any]) -> Any:
    """Root for labels read from paths: a folder or files given alone are labelled by
    their parent folder's name (Bonn ``S/``), so the root is taken one level up."""
    if root is not None or (dataset.get("labels") or {}).get("source") != "path":
        return root
    paths = [Path(p) for p in (source if isinstance(source, (list, tuple)) else [source])]
    if any(p.suffix.lower() in (".yaml", ".yml") for p in paths):
        return root  # a manifest names its own root
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0].resolve().parent
    if paths and all(p.is_file() for p in paths):
        parents = {p.resolve().parent for p in paths}
        if len(parents) == 1:
            return parents.pop().parent
    return root


def check_compatible(ws: Any, record: Mapping[str, Any], source: str, run_dir: Path) -> None:
    """Refuse windows whose sampling rate, channels or length differ from the run's.

    Raises:
        DataError: one line naming the data, the run and the difference.
    """
    if not np.isclose(ws.sfreq_hz, record["sfreq_hz"]):
        raise DataError(f"{source}: sampling rate {ws.sfreq_hz:g} Hz (after the run's "
                        f"preprocessing) does not fit the run {run_dir}, trained at "
                        f"{record['sfreq_hz']:g} Hz; resample the recordings first")
    trained = list(record["ch_names"])
    got = list(ws.ch_names)
    if got != trained:
        missing = [c for c in trained if c not in got]
        extra = [c for c in got if c not in trained]
        detail = (f"missing {missing[:8]}" if missing else "") + \
                 (f"{'; ' if missing else ''}extra {extra[:8]}" if extra else "")
        raise DataError(f"{source}: channels do not fit the run {run_dir} (trained on "
                        f"{len(trained)} channels; {detail or 'different order'})")
    if ws.n_samples != int(record["n_samples"]):
        raise DataError(f"{source}: windows of {ws.n_samples} samples, the run {run_dir} "
                        f"was trained on {record['n_samples']}")


def evaluate_run(run_dir: str | os.PathLike, source: Any = None, *,
                 root: str | os.PathLike | None = None,
                 out_dir: str | os.PathLike | None = None, predict: bool = False,
                 cache_dir: str | os.PathLike | None = None) -> EvaluationResult:
    """Apply a run's preprocessing, encoder and model to recordings; score them.

    Args:
        run_dir: a finished run of :func:`run_pipeline`.
        source: recording files, a folder or a data manifest (default: the run's own data
            source, i.e. every window, training windows included).
        root: dataset root for ``source``.
        out_dir: where ``metrics.json`` (and ``predictions.csv``, ``confusion.png``) go
            (``None``: nothing is written).
        predict: write per-window predictions with class probabilities.

    Raises:
        DataError: the data do not fit the run (channels, sampling rate, window length),
        or ``run_dir`` is not a finished run.
    """
    run_dir = Path(run_dir)
    cfg, record, encoder, model = load_run_model(run_dir)
    if source is None:
        source, root = cfg["data"]["source"], cfg["data"]["root"] if root is None else root
    if isinstance(source, (list, tuple)) and len(source) == 1:
        source = source[0]
    src_name = str(source) if not isinstance(source, (list, tuple)) else \
        f"{len(source)} files"
    root = default_root(source, root, cfg["dataset"])
    ws = load_windows(source, cfg["dataset"], root=root,
                      cache_dir=cache_dir if cache_dir is not None else cfg.get("cache_dir"))
    check_compatible(ws, record, src_name, run_dir)
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    if spikes.shape[2] != model.config["input_shape"][0]:
        raise DataError(f"{src_name}: encoder gives {spikes.shape[2]} lines, the model takes "
                        f"{model.config['input_shape'][0]}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba, rates = _predict(model, spikes, ws.y, cfg)
    messages = _caught(f"evaluate {src_name}", caught) if _is_lsm_model(model) else []
    if not _is_lsm_model(model):
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
    rep = _score(cfg, ws, np.arange(len(ws)), proba)
    rep["firing_rates"] = rates
    if messages:
        rep["warnings"] = messages
    rep["data"] = {"source": source if isinstance(source, str) else [str(s) for s in source],
                   "files": ws.provenance.get("files", []), "n_windows": len(ws),
                   "class_counts": class_counts(ws.y, ws.class_names)}
    rep["run"] = str(run_dir)
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "metrics.json", rep)
        if predict:
            _predictions_csv(out / "predictions.csv", ws.recording, ws.onset_s, ws.y, proba,
                             ws.class_names)

        plot_confusion(np.asarray(rep["confusion_matrix"]), ws.class_names,
                       out / "confusion.png")
    return EvaluationResult(copy.deepcopy(rep), proba, ws.y, ws.recording, ws.onset_s,
                            ws.class_names, out)
