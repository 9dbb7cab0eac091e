"""Reservoir (LSM): exact dynamics against NumPy, invariants, config, errors, gradients."""

from __future__ import annotations

import glob
import warnings

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
import yaml
from mlx.utils import tree_flatten

from eegsnn.errors import ConfigError
from eegsnn.evaluate.reservoir import delta_modulation
from eegsnn.nn import ALIF, IF, Leaky, Synaptic
from eegsnn.nn import topology as T
from eegsnn.nn.readout import LSMClassifier, RidgeReadout, extract_features
from eegsnn.nn.reservoir import Reservoir


def _spikes_in(t, b, n, rate=0.2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((t, b, n)) < rate).astype(np.float32)


def _numpy_reference(x, w_in, W, D, beta, threshold=1.0):
    """Delayed-reset subtractive LIF reservoir in float64 NumPy (independent of eegsnn)."""
    t_steps, b, _ = x.shape
    n = W.shape[0]
    d_max = int(D.max())
    hist = np.zeros((d_max, b, n))
    mem = np.zeros((b, n))
    out = np.zeros((t_steps, b, n))
    for t in range(t_steps):
        cur = x[t] @ w_in.T
        for d in range(1, d_max + 1):
            cur = cur + hist[d - 1] @ (W * (D == d)).T
        reset = (mem > threshold).astype(float)
        mem = beta * mem + cur - reset * threshold
        spk = (mem > threshold).astype(float)
        out[t] = spk
        hist = np.concatenate([spk[None], hist[:-1]], axis=0)
    return out


@pytest.mark.parametrize("compute", ["dense", "sparse", "host"])
def test_dynamics_equal_numpy_reference_exactly(compute):
    # Dyadic weights, beta and inputs: float32 arithmetic is exact, so spikes must match.
    n, n_in = 6, 2
    exc = np.array([True, True, True, True, False, False])
    W = np.array([
        [0.0, 0.5, 0.25, 0.0, -0.5, 0.0],
        [0.75, 0.0, 0.0, 0.5, 0.0, -1.0],
        [0.0, 0.5, 0.0, 0.25, -0.25, 0.0],
        [0.5, 0.0, 0.75, 0.0, 0.0, -0.5],
        [0.25, 0.5, 0.0, 0.5, 0.0, -0.25],
        [0.5, 0.0, 0.5, 0.0, -0.5, 0.0],
    ])
    D = np.where(W != 0, 1 + (np.arange(36).reshape(6, 6) % 3), 0)
    res = Reservoir(n_in, n, topology={"kind": "adjacency", "weights": W, "excitatory": exc},
                    spectral_radius=None, delays=D, neuron=Leaky(beta=0.5), compute=compute,
                    input_connectivity=1.0, seed=0)
    w_in = np.array([[0.5, 0.25], [0.75, 0.0], [0.25, 1.0], [1.25, 0.5], [0.5, 0.5], [0.0, 1.5]])
    res.w_in = mx.array(w_in.astype(np.float32))
    x = _spikes_in(40, 3, n_in, rate=0.5)
    spikes, state = res(mx.array(x))
    ref = _numpy_reference(x.astype(np.float64), w_in, W, D, beta=0.5)
    assert ref.sum() > 20  # the test is not vacuous
    np.testing.assert_array_equal(np.asarray(spikes), ref)
    assert state["history"].shape == (3, 3, n)


def test_compute_modes_agree_and_state_continues():
    x = mx.array(_spikes_in(60, 4, 8))
    outs = {}
    for compute in ("dense", "sparse", "host"):
        res = Reservoir(8, 300, topology={"kind": "random", "p": 0.05}, delays=(1, 3),
                        compute=compute, seed=7)
        assert res.compute == compute
        outs[compute] = np.asarray(res(x)[0])
    np.testing.assert_array_equal(outs["dense"], outs["sparse"])
    np.testing.assert_array_equal(outs["dense"], outs["host"])
    # running in two chunks with the state passed on equals one run
    res = Reservoir(8, 300, topology={"kind": "random", "p": 0.05}, delays=(1, 3), seed=7)
    s1, st = res(x[:25])
    s2, _ = res(x[25:], st)
    np.testing.assert_array_equal(np.concatenate([np.asarray(s1), np.asarray(s2)]), outs["dense"])


def test_recurrent_current_equals_sum_over_delays():
    res = Reservoir(4, 120, topology={"kind": "small_world", "k": 10, "p_rewire": 0.2},
                    delays={"EE": 3, "EI": 1, "IE": 2, "II": 1}, seed=2)
    hist = (np.random.default_rng(0).random((3, 5, 120)) < 0.3).astype(np.float32)
    W = res.recurrent_weights.toarray().astype(np.float64)
    D = res.delays.toarray()
    expected = sum(hist[d - 1] @ (W * (D == d)).T for d in (1, 2, 3))
    got = np.asarray(res.recurrent_current(mx.array(hist)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n_neurons, topology", [
    (150, {"kind": "random", "p": 0.1}),
    (None, {"kind": "grid", "shape": [6, 5, 4]}),
    (150, {"kind": "small_world", "k": 8, "p_rewire": 0.1}),
])
def test_reservoir_invariants_dale_and_spectral_radius(n_neurons, topology):
    res = Reservoir(3, n_neurons, topology=topology, spectral_radius=0.9, seed=1)
    W = res.recurrent_weights
    T.check_dale(W, res.excitatory)
    assert res.excitatory.sum() == round(0.8 * res.n_neurons)
    radius = np.max(np.abs(np.linalg.eigvals(W.toarray().astype(np.float64))))
    assert radius == pytest.approx(0.9, rel=1e-5)  # float32 weights
    assert res.measured_spectral_radius() == pytest.approx(0.9, rel=1e-5)


