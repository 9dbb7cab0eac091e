r"""Pure step functions of the spiking neurons: input, state and parameters in; spikes and
the new state out.

These functions hold all the neuron mathematics; the modules in :mod:`eegsnn.nn.neurons`
only store parameters and drive the time loop. They take and return plain arrays (no
hidden state), so they compose with :func:`mlx.core.compile`, :func:`mlx.core.grad`,
:func:`mlx.nn.value_and_grad` and :func:`mlx.core.vmap`.

Shapes: ``x`` and every state array share one shape, usually ``[B, F]`` (batch, features);
any shape works as long as they agree. Parameters (``beta``, ``threshold``, ...) are Python
floats or arrays broadcastable to that shape (e.g. ``[F]`` for one value per neuron).

Conventions shared by every neuron (those of snnTorch 1.0):

* **Spike rule.** :math:`S[t] = H(U[t] - U_\mathrm{thr})` with ``spike_fn`` (a surrogate
  from :mod:`eegsnn.surrogate`): a spike needs the membrane strictly *above* threshold.
* **Delayed reset** (``reset_delay=True``, the default). The reset applied at step
  :math:`t` is :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`, computed from the *stored*
  membrane of the previous step, i.e. it equals the previous step's spike. It is detached
  from the gradient (``detach_reset=True``). The membrane returned at step :math:`t` is the
  value after the update and before the reset that the next step applies, so a spiking
  neuron's returned membrane is above threshold at the spike step.
* **Immediate reset** (``reset_delay=False``). The step's own spike resets the membrane at
  the same step: :math:`R[t] = S[t]` (detached unless ``detach_reset=False``), and the
  returned/stored membrane is the post-reset value.
* **Reset mechanisms.** ``"subtract"``: :math:`U \leftarrow U - R\,U_\mathrm{thr}`;
  ``"zero"``: :math:`U \leftarrow (1 - R)\,U` (see each function for exactly which terms);
  ``"none"``: no reset (a leaky integrator, e.g. a readout layer).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import cast

import mlx.core as mx

__all__ = [
    "RESET_MECHANISMS",
    "alif_step",
    "alpha_step",
    "alpha_tau",
    "exp_filter",
    "if_step",
    "izhikevich_step",
    "leaky_sequence",
    "leaky_step",
    "reset_signal",
    "synaptic_step",
]

RESET_MECHANISMS = ("subtract", "zero", "none")

# Cap (mV) on v inside the Izhikevich right-hand side; only keeps float32 finite.
_IZHIKEVICH_V_CAP_MV = 1.0e4

Array = mx.array
Scalar = float | mx.array
SpikeFn = Callable[[mx.array], mx.array]


def reset_signal(
    mem: Array, threshold: Scalar, spike_fn: SpikeFn, detach: bool = True
) -> Array:
    r"""Reset signal :math:`R = H(U - U_\mathrm{thr})` from a stored membrane.

    With ``detach=True`` it is a plain 0/1 comparison (no gradient, as snnTorch's
    ``mem_reset``); otherwise ``spike_fn`` is used so the surrogate gradient flows through it.
    """
    if detach:
        return (mem > threshold).astype(mem.dtype)
    return spike_fn(mem - threshold)


def _reset_now(spk: Array, detach: bool) -> Array:
    return mx.stop_gradient(spk) if detach else spk


def leaky_step(
    x: Array,
    mem: Array,
    *,
    beta: Scalar,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
    detach_reset: bool = True,
) -> tuple[Array, Array]:
    r"""One step of the leaky integrate-and-fire neuron (snnTorch ``Leaky``).

    Delayed reset (default), with :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`:

    .. math::

        U[t] &= \beta U[t-1] + X[t] - R[t]\,U_\mathrm{thr}   &&\text{subtract} \\
        U[t] &= \beta (1 - R[t])\,U[t-1] + X[t]              &&\text{zero} \\
        U[t] &= \beta U[t-1] + X[t]                          &&\text{none} \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    Immediate reset (``reset_delay=False``): :math:`V = \beta U[t-1] + X[t]`,
    :math:`S[t] = H(V - U_\mathrm{thr})`, then :math:`U[t] = V - S[t] U_\mathrm{thr}`
    (subtract), :math:`(1 - S[t]) V` (zero) or :math:`V` (none).

    Args:
        x: Input current :math:`X[t]`, e.g. ``[B, F]``.
        mem: Stored membrane :math:`U[t-1]`, same shape as ``x``.
        beta: Membrane decay :math:`\beta \in [0, 1]` (float or broadcastable array).
        threshold: Firing threshold :math:`U_\mathrm{thr}`.
        spike_fn: Surrogate spike function ``x -> H(x)``.
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        reset_delay: Delayed (snnTorch default) or immediate reset.
        detach_reset: Stop the gradient through the reset signal.

    Returns:
        ``(spk, mem)``: spikes :math:`S[t]` and the new stored membrane :math:`U[t]`.
    """
    if reset_delay:
        if reset_mechanism == "subtract":
            new = beta * mem + x - reset_signal(mem, threshold, spike_fn, detach_reset) * threshold
        elif reset_mechanism == "zero":
            r = reset_signal(mem, threshold, spike_fn, detach_reset)
            new = beta * ((1.0 - r) * mem) + x
        else:
            new = beta * mem + x
        return spike_fn(new - threshold), new
    new = beta * mem + x
    spk = spike_fn(new - threshold)
    if reset_mechanism == "subtract":
        new = new - _reset_now(spk, detach_reset) * threshold
    elif reset_mechanism == "zero":
        new = (1.0 - _reset_now(spk, detach_reset)) * new
    return spk, new


def if_step(
    x: Array,
    mem: Array,
    *,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
    detach_reset: bool = True,
) -> tuple[Array, Array]:
    r"""One step of the (non-leaky) integrate-and-fire neuron: :func:`leaky_step` with
    :math:`\beta = 1`, i.e. :math:`U[t] = U[t-1] + X[t] - R[t]\,U_\mathrm{thr}`."""
    return leaky_step(
        x,
        mem,
        beta=1.0,
        threshold=threshold,
        spike_fn=spike_fn,
        reset_mechanism=reset_mechanism,
        reset_delay=reset_delay,
        detach_reset=detach_reset,
    )


def synaptic_step(
    x: Array,
    syn: Array,
    mem: Array,
    *,
    alpha: Scalar,
    beta: Scalar,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
    detach_reset: bool = True,
) -> tuple[Array, Array, Array]:
    r"""One step of the two-state (current-based synapse) LIF neuron (snnTorch ``Synaptic``).

    Delayed reset (default), with :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`:

    .. math::

        I[t] &= \alpha I[t-1] + X[t] \\
        U[t] &= \beta U[t-1] + I[t] - R[t]\,U_\mathrm{thr}    &&\text{subtract} \\
        U[t] &= (1 - R[t])\,(\beta U[t-1] + I[t])            &&\text{zero} \\
        U[t] &= \beta U[t-1] + I[t]                          &&\text{none} \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    Note that snnTorch's ``Synaptic`` "zero" reset clears the whole new membrane (the
    step's input included), unlike ``Leaky``'s, which keeps :math:`X[t]`; both are matched.
    The synaptic current is never reset.

    Immediate reset: :math:`V = \beta U[t-1] + I[t]`, :math:`S[t] = H(V - U_\mathrm{thr})`,
    :math:`U[t] = V - S[t] U_\mathrm{thr}` (subtract) or :math:`(1 - S[t]) V` (zero).

    Args:
        x: Input :math:`X[t]`.
        syn: Stored synaptic current :math:`I[t-1]`.
        mem: Stored membrane :math:`U[t-1]`.
        alpha: Synaptic current decay :math:`\alpha \in [0, 1]`.
        beta: Membrane decay :math:`\beta \in [0, 1]`.
        threshold, spike_fn, reset_mechanism, reset_delay, detach_reset: As in
            :func:`leaky_step`.

    Returns:
        ``(spk, syn, mem)``.
    """
    syn = alpha * syn + x
    if reset_delay:
        base = beta * mem + syn
        if reset_mechanism == "subtract":
            new = base - reset_signal(mem, threshold, spike_fn, detach_reset) * threshold
        elif reset_mechanism == "zero":
            new = (1.0 - reset_signal(mem, threshold, spike_fn, detach_reset)) * base
        else:
            new = base
        return spike_fn(new - threshold), syn, new
    new = beta * mem + syn
    spk = spike_fn(new - threshold)
    if reset_mechanism == "subtract":
        new = new - _reset_now(spk, detach_reset) * threshold
    elif reset_mechanism == "zero":
        new = (1.0 - _reset_now(spk, detach_reset)) * new
    return spk, syn, new


def alif_step(
    x: Array,
    mem: Array,
    adapt: Array,
    *,
    beta: Scalar,
    threshold: Scalar,
    rho: Scalar,
    b: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    reset_delay: bool = True,
    detach_reset: bool = True,
) -> tuple[Array, Array, Array]:
    r"""One step of the adaptive-threshold LIF neuron (ALIF; Bellec et al. 2018, LSNN).

    Each spike raises the threshold by ``b``; the increase decays with :math:`\rho`.
    Delayed reset (default), with the previous step's spike
    :math:`R[t] = H(U[t-1] - \vartheta[t-1])`:

    .. math::

        A[t] &= \rho A[t-1] + R[t] \\
        \vartheta[t] &= U_\mathrm{thr} + b\,A[t] \\
        U[t] &= \beta U[t-1] + X[t] - R[t]\,U_\mathrm{thr}   &&\text{subtract} \\
        U[t] &= \beta (1 - R[t])\,U[t-1] + X[t]              &&\text{zero} \\
        U[t] &= \beta U[t-1] + X[t]                          &&\text{none} \\
        S[t] &= H(U[t] - \vartheta[t])

    Reset by subtraction removes the *base* threshold :math:`U_\mathrm{thr}` (as in
    Bellec et al. 2018 and the mlx-snn paper, eq. 4-6). With ``reset_mechanism="none"`` the
    adaptation still follows the spikes.

    Immediate reset (``reset_delay=False``): the adaptation variable is updated from the
    step's own spike after it is emitted, :math:`\vartheta[t] = U_\mathrm{thr} + b\,\rho A[t-1]`
    is used for :math:`S[t]`, then :math:`A[t] = \rho A[t-1] + S[t]` and the membrane is
    reset as in :func:`leaky_step`.

    Args:
        x: Input :math:`X[t]`.
        mem: Stored membrane :math:`U[t-1]`.
        adapt: Stored adaptation variable :math:`A[t-1]` (spike trace, dimensionless).
        beta: Membrane decay in [0, 1].
        threshold: Base threshold :math:`U_\mathrm{thr}`.
        rho: Adaptation decay :math:`\rho \in [0, 1]`.
        b: Threshold increase per unit of adaptation (membrane units, >= 0).
        spike_fn, reset_mechanism, reset_delay, detach_reset: As in :func:`leaky_step`.

    Returns:
        ``(spk, mem, adapt)``.
    """
    if reset_delay:
        r = reset_signal(mem, threshold + b * adapt, spike_fn, detach_reset)
        adapt = rho * adapt + r
        if reset_mechanism == "subtract":
            new = beta * mem + x - r * threshold
        elif reset_mechanism == "zero":
            new = beta * ((1.0 - r) * mem) + x
        else:
            new = beta * mem + x
        return spike_fn(new - (threshold + b * adapt)), new, adapt
    decayed = rho * adapt
    new = beta * mem + x
    spk = spike_fn(new - (threshold + b * decayed))
    r = _reset_now(spk, detach_reset)
    adapt = decayed + r
    if reset_mechanism == "subtract":
        new = new - r * threshold
    elif reset_mechanism == "zero":
        new = (1.0 - r) * new
    return spk, new, adapt


def alpha_tau(alpha: Scalar, beta: Scalar) -> Scalar:
    r"""snnTorch's Alpha-neuron gain :math:`\tau_\alpha = \ln\beta / (\ln\beta - \ln\alpha)`.

    (snnTorch writes it :math:`\ln\alpha / (\ln\beta - \ln\alpha) + 1`.) It scales the
    difference of exponentials so that, for :math:`\alpha > \beta`, an impulse input gives
    :math:`U[t] = \tau_\alpha(\alpha^t - \beta^t)`. Needs :math:`\alpha \ne \beta`, both
    in (0, 1).
    """
    if isinstance(alpha, mx.array) or isinstance(beta, mx.array):
        # mx.log takes a Python float as well (its stub says array only)
        la, lb = mx.log(alpha), mx.log(beta)  # type: ignore[arg-type]
        return lb / (lb - la)
    log_a, log_b = math.log(alpha), math.log(beta)
    return log_b / (log_b - log_a)


def alpha_step(
    x: Array,
    syn_exc: Array,
    syn_inh: Array,
    mem: Array,
    *,
    alpha: Scalar,
    beta: Scalar,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "zero",
    reset_delay: bool = True,
    detach_reset: bool = True,
    tau: Scalar | None = None,
) -> tuple[Array, Array, Array, Array]:
    r"""One step of the dual-exponential (alpha-like) neuron (snnTorch ``Alpha``).

    The membrane is the difference of two exponentially filtered copies of the input, a
    rise-then-decay post-synaptic potential. Delayed reset (default), with
    :math:`R[t] = H(U[t-1] - U_\mathrm{thr})` and :math:`\tau_\alpha` from
    :func:`alpha_tau`:

    .. math::

        E[t] &= \alpha E[t-1] + X[t] \\
        N[t] &= \beta N[t-1] - X[t] \\
        E[t] &\leftarrow E[t] - R[t]\,U_\mathrm{thr} / \tau_\alpha  &&\text{subtract} \\
        (E[t], N[t]) &\leftarrow (1 - R[t])\,(E[t], N[t])            &&\text{zero} \\
        U[t] &= \tau_\alpha (E[t] + N[t]) \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    :math:`E` is ``syn_exc`` and :math:`N` is ``syn_inh`` (snnTorch's names). For an
    impulse :math:`X[0] = 1`, :math:`U[t] = \tau_\alpha(\alpha^t - \beta^t)`. "none" and
    "zero" (snnTorch's default for ``Alpha``: every state is cleared at the step after a
    spike) match snnTorch exactly. "subtract" lowers the membrane by exactly
    :math:`U_\mathrm{thr}` at the reset step, the dip decaying with :math:`\alpha`;
    snnTorch's own subtract rule for ``Alpha`` (which changes :math:`U` by a different
    amount than the traces imply) is not reproduced.

    Immediate reset (``reset_delay=False``): :math:`S[t]` is computed from the un-reset
    :math:`U[t]`, then the same reset is applied with :math:`R[t] = S[t]` and :math:`U[t]`
    recomputed from the reset traces.

    Args:
        x: Input :math:`X[t]`.
        syn_exc: Stored :math:`E[t-1]`.
        syn_inh: Stored :math:`N[t-1]`.
        mem: Stored membrane :math:`U[t-1]` (used only for the delayed reset).
        alpha: Decay of :math:`E`, in (0, 1), :math:`\ne \beta`.
        beta: Decay of :math:`N`, in (0, 1).
        threshold, spike_fn, reset_mechanism, reset_delay, detach_reset: As in
            :func:`leaky_step`.
        tau: Precomputed :func:`alpha_tau` (saves two logs per step); computed if None.

    Returns:
        ``(spk, syn_exc, syn_inh, mem)``.
    """
    if tau is None:
        tau = alpha_tau(alpha, beta)
    exc = alpha * syn_exc + x
    inh = beta * syn_inh - x

    def apply_reset(exc: Array, inh: Array, r: Array) -> tuple[Array, Array]:
        if reset_mechanism == "subtract":
            return exc - r * (threshold / tau), inh
        if reset_mechanism == "zero":
            keep = 1.0 - r
            return keep * exc, keep * inh
        return exc, inh

    if reset_delay:
        exc, inh = apply_reset(exc, inh, reset_signal(mem, threshold, spike_fn, detach_reset))
        new = tau * (exc + inh)
        return spike_fn(new - threshold), exc, inh, new
    new = tau * (exc + inh)
    spk = spike_fn(new - threshold)
    if reset_mechanism != "none":
        exc, inh = apply_reset(exc, inh, _reset_now(spk, detach_reset))
        new = tau * (exc + inh)
    return spk, exc, inh, new


def izhikevich_step(
    x: Array,
    mem: Array,
    rec: Array,
    *,
    a: Scalar,
    b: Scalar,
    c: Scalar,
    d: Scalar,
    v_peak: Scalar,
    spike_fn: SpikeFn,
    dt_ms: float = 1.0,
    substeps: int = 2,
    reset: bool = True,
    reset_delay: bool = True,
    detach_reset: bool = True,
) -> tuple[Array, Array, Array]:
    r"""One step (``dt_ms`` milliseconds) of the Izhikevich (2003) neuron.

    .. math::

        \frac{dv}{dt} &= 0.04 v^2 + 5 v + 140 - u + I \\
        \frac{du}{dt} &= a (b v - u) \\
        \text{if } v > v_\mathrm{peak}&: \quad v \leftarrow c,\ u \leftarrow u + d

    with :math:`v` in mV (``mem``), :math:`u` the recovery variable (``rec``), :math:`t` in
    ms and :math:`I` = ``x``. Integration follows Izhikevich's reference code: ``substeps``
    forward-Euler steps of ``dt_ms / substeps`` for :math:`v`, then one step of ``dt_ms``
    for :math:`u` with the new :math:`v` (the defaults, 1 ms and 2 substeps, are exactly
    the 2003 paper's MATLAB code, which this function reproduces spike for spike). As in
    that code, :math:`v` may overshoot the peak within a step (by up to ~1.5 V with the
    defaults) and :math:`u` integrates that value; only to keep float32 finite with many
    substeps, the right-hand side is evaluated at :math:`\min(v, 10^4\,\mathrm{mV})`,
    which never binds with the defaults. Plots usually clip :math:`v` at the peak.

    Delayed reset (default; also the reference code's order): the reset of a neuron whose
    stored :math:`v` exceeded :math:`v_\mathrm{peak}` is applied at the start of the next
    step, so the returned membrane shows the spike's peak. :math:`S[t] = H(v[t] -
    v_\mathrm{peak})`. Immediate reset: the reset is applied at the spike step and the
    returned membrane is :math:`c`.

    Args:
        x: Input current :math:`I`.
        mem: Stored membrane :math:`v` (mV).
        rec: Stored recovery variable :math:`u`.
        a, b, c, d: Izhikevich parameters (see :data:`eegsnn.nn.IZHIKEVICH_PRESETS`).
        v_peak: Spike cut-off (mV), 30 in the paper.
        spike_fn: Surrogate spike function.
        dt_ms: Time step in ms.
        substeps: Euler substeps for :math:`v` per time step.
        reset: Apply the reset rule (``False`` leaves :math:`v` unbounded above the peak
            apart from the clamp described above).
        reset_delay, detach_reset: As in :func:`leaky_step`.

    Returns:
        ``(spk, mem, rec)``.
    """
    v, u = mem, rec
    if reset and reset_delay:
        r = reset_signal(v, v_peak, spike_fn, detach_reset)
        v = v + r * (c - v)
        u = u + r * d
    h = dt_ms / substeps
    for _ in range(substeps):
        vc = mx.minimum(v, _IZHIKEVICH_V_CAP_MV)
        v = v + h * (0.04 * vc * vc + 5.0 * vc + 140.0 - u + x)
    u = u + dt_ms * (a * (b * v - u))
    spk = spike_fn(v - v_peak)
    if reset and not reset_delay:
        r = _reset_now(spk, detach_reset)
        v = v + r * (c - v)
        u = u + r * d
    return spk, v, u


# ----------------------------------------------------------------------------------------
# Whole-sequence forms with a hand-written backward pass (the training hot path)
# ----------------------------------------------------------------------------------------
def _sum_to_shape(grad: Array, shape: tuple[int, ...]) -> Array:
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


def _leaky_kernel(derivative: Callable[[Array], Array], mechanism: str, clear_input: bool):
    """Build the custom-VJP sequence function for one (surrogate, reset) configuration."""

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
            _sum_to_shape(g_beta, beta.shape),
            _sum_to_shape(g_thr, thr.shape),
        )

    return fn


def leaky_sequence(
    x_seq: Array,
    mem0: Array,
    *,
    beta: Scalar,
    threshold: Scalar,
    spike_fn: SpikeFn,
    reset_mechanism: str = "subtract",
    zero_clears_input: bool = False,
) -> tuple[Array, Array]:
    r""":func:`leaky_step` (delayed, detached reset) over a whole time-major sequence.

    Same numbers as looping :func:`leaky_step` with ``reset_delay=True,
    detach_reset=True``, but when ``spike_fn`` is an :class:`eegsnn.surrogate.Surrogate`
    the backward pass is written out by hand (one :func:`mlx.core.custom_function`):
    with :math:`D[t] = G_U[t] + G_S[t]\,\sigma'(U[t] - U_\mathrm{thr})` the direct
    gradient reaching :math:`U[t]`, the total gradient obeys the linear recurrence

    .. math:: \bar U[t] = D[t] + \frac{\partial U[t+1]}{\partial U[t]}\,\bar U[t+1],
        \qquad \frac{\partial U[t+1]}{\partial U[t]} = \beta \;\;
        (\beta(1 - R[t+1]) \text{ for the zero reset}),

    and :math:`\partial L/\partial X[t] = \bar U[t]` (times :math:`1 - R[t]` when the zero
    reset clears the input). That is two small ops per step instead of autodiff through
    every step's graph (about 3x faster on CPU for ``[25, 128, 256]``). Gradients for
    ``beta`` and ``threshold`` are included (for learnable values). Other spike functions
    fall back to the step loop.

    Args:
        x_seq: Input ``[T, B, ...]``.
        mem0: Initial stored membrane ``[B, ...]``.
        beta, threshold, spike_fn, reset_mechanism: As in :func:`leaky_step`.
        zero_clears_input: For ``"zero"``: clear the whole new membrane,
            :math:`U[t] = (1 - R[t])(\beta U[t-1] + X[t])` (snnTorch ``Synaptic``), instead
            of :math:`\beta (1 - R[t]) U[t-1] + X[t]` (snnTorch ``Leaky``).

    Returns:
        ``(spikes, mems)``, both ``[T, B, ...]``; ``mems[-1]`` is the final stored membrane.
    """
    derivative = getattr(spike_fn, "derivative", None)
    if derivative is None or not callable(derivative) or not hasattr(spike_fn, "__weakref__"):
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
    kernels = _LEAKY_KERNELS.setdefault(spike_fn, {})
    key = (reset_mechanism, bool(zero_clears_input))
    if key not in kernels:
        kernels[key] = _leaky_kernel(derivative, reset_mechanism, bool(zero_clears_input))
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
    return total, decay * total[0], _sum_to_shape(total * prev, decay.shape)


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
