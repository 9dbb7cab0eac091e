r"""Liquid state machine reservoir: a fixed random recurrent population of spiking neurons.

A :class:`Reservoir` holds ``N`` spiking neurons (any eegsnn neuron model, LIF by default),
an input projection ``W_in`` ``[N, n_inputs]`` and fixed recurrent weights ``W[post, pre]``
built by :mod:`eegsnn.nn.topology` (E/I populations obeying Dale's law, random / 3-D grid /
small-world / user-supplied connectivity, rescaled to a target spectral radius, optional
integer synaptic delays). At every time step ``t``

.. math::

    I[t] &= W_\mathrm{in}\, x[t] + \sum_{d=1}^{D} W^{(d)} s[t-d] \\
    (s[t], \text{state}[t]) &= \text{neuron}(I[t], \text{state}[t-1])

where :math:`W^{(d)}` holds the connections with delay ``d`` steps (``W = sum_d W^(d)``) and
``s[t] = 0`` for ``t < 0``. Without delays every connection has ``d = 1``: recurrent input at
step ``t`` comes from the spikes of step ``t - 1``.

State (explicit, passed in and returned)::

    {"neuron": <the neuron's state dict, e.g. {"mem": [B, N]}>,
     "history": [D, B, N]}   # spikes of the last D steps, history[d - 1] = s[t - d]

Shapes are time-major: input ``[T, B, n_inputs]``, spikes ``[T, B, N]``.

Recurrent compute (``compute=``):

``"dense"``   ``[B, D*N] @ [D*N, N]`` MLX matmul; differentiable; memory ``4 D N^2`` bytes.
``"sparse"``  gather of the presynaptic spikes of each synapse (padded per postsynaptic
              neuron, ELL layout) and a sum; differentiable; memory O(nnz).
``"host"``    SciPy CSR matmul on the host each step. Forward pass identical; **no gradient
              flows through the recurrent connections** (inference / closed-form readouts).
``"auto"``    ``"host"`` when nothing in the reservoir is trainable (frozen ``w_in``, neuron
              without learned parameters: closed-form readouts, or BPTT of a readout only,
              which needs no gradient through the reservoir); otherwise ``"dense"`` up to
              4096 neurons (or when the density exceeds 10 %) and ``"sparse"`` above.
              (``benchmarks/bench_reservoir.py`` measures the three; on the 2-core CPU
              machine SciPy's CSR product was the fastest forward pass at every size.)

The recurrent weights are not parameters (they never receive gradients and are rebuilt from
the config and seed); ``w_in`` is a parameter, frozen unless ``input_trainable=True``, so
``mlx.nn.value_and_grad`` through the reservoir trains only what should be trained.

Reference: W. Maass, T. Natschläger, H. Markram (2002), Neural Computation 14(11):2531-2560.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import scipy.sparse as sp
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError
from eegsnn.nn import activity, graphs
from eegsnn.nn import topology as topo
from eegsnn.nn.registry import NEURON_MODELS, NEURONS, neuron_from_config, upgrade_neuron_config

__all__ = [
    "COMPUTE_MODES",
    "Reservoir",
    "build_input_weights",
    "reservoir_step",
]

COMPUTE_MODES = ("auto", "dense", "sparse", "host")
INPUT_DISTRIBUTIONS = ("uniform", "normal", "binary", "positive")
_DENSE_MAX_N = 4096
_DENSE_MIN_DENSITY = 0.10

State = dict[str, Any]

# Keys of the plain-dict config and their defaults (see Reservoir.__init__).
_DEFAULTS: dict[str, Any] = {
    "n_inputs": None,
    "n_neurons": 1000,
    "topology": {"kind": "random", "p": 0.1},
    "frac_excitatory": 0.8,
    "frac_inhibitory": None,
    "weight_scale": None,
    "weight_distribution": "gamma",
    "weight_cv": 0.7,
    "spectral_radius": 1.0,
    "delays": 1,
    "input_connectivity": 0.3,
    "input_gain": 1.0,
    "input_distribution": "uniform",
    "input_trainable": False,
    "neuron": {"type": "leaky", "beta": 0.95, "threshold": 1.0},
    "compute": "auto",
    "seed": 0,
}
_TOPOLOGY_KEYS = {
    "random": {"p"},
    "grid": {"shape", "lam", "C"},
    "small_world": {"k", "p_rewire"},
    "adjacency": {"adjacency", "weights", "excitatory"},
}


# --------------------------------------------------------------------------------------
# pure functions
# --------------------------------------------------------------------------------------
def build_input_weights(
    n_neurons: int,
    n_inputs: int,
    seed: int | np.random.Generator,
    *,
    connectivity: float = 0.3,
    gain: float = 1.0,
    distribution: str = "uniform",
) -> np.ndarray:
    """Random input projection ``W_in[neuron, input]`` (float32 ``[n_neurons, n_inputs]``).

    Each entry exists with probability ``connectivity``; existing entries are
    ``gain * u`` with ``u ~ U(-1, 1)`` (``"uniform"``), ``N(0, 1)`` (``"normal"``),
    ``±1`` (``"binary"``) or ``U(0, 1)`` (``"positive"``).
    """
    n_inputs = graphs._check_n(n_inputs, "n_inputs")
    conn = graphs._check_prob(connectivity, "input_connectivity")
    gain = float(gain)
    if not np.isfinite(gain) or gain <= 0:
        raise ConfigError(f"input_gain must be a positive number, got {gain!r}")
    rng = graphs._rng(seed)
    mask = rng.random((n_neurons, n_inputs)) < conn
    if distribution == "uniform":
        vals = rng.uniform(-1.0, 1.0, size=mask.shape)
    elif distribution == "normal":
        vals = rng.standard_normal(size=mask.shape)
    elif distribution == "binary":
        vals = rng.choice([-1.0, 1.0], size=mask.shape)
    elif distribution == "positive":
        vals = rng.uniform(0.0, 1.0, size=mask.shape)
    else:
        raise ConfigError(f"unknown input_distribution {distribution!r}; choose one of "
                          f"{list(INPUT_DISTRIBUTIONS)}")
    if not mask.any():
        raise ConfigError(
            f"input_connectivity={conn} connects none of the {n_inputs} inputs to the "
            f"{n_neurons} neurons; raise input_connectivity"
        )
    return (gain * vals * mask).astype(np.float32)


def reservoir_step(
    current_in: mx.array,
    state: State,
    *,
    recurrent: Callable[[mx.array], mx.array],
    neuron: Callable[[mx.array, State], tuple[mx.array, State]],
) -> tuple[mx.array, State]:
    """One reservoir step with explicit state.

    Args:
        current_in: Input current ``W_in x[t]``, ``[B, N]``.
        state: ``{"neuron": ..., "history": [D, B, N]}``.
        recurrent: ``history [D, B, N] -> current [B, N]`` (the delayed recurrent input).
        neuron: One neuron step ``(current, neuron_state) -> (spikes, neuron_state)``.

    Returns:
        ``(spikes [B, N], new_state)``.
    """
    hist = state["history"]
    current = current_in + recurrent(hist)
    spk, nstate = neuron(current, state["neuron"])
    if hist.shape[0] == 1:
        new_hist = spk[None]
    else:
        new_hist = mx.concatenate([spk[None], hist[:-1]], axis=0)
    return spk, {"neuron": nstate, "history": new_hist}


def _delay_expanded(weights: sp.csr_matrix, delays: sp.csr_matrix, max_delay: int) -> sp.csr_matrix:
    """``[N, D*N]`` matrix whose column ``(d-1)*N + pre`` holds the synapses with delay d."""
    n = weights.shape[0]
    w = weights.tocoo()
    d = np.asarray(delays[w.row, w.col]).ravel().astype(np.int64)
    cols = (d - 1) * n + w.col
    out = sp.csr_matrix((w.data.astype(np.float32), (w.row, cols)), shape=(n, max_delay * n))
    out.sort_indices()
    return out


def _neuron_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """The neuron of a neuron config (:mod:`eegsnn.nn.registry`; the older
    ``{"model": "Leaky", ...}`` is read too)."""
    name = spec.get("type", spec.get("model"))
    if str(name).lower() not in NEURONS and name not in NEURON_MODELS:
        raise ConfigError(f"reservoir neuron model {name!r} is not an eegsnn.nn neuron "
                          f"(one of {', '.join(NEURONS)})")
    try:
        return neuron_from_config(spec)
    except ConfigError as exc:
        raise ConfigError(f"reservoir neuron: {exc}") from None


def _neuron_spec(neuron: nn.Module) -> dict[str, Any]:
    """Best-effort plain-dict description of a neuron instance (its scalar init args)."""
    spec: dict[str, Any] = {"type": getattr(neuron, "config_type", "")
                            or type(neuron).__name__.lower()}
    try:
        params = inspect.signature(type(neuron).__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return spec
    for name in params:
        if name == "self" or not hasattr(neuron, name):
            continue
        value = getattr(neuron, name)
        if isinstance(value, (bool, int, float, str)):
            spec[name] = value
        elif isinstance(value, mx.array) and value.ndim == 0:
            spec[name] = float(value)
    return spec


# --------------------------------------------------------------------------------------
# module
# --------------------------------------------------------------------------------------
class Reservoir(nn.Module):
    r"""Liquid state machine reservoir (see the module docstring for the equations).

    Args:
        n_inputs: Input features per step.
        n_neurons: Reservoir size ``N`` (for a ``grid`` topology, the grid's size).
        topology: ``"random" | "grid" | "small_world" | "adjacency"`` or a dict
            ``{"kind": ..., **params}``: ``random``: ``p`` (default 0.1); ``grid``:
            ``shape`` (default ``(15, 3, 3)``), ``lam`` (2), ``C`` (MMN 2002);
            ``small_world``: ``k`` (10), ``p_rewire`` (0.1); ``adjacency``: ``adjacency``
            (``[post, pre]`` pattern) or ``weights`` (signed, must obey Dale's law), each an
            array, a SciPy sparse matrix or a path to a ``.npz`` (``scipy.sparse.save_npz``)
            or ``.npy`` file; optional ``excitatory`` mask.
        frac_excitatory, frac_inhibitory: E/I split (default 0.8 / 0.2; must sum to 1).
        weight_scale: Mean weight magnitude per pair type ``{"EE","EI","IE","II"}`` (pre then
            post), one number, ``"balanced"`` (E 1, I ``-n_E/n_I``: zero mean input) or
            ``"mmn2002"`` (30, 60, -19, -19 nA); default ``"mmn2002"`` for the grid topology,
            ``"balanced"`` otherwise. Only ratios matter once ``spectral_radius`` is set.
        weight_distribution, weight_cv: See :func:`eegsnn.nn.topology.dale_weights`.
        spectral_radius: Target spectral radius of ``W`` (None: raw weights).
        delays: Synaptic delays in steps: ``1`` (none), an int, ``[low, high]``, or a dict
            per pair type (see :func:`eegsnn.nn.topology.draw_delays`).
        input_connectivity: Fraction of (neuron, input) pairs connected (default 0.3).
        input_gain: Scale of the input weights (default 1.0, membrane-threshold units).
        input_distribution: ``"uniform"`` (default), ``"normal"``, ``"binary"``, ``"positive"``.
        input_trainable: Let gradients update ``w_in`` (BPTT through the fixed reservoir).
        neuron: An eegsnn neuron module (``Leaky(...)``...) or a spec dict
            ``{"type": "leaky", "beta": 0.95, ...}`` (a neuron config, :mod:`eegsnn.nn.registry`;
            the older ``{"model": "Leaky", ...}`` is read too); default ``Leaky(beta=0.95)``.
        compute: ``"auto"``, ``"dense"``, ``"sparse"`` or ``"host"`` (see module docstring).
        seed: Integer seed; the same config and seed give the same reservoir.

    Example::

        res = Reservoir(n_inputs=16, n_neurons=500, topology={"kind": "grid", "shape": [10, 10, 5]},
                        spectral_radius=0.9, seed=1)
        spikes, state = res(x_seq)           # x_seq [T, B, 16] -> spikes [T, B, 500]
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int | None = 1000,
        *,
        topology: str | Mapping[str, Any] = "random",
        frac_excitatory: float = 0.8,
        frac_inhibitory: float | None = None,
        weight_scale: Mapping[str, float] | float | str | None = None,
        weight_distribution: str = "gamma",
        weight_cv: float = 0.7,
        spectral_radius: float | None = 1.0,
        delays: Any = 1,
        input_connectivity: float = 0.3,
        input_gain: float = 1.0,
        input_distribution: str = "uniform",
        input_trainable: bool = False,
        neuron: nn.Module | Mapping[str, Any] | None = None,
        compute: str = "auto",
        seed: int = 0,
    ) -> None:
        super().__init__()
        n_inputs = graphs._check_n(n_inputs, "n_inputs")
        if compute not in COMPUTE_MODES:
            raise ConfigError(f"unknown compute mode {compute!r}; choose one of "
                              f"{list(COMPUTE_MODES)}")
        graphs._rng(seed)  # validates the seed
        tcfg = {"kind": topology} if isinstance(topology, str) else dict(topology)
        kind = tcfg.pop("kind", "random")
        if kind not in _TOPOLOGY_KEYS:
            raise ConfigError(f"unknown topology {kind!r}; choose one of {list(topo.TOPOLOGIES)}")
        unknown = set(tcfg) - _TOPOLOGY_KEYS[kind]
        if unknown:
            raise ConfigError(f"topology {kind!r} does not take {sorted(unknown)}; it takes "
                              f"{sorted(_TOPOLOGY_KEYS[kind])}")
        build_kwargs: dict[str, Any] = {
            k: _load_matrix(v, k) if k in ("adjacency", "weights") else v
            for k, v in tcfg.items()}
        if kind == "adjacency" and build_kwargs.get("excitatory") is not None:
            build_kwargs["excitatory"] = np.asarray(build_kwargs["excitatory"], dtype=bool)
        if kind == "grid" and "shape" not in build_kwargs and n_neurons is not None:
            if n_neurons != 135:
                raise ConfigError("grid topology needs topology={'kind': 'grid', 'shape': "
                                  f"[nx, ny, nz]}} (n_neurons={n_neurons})")
        ss = np.random.SeedSequence(int(seed))
        rec_seed, in_seed = (np.random.default_rng(s) for s in ss.spawn(2))
        topology_obj = topo.build_topology(
            None if kind in ("grid", "adjacency") else n_neurons,
            kind,
            rec_seed,
            frac_excitatory=frac_excitatory,
            frac_inhibitory=frac_inhibitory,
            weight_scale=weight_scale,
            weight_distribution=weight_distribution,
            weight_cv=weight_cv,
            spectral_radius=spectral_radius,
            delays=delays,
            **build_kwargs,
        )
        object.__setattr__(self, "_topology", topology_obj)
        n = self._topology.n_neurons
        if n_neurons is not None and n != n_neurons:
            raise ConfigError(f"n_neurons={n_neurons} but the {kind} topology has {n} neurons")

        # Neuron model.
        # (an nn.Module is a dict, hence a Mapping: test for modules first)
        if isinstance(neuron, nn.Module) and hasattr(neuron, "init_state"):
            self.neuron = neuron
            spec = _neuron_spec(neuron)
        elif neuron is None or isinstance(neuron, Mapping):
            spec = dict(_DEFAULTS["neuron"] if neuron is None else neuron)
            if "type" not in spec and "model" not in spec:
                spec["type"] = "leaky"
            self.neuron = _neuron_from_spec(spec)
            spec = upgrade_neuron_config(spec)  # older {"model": ...} specs are rewritten
        else:
            raise ConfigError("neuron must be an eegsnn neuron module (with init_state) or a "
                              f"spec dict like {{'type': 'leaky', 'beta': 0.95}}, got {neuron!r}")

        # Input projection (parameter; frozen unless trainable).
        self.w_in = mx.array(build_input_weights(
            n, n_inputs, in_seed, connectivity=input_connectivity, gain=input_gain,
            distribution=input_distribution))
        if not input_trainable:
            self.freeze(keys=["w_in"], recurse=False)

        # Recurrent representation for the chosen compute mode (not parameters).
        self._max_delay = self._topology.max_delay
        density = self._topology.weights.nnz / float(n * n)
        if compute == "auto":
            if not self._has_trainable():
                compute = "host"
            elif n <= _DENSE_MAX_N or density >= _DENSE_MIN_DENSITY:
                compute = "dense"
            else:
                compute = "sparse"
        self._compute = compute
        object.__setattr__(self, "_warned_host", False)
        expanded = _delay_expanded(self._topology.weights, self._topology.delays,
                                   self._max_delay)
        object.__setattr__(self, "_expanded", expanded)
        if compute == "dense":
            self._w_rec_t = mx.array(expanded.T.toarray())  # [D*N, N]
        elif compute == "sparse":
            counts = np.diff(expanded.indptr)
            k_max = max(int(counts.max()), 1)
            idx = np.zeros((n, k_max), dtype=np.int32)
            val = np.zeros((n, k_max), dtype=np.float32)
            slot = np.arange(expanded.nnz) - np.repeat(expanded.indptr[:-1], counts)
            rows = np.repeat(np.arange(n), counts)
            idx[rows, slot] = expanded.indices
            val[rows, slot] = expanded.data
            self._ell_idx = mx.array(idx.reshape(-1))
            self._ell_val = mx.array(val[:, :, None])
            self._ell_k = k_max

        config = {
            "n_inputs": n_inputs,
            "n_neurons": n,
            "topology": {"kind": kind, **tcfg},
            "frac_excitatory": frac_excitatory,
            "frac_inhibitory": frac_inhibitory,
            "weight_scale": None if weight_scale is None else (
                dict(weight_scale) if isinstance(weight_scale, Mapping) else weight_scale),
            "weight_distribution": weight_distribution,
            "weight_cv": weight_cv,
            "spectral_radius": spectral_radius,
            "delays": list(delays) if isinstance(delays, tuple) else delays,
            "input_connectivity": input_connectivity,
            "input_gain": input_gain,
            "input_distribution": input_distribution,
            "input_trainable": bool(input_trainable),
            "neuron": dict(spec),
            "compute": compute,
            "seed": int(seed),
        }
        object.__setattr__(self, "_config", config)

    # -- config ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Reservoir:
        """Build a reservoir from a plain dict (e.g. loaded from YAML).

        Keys are the constructor's arguments (see :class:`Reservoir`); ``n_inputs`` is
        required, everything else has the documented default. Unknown keys are an error.
        """
        if not isinstance(config, Mapping):
            raise ConfigError(f"reservoir config must be a mapping, got {type(config).__name__}")
        unknown = set(config) - set(_DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown reservoir config key(s) {sorted(unknown)}; known keys: "
                              f"{sorted(_DEFAULTS)}")
        if config.get("n_inputs") is None:
            raise ConfigError("reservoir config needs 'n_inputs' (input features per step)")
        cfg = {**copy.deepcopy(_DEFAULTS), **copy.deepcopy(dict(config))}
        n_inputs = cfg.pop("n_inputs")
        n_neurons = cfg.pop("n_neurons")
        delays = cfg.get("delays")
        if isinstance(delays, list):
            cfg["delays"] = tuple(delays)
        return cls(n_inputs, n_neurons, **cfg)

    def to_config(self) -> dict[str, Any]:
        """The plain-dict config that rebuilds this reservoir (``from_config``), with the
        resolved compute mode. Adjacency topologies given as arrays keep the arrays (give a
        file path instead to get a YAML-serialisable config). A neuron passed as a module is
        described by its scalar constructor arguments (model, beta, threshold, reset...);
        per-neuron parameter arrays and custom surrogates are not captured, so pass the
        neuron as a spec dict when the config must rebuild it exactly."""
        return copy.deepcopy(self._config)

    # -- introspection ----------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self._topology.n_neurons

    @property
    def n_inputs(self) -> int:
        return int(self.w_in.shape[1])

    @property
    def compute(self) -> str:
        """The compute mode in use (``"dense"``, ``"sparse"`` or ``"host"``)."""
        return self._compute

    @property
    def topology(self) -> topo.Topology:
        """The :class:`~eegsnn.nn.topology.Topology` (float64 weights, delays, E/I mask)."""
        return self._topology

    @property
    def recurrent_weights(self) -> sp.csr_matrix:
        """float32 CSR ``W[post, pre]`` as used in the simulation."""
        return sp.csr_matrix(self._topology.weights, dtype=np.float32)

    @property
    def excitatory(self) -> np.ndarray:
        """Boolean ``[N]``: True for excitatory neurons."""
        return self._topology.excitatory

    @property
    def delays(self) -> sp.csr_matrix:
        """int32 CSR of synaptic delays in steps (pattern of :attr:`recurrent_weights`)."""
        return self._topology.delays

    @property
    def max_delay(self) -> int:
        return self._max_delay

    def _extra_repr(self) -> str:
        cfg = self._config
        return (f"n_inputs={cfg['n_inputs']}, n_neurons={cfg['n_neurons']}, "
                f"topology={cfg['topology']['kind']!r}, nnz={self._topology.weights.nnz}, "
                f"spectral_radius={cfg['spectral_radius']}, max_delay={self._max_delay}, "
                f"compute={self._compute!r}")

    # -- dynamics ---------------------------------------------------------------------
    def init_state(self, batch_size: int, dtype: mx.Dtype = mx.float32) -> State:
        """Zero state: ``{"neuron": neuron.init_state(B, N), "history": zeros [D, B, N]}``."""
        n = self.n_neurons
        return {
            "neuron": self.neuron.init_state(batch_size, n, dtype=dtype),
            "history": mx.zeros((self._max_delay, int(batch_size), n), dtype=dtype),
        }

    def recurrent_current(self, history: mx.array) -> mx.array:
        """Delayed recurrent input ``sum_d W^(d) s[t-d]``: ``history [D, B, N]`` -> ``[B, N]``."""
        d, b, n = history.shape
        if self._compute == "dense":
            flat = history[0] if d == 1 else history.transpose(1, 0, 2).reshape(b, d * n)
            return flat @ self._w_rec_t
        if self._compute == "sparse":
            flat = history.transpose(0, 2, 1).reshape(d * n, b)  # rows: (delay, pre)
            gathered = mx.take(flat, self._ell_idx, axis=0).reshape(n, self._ell_k, b)
            return (gathered * self._ell_val).sum(axis=1).T
        # host: SciPy CSR on NumPy (outside the autodiff graph)
        flat_host = np.asarray(history.transpose(0, 2, 1).reshape(d * n, b))
        return mx.array(np.ascontiguousarray((self._expanded @ flat_host).T))

    def __call__(
        self, x_seq: mx.array, state: State | None = None
    ) -> tuple[mx.array, State]:
        """Run the reservoir over a time-major input.

        Args:
            x_seq: ``[T, B, n_inputs]`` input (spikes or analog currents).
            state: Initial state (``None``: zeros, see :meth:`init_state`).

        Returns:
            ``(spikes [T, B, N], final_state)``.
        """
        if not isinstance(x_seq, mx.array):
            x_seq = mx.array(np.asarray(x_seq, dtype=np.float32))
        if x_seq.ndim != 3 or x_seq.shape[2] != self.n_inputs:
            raise ConfigError(
                f"Reservoir input must be time-major [T, B, {self.n_inputs}], got shape "
                f"{tuple(x_seq.shape)}"
            )
        t_steps, b = x_seq.shape[0], x_seq.shape[1]
        if state is None:
            state = self.init_state(b, dtype=x_seq.dtype)
        else:
            self._check_state(state, b)
        if self._compute == "host" and not self._warned_host and self._has_trainable():
            object.__setattr__(self, "_warned_host", True)
            warnings.warn(
                "Reservoir(compute='host') has trainable parameters but passes no gradient "
                "through its recurrent connections (SciPy runs outside the autodiff graph); "
                "build it with compute='dense' or 'sparse' to train through the reservoir",
                RuntimeWarning, stacklevel=2)
        current_in = x_seq @ self.w_in.T  # [T, B, N] in one matmul
        spikes = []
        for t in range(t_steps):
            spk, state = reservoir_step(current_in[t], state, recurrent=self.recurrent_current,
                                        neuron=self.neuron)
            spikes.append(spk)
            if self._compute == "host":
                mx.eval(spk, state)
        return mx.stack(spikes), state

    def _has_trainable(self) -> bool:
        return bool(tree_flatten(self.trainable_parameters()))

    def _check_state(self, state: State, batch: int) -> None:
        if not isinstance(state, dict) or "neuron" not in state or "history" not in state:
            raise ConfigError("Reservoir state must be a dict with keys 'neuron' and "
                              "'history' (use Reservoir.init_state)")
        want = (self._max_delay, batch, self.n_neurons)
        if tuple(state["history"].shape) != want:
            raise ConfigError(f"Reservoir state['history'] has shape "
                              f"{tuple(state['history'].shape)}, expected {want} [D, B, N]")

    def check_activity(self, spikes: mx.array, low: float = 1e-3, high: float = 0.5) -> float:
        """Mean firing rate (spikes per neuron per step) of ``spikes [T, B, N]``; warns when
        the reservoir is silent (< ``low``) or saturated (> ``high``) and says what to change.
        """
        return activity.check_activity(spikes, low=low, high=high)

    def measured_spectral_radius(self) -> float:
        """Spectral radius of the float32 recurrent weights actually simulated."""
        return topo.spectral_radius(self.recurrent_weights.astype(np.float64))


def _load_matrix(value: Any, name: str) -> Any:
    """Adjacency/weights given as a file path: ``.npz`` (SciPy sparse) or ``.npy``."""
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise ConfigError(f"topology {name} file {path} does not exist")
        try:
            if path.suffix == ".npz":
                return sp.load_npz(path)
            if path.suffix == ".npy":
                return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ConfigError(f"cannot read topology {name} file {path}: {exc}") from None
        raise ConfigError(f"topology {name} file {path} must be .npz (scipy.sparse.save_npz) "
                          "or .npy")
    return value
