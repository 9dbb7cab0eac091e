"""Reservoir topologies: Dale's law, spectral radius, connection statistics, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from eegsnn.errors import ConfigError
from eegsnn.nn import topology as T


def _within(observed: float, expected: float, var: float, k: float = 5.0) -> bool:
    return abs(observed - expected) <= k * np.sqrt(var) + 1e-9


# -- populations ------------------------------------------------------------------------
def test_excitatory_mask_exact_count_and_seeded():
    m = T.excitatory_mask(1000, 0.8, seed=3)
    assert m.dtype == bool and m.sum() == 800
    assert np.array_equal(m, T.excitatory_mask(1000, 0.8, seed=3))
    assert not np.array_equal(m, T.excitatory_mask(1000, 0.8, seed=4))
    assert T.excitatory_mask(10, 0.8, seed=0, frac_inhibitory=0.2).sum() == 8


@pytest.mark.parametrize("fe, fi", [(0.7, 0.2), (0.9, 0.2), (1.2, None), (-0.1, None)])
def test_excitatory_fractions_must_be_valid(fe, fi):
    with pytest.raises(ConfigError, match="frac_"):
        T.excitatory_mask(100, fe, seed=0, frac_inhibitory=fi)


# -- random -------------------------------------------------------------------------------
def test_random_adjacency_statistics_and_no_self_loops():
    n, p = 600, 0.07
    A = T.random_adjacency(n, p, seed=1)
    assert A.dtype == bool and A.shape == (n, n)
    assert A.diagonal().sum() == 0
    m = n * (n - 1)
    assert _within(A.nnz, p * m, m * p * (1 - p))
    # in- and out-degrees are Binomial(n - 1, p): check their mean and variance
    indeg = np.asarray(A.sum(axis=1)).ravel()
    assert abs(indeg.mean() - p * (n - 1)) < 1.0
    assert abs(indeg.var() / (p * (1 - p) * (n - 1)) - 1) < 0.25
    with_self = T.random_adjacency(50, 1.0, seed=0, allow_self=True)
    assert with_self.nnz == 2500


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "a"])
def test_impossible_probability_is_an_error(p):
    with pytest.raises(ConfigError, match="probability"):
        T.random_adjacency(10, p, seed=0)


def test_random_adjacency_is_seeded():
    a, b = T.random_adjacency(300, 0.1, seed=5), T.random_adjacency(300, 0.1, seed=5)
    c = T.random_adjacency(300, 0.1, seed=6)
    assert (a != b).nnz == 0
    assert (a != c).nnz > 0


# -- grid (Maass et al. 2002) --------------------------------------------------------------
def test_grid_connection_statistics_match_C_exp_rule():
    shape = (10, 8, 6)
    n = int(np.prod(shape))
    exc = T.excitatory_mask(n, 0.8, seed=0)
    lam = T.MMN2002_LAMBDA
    A = T.grid_adjacency(shape, exc, seed=2)
    pos = T.grid_positions(shape)
    d2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1)  # [post, pre]
    np.fill_diagonal(d2, np.inf)
    dense = A.toarray()
    for key, c in T.MMN2002_C.items():
        pre_is_e, post_is_e = key[0] == "E", key[1] == "E"
        sel = (exc[None, :] == pre_is_e) & (exc[:, None] == post_is_e) & np.isfinite(d2)
        prob = c * np.exp(-d2[sel] / lam**2)
        observed = dense[sel].sum()
        assert _within(observed, prob.sum(), (prob * (1 - prob)).sum()), key
        # distance dependence: nearest neighbours (d = 1) vs d = 2
        for dist2 in (1.0, 4.0):
            sub = d2[sel] == dist2
            p_exp = c * np.exp(-dist2 / lam**2)
            k = sub.sum()
            assert _within(dense[sel][sub].sum(), p_exp * k, k * p_exp * (1 - p_exp)), (key, dist2)
    assert dense.diagonal().sum() == 0


def test_grid_rejects_impossible_C():
    exc = T.excitatory_mask(135, 0.8, seed=0)
    with pytest.raises(ConfigError, match="probability"):
        T.grid_adjacency((15, 3, 3), exc, seed=0, C={"EE": 1.3, "EI": 0.2, "IE": 0.4, "II": 0.1})
    with pytest.raises(ConfigError, match="keys"):
        T.grid_adjacency((15, 3, 3), exc, seed=0, C={"EE": 0.3})
    with pytest.raises(ConfigError, match="shape"):
        T.grid_positions((3, 3))


# -- small world ---------------------------------------------------------------------------
def test_small_world_without_rewiring_is_the_ring_lattice():
    n, k = 12, 4
    A = T.small_world_adjacency(n, k, 0.0, seed=0).toarray()
    for pre in range(n):
        targets = sorted(np.flatnonzero(A[:, pre]))
        expected = sorted({(pre + o) % n for o in (-2, -1, 1, 2)})
        assert targets == expected


def test_small_world_rewiring_fraction_degrees_and_validity():
    n, k, beta = 800, 10, 0.2
    A = T.small_world_adjacency(n, k, beta, seed=4)
    lattice = T.small_world_adjacency(n, k, 0.0, seed=4)
    outdeg = np.asarray(A.sum(axis=0)).ravel()
    assert np.all(outdeg == k)  # out-degree preserved, no duplicates
    assert A.diagonal().sum() == 0
    kept = A.multiply(lattice).nnz
    rewired = n * k - kept
    # a rewired edge lands back on a lattice slot with probability ~k/n, negligible here
    m = n * k
    assert _within(rewired, beta * m, m * beta * (1 - beta), k=6)
    with pytest.raises(ConfigError, match="even"):
        T.small_world_adjacency(20, 3, 0.1, seed=0)
    with pytest.raises(ConfigError, match="even"):
        T.small_world_adjacency(10, 10, 0.1, seed=0)


# -- weights / Dale's law -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["random", "grid", "small_world"])
def test_dale_law_holds_column_wise(kind):
    kwargs = {"random": {"n_neurons": 400, "p": 0.1}, "grid": {"shape": (8, 8, 5)},
              "small_world": {"n_neurons": 400, "k": 20, "p_rewire": 0.3}}[kind]
    top = T.build_topology(kind=kind, seed=1, **kwargs)
    W = top.weights.tocsc()
    for j in range(W.shape[1]):
        col = W.data[W.indptr[j]:W.indptr[j + 1]]
        if top.excitatory[j]:
            assert np.all(col > 0)
        else:
            assert np.all(col < 0)
    T.check_dale(top.weights, top.excitatory)  # does not raise


def test_gamma_weights_have_requested_mean_and_cv():
    n = 600
    exc = T.excitatory_mask(n, 0.8, seed=0)
    A = T.random_adjacency(n, 0.2, seed=0)
    W = T.dale_weights(A, exc, seed=0, scale=T.MMN2002_WEIGHT, cv=0.7).tocoo()
    types = np.where(exc, "E", "I")
    pair = np.char.add(types[W.col], types[W.row])
    for key, mean in T.MMN2002_WEIGHT.items():
        vals = W.data[pair == key]
        assert abs(vals.mean() / mean - 1) < 0.05, key
        assert abs(vals.std() / abs(vals.mean()) - 0.7) < 0.05, key


def test_balanced_weights_cancel_on_average_and_signs_are_checked():
    n = 500
    exc = T.excitatory_mask(n, 0.8, seed=0)
    A = T.random_adjacency(n, 0.3, seed=0)
    W = T.dale_weights(A, exc, seed=0, scale="balanced", distribution="constant")
    assert set(np.round(np.unique(W.data), 9)) == {1.0, -4.0}
    assert abs(W.sum() / W.nnz) < 0.05  # E mass 0.8*1 balances I mass 0.2*4
    with pytest.raises(ConfigError, match="Dale"):
        T.dale_weights(A, exc, seed=0, scale={"EE": -1.0, "EI": 1.0, "IE": -1.0, "II": -1.0})
    with pytest.raises(ConfigError, match="Dale"):
        T.dale_weights(A, exc, seed=0, scale={"EE": 1.0, "EI": 1.0, "IE": 1.0, "II": -1.0})
    bad = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ConfigError, match="Dale"):
        T.check_dale(bad, np.array([True, False]))


# -- spectral radius -----------------------------------------------------------------------
@pytest.mark.parametrize("target", [0.5, 0.95, 1.3])
def test_spectral_radius_scaled_to_target_exactly(target):
    top = T.build_topology(300, "random", seed=2, p=0.1, spectral_radius=target)
    measured = np.max(np.abs(np.linalg.eigvals(top.weights.toarray())))
    assert measured == pytest.approx(target, rel=1e-9)
    assert top.spectral_radius == target and top.radius_before > 0


def test_arpack_radius_matches_dense_for_large_sparse_matrix():
    top = T.build_topology(560, "random", seed=3, p=0.05, spectral_radius=None)
    dense = T.spectral_radius(top.weights, method="dense")
    arpack = T.spectral_radius(top.weights, method="arpack")
    assert arpack == pytest.approx(dense, rel=1e-8)
    scaled, _ = T.scale_to_spectral_radius(top.weights, 0.9)  # auto -> ARPACK (n > 500)
    assert np.max(np.abs(np.linalg.eigvals(scaled.toarray()))) == pytest.approx(0.9, rel=1e-8)


def test_nilpotent_weights_cannot_be_scaled():
    W = sp.csr_matrix(np.tril(np.ones((5, 5)), k=-1))  # feed-forward chain: radius 0
    with pytest.raises(ConfigError, match="spectral radius 0"):
        T.scale_to_spectral_radius(W, 1.0)


# -- delays ----------------------------------------------------------------------------------
def test_delays_match_pattern_and_requested_values():
    n = 200
    exc = T.excitatory_mask(n, 0.8, seed=0)
    A = T.random_adjacency(n, 0.1, seed=0)
    D = T.draw_delays(A, exc, (2, 5), seed=0)
    assert (D.astype(bool) != A).nnz == 0
    assert set(np.unique(D.data)) == {2, 3, 4, 5}
    per = T.draw_delays(A, exc, {"EE": 3, "EI": 2, "IE": 1, "II": 1})
    coo = per.tocoo()
    expected = np.where(exc[coo.col] & exc[coo.row], 3, np.where(exc[coo.col], 2, 1))
    assert np.array_equal(coo.data, expected)
    with pytest.raises(ConfigError, match="delay"):
        T.draw_delays(A, exc, 0)
    with pytest.raises(ConfigError, match="delay"):
        T.draw_delays(A, exc, (3, 2))


# -- builder, validation, determinism --------------------------------------------------------
def test_same_seed_same_topology_different_seed_differs():
    kw = {"kind": "small_world", "k": 8, "p_rewire": 0.3, "delays": (1, 4)}
    a = T.build_topology(300, seed=11, **kw)
    b = T.build_topology(300, seed=11, **kw)
    c = T.build_topology(300, seed=12, **kw)
    assert np.array_equal(a.excitatory, b.excitatory)
    assert (a.weights != b.weights).nnz == 0 and (a.delays != b.delays).nnz == 0
    assert (a.weights != c.weights).nnz > 0


def test_user_adjacency_and_weights():
    rng = np.random.default_rng(0)
    adj = rng.random((30, 30)) < 0.3
    np.fill_diagonal(adj, False)
    top = T.build_topology(kind="adjacency", adjacency=adj, seed=0, spectral_radius=None)
    assert np.array_equal(top.weights.toarray() != 0, adj)
    exc = np.ones(3, bool)
    exc[2] = False
    W = np.array([[0.0, 0.5, -1.0], [0.25, 0.0, -0.5], [0.5, 0.5, 0.0]])
    top = T.build_topology(kind="adjacency", weights=W, excitatory=exc, spectral_radius=None)
    assert np.array_equal(top.weights.toarray(), W)
    with pytest.raises(ConfigError, match="Dale"):
        T.build_topology(kind="adjacency", weights=-W, excitatory=exc, spectral_radius=None)
    with pytest.raises(ConfigError, match="square"):
        T.validate_adjacency(np.ones((3, 4)))
    with pytest.raises(ConfigError, match="no connections"):
        T.validate_adjacency(np.zeros((4, 4)))


def test_connection_stats_counts_pairs():
    exc = np.array([True, True, False])
    A = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [0, 1, 0]], dtype=bool))
    s = T.connection_stats(A, exc)
    # [post, pre]: E0<-E1, E0<-I2, E1<-E0, I2<-E1
    assert s["EE"]["count"] == 2 and s["EE"]["possible"] == 2 and s["EE"]["p"] == 1.0
    assert s["EI"]["count"] == 1 and s["EI"]["possible"] == 2
    assert s["IE"]["count"] == 1 and s["II"]["count"] == 0 and s["II"]["possible"] == 0
    assert s["all"]["count"] == 4 and s["all"]["possible"] == 6
