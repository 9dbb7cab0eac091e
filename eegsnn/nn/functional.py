r"""Pure step functions of the spiking neurons: input, state and parameters in; spikes and
the new state out.

These functions hold all the neuron mathematics; the modules in :mod:`eegsnn.nn.neurons`
only store parameters and drive the time loop (whole-sequence forms with a hand-written
backward pass, the training hot path, are in :mod:`eegsnn.nn.sequence`). They take and
return plain arrays (no hidden state), so they compose with :func:`mlx.core.compile`,
:func:`mlx.core.grad`, :func:`mlx.nn.value_and_grad` and :func:`mlx.core.vmap`.

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
from collections.abc import Callable

import mlx.core as mx

__all__ = [
    "RESET_MECHANISMS",
    "alif_step",
    "alpha_step",
    "alpha_tau",
    "if_step",
    "izhikevich_step",
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
