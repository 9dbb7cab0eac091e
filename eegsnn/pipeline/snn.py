"""The feedforward SNN trained by BPTT (``model.type: snn``, the default): the one fold
trainer, used by the pipeline and by :class:`~eegsnn.interop.sklearn.SNNClassifier`, and
the pipeline model around it.

:func:`train_snn` turns encoded windows and labels into a trained network, one way for
every entry point:

1. validation windows are split off the training windows first (by ``groups`` when given,
   so that windows of one recording stay on one side; else stratified by class);
2. ``balance="oversample"`` then repeats training windows of the smaller classes
   (:func:`eegsnn.train.data.oversample`; validation windows are never repeated);
3. the network is built from the ``model`` section
   (:func:`~eegsnn.pipeline.modelspec.build_model_config`), the loss follows its readout
   (:func:`~eegsnn.pipeline.modelspec.default_loss`) unless ``train.loss`` is given, and a
   batch larger than the training set shrinks to it;
4. :func:`eegsnn.train.fit` trains it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.errors import DataError
from eegsnn.io.files import atomic_write_json
from eegsnn.model import build_model
from eegsnn.pipeline.contract import FitReport, Fold, PipelineModel, Prediction
from eegsnn.pipeline.metrics import (
    choose_operating_point,
    read_operating_point,
    softmax,
    write_operating_point,
)
from eegsnn.pipeline.modelspec import build_model_config, default_loss
from eegsnn.preprocess import check_disjoint, group_train_test_split
from eegsnn.train import ArrayDataset, TrainConfig, evaluate, fit, load_checkpoint, save_checkpoint
from eegsnn.train.data import oversample, split_indices

__all__ = ["SNNPipelineModel", "TrainedSNN", "split_validation", "train_snn"]

log = logging.getLogger("eegsnn.pipeline")


@dataclass
class TrainedSNN:
    """What :func:`train_snn` returns.

    Attributes:
        model: the trained :class:`~eegsnn.model.SpikingNet`.
        history: per-epoch records of :func:`eegsnn.train.fit`.
        stopped_early: early stopping ended the training.
        train_idx: training windows (validation windows removed), before balancing.
        val_idx: validation windows (``None``: none).
        fit_idx: the windows trained on (``train_idx`` oversampled when balancing).
        batch_size: the batch size used (shrunk to the training set when larger).
        train_time_s: seconds in :func:`eegsnn.train.fit`.
        resumed_from_epoch: epochs a checkpoint already held when training resumed (0: a
            fresh start); ``len(history) - resumed_from_epoch`` epochs ran in this call.
    """

    model: Any
    history: list[dict[str, Any]]
    stopped_early: bool
    train_idx: np.ndarray
    val_idx: np.ndarray | None
    fit_idx: np.ndarray
    batch_size: int
    train_time_s: float
    resumed_from_epoch: int = 0


def split_validation(train_idx: np.ndarray, fraction: float, seed: int, *,
                     groups: np.ndarray | None = None, y: np.ndarray | None = None,
                     keep_in_training: Sequence[str] = ()
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(train, validation)`` windows of ``train_idx``: ``fraction`` of the groups (when
    ``groups [W]`` is given; groups never straddle) or of each class's windows (``y [W]``).
    Groups in ``keep_in_training`` (``split.train_only``) are never drawn for validation:
    they stay on the training side."""
    if fraction <= 0:
        return train_idx, None
    if groups is not None and len(keep_in_training):
        keep = np.isin(np.asarray(groups).astype(str)[train_idx],
                       [str(g) for g in keep_in_training])
        tr, va = split_validation(train_idx[~keep], fraction, seed, groups=groups, y=y)
        return np.sort(np.concatenate([tr, train_idx[keep]])), va
    if groups is not None:
        tr, va = group_train_test_split(groups[train_idx], fraction, seed=seed)
        check_disjoint(groups, train_idx[tr], train_idx[va])
    else:
        tr, va = split_indices(len(train_idx), fraction, seed,
                               None if y is None else np.asarray(y)[train_idx])
    return train_idx[tr], train_idx[va]


