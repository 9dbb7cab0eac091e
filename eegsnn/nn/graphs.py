r"""Reservoir graphs: populations (excitatory/inhibitory, grid positions) and adjacency builders
(pure NumPy/SciPy). Weights, delays and spectral scaling are in :mod:`eegsnn.nn.synapses`; the
one-call builder :func:`eegsnn.nn.topology.build_topology` combines them.

Conventions used throughout this module
---------------------------------------
* Every matrix is indexed ``W[post, pre]``: row ``i`` holds the synapses *onto* neuron ``i``,
  column ``j`` the synapses *from* neuron ``j``. The recurrent input current of a population
  with spike vector ``s`` (shape ``[N]``) is therefore ``W @ s`` (``s @ W.T`` for a batch
  ``[B, N]``), the same orientation as an ``mlx.nn.Linear`` weight ``[out, in]``.
* Matrices are ``scipy.sparse.csr_matrix`` in canonical form (sorted indices, no duplicates).
  Adjacency matrices are boolean; weight matrices float64; delay matrices int32 with exactly
  the sparsity pattern of the weights they belong to.
* Pair types are written *pre* then *post*, as in Maass, Natschläger & Markram (2002):
  ``"EI"`` is a connection **from** an excitatory **to** an inhibitory neuron.
* Dale's law: the outgoing weights of a neuron share one sign, positive for excitatory and
  negative for inhibitory neurons, i.e. every *column* of ``W`` has a single sign.
* Randomness comes only from the ``numpy.random.Generator`` (or integer seed) passed in, so a
  seed fully determines a topology.

Topologies
----------
``random``       Erdős–Rényi: each ordered pair ``(pre, post)``, ``pre != post``, is connected
                 independently with probability ``p``.
``grid``         Neurons on the integer points of a 3-D grid (Maass et al. 2002); a pair is
                 connected with probability :math:`C_{XY}\,\exp(-(D(a,b)/\lambda)^2)`, ``D`` the
                 Euclidean distance, ``C`` depending on the pre/post types ``X, Y``.
``small_world``  Directed Watts–Strogatz: every neuron projects to its ``k`` nearest
                 neighbours on a ring (``k/2`` on each side); each of these edges has its target
                 rewired with probability ``p_rewire`` to a uniformly chosen new target
                 (no self-connections, no duplicates), so the out-degree stays exactly ``k``.
``adjacency``    A user-supplied ``[post, pre]`` adjacency (dense or sparse, boolean or 0/1).

References
----------
W. Maass, T. Natschläger, H. Markram (2002). Real-time computing without stable states: a new
framework for neural computation based on perturbations. Neural Computation 14(11):2531-2560.
D. J. Watts, S. H. Strogatz (1998). Collective dynamics of 'small-world' networks.
Nature 393:440-442.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from eegsnn.errors import ConfigError

__all__ = [
    "MMN2002_C",
    "MMN2002_DELAY_MS",
    "MMN2002_LAMBDA",
    "MMN2002_WEIGHT",
    "PAIR_TYPES",
    "TOPOLOGIES",
    "excitatory_mask",
    "grid_adjacency",
    "grid_positions",
    "random_adjacency",
    "small_world_adjacency",
    "validate_adjacency",
]

PAIR_TYPES = ("EE", "EI", "IE", "II")
TOPOLOGIES = ("random", "grid", "small_world", "adjacency")

#: Connection-probability scale C per pre/post type pair (Maass et al. 2002).
MMN2002_C: dict[str, float] = {"EE": 0.3, "EI": 0.2, "IE": 0.4, "II": 0.1}
#: Length constant lambda of the distance dependence, in grid units (Maass et al. 2002).
MMN2002_LAMBDA = 2.0
#: Mean synaptic amplitudes A in nA per pair type (Maass et al. 2002); the sign is Dale's.
MMN2002_WEIGHT: dict[str, float] = {"EE": 30.0, "EI": 60.0, "IE": -19.0, "II": -19.0}
#: Transmission delays in ms per pair type (Maass et al. 2002).
MMN2002_DELAY_MS: dict[str, float] = {"EE": 1.5, "EI": 0.8, "IE": 0.8, "II": 0.8}

# Generate random matrices in row blocks of at most this many entries (bounded memory).
_BLOCK_ENTRIES = 1 << 22


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ConfigError("a seed (int) or numpy.random.Generator is required: reservoirs "
                          "must be reproducible")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_n(n: Any, name: str = "n_neurons") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _check_prob(p: Any, name: str) -> float:
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a probability in [0, 1], got {p!r}") from None
    if not np.isfinite(value) or value < 0.0 or value > 1.0:
        raise ConfigError(f"{name} must be a probability in [0, 1], got {p!r}")
    return value


def _pair_dict(values: Mapping[str, float] | float, name: str) -> dict[str, float]:
    """Expand a scalar to all four pair types, or validate a ``{"EE":..., ...}`` mapping."""
    if isinstance(values, Mapping):
        unknown = set(values) - set(PAIR_TYPES)
        missing = set(PAIR_TYPES) - set(values)
        if unknown or missing:
            raise ConfigError(
                f"{name} must have exactly the keys {list(PAIR_TYPES)} (pre then post type); "
                f"unknown {sorted(unknown)}, missing {sorted(missing)}"
            )
        out = {k: float(values[k]) for k in PAIR_TYPES}
    else:
        try:
            out = dict.fromkeys(PAIR_TYPES, float(values))
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number or a mapping of pair types, "
                              f"got {values!r}") from None
    if not all(np.isfinite(v) for v in out.values()):
        raise ConfigError(f"{name} must be finite, got {out}")
    return out


def _canonical(mat: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(mat)
    out.sum_duplicates()
    out.sort_indices()
    return out


def _type_index(excitatory: np.ndarray) -> np.ndarray:
    """0 for excitatory, 1 for inhibitory neurons."""
    return np.where(excitatory, 0, 1).astype(np.int64)


def _pair_table(values: Mapping[str, float]) -> np.ndarray:
    """``table[type_pre, type_post]`` with type 0 = E, 1 = I."""
    return np.array([[values["EE"], values["EI"]], [values["IE"], values["II"]]], dtype=float)


def _check_excitatory(excitatory: Any, n: int) -> np.ndarray:
    exc = np.asarray(excitatory)
    if exc.shape != (n,) or exc.dtype != bool:
        raise ConfigError(f"excitatory must be a boolean array of shape ({n},), "
                          f"got dtype {exc.dtype} shape {exc.shape}")
    return exc


# --------------------------------------------------------------------------------------
# populations
# --------------------------------------------------------------------------------------
def excitatory_mask(
    n: int,
    frac_excitatory: float = 0.8,
    seed: int | np.random.Generator | None = 0,
    *,
    frac_inhibitory: float | None = None,
) -> np.ndarray:
    """Choose which neurons are excitatory.

    Exactly ``round(frac_excitatory * n)`` neurons, chosen uniformly at random (a random
    permutation), are excitatory; the rest are inhibitory.

    Args:
        n: Number of neurons.
        frac_excitatory: Fraction of excitatory neurons, in [0, 1] (default 0.8, i.e. 80/20).
        seed: Integer seed or ``numpy.random.Generator``.
        frac_inhibitory: Optional; if given, ``frac_excitatory + frac_inhibitory`` must be 1.

    Returns:
        Boolean array ``[n]``, True for excitatory neurons.

    Raises:
        ConfigError: A fraction outside [0, 1], or fractions that do not sum to one.
    """
    n = _check_n(n)
    fe = _check_prob(frac_excitatory, "frac_excitatory")
    if frac_inhibitory is not None:
        fi = _check_prob(frac_inhibitory, "frac_inhibitory")
        if abs(fe + fi - 1.0) > 1e-9:
            raise ConfigError(
                f"frac_excitatory ({fe}) + frac_inhibitory ({fi}) = {fe + fi:g}, but the "
                "excitatory and inhibitory fractions must sum to one"
            )
    n_exc = round(fe * n)
    rng = _rng(seed)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_exc]] = True
    return mask


def grid_positions(shape: tuple[int, int, int] | list[int]) -> np.ndarray:
    """Integer coordinates of the points of a 3-D grid, in C order.

    Args:
        shape: Grid size ``(nx, ny, nz)``; Maass et al. (2002) used ``(15, 3, 3)``.

    Returns:
        float64 array ``[nx * ny * nz, 3]``; neuron ``i`` sits at ``positions[i]``.
    """
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"grid shape must be three positive integers, got {shape!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise ConfigError(f"grid shape must be three positive integers, got {shape!r}")
    idx = np.indices(dims).reshape(3, -1).T
    return idx.astype(np.float64)


# --------------------------------------------------------------------------------------
# adjacency builders ([post, pre], boolean CSR)
# --------------------------------------------------------------------------------------
def _bernoulli_rows(
    n: int, rng: np.random.Generator, prob_rows
) -> sp.csr_matrix:
    """Sample a boolean matrix row block by row block; ``prob_rows(r0, r1)`` -> [r1-r0, n]."""
    block = max(1, _BLOCK_ENTRIES // n)
    rows_all, cols_all = [], []
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        prob = prob_rows(r0, r1)
        hit = rng.random((r1 - r0, n)) < prob
        rows, cols = np.nonzero(hit)
        rows_all.append(rows + r0)
        cols_all.append(cols)
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    data = np.ones(rows.size, dtype=bool)
    return _canonical(sp.csr_matrix((data, (rows, cols)), shape=(n, n)))


def random_adjacency(
    n: int, p: float, seed: int | np.random.Generator | None = 0, *, allow_self: bool = False
) -> sp.csr_matrix:
    """Sparse random (Erdős–Rényi) adjacency ``A[post, pre]``.

    Each ordered pair is connected independently with probability ``p``; self-connections
    only if ``allow_self``. Memory stays O(nnz): rows are sampled in blocks.

    Returns:
        Boolean CSR ``[n, n]``. Expected number of connections ``p * n * (n - 1)``.
    """
    n = _check_n(n)
    p = _check_prob(p, "p (connection probability)")
    rng = _rng(seed)

    def prob_rows(r0: int, r1: int) -> np.ndarray:
        prob = np.full((r1 - r0, n), p)
        if not allow_self:
            r = np.arange(r0, r1)
            prob[r - r0, r] = 0.0
        return prob

    return _bernoulli_rows(n, rng, prob_rows)


def grid_adjacency(
    shape: tuple[int, int, int] | list[int],
    excitatory: np.ndarray,
    seed: int | np.random.Generator | None = 0,
    *,
    lam: float = MMN2002_LAMBDA,
    C: Mapping[str, float] | float | None = None,
) -> sp.csr_matrix:
    r"""Distance-dependent adjacency on a 3-D grid (Maass, Natschläger & Markram 2002).

    Neurons ``a`` (pre) and ``b`` (post) at grid points with Euclidean distance ``D(a, b)``
    are connected with probability

    .. math:: P(a \to b) = C_{XY} \exp\big(-(D(a,b)/\lambda)^2\big),

    where ``X, Y`` are the types (E/I) of ``a`` and ``b``; no self-connections.

    Args:
        shape: Grid size ``(nx, ny, nz)``; ``n = nx * ny * nz`` neurons in C order.
        excitatory: Boolean ``[n]`` type mask (see :func:`excitatory_mask`).
        seed: Integer seed or generator.
        lam: Length constant lambda in grid units (default 2).
        C: ``{"EE", "EI", "IE", "II"}`` scales (pre then post); default :data:`MMN2002_C`.

    Returns:
        Boolean CSR ``[n, n]`` (``[post, pre]``).
    """
    pos = grid_positions(shape)
    n = pos.shape[0]
    exc = _check_excitatory(excitatory, n)
    lam = float(lam)
    if not np.isfinite(lam) or lam <= 0:
        raise ConfigError(f"lambda (length constant) must be positive, got {lam!r}")
    c = _pair_dict(MMN2002_C if C is None else C, "C (grid connection scales)")
    for key, value in c.items():
        _check_prob(value, f"C[{key!r}]")
    table = _pair_table(c)
    types = _type_index(exc)
    rng = _rng(seed)

    def prob_rows(r0: int, r1: int) -> np.ndarray:
        post = np.arange(r0, r1)
        d2 = ((pos[post, None, :] - pos[None, :, :]) ** 2).sum(-1)
        prob = table[types[None, :], types[post, None]] * np.exp(-d2 / lam**2)
        prob[post - r0, post] = 0.0
        return prob

    return _bernoulli_rows(n, rng, prob_rows)


def small_world_adjacency(
    n: int, k: int, p_rewire: float, seed: int | np.random.Generator | None = 0
) -> sp.csr_matrix:
    """Directed Watts–Strogatz small-world adjacency ``A[post, pre]``.

    Neuron ``j`` first projects to ``j ± 1, ..., j ± k/2`` (mod ``n``). Each of these
    ``n * k`` edges independently keeps its target with probability ``1 - p_rewire`` and is
    otherwise given a new target drawn uniformly from the neurons that ``j`` does not already
    project to (and not ``j`` itself). Every neuron keeps out-degree exactly ``k``.

    Args:
        n: Number of neurons.
        k: Out-degree, an even integer with ``2 <= k < n``.
        p_rewire: Rewiring probability in [0, 1] (0: ring lattice, 1: random out-targets).

    Returns:
        Boolean CSR ``[n, n]``.
    """
    n = _check_n(n)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2 or k % 2 or k >= n:
        raise ConfigError(
            f"small_world k (out-degree) must be an even integer with 2 <= k < n_neurons={n}, "
            f"got {k!r}"
        )
    k = int(k)
    p_rewire = _check_prob(p_rewire, "p_rewire")
    rng = _rng(seed)
    offsets = np.concatenate([np.arange(1, k // 2 + 1), -np.arange(1, k // 2 + 1)])
    targets = (np.arange(n)[:, None] + offsets[None, :]) % n  # [pre, k]
    rewire = rng.random((n, k)) < p_rewire
    for pre in np.flatnonzero(rewire.any(axis=1)):
        row = targets[pre]
        mask = rewire[pre]
        taken = np.zeros(n, dtype=bool)
        taken[row[~mask]] = True
        taken[pre] = True
        # Sequential rewiring: each new target is drawn among neurons not yet targeted.
        for slot in np.flatnonzero(mask):
            free = np.flatnonzero(~taken)
            new = free[rng.integers(free.size)]
            row[slot] = new
            taken[new] = True
    pre_idx = np.repeat(np.arange(n), k)
    post_idx = targets.reshape(-1)
    data = np.ones(pre_idx.size, dtype=bool)
    return _canonical(sp.csr_matrix((data, (post_idx, pre_idx)), shape=(n, n)))


def validate_adjacency(adjacency: Any, n: int | None = None) -> sp.csr_matrix:
    """Check and convert a user-supplied adjacency (``[post, pre]``) to boolean CSR.

    Accepts a dense array or a SciPy sparse matrix whose nonzero entries mark connections
    (booleans, 0/1 or signed weights: only the pattern is used here).

    Raises:
        ConfigError: Not square, wrong size, non-finite values, or no connections at all.
    """
    if sp.issparse(adjacency):
        mat = sp.csr_matrix(adjacency)
    else:
        try:
            arr = np.asarray(adjacency)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise ConfigError(f"adjacency must be an array or sparse matrix: {exc}") from None
        if arr.ndim != 2:
            raise ConfigError(f"adjacency must be a 2-D [post, pre] matrix, got shape {arr.shape}")
        mat = sp.csr_matrix(arr)
    if mat.shape[0] != mat.shape[1]:
        raise ConfigError(f"adjacency must be square [post, pre], got shape {mat.shape}")
    if n is not None and mat.shape[0] != n:
        raise ConfigError(f"adjacency has {mat.shape[0]} neurons but n_neurons={n}")
    if mat.dtype != bool and not np.all(np.isfinite(mat.data)):
        raise ConfigError("adjacency contains NaN or infinite entries")
    mat.eliminate_zeros()
    out = _canonical(mat).astype(bool)
    if out.nnz == 0:
        raise ConfigError("adjacency has no connections (all entries are zero)")
    return out
