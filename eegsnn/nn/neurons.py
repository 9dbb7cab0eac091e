r"""The spiking neurons: ``Leaky``, ``IF``, ``Synaptic``, ``ALIF``, ``Alpha``, ``Izhikevich``,
thin :class:`mlx.nn.Module` shells (on :class:`eegsnn.nn.base.SpikingNeuron`) over the pure
steps of :mod:`eegsnn.nn.functional`; ``Leaky``, ``IF`` and ``Synaptic`` run their
``unroll`` with the whole-sequence kernels of :mod:`eegsnn.nn.sequence`.

The interface they share and its conventions are described in :mod:`eegsnn.nn.base`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.nn import functional as F
from eegsnn.nn.base import SpikingNeuron, State
from eegsnn.nn.sequence import exp_filter, leaky_sequence

__all__ = [
    "ALIF",
    "IF",
    "IZHIKEVICH_PRESETS",
    "Alpha",
    "Izhikevich",
    "Leaky",
    "SpikingNeuron",
    "Synaptic",
]

#: Izhikevich (2003) parameter presets ``(a, b, c, d)``: regular spiking, intrinsically
#: bursting, chattering and fast spiking (Fig. 2 of the paper).
IZHIKEVICH_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),
    "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0),
    "FS": (0.1, 0.2, -65.0, 2.0),
}



class Leaky(SpikingNeuron):
    r"""Leaky integrate-and-fire neuron (first-order LIF, snnTorch ``Leaky``).

    Delayed reset (default), :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`, detached:

    .. math::

        U[t] &= \beta U[t-1] + X[t] - R[t]\,U_\mathrm{thr}  \quad (\text{subtract}) \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    ("zero": :math:`U[t] = \beta(1 - R[t])U[t-1] + X[t]`; "none": no reset term; see
    :func:`eegsnn.nn.functional.leaky_step` for the immediate-reset variant.)
    :math:`\beta = e^{-\Delta t/\tau_m}`.

    Args:
        beta: Membrane decay :math:`\beta \in [0, 1]`; float or per-neuron array ``[F]``.
        threshold: Firing threshold (default 1.0).
        reset_mechanism: ``"subtract"`` (default), ``"zero"`` or ``"none"`` (a non-spiking
            integrator, used as a readout: its membrane trace is the output).
        surrogate: Surrogate spike function (``None``: ``atan(alpha=2)``).
        learn_beta: Train :math:`\beta` (clipped to [0, 1] in the forward pass).
        learn_threshold: Train the threshold.
        reset_delay: Reset at the next step (default, snnTorch) or at the spike step.
        detach_reset: Stop the gradient through the reset (default).

    snnTorch's ``reset_delay=False`` differs in two ways: it backpropagates through the
    reset (use ``detach_reset=False`` to match), and when the stored, already-reset
    membrane is still above threshold (inputs above twice the threshold) it subtracts the
    threshold once more before testing for a spike. Below that regime both agree exactly
    (tested).

    Example::

        lif = Leaky(beta=0.9)
        spikes, mem, state = lif.unroll(mx.ones((25, 32, 100)) * 0.3)   # [T, B, F]
    """

    config_type = "leaky"

    def __init__(
        self,
        beta: float | Any = 0.9,
        threshold: float | Any = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset
        )
        self._set_param("beta", beta, learn_beta, 0.0, 1.0, clip=(0.0, 1.0))

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, mem = F.leaky_step(
            x, state["mem"], beta=p["beta"], threshold=p["threshold"], **self._reset_kwargs()
        )
        return spk, {"mem": mem}

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any], at_rest: bool
    ) -> tuple[mx.array, mx.array, State]:
        spikes, mems = leaky_sequence(
            x_seq,
            None if at_rest else state["mem"],
            beta=p["beta"],
            threshold=p["threshold"],
            spike_fn=self.spike_fn,
            reset_mechanism=self.reset_mechanism,
        )
        return spikes, mems, {"mem": mems[-1]}


class IF(SpikingNeuron):
    r"""Integrate-and-fire neuron without leak: :class:`Leaky` with :math:`\beta = 1`.

    .. math::

        U[t] = U[t-1] + X[t] - R[t]\,U_\mathrm{thr}, \qquad S[t] = H(U[t] - U_\mathrm{thr})

    Args:
        threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset:
            As in :class:`Leaky`.
    """

    config_type = "if"

    # (the constructor is SpikingNeuron's: threshold and reset options only)

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, mem = F.if_step(x, state["mem"], threshold=p["threshold"], **self._reset_kwargs())
        return spk, {"mem": mem}

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any], at_rest: bool
    ) -> tuple[mx.array, mx.array, State]:
        spikes, mems = leaky_sequence(
            x_seq,
            state["mem"],  # (at rest too: "none" stays the bitwise step recurrence)
            beta=1.0,
            threshold=p["threshold"],
            spike_fn=self.spike_fn,
            reset_mechanism=self.reset_mechanism,
        )
        return spikes, mems, {"mem": mems[-1]}


class Synaptic(SpikingNeuron):
    r"""Two-state LIF neuron with a current-based synapse (snnTorch ``Synaptic``).

    Delayed reset (default), :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`, detached:

    .. math::

        I[t] &= \alpha I[t-1] + X[t] \\
        U[t] &= \beta U[t-1] + I[t] - R[t]\,U_\mathrm{thr}  \quad (\text{subtract}) \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    ("zero", as snnTorch: :math:`U[t] = (1 - R[t])(\beta U[t-1] + I[t])`.) State:
    ``{"syn": I, "mem": U}``.

    Args:
        alpha: Synaptic current decay in [0, 1] (:math:`e^{-\Delta t/\tau_\mathrm{syn}}`).
        beta: Membrane decay in [0, 1].
        learn_alpha: Train :math:`\alpha` (clipped to [0, 1]).
        threshold, reset_mechanism, surrogate, learn_beta, learn_threshold, reset_delay,
            detach_reset: As in :class:`Leaky`.
    """

    config_type = "synaptic"

    state_names = ("syn", "mem")

    def __init__(
        self,
        alpha: float | Any = 0.9,
        beta: float | Any = 0.8,
        threshold: float | Any = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset
        )
        self._set_param("alpha", alpha, learn_alpha, 0.0, 1.0, clip=(0.0, 1.0))
        self._set_param("beta", beta, learn_beta, 0.0, 1.0, clip=(0.0, 1.0))

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, syn, mem = F.synaptic_step(
            x,
            state["syn"],
            state["mem"],
            alpha=p["alpha"],
            beta=p["beta"],
            threshold=p["threshold"],
            **self._reset_kwargs(),
        )
        return spk, {"syn": syn, "mem": mem}

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any], at_rest: bool
    ) -> tuple[mx.array, mx.array, State]:
        syn = exp_filter(x_seq, state["syn"], p["alpha"])
        spikes, mems = leaky_sequence(
            syn,
            state["mem"],  # (at rest too: "none" stays the bitwise step recurrence)
            beta=p["beta"],
            threshold=p["threshold"],
            spike_fn=self.spike_fn,
            reset_mechanism=self.reset_mechanism,
            zero_clears_input=True,
        )
        return spikes, mems, {"syn": syn[-1], "mem": mems[-1]}


class ALIF(SpikingNeuron):
    r"""Adaptive-threshold LIF neuron (Bellec et al. 2018, "LSNN").

    Delayed reset (default), with the previous spike :math:`R[t] = H(U[t-1] - \vartheta[t-1])`:

    .. math::

        A[t] &= \rho A[t-1] + R[t], \qquad \vartheta[t] = U_\mathrm{thr} + b\,A[t] \\
        U[t] &= \beta U[t-1] + X[t] - R[t]\,U_\mathrm{thr}  \quad (\text{subtract}) \\
        S[t] &= H(U[t] - \vartheta[t])

    Each spike raises the threshold by :math:`b`, decaying with :math:`\rho`
    (:math:`e^{-\Delta t/\tau_a}`), which lengthens inter-spike intervals under constant
    input (spike-frequency adaptation). State: ``{"mem": U, "adapt": A}``.

    Args:
        beta: Membrane decay in [0, 1].
        rho: Adaptation decay in [0, 1] (default 0.95).
        b: Threshold increase per spike, >= 0 (default 0.2, membrane units).
        learn_beta: Train :math:`\beta`.
        learn_rho: Train :math:`\rho` (clipped to [0, 1]).
        threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset:
            As in :class:`Leaky`.
    """

    config_type = "alif"

    state_names = ("mem", "adapt")

    def __init__(
        self,
        beta: float | Any = 0.9,
        rho: float | Any = 0.95,
        b: float | Any = 0.2,
        threshold: float | Any = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_beta: bool = False,
        learn_rho: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset
        )
        self._set_param("beta", beta, learn_beta, 0.0, 1.0, clip=(0.0, 1.0))
        self._set_param("rho", rho, learn_rho, 0.0, 1.0, clip=(0.0, 1.0))
        self._set_param("b", b, False, 0.0, None)

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, mem, adapt = F.alif_step(
            x,
            state["mem"],
            state["adapt"],
            beta=p["beta"],
            threshold=p["threshold"],
            rho=p["rho"],
            b=p["b"],
            **self._reset_kwargs(),
        )
        return spk, {"mem": mem, "adapt": adapt}


class Alpha(SpikingNeuron):
    r"""Dual-exponential ("alpha") neuron (snnTorch ``Alpha``).

    The membrane is a rise-then-decay filtered copy of the input: the difference of two
    exponential traces. Delayed reset (default), :math:`R[t] = H(U[t-1] - U_\mathrm{thr})`:

    .. math::

        E[t] &= \alpha E[t-1] + X[t], \qquad N[t] = \beta N[t-1] - X[t] \\
        (E, N) &\leftarrow (1 - R[t])(E, N) \quad (\text{zero, the default}) \\
        U[t] &= \tau_\alpha (E[t] + N[t]), \qquad
            \tau_\alpha = \frac{\ln\beta}{\ln\beta - \ln\alpha} \\
        S[t] &= H(U[t] - U_\mathrm{thr})

    An impulse gives :math:`U[t] = \tau_\alpha(\alpha^t - \beta^t)`. "none" and "zero"
    match snnTorch; "subtract" lowers :math:`U` by exactly :math:`U_\mathrm{thr}` (see
    :func:`eegsnn.nn.functional.alpha_step`). State ``{"syn_exc": E, "syn_inh": N,
    "mem": U}``.

    Args:
        alpha: Slow decay :math:`\alpha \in (0, 1)` of ``syn_exc`` (default 0.9).
        beta: Fast decay :math:`\beta \in (0, 1)`, :math:`\ne \alpha` (default 0.8).
        reset_mechanism: ``"zero"`` (default, as snnTorch), ``"subtract"`` or ``"none"``.
        learn_alpha, learn_beta: Train the decays (clipped to [1e-6, 1 - 1e-6]).
        threshold, surrogate, learn_threshold, reset_delay, detach_reset: As in :class:`Leaky`.
    """

    config_type = "alpha"

    state_names = ("syn_exc", "syn_inh", "mem")

    def __init__(
        self,
        alpha: float | Any = 0.9,
        beta: float | Any = 0.8,
        threshold: float | Any = 1.0,
        reset_mechanism: str = "zero",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            threshold, reset_mechanism, surrogate, learn_threshold, reset_delay, detach_reset
        )
        eps = 1e-6
        self._set_param(
            "alpha", alpha, learn_alpha, 0.0, 1.0, clip=(eps, 1 - eps), lo_open=True, hi_open=True
        )
        self._set_param(
            "beta", beta, learn_beta, 0.0, 1.0, clip=(eps, 1 - eps), lo_open=True, hi_open=True
        )
        a = np.asarray(alpha, dtype=np.float64)
        bb = np.asarray(beta, dtype=np.float64)
        if np.any(np.isclose(a, bb, rtol=0.0, atol=1e-9)):
            raise ConfigError(
                f"Alpha: alpha and beta must differ (tau_alpha = ln(beta) / (ln(beta) - "
                f"ln(alpha)) is undefined when they are equal), got alpha={alpha}, beta={beta}"
            )

    def _resolved(self) -> dict[str, Any]:
        p = super()._resolved()
        p["tau"] = F.alpha_tau(p["alpha"], p["beta"])
        return p

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, exc, inh, mem = F.alpha_step(
            x,
            state["syn_exc"],
            state["syn_inh"],
            state["mem"],
            alpha=p["alpha"],
            beta=p["beta"],
            threshold=p["threshold"],
            tau=p["tau"],
            **self._reset_kwargs(),
        )
        return spk, {"syn_exc": exc, "syn_inh": inh, "mem": mem}


class Izhikevich(SpikingNeuron):
    r"""Izhikevich (2003) two-variable neuron, integrated with time step ``dt_ms``.

    .. math::

        \dot v &= 0.04 v^2 + 5 v + 140 - u + I, \qquad \dot u = a (b v - u) \\
        v > v_\mathrm{peak} &\Rightarrow v \leftarrow c,\ u \leftarrow u + d, \qquad
        S = H(v - v_\mathrm{peak})

    :math:`v` is in mV (``"mem"``), :math:`u` is the recovery variable (``"rec"``), time in
    ms; inputs are currents in the paper's units (e.g. 10 for tonic spiking). Integration
    and the (delayed) reset follow the paper's reference code (see
    :func:`eegsnn.nn.functional.izhikevich_step`). The initial state is
    :math:`v = v_\mathrm{init}` (-65 mV) and :math:`u = b\,v_\mathrm{init}`.

    Presets (:data:`IZHIKEVICH_PRESETS`, ``(a, b, c, d)``): ``"RS"`` regular spiking
    (0.02, 0.2, -65, 8), ``"IB"`` intrinsically bursting (0.02, 0.2, -55, 4), ``"CH"``
    chattering (0.02, 0.2, -50, 2), ``"FS"`` fast spiking (0.1, 0.2, -65, 2).

    Args:
        preset: ``"RS"`` (default), ``"IB"``, ``"CH"`` or ``"FS"``.
        a, b, c, d: Override the preset's values (floats or per-neuron arrays).
        v_peak: Spike cut-off in mV (30). It plays the role of ``threshold``.
        v_init: Initial membrane potential in mV (-65).
        dt_ms: Time step in ms (1.0); ``substeps``: Euler substeps for :math:`v` (2).
        reset_mechanism: ``"zero"`` (default): the Izhikevich reset (:math:`v \leftarrow c`,
            :math:`u \leftarrow u + d`; "zero" names "reset to the reset potential", which is
            :math:`c`, not 0 mV); ``"none"``: no reset. ``"subtract"`` is not defined for this
            model and raises :class:`~eegsnn.errors.ConfigError`.
        surrogate: Surrogate spike function of :math:`v - v_\mathrm{peak}` (``None``:
            ``atan(alpha=2)``; note that :math:`v` is in mV, so a wide surrogate such as
            ``fast_sigmoid(slope=0.1)`` may suit training better).
        learn_params: Train :math:`a, b, c, d` (unclipped).
        reset_delay, detach_reset: As in :class:`Leaky`.
    """

    config_type = "izhikevich"

    state_names = ("mem", "rec")
    reset_mechanisms = ("zero", "none")

    def __init__(
        self,
        preset: str = "RS",
        a: float | Any | None = None,
        b: float | Any | None = None,
        c: float | Any | None = None,
        d: float | Any | None = None,
        v_peak: float = 30.0,
        v_init: float = -65.0,
        dt_ms: float = 1.0,
        substeps: int = 2,
        reset_mechanism: str = "zero",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_params: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        key = str(preset).upper()
        if key not in IZHIKEVICH_PRESETS:
            raise ConfigError(
                f"Izhikevich: unknown preset {preset!r}; expected one of "
                f"{', '.join(IZHIKEVICH_PRESETS)}"
            )
        super().__init__(v_peak, reset_mechanism, surrogate, False, reset_delay, detach_reset)
        self.preset = key
        defaults = dict(zip("abcd", IZHIKEVICH_PRESETS[key], strict=True))
        for name, value in (("a", a), ("b", b), ("c", c), ("d", d)):
            self._set_param(name, defaults[name] if value is None else value, learn_params,
                            None, None)
        if not isinstance(dt_ms, (int, float)) or not math.isfinite(dt_ms) or dt_ms <= 0:
            raise ConfigError(f"Izhikevich: dt_ms must be a number > 0, got {dt_ms!r}")
        if not isinstance(substeps, int) or isinstance(substeps, bool) or substeps < 1:
            raise ConfigError(f"Izhikevich: substeps must be an integer >= 1, got {substeps!r}")
        if not isinstance(v_init, (int, float)) or not math.isfinite(v_init):
            raise ConfigError(f"Izhikevich: v_init must be a finite number, got {v_init!r}")
        self.dt_ms = float(dt_ms)
        self.substeps = substeps
        self.v_init = float(v_init)

    @property
    def v_peak(self) -> float | mx.array:
        """Spike cut-off in mV (stored as ``threshold``)."""
        return self.threshold

    def init_state(
        self, batch_size: int, num_features: int | Sequence[int], dtype: mx.Dtype = mx.float32
    ) -> State:
        """Resting state: ``mem`` = ``v_init`` (mV), ``rec`` = ``b * v_init``."""
        shape = self._shape(batch_size, num_features)
        v = mx.full(shape, self.v_init, dtype=dtype)
        return {"mem": v, "rec": (self._param("b") * v).astype(dtype)}

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, mem, rec = F.izhikevich_step(
            x,
            state["mem"],
            state["rec"],
            a=p["a"],
            b=p["b"],
            c=p["c"],
            d=p["d"],
            v_peak=p["threshold"],
            spike_fn=self.spike_fn,
            dt_ms=self.dt_ms,
            substeps=self.substeps,
            reset=self.reset_mechanism != "none",
            reset_delay=self.reset_delay,
            detach_reset=self.detach_reset,
        )
        return spk, {"mem": mem, "rec": rec}

    def _extra_repr(self) -> str:
        return (f"preset={self.preset!r}, " + self._params_repr() + f"dt_ms={self.dt_ms:g}, "
                + self._reset_repr())