def train_snn(model_spec: Mapping[str, Any], spikes: Any, y: np.ndarray, n_classes: int,
              train: Mapping[str, Any], *, train_idx: np.ndarray | None = None,
              balance: str | None = None, val_fraction: float = 0.0, val_seed: int = 0,
              groups: np.ndarray | None = None, keep_in_training: Sequence[str] = (),
              test_idx: np.ndarray | None = None,
              steps_per_s: float | None = None, run_dir: Path | None = None,
              progress: bool | None = None, resume: bool = True,
              extra_config: dict[str, Any] | None = None) -> TrainedSNN:
    """Train a network of ``model_spec`` on encoded windows (see the module docstring).

    Args:
        model_spec: a study config's ``model`` section.
        spikes: ``[T, W, L]`` encoded windows (MLX).
        y: ``[W]`` integer labels; ``n_classes``: number of classes.
        train: :class:`~eegsnn.train.TrainConfig` fields (``val_fraction`` is not one:
            the validation split is made here).
        train_idx: windows to train on (default: all).
        balance: ``None``/``"none"`` or ``"oversample"``.
        val_fraction, val_seed, groups, keep_in_training: the validation split
            (:func:`split_validation`; ``keep_in_training``: ``split.train_only`` groups).
        test_idx: windows evaluated after every epoch for the curves (never selects).
        steps_per_s: encoder steps per second (options of families in seconds).
        run_dir, progress, resume, extra_config: as :func:`eegsnn.train.fit`.
    """
    y = np.asarray(y, dtype=np.int64)
    if train_idx is None:
        train_idx = np.arange(len(y))
    train_idx, val_idx = split_validation(train_idx, float(val_fraction), int(val_seed),
                                          groups=groups, y=y,
                                          keep_in_training=keep_in_training)
    seed = int(train.get("seed", 0))
    fit_idx = train_idx[oversample(y[train_idx], seed)] if balance == "oversample" \
        else train_idx
    if len(fit_idx) == 0:
        raise DataError("no training windows left after the validation split")
    model_cfg = build_model_config(model_spec, int(spikes.shape[2]), int(n_classes),
                                   steps_per_s=steps_per_s)
    cfg = dict(train)
    cfg.setdefault("loss", default_loss(model_cfg["readout"]))
    if len(fit_idx) < int(cfg.get("batch_size", 128)) and cfg.get("drop_last", True):
        cfg["batch_size"] = len(fit_idx)
    tc = TrainConfig.from_dict(cfg)

    # Binary spike trains (rate, threshold-crossing codes) travel bit-packed through the
    # training step (1/32 of float32; exact, eegsnn.train.data); counts and currents as is.
    packed = int(spikes.shape[2]) >= 2 and bool(
        mx.all(mx.logical_or(spikes == 0, spikes == 1)).item())

    def dataset(idx: np.ndarray | None, pack: bool = False) -> ArrayDataset | None:
        if idx is None or not len(idx):
            return None
        return ArrayDataset(spikes[:, mx.array(idx.astype(np.int32))], y[idx],
                            time_major=True, packed=pack)

    t0 = time.perf_counter()
    train_data = dataset(fit_idx, packed)
    assert train_data is not None
    result = fit(model_cfg, train_data, tc, val=dataset(val_idx), test=dataset(test_idx),
                 run_dir=run_dir, progress=progress, resume=resume, extra_config=extra_config)
    return TrainedSNN(result.model, result.history, result.stopped_early, train_idx, val_idx,
                      fit_idx, tc.batch_size, time.perf_counter() - t0,
                      int(result.resumed_from_epoch))


