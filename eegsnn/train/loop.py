"""The training loop: epochs of compiled steps, evaluation, early stopping, checkpoints,
resumption and the run-directory record.

:func:`fit` is generic: it trains any :class:`~eegsnn.model.SpikingNet` on an
:class:`~eegsnn.train.data.ArrayDataset` of spike trains ``[T, N, ...]`` (EEG pipelines) or
static samples ``[N, ...]`` with an in-step encoder (MNIST), or on any other
:class:`~eegsnn.train.data.BatchSource`, e.g. packed spike shards streamed from disk
(:class:`eegsnn.encode.shards.ShardedSpikes`). It is the one epoch loop of eegsnn: alone
or data-parallel, in memory or streamed, the same steps, evaluation, early stopping,
checkpoints and resumption.

Inside an epoch the host never reads a value back except every ``log_every`` steps for the
progress bar (and only when a bar is shown): loss and accuracy are accumulated as MLX arrays
and read once at the end of the epoch.

Run directory (when ``run_dir`` is given)::

    config.json        resolved model + train config, seed, data description
    environment.json   eegsnn.env.environment_record()
    history.json       per-epoch records: ``train_*`` (training), ``val_*`` (validation:
                       early stopping and best-epoch selection), ``heldout_*`` (held-out
                       monitoring of ``test=``, never used for model selection; histories
                       written before this name used ``test_*``), time
    train.log          one line per epoch
    checkpoint/        last checkpoint (see eegsnn.train.checkpoint); resumed automatically
    best/              best weights by the early-stopping metric (when early stopping is on)
    metrics.json       final evaluation (accuracy, balanced_accuracy, cohen_kappa, f1_macro,
                       confusion_matrix, ...; roc_auc for two classes; firing rates)
    curves.png         loss/accuracy curves (needs matplotlib)

Data parallelism: under ``mlx.launch`` (``distributed="auto"``, the default, joins the
group the launcher started; or pass a :class:`~eegsnn.distributed.DistContext`) every
process holds a replica, rank 0's initial parameters are copied to all before the
optimizer is initialised, each rank trains on its slice of every global batch (what the
source's ``iter_batches(..., rank=, world_size=)`` yields; for an ``ArrayDataset`` a
contiguous :func:`~eegsnn.comm.sharding.shard_range` slice), gradients weighted by slice
size and averaged with one all-reduce (the full-batch gradient), every rank evaluates (so early
stopping decides the same everywhere; rank 0's metric is used), and only rank 0 writes the
run directory and shows progress; the others wait at a barrier after each checkpoint.
A resumed run is read by rank 0 and broadcast. Alone (size 1) nothing changes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

import mlx.core as mx
import mlx.nn as nn
import numpy as np

import eegsnn.env as env
from eegsnn.comm.group import (
    DistContext,
    barrier,
    broadcast_json,
    broadcast_state,
    init_distributed,
    single_process,
    sync_parameters,
)
from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.metrics import classification_report
from eegsnn.io.files import atomic_write_json
from eegsnn.model.network import NEURONS, SpikingNet, build_model
from eegsnn.train.augment import make_augment
from eegsnn.train.checkpoint import load_checkpoint, read_checkpoint_state, save_checkpoint
from eegsnn.train.config import TrainConfig
from eegsnn.train.data import ArrayDataset, BatchSource, Encoder, split_indices, step_seed
from eegsnn.train.fused import FusedEvalStep, FusedTrainStep, default_eval_step, select_engine
from eegsnn.train.history import plot_history
from eegsnn.train.losses import get_loss
from eegsnn.train.parallel import make_data_parallel_step
from eegsnn.train.progress import TrainProgress
from eegsnn.train.step import build_optimizer, make_eval_step, make_train_step

EVAL_EPOCH = 2**31 - 1  # PRNG stream of evaluation passes: fixed, independent of training


class EarlyStoppingState(TypedDict):
    """Early-stopping bookkeeping (saved in the checkpoint's ``state.json``)."""

    best: float | None        # best value of the metric so far
    best_epoch: int | None    # 1-based epoch that reached it
    bad_epochs: int           # epochs since the last improvement


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate`: mean loss, logits ``[N, C]``, labels, firing rates."""

    loss: float
    logits: np.ndarray
    labels: np.ndarray
    layer_rates: dict[str, float]

    @property
    def predictions(self) -> np.ndarray:
        return self.logits.argmax(axis=1)

    def report(self) -> dict[str, Any]:
        """Metrics dict (see :func:`eegsnn.evaluate.metrics.classification_report`)."""
        num_classes = self.logits.shape[1]
        scores = self.logits if num_classes == 2 else None
        out = classification_report(self.labels, self.predictions, scores, num_classes)
        out["loss"] = self.loss
        out["firing_rates"] = self.layer_rates
        return out


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained model, per-epoch history and final metrics."""

    model: SpikingNet
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    stopped_early: bool = False
    resumed_from_epoch: int = 0
    world_size: int = 1
    #: the training step used: ``"fused"`` (:mod:`eegsnn.train.fused`) or ``"mlx"``
    engine: str = "mlx"


def layer_names(model: SpikingNet) -> list[str]:
    """Names of the neuron layers, e.g. ``["layers.1.leaky", "layers.3.leaky"]``."""
    return [f"layers.{i}.{kind}" for i, kind in enumerate(model.kinds) if kind in NEURONS]


def evaluate(model: SpikingNet, data: ArrayDataset, *, loss: dict | str | None = None,
             encoder: Encoder | None = None, batch_size: int = 1000, seed: int = 0,
             eval_fn: Any = None) -> EvalResult:
    """Run ``model`` (eval mode) over ``data``; returns loss, logits and firing rates.

    Encodings use PRNG keys that depend only on ``seed`` and the batch index, so two
    evaluations of the same model give identical results.
    """
    loss_fn, _ = get_loss(loss or {"type": "ce_membrane", "reduce": "final"})
    was_training = model.training
    model.eval()
    fn = eval_fn or default_eval_step(model, loss_fn, encoder)
    n = len(data)
    losses, logits, rates = [], [], []
    for b, start in enumerate(range(0, n, batch_size)):
        idx = mx.arange(start, min(start + batch_size, n))
        x, y = data.batch(idx)
        key = mx.random.key(step_seed(seed, EVAL_EPOCH, b))
        batch_loss, batch_logits, batch_rates = fn(x, y, key)
        weight = idx.shape[0]
        losses.append(batch_loss * weight)
        rates.append(batch_rates * weight)
        logits.append(batch_logits)
        mx.async_eval(losses[-1], rates[-1], logits[-1])
    total_loss = mx.stack(losses).sum() / n
    total_rates = mx.stack(rates).sum(axis=0) / n
    all_logits = mx.concatenate(logits, axis=0)
    mx.eval(total_loss, total_rates, all_logits)
    if was_training:
        model.train()
    names = layer_names(model)
    return EvalResult(
        loss=float(total_loss),
        logits=np.array(all_logits),
        labels=np.array(data.labels),
        layer_rates={name: float(r) for name, r in zip(names, np.array(total_rates),
                                                       strict=True)},
    )


def resolve_distributed(distributed: Any) -> Any:
    """``"auto"`` / ``None`` / a DistContext -> a DistContext."""
    if distributed is None:
        return single_process()
    if isinstance(distributed, str):
        if distributed != "auto":
            raise ConfigError(f"distributed must be 'auto', None or a DistContext, got "
                              f"{distributed!r}")
        return init_distributed()
    if not isinstance(distributed, DistContext):
        raise ConfigError(f"distributed must be 'auto', None or a DistContext, got "
                          f"{type(distributed).__name__}")
    return distributed


def _log(run_dir: Path | None, line: str) -> None:
    if run_dir is not None:
        with open(run_dir / "train.log", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _metric_value(entry: dict[str, Any], metric: str) -> float:
    value = entry.get(metric)
    if value is None:
        raise ConfigError(f"early stopping metric {metric!r} is not available (no validation "
                          "set: set val_fraction > 0 or pass val=)")
    return float(value)


def _checkpoint_due(cfg: TrainConfig, epoch: int, epochs_run: int,
                    stop_after_epochs: int | None) -> bool:
    """Whether the epoch ``epoch`` (0-based) ends with a checkpoint."""
    return (epoch + 1 == cfg.epochs
            or bool(cfg.checkpoint_every and (epoch + 1) % cfg.checkpoint_every == 0)
            or (stop_after_epochs is not None and epochs_run >= stop_after_epochs))


def check_datasets(model: SpikingNet, datasets: dict[str, Any],
                   encoder: Encoder | None) -> None:
    """Refuse data that ``model`` cannot be trained or scored on, before any step: a label
    outside ``0 .. C - 1`` for a model of ``C`` outputs (it indexed past the logits: the
    process crashed, or trained on a loss of -1e28), inputs that are not time-major
    ``[T, N, ...]`` without an ``encoder``, and NaN or infinite inputs (a NaN membrane never
    spikes: the network ran on without a sign). Streamed sources are checked by their
    labels only (when they have them).

    Raises:
        DataError: naming the dataset (``train``, ``val``, ``test``) and the problem.
        ConfigError: ``[N, ...]`` inputs with no encoder.
    """
    outputs = model.config.get("output_shape") or []
    n_out = int(np.prod(outputs)) if outputs else None
    for name, data in datasets.items():
        if data is None:
            continue
        labels = getattr(data, "labels", None)
        if callable(labels):  # ShardedSpikes.labels() (an ArrayDataset's are an array)
            labels = labels()
        if isinstance(labels, (mx.array, np.ndarray)) and n_out is not None:
            arr = np.asarray(labels)
            if arr.size and (int(arr.max()) >= n_out or int(arr.min()) < 0):
                bad = int(arr.max()) if int(arr.max()) >= n_out else int(arr.min())
                raise DataError(f"{name} data: label {bad} is out of range for a model of "
                                f"{n_out} outputs (labels 0 to {n_out - 1})")
        if not isinstance(data, ArrayDataset):
            continue
        if encoder is None and not data.time_major:
            raise ConfigError(f"{name} data: [N, ...] inputs (time_major=False) need an "
                              "encoder= that makes [T, B, ...] spikes; for inputs that are "
                              "already spike trains [T, N, ...] give time_major=True")
        inputs = data.inputs
        if mx.issubdtype(inputs.dtype, mx.inexact) and not bool(mx.isfinite(inputs).all()):
            raise DataError(f"{name} data: the inputs hold NaN or infinite values")


def fit(model: SpikingNet | dict[str, Any], train: ArrayDataset | BatchSource,
        config: TrainConfig | dict,
        *, val: ArrayDataset | None = None, test: ArrayDataset | None = None,
        encoder: Encoder | None = None, run_dir: str | os.PathLike[str] | None = None,
        resume: bool = True, progress: bool | None = None,
        stop_after_epochs: int | None = None, extra_config: dict[str, Any] | None = None,
        distributed: Any = "auto") -> FitResult:
    """Train ``model`` on ``train``; returns the trained model, history and final metrics.

    Args:
        model: a :class:`SpikingNet` or a model config dict (built with ``config.seed``).
        train: training data: an :class:`ArrayDataset` (``config.val_fraction > 0`` holds
            out a stratified part of it) or another :class:`BatchSource` (streamed; it
            yields the batches of each epoch for ``config.batch_size``, ``config.seed``
            and this rank; no ``val_fraction``: pass ``val=``).
        config: :class:`TrainConfig` or its dict.
        val: validation set (overrides ``val_fraction``); drives early stopping.
        test: evaluated after every epoch for the curves (``heldout_*`` history keys:
            held-out monitoring) and at the end for ``metrics.json``; never used for model
            selection (early stopping and the best epoch use ``val`` only).
        encoder: in-step encoder ``(x [B, ...], key) -> [T, B, ...]`` for static inputs.
        run_dir: folder for the run record (see module doc); a checkpoint there is resumed
            when ``resume`` is true.
        progress: show progress bars (``None``: only on a terminal).
        stop_after_epochs: stop (as if killed) after this many epochs *of this call*, after
            saving the checkpoint; for tests and time-boxed runs.
        extra_config: more JSON-able facts recorded in ``config.json`` (e.g. the dataset).
        distributed: ``"auto"`` (join the ``mlx.launch`` group if this process was started
            by a launcher, else train alone), ``None`` (alone), or a
            :class:`~eegsnn.distributed.DistContext`. With a group of size > 1 this trains
            data-parallel (module doc); ``config.batch_size`` is the *global* batch and
            ``run_dir`` is written by rank 0 only.

    Raises:
        ConfigError: bad config, a checkpoint from a different model or train config, a
            batch too small for the process group.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    ctx = resolve_distributed(distributed)
    dist = ctx.distributed
    main = ctx.is_main
    if not main:
        progress = False
    run_path = Path(run_dir) if run_dir is not None else None
    write_path = run_path if main else None  # only rank 0 writes the run directory
    if isinstance(model, dict) and not isinstance(model, nn.Module):  # Modules are dicts
        mx.random.seed(cfg.seed)
        model = build_model(model)
    model = cast(SpikingNet, model)  # mypy cannot tell a Module from a config dict (both dicts)
    check_datasets(model, {"train": train, "val": val, "test": test}, encoder)
    in_memory = isinstance(train, ArrayDataset)
    if val is None and cfg.val_fraction > 0:
        if not isinstance(train, ArrayDataset):
            raise ConfigError("val_fraction needs an in-memory ArrayDataset; for a streamed "
                              f"{type(train).__name__} pass a validation set as val=")
        labels = np.array(train.labels)
        tr_idx, va_idx = split_indices(len(train), cfg.val_fraction, cfg.seed, labels)
        train, val = train.subset(tr_idx), train.subset(va_idx)
    if in_memory and len(train) < cfg.batch_size and cfg.drop_last:
        raise ConfigError(f"training set has {len(train)} samples, fewer than batch_size="
                          f"{cfg.batch_size} (lower batch_size or set drop_last=False)")
    if dist:
        tail = len(train) % cfg.batch_size
        if cfg.batch_size < ctx.size:
            raise ConfigError(f"batch_size={cfg.batch_size} is smaller than the {ctx.size} "
                              "processes; every process needs at least one sample per step")
        if in_memory and not cfg.drop_last and 0 < tail < ctx.size:
            raise ConfigError(f"the last batch of an epoch has {tail} samples, fewer than the "
                              f"{ctx.size} processes; set drop_last=True or change batch_size")
    loss_fn, _ = get_loss(cfg.loss)
    optimizer = build_optimizer(cfg.optimizer, cfg.schedule)
    model.train()
    if dist:
        sync_parameters(model, ctx)  # every replica starts from rank 0's weights
    optimizer.init(model.trainable_parameters())
    engine, engine_reason, prefix = select_engine(cfg.engine, model, encoder, distributed=dist,
                                                  augment=cfg.augment is not None)

    history: list[dict[str, Any]] = []
    start_epoch = 0
    es_state: EarlyStoppingState = {"best": None, "best_epoch": None, "bad_epochs": 0}
    resumed: dict[str, Any] | None = None
    if write_path is not None:
        run_path = write_path
        run_path.mkdir(parents=True, exist_ok=True)
        ckpt = run_path / "checkpoint"
        if resume and ckpt.is_dir():
            record = read_checkpoint_state(ckpt)
            saved = dict(record.get("train_config") or {})
            current = cfg.to_dict()
            saved.setdefault("engine", current["engine"])  # checkpoints from before the option
            for option in ("epochs", "log_every", "checkpoint_every", "eval_batch_size"):
                saved.pop(option, None)
                current.pop(option, None)
            if saved and saved != current:
                changed = sorted(k for k in set(saved) | set(current)
                                 if saved.get(k) != current.get(k))
                raise ConfigError(f"{ckpt}: checkpoint was made with a different train config "
                                  f"(differs in {changed}); use a new run folder or "
                                  "resume=False")
            record = load_checkpoint(ckpt, model, optimizer)
            if record.get("engine", engine) != engine:
                _log(run_path, f"warning: checkpoint trained with the {record['engine']} "
                     f"engine, resumed with {engine}: the rest of the run draws other spikes "
                     "than an uninterrupted run would")
            start_epoch = int(record["epoch"])
            history = list(record.get("history", []))
            es_state = cast(EarlyStoppingState, dict(record.get("early_stopping", es_state)))
            resumed = {"epoch": start_epoch, "history": history, "early_stopping": es_state}
            _log(run_path, f"resumed from {ckpt} at epoch {start_epoch}")
        else:
            atomic_write_json(run_path / "config.json", {
                "model": model.config, "train": cfg.to_dict(), "seed": cfg.seed,
                "train_samples": len(train), "val_samples": len(val) if val else 0,
                "test_samples": len(test) if test else 0,
                "engine": {"name": engine, "reason": engine_reason},
                **({"distributed": {"world_size": ctx.size, "backend": ctx.backend}}
                   if dist else {}),
                **(extra_config or {}),
            })
            atomic_write_json(run_path / "environment.json", env.environment_record())
    run_path = write_path
    if dist and run_dir is not None:
        # rank 0 read the checkpoint (if any): share epoch, history, weights and optimizer
        resumed = broadcast_json(resumed, ctx)
        if resumed is not None:
            start_epoch = int(resumed["epoch"])
            history = list(resumed["history"])
            es_state = cast(EarlyStoppingState, dict(resumed["early_stopping"]))
            sync_parameters(model, ctx)
            optimizer.state = broadcast_state(optimizer.state, ctx)
        barrier(ctx)

    step: Callable[[mx.array, mx.array, mx.array], tuple[mx.array, mx.array]]
    if dist:
        dp_step = make_data_parallel_step(model, optimizer, loss_fn, ctx, encoder=encoder,
                                          augment=make_augment(cfg.augment),
                                          regularizer=cfg.regularizer,
                                          grad_clip=cfg.grad_clip, compile=cfg.compile)
    elif engine == "fused":
        assert prefix is not None  # select_engine describes the prefix of the fused engine
        step = FusedTrainStep(model, optimizer, loss_fn, prefix, regularizer=cfg.regularizer,
                              grad_clip=cfg.grad_clip, compile=cfg.compile)
    else:
        step = make_train_step(model, optimizer, loss_fn, encoder=encoder,
                               regularizer=cfg.regularizer, grad_clip=cfg.grad_clip,
                               compile=cfg.compile, augment=make_augment(cfg.augment))
    eval_fn = (FusedEvalStep(model, loss_fn, prefix, compile=cfg.compile)
               if engine == "fused" and prefix is not None  # (prefix: always, with "fused")
               else make_eval_step(model, loss_fn, encoder=encoder, compile=cfg.compile))
    state = [model.state, optimizer.state, mx.random.state]

    n_train = len(train)
    # (a streamed source may know its length only roughly: the bar's total, not the loop's)
    steps_per_epoch = (n_train // cfg.batch_size if cfg.drop_last
                       else math.ceil(n_train / cfg.batch_size))
    es = cfg.early_stopping
    stopped_early = False
    epochs_run = 0
    with TrainProgress(cfg.epochs, progress) as bar:
        bar.end_epoch(start_epoch)
        for epoch in range(start_epoch, cfg.epochs):
            if es and es_state["best_epoch"] is not None and \
                    es_state["bad_epochs"] >= es.get("patience", 5):
                stopped_early = True
                break
            t0 = time.perf_counter()
            model.train()
            loss_sum = mx.array(0.0)
            correct_sum = mx.array(0, dtype=mx.int32)
            seen = steps = 0
            bar.start_epoch(epoch, steps_per_epoch)
            # this rank's slice of every global batch (the whole batch when alone)
            batches = train.iter_batches(cfg.batch_size, epoch=epoch, seed=cfg.seed,
                                         drop_last=cfg.drop_last, rank=ctx.rank,
                                         world_size=ctx.size)
            for s, (x, y, n_global) in enumerate(batches):
                seed_s = step_seed(cfg.seed, epoch, s)
                mx.random.seed(seed_s)  # dropout stream of this step
                key = mx.random.key(seed_s ^ 0x5EED)
                if dist:  # gradients weighted by the slice's share of the global batch
                    weight = mx.array(ctx.size * int(y.shape[0]) / n_global, dtype=mx.float32)
                    loss, correct = dp_step(x, y, key, weight)  # global-batch loss/correct
                else:
                    loss, correct = step(x, y, key)
                loss_sum = loss_sum + loss
                correct_sum = correct_sum + correct
                seen += n_global
                steps += 1
                mx.async_eval(state, loss_sum, correct_sum)
                if bar.enabled and ((s + 1) % cfg.log_every == 0 or s + 1 == steps_per_epoch):
                    done = (s % cfg.log_every) + 1
                    info = f"loss {loss_sum.item() / (s + 1):.4f} acc " \
                           f"{correct_sum.item() / seen:.4f}"
                    bar.advance_steps(done, info)
            mx.eval(state, loss_sum, correct_sum)
            if steps == 0:
                raise ConfigError(f"epoch {epoch + 1} produced no training batches "
                                  f"({type(train).__name__} of {n_train} samples, batch_size="
                                  f"{cfg.batch_size})")
            steps_per_epoch = steps
            train_time = time.perf_counter() - t0
            entry: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": float(loss_sum) / steps,
                "train_accuracy": float(correct_sum) / seen,
                "train_time_s": train_time,
            }
            if not math.isfinite(entry["train_loss"]):
                raise ConfigError(f"training diverged at epoch {epoch + 1} (loss "
                                  f"{entry['train_loss']}); lower the learning rate or set "
                                  "grad_clip")
            for name, data in (("val", val), ("heldout", test)):
                if data is None:
                    continue
                res = evaluate(model, data, loss=cfg.loss, encoder=encoder,
                               batch_size=cfg.eval_batch_size, seed=cfg.seed, eval_fn=eval_fn)
                rep = res.report()
                entry[f"{name}_loss"] = rep["loss"]
                entry[f"{name}_accuracy"] = rep["accuracy"]
                entry[f"{name}_balanced_accuracy"] = rep["balanced_accuracy"]
                entry[f"{name}_firing_rates"] = rep["firing_rates"]
            entry["epoch_time_s"] = time.perf_counter() - t0
            history.append(entry)
            improved = False
            if es:
                metric = es.get("metric", "val_loss")
                value = _metric_value(entry, metric)
                if dist:  # replicas agree to float rounding; rank 0's value decides
                    value = float(broadcast_json(value, ctx))
                sign = 1.0 if metric == "val_loss" else -1.0
                best = es_state["best"]
                if best is None or sign * (best - value) > float(es.get("min_delta", 0.0)):
                    es_state.update({"best": value, "best_epoch": epoch + 1, "bad_epochs": 0})
                    improved = True
                else:
                    es_state["bad_epochs"] += 1
            line = " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in entry.items() if not isinstance(v, dict))
            _log(run_path, line)
            bar.end_epoch(epoch + 1, f"loss {entry['train_loss']:.4f}" + (
                f" val acc {entry['val_accuracy']:.4f}" if "val_accuracy" in entry else "") + (
                f" held-out acc {entry['heldout_accuracy']:.4f}"
                if "heldout_accuracy" in entry else ""))
            epochs_run += 1
            if run_path is not None:
                atomic_write_json(run_path / "history.json", history)
                if improved and es and es.get("restore_best", True):

                    save_checkpoint(run_path / "best", model)
                    # (no barrier: "best" is read back by rank 0 only, at the end)
                if _checkpoint_due(cfg, epoch, epochs_run, stop_after_epochs):
                    save_checkpoint(run_path / "checkpoint", model, optimizer, {
                        "epoch": epoch + 1, "global_step": (epoch + 1) * steps_per_epoch,
                        "seed": cfg.seed, "train_config": cfg.to_dict(), "engine": engine,
                        "history": history, "early_stopping": es_state,
                        **({"world_size": ctx.size} if dist else {}),
                    })
            if dist and run_dir is not None and _checkpoint_due(
                    cfg, epoch, epochs_run, stop_after_epochs):
                barrier(ctx)  # nobody goes on before rank 0's checkpoint is complete
            if stop_after_epochs is not None and epochs_run >= stop_after_epochs \
                    and epoch + 1 < cfg.epochs:
                return FitResult(model, history, None, False, start_epoch, ctx.size, engine)

    if es and es.get("restore_best", True) and run_dir is not None:
        if run_path is not None and (run_path / "best").is_dir():
            load_checkpoint(run_path / "best", model)
        if dist:
            sync_parameters(model, ctx)  # rank 0 restored the best weights: share them
    result = FitResult(model, history, None, stopped_early, start_epoch, ctx.size, engine)
    final_data = test if test is not None else val
    if final_data is not None:
        res = evaluate(model, final_data, loss=cfg.loss, encoder=encoder,
                       batch_size=cfg.eval_batch_size, seed=cfg.seed, eval_fn=eval_fn)
        metrics = res.report()
        metrics["split"] = "test" if test is not None else "val"
        metrics["epochs_trained"] = len(history)
        metrics["engine"] = engine
        metrics["stopped_early"] = stopped_early
        if es:
            metrics["best_epoch"] = es_state["best_epoch"]
        result.metrics = metrics
        if run_path is not None:
            atomic_write_json(run_path / "metrics.json", metrics)
    if run_path is not None and history:
        plot_history(history, run_path / "curves.png")
    return result
