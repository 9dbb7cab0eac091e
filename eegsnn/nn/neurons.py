r"""Spiking neuron modules: thin :class:`mlx.nn.Module` shells over :mod:`eegsnn.nn.functional`.

Every neuron has the same interface (the contract in ``docs/CONVENTIONS.md``)::

    neuron = Leaky(beta=0.9)
    state = neuron.init_state(batch_size, num_features)     # dict of [B, F] arrays
    spk, state = neuron(x, state)                           # one step, x: [B, F]
    spikes, membrane, state = neuron.unroll(x_seq)          # x_seq: [T, B, F] (time-major)

* ``state`` is a plain dict of named arrays, passed in and returned (no hidden state in the
  module): the membrane is ``"mem"``; ``Synaptic`` adds ``"syn"``; ``Alpha`` adds
  ``"syn_exc"`` and ``"syn_inh"``; ``ALIF`` adds ``"adapt"``; ``Izhikevich`` adds ``"rec"``.
* ``unroll`` returns the spikes ``[T, B, F]``, the membrane after each step ``[T, B, F]``
  (after the step's update and before a delayed reset is applied at the next step: what
  snnTorch returns as ``mem``), and the final state. It runs one Python loop over ``T``
  that builds a single lazy MLX graph (nothing is evaluated inside), so it is the form to
  use for training, inside :func:`mlx.core.compile` and :func:`mlx.nn.value_and_grad`.
* Shapes: ``x`` may have any shape ``[B, ...]``; ``init_state`` accepts ``num_features`` as
  an int or a tuple. Parameters given as arrays (one value per neuron) must broadcast to it.
* Defaults follow snnTorch 1.0: ``threshold=1.0``, ``reset_mechanism="subtract"`` (``"zero"``
  for ``Alpha``), delayed reset detached from the gradient, spikes when ``mem > threshold``,
  surrogate ``atan(alpha=2)``. With default arguments ``Leaky(beta=b)`` and
  ``Synaptic(alpha=a, beta=b)`` give the same spikes and membranes as ``snntorch.Leaky`` and
  ``snntorch.Synaptic`` (tested to 1e-5 in ``tests/test_neurons.py``).
* ``learn_beta`` / ``learn_threshold`` / ``learn_alpha`` make those values trainable arrays
  (decays are clipped to [0, 1] in the forward pass, as in snnTorch). Values that are not
  learned are Python floats (or frozen arrays when given per neuron), so they never appear
  in ``trainable_parameters()``.

* ``unroll`` of ``Leaky``, ``IF`` and ``Synaptic`` (default delayed, detached reset and a
  surrogate from :mod:`eegsnn.surrogate`) runs a whole-sequence kernel whose backward pass
  is written by hand (:func:`eegsnn.nn.functional.leaky_sequence`): same numbers as the
  step loop, several times faster to differentiate. ``neuron.fused = False`` forces the
  step loop.
* ``neuron.config()`` gives the constructor arguments as JSON-able values and
  :func:`neuron_from_config` rebuilds the neuron (for configs and checkpoints).

Errors: bad arguments and mismatched state raise :class:`eegsnn.errors.ConfigError`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from eegsnn import surrogate as _surrogate
from eegsnn.errors import ConfigError
from eegsnn.nn import functional as F

__all__ = [
    "ALIF",
    "IF",
    "IZHIKEVICH_PRESETS",
    "NEURON_MODELS",
    "Alpha",
    "Izhikevich",
    "Leaky",
    "SpikingNeuron",
    "Synaptic",
    "neuron_from_config",
]

State = dict[str, mx.array]

#: Izhikevich (2003) parameter presets ``(a, b, c, d)``: regular spiking, intrinsically
#: bursting, chattering and fast spiking (Fig. 2 of the paper).
IZHIKEVICH_PRESETS: dict[str, tuple[float, float, float, float]] = {
    "RS": (0.02, 0.2, -65.0, 8.0),
    "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0),
    "FS": (0.1, 0.2, -65.0, 2.0),
}


def _as_value(
    owner: str, name: str, value: Any, lo: float | None, hi: float | None, lo_open: bool = False,
    hi_open: bool = False,
) -> float | mx.array:
    """Validate a scalar or per-neuron parameter; return a float or a float32 array."""
    if isinstance(value, bool):
        raise ConfigError(f"{owner}: {name} must be a number or an array, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{owner}: {name} must be a number or an array, got {value!r}") from exc
    if arr.size == 0:
        raise ConfigError(f"{owner}: {name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{owner}: {name} must be finite, got {value!r}")
    lo_bad = (arr <= lo if lo_open else arr < lo) if lo is not None else np.zeros_like(arr, bool)
    hi_bad = (arr >= hi if hi_open else arr > hi) if hi is not None else np.zeros_like(arr, bool)
    if np.any(lo_bad) or np.any(hi_bad):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        bad = arr[lo_bad | hi_bad].ravel()[0]
        raise ConfigError(f"{owner}: {name} must lie in {rng}, got {bad:g}")
    if arr.ndim == 0:
        return float(arr)
    return mx.array(arr.astype(np.float32))


class SpikingNeuron(nn.Module):
    """Base class: parameters, surrogate, reset options, state checks and the time loop.

    Subclasses define :attr:`state_names`, :meth:`init_state` (optionally) and
    :meth:`_step`, a call of a pure function of :mod:`eegsnn.nn.functional` with the
    parameters resolved once per call/unroll by :meth:`_resolved`.

    Args:
        threshold: Firing threshold (membrane units); float or per-neuron array.
        reset_mechanism: ``"subtract"``, ``"zero"`` or ``"none"``.
        surrogate: Spike function with a surrogate gradient: a callable from
            :mod:`eegsnn.surrogate`, a surrogate name (``"fast_sigmoid"``...), or ``None``
            for ``surrogate.atan(alpha=2.0)`` (snnTorch 1.0's default).
        learn_threshold: Make the threshold a trainable parameter.
        reset_delay: ``True`` (default, snnTorch): reset at the step after a spike;
            ``False``: reset at the spike step.
        detach_reset: Stop the gradient through the reset (default, snnTorch's delayed reset).
    """

    state_names: tuple[str, ...] = ("mem",)
    #: Use the whole-sequence kernel with a hand-written BPTT backward pass in ``unroll``
    #: where the neuron has one (Leaky, IF, Synaptic with the default delayed, detached
    #: reset and a surrogate from :mod:`eegsnn.surrogate`). Same numbers as the step loop;
    #: set to ``False`` on an instance to force the step loop (e.g. for forward-mode AD).
    fused: bool = True
    #: Reset mechanisms this neuron accepts.
    reset_mechanisms: tuple[str, ...] = F.RESET_MECHANISMS

    def __init__(
        self,
        threshold: float | Any = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str | Callable[[mx.array], mx.array] | None = None,
        learn_threshold: bool = False,
        reset_delay: bool = True,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(reset_mechanism, str) or reset_mechanism not in self.reset_mechanisms:
            raise ConfigError(
                f"{owner}: unknown reset_mechanism {reset_mechanism!r}; expected one of "
                f"{', '.join(repr(m) for m in self.reset_mechanisms)}"
            )
        self.reset_mechanism = reset_mechanism
        self.reset_delay = bool(reset_delay)
        self.detach_reset = bool(detach_reset)
        self.spike_fn = _surrogate.get(surrogate)
        # Bookkeeping kept out of the module's parameter tree (plain object attributes).
        object.__setattr__(self, "_learnable", set())
        object.__setattr__(self, "_clips", {})
        self._set_param("threshold", threshold, learn_threshold, None, None)

    # -- parameters -------------------------------------------------------------------
    def _set_param(
        self,
        name: str,
        value: Any,
        learn: bool,
        lo: float | None,
        hi: float | None,
        *,
        clip: tuple[float, float] | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
    ) -> None:
        """Store ``name``: trainable array if ``learn``; else a float or a frozen array.

        ``clip`` is the range a learned value is clipped to in the forward pass.
        """
        v = _as_value(type(self).__name__, name, value, lo, hi, lo_open, hi_open)
        self._clips[name] = clip
        if learn:
            setattr(self, name, v if isinstance(v, mx.array) else mx.array(v, dtype=mx.float32))
            self._learnable.add(name)
        elif isinstance(v, mx.array):
            setattr(self, name, v)
            self.freeze(keys=[name], recurse=False)
        else:
            setattr(self, name, v)

    def _param(self, name: str) -> float | mx.array:
        value = getattr(self, name)
        clip = self._clips.get(name)
        if name in self._learnable and clip is not None:
            return mx.clip(value, clip[0], clip[1])
        return value

    def _resolved(self) -> dict[str, Any]:
        """Every parameter registered with :meth:`_set_param`, for one call/unroll (learned
        decays clipped once, not per step)."""
        return {name: self._param(name) for name in self._clips}

    # -- state ----------------------------------------------------------------------
    def _shape(self, batch_size: int, num_features: int | Sequence[int]) -> tuple[int, ...]:
        owner = type(self).__name__
        feats = (num_features,) if isinstance(num_features, (int, np.integer)) else num_features
        try:
            shape = (int(batch_size), *(int(f) for f in feats))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{owner}.init_state: batch_size and num_features must be integers, "
                f"got {batch_size!r}, {num_features!r}"
            ) from exc
        if any(s <= 0 for s in shape):
            raise ConfigError(f"{owner}.init_state: sizes must be positive, got {shape}")
        return shape

    def init_state(
        self, batch_size: int, num_features: int | Sequence[int], dtype: mx.Dtype = mx.float32
    ) -> State:
        """Zero state: a dict of ``[batch_size, num_features]`` arrays named by
        :attr:`state_names` (``num_features`` may be a tuple for ``[B, C, H, W]`` input)."""
        shape = self._shape(batch_size, num_features)
        return {name: mx.zeros(shape, dtype=dtype) for name in self.state_names}

    def _check_state(self, x: mx.array, state: State, where: str) -> None:
        owner = type(self).__name__
        if not isinstance(state, dict):
            raise ConfigError(
                f"{owner}.{where}: state must be a dict with keys {list(self.state_names)}, "
                f"got {type(state).__name__}"
            )
        missing = [k for k in self.state_names if k not in state]
        if missing:
            raise ConfigError(
                f"{owner}.{where}: state is missing {missing}; expected keys "
                f"{list(self.state_names)} (use {owner}.init_state)"
            )
        for key in self.state_names:
            shape = tuple(state[key].shape)
            if shape != tuple(x.shape):
                raise ConfigError(
                    f"{owner}.{where}: state[{key!r}] has shape {shape} but the input step has "
                    f"shape {tuple(x.shape)}; they must match ([B, F])"
                )

    # -- dynamics -------------------------------------------------------------------
    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        raise NotImplementedError

    def __call__(self, x: mx.array, state: State | None = None) -> tuple[mx.array, State]:
        """One time step.

        Args:
            x: Input at this step, ``[B, F]`` (or ``[B, ...]``).
            state: Dict from :meth:`init_state` or a previous call; ``None`` for zeros.

        Returns:
            ``(spk, state)``: spikes of ``x``'s shape (float 0/1) and the new state.
        """
        if state is None:
            state = self.init_state(x.shape[0], tuple(x.shape[1:]), dtype=x.dtype)
        else:
            self._check_state(x, state, "__call__")
        return self._step(x, state, self._resolved())

    def unroll(
        self, x_seq: mx.array, state: State | None = None
    ) -> tuple[mx.array, mx.array, State]:
        """Run over a time-major sequence.

        Args:
            x_seq: Input ``[T, B, F]`` (or ``[T, B, ...]``), time first.
            state: Initial state (``None``: zeros).

        Returns:
            ``(spikes, membrane, state)``: ``[T, B, F]`` spikes, ``[T, B, F]`` membrane
            (``state["mem"]`` after each step) and the final state.
        """
        owner = type(self).__name__
        if not isinstance(x_seq, mx.array):
            raise ConfigError(f"{owner}.unroll: x_seq must be an mlx array, got {type(x_seq)}")
        if x_seq.ndim < 3:
            raise ConfigError(
                f"{owner}.unroll: x_seq must be time-major [T, B, F], got shape "
                f"{tuple(x_seq.shape)}"
            )
        if x_seq.shape[0] == 0:
            raise ConfigError(f"{owner}.unroll: x_seq has no time steps (T = 0)")
        if state is None:
            state = self.init_state(x_seq.shape[1], tuple(x_seq.shape[2:]), dtype=x_seq.dtype)
        else:
            self._check_state(x_seq[0], state, "unroll")
        p = self._resolved()
        if self.fused and self.reset_delay and self.detach_reset:
            fused = self._unroll_fused(x_seq, state, p)
            if fused is not None:
                return fused
        spikes, mems = [], []
        for t in range(x_seq.shape[0]):
            spk, state = self._step(x_seq[t], state, p)
            spikes.append(spk)
            mems.append(state["mem"])
        return mx.stack(spikes), mx.stack(mems), state

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any]
    ) -> tuple[mx.array, mx.array, State] | None:
        """Whole-sequence form with a hand-written backward pass, or None if unavailable."""
        return None

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this neuron, as plain JSON-able values.

        ``{"model": "Leaky", "beta": 0.9, ..., "surrogate": {"name": "atan", "alpha": 2.0}}``;
        learned values are their current values, per-neuron arrays become lists. Rebuild
        with :func:`neuron_from_config`. A surrogate that is not one of the named factories
        (e.g. :func:`eegsnn.surrogate.custom`) cannot be written and raises ConfigError.
        """
        owner = type(self).__name__
        out: dict[str, Any] = {"model": owner}
        for name in inspect.signature(type(self).__init__).parameters:
            if name == "self":
                continue
            if name == "surrogate":
                fn = self.spike_fn
                if not isinstance(fn, _surrogate.Surrogate) or fn.name == "custom":
                    raise ConfigError(
                        f"{owner}.config: surrogate {fn!r} has no name to write; use a named "
                        "surrogate (fast_sigmoid, atan, sigmoid, triangular, straight_through)"
                    )
                out[name] = {"name": fn.name, **fn.params}
            elif name == "learn_params":
                out[name] = "a" in self._learnable
            elif name.startswith("learn_"):
                out[name] = name.removeprefix("learn_") in self._learnable
            else:
                value = getattr(self, name)
                if isinstance(value, mx.array):
                    value = value.item() if value.ndim == 0 else value.tolist()
                out[name] = value
        return out

    def _reset_kwargs(self) -> dict[str, Any]:
        return {
            "spike_fn": self.spike_fn,
            "reset_mechanism": self.reset_mechanism,
            "reset_delay": self.reset_delay,
            "detach_reset": self.detach_reset,
        }

    def _extra_repr(self) -> str:
        return self._params_repr() + self._reset_repr()

    def _params_repr(self) -> str:
        """``"beta=0.9, "``...: the registered parameters but the threshold, in order."""
        return "".join(f"{n}={self._describe(n)}, " for n in self._clips if n != "threshold")

    def _reset_repr(self) -> str:
        return (
            f"threshold={self._describe('threshold')}, reset_mechanism={self.reset_mechanism!r}, "
            f"reset_delay={self.reset_delay}, surrogate={self.spike_fn!r}"
        )

    def _describe(self, name: str) -> str:
        v = getattr(self, name)
        if isinstance(v, mx.array):
            kind = "learned" if name in self._learnable else "fixed"
            return f"<{kind} array {tuple(v.shape)}>" if v.ndim else f"{v.item():g} ({kind})"
        return f"{v:g}"


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
        self, x_seq: mx.array, state: State, p: dict[str, Any]
    ) -> tuple[mx.array, mx.array, State]:
        spikes, mems = F.leaky_sequence(
            x_seq,
            state["mem"],
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

    # (the constructor is SpikingNeuron's: threshold and reset options only)

    def _step(self, x: mx.array, state: State, p: dict[str, Any]) -> tuple[mx.array, State]:
        spk, mem = F.if_step(x, state["mem"], threshold=p["threshold"], **self._reset_kwargs())
        return spk, {"mem": mem}

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any]
    ) -> tuple[mx.array, mx.array, State]:
        spikes, mems = F.leaky_sequence(
            x_seq,
            state["mem"],
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
        self, x_seq: mx.array, state: State, p: dict[str, Any]
    ) -> tuple[mx.array, mx.array, State]:
        syn = F.exp_filter(x_seq, state["syn"], p["alpha"])
        spikes, mems = F.leaky_sequence(
            syn,
            state["mem"],
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


#: Neuron classes by name, for configs (``{"model": "Leaky", ...}``).
NEURON_MODELS: dict[str, type[SpikingNeuron]] = {
    cls.__name__: cls for cls in (Leaky, IF, Synaptic, ALIF, Alpha, Izhikevich)
}


def neuron_from_config(config: Mapping[str, Any]) -> SpikingNeuron:
    """Build a neuron from a dict such as :meth:`SpikingNeuron.config` returns.

    Args:
        config: ``{"model": <name in NEURON_MODELS>, **constructor arguments}``;
            ``"surrogate"`` may be a name, ``{"name": ..., **params}`` or ``None``.

    Raises:
        ConfigError: Unknown model or surrogate, or bad arguments.
    """
    if not isinstance(config, Mapping) or "model" not in config:
        raise ConfigError(f"neuron config must be a mapping with a 'model' key, got {config!r}")
    kwargs = dict(config)
    model = kwargs.pop("model")
    if model not in NEURON_MODELS:
        raise ConfigError(
            f"unknown neuron model {model!r}; expected one of {', '.join(NEURON_MODELS)}"
        )
    spec = kwargs.get("surrogate")
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "name" not in params:
            raise ConfigError(f"{model}: surrogate config needs a 'name', got {spec!r}")
        name = params.pop("name")
        kwargs["surrogate"] = _surrogate.get(name, **params)
    try:
        return NEURON_MODELS[model](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{model}: bad arguments {sorted(kwargs)}: {exc}") from exc
