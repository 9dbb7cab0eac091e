"""The fused CPU training step: C kernels for the first layers, MLX for the rest.

On a CPU, a training step of a spiking network spends most of its time in two places MLX
has no fast op for (see :mod:`eegsnn.kernels`): the dense products of *binary* spikes with
weight matrices (forward and weight gradient) and the per-step dispatches of the neuron
recurrences. This step computes the *prefix* of the network

    input -> Linear -> Leaky [-> Linear -> Leaky ...]

with the kernels and everything after it (further layers, readout, loss, rate regulariser,
their gradients, gradient clipping, the optimizer update) with compiled MLX functions,
exactly as :func:`eegsnn.train.step.make_train_step` does. Two kinds of input:

* **rate-coded in the step** (``input="rate"``, MNIST): the spikes are drawn on the fly
  and projected event by event (:mod:`eegsnn.kernels.rate_projection`), never stored;
* **spike trains given** (``input="spikes"``, the EEG pipelines: pre-encoded ``[T, B, F]``,
  also streamed from packed shards): each batch's nonzeros are listed once and projected
  event by event (:mod:`eegsnn.kernels.sparse_projection`); a batch denser than
  :data:`DENSE_FRACTION` (direct, current-valued input) is projected with MLX's dense
  product instead.

Every further ``Linear -> Leaky`` pair right after the first (hidden layers) joins the
prefix: its input is the spikes of the Leaky before it, projected by the sparse kernel.
The step:

1. project the input (``I = S W^T + b``), Leaky forward over ``T`` (:mod:`eegsnn.kernels.leaky`):
   spikes ``S1``, membrane ``U1``; the same for each further pair on ``S1``...;
2. MLX (compiled): ``loss`` and ``dL/dS`` of every prefix layer's spikes (the last one feeds
   the tail; all of them feed the rate regulariser) and the gradients of the later layers;
3. per pair, last first: Leaky backward ``dL/dI``; ``dL/dW`` by the kernels,
   ``dL/db = sum dL/dI``; ``dL/dS`` of the pair before: its own plus ``dL/dI W`` (MLX);
4. MLX (compiled): clipping and the optimizer update.

The host waits twice per step, on the CPU where the arrays already live: at the start, for the
previous update, when it reads the weights; and after 2. The prefix spikes are copied into
MLX and their gradients read back as views; ``dW`` and ``db`` are copied in.

**Same model, same numbers.** The forward values and gradients equal those of the MLX step
to float rounding *for the same spikes* (tested). Given spike trains are the same spikes, so
the two engines train the same model to float rounding. Rate coding draws the spikes from
the kernels' own counter-based generator (SplitMix64), not from MLX's Threefry keys, so a
fused run and an MLX run with the same seed draw different (equally distributed) spikes and
differ like two seeds do; each is reproducible, whatever the number of threads. The run
records which engine it used (``config.json``: ``"engine"``).

Eligible (:func:`fused_eligibility`): CPU device; an encoder made by
:func:`eegsnn.train.data.rate_encoder`, or no encoder (spike trains given); ``layers[0]``
Linear on 1-d input with trainable float32 parameters; ``layers[1]`` a
:class:`~eegsnn.nn.Leaky` (the class itself, not a subclass) with fixed scalar ``beta`` and
``threshold > 0``, delayed and detached reset, a named surrogate of
:data:`eegsnn.kernels.leaky.SURROGATES`; at least one layer after the prefix; not
data-parallel.
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
from eegsnn.train.data import Encoder, RateEncoder, is_packed_batch
from eegsnn.train.losses import LossFn
from eegsnn.train.step import make_eval_step, make_loss

#: A batch of given spike trains with more than this fraction of nonzeros is projected
#: with MLX's dense product (BLAS) instead of the event-driven kernel.
DENSE_FRACTION = 0.25


@dataclass(frozen=True)
class FusedLayer:
    """One ``Linear -> Leaky`` pair of the prefix, as the kernels need it."""

    in_features: int
    hidden: int
    beta: float
    threshold: float
    mechanism: int
    surrogate: int
    surrogate_param: float


@dataclass(frozen=True)
class FusedPrefix:
    """What the kernels need to know about the prefix ``layers[:start]`` and the input.

    Attributes:
        input: ``"rate"`` (rate-coded in the step) or ``"spikes"`` (spike trains given).
        num_steps, scale: the rate encoder's (``0`` and ``1.0`` for given spike trains).
        layers: the ``Linear -> Leaky`` pairs, first to last.
    """

    input: str
    num_steps: int
    scale: float
    layers: tuple[FusedLayer, ...]

    @property
    def start(self) -> int:
        """Index of the first layer the MLX part runs."""
        return 2 * len(self.layers)

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features


def _fused_pair(linear: nn.Module, neuron: nn.Module, index: int,
                ) -> tuple[FusedLayer | None, str]:
    """The kernels' description of ``layers[index] -> layers[index + 1]`` (``linear ->
    neuron``), or ``(None, reason)``."""
    from eegsnn.kernels.leaky import MECHANISMS, SURROGATES

    lin, lif = f"layers[{index}]", f"the Leaky layer layers[{index + 1}]"
    if not isinstance(linear, nn.Linear) or type(neuron) is not Leaky:
        return None, f"layers[{index}:{index + 2}] is not linear -> leaky"
    trainable = set(dict(linear.trainable_parameters()))
    if trainable != set(dict(linear.parameters())):
        return None, f"{lin} has frozen parameters"
    if any(v.dtype != mx.float32 for v in dict(linear.parameters()).values()):
        return None, f"{lin} parameters are not float32"
    beta, threshold = fixed_scalar(getattr(neuron, "beta", None)), \
        fixed_scalar(getattr(neuron, "threshold", None))
    if beta is None or threshold is None or not threshold > 0:
        return None, f"{lif} has learnable or array-valued beta/threshold"
    if not (getattr(neuron, "reset_delay", False) and getattr(neuron, "detach_reset", False)):
        return None, f"{lif} does not use the delayed, detached reset"
    mechanism = getattr(neuron, "reset_mechanism", None)
    if mechanism not in MECHANISMS:
        return None, f"{lif}: reset mechanism {mechanism!r} has no kernel"
    spike_fn = neuron.spike_fn
    name = getattr(spike_fn, "name", None)
    if not isinstance(spike_fn, Surrogate) or name not in SURROGATES:
        return None, f"{lif}: surrogate {name!r} has no kernel"
    code, param = SURROGATES[name]
    hidden, in_features = linear.weight.shape
    return FusedLayer(in_features=int(in_features), hidden=int(hidden), beta=beta,
                      threshold=threshold, mechanism=MECHANISMS[mechanism], surrogate=code,
                      surrogate_param=float(spike_fn.params[param]) if param else 0.0), ""


def fused_eligibility(model: nn.Module, encoder: Encoder | None,
                      ) -> tuple[FusedPrefix | None, str]:
    """``(prefix, "")`` when the fused step can train ``model`` with ``encoder`` (``None``:
    spike trains given), else ``(None, reason)``."""
    from eegsnn.kernels import kernels_available, unavailable_reason

    if not kernels_available():
        return None, unavailable_reason()
    if mx.default_device() != mx.cpu:
        return None, f"the MLX device is {mx.default_device()}, not the CPU"
    if encoder is not None and getattr(encoder, "kind", None) != "rate":
        return None, "the input is not rate-coded in the step (rate_encoder)"
    kinds = list(getattr(model, "kinds", []))
    layers = list(getattr(model, "layers", []))
    if len(kinds) < 3 or len(layers) != len(kinds) or kinds[0] != "linear" or \
            type(layers[1]) is not Leaky:
        return None, "the model does not start with linear -> leaky followed by more layers"
    input_shape = list(model.config["input_shape"])
    if len(input_shape) != 1:
        return None, f"input shape {input_shape} is not 1-d"
    first, reason = _fused_pair(layers[0], layers[1], 0)
    if first is None:
        return None, reason
    pairs = [first]
    # further hidden pairs on the spikes of the one before, while a layer follows them
    while len(kinds) > 2 * len(pairs) + 2 and kinds[2 * len(pairs)] == "linear":
        i = 2 * len(pairs)
        pair, _ = _fused_pair(layers[i], layers[i + 1], i)
        if pair is None:
            break
        pairs.append(pair)
    if encoder is None:
        return FusedPrefix("spikes", 0, 1.0, tuple(pairs)), ""
    rate = cast(RateEncoder, encoder)  # kind == "rate" checked above
    return FusedPrefix("rate", int(rate.num_steps), float(getattr(rate, "scale", 1.0)),
                       tuple(pairs)), ""


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
    """Forward and backward of the prefix (input -> Linear -> Leaky [-> Linear -> Leaky]...)
    on host arrays."""

    def __init__(self, model: nn.Module, prefix: FusedPrefix) -> None:
        self.model = model
        self.p = prefix
        self._buffers: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}

    def _buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 work array kept from step to step (fresh ones of tens of MB cost page
        faults every step). Its contents live for one step only: whatever leaves the step is
        copied into MLX (``mx.array`` copies)."""
        key = (name, tuple(int(n) for n in shape))
        if key not in self._buffers:
            if len(self._buffers) > 64:  # changing batch shapes: forget the old ones
                self._buffers.clear()
            self._buffers[key] = np.empty(key[1], np.float32)
        return self._buffers[key]

    def _weights(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(W [F, H] input-major, b [H])`` of the ``j``-th pair's Linear layer."""
        linear = self.model.layers[2 * j]
        weight = np.ascontiguousarray(np.asarray(linear.weight).T)
        bias = np.asarray(linear.bias) if "bias" in linear else \
            np.zeros(self.p.layers[j].hidden, np.float32)
        return weight, np.ascontiguousarray(bias, dtype=np.float32)

    def _project(self, j: int, rows: np.ndarray, cols: int | None = None,
                 ) -> tuple[np.ndarray, Any]:
        """``(rows W^T + b [R, H], saved input)`` of the ``j``-th pair for input ``rows
        [R, F]`` (or packed bytes ``[R, ceil(F / 8)]`` with ``cols = F``): event-driven
        unless the rows are dense."""
        from eegsnn.kernels import sparse_projection as sp

        index = sp.sparse_rows(rows, cols=cols, max_density=DENSE_FRACTION)
        if index is None:  # dense (e.g. direct-coded current): one GEMM
            linear = self.model.layers[2 * j]
            if cols is not None:  # packed bits of a dense batch
                rows = np.unpackbits(rows, axis=-1, count=cols).astype(np.float32)
            dense = mx.array(rows)
            out = np.array(linear(dense))
            return out, dense
        weight, bias = self._weights(j)
        out = self._buffer(f"current{j}", (rows.shape[0], self.p.layers[j].hidden))
        sp.sparse_forward(index, weight, bias, out)
        return out, index

    def forward(self, x: mx.array, key: mx.array) -> dict[str, Any]:
        from eegsnn.kernels import leaky as lk
        from eegsnn.kernels import rate_projection as rp

        p = self.p
        if p.input == "rate":
            if x.dtype not in (mx.uint8, mx.float32):
                x = x.astype(mx.float32)  # what rate_encoder does with other dtypes
            x_host = np.asarray(x)
            if x_host.ndim != 2 or x_host.shape[1] != p.in_features:
                raise ConfigError(f"model input: expected [B, {p.in_features}], got "
                                  f"{list(x_host.shape)}")
            threshold = rp.rate_thresholds(x_host, p.scale)
            plan = rp.plan(threshold)
            stream = rp.key_to_uint64(np.asarray(key))
            num_steps, batch = p.num_steps, x_host.shape[0]
            weight, bias = self._weights(0)
            current = self._buffer("current0", (num_steps, batch, p.layers[0].hidden))
            rp.project_forward(threshold, plan, stream, num_steps, weight, bias, current)
            flat = current.reshape(num_steps * batch, -1)
            source: Any = (threshold, stream)
        elif is_packed_batch(x, p.in_features):  # packed bits: indexed without unpacking
            x_host = np.asarray(x)
            num_steps, batch = int(x_host.shape[0]), int(x_host.shape[1])
            flat, source = self._project(0, np.ascontiguousarray(
                x_host.reshape(num_steps * batch, -1)), cols=p.in_features)
        else:
            if x.dtype != mx.float32:
                x = x.astype(mx.float32)
            x_host = np.asarray(x)
            if x_host.ndim != 3 or x_host.shape[2] != p.in_features:
                raise ConfigError(f"model input: expected [T, B, {p.in_features}], got "
                                  f"{list(x_host.shape)}")
            num_steps, batch = int(x_host.shape[0]), int(x_host.shape[1])
            flat, source = self._project(0, np.ascontiguousarray(
                x_host.reshape(num_steps * batch, -1)))
        sources: list[Any] = [source]
        membranes: list[np.ndarray] = []
        spikes_out: list[np.ndarray] = []
        for j, layer in enumerate(p.layers):
            if j > 0:
                flat, source = self._project(j, spikes_out[-1].reshape(num_steps * batch, -1))
                sources.append(source)
            steps = flat.reshape(num_steps, -1)
            spikes = self._buffer(f"spikes{j}", steps.shape)
            membrane = steps  # in place: the kernel reads X[t, k] before writing U[t, k]
            lk.leaky_forward(steps, layer.beta, layer.threshold, layer.mechanism, spikes,
                             membrane)
            membranes.append(membrane)
            spikes_out.append(spikes.reshape(num_steps, batch, layer.hidden))
        return {"sources": sources, "num_steps": num_steps, "batch": batch,
                "spikes": spikes_out, "membranes": membranes}

    def backward(self, saved: dict[str, Any], grad_spikes: list[np.ndarray],
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(dL/dW [H, F], dL/db [H]) per pair]`` from ``dL/dS`` of every pair's spikes
        ``[T, B, H]`` (the later pairs' contributions to the earlier spikes are added here)."""
        from eegsnn.kernels import leaky as lk
        from eegsnn.kernels import rate_projection as rp
        from eegsnn.kernels import sparse_projection as sp

        p = self.p
        num_steps, batch = saved["num_steps"], saved["batch"]
        grads: list[tuple[np.ndarray, np.ndarray]] = []
        carried: np.ndarray | None = None  # dL/dS of pair j from the pair after it
        for j in range(len(p.layers) - 1, -1, -1):
            layer, membrane = p.layers[j], saved["membranes"][j]
            own = np.ascontiguousarray(grad_spikes[j], dtype=np.float32).reshape(membrane.shape)
            grad_out = own if carried is None else own + carried.reshape(membrane.shape)
            grad_current = membrane  # in place: U[t, k] is read before dL/dX[t, k] is written
            lk.leaky_backward(grad_out, None, membrane, layer.beta, layer.threshold,
                              layer.mechanism, layer.surrogate, layer.surrogate_param,
                              grad_current)
            grad_current = grad_current.reshape(num_steps, batch, layer.hidden)
            time_sum = grad_current.sum(axis=0)
            source = saved["sources"][j]
            grad_weight = np.empty((layer.in_features, layer.hidden), np.float32)
            rows = grad_current.reshape(num_steps * batch, layer.hidden)
            if j == 0 and p.input == "rate":
                threshold, stream = source
                rp.project_weight_grad(threshold, stream, grad_current, time_sum, grad_weight)
            elif isinstance(source, mx.array):  # the dense input of this pair
                grad_weight = np.array(mx.array(rows).T @ source).T
            else:
                sp.sparse_weight_grad(source, rows, grad_weight)
            grads.append((grad_weight.T, time_sum.sum(axis=0)))
            if j > 0:  # dL/dS of the pair before: dL/dI W
                weight = self.model.layers[2 * j].weight
                carried = np.array(mx.array(rows) @ weight)
        return grads[::-1]


def _tail_params(model: nn.Module, start: int) -> dict[str, Any]:
    layers = model.trainable_parameters()["layers"]
    return {"layers": [{} if i < start else layer for i, layer in enumerate(layers)]}


class FusedTrainStep:
    """``step(x, y [B], key) -> (loss, correct)``, the fused counterpart of
    :func:`eegsnn.train.step.make_train_step` (same arguments and results; ``x`` is
    ``[B, F]`` for rate coding in the step, ``[T, B, F]`` spike trains otherwise)."""

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

        start = prefix.start
        loss_and_correct = make_loss(loss_fn, regularizer, start=start)

        def tail_loss(params: dict, spikes: list[mx.array], y: mx.array):
            model.update(params)
            return loss_and_correct(model, spikes, y)

        value_and_grad = mx.value_and_grad(tail_loss, argnums=(0, 1))

        def tail(spikes: list[mx.array], y: mx.array):
            (loss, correct), (grads, grad_spikes) = value_and_grad(_tail_params(model, start),
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
            loss, correct, grads, grad_spikes = self._tail(
                [mx.array(s) for s in saved["spikes"]], y)
            mx.eval(loss, correct, grads, grad_spikes)
        pair_grads = self.prefix.backward(saved, [np.asarray(g) for g in grad_spikes])
        for j, (grad_weight, grad_bias) in enumerate(pair_grads):
            first = {"weight": mx.array(grad_weight)}
            if "bias" in self.model.layers[2 * j]:
                first["bias"] = mx.array(grad_bias)
            grads["layers"][2 * j] = first
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
        self._tail = make_eval_step(model, loss_fn, compile=compile, start=prefix.start)

    def __call__(self, x: mx.array, y: mx.array, key: mx.array):
        saved = self.prefix.forward(x, key)
        with blas_threads(1):
            out = self._tail([mx.array(s) for s in saved["spikes"]], y, key)
            mx.eval(out)
        return out


def default_eval_step(model: nn.Module, loss_fn: LossFn, encoder: Encoder | None = None,
                      ) -> Any:
    """The evaluation step of :func:`eegsnn.train.loop.evaluate` when none is given: the fused
    forward for given spike trains on an eligible model (the same numbers as the MLX forward
    to float rounding: evaluation and ``--predict`` of long recordings run on the kernels),
    else the compiled MLX one. Rate-coded input keeps the MLX step there, so evaluations
    outside ``fit`` draw the spikes they always drew."""
    if encoder is None:
        prefix, _ = fused_eligibility(model, None)
        if prefix is not None:
            return FusedEvalStep(model, loss_fn, prefix)
    return make_eval_step(model, loss_fn, encoder=encoder, compile=True)
