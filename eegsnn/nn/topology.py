r"""Recurrent connectivity for reservoirs (liquid state machines): pure NumPy/SciPy builders.

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

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from eegsnn.errors import ConfigError

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
# Dense eigenvalues up to this size, ARPACK above.
_DENSE_EIG_MAX_N = 500


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


# --------------------------------------------------------------------------------------
# weights, delays, spectral radius
# --------------------------------------------------------------------------------------
def dale_weights(
    adjacency: sp.spmatrix,
    excitatory: np.ndarray,
    seed: int | np.random.Generator | None = 0,
    *,
    scale: Mapping[str, float] | float | str | None = None,
    distribution: str = "gamma",
    cv: float = 0.7,
) -> sp.csr_matrix:
    r"""Draw weights on an adjacency, obeying Dale's law.

    ``W[post, pre] = sign(pre) * |A_{XY}| * xi`` with ``XY`` the pre/post pair type,
    ``sign = +1`` for excitatory and ``-1`` for inhibitory ``pre``, and ``xi >= 0`` a random
    factor with mean 1:

    * ``"gamma"``: Gamma with mean 1 and coefficient of variation ``cv`` (shape ``1/cv^2``);
    * ``"lognormal"``: log-normal with mean 1 and coefficient of variation ``cv``;
    * ``"uniform"``: uniform on ``[0, 2]``;
    * ``"constant"``: 1.

    Args:
        adjacency: ``[post, pre]`` connection pattern.
        excitatory: Boolean ``[n]`` type mask.
        scale: Mean magnitudes per pair type (or one number), ``"mmn2002"`` (the default,
            :data:`MMN2002_WEIGHT`) or ``"balanced"`` (E: 1, I: ``-n_E/n_I``, so that the
            expected input from a uniformly active population is zero). A sign, if given,
            must agree with Dale's law (negative only for ``IE``/``II``).
        distribution: See above.
        cv: Coefficient of variation for ``"gamma"`` and ``"lognormal"``.

    Returns:
        float64 CSR with the sparsity of ``adjacency``.
    """
    adj = validate_adjacency(adjacency)
    n = adj.shape[0]
    exc = _check_excitatory(excitatory, n)
    if scale is None or (isinstance(scale, str) and scale == "mmn2002"):
        scale = MMN2002_WEIGHT
    elif isinstance(scale, str) and scale == "balanced":
        n_e, n_i = int(exc.sum()), int((~exc).sum())
        g = n_e / n_i if n_i else 1.0
        scale = {"EE": 1.0, "EI": 1.0, "IE": -g, "II": -g}
    elif isinstance(scale, str):
        raise ConfigError(f"unknown weight scale {scale!r}; give 'balanced', 'mmn2002', a "
                          "number or a mapping {'EE', 'EI', 'IE', 'II'}")
    amp = _pair_dict(scale, "weight scale")
    for key, value in amp.items():
        if key[0] == "E" and value < 0:
            raise ConfigError(f"weight scale[{key!r}]={value} is negative, but {key} synapses "
                              "come from excitatory neurons (Dale's law)")
        if key[0] == "I" and value > 0 and isinstance(scale, Mapping):
            raise ConfigError(f"weight scale[{key!r}]={value} is positive, but {key} synapses "
                              "come from inhibitory neurons (Dale's law); give its magnitude "
                              "with a minus sign")
    table = np.abs(_pair_table(amp))
    types = _type_index(exc)
    rng = _rng(seed)
    coo = adj.tocoo()
    post, pre = coo.row, coo.col
    mean = table[types[pre], types[post]]
    m = pre.size
    if distribution == "gamma":
        cv = float(cv)
        if cv <= 0:
            raise ConfigError(f"cv must be positive for a gamma distribution, got {cv}")
        shape = 1.0 / cv**2
        xi = rng.gamma(shape, 1.0 / shape, size=m)
    elif distribution == "lognormal":
        cv = float(cv)
        if cv <= 0:
            raise ConfigError(f"cv must be positive for a lognormal distribution, got {cv}")
        sigma2 = np.log1p(cv**2)
        xi = rng.lognormal(-sigma2 / 2.0, np.sqrt(sigma2), size=m)
    elif distribution == "uniform":
        xi = rng.uniform(0.0, 2.0, size=m)
    elif distribution == "constant":
        xi = np.ones(m)
    else:
        raise ConfigError(f"unknown weight distribution {distribution!r}; choose one of "
                          "'gamma', 'lognormal', 'uniform', 'constant'")
    sign = np.where(exc[pre], 1.0, -1.0)
    vals = sign * mean * xi
    # A zero magnitude (e.g. scale["II"] = 0) removes those connections.
    keep = vals != 0
    out = sp.csr_matrix((vals[keep], (post[keep], pre[keep])), shape=(n, n))
    return _canonical(out)


def check_dale(weights: sp.spmatrix, excitatory: np.ndarray) -> None:
    """Raise :class:`ConfigError` if a column of ``W[post, pre]`` violates Dale's law."""
    W = sp.csc_matrix(weights)
    exc = _check_excitatory(excitatory, W.shape[1])
    pre = np.repeat(np.arange(W.shape[1]), np.diff(W.indptr))
    bad_e = (W.data < 0) & exc[pre]
    bad_i = (W.data > 0) & ~exc[pre]
    if bad_e.any() or bad_i.any():
        nb_e = np.unique(pre[bad_e]).size
        nb_i = np.unique(pre[bad_i]).size
        raise ConfigError(
            f"weights violate Dale's law: {nb_e} excitatory neuron(s) with negative and {nb_i} "
            "inhibitory neuron(s) with positive outgoing weights (columns of W[post, pre])"
        )


