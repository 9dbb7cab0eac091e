r"""Reservoir synapses: Dale's-law weights, transmission delays, spectral radius and its
rescaling, and connection statistics, on the ``W[post, pre]`` sparse matrices of
:mod:`eegsnn.nn.graphs` (whose docstring states the conventions).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from eegsnn.errors import ConfigError
from eegsnn.nn.graphs import (
    MMN2002_WEIGHT,
    _canonical,
    _check_excitatory,
    _pair_dict,
    _pair_table,
    _rng,
    _type_index,
    validate_adjacency,
)

__all__ = [
    "check_dale",
    "connection_stats",
    "dale_weights",
    "draw_delays",
    "scale_to_spectral_radius",
    "spectral_radius",
]

# Dense eigenvalues up to this size, ARPACK above.
_DENSE_EIG_MAX_N = 500


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
