r"""Recurrent spiking layers: ``RLeaky`` and ``RSynaptic`` (snnTorch 1.0's, same conventions).

Each neuron receives, besides its input current :math:`X[t]`, a recurrent current from the
layer's own spikes at the previous step,

.. math::

    \mathrm{Rec}[t] = V(S[t-1]) = S[t-1]\,W^\top + b \quad (\text{all\_to\_all, default}),
    \qquad \mathrm{Rec}[t] = V \odot S[t-1] \quad (\text{one-to-one}),

with ``W [F, F]`` and ``b [F]`` a learned linear layer (``recurrent``, an
:class:`mlx.nn.Linear` as snnTorch's, bias included; initialised uniform in
:math:`\pm 1/\sqrt{F}`) or ``V`` a scalar or per-neuron weight (``all_to_all=False``,
default 1.0). The spike fed back is the surrogate spike, so the gradient flows through
the recurrence (BPTT); the reset is detached (``detach_reset=True``, snnTorch's default).

The math is in the pure step functions :func:`rleaky_step` and :func:`rsynaptic_step`
(explicit state ``spk``, ``mem`` (, ``syn``)); the modules hold the parameters and run the
step loop over ``T`` in ``unroll`` (one lazy graph; works inside :func:`mlx.core.compile`
and :func:`mlx.nn.value_and_grad`). State dicts: ``{"mem", "spk"}`` (RLeaky) and
``{"syn", "mem", "spk"}`` (RSynaptic), all ``[B, F]``, zero at the start.

Immediate reset (``reset_delay=False``) follows eegsnn's convention for ``Leaky``
(:func:`eegsnn.nn.functional.leaky_step`: the step's own spike resets the membrane), not
snnTorch's "avoid double reset" variant.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, cast

import mlx.core as mx
import mlx.nn as nn

from eegsnn.errors import ConfigError
from eegsnn.nn import functional as F
from eegsnn.nn.base import SpikingNeuron, State
from eegsnn.nn.functional import Scalar, SpikeFn, reset_signal
from eegsnn.nn.sequence import sum_to_shape

__all__ = ["RLeaky", "RSynaptic", "recurrent_current", "rleaky_sequence", "rleaky_step",
           "rsynaptic_sequence", "rsynaptic_step"]


def recurrent_current(spk: mx.array, weight: mx.array | Scalar,
                      bias: mx.array | None = None) -> mx.array:
    r"""The recurrent input :math:`V(S[t-1])` from the previous spikes ``spk [B, F]``.

    ``weight [F, F]``: :math:`S W^\top + b` (all-to-all); a scalar or ``[F]`` weight:
    :math:`V \odot S` (one-to-one; ``bias`` must be ``None``).
    """
    if isinstance(weight, mx.array) and weight.ndim == 2:
        out = spk @ weight.T
        return out + bias if bias is not None else out
    return spk * weight


def rleaky_step(
    x: mx.array, spk: mx.array, mem: mx.array, *, weight: mx.array | Scalar,
    bias: mx.array | None, beta: Scalar, threshold: Scalar, spike_fn: SpikeFn,
    reset_mechanism: str = "subtract", reset_delay: bool = True, detach_reset: bool = True,
) -> tuple[mx.array, mx.array]:
    r"""One step of the recurrent leaky integrate-and-fire neuron (snnTorch ``RLeaky``).

    With :math:`B[t] = \beta U[t-1] + X[t] + V(S[t-1])` (:func:`recurrent_current`) and the
    delayed reset :math:`R[t] = H(U[t-1] - U_\mathrm{thr})` (detached by default):

    .. math::

        U[t] &= B[t] - R[t]\,U_\mathrm{thr}   &&\text{subtract} \\
        U[t] &= (1 - R[t])\,B[t]             &&\text{zero (the whole new membrane)} \\
        U[t] &= B[t]                         &&\text{none} \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    Immediate reset: :math:`S[t] = H(B[t] - U_\mathrm{thr})`, then
    :math:`U[t] = B[t] - S[t] U_\mathrm{thr}` (subtract) or :math:`(1 - S[t]) B[t]` (zero).

    Args:
        x: input current :math:`X[t]` ``[B, F]``.
        spk: previous spikes :math:`S[t-1]` ``[B, F]``.
        mem: stored membrane :math:`U[t-1]` ``[B, F]``.
        weight, bias: the recurrent weights (see :func:`recurrent_current`).
        beta, threshold, spike_fn, reset_mechanism, reset_delay, detach_reset: as in
            :func:`eegsnn.nn.functional.leaky_step`.

    Returns:
        ``(spk, mem)``: :math:`S[t]`, :math:`U[t]`.
    """
    base = beta * mem + x + recurrent_current(spk, weight, bias)
    if reset_delay:
        if reset_mechanism == "subtract":
            new = base - reset_signal(mem, threshold, spike_fn, detach_reset) * threshold
        elif reset_mechanism == "zero":
            new = (1.0 - reset_signal(mem, threshold, spike_fn, detach_reset)) * base
        else:
            new = base
        return spike_fn(new - threshold), new
    out = spike_fn(base - threshold)
    r = mx.stop_gradient(out) if detach_reset else out
    if reset_mechanism == "subtract":
        base = base - r * threshold
    elif reset_mechanism == "zero":
        base = (1.0 - r) * base
    return out, base


def rsynaptic_step(
    x: mx.array, spk: mx.array, syn: mx.array, mem: mx.array, *,
    weight: mx.array | Scalar, bias: mx.array | None, alpha: Scalar, beta: Scalar,
    threshold: Scalar, spike_fn: SpikeFn, reset_mechanism: str = "subtract",
    reset_delay: bool = True, detach_reset: bool = True,
) -> tuple[mx.array, mx.array, mx.array]:
    r"""One step of the recurrent two-state neuron (snnTorch ``RSynaptic``).

    :func:`eegsnn.nn.functional.synaptic_step` with the recurrent current added to the
    synaptic input:

    .. math::

        I[t] &= \alpha I[t-1] + X[t] + V(S[t-1]) \\
        U[t] &= \beta U[t-1] + I[t] - R[t]\,U_\mathrm{thr}  &&\text{subtract} \\
        U[t] &= (1 - R[t])(\beta U[t-1] + I[t])           &&\text{zero} \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    (the synaptic current is never reset). Returns ``(spk, syn, mem)``.
    """
    return F.synaptic_step(
        x + recurrent_current(spk, weight, bias), syn, mem, alpha=alpha, beta=beta,
        threshold=threshold, spike_fn=spike_fn, reset_mechanism=reset_mechanism,
        reset_delay=reset_delay, detach_reset=detach_reset)


_KERNELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _recurrent_kernel(derivative: Callable[[mx.array], mx.array], mechanism: str,
                      synaptic: bool):
    """The custom-VJP whole-sequence RLeaky (``synaptic=False``) or RSynaptic for one
    (surrogate, reset) configuration. Primals ``(x, mem0, spk0, W, b, beta, thr[, syn0,
    alpha])``; outputs ``(spikes, mems[, syns])``."""

    def forward(x_seq, mem0, spk0, weight, bias, beta, thr, syn0=None, alpha=None):
        mem, spk, syn = mem0, spk0, syn0
        r = (mem0 > thr).astype(x_seq.dtype)
        spikes, mems, syns = [], [], []
        for t in range(x_seq.shape[0]):
            rec = spk @ weight.T + bias  # same association as the step functions
            if synaptic:
                syn = alpha * syn + (x_seq[t] + rec)
                syns.append(syn)
                base = beta * mem + syn
            else:
                base = beta * mem + x_seq[t] + rec
            if mechanism == "subtract":
                mem = base - r * thr
            elif mechanism == "zero":
                mem = (1.0 - r) * base
            else:
                mem = base
            spk = ((mem - thr) > 0).astype(x_seq.dtype)
            r = spk  # this step's spike is the next step's (delayed) reset
            spikes.append(spk)
            mems.append(mem)
        if synaptic:
            return mx.stack(spikes), mx.stack(mems), mx.stack(syns)
        return mx.stack(spikes), mx.stack(mems)

    fn = mx.custom_function(forward)

    @fn.vjp
    def backward(primals, cotangents, outputs):
        mem0, spk0, weight, bias, beta, thr = primals[1:7]
        g_spk, g_mem = cotangents[0], cotangents[1]
        spikes, mems = outputs[0], outputs[1]
        dtype = mems.dtype
        steps = mems.shape[0]
        slope = derivative(mems - thr).astype(dtype)  # dS[t]/dU[t]
        prev_u = mx.concatenate([mem0[None], mems[:-1]])
        prev_s = mx.concatenate([spk0[None], spikes[:-1]])
        r = (prev_u > thr).astype(dtype)  # R[t], detached
        # slot t of each is filled at step t of the loop below
        g_base: list[Any] = [None] * steps
        g_drive: list[Any] = [None] * steps
        g_spike: list[Any] = [None] * steps
        nxt_base = nxt_drive = None  # gradients of step t+1's membrane base and drive
        for t in range(steps - 1, -1, -1):
            gs = g_spk[t] if nxt_drive is None else g_spk[t] + nxt_drive @ weight
            g_spike[t] = gs * slope[t]
            gu = g_mem[t] + g_spike[t]
            if nxt_base is not None:
                gu = gu + beta * nxt_base
            nxt_base = gu * (1.0 - r[t]) if mechanism == "zero" else gu
            g_base[t] = nxt_base
            if synaptic:  # I[t] = alpha I[t-1] + drive[t]; base[t] = beta U[t-1] + I[t]
                gi = nxt_base + cotangents[2][t]
                if nxt_drive is not None:
                    gi = gi + primals[8] * nxt_drive
                nxt_drive = gi
            else:
                nxt_drive = nxt_base
            g_drive[t] = nxt_drive
        g_b, g_d = mx.stack(g_base), mx.stack(g_drive)
        g_weight = g_d.reshape(-1, g_d.shape[-1]).T @ prev_s.reshape(-1, prev_s.shape[-1])
        g_thr = -mx.stack(g_spike)
        if mechanism == "subtract":  # U[t] = base[t] - R[t] thr
            g_thr = g_thr - g_b * r
        grads = [g_d, beta * g_b[0], g_d[0] @ weight, g_weight,
                 sum_to_shape(g_d, bias.shape), sum_to_shape(g_b * prev_u, beta.shape),
                 sum_to_shape(g_thr, thr.shape)]
        if synaptic:
            syn0, alpha = primals[7], primals[8]
            prev_i = mx.concatenate([syn0[None], outputs[2][:-1]])
            grads += [alpha * g_d[0], sum_to_shape(g_d * prev_i, alpha.shape)]
        return tuple(grads)

    return fn


def _run_kernel(spike_fn: SpikeFn, mechanism: str, synaptic: bool, x_seq: mx.array,
                *args: Any) -> tuple[mx.array, ...] | None:
    derivative = getattr(spike_fn, "derivative", None)
    if derivative is None or not callable(derivative) or not hasattr(spike_fn, "__weakref__"):
        return None
    kernels = _KERNELS.setdefault(spike_fn, {})
    key = (mechanism, synaptic)
    if key not in kernels:
        kernels[key] = _recurrent_kernel(derivative, mechanism, synaptic)
    dtype = x_seq.dtype

    def arr(v: Any) -> mx.array:
        return v.astype(dtype) if isinstance(v, mx.array) else mx.array(v, dtype=dtype)

    return kernels[key](x_seq, *(arr(a) for a in args))


def rleaky_sequence(
    x_seq: mx.array, mem0: mx.array, spk0: mx.array, *, weight: mx.array,
    bias: mx.array | None, beta: Scalar, threshold: Scalar, spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
) -> tuple[mx.array, mx.array] | None:
    r""":func:`rleaky_step` (all-to-all, delayed detached reset) over a whole sequence with
    a hand-written backward pass; ``None`` when ``spike_fn`` has no plain derivative.

    Same forward numbers as the step loop. Backward, with :math:`h'` the surrogate
    derivative and :math:`\bar B[t]` the gradient of :math:`B[t] = \beta U[t-1] + X[t] +
    S[t-1] W^\top + b`, from :math:`t = T-1` down to 0 (:math:`\bar B[T] = 0`):

    .. math::

        \bar S[t] &= G_S[t] + \bar B[t+1]\,W, \qquad
        \bar U[t] = G_U[t] + \bar S[t]\,h'(U[t] - U_\mathrm{thr}) + \beta\,\bar B[t+1] \\
        \bar B[t] &= \bar U[t] \quad (\times (1 - R[t]) \text{ for the zero reset})

    then :math:`\partial L/\partial X = \bar B`, :math:`\partial L/\partial W =
    \sum_t \bar B[t]^\top S[t-1]`, :math:`\partial L/\partial b = \sum_t \bar B[t]`,
    and the gradients of :math:`\beta`, the threshold and the initial state. One matmul and
    a few elementwise ops per step instead of autodiff through every step's graph.

    Returns:
        ``(spikes, mems)`` ``[T, B, F]``, or ``None`` (use the step loop).
    """
    if bias is None:
        bias = mx.zeros((weight.shape[0],), dtype=x_seq.dtype)
    out = _run_kernel(spike_fn, reset_mechanism, False, x_seq, mem0, spk0, weight, bias,
                      beta, threshold)
    return cast("tuple[mx.array, mx.array] | None", out)  # synaptic=False: two outputs


def rsynaptic_sequence(
    x_seq: mx.array, mem0: mx.array, spk0: mx.array, syn0: mx.array, *, weight: mx.array,
    bias: mx.array | None, alpha: Scalar, beta: Scalar, threshold: Scalar,
    spike_fn: SpikeFn, reset_mechanism: str = "subtract",
) -> tuple[mx.array, mx.array, mx.array] | None:
    r""":func:`rsynaptic_step` (all-to-all, delayed detached reset) over a whole sequence
    with a hand-written backward pass, as :func:`rleaky_sequence`; the synaptic current
    adds :math:`\bar I[t] = \bar B[t] + \alpha\,\bar I[t+1]` and the input and
    recurrent gradients flow through it.

    Returns:
        ``(spikes, mems, syns)`` ``[T, B, F]``, or ``None`` (use the step loop).
    """
    if bias is None:
        bias = mx.zeros((weight.shape[0],), dtype=x_seq.dtype)
    out = _run_kernel(spike_fn, reset_mechanism, True, x_seq, mem0, spk0, weight, bias,
                      beta, threshold, syn0, alpha)
    return cast("tuple[mx.array, mx.array, mx.array] | None", out)  # synaptic: three outputs


class _Recurrent(SpikingNeuron):
    """Shared parts: the recurrent weights and the ``spk`` state."""

    def _init_recurrent(self, features: int, all_to_all: bool, V: Any, learn_recurrent: bool,
                        recurrent_bias: bool) -> None:
        owner = type(self).__name__
        if not isinstance(features, int) or isinstance(features, bool) or features < 1:
            raise ConfigError(f"{owner}: features must be a positive integer (the layer "
                              f"size), got {features!r}")
        self.features = int(features)
        self.all_to_all = bool(all_to_all)
        self.recurrent_bias = bool(recurrent_bias)
        if self.all_to_all:
            self.recurrent = nn.Linear(features, features, bias=self.recurrent_bias)
            if learn_recurrent:
                self._learnable.add("recurrent")
            else:
                self.recurrent.freeze()
            self.V = float(V) if isinstance(V, int | float) and not isinstance(V, bool) \
                else 1.0  # unused with all_to_all
        else:
            self._set_param("V", V, learn_recurrent, None, None)
            if learn_recurrent:
                self._learnable.add("recurrent")

    def _recurrent(self, p: dict[str, Any]) -> tuple[Any, mx.array | None]:
        if self.all_to_all:
            rec = self.recurrent
            return rec.weight, rec["bias"] if "bias" in rec else None
        return p["V"], None

    def _check_features(self, x: mx.array, where: str) -> None:
        if x.shape[-1] != self.features or x.ndim < 2:
            raise ConfigError(f"{type(self).__name__}.{where}: expected [..., B, "
                              f"{self.features}] input, got {list(x.shape)}")

    def __call__(self, x: mx.array, state: State | None = None) -> tuple[mx.array, State]:
        self._check_features(x, "__call__")
        return super().__call__(x, state)

    def unroll(self, x_seq: mx.array, state: State | None = None,
               ) -> tuple[mx.array, mx.array, State]:
        self._check_features(x_seq, "unroll")
        return super().unroll(x_seq, state)


class RLeaky(_Recurrent):
    r"""Recurrent leaky integrate-and-fire neuron layer (snnTorch ``RLeaky``), see
    :func:`rleaky_step`:

    .. math::

        U[t] = \beta U[t-1] + X[t] + W S[t-1] + b - R[t]\,U_\mathrm{thr},\qquad
        S[t] = H(U[t] - U_\mathrm{thr}).

    Args:
        beta: membrane decay in [0, 1].
        features: ``F``, the layer size (the recurrent weight is ``[F, F]``); filled in
            from the previous layer by model configs.
        all_to_all: dense recurrence ``W`` (default); ``False``: one-to-one weight ``V``.
        V: the one-to-one recurrent weight (scalar or ``[F]``; default 1.0).
        learn_recurrent: train ``W``, ``b`` (or ``V``) (default ``True``).
        recurrent_bias: the dense recurrence has a bias ``b`` (default ``True``, snnTorch).
        threshold, reset_mechanism, surrogate, learn_beta, learn_threshold, reset_delay,
            detach_reset: as in :class:`eegsnn.nn.Leaky`.

    State: ``{"mem": U, "spk": S}`` ``[B, F]``.

    ``unroll`` with the dense recurrence and the default delayed, detached reset runs
    :func:`rleaky_sequence` (hand-written backward pass; ``neuron.fused = False`` forces
    the step loop, same numbers).
    """

    config_type = "rleaky"

    state_names = ("mem", "spk")

    def __init__(
        self, beta: float | Any = 0.9, features: int = 1, all_to_all: bool = True,
        V: float | Any = 1.0, threshold: float | Any = 1.0, reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_beta: bool = False, learn_threshold: bool = False, learn_recurrent: bool = True,
        recurrent_bias: bool = True, reset_delay: bool = True, detach_reset: bool = True,
    ) -> None:
        super().__init__(threshold, reset_mechanism, surrogate, learn_threshold, reset_delay,
                         detach_reset)
        self._set_param("beta", beta, learn_beta, 0.0, 1.0, clip=(0.0, 1.0))
        self._init_recurrent(features, all_to_all, V, learn_recurrent, recurrent_bias)

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        weight, bias = self._recurrent(p)
        spk, mem = rleaky_step(x, state["spk"], state["mem"], weight=weight, bias=bias,
                               beta=p["beta"], threshold=p["threshold"],
                               **self._reset_kwargs())
        return spk, {"mem": mem, "spk": spk}

    def _unroll_fused(self, x_seq: mx.array, state: State, p: dict[str, Any],
                      at_rest: bool) -> tuple[mx.array, mx.array, State] | None:
        if not self.all_to_all:
            return None
        weight, bias = self._recurrent(p)
        out = rleaky_sequence(x_seq, state["mem"], state["spk"], weight=weight, bias=bias,
                              beta=p["beta"], threshold=p["threshold"],
                              spike_fn=self.spike_fn, reset_mechanism=self.reset_mechanism)
        if out is None:
            return None
        spikes, mems = out
        return spikes, mems, {"mem": mems[-1], "spk": spikes[-1]}


class RSynaptic(_Recurrent):
    r"""Recurrent two-state (current-based synapse) neuron layer (snnTorch ``RSynaptic``),
    see :func:`rsynaptic_step`:

    .. math::

        I[t] = \alpha I[t-1] + X[t] + W S[t-1] + b,\quad
        U[t] = \beta U[t-1] + I[t] - R[t]\,U_\mathrm{thr},\quad
        S[t] = H(U[t] - U_\mathrm{thr}).

    Args:
        alpha: synaptic current decay in [0, 1]; ``learn_alpha`` trains it.
        beta, features, all_to_all, V, learn_recurrent, recurrent_bias and the rest: as in
            :class:`RLeaky`.

    State: ``{"syn": I, "mem": U, "spk": S}`` ``[B, F]``. ``unroll`` uses
    :func:`rsynaptic_sequence` where :class:`RLeaky` uses :func:`rleaky_sequence`.
    """

    config_type = "rsynaptic"

    state_names = ("syn", "mem", "spk")

    def __init__(
        self, alpha: float | Any = 0.9, beta: float | Any = 0.8, features: int = 1,
        all_to_all: bool = True, V: float | Any = 1.0, threshold: float | Any = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_alpha: bool = False, learn_beta: bool = False, learn_threshold: bool = False,
        learn_recurrent: bool = True, recurrent_bias: bool = True, reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(threshold, reset_mechanism, surrogate, learn_threshold, reset_delay,
                         detach_reset)
        self._set_param("alpha", alpha, learn_alpha, 0.0, 1.0, clip=(0.0, 1.0))
        self._set_param("beta", beta, learn_beta, 0.0, 1.0, clip=(0.0, 1.0))
        self._init_recurrent(features, all_to_all, V, learn_recurrent, recurrent_bias)

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        weight, bias = self._recurrent(p)
        spk, syn, mem = rsynaptic_step(
            x, state["spk"], state["syn"], state["mem"], weight=weight, bias=bias,
            alpha=p["alpha"], beta=p["beta"], threshold=p["threshold"], **self._reset_kwargs())
        return spk, {"syn": syn, "mem": mem, "spk": spk}

    def _unroll_fused(self, x_seq: mx.array, state: State, p: dict[str, Any],
                      at_rest: bool) -> tuple[mx.array, mx.array, State] | None:
        if not self.all_to_all:
            return None
        weight, bias = self._recurrent(p)
        out = rsynaptic_sequence(
            x_seq, state["mem"], state["spk"], state["syn"], weight=weight, bias=bias,
            alpha=p["alpha"], beta=p["beta"], threshold=p["threshold"],
            spike_fn=self.spike_fn, reset_mechanism=self.reset_mechanism)
        if out is None:
            return None
        spikes, mems, syns = out
        return spikes, mems, {"syn": syns[-1], "mem": mems[-1], "spk": spikes[-1]}