def draw_delays(
    adjacency: sp.spmatrix,
    excitatory: np.ndarray,
    delays: Any = 1,
    seed: int | np.random.Generator | None = 0,
) -> sp.csr_matrix:
    """Integer synaptic delays in time steps, one per connection.

    A spike emitted by ``pre`` at step ``t`` reaches ``post`` at step ``t + d`` (``d >= 1``;
    ``d = 1`` is the usual one-step recurrent delay).

    Args:
        adjacency: ``[post, pre]`` pattern (or the weight matrix).
        excitatory: Boolean ``[n]`` type mask.
        delays: ``int`` (all the same), ``(low, high)`` (uniform integers, both inclusive),
            ``{"EE", "EI", "IE", "II"}`` (per pair type), or a sparse/dense int matrix with
            the same pattern as ``adjacency``.

    Returns:
        int32 CSR with exactly the sparsity pattern of ``adjacency``.
    """
    adj = validate_adjacency(adjacency)
    n = adj.shape[0]
    exc = _check_excitatory(excitatory, n)
    coo = adj.tocoo()
    post, pre = coo.row, coo.col
    if isinstance(delays, Mapping):
        per = _pair_dict(delays, "delays")
        table = _pair_table(per)
        types = _type_index(exc)
        d = table[types[pre], types[post]]
    elif sp.issparse(delays) or (isinstance(delays, np.ndarray) and delays.ndim == 2):
        dm = sp.csr_matrix(delays)
        if dm.shape != adj.shape:
            raise ConfigError(f"delay matrix shape {dm.shape} != adjacency shape {adj.shape}")
        d = np.asarray(dm[post, pre]).ravel()
        if np.any(d == 0):
            raise ConfigError("delay matrix lacks an entry (or has 0) for some connections")
    elif isinstance(delays, (tuple, list)) and len(delays) == 2:
        lo, hi = (int(v) for v in delays)
        if lo < 1 or hi < lo:
            raise ConfigError(f"delay range must satisfy 1 <= low <= high, got {delays!r}")
        d = _rng(seed).integers(lo, hi + 1, size=pre.size)
    else:
        try:
            d = np.full(pre.size, int(delays))
        except (TypeError, ValueError):
            raise ConfigError(f"delays must be an int, (low, high), a pair-type mapping or a "
                              f"matrix, got {delays!r}") from None
    d = np.asarray(d)
    if d.size and (np.any(d != np.round(d)) or d.min() < 1):
        raise ConfigError("delays must be integers >= 1 (in time steps)")
    out = sp.csr_matrix((d.astype(np.int32), (post, pre)), shape=adj.shape)
    return _canonical(out)


