r"""The base class of the spiking neurons (:class:`SpikingNeuron`): parameters, surrogate, reset
options, state checks, the time loop and the config record. The neurons themselves are in
:mod:`eegsnn.nn.neurons` (and :mod:`eegsnn.nn.recurrent`); their registry in
:mod:`eegsnn.nn.registry`.

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
  ``snntorch.Synaptic`` (tested to 1e-5 in ``tests/unit/test_neurons.py``).
* ``learn_beta`` / ``learn_threshold`` / ``learn_alpha`` make those values trainable arrays
  (decays are clipped to [0, 1] in the forward pass, as in snnTorch). Values that are not
  learned are Python floats (or frozen arrays when given per neuron), so they never appear
  in ``trainable_parameters()``.

* ``unroll`` of ``Leaky``, ``IF`` and ``Synaptic`` (default delayed, detached reset and a
  surrogate from :mod:`eegsnn.surrogate`) runs a whole-sequence kernel whose backward pass
  is written by hand (:func:`eegsnn.nn.sequence.leaky_sequence`, which also chooses the
  kernel for the neuron's parameters and the sequence length): same numbers as the step
  loop, several times faster to differentiate. ``neuron.fused = False`` forces the step
  loop.
* ``neuron.config()`` gives the constructor arguments as JSON-able values, in the format of a
  model-config layer (``{"type": "leaky", ..., "surrogate": {"type": "atan", ...}}``), and
  :func:`eegsnn.nn.registry.neuron_from_config` rebuilds the neuron (for configs and
  checkpoints).

Errors: bad arguments and mismatched state raise :class:`eegsnn.errors.ConfigError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from eegsnn import surrogate as _surrogate
from eegsnn.errors import ConfigError
from eegsnn.nn import functional as F

__all__ = ["SpikingNeuron", "State", "float_input"]

State = dict[str, mx.array]


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



def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` without growing it (leading
    axes of size 1, e.g. ``(1, F)`` for ``[B, F]``, are fine: they fit any batch)."""
    while len(shape) > len(target) and shape[0] == 1:
        shape = shape[1:]
    # (per step on the hot path: plain tuple arithmetic, no NumPy call)
    return len(shape) <= len(target) and all(
        s in (1, t) for s, t in zip(shape, target[len(target) - len(shape):], strict=True))


def float_input(x: Any, what: str) -> mx.array:
    """``x``, an MLX array, as a floating array: integer or boolean input (spike counts or
    0/1) is taken as float32, since decays and thresholds are real numbers.

    Raises:
        ConfigError: ``x`` is not an MLX array (``what`` names it: "model input").
    """
    if not isinstance(x, mx.array):
        raise ConfigError(f"{what} must be an mlx array (mx.array(...)), got "
                          f"{type(x).__name__}")
    return x if mx.issubdtype(x.dtype, mx.floating) else x.astype(mx.float32)

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
    #: The neuron's name in configs and in :data:`eegsnn.nn.registry.NEURONS` (the layer
    #: ``type`` of model configs: ``"leaky"``, ``"if"``...).
    config_type: str = ""

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

    def _input(self, x: Any, where: str, lead: int, params: bool = True) -> mx.array:
        """``x`` checked for :meth:`__call__` (``lead`` 1: ``[B, ...]``) or :meth:`unroll`
        (``lead`` 2: ``[T, B, ...]``): an MLX array (integer or boolean input, spike counts
        or 0/1, is taken as float32: the neuron's decays and thresholds are real numbers),
        whose feature shape every per-neuron parameter broadcasts to (with ``params``; a
        step given a state skips that: the state has the features of the first step)."""
        owner = type(self).__name__
        x = float_input(x, f"{owner}.{where}: the input")
        if not params:
            return x
        features = tuple(x.shape[lead:])
        for name in self._clips:
            value = getattr(self, name)
            if isinstance(value, mx.array) and value.ndim and not _broadcasts_to(
                    tuple(value.shape), features):
                raise ConfigError(f"{owner}.{where}: {name} has one value per neuron of shape "
                                  f"{tuple(value.shape)}, which does not fit the input's "
                                  f"features {features} (input {tuple(x.shape)})")
        return x

    def __call__(self, x: mx.array, state: State | None = None) -> tuple[mx.array, State]:
        """One time step.

        Args:
            x: Input at this step, ``[B, F]`` (or ``[B, ...]``); integer or boolean input
                is taken as float32.
            state: Dict from :meth:`init_state` or a previous call; ``None`` for zeros.

        Returns:
            ``(spk, state)``: spikes of ``x``'s shape (float 0/1) and the new state.
        """
        x = self._input(x, "__call__", 1, params=state is None)  # (the per-step hot path)
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
            x_seq: Input ``[T, B, F]`` (or ``[T, B, ...]``), time first; integer or boolean
                input is taken as float32.
            state: Initial state (``None``: zeros).

        Returns:
            ``(spikes, membrane, state)``: ``[T, B, F]`` spikes, ``[T, B, F]`` membrane
            (``state["mem"]`` after each step) and the final state.
        """
        owner = type(self).__name__
        x_seq = self._input(x_seq, "unroll", 2)
        if x_seq.ndim < 3:
            raise ConfigError(
                f"{owner}.unroll: x_seq must be time-major [T, B, F], got shape "
                f"{tuple(x_seq.shape)}"
            )
        if x_seq.shape[0] == 0:
            raise ConfigError(f"{owner}.unroll: x_seq has no time steps (T = 0)")
        at_rest = state is None
        if state is None:
            state = self.init_state(x_seq.shape[1], tuple(x_seq.shape[2:]), dtype=x_seq.dtype)
        else:
            self._check_state(x_seq[0], state, "unroll")
        p = self._resolved()
        if self.fused and self.reset_delay and self.detach_reset:
            fused = self._unroll_fused(x_seq, state, p, at_rest)
            if fused is not None:
                return fused
        spikes, mems = [], []
        for t in range(x_seq.shape[0]):
            spk, state = self._step(x_seq[t], state, p)
            spikes.append(spk)
            mems.append(state["mem"])
        return mx.stack(spikes), mx.stack(mems), state

    def _unroll_fused(
        self, x_seq: mx.array, state: State, p: dict[str, Any], at_rest: bool
    ) -> tuple[mx.array, mx.array, State] | None:
        """Whole-sequence form with a hand-written backward pass, or None if unavailable
        (``at_rest``: ``state`` is the zero state of :meth:`init_state`, which lets
        :func:`eegsnn.nn.sequence.leaky_sequence` pick a kernel that assumes it)."""
        return None

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this neuron, as plain JSON-able values.

        ``{"type": "leaky", "beta": 0.9, ..., "surrogate": {"type": "atan", "alpha": 2.0}}``,
        the format of a model-config layer; learned values are their current values,
        per-neuron arrays become lists. Rebuild with
        :func:`eegsnn.nn.registry.neuron_from_config` (which also reads the older
        ``{"model": "Leaky", ..., "surrogate": {"name": ...}}``). A surrogate that is not one
        of the named factories (e.g. :func:`eegsnn.surrogate.custom`) cannot be written and
        raises ConfigError.
        """
        owner = type(self).__name__
        out: dict[str, Any] = {"type": type(self).config_type or owner.lower()}
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
                out[name] = {"type": fn.name, **fn.params}
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