def test_same_seed_same_reservoir_and_config_round_trip():
    cfg = {"n_inputs": 5, "n_neurons": 200, "topology": {"kind": "random", "p": 0.08},
           "delays": [1, 2], "spectral_radius": 0.8, "seed": 42,
           "neuron": {"model": "Leaky", "beta": 0.9, "threshold": 1.0}}
    a, b = Reservoir.from_config(cfg), Reservoir.from_config(cfg)
    c = Reservoir.from_config({**cfg, "seed": 43})
    assert (a.recurrent_weights != b.recurrent_weights).nnz == 0
    assert np.array_equal(np.asarray(a.w_in), np.asarray(b.w_in))
    assert (a.recurrent_weights != c.recurrent_weights).nnz > 0
    x = mx.array(_spikes_in(30, 2, 5))
    np.testing.assert_array_equal(np.asarray(a(x)[0]), np.asarray(b(x)[0]))
    # to_config -> YAML -> from_config rebuilds the same reservoir
    text = yaml.safe_dump(a.to_config())
    d = Reservoir.from_config(yaml.safe_load(text))
    assert d.to_config() == a.to_config()
    assert (d.recurrent_weights != a.recurrent_weights).nnz == 0
    assert (d.delays != a.delays).nnz == 0
    np.testing.assert_array_equal(np.asarray(d(x)[0]), np.asarray(a(x)[0]))


def test_adjacency_from_file(tmp_path):
    import scipy.sparse as sp

    adj = T.random_adjacency(50, 0.2, seed=0)
    path = tmp_path / "adj.npz"
    sp.save_npz(path, adj.astype(np.float32))
    res = Reservoir(2, 50, topology={"kind": "adjacency", "adjacency": str(path)}, seed=0)
    assert (res.recurrent_weights.astype(bool) != adj).nnz == 0
    assert yaml.safe_load(yaml.safe_dump(res.to_config()))["topology"]["adjacency"] == str(path)
    with pytest.raises(ConfigError, match="does not exist"):
        Reservoir(2, 50, topology={"kind": "adjacency", "adjacency": str(tmp_path / "x.npz")})


@pytest.mark.parametrize("neuron", [IF(), Synaptic(alpha=0.8, beta=0.9), ALIF(beta=0.9),
                                    {"model": "Leaky", "beta": 0.8, "threshold": 0.5},
                                    {"type": "leaky", "beta": 0.8, "threshold": 0.5}])
def test_any_neuron_model(neuron):
    res = Reservoir(4, 100, neuron=neuron, seed=0)
    spikes, state = res(mx.array(_spikes_in(20, 2, 4)))
    assert spikes.shape == (20, 2, 100)
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}
    assert "mem" in state["neuron"]
    # the config names the neuron as a neuron config does (older {"model": ...} specs are read)
    expected = type(neuron).__name__ if isinstance(neuron, nn.Module) else \
        neuron.get("model", neuron.get("type"))
    assert res.to_config()["neuron"]["type"] == expected.lower()


