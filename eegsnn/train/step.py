"""One training step as a single (optionally compiled) function, and the evaluation forward.

:func:`make_train_step` returns ``step(x, y, key) -> (loss, correct)``: encode the batch
(if an encoder is given) with the explicit PRNG ``key``, run the model over all ``T`` steps,
compute loss (+ rate regulariser), gradients, optional global-norm clipping, and the
optimizer update. With ``compile=True`` the whole step is one :func:`mlx.core.compile`\\ d
graph whose captured state is ``[model.state, optimizer.state, mx.random.state]``, so the
host only launches it; nothing is read back (``loss`` and ``correct`` stay lazy arrays that the
loop accumulates).

Optimizers come from :mod:`mlx.optimizers` by name (``adam``, ``adamw``, ``sgd``,
``rmsprop``, ``adagrad``, ``adamax``, ``lion``) with an optional learning-rate schedule
(``cosine_decay``, ``exponential_decay``, ``step_decay``, ``linear_schedule``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

from eegsnn.errors import ConfigError, refuse_unknown_options
from eegsnn.train.data import Encoder, is_packed_batch, unpack_spikes
from eegsnn.train.losses import LossFn, rate_regularizer

OPTIMIZERS: dict[str, Callable[..., optim.Optimizer]] = {

    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "sgd": optim.SGD,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
    "adamax": optim.Adamax,
    "lion": optim.Lion,
}
SCHEDULES: dict[str, Callable[..., Callable[[mx.array], mx.array]]] = {
    "cosine_decay": optim.cosine_decay,
    "exponential_decay": optim.exponential_decay,
    "step_decay": optim.step_decay,
    "linear_schedule": optim.linear_schedule,
}


def build_optimizer(spec: dict[str, Any], schedule: dict[str, Any] | None = None,
                    ) -> optim.Optimizer:
    """``{"type": "adam", "learning_rate": 1e-3, ...}`` (+ optional schedule) -> optimizer.

    A schedule ``{"type": "cosine_decay", "decay_steps": 1000, ...}`` takes its initial value
    from the optimizer's ``learning_rate`` unless it names ``init``.

    Raises:
        ConfigError: unknown optimizer/schedule or bad options.
    """
    spec = dict(spec)
    kind = str(spec.pop("type", "adam")).lower()
    if kind not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {kind!r}; expected one of "
                          f"{', '.join(sorted(OPTIMIZERS))}")
    _check_options(f"optimizer {kind!r}", spec, OPTIMIZERS[kind])
    lr = spec.pop("learning_rate", 1e-3)
    if schedule:
        schedule = dict(schedule)
        if "type" not in schedule:
            raise ConfigError(f"schedule: give its type ({', '.join(sorted(SCHEDULES))}), "
                              f"got the options {sorted(schedule)}")
        skind = str(schedule.pop("type")).lower()
        if skind not in SCHEDULES:
            raise ConfigError(f"unknown schedule {skind!r}; expected one of "
                              f"{', '.join(sorted(SCHEDULES))}")
        _check_options(f"schedule {skind!r}", schedule, SCHEDULES[skind])
        if skind != "linear_schedule":
            schedule.setdefault("init", lr)
        try:
            lr = SCHEDULES[skind](**schedule)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"schedule {skind!r}: {exc}") from exc
    try:
        return OPTIMIZERS[kind](learning_rate=lr, **spec)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer {kind!r}: {exc}") from exc


def _check_options(what: str, options: dict[str, Any], make: Callable[..., Any]) -> None:
    """Refuse options ``make`` (an optimizer class or schedule function) does not take
    (:func:`~eegsnn.errors.refuse_unknown_options`), and a non-number where it takes a
    number."""
    import inspect

    refuse_unknown_options(what, options, make)
    params = inspect.signature(make).parameters
    for name, value in options.items():
        default = params[name].default
        numeric = name == "learning_rate" or (isinstance(default, float | int)
                                              and not isinstance(default, bool))
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"{what}: {name} must be a number, got {value!r}")


def _unpacked(model: nn.Module, x: mx.array) -> mx.array:
    """``x``, or the float32 spikes of a packed batch (:func:`eegsnn.train.data.is_packed_batch`
    for the model's input lines)."""
    if x.dtype != mx.uint8 or not hasattr(model, "config"):
        return x
    shape = model.config.get("input_shape", [])
    if len(shape) == 1 and is_packed_batch(x, int(shape[0])):
        return unpack_spikes(x, int(shape[0]))
    return x


def _forward(model: nn.Module, x: mx.array | list[mx.array], start: int) -> dict:
    """``model(x)``, or from ``layers[start]`` on when ``x`` is the spike output of the neuron
    layer ``layers[start - 1]`` (computed elsewhere: :mod:`eegsnn.train.fused`), or the list
    of the spikes of every neuron layer before ``start``, that one last."""
    if not start:
        return model(_unpacked(model, cast(mx.array, x)))
    spikes = list(x) if isinstance(x, list | tuple) else [x]
    return model(spikes[-1], start=start, layer_spikes=spikes)


def make_loss(loss_fn: LossFn, regularizer: dict[str, float] | None = None, start: int = 0,
              ) -> Callable[..., tuple[mx.array, mx.array]]:
    """``(model, x [T, B, ...], y [B]) -> (loss, correct)``: task loss + rate regulariser
    (``start``: see :func:`_forward`)."""

    def loss_and_correct(model: nn.Module, x: mx.array | list[mx.array], y: mx.array):
        out = _forward(model, x, start)
        loss = loss_fn(out["spikes"], out["membrane"], y)
        if regularizer:
            loss = loss + rate_regularizer(out["layer_spikes"], **regularizer)
        correct = (mx.argmax(out["logits"], axis=-1) == y).sum()
        return loss, correct

    return loss_and_correct


def make_train_step(model: nn.Module, optimizer: optim.Optimizer, loss_fn: LossFn, *,
                    encoder: Encoder | None = None,
                    regularizer: dict[str, float] | None = None,
                    grad_clip: float | None = None,
                    compile: bool = True,
                    augment: Encoder | None = None) -> Callable[..., tuple[mx.array, mx.array]]:
    """Build ``step(x, y, key) -> (loss, correct)`` updating ``model`` and ``optimizer``.

    Args:
        model: the network; called as ``model(x [T, B, ...])`` returning the output dict.
        optimizer: an :mod:`mlx.optimizers` optimizer.
        loss_fn: ``(spikes, membrane, y) -> scalar`` (see :func:`eegsnn.train.losses.get_loss`).
        encoder: ``(x [B, ...], key) -> [T, B, ...]`` applied inside the step, or ``None`` when
            ``x`` is already ``[T, B, ...]``.
        regularizer: keyword arguments of :func:`~eegsnn.train.losses.rate_regularizer`.
        grad_clip: maximum global gradient norm (``None``: no clipping).
        compile: compile the whole step with :func:`mlx.core.compile`.
        augment: ``(x [T, B, ...], key) -> x'`` applied to the (encoded) batch before the
            forward pass (:func:`eegsnn.train.augment.make_augment`); training only.

    Returns:
        The step function. ``loss`` and ``correct`` (number of right predictions in the batch)
        are lazy scalars; call ``mx.eval``/``mx.async_eval`` on them and the state.
    """
    if grad_clip is not None and not grad_clip > 0:
        raise ConfigError(f"grad_clip must be > 0, got {grad_clip}")
    loss_and_grad = nn.value_and_grad(model, make_loss(loss_fn, regularizer))

    def step(x: mx.array, y: mx.array, key: mx.array) -> tuple[mx.array, mx.array]:
        if encoder is not None:
            x = encoder(x, key)
        if augment is not None:
            x = augment(_unpacked(model, x), mx.random.split(key)[1])
        (loss, correct), grads = loss_and_grad(model, x, y)
        if grad_clip is not None:
            grads, _ = optim.clip_grad_norm(grads, grad_clip)
        optimizer.update(model, grads)
        return loss, correct

    if compile:
        state = [model.state, optimizer.state, mx.random.state]
        step = partial(mx.compile, inputs=state, outputs=state)(step)
    return step


def make_eval_step(model: nn.Module, loss_fn: LossFn, *, encoder: Encoder | None = None,
                   compile: bool = True, start: int = 0) -> Callable[..., tuple[mx.array, ...]]:
    """``eval_step(x, y, key) -> (loss, logits [B, C], layer_rates [L])`` without updates.

    ``layer_rates`` is the mean firing rate of each neuron layer (spikes per neuron per step).
    ``start``: see :func:`_forward`.
    """

    def eval_step(x: mx.array | list[mx.array], y: mx.array, key: mx.array):
        if encoder is not None:
            x = encoder(cast(mx.array, x), key)
        out = _forward(model, x, start)
        loss = loss_fn(out["spikes"], out["membrane"], y)
        rates = mx.stack([s.mean() for s in out["layer_spikes"]])
        return loss, out["logits"], rates

    if compile:
        eval_step = partial(mx.compile, inputs=[model.state])(eval_step)
    return eval_step