def spectral_radius(weights: Any, method: str = "auto") -> float:
    """Largest eigenvalue magnitude of a square matrix.

    Args:
        weights: Dense or sparse square matrix.
        method: ``"dense"`` (``numpy.linalg.eigvals``, exact, O(n^3)), ``"arpack"``
            (``scipy.sparse.linalg.eigs`` with ``which="LM"``) or ``"auto"`` (dense up to
            500 neurons, ARPACK above, falling back to dense if ARPACK does not converge).
    """
    n = weights.shape[0]
    if weights.shape != (n, n):
        raise ConfigError(f"spectral radius needs a square matrix, got shape {weights.shape}")
    if method not in ("auto", "dense", "arpack"):
        raise ConfigError(f"method must be 'auto', 'dense' or 'arpack', got {method!r}")
    if method == "dense" or (method == "auto" and n <= _DENSE_EIG_MAX_N) or n < 3:
        dense = weights.toarray() if sp.issparse(weights) else np.asarray(weights)
        return float(np.max(np.abs(np.linalg.eigvals(dense.astype(np.float64)))))
    mat = sp.csr_matrix(weights, dtype=np.float64)
    try:
        vals = spla.eigs(mat, k=min(4, n - 2), which="LM", return_eigenvectors=False,
                         tol=1e-12, maxiter=max(5000, 20 * n), ncv=min(n - 1, 40))
        return float(np.max(np.abs(vals)))
    except spla.ArpackNoConvergence:
        if method == "arpack" or n > 8000:
            raise
        warnings.warn(f"ARPACK did not converge for n={n}; using dense eigenvalues",
                      RuntimeWarning, stacklevel=2)
        return spectral_radius(weights, method="dense")


def scale_to_spectral_radius(
    weights: sp.spmatrix, target: float, method: str = "auto"
) -> tuple[sp.csr_matrix, float]:
    """Rescale ``weights`` so that their spectral radius equals ``target``.

    Returns:
        ``(scaled_weights, radius_before)``.

    Raises:
        ConfigError: ``target`` not positive, or a (numerically) nilpotent matrix whose
            spectral radius is 0 and cannot be rescaled (e.g. a feed-forward adjacency).
    """
    target = float(target)
    if not np.isfinite(target) or target <= 0:
        raise ConfigError(f"spectral_radius must be a positive number, got {target!r}")
    W = sp.csr_matrix(weights, dtype=np.float64)
    rho = spectral_radius(W, method=method)
    max_abs = np.abs(W.data).max() if W.nnz else 0.0
    if rho <= 1e-9 * max(max_abs, 1e-300):
        raise ConfigError(
            "the recurrent weights have spectral radius 0 (no recurrent loops, e.g. a "
            "feed-forward adjacency); set spectral_radius=None to keep the raw weights"
        )
    return _canonical(W * (target / rho)), rho


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
def connection_stats(
    adjacency: sp.spmatrix, excitatory: np.ndarray, *, allow_self: bool = False
) -> dict[str, dict[str, float]]:
    """Observed connection counts and probabilities per pair type (pre then post).

    Returns:
        ``{"EE": {"count", "possible", "p"}, ..., "all": {...}}`` where ``possible`` counts
        ordered pairs (excluding self-pairs unless ``allow_self``).
    """
    adj = validate_adjacency(adjacency)
    n = adj.shape[0]
    exc = _check_excitatory(excitatory, n)
    coo = adj.tocoo()
    types = _type_index(exc)
    counts = np.zeros((2, 2))
    np.add.at(counts, (types[coo.col], types[coo.row]), 1)
    n_t = np.array([exc.sum(), (~exc).sum()], dtype=float)
    out: dict[str, dict[str, float]] = {}
    for a, ta in enumerate("EI"):
        for b, tb in enumerate("EI"):
            possible = n_t[a] * n_t[b] - (0 if allow_self or a != b else n_t[a])
            c = counts[a, b]
            out[ta + tb] = {"count": float(c), "possible": float(possible),
                            "p": float(c / possible) if possible else float("nan")}
    possible = n * n - (0 if allow_self else n)
    out["all"] = {"count": float(adj.nnz), "possible": float(possible),
                  "p": float(adj.nnz / possible) if possible else float("nan")}
    return out


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