@pytest.mark.parametrize("kwargs, match", [
    ({"frac_excitatory": 0.7, "frac_inhibitory": 0.2}, "sum to one"),
    ({"topology": {"kind": "random", "p": 1.5}}, "probability"),
    ({"topology": {"kind": "random", "k": 3}}, "does not take"),
    ({"topology": "ring"}, "unknown topology"),
    ({"spectral_radius": -1.0}, "spectral_radius"),
    ({"input_connectivity": 2.0}, "input_connectivity"),
    ({"input_gain": 0.0}, "input_gain"),
    ({"compute": "gpu"}, "compute"),
    ({"neuron": {"model": "Nope"}}, "not an eegsnn.nn neuron"),
    ({"delays": 0}, "delays"),
])
def test_bad_configurations_raise(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Reservoir(3, 50, **kwargs)


def test_bad_config_dict_and_input_shape():
    with pytest.raises(ConfigError, match="unknown reservoir config"):
        Reservoir.from_config({"n_inputs": 3, "n_neuron": 10})
    with pytest.raises(ConfigError, match="n_inputs"):
        Reservoir.from_config({"n_neurons": 10})
    res = Reservoir(3, 50, seed=0)
    with pytest.raises(ConfigError, match=r"\[T, B, 3\]"):
        res(mx.zeros((10, 4)))
    with pytest.raises(ConfigError, match="history"):
        res(mx.zeros((10, 2, 3)), res.init_state(5))


def test_silent_and_saturated_reservoirs_warn():
    x = mx.array(_spikes_in(50, 2, 4, rate=0.2))
    silent = Reservoir(4, 100, input_gain=1e-4, seed=0)
    with pytest.warns(RuntimeWarning, match="silent.*input_gain"):
        rate = silent.check_activity(silent(x)[0])
    assert rate < 1e-3
    loud = Reservoir(4, 100, input_gain=50.0, input_distribution="positive",
                     input_connectivity=1.0, seed=0)
    with pytest.warns(RuntimeWarning, match="saturated"):
        extract_features(loud, x)
    ok = Reservoir(4, 100, input_gain=2.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 1e-3 < ok.check_activity(ok(x)[0]) < 0.5


def _tiny_task(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(16) % 2
    rates = np.where(y[None, :, None] == 1, [0.4, 0.05], [0.05, 0.4])
    x = (rng.random((25, 16, 2)) < rates).astype(np.float32)
    return mx.array(x), mx.array(y)


def test_bptt_readout_step_reduces_loss_and_keeps_reservoir_fixed():
    x, y = _tiny_task()
    res = Reservoir(2, 64, input_gain=2.0, input_connectivity=1.0, seed=0)
    model = LSMClassifier(res, 2, kind="counts")
    w_rec = res.recurrent_weights.copy()
    w_in = np.asarray(res.w_in).copy()

    def loss_fn(m, xb, yb):
        return nn.losses.cross_entropy(m(xb), yb, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    loss0, grads = loss_and_grad(model, x, y)
    names = {k for k, _ in tree_flatten(grads)}
    assert names == {"readout.weight", "readout.bias"}  # the reservoir is frozen
    optim.SGD(learning_rate=0.01).update(model, grads)
    loss1 = loss_fn(model, x, y)
    assert float(loss1) < float(loss0)
    assert (res.recurrent_weights != w_rec).nnz == 0
    np.testing.assert_array_equal(np.asarray(res.w_in), w_in)


def test_bptt_input_weights_dense_and_sparse_give_same_gradient():
    x, y = _tiny_task(1)
    grads = {}
    for compute in ("dense", "sparse"):
        res = Reservoir(2, 64, input_gain=2.0, input_connectivity=1.0, input_trainable=True,
                        compute=compute, seed=0)
        mx.random.seed(0)  # same readout initialisation for both modes
        model = LSMClassifier(res, 2, kind="trace", decay=0.8)

        def loss_fn(m, xb, yb):
            return nn.losses.cross_entropy(m(xb), yb, reduction="mean")

        _, g = nn.value_and_grad(model, loss_fn)(model, x, y)
        names = {k for k, _ in tree_flatten(g)}
        assert names == {"readout.weight", "readout.bias", "reservoir.w_in"}
        grads[compute] = np.asarray(g["reservoir"]["w_in"])
        before = np.asarray(res.w_in).copy()
        optim.Adam(learning_rate=1e-2).update(model, g)
        assert not np.array_equal(np.asarray(res.w_in), before)
    gw = grads["dense"]
    assert np.all(np.isfinite(gw)) and np.abs(gw).max() > 0
    # the gradient flows through the recurrence: it depends on more than one step's input
    np.testing.assert_allclose(grads["sparse"], gw, rtol=1e-4, atol=1e-6)


def _bonn(shared_data, folder, n=80, samples=1024):
    files = sorted(glob.glob(str(shared_data / "bonn" / folder / "*.[tT][xX][tT]")))[:n]
    assert len(files) == n, f"expected {n} Bonn files in {folder}"
    return np.stack([np.loadtxt(f)[:samples] for f in files])


def test_lsm_separates_healthy_from_seizure_bonn_eeg(shared_data):
    """Real EEG: Bonn set Z (healthy, eyes open) vs S (seizure), 80 segments each."""
    z, s = _bonn(shared_data, "Z"), _bonn(shared_data, "S")
    x = delta_modulation(np.concatenate([z, s])[:, ::2])  # 512 steps at 86.8 Hz
    y = np.r_[np.zeros(len(z)), np.ones(len(s))].astype(int)
    res = Reservoir(2, 200, input_gain=2.0, input_connectivity=0.5, seed=0)
    feats = extract_features(res, x, kind="counts", n_bins=4)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:96], order[96:]  # 60 % / 40 %
    readout = RidgeReadout([1.0, 10.0, 100.0, 1000.0]).fit(feats[train], y[train])
    acc = readout.score(feats[test], y[test])
    assert acc >= 0.8, acc


def test_auto_compute_mode_and_host_gradient_warning():
    frozen = Reservoir(2, 100, seed=0)
    assert frozen.compute == "host"  # nothing trainable: fastest forward pass
    assert Reservoir(2, 100, input_trainable=True, seed=0).compute == "dense"
    assert Reservoir(2, 100, neuron=Leaky(beta=0.9, learn_beta=True), seed=0).compute == "dense"
    frozen.unfreeze(keys=["w_in"], recurse=False)
    x = mx.array(_spikes_in(5, 1, 2))
    with pytest.warns(RuntimeWarning, match="no gradient"):
        frozen(x)
