r"""Fast exact unrolls of the ``Leaky`` neuron for training (used by :class:`SpikingNet`).

Autodiff through a 25-step Python loop of small elementwise ops builds a long tape whose
backward pass dominates a training step on CPU. For the common case — a :class:`~eegsnn.nn.Leaky`
with a fixed scalar ``beta`` and ``threshold``, delayed detached reset (snnTorch's default)
and a surrogate given by its derivative — the backward pass is a *linear* recurrence and
can be done with one small matmul.

Subtract reset. Forward (exactly :func:`eegsnn.nn.functional.leaky_step`, run step by step,
so spikes and membrane are bitwise those of ``Leaky.unroll``):

.. math::

    U[t] = \beta U[t-1] + X[t] - U_\mathrm{thr} R[t],\quad R[t] = H(U[t-1] - U_\mathrm{thr})
    \text{ (detached)},\quad S[t] = H(U[t] - U_\mathrm{thr}).

Backward, with cotangents :math:`\bar S, \bar U` of the outputs and :math:`h'` the
surrogate derivative (the reset is detached, so it carries no gradient):

.. math::

    \bar X[t] = \bar U_\mathrm{tot}[t] = c[t] + \beta\,\bar U_\mathrm{tot}[t+1],\quad
    c[t] = \bar U[t] + \bar S[t]\,h'(U[t] - U_\mathrm{thr}),

i.e. :math:`\bar X = M c` with the ``[T, T]`` upper-triangular :math:`M_{ts} = \beta^{s-t}`
(:math:`s \ge t`): one ``[T, T] x [T, B F]`` matmul instead of ``T`` taped steps.

No reset (``reset_mechanism="none"``, the readout integrator): the membrane is linear in
the input, :math:`U = L X` with :math:`L_{ts} = \beta^{t-s}` (:math:`s \le t`), computed as
one matmul (equal to the step-by-step loop up to float rounding, ~1e-6 relative);
autodiff handles its backward pass.

:func:`fast_unroll` returns ``None`` when a neuron is not eligible; the caller then uses
the neuron's own ``unroll``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import mlx.core as mx
import mlx.nn as nn
import numpy as np

_CACHE: dict[tuple[str, float, int], mx.array] = {}


def decay_matrix(beta: float, num_steps: int, upper: bool) -> mx.array:
    """``[T, T]`` float32 matrix of powers of ``beta``: upper ``beta**(s - t)`` for ``s >= t``
    (backward of the recurrence) or lower ``beta**(t - s)`` for ``s <= t`` (forward filter)."""
    key = ("upper" if upper else "lower", float(beta), int(num_steps))
    if key not in _CACHE:
        t = np.arange(num_steps)
        lag = (t[None, :] - t[:, None]) if upper else (t[:, None] - t[None, :])
        mat = np.where(lag >= 0, np.float64(beta) ** np.maximum(lag, 0), 0.0)
        _CACHE[key] = mx.array(mat.astype(np.float32))
    return _CACHE[key]


def fixed_scalar(value: object) -> float | None:
    """``value`` as a float when it is a plain number (a fixed, not learned, parameter)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def leaky_subtract_unroll(x_seq: mx.array, beta: float, threshold: float,
                          derivative: Callable[[mx.array], mx.array],
                          ) -> tuple[mx.array, mx.array]:
    """``(spikes, membrane)`` ``[T, B, ...]`` of a subtract-reset Leaky from zero state,
    with the matmul backward pass described in the module docstring."""
    num_steps = x_seq.shape[0]

    @mx.custom_function
    def unroll(x: mx.array) -> tuple[mx.array, mx.array]:
        mem = mx.zeros(x.shape[1:], dtype=x.dtype)
        spikes, mems = [], []
        for t in range(num_steps):
            reset = (mem > threshold).astype(x.dtype)
            mem = beta * mem + x[t] - reset * threshold
            spikes.append((mem - threshold > 0).astype(x.dtype))
            mems.append(mem)
        return mx.stack(spikes), mx.stack(mems)

    @unroll.vjp
    def _vjp(primals, cotangents, outputs):
        x = primals[0] if isinstance(primals, tuple | list) else primals
        g_spk, g_mem = cotangents
        _, mem = outputs
        c = g_mem + g_spk * derivative(mem - threshold)
        grad = decay_matrix(beta, num_steps, upper=True) @ c.reshape(num_steps, -1)
        return grad.reshape(x.shape).astype(x.dtype)

    # (mx.custom_function's stub types every call as returning ``object``)
    spikes, mem = cast("tuple[mx.array, mx.array]", unroll(x_seq))
    return spikes, mem


def leaky_none_unroll(x_seq: mx.array, beta: float, threshold: float,
                      spike_fn: Callable[[mx.array], mx.array]) -> tuple[mx.array, mx.array]:
    """``(spikes, membrane)`` of a Leaky without reset: ``U = L X`` (one matmul over time)."""
    num_steps = x_seq.shape[0]
    mem = (decay_matrix(beta, num_steps, upper=False) @ x_seq.reshape(num_steps, -1))
    mem = mem.reshape(x_seq.shape)
    return spike_fn(mem - threshold), mem


def fast_unroll(neuron: nn.Module, x_seq: mx.array) -> tuple[mx.array, mx.array] | None:
    """Fast ``(spikes, membrane)`` for an eligible ``Leaky`` neuron, else ``None``.

    Eligible: class ``Leaky``; scalar float ``beta`` and ``threshold`` (not learned);
    ``reset_delay=True``; ``detach_reset=True``; reset ``"subtract"`` (surrogate with a
    plain derivative) or ``"none"``.
    """
    if type(neuron).__name__ != "Leaky":
        return None
    beta = fixed_scalar(getattr(neuron, "beta", None))
    threshold = fixed_scalar(getattr(neuron, "threshold", None))
    if beta is None or threshold is None:
        return None
    if not getattr(neuron, "reset_delay", False) or not getattr(neuron, "detach_reset", False):
        return None
    spike_fn = neuron.spike_fn
    mechanism = neuron.reset_mechanism
    if mechanism == "none":
        return leaky_none_unroll(x_seq, beta, threshold, spike_fn)
    derivative = getattr(spike_fn, "derivative", None)
    if mechanism == "subtract" and derivative is not None and \
            getattr(spike_fn, "name", "custom") != "custom":
        return leaky_subtract_unroll(x_seq, beta, threshold, derivative)
    return None
