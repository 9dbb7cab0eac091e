"""The data-parallel training step: local gradients, one all-reduce, identical updates.

Every process holds a full replica of the model and optimizer. One step:

1. forward + backward on this rank's slice ``x [T, n_r, ...]`` of the global batch
   (the engine's loss, :func:`eegsnn.train.step.make_loss`, a mean over the slice);
2. :func:`~eegsnn.comm.group.average_gradients`: scale by ``w_r = size * n_r / N`` and
   average over ranks with :func:`mlx.nn.average_gradients` (one fused ``all_sum`` of all
   gradients, MLX's own bucketing) -> the global-batch mean gradient ``sum_r (n_r / N) g_r``
   on every rank;
3. optional global-norm clipping (of the *global* gradient, as in one process);
4. the optimizer update, identical on every rank, so replicas never drift apart
   (up to float summation order: ``all_sum`` adds the ranks' partial gradients in a
   different order than one process's batch reduction does).

Losses that are means over samples (all of :mod:`eegsnn.train.losses`) decompose exactly.
The rate regulariser penalises a population rate averaged over the batch before squaring,
so with it each rank regularises its own slice's rate: an approximation that differs from
the single-process value by the slice-to-batch rate variance.

In-step encoders draw spikes with ``split(key, size)[rank]`` on each rank (with ``size ==
1`` the key is used unchanged, so one process reproduces :func:`make_train_step` exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

from eegsnn.comm.group import DistContext, average_gradients
from eegsnn.errors import ConfigError
from eegsnn.train.data import Encoder
from eegsnn.train.losses import LossFn
from eegsnn.train.step import make_loss

__all__ = ["make_data_parallel_step"]


def make_data_parallel_step(
    model: nn.Module,
    optimizer: optim.Optimizer,
    loss_fn: LossFn,
    ctx: DistContext,
    *,
    encoder: Encoder | None = None,
    regularizer: dict[str, float] | None = None,
    grad_clip: float | None = None,
    compile: bool = True,
    augment: Encoder | None = None,
) -> Callable[..., tuple[mx.array, mx.array]]:
    """Build ``step(x, y, key, weight) -> (loss, correct)`` for one rank.

    Args:
        model, optimizer, loss_fn, encoder, regularizer, grad_clip, augment: as
            :func:`eegsnn.train.step.make_train_step`.
        ctx: the process group (:func:`~eegsnn.comm.group.init_distributed`).
        compile: compile the step (collectives included) with :func:`mlx.core.compile`.

    The returned ``step`` takes this rank's slice ``x [T, n_r, ...]`` (or ``[n_r, ...]``
    with an encoder), labels ``y [n_r]``, the step's PRNG ``key`` (the same on every rank)
    and ``weight`` (``mx.array`` scalar ``size * n_r / N``). It returns the *global*
    batch's mean loss and number of correct predictions (lazy, identical on all ranks).
    """
    if grad_clip is not None and not grad_clip > 0:
        raise ConfigError(f"grad_clip must be > 0, got {grad_clip}")
    loss_and_grad = nn.value_and_grad(model, make_loss(loss_fn, regularizer))
    size, rank, dist = ctx.size, ctx.rank, ctx.distributed

    def step(x: mx.array, y: mx.array, key: mx.array, weight: mx.array,
             ) -> tuple[mx.array, mx.array]:
        if encoder is not None:
            x = encoder(x, mx.random.split(key, size)[rank] if dist else key)
        if augment is not None:  # each rank augments its own samples
            x = augment(x, mx.random.split(mx.random.split(key)[1], size)[rank] if dist
                        else mx.random.split(key)[1])
        (loss, correct), grads = loss_and_grad(model, x, y)
        grads = average_gradients(grads, ctx, weight if dist else None)
        if grad_clip is not None:
            grads, _ = optim.clip_grad_norm(grads, grad_clip)
        optimizer.update(model, grads)
        if dist:
            loss = mx.distributed.all_sum(loss * weight, group=ctx.group) / size
            correct = mx.distributed.all_sum(correct, group=ctx.group)
        return loss, correct

    if compile:
        state = [model.state, optimizer.state, mx.random.state]
        step = partial(mx.compile, inputs=state, outputs=state)(step)
    return step
