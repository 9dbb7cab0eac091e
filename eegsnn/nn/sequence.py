r"""Whole-sequence kernels of the Leaky recurrence (the training hot path), and the one place
that chooses among them.

:func:`leaky_sequence` runs :func:`eegsnn.nn.functional.leaky_step` (delayed, detached
reset) over a time-major sequence ``[T, B, ...]``; ``Leaky``, ``IF`` and ``Synaptic``
(after :func:`exp_filter`) call it from their ``unroll``. It picks, from the neuron's
parameters and the sequence length:

* **step loop** (autodiff through :func:`~eegsnn.nn.functional.leaky_step`): the spike
  function has no ``derivative`` (not an :class:`eegsnn.surrogate.Surrogate`);
* **linear filter**: ``reset_mechanism="none"``, fixed scalar ``beta`` and threshold, from
  rest: :math:`U = L X` with :math:`L_{ts} = \beta^{t-s}` (:math:`s \le t`), one ``[T, T]``
  matmul (equal to the step loop up to float rounding, ~1e-6 relative); autodiff's backward
  is one matmul too;
* **recurrence, matmul backward**: fixed scalar ``beta``, reset ``"subtract"`` or ``"none"``
  and ``T <=`` :data:`MATMUL_MAX_STEPS`: the forward is the step recurrence (bitwise the step
  loop's numbers), the backward the linear recurrence below solved as :math:`\bar U = M D`
  with the upper-triangular :math:`M_{ts} = \beta^{s-t}` (:math:`s \ge t`);
* **recurrence, loop backward**: otherwise (learned or per-neuron ``beta``, the zero reset,
  long sequences): the same recurrence, its backward solved in a ``T``-step loop.

Backward pass (hand-written, one :func:`mlx.core.custom_function`): with
:math:`D[t] = G_U[t] + G_S[t]\,\sigma'(U[t] - U_\mathrm{thr})` the direct gradient reaching
:math:`U[t]`, the total gradient obeys the linear recurrence

.. math:: \bar U[t] = D[t] + \frac{\partial U[t+1]}{\partial U[t]}\,\bar U[t+1],
    \qquad \frac{\partial U[t+1]}{\partial U[t]} = \beta \;\;
    (\beta(1 - R[t+1]) \text{ for the zero reset}),

and :math:`\partial L/\partial X[t] = \bar U[t]` (times :math:`1 - R[t]` when the zero
reset clears the input). The matmul solves it in one ``[T, T] x [T, B F]`` product
(O(T^2), the fastest for short sequences on CPU); the loop in ``T`` steps of two small ops.

The C kernels of :mod:`eegsnn.kernels.leaky` compute the same numbers on host arrays; only
the fused CPU training step (:mod:`eegsnn.train.fused`) uses them, for its first layer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import cast

import mlx.core as mx
import numpy as np

from eegsnn.nn.functional import Scalar, SpikeFn, leaky_step, reset_signal

__all__ = [
    "MATMUL_MAX_STEPS",
    "decay_matrix",
    "exp_filter",
    "fixed_scalar",
    "leaky_sequence",
    "sum_to_shape",
]

Array = mx.array

#: Longest sequence whose backward pass uses the ``[T, T]`` decay matrix; longer sequences
#: use the ``T``-step loop. The matmul costs O(T^2 B F) flops and the loop T dispatches of
#: small ops: on a 2-core CPU (``[T, 32, 64]``, compiled gradient) the matmul is faster up
#: to T = 320 (1.06 vs 1.35 ms at T = 25 with [64, 128]; 14 vs 16 ms at T = 320), the loop
#: at T = 640 (81 vs 90 ms).
MATMUL_MAX_STEPS = 400

_DECAY_MATRICES: dict[tuple[bool, float, int], mx.array] = {}


def decay_matrix(beta: float, num_steps: int, upper: bool) -> mx.array:
    """``[T, T]`` float32 matrix of powers of ``beta``: upper ``beta**(s - t)`` for ``s >= t``
    (backward of the recurrence) or lower ``beta**(t - s)`` for ``s <= t`` (forward filter).
    Cached per ``(upper, beta, T)``."""
    key = (bool(upper), float(beta), int(num_steps))
    if key not in _DECAY_MATRICES:
        t = np.arange(num_steps)
        lag = (t[None, :] - t[:, None]) if upper else (t[:, None] - t[None, :])
        mat = np.where(lag >= 0, np.float64(beta) ** np.maximum(lag, 0), 0.0)
        _DECAY_MATRICES[key] = mx.array(mat.astype(np.float32))
    return _DECAY_MATRICES[key]


def fixed_scalar(value: object) -> float | None:
    """``value`` as a float when it is a plain number (a fixed, not learned, parameter; the
    neurons store those as Python floats), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def sum_to_shape(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` over the axes that broadcasting added or expanded to reach ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = [i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1]
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _as_array(value: Scalar, like: Array) -> Array:
    if isinstance(value, mx.array):
        return value.astype(like.dtype) if value.dtype != like.dtype else value
    return mx.array(value, dtype=like.dtype)


_LEAKY_KERNELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _leaky_kernel(derivative: Callable[[Array], Array], mechanism: str, clear_input: bool,
                  backward_matrix: mx.array | None):
    """Build the custom-VJP sequence function for one (surrogate, reset) configuration;
    ``backward_matrix`` (:func:`decay_matrix`, upper) solves the backward recurrence in one
    matmul (fixed scalar beta, no zero reset), ``None`` in a loop."""

    def forward(x_seq: Array, mem0: Array, beta: Array, thr: Array) -> tuple[Array, Array]:
        dtype = x_seq.dtype
        mem = mem0
        r = (mem0 > thr).astype(dtype)  # reset signal of the first step
        spikes, mems = [], []
        for t in range(x_seq.shape[0]):
            if mechanism == "subtract":
                mem = beta * mem + x_seq[t] - r * thr
            elif mechanism == "zero":
                keep = 1.0 - r
                if clear_input:
                    mem = keep * (beta * mem + x_seq[t])
                else:
                    mem = beta * (keep * mem) + x_seq[t]
            else:
                mem = beta * mem + x_seq[t]
            r = ((mem - thr) > 0).astype(dtype)  # this step's spike = next step's reset
            spikes.append(r)
            mems.append(mem)
        return mx.stack(spikes), mx.stack(mems)

    fn = mx.custom_function(forward)

    @fn.vjp
    def backward(primals, cotangents, outputs):
        _, mem0, beta, thr = primals
        g_spk, g_mem = cotangents
        spikes, mems = outputs
        dtype = mems.dtype
        # Direct gradient reaching each U[t]: its own cotangent plus the spike's surrogate.
        g_thr_spike = g_spk * derivative(mems - thr).astype(dtype)
        direct = g_mem + g_thr_spike
        r = mx.concatenate([(mem0 > thr).astype(dtype)[None], spikes[:-1]])  # R[t]
        prev = mx.concatenate([mem0[None], mems[:-1]])  # U[t-1]
        # dU[t]/dU[t-1]: beta, or beta (1 - R[t]) for the zero reset (R is detached).
        decay = beta * (1.0 - r) if mechanism == "zero" else beta
        steps = mems.shape[0]
        if backward_matrix is not None:  # total = M direct, M[t, s] = beta^(s - t), s >= t
            total = (backward_matrix @ direct.reshape(steps, -1)).reshape(direct.shape)
            total = total.astype(dtype)
        else:
            acc = direct[steps - 1]
            totals = [acc]
            for t in range(steps - 2, -1, -1):  # total[t] = direct[t] + dU[t+1]/dU[t] total[t+1]
                acc = direct[t] + (decay[t + 1] if mechanism == "zero" else decay) * acc
                totals.append(acc)
            total = mx.stack(totals[::-1])  # dL/dU[t], [T, ...]
        d0 = decay[0] if mechanism == "zero" else decay
        g_mem0 = d0 * total[0]
        if mechanism == "zero":
            g_x = total * (1.0 - r) if clear_input else total
            g_beta = total * (1.0 - r) * prev
        else:
            g_x = total
            g_beta = total * prev
        g_thr = -g_thr_spike
        if mechanism == "subtract":
            g_thr = g_thr - total * r
        return (
            g_x,
            g_mem0,
            sum_to_shape(g_beta, beta.shape),
            sum_to_shape(g_thr, thr.shape),
        )

    return fn


def _step_loop(x_seq: Array, mem0: Array, beta: Scalar, threshold: Scalar, spike_fn: SpikeFn,
               reset_mechanism: str, zero_clears_input: bool) -> tuple[Array, Array]:
    spikes, mems = [], []
    mem = mem0
    for t in range(x_seq.shape[0]):
        if reset_mechanism == "zero" and zero_clears_input:
            r = reset_signal(mem, threshold, spike_fn, True)
            mem = (1.0 - r) * (beta * mem + x_seq[t])
            spk = spike_fn(mem - threshold)
        else:
            spk, mem = leaky_step(
                x_seq[t], mem, beta=beta, threshold=threshold, spike_fn=spike_fn,
                reset_mechanism=reset_mechanism,
            )
        spikes.append(spk)
        mems.append(mem)
    return mx.stack(spikes), mx.stack(mems)


def _linear_filter(x_seq: Array, beta: float, threshold: float,
                   spike_fn: SpikeFn) -> tuple[Array, Array]:
    """``(spikes, membrane)`` of a Leaky without reset from rest: ``U = L X``."""
    num_steps = x_seq.shape[0]
    mem = decay_matrix(beta, num_steps, upper=False) @ x_seq.reshape(num_steps, -1)
    mem = mem.reshape(x_seq.shape)
    return spike_fn(mem - threshold), mem


def leaky_sequence(
    x_seq: Array,
    mem0: Array | None,
    *,
    beta: Scalar,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    zero_clears_input: bool = False,
) -> tuple[Array, Array]:
    r""":func:`~eegsnn.nn.functional.leaky_step` (delayed, detached reset) over a whole
    time-major sequence, with the kernel chosen as the module docstring describes.

    Same spikes as looping :func:`~eegsnn.nn.functional.leaky_step` with
    ``reset_delay=True, detach_reset=True`` (the membrane bitwise, except the linear filter:
    to float rounding); gradients to float rounding, ``beta`` and ``threshold`` included
    (for learnable values).

    Args:
        x_seq: Input ``[T, B, ...]``.
        mem0: Initial stored membrane ``[B, ...]``, or ``None`` for rest (zeros; allows the
            linear filter for ``"none"``).
        beta, threshold, spike_fn, reset_mechanism: As in
            :func:`~eegsnn.nn.functional.leaky_step`.
        zero_clears_input: For ``"zero"``: clear the whole new membrane,
            :math:`U[t] = (1 - R[t])(\beta U[t-1] + X[t])` (snnTorch ``Synaptic``), instead
            of :math:`\beta (1 - R[t]) U[t-1] + X[t]` (snnTorch ``Leaky``).

    Returns:
        ``(spikes, mems)``, both ``[T, B, ...]``; ``mems[-1]`` is the final stored membrane.
    """
    derivative = getattr(spike_fn, "derivative", None)
    fixed_beta, fixed_thr = fixed_scalar(beta), fixed_scalar(threshold)
    has_kernel = derivative is not None and callable(derivative) and \
        hasattr(spike_fn, "__weakref__")
    if has_kernel and reset_mechanism == "none" and mem0 is None and \
            fixed_beta is not None and fixed_thr is not None:
        return _linear_filter(x_seq, fixed_beta, fixed_thr, spike_fn)
    if mem0 is None:
        mem0 = mx.zeros(x_seq.shape[1:], dtype=x_seq.dtype)
    if not has_kernel:
        return _step_loop(x_seq, mem0, beta, threshold, spike_fn, reset_mechanism,
                          zero_clears_input)
    steps = x_seq.shape[0]
    matmul = fixed_beta is not None and reset_mechanism != "zero" and steps <= MATMUL_MAX_STEPS
    key = (reset_mechanism, bool(zero_clears_input), (fixed_beta, steps) if matmul else None)
    kernels = _LEAKY_KERNELS.setdefault(spike_fn, {})
    if key not in kernels:
        matrix = decay_matrix(cast(float, fixed_beta), steps, upper=True) if matmul else None
        kernels[key] = _leaky_kernel(cast(Callable[[Array], Array], derivative),
                                     reset_mechanism, bool(zero_clears_input), matrix)
    return kernels[key](x_seq, mem0, _as_array(beta, x_seq), _as_array(threshold, x_seq))


@mx.custom_function
def _exp_filter(x_seq: Array, y0: Array, decay: Array) -> Array:
    y = y0
    out = []
    for t in range(x_seq.shape[0]):
        y = decay * y + x_seq[t]
        out.append(y)
    return mx.stack(out)


@_exp_filter.vjp
def _exp_filter_vjp(primals, cotangent, output):
    x_seq, y0, decay = primals
    steps = x_seq.shape[0]
    acc = cotangent[steps - 1]
    totals = [acc]
    for t in range(steps - 2, -1, -1):
        acc = cotangent[t] + decay * acc
        totals.append(acc)
    total = mx.stack(totals[::-1])
    prev = mx.concatenate([y0[None], output[:-1]])
    return total, decay * total[0], sum_to_shape(total * prev, decay.shape)


def exp_filter(x_seq: Array, y0: Array, decay: Scalar) -> Array:
    r"""First-order recursive filter :math:`y[t] = d\,y[t-1] + x[t]` over ``[T, B, ...]``.

    Used for synaptic currents (:math:`I[t] = \alpha I[t-1] + X[t]`). The backward pass is
    the reversed recurrence :math:`\bar y[t] = G[t] + d\,\bar y[t+1]`, written by hand.

    Args:
        x_seq: Input ``[T, B, ...]``.
        y0: Initial value ``[B, ...]``.
        decay: :math:`d`, float or array broadcastable to ``[B, ...]``.

    Returns:
        ``[T, B, ...]``, :math:`y[0], \dots, y[T-1]`.
    """
    # (mx.custom_function's stub types every call as returning ``object``)
    return cast(mx.array, _exp_filter(x_seq, y0, _as_array(decay, x_seq)))