class SNNPipelineModel(PipelineModel):
    """:func:`train_snn` and :func:`eegsnn.train.evaluate` behind the pipeline contract.

    A saved model holds ``model_config.json`` (the network), ``train_config.json`` and
    ``checkpoint/`` (weights), and ``operating_point.json`` when ``evaluate.operating_point``
    chose a threshold (:meth:`choose_operating_point`).
    """

    splits_validation = True

    type = "snn"
    files = ("checkpoint",)

    def __init__(self, cfg: Mapping[str, Any], net: Any = None,
                 operating_point: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.train = dict(cfg["train"])
        self.net = net
        self.operating_point = operating_point

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SNNPipelineModel:
        return cls(cfg)

    @classmethod
    def load(cls, src: Path, cfg: Mapping[str, Any]) -> SNNPipelineModel:
        try:
            model_cfg = json.loads((src / "model_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{src}: cannot read the model ({exc})") from exc
        net = build_model(model_cfg)
        load_checkpoint(src / "checkpoint", net)
        net.eval()
        return cls(cfg, net, read_operating_point(src))

    @property
    def n_inputs(self) -> int:
        return int(self.net.config["input_shape"][0])

    def fit(self, fold: Fold, work_dir: Path | None = None, *, progress: bool | None = None,
            where: str = "fit") -> FitReport:
        split = self.cfg["split"]
        trained = train_snn(
            self.cfg["model"], fold.spikes, fold.y, fold.n_classes, self.train,
            train_idx=fold.train_idx, balance=self.cfg["balance"],
            val_fraction=float(split["val_fraction"]), val_seed=int(split["seed"]) + 1,
            groups=fold.groups, keep_in_training=split.get("train_only") or (),
            test_idx=fold.test_idx, steps_per_s=fold.steps_per_s,
            run_dir=None if work_dir is None else work_dir / "train", progress=progress,
            extra_config={"study": self.cfg["name"], "pipeline": self.cfg["pipeline"],
                          "encoder": fold.encoder.get("params"),
                          "class_names": list(fold.class_names)})
        if trained.batch_size < int(self.train["batch_size"]):
            log.warning("training set (%d windows%s) is smaller than batch_size=%d: using %d",
                        len(trained.fit_idx), ", after oversampling" if
                        self.cfg["balance"] == "oversample" else "",
                        self.train["batch_size"], trained.batch_size)
        self.net = trained.model
        epochs_run = len(trained.history) - trained.resumed_from_epoch
        if trained.resumed_from_epoch:
            log.info("train: %d epochs in %.1f s (resumed at epoch %d; %d in all)", epochs_run,
                     trained.train_time_s, trained.resumed_from_epoch, len(trained.history))
        else:
            log.info("train: %d epochs in %.1f s", epochs_run, trained.train_time_s)
        record = {
            "train_windows": len(trained.train_idx),
            "train_windows_balanced": len(trained.fit_idx),
            "val_windows": 0 if trained.val_idx is None else len(trained.val_idx),
            "train_class_counts": fold.counts(trained.train_idx),
            "train_class_counts_balanced": fold.counts(trained.fit_idx),
            "epochs_trained": len(trained.history), "epochs_run": epochs_run,
            "resumed_from_epoch": trained.resumed_from_epoch,
            "stopped_early": trained.stopped_early,
            "train_time_s": trained.train_time_s,
        }
        self.operating_point = self.choose_operating_point(fold, trained, where)
        if self.operating_point is not None:
            record["operating_point"] = self.operating_point
        test = None
        if fold.test_idx is not None:
            test = self.predict_proba(fold.spikes[:, mx.array(fold.test_idx.astype(np.int32))])
        return FitReport(record, test)

    def choose_operating_point(self, fold: Fold, trained: TrainedSNN, where: str
                               ) -> dict[str, Any] | None:
        """The threshold of ``evaluate.operating_point`` (``None`` when not configured),
        chosen on the inner validation windows (``on: validation``; the training windows,
        before balancing, when there are none or ``on: training``); never on test windows.
        """
        ev = self.cfg.get("evaluate") or {}
        spec = ev.get("operating_point")
        if not spec or ev.get("positive_class") is None:
            return None
        use_val = spec.get("on", "validation") == "validation" \
            and trained.val_idx is not None and len(trained.val_idx) > 0
        idx = trained.val_idx if use_val else trained.train_idx
        assert idx is not None
        proba = self.predict_proba(fold.spikes[:, mx.array(idx.astype(np.int32))]).proba
        positive = list(fold.class_names).index(str(ev["positive_class"]))
        op = choose_operating_point(spec, fold.y[idx], proba, positive, fold.class_names,
                                    "validation" if use_val else "training")
        if op["threshold"] is not None:
            rule = op["rule"] + ("" if op.get("value") is None else f" {op['value']:g}")
            log.info("%s: operating point %s on %d %s windows: threshold %.4f "
                     "(sensitivity %.3f, specificity %.3f there)", where, rule,
                     op["windows"], op["on"], op["threshold"],
                     op["selection"]["sensitivity"], op["selection"]["specificity"])
        return op

    def predict_proba(self, spikes: Any, where: str = "predict") -> Prediction:
        """Softmax of the readout and mean firing rate per neuron layer (the labels of the
        evaluation pass do not enter the logits)."""
        data = ArrayDataset(spikes, mx.zeros(int(spikes.shape[1]), dtype=mx.int32),
                            time_major=True)
        res = evaluate(self.net, data, loss=self.train["loss"],
                       batch_size=int(self.train["eval_batch_size"]),
                       seed=int(self.train["seed"]))
        mx.eval(self.net.parameters())
        return Prediction(softmax(res.logits), res.layer_rates)

    def raster(self, spikes: Any) -> dict[str, np.ndarray]:
        self.net.eval()
        out = self.net(spikes)
        arrays = {f"layer{i}": np.asarray(s[:, 0].reshape(s.shape[0], -1))
                  for i, s in enumerate(out["layer_spikes"])}
        arrays["membrane"] = np.asarray(out["membrane"][:, 0])
        mx.eval(self.net.parameters())
        return arrays

    def save(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write_json(dest / "model_config.json", self.net.config)
        atomic_write_json(dest / "train_config.json", self.train)
        save_checkpoint(dest / "checkpoint", self.net)
        write_operating_point(dest, self.operating_point)

