"""The fused CPU training step: C kernels for the first layers, MLX for the rest.

On a CPU, a training step of a rate-coded spiking network spends most of its time in two
places MLX has no fast op for (see :mod:`eegsnn.kernels`): the dense product of the binary
input spikes with the first weight matrix (forward and weight gradient) and the per-step
dispatches of the first neuron layer's recurrence. This step computes the *prefix*
``rate coding -> layers[0] (Linear) -> layers[1] (Leaky)`` with
:mod:`eegsnn.kernels.rate_projection` and :mod:`eegsnn.kernels.leaky`, and everything after
it (further layers, readout, loss, rate regulariser, their gradients, gradient clipping, the
optimizer update) with compiled MLX functions, exactly as :func:`eegsnn.train.step.make_train_step`
does:

1. rate-code the batch on the fly and project it: ``I = S W^T + b`` (event-driven, the
   spikes ``S`` are never stored);
2. Leaky forward over ``T``: spikes ``S1`` and membrane ``U1``;
3. MLX (compiled): ``loss, dL/dS1`` and the gradients of the later layers;
4. Leaky backward: ``dL/dI``; kernels: ``dL/dW``; ``dL/db = sum dL/dI``;
5. MLX (compiled): clipping and the optimizer update.

The host waits twice per step, on the CPU where the arrays already live: at the start, for the
previous update, when it reads ``W`` (and transposes it, 0.8 MB for MNIST); and after 3. The
``[T, B, H]`` spikes of ``layers[1]`` are copied into MLX and their gradient is read back as a
view; ``dW`` and ``db`` are copied in.

**Same model, different random stream.** The forward values and gradients equal those of
the MLX step to float rounding *for the same spikes* (tested). The spikes come from the
kernels' own counter-based generator (SplitMix64), not from MLX's Threefry keys, so a
fused run and an MLX run with the same seed draw different (equally distributed) spikes and
differ like two seeds do; each is reproducible, whatever the number of threads. The run
records which engine it used (``config.json``: ``"engine"``).

Eligible (:func:`fused_eligibility`): CPU device; an encoder made by
:func:`eegsnn.train.data.rate_encoder`; ``layers[0]`` Linear on 1-d input with
trainable float32 parameters; ``layers[1]`` a :class:`~eegsnn.nn.Leaky` (the class itself,
not a subclass) with fixed scalar ``beta`` and ``threshold > 0``, delayed and detached
reset, a named surrogate of :data:`eegsnn.kernels.leaky.SURROGATES`; at least one layer
after it; not data-parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from eegsnn._blas import blas_threads
from eegsnn.errors import ConfigError
from eegsnn.nn import Leaky
from eegsnn.nn.sequence import fixed_scalar
from eegsnn.surrogate import Surrogate
from eegsnn.train.config import ENGINES
from eegsnn.train.data import Encoder, RateEncoder
from eegsnn.train.losses import LossFn
from eegsnn.train.step import make_eval_step, make_loss

START = 2  # the MLX part starts at layers[2]


@dataclass(frozen=True)
class FusedPrefix:
    """What the kernels need to know about ``layers[0:2]`` and the encoder."""

    num_steps: int
    scale: float
    in_features: int
    hidden: int
    beta: float
    threshold: float
    mechanism: int
    surrogate: int
    surrogate_param: float


def fused_eligibility(model: nn.Module, encoder: Encoder | None,
                      ) -> tuple[FusedPrefix | None, str]:
    """``(prefix, "")`` when the fused step can train ``model`` with ``encoder``, else
    ``(None, reason)``."""
    from eegsnn.kernels import kernels_available, unavailable_reason

    if not kernels_available():
        return None, unavailable_reason()
    if mx.default_device() != mx.cpu:
        return None, f"the MLX device is {mx.default_device()}, not the CPU"
    if encoder is None or getattr(encoder, "kind", None) != "rate":
        return None, "the input is not rate-coded in the step (rate_encoder)"
    kinds = list(getattr(model, "kinds", []))
    layers = list(getattr(model, "layers", []))
    if len(kinds) < START + 1 or len(layers) != len(kinds) or kinds[0] != "linear" or \
            type(layers[1]) is not Leaky:
        return None, "the model does not start with linear -> leaky followed by more layers"
    input_shape = list(model.config["input_shape"])
    if len(input_shape) != 1:
        return None, f"input shape {input_shape} is not 1-d"
    linear, neuron = layers[0], layers[1]
    trainable = set(dict(linear.trainable_parameters()))
    if trainable != set(dict(linear.parameters())):
        return None, "layers[0] has frozen parameters"
    if any(v.dtype != mx.float32 for v in dict(linear.parameters()).values()):
        return None, "layers[0] parameters are not float32"

    from eegsnn.kernels.leaky import MECHANISMS, SURROGATES

    beta, threshold = fixed_scalar(getattr(neuron, "beta", None)), \
        fixed_scalar(getattr(neuron, "threshold", None))
    if beta is None or threshold is None or not threshold > 0:
        return None, "the first Leaky layer has learnable or array-valued beta/threshold"
    if not (getattr(neuron, "reset_delay", False) and getattr(neuron, "detach_reset", False)):
        return None, "the first Leaky layer does not use the delayed, detached reset"
    mechanism = getattr(neuron, "reset_mechanism", None)
    if mechanism not in MECHANISMS:
        return None, f"reset mechanism {mechanism!r} has no kernel"
    spike_fn = neuron.spike_fn
    name = getattr(spike_fn, "name", None)
    if not isinstance(spike_fn, Surrogate) or name not in SURROGATES:
        return None, f"surrogate {name!r} has no kernel"
    code, param = SURROGATES[name]
    hidden, in_features = linear.weight.shape
    prefix = FusedPrefix(
        num_steps=int(cast(RateEncoder, encoder).num_steps),  # kind == "rate" checked above
        scale=float(getattr(encoder, "scale", 1.0)),
        in_features=int(in_features), hidden=int(hidden), beta=beta, threshold=threshold,
        mechanism=MECHANISMS[mechanism], surrogate=code,
        surrogate_param=float(spike_fn.params[param]) if param else 0.0)
    return prefix, ""


def select_engine(requested: str, model: nn.Module, encoder: Encoder | None,
                  distributed: bool = False, augment: bool = False
                  ) -> tuple[str, str, FusedPrefix | None]:
    """Resolve ``requested`` (``auto`` | ``mlx`` | ``fused``) to ``(engine, reason,
    prefix)``: the engine name, why, and the kernels' prefix description for ``"fused"``.

    Raises:
        ConfigError: ``fused`` requested for a setup it cannot run.
    """
    if requested not in ENGINES:
        raise ConfigError(f"train config: engine must be one of {', '.join(ENGINES)}, "
                          f"got {requested!r}")
    if requested == "mlx":
        return "mlx", "requested", None
    if distributed:
        prefix, reason = None, "data-parallel training uses the MLX step"
    elif augment:
        prefix, reason = None, "training-batch augmentation runs in the MLX step"
    else:
        prefix, reason = fused_eligibility(model, encoder)
    if prefix is None:
        if requested == "fused":
            raise ConfigError(f"train config: engine 'fused' cannot train this setup: {reason}")
        return "mlx", reason, None
    return "fused", "eligible", prefix


class _Prefix:
    """Forward and backward of ``rate coding -> Linear -> Leaky`` on host arrays."""

    def __init__(self, model: nn.Module, prefix: FusedPrefix) -> None:
        self.model = model
        self.p = prefix

    def forward(self, x: mx.array, key: mx.array) -> dict[str, Any]:
        from eegsnn.kernels import leaky as lk
        from eegsnn.kernels import rate_projection as rp

        p = self.p
        if x.dtype not in (mx.uint8, mx.float32):
            x = x.astype(mx.float32)  # what rate_encoder does with other dtypes
        x_host = np.asarray(x)
        if x_host.ndim != 2 or x_host.shape[1] != p.in_features:
            raise ConfigError(f"model input: expected [B, {p.in_features}], got "
                              f"{list(x_host.shape)}")
        threshold = rp.rate_thresholds(x_host, p.scale)
        plan = rp.plan(threshold)
        stream = rp.key_to_uint64(np.asarray(key))
        linear = self.model.layers[0]
        weight = np.ascontiguousarray(np.asarray(linear.weight).T)  # [F, H]
        bias = np.asarray(linear.bias) if "bias" in linear else np.zeros(p.hidden, np.float32)
        batch = x_host.shape[0]
        current = np.empty((p.num_steps, batch, p.hidden), np.float32)
        rp.project_forward(threshold, plan, stream, p.num_steps, weight,
                           np.ascontiguousarray(bias, dtype=np.float32), current)
        flat = current.reshape(p.num_steps, -1)
        spikes = np.empty_like(flat)
        membrane = np.empty_like(flat)
        lk.leaky_forward(flat, p.beta, p.threshold, p.mechanism, spikes, membrane)
        return {"threshold": threshold, "stream": stream, "batch": batch,
                "spikes": spikes.reshape(current.shape), "membrane": membrane}

    def backward(self, saved: dict[str, Any], grad_spikes: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(dL/dW [H, F], dL/db [H])`` from ``dL/dS1 [T, B, H]``."""
        from eegsnn.kernels import leaky as lk
        from eegsnn.kernels import rate_projection as rp

        p = self.p
        membrane = saved["membrane"]
        grad_current = np.empty_like(membrane)
        lk.leaky_backward(np.ascontiguousarray(grad_spikes, dtype=np.float32)
                          .reshape(membrane.shape), None, membrane,
                          p.beta, p.threshold, p.mechanism, p.surrogate, p.surrogate_param,
                          grad_current)
        grad_current = grad_current.reshape(p.num_steps, saved["batch"], p.hidden)
        time_sum = grad_current.sum(axis=0)
        grad_weight = np.empty((p.in_features, p.hidden), np.float32)
        rp.project_weight_grad(saved["threshold"], saved["stream"], grad_current, time_sum,
                               grad_weight)
        return grad_weight.T, time_sum.sum(axis=0)


