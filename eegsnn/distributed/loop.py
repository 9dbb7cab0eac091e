"""``fit_data_parallel``: the engine's loop (:func:`eegsnn.train.loop.fit`) with the
argument and result shapes of the first data-parallel API, and helpers of data parallelism.

There is one epoch loop, :func:`eegsnn.train.loop.fit`: it trains alone or data-parallel
(``distributed="auto"`` joins the ``mlx.launch`` group, or pass a
:class:`~eegsnn.comm.group.DistContext`) on any :class:`~eegsnn.train.data.BatchSource`: an
in-memory :class:`~eegsnn.train.data.ArrayDataset` or packed spike shards streamed from disk
(:class:`~eegsnn.encode.shards.ShardedSpikes`, or a ``batches(epoch)`` callable such as
:meth:`~eegsnn.encode.shards.ShardedSpikes.batches` wrapped in
:class:`~eegsnn.train.data.StreamedBatches`). :func:`fit_data_parallel` calls it::

    from eegsnn.distributed import fit_data_parallel, init_distributed
    ctx = init_distributed()
    result = fit_data_parallel(model_config, sharded.batches(64, ctx=ctx),
                               {"epochs": 5, "batch_size": 64}, ctx=ctx, run_dir="runs/dp")

What every rank does per epoch, where only rank 0 writes, and how a checkpoint is
completed before anyone continues: see :mod:`eegsnn.train.loop`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.comm.group import DistContext, all_sum_host, single_process
from eegsnn.comm.sharding import local_batches
from eegsnn.errors import ConfigError
from eegsnn.train.config import TrainConfig
from eegsnn.train.data import ArrayDataset, Batch, Encoder, StreamedBatches, epoch_order
from eegsnn.train.loop import fit

__all__ = ["BatchFn", "DPResult", "array_batches", "fit_data_parallel", "global_mean"]

BatchFn = Callable[[int], Iterator[tuple[mx.array, mx.array, int]]]


@dataclass
class DPResult:
    """Outcome of :func:`fit_data_parallel` (identical on every rank).

    Attributes:
        model: the trained replica.
        history: one dict per epoch: ``epoch``, ``loss`` (mean of the steps' global-batch
            losses: the engine's ``train_loss``), ``accuracy``,
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
    """Train with data parallelism (or alone when ``ctx`` is a single process): the
    engine's :func:`~eegsnn.train.loop.fit` (``resume=False``, no progress bar).

    Args:
        model: a :class:`~eegsnn.model.SpikingNet` or a model config dict (built after
            ``mx.random.seed(config.seed)``, then rank 0's weights are copied to all).
        train: an :class:`ArrayDataset` or a ``batches(epoch)`` callable yielding this
            rank's ``(x, y, n_global)`` (it fixed batch size, seed and partition itself).
        config: :class:`TrainConfig` or its dict (``batch_size`` is the *global* batch).
            ``val_fraction``/``early_stopping`` are not handled here (use
            :func:`eegsnn.train.fit` with ``val=``, which takes the same sources).
        ctx: process group (default: a single process).
        encoder: in-step encoder for static inputs.
        run_dir: rank 0 writes the engine's run record here (``config.json``,
            ``history.json``, ``checkpoint/``, ...).
        on_epoch: called with each epoch's history entry (on every rank) once training
            has finished.

    Raises:
        ConfigError: unsupported config options or a batch too small for the group.
    """
    ctx = ctx or single_process()
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    if cfg.val_fraction or cfg.early_stopping:
        raise ConfigError("fit_data_parallel: val_fraction/early_stopping are not supported; "
                          "use eegsnn.train.fit with val= (data-parallel under mlx.launch)")
    counts: list[tuple[int, int]] = []  # (steps, samples) of each epoch of a stream
    source: ArrayDataset | StreamedBatches
    if isinstance(train, ArrayDataset):
        source = train
    else:
        batches = train

        def counted(epoch: int) -> Iterator[Batch]:
            steps = samples = 0
            for x, y, n_global in batches(epoch):
                steps += 1
                samples += n_global
                yield x, y, n_global
            counts.append((steps, samples))

        source = StreamedBatches(counted)
    res = fit(model, source, cfg, encoder=encoder, run_dir=run_dir, resume=False,
              progress=False, distributed=ctx)
    if isinstance(train, ArrayDataset):
        n_train = len(train)
        steps = n_train // cfg.batch_size if cfg.drop_last else -(-n_train // cfg.batch_size)
        counts = [(steps, steps * cfg.batch_size if cfg.drop_last else n_train)] * cfg.epochs
    out = DPResult(model=res.model, world_size=ctx.size,
                   checkpoint=None if run_dir is None else Path(run_dir) / "checkpoint")
    for h, (steps, samples) in zip(res.history, counts, strict=True):
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
