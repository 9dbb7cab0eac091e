r"""Recurrent connectivity for reservoirs (liquid state machines): the one-call builder
:func:`build_topology` and its result :class:`Topology`.

The parts live in :mod:`eegsnn.nn.graphs` (populations, adjacency builders; its docstring
states the conventions and the topologies) and :mod:`eegsnn.nn.synapses` (weights, delays,
spectral radius, statistics); every public name of both is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from eegsnn.errors import ConfigError
from eegsnn.nn.graphs import (
    MMN2002_C,
    MMN2002_DELAY_MS,
    MMN2002_LAMBDA,
    MMN2002_WEIGHT,
    PAIR_TYPES,
    TOPOLOGIES,
    _canonical,
    _check_excitatory,
    _check_n,
    _rng,
    excitatory_mask,
    grid_adjacency,
    grid_positions,
    random_adjacency,
    small_world_adjacency,
    validate_adjacency,
)
from eegsnn.nn.synapses import (
    check_dale,
    connection_stats,
    dale_weights,
    draw_delays,
    scale_to_spectral_radius,
    spectral_radius,
)

__all__ = [
    "MMN2002_C",
    "MMN2002_DELAY_MS",
    "MMN2002_LAMBDA",
    "MMN2002_WEIGHT",
    "PAIR_TYPES",
    "TOPOLOGIES",
    "Topology",
    "build_topology",
    "check_dale",
    "connection_stats",
    "dale_weights",
    "draw_delays",
    "excitatory_mask",
    "grid_adjacency",
    "grid_positions",
    "random_adjacency",
    "scale_to_spectral_radius",
    "small_world_adjacency",
    "spectral_radius",
    "validate_adjacency",
]


# --------------------------------------------------------------------------------------
# one-call builder
# --------------------------------------------------------------------------------------
@dataclass
class Topology:
    """A complete recurrent connectivity.

    Attributes:
        weights: float64 CSR ``W[post, pre]`` (Dale's law holds column-wise).
        excitatory: Boolean ``[n]``, True for excitatory neurons.
        delays: int32 CSR with the pattern of ``weights`` (time steps, >= 1).
        positions: ``[n, 3]`` grid coordinates for the ``grid`` topology, else None.
        radius_before: Spectral radius of the raw weights before rescaling (None if not
            rescaled).
        spectral_radius: Spectral radius after rescaling (None if not rescaled).
        params: The arguments that built it (for reports).
    """

    weights: sp.csr_matrix
    excitatory: np.ndarray
    delays: sp.csr_matrix
    positions: np.ndarray | None = None
    radius_before: float | None = None
    spectral_radius: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_neurons(self) -> int:
        return int(self.weights.shape[0])

    @property
    def max_delay(self) -> int:
        return int(self.delays.data.max()) if self.delays.nnz else 1


def build_topology(
    n_neurons: int | None = None,
    kind: str = "random",
    seed: int | np.random.Generator | None = 0,
    *,
    frac_excitatory: float = 0.8,
    frac_inhibitory: float | None = None,
    p: float = 0.1,
    shape: tuple[int, int, int] | list[int] | None = None,
    lam: float = MMN2002_LAMBDA,
    C: Mapping[str, float] | float | None = None,
    k: int = 10,
    p_rewire: float = 0.1,
    adjacency: Any = None,
    weights: Any = None,
    excitatory: np.ndarray | None = None,
    weight_scale: Mapping[str, float] | float | str | None = None,
    weight_distribution: str = "gamma",
    weight_cv: float = 0.7,
    spectral_radius: float | None = 1.0,
    delays: Any = 1,
) -> Topology:
    """Build E/I populations, connectivity, Dale's-law weights, delays, and rescale.

    The random draws happen in a fixed order from one generator seeded by ``seed``
    (E/I assignment, adjacency, weights, delays), so the same arguments give the same
    topology.

    Args:
        n_neurons: Population size (for ``grid`` it must equal ``prod(shape)`` if given).
        kind: ``"random"`` (uses ``p``), ``"grid"`` (``shape``, ``lam``, ``C``),
            ``"small_world"`` (``k``, ``p_rewire``) or ``"adjacency"`` (``adjacency``, or
            ``weights`` to supply signed weights directly).
        frac_excitatory / frac_inhibitory: E/I split (default 80/20).
        excitatory: Optional explicit boolean type mask (overrides the fractions).
        weight_scale / weight_distribution / weight_cv: see :func:`dale_weights`. The
            default (None) is ``"mmn2002"`` for the ``grid`` topology (Maass et al. 2002)
            and ``"balanced"`` for the others.
        spectral_radius: Target spectral radius of ``W``; None keeps the raw weights.
        delays: see :func:`draw_delays`.
    """
    if kind not in TOPOLOGIES:
        raise ConfigError(f"unknown topology {kind!r}; choose one of {list(TOPOLOGIES)}")
    rng = _rng(seed)
    positions = None
    if kind == "grid":
        if shape is None:
            if n_neurons is None:
                shape = (15, 3, 3)
            else:
                raise ConfigError("grid topology needs shape=(nx, ny, nz)")
        positions = grid_positions(shape)
        if n_neurons is not None and int(n_neurons) != positions.shape[0]:
            raise ConfigError(f"n_neurons={n_neurons} but grid shape {tuple(shape)} has "
                              f"{positions.shape[0]} points")
        n_neurons = positions.shape[0]
    elif kind == "adjacency":
        src = weights if weights is not None else adjacency
        if src is None:
            raise ConfigError("topology 'adjacency' needs adjacency= (pattern) or weights=")
        n_src = src.shape[0]
        if n_neurons is not None and int(n_neurons) != n_src:
            raise ConfigError(f"n_neurons={n_neurons} but the adjacency has {n_src} neurons")
        n_neurons = n_src
    n = _check_n(n_neurons)

    if excitatory is None:
        exc = excitatory_mask(n, frac_excitatory, rng, frac_inhibitory=frac_inhibitory)
    else:
        exc = _check_excitatory(excitatory, n)

    if kind == "random":
        adj = random_adjacency(n, p, rng)
    elif kind == "grid":
        assert shape is not None  # filled in (or refused) above
        adj = grid_adjacency(shape, exc, rng, lam=lam, C=C)
    elif kind == "small_world":
        adj = small_world_adjacency(n, k, p_rewire, rng)
    else:
        adj = validate_adjacency(weights if weights is not None else adjacency, n)
    if adj.nnz == 0:
        raise ConfigError(f"the {kind} topology has no connections with these parameters "
                          f"(n_neurons={n}); raise the connection probability")

    if weights is not None:
        W = _canonical(sp.csr_matrix(weights, dtype=np.float64))
        W.eliminate_zeros()
        check_dale(W, exc)
    else:
        if weight_scale is None:
            weight_scale = "mmn2002" if kind == "grid" else "balanced"
        W = dale_weights(adj, exc, rng, scale=weight_scale, distribution=weight_distribution,
                         cv=weight_cv)
    D = draw_delays(W, exc, delays, rng)

    rho_before = rho_after = None
    if spectral_radius is not None:
        W, rho_before = scale_to_spectral_radius(W, spectral_radius)
        rho_after = float(spectral_radius)
    params = {"kind": kind, "n_neurons": n}
    return Topology(weights=W, excitatory=exc, delays=D, positions=positions,
                    radius_before=rho_before, spectral_radius=rho_after, params=params)