def _tail_params(model: nn.Module) -> dict[str, Any]:
    layers = model.trainable_parameters()["layers"]
    return {"layers": [{} if i < START else layer for i, layer in enumerate(layers)]}


class FusedTrainStep:
    """``step(x [B, F], y [B], key) -> (loss, correct)``, the fused counterpart of
    :func:`eegsnn.train.step.make_train_step` (same arguments and results)."""

    def __init__(self, model: nn.Module, optimizer: optim.Optimizer, loss_fn: LossFn,
                 prefix: FusedPrefix, *, regularizer: dict[str, float] | None = None,
                 grad_clip: float | None = None, compile: bool = True,
                 blas_single_thread: bool = True) -> None:
        if grad_clip is not None and not grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0, got {grad_clip}")
        #: run the MLX part with OpenBLAS limited to one thread (see
        #: :func:`eegsnn._blas.blas_threads`; ``False`` only for the benchmark's ablation)
        self.blas_single_thread = bool(blas_single_thread)
        self.model = model
        self.optimizer = optimizer
        self.prefix = _Prefix(model, prefix)

        loss_and_correct = make_loss(loss_fn, regularizer, start=START)

        def tail_loss(params: dict, spikes: mx.array, y: mx.array):
            model.update(params)
            return loss_and_correct(model, spikes, y)

        value_and_grad = mx.value_and_grad(tail_loss, argnums=(0, 1))

        def tail(spikes: mx.array, y: mx.array):
            (loss, correct), (grads, grad_spikes) = value_and_grad(_tail_params(model),
                                                                   spikes, y)
            return loss, correct, grads, grad_spikes

        def update(grads: dict) -> None:
            if grad_clip is not None:
                grads, _ = optim.clip_grad_norm(grads, grad_clip)
            optimizer.update(model, grads)

        if compile:
            tail_state = [model.state, mx.random.state]  # dropout draws from the global key
            update_state = [model.state, optimizer.state]
            tail = partial(mx.compile, inputs=tail_state, outputs=tail_state)(tail)
            update = partial(mx.compile, inputs=update_state, outputs=update_state)(update)
        self._tail = tail
        self._update = update

    def loss_and_grads(self, x: mx.array, y: mx.array, key: mx.array,
                       ) -> tuple[mx.array, mx.array, dict[str, Any]]:
        """``(loss, correct, grads)`` of one batch without updating anything; ``grads`` has
        the structure of ``model.trainable_parameters()``."""
        saved = self.prefix.forward(x, key)
        # small matmuls; idle OpenBLAS threads would spin on the kernels' cores afterwards
        with blas_threads(1 if self.blas_single_thread else 0):
            loss, correct, grads, grad_spikes = self._tail(mx.array(saved["spikes"]), y)
            mx.eval(loss, correct, grads, grad_spikes)
        grad_weight, grad_bias = self.prefix.backward(saved, np.asarray(grad_spikes))
        first = {"weight": mx.array(grad_weight)}
        if "bias" in self.model.layers[0]:
            first["bias"] = mx.array(grad_bias)
        grads["layers"][0] = first
        return loss, correct, grads

    def __call__(self, x: mx.array, y: mx.array, key: mx.array) -> tuple[mx.array, mx.array]:
        loss, correct, grads = self.loss_and_grads(x, y, key)
        self._update(grads)
        return loss, correct


class FusedEvalStep:
    """``eval_step(x, y, key) -> (loss, logits [B, C], layer_rates [L])`` without updates,
    the fused counterpart of :func:`eegsnn.train.step.make_eval_step`."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, prefix: FusedPrefix, *,
                 compile: bool = True) -> None:
        self.prefix = _Prefix(model, prefix)
        self._tail = make_eval_step(model, loss_fn, compile=compile, start=START)

    def __call__(self, x: mx.array, y: mx.array, key: mx.array):
        saved = self.prefix.forward(x, key)
        with blas_threads(1):
            out = self._tail(mx.array(saved["spikes"]), y, key)
            mx.eval(out)
        return out
