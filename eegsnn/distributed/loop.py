"""Data-parallel training over a *streamed* batch source, and helpers of the engine's
data-parallel mode.

In-memory datasets train data-parallel through the engine itself:
:func:`eegsnn.train.loop.fit` joins the ``mlx.launch`` group (``distributed="auto"``) and
shards every global batch. :func:`fit_data_parallel` remains for sources ``fit`` does not
take (a ``batches(epoch)`` callable streaming shards from disk); given an
:class:`~eegsnn.train.data.ArrayDataset` it is a thin wrapper over ``fit``::

    from eegsnn.distributed import fit_data_parallel, init_distributed
    ctx = init_distributed()
    result = fit_data_parallel(model_config, sharded.batches(64, ctx=ctx),
                               {"epochs": 5, "batch_size": 64}, ctx=ctx, run_dir="runs/dp")

What every rank does per epoch: the engine's sample order
(:func:`eegsnn.train.data.epoch_order`, same on all ranks) is cut into global batches of
``batch_size``; each rank takes its slice (:func:`~eegsnn.comm.sharding.local_batches`)
and runs :func:`~eegsnn.train.parallel.make_data_parallel_step`. Step keys come from
:func:`eegsnn.train.data.step_seed`, as in :func:`eegsnn.train.loop.fit`. Only rank 0
writes (``config.json``, ``history.json``, the checkpoint); the others wait at a barrier,
so a checkpoint is complete before anyone continues.

Data sources: an in-memory :class:`~eegsnn.train.data.ArrayDataset` (every rank holds it,
each gathers only its slices) or any callable ``batches(epoch) -> iterator of
(x_local, y_local, n_global)``, e.g. :meth:`eegsnn.encode.shards.ShardedSpikes.batches`,
which streams packed spike shards from disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from eegsnn.comm.group import (
    DistContext,
    all_sum_host,
    barrier,
    single_process,
    sync_parameters,
)
from eegsnn.comm.sharding import local_batches
from eegsnn.errors import ConfigError
from eegsnn.io.files import atomic_write_text
from eegsnn.model import build_model
from eegsnn.train.checkpoint import save_checkpoint
from eegsnn.train.config import TrainConfig
from eegsnn.train.data import ArrayDataset, Encoder, epoch_order, step_seed
from eegsnn.train.loop import fit
from eegsnn.train.losses import get_loss
from eegsnn.train.parallel import make_data_parallel_step
from eegsnn.train.step import build_optimizer

__all__ = ["BatchFn", "DPResult", "array_batches", "fit_data_parallel", "global_mean"]

BatchFn = Callable[[int], Iterator[tuple[mx.array, mx.array, int]]]


@dataclass
class DPResult:
    """Outcome of :func:`fit_data_parallel` (identical on every rank).

    Attributes:
        model: the trained replica.
        history: one dict per epoch: ``epoch``, ``loss`` (global mean), ``accuracy``,
            ``samples`` (global), ``steps``, ``seconds`` (this rank's wall time).
        world_size: number of processes that trained.
        checkpoint: the checkpoint folder rank 0 wrote (``None`` without ``run_dir``).
    """

    model: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    world_size: int = 1
    checkpoint: Path | None = None


def array_batches(data: ArrayDataset, batch_size: int, seed: int, ctx: DistContext, *,
                  drop_last: bool = True) -> BatchFn:
    """``batches(epoch)`` over an in-memory dataset: this rank's slice of each global batch."""

    def batches(epoch: int) -> Iterator[tuple[mx.array, mx.array, int]]:
        order = epoch_order(len(data), seed, epoch)
        for idx, n_global in local_batches(order, batch_size, ctx.rank, ctx.size,
                                           drop_last=drop_last):
            x, y = data.batch(mx.array(idx.astype(np.int32)))
            yield x, y, n_global

    return batches


def fit_data_parallel(
    model: Any,
    train: ArrayDataset | BatchFn,
    config: TrainConfig | dict[str, Any],
    *,
    ctx: DistContext | None = None,
    encoder: Encoder | None = None,
    run_dir: str | Path | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> DPResult:
    """Train with data parallelism (or alone when ``ctx`` is a single process).

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` or a model config dict (built after
            ``mx.random.seed(config.seed)``, then rank 0's weights are copied to all).
        train: an :class:`ArrayDataset` or a ``batches(epoch)`` callable (see module doc).
        config: :class:`TrainConfig` or its dict (``batch_size`` is the *global* batch).
            ``val_fraction``/``early_stopping`` are not handled here (evaluate afterwards
            with :func:`eegsnn.train.loop.evaluate` on rank 0).
        ctx: process group (default: a single process).
        encoder: in-step encoder for static inputs.
        run_dir: rank 0 writes ``config.json``, ``history.json`` and ``checkpoint/`` here.
        on_epoch: called with each epoch's history entry (on every rank; for an
            :class:`ArrayDataset`, once training has finished).

    Raises:
        ConfigError: unsupported config options or a batch too small for the group.
    """
    ctx = ctx or single_process()
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if isinstance(train, ArrayDataset):
        return _fit_arrays(model, train, cfg, ctx, encoder, run_dir, on_epoch)
    if cfg.val_fraction or cfg.early_stopping:
        raise ConfigError("fit_data_parallel: val_fraction/early_stopping are not supported; "
                          "split the data beforehand and evaluate on rank 0")
    if cfg.batch_size < ctx.size:
        raise ConfigError(f"batch_size={cfg.batch_size} is smaller than the {ctx.size} "
                          "processes; every process needs at least one sample per step")
    if isinstance(model, dict) and not isinstance(model, nn.Module):  # Module is a dict
        mx.random.seed(cfg.seed)
        model = build_model(model)
    batches = (array_batches(train, cfg.batch_size, cfg.seed, ctx, drop_last=cfg.drop_last)
               if isinstance(train, ArrayDataset) else train)
    loss_fn, _ = get_loss(cfg.loss)
    optimizer = build_optimizer(cfg.optimizer, cfg.schedule)
    model.train()
    sync_parameters(model, ctx)
    optimizer.init(model.trainable_parameters())
    step = make_data_parallel_step(model, optimizer, loss_fn, ctx, encoder=encoder,
                                   regularizer=cfg.regularizer, grad_clip=cfg.grad_clip,
                                   compile=cfg.compile)
    state = [model.state, optimizer.state, mx.random.state]
    run_path = Path(run_dir) if run_dir is not None else None
    if run_path is not None and ctx.is_main:
        run_path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_path / "config.json", json.dumps(
            {"model": getattr(model, "config", None), "train": cfg.to_dict(),
             "distributed": {"world_size": ctx.size, "backend": ctx.backend}},
            indent=2, default=str))
    barrier(ctx)
    result = DPResult(model=model, world_size=ctx.size)
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        loss_sum = mx.array(0.0)
        correct_sum = mx.array(0, dtype=mx.int32)
        seen = steps = 0
        for s, (x, y, n_global) in enumerate(batches(epoch)):
            n_local = int(y.shape[0])
            seed_s = step_seed(cfg.seed, epoch, s)
            mx.random.seed(seed_s)  # dropout stream of this step (same on every rank)
            weight = mx.array(ctx.size * n_local / n_global, dtype=mx.float32)
            loss, correct = step(x, y, mx.random.key(seed_s ^ 0x5EED), weight)
            loss_sum = loss_sum + loss * n_global
            correct_sum = correct_sum + correct
            seen += n_global
            steps += 1
            mx.async_eval(state, loss_sum, correct_sum)
        mx.eval(state, loss_sum, correct_sum)
        if steps == 0:
            raise ConfigError("fit_data_parallel: an epoch produced no batches")
        entry = {"epoch": epoch + 1, "loss": float(loss_sum.item()) / seen,
                 "accuracy": float(correct_sum.item()) / seen, "samples": seen,
                 "steps": steps, "seconds": time.perf_counter() - t0}
        result.history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
        last = epoch + 1 == cfg.epochs
        due = cfg.checkpoint_every and (epoch + 1) % cfg.checkpoint_every == 0
        if run_path is not None and (last or due):
            if ctx.is_main:
                result.checkpoint = save_checkpoint(
                    run_path / "checkpoint", model, optimizer,
                    {"epoch": epoch + 1, "seed": cfg.seed, "train_config": cfg.to_dict(),
                     "history": result.history, "world_size": ctx.size})
                atomic_write_text(run_path / "history.json",
                                  json.dumps(result.history, indent=2))
            else:
                result.checkpoint = run_path / "checkpoint"
            barrier(ctx)  # nobody goes on before rank 0's checkpoint is complete
    return result


def _fit_arrays(model: Any, train: ArrayDataset, cfg: TrainConfig, ctx: DistContext,
                encoder: Encoder | None, run_dir: str | Path | None,
                on_epoch: Callable[[dict[str, Any]], None] | None) -> DPResult:
    """:func:`eegsnn.train.loop.fit` (data-parallel over ``ctx``) with a :class:`DPResult`."""
    if cfg.val_fraction or cfg.early_stopping:
        raise ConfigError("fit_data_parallel: val_fraction/early_stopping are not supported; "
                          "use eegsnn.train.fit (data-parallel under mlx.launch)")
    res = fit(model, train, cfg, encoder=encoder, run_dir=run_dir, resume=False,
              progress=False, distributed=ctx)
    n_train = len(train)
    steps = n_train // cfg.batch_size if cfg.drop_last else -(-n_train // cfg.batch_size)
    samples = steps * cfg.batch_size if cfg.drop_last else n_train
    out = DPResult(model=res.model, world_size=ctx.size,
                   checkpoint=None if run_dir is None else Path(run_dir) / "checkpoint")
    for h in res.history:
        entry = {"epoch": h["epoch"], "loss": h["train_loss"], "accuracy": h["train_accuracy"],
                 "samples": samples, "steps": steps, "seconds": h["train_time_s"]}
        out.history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    return out


def global_mean(value: float, weight: float, ctx: DistContext) -> float:
    """Weighted mean of a per-rank value over all ranks (host helper for metrics)."""
    tot = all_sum_host([value * weight, weight], ctx)
    return float(tot[0] / tot[1])
