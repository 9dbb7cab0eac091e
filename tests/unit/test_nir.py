"""NIR export/import (eegsnn.interop.nir): the tau/dt/beta mapping, round trips, limits."""

from __future__ import annotations

import math
import sys
import warnings

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core; conftest imports it first too)

nir = pytest.importorskip("nir")

from eegsnn.errors import (  # noqa: E402
    ConfigError,
    DataError,
    MissingExtraError,
)
from eegsnn.interop.nir import (  # noqa: E402
    beta_to_tau,
    export_nir,
    import_nir,
    load_nir,
    nir_to_config,
    save_nir,
    simulate_nir,
    tau_to_beta,
)
from eegsnn.model import build_model  # noqa: E402
from eegsnn.nn import IF, Leaky, Synaptic  # noqa: E402


def _net(neuron: dict, out: dict | None = None, n_in: int = 8, hidden: int = 12,
         seed: int = 0):
    mx.random.seed(seed)
    cfg = {"input_shape": [n_in], "layers": [
        {"type": "linear", "out_features": hidden}, neuron,
        {"type": "linear", "out_features": 3},
        out or {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}],
        "readout": "final"}
    model = build_model(cfg)
    model.eval()
    return model


def _input(t: int = 40, b: int = 5, f: int = 8, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((t, b, f)) < 0.3).astype(np.float32) * 1.5


def _run(model, x):
    out = model(mx.array(x))
    return np.array(out["layer_spikes"][0]), np.array(out["membrane"])


# ------------------------------------------------------------------ the mapping by hand


def test_tau_beta_mapping_hand_values():
    # tau = 20 ms, dt = 1 ms: Euler beta = 1 - 1/20 = 0.95, exact decay exp(-0.05)
    assert tau_to_beta(0.02, 1e-3, "euler") == pytest.approx(0.95, abs=1e-15)
    assert tau_to_beta(0.02, 1e-3, "exp") == pytest.approx(math.exp(-0.05), abs=1e-15)
    # snnTorch's export convention: tau = dt / (1 - beta) with dt = 1e-4
    assert beta_to_tau(0.9, 1e-4, "euler") == pytest.approx(1e-3, rel=1e-12)
    assert beta_to_tau(math.exp(-0.05), 1e-3, "exp") == pytest.approx(0.02, rel=1e-12)
    betas = np.array([0.0, 0.5, 0.85, 0.999])
    np.testing.assert_allclose(tau_to_beta(beta_to_tau(betas, 2e-3), 2e-3), betas, atol=1e-14)
    with pytest.raises(ConfigError, match="shorter than dt_s"):
        tau_to_beta(1e-4, 1e-3, "euler")
    with pytest.raises(ConfigError, match="no finite time constant"):
        beta_to_tau(1.0, 1e-3)
    with pytest.raises(ConfigError, match="method='euler'"):
        beta_to_tau(0.0, 1e-3, "exp")
    with pytest.raises(ConfigError, match="dt_s"):
        tau_to_beta(0.02, 0.0)


def test_hand_made_graph_gives_expected_beta_and_folded_gain():
    """A LIF with tau = 20 ms, r = 2, v_leak = 0.1 at dt = 1 ms: beta = 0.95, input gain
    (1 - beta) r = 0.1 folded into the weights, leak drive (1 - beta) v_leak into the bias."""
    w = np.array([[1.0, 0.5, 0.5], [0.3, 0.2, -0.1]])
    b = np.array([0.5, -0.25])
    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=w, bias=b),
        nir.LIF(tau=np.full(2, 0.02), r=np.full(2, 2.0), v_leak=np.full(2, 0.1),
                v_threshold=np.array([1.0, 0.8]), v_reset=np.zeros(2)),
    )
    with pytest.raises(ConfigError, match="pass dt_s"):
        import_nir(graph)
    config, weights = nir_to_config(graph, dt_s=1e-3)
    leaky = config["layers"][1]
    assert leaky["type"] == "leaky" and leaky["beta"] == pytest.approx(0.95, abs=1e-12)
    assert leaky["threshold"] == [1.0, 0.8] and leaky["reset_mechanism"] == "zero"
    np.testing.assert_allclose(weights["layers.0.weight"], 0.1 * w, rtol=1e-6)
    np.testing.assert_allclose(weights["layers.0.bias"], 0.1 * b + 0.05 * 0.1, rtol=1e-6)
    assert config["readout"] == "count"
    # and the imported model runs what the NIR equations say
    model = import_nir(graph, dt_s=1e-3)
    x = np.random.default_rng(0).normal(1.0, 1.0, (60, 4, 3)).astype(np.float32)
    ref = simulate_nir(graph, x, dt_s=1e-3)
    got = np.array(model(mx.array(x))["spikes"])
    assert ref.sum() > 10
    np.testing.assert_array_equal(got, ref)


def test_snntorch_style_graph_imports_with_its_dt():
    """snnTorch writes Leaky(beta) as tau = dt/(1-beta), r = tau/dt with dt = 1e-4."""
    beta, dt = 0.85, 1e-4
    tau = dt / (1 - beta)
    graph = nir.NIRGraph.from_list(
        nir.Linear(weight=np.eye(3)),
        nir.LIF(tau=np.full(3, tau), r=np.full(3, tau / dt), v_leak=np.zeros(3),
                v_threshold=np.ones(3), v_reset=np.zeros(3)),
    )
    config, weights = nir_to_config(graph, dt_s=dt)
    assert config["layers"][1]["beta"] == pytest.approx(beta, abs=1e-12)
    np.testing.assert_allclose(weights["layers.0.weight"], np.eye(3), atol=1e-7)
    assert "layers.0.bias" not in weights and config["layers"][0]["bias"] is False


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("method", ["euler", "exp"])
@pytest.mark.parametrize("neuron", [
    {"type": "leaky", "beta": 0.85, "reset_mechanism": "zero"},
    {"type": "if", "threshold": 1.5, "reset_mechanism": "zero"},
    {"type": "synaptic", "alpha": 0.7, "beta": 0.8, "reset_mechanism": "zero",
     "reset_delay": False},
    {"type": "leaky", "beta": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.3, 0.2, 0.1, 0.05, 0.99, 0.4],
     "threshold": [0.5 + 0.1 * i for i in range(12)], "reset_mechanism": "zero"},
])
def test_round_trip_same_spikes_and_matches_nir_semantics(neuron, method, tmp_path):
    model = _net(neuron)
    x = _input()
    spikes, mem = _run(model, x)
    assert 0.02 < spikes.mean() < 0.9  # the test exercises spikes and resets
    graph = export_nir(model, dt_s=1e-3, method=method)
    # an independent simulator of the NIR equations gives the same hidden spikes ...
    hidden_graph = nir.NIRGraph.from_list(graph.nodes["linear_0"], graph.nodes[
        f"{neuron['type']}_1"])
    np.testing.assert_array_equal(simulate_nir(hidden_graph, x, dt_s=1e-3, method=method),
                                  spikes)
    np.testing.assert_allclose(simulate_nir(graph, x), mem, rtol=1e-4, atol=1e-4)
    # ... and export -> file -> import gives the same spikes and readout
    path = save_nir(model, tmp_path / "net.nir", dt_s=1e-3, method=method)
    back = load_nir(path)
    spikes2, mem2 = _run(back, x)
    np.testing.assert_array_equal(spikes2, spikes)
    np.testing.assert_allclose(mem2, mem, rtol=1e-5, atol=1e-5)
    assert back.readout_mode == "final"
    assert back.config["layers"][1]["reset_mechanism"] == "zero"


def test_round_trip_of_a_trained_network(tmp_path):
    """Train briefly with the engine, export, re-import: identical predictions."""
    from eegsnn.train import ArrayDataset, fit

    rng = np.random.default_rng(0)
    n, t, f = 96, 12, 8
    y = rng.integers(0, 3, n)
    rates = 0.1 + 0.6 * (np.arange(f)[None, :] % 3 == y[:, None])
    x = (rng.random((t, n, f)) < rates[None]).astype(np.float32)
    config = _net({"type": "leaky", "beta": 0.8, "reset_mechanism": "zero"}).config
    result = fit(config, ArrayDataset(x, y, time_major=True),
                 {"epochs": 3, "batch_size": 32, "optimizer": {"type": "adam",
                                                               "learning_rate": 1e-2}},
                 progress=False)
    trained = result.model
    trained.eval()
    logits = np.array(trained(mx.array(x))["logits"])
    assert (logits.argmax(1) == y).mean() > 0.5  # it learnt something
    back = load_nir(save_nir(trained, tmp_path / "trained.nir", dt_s=1e-3))
    np.testing.assert_array_equal(np.array(back(mx.array(x))["logits"]).argmax(1),
                                  logits.argmax(1))
    np.testing.assert_allclose(np.array(back(mx.array(x))["logits"]), logits, atol=1e-4)


def test_export_of_a_plain_layer_list_and_graph_structure():
    mx.random.seed(3)
    import mlx.nn as mnn

    layers = [mnn.Linear(4, 6), Leaky(beta=0.9, reset_mechanism="zero"),
              mnn.Linear(6, 2, bias=False), IF(reset_mechanism="zero")]
    graph = export_nir(layers, dt_s=1e-3)
    assert list(graph.nodes) == ["input", "linear_0", "leaky_1", "linear_2", "if_3", "output"]
    assert isinstance(graph.nodes["linear_2"], nir.Linear)
    assert isinstance(graph.nodes["if_3"], nir.IF)
    np.testing.assert_allclose(graph.nodes["if_3"].r, 1e3)  # dv/dt = r I, r = 1/dt
    np.testing.assert_allclose(graph.nodes["leaky_1"].tau, 1e-2)  # dt / (1 - 0.9)
    np.testing.assert_allclose(graph.nodes["leaky_1"].r, 10.0)
    model = import_nir(graph)
    x = _input(f=4)
    ref = simulate_nir(graph, x)
    np.testing.assert_array_equal(np.array(model(mx.array(x))["spikes"]), ref)


# ------------------------------------------------------------------ what NIR cannot hold


def test_subtract_reset_raises_or_warns_and_metadata_restores_it():
    model = _net({"type": "leaky", "beta": 0.9})  # default: subtract reset
    with pytest.raises(ConfigError, match="subtract"):
        export_nir(model, dt_s=1e-3, form="native")
    with pytest.warns(RuntimeWarning, match="subtract"):
        graph = export_nir(model, dt_s=1e-3, on_unsupported="warn", form="native")
    assert np.all(graph.nodes["leaky_1"].v_reset == 0)
    x = _input()
    spikes, _ = _run(model, x)
    # eegsnn restores its own neuron from the node metadata: exact round trip
    back = import_nir(graph)
    assert back.config["layers"][1]["reset_mechanism"] == "subtract"
    np.testing.assert_array_equal(_run(back, x)[0], spikes)
    # what other tools run (NIR's reset to zero) is a different network
    plain = import_nir(graph, use_metadata=False, dt_s=1e-3)
    assert plain.config["layers"][1]["reset_mechanism"] == "zero"
    assert not np.array_equal(_run(plain, x)[0], spikes)


def test_older_neuron_metadata_format_still_restores_the_neuron():
    # files written before the neuron registry hold {"model": "Leaky", surrogate: {"name"}}
    import json

    model = _net({"type": "leaky", "beta": 0.9, "surrogate": {"type": "fast_sigmoid",
                                                              "slope": 10.0}})
    with pytest.warns(RuntimeWarning, match="subtract"):
        graph = export_nir(model, dt_s=1e-3, on_unsupported="warn", form="native")
    node = graph.nodes["leaky_1"]
    meta = json.loads(node.metadata["eegsnn"])
    assert meta["type"] == "leaky" and meta["surrogate"]["type"] == "fast_sigmoid"
    old = {k: v for k, v in meta.items() if k != "type"}
    old["model"] = "Leaky"
    old["surrogate"] = {"name": "fast_sigmoid", "slope": 10.0}
    node.metadata["eegsnn"] = json.dumps(old)
    back = import_nir(graph)
    layer = back.config["layers"][1]
    assert layer["reset_mechanism"] == "subtract"
    assert layer["surrogate"] == {"type": "fast_sigmoid", "slope": 10.0}
    x = _input()
    np.testing.assert_array_equal(_run(back, x)[0], _run(model, x)[0])


def test_synaptic_delayed_zero_reset_is_not_nir():
    model = _net({"type": "synaptic", "alpha": 0.7, "beta": 0.8, "reset_mechanism": "zero"})
    with pytest.raises(ConfigError, match="reset_delay=False"):
        export_nir(model, dt_s=1e-3)


def test_unsupported_graphs_and_nodes_raise():
    lif = dict(tau=np.full(2, 0.01), r=np.full(2, 10.0), v_leak=np.zeros(2),
               v_threshold=np.ones(2))
    recurrent = nir.NIRGraph(
        nodes={"input": nir.Input(np.array([2])), "lif": nir.LIF(**lif),
               "rec": nir.Linear(weight=np.eye(2)), "output": nir.Output(np.array([2]))},
        edges=[("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    with pytest.raises(ConfigError, match=r"successors|inputs"):
        import_nir(recurrent, dt_s=1e-3)
    reset = nir.NIRGraph.from_list(nir.LIF(**lif, v_reset=np.full(2, -0.5)))
    with pytest.raises(ConfigError, match="v_reset"):
        import_nir(reset, dt_s=1e-3)
    with pytest.raises(ConfigError, match=r"'alif' has no NIR form"):
        export_nir(build_model({"input_shape": [3], "layers": [
            {"type": "linear", "out_features": 2}, {"type": "alif"}]}), dt_s=1e-3)
    with pytest.raises(DataError, match="not found"):
        load_nir("/nonexistent/net.nir")


def test_graph_ending_in_linear_gets_a_pass_through_readout():
    w = np.array([[1.0, 2.0], [0.0, -1.0]])
    graph = nir.NIRGraph.from_list(nir.Linear(weight=w))
    model = import_nir(graph, dt_s=1e-3)
    x = np.random.default_rng(0).normal(size=(5, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(np.array(model(mx.array(x))["membrane"]), x @ w.T, atol=1e-6)


def test_synaptic_round_trip_keeps_neuron_class():
    model = _net({"type": "synaptic", "alpha": 0.6, "beta": 0.9, "reset_mechanism": "zero",
                  "reset_delay": False})
    graph = export_nir(model, dt_s=5e-4)
    node = graph.nodes["synaptic_1"]
    assert isinstance(node, nir.CubaLIF)
    np.testing.assert_allclose(node.tau_syn, 5e-4 / 0.4)
    np.testing.assert_allclose(node.w_in, 1 / 0.4)
    back = import_nir(graph)
    assert isinstance(back.layers[1], Synaptic) and back.layers[1].reset_delay is False


def test_missing_nir_extra_gives_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(MissingExtraError) as info, warnings.catch_warnings():
        export_nir(_net({"type": "leaky", "reset_mechanism": "zero"}), dt_s=1e-3)
    assert str(info.value) == "NIR export needs the 'nir' extra: pip install 'eegsnn[nir]'"
    assert isinstance(info.value, ImportError)


# ------------------------------------------------------------------ the portable form


def test_portable_subtract_reset_and_integrator_are_exact_nir():
    """The shipped default (subtract reset, integrator readout): a CubaLIF whose synapse
    holds the membrane, the reset and the decay as loops; NIR semantics give eegsnn's
    spikes and readout, and the file imports back to the same neurons."""
    model = _net({"type": "leaky", "beta": 0.9})
    x = _input()
    spikes, mem = _run(model, x)
    assert 0.05 < spikes.mean() < 0.9
    graph = export_nir(model, dt_s=1e-4)
    node = graph.nodes["leaky_1"]
    assert isinstance(node, nir.CubaLIF)
    np.testing.assert_allclose(node.tau_mem, 1e-4)  # memoryless membrane: v = I
    np.testing.assert_allclose(node.w_in * (1e-4 / node.tau_syn), 1.0)  # input gain 1
    np.testing.assert_array_equal(graph.nodes["leaky_1.fb"].weight, -np.eye(12))
    assert ("leaky_1.hold", "leaky_1") in graph.edges
    assert isinstance(graph.nodes["leaky_3"], nir.Linear)  # the readout integrator
    np.testing.assert_allclose(np.diag(graph.nodes["leaky_3.fb"].weight), 0.9, rtol=1e-7)
    head = build_model({**{k: v for k, v in model.config.items() if k != "output_shape"},
                        "layers": model.config["layers"][:2], "readout": "count"})
    head.update({"layers": model.parameters()["layers"][:2]})
    np.testing.assert_array_equal(simulate_nir(export_nir(head, dt_s=1e-4), x), spikes)
    np.testing.assert_allclose(simulate_nir(graph, x), mem, rtol=1e-4, atol=1e-4)
    back = import_nir(graph)
    assert back.config["layers"][1]["reset_mechanism"] == "subtract"
    assert back.config["layers"][3]["reset_mechanism"] == "none"
    np.testing.assert_array_equal(_run(back, x)[0], spikes)
    np.testing.assert_allclose(_run(back, x)[1], mem, rtol=1e-5, atol=1e-5)


def test_portable_recurrent_family_matches_nir_semantics():
    from eegsnn.model import family_config

    mx.random.seed(0)
    model = build_model(family_config({"family": "recurrent", "hidden": 10}, 8, 3))
    model.layers[0].weight = model.layers[0].weight * 4
    model.eval()
    x = _input()
    out = model(mx.array(x))
    assert 0.02 < float(np.array(out["layer_spikes"][0]).mean()) < 0.9
    graph = export_nir(model, dt_s=1e-4)
    fb = np.asarray(graph.nodes["rleaky_2.fb"].weight)
    np.testing.assert_allclose(fb, np.array(model.layers[2].recurrent.weight) - np.eye(10),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(simulate_nir(graph, x), np.array(out["membrane"]),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ConfigError, match="recurrent loop"):
        import_nir(graph)


def test_reservoir_export_matches_the_reservoir():
    from eegsnn.interop.nir import export_reservoir
    from eegsnn.nn import Reservoir

    res = Reservoir(n_inputs=8, n_neurons=30, neuron={"type": "leaky", "beta": 0.95},
                    seed=0)
    x = _input() * 2
    spikes, _ = res(mx.array(x))
    spikes = np.array(spikes)
    assert 0.01 < spikes.mean() < 0.9
    graph = export_reservoir(res, dt_s=1e-4, metadata={"note": "test"})
    np.testing.assert_array_equal(simulate_nir(graph, x), spikes)
    assert '"note": "test"' in graph.metadata["eegsnn"]
    with pytest.raises(ConfigError, match="zero"):
        export_reservoir(Reservoir(n_inputs=8, n_neurons=10, seed=0, neuron={
            "type": "leaky", "reset_mechanism": "zero"}))


def test_portable_form_limits_are_named():
    with pytest.raises(ConfigError, match="method='euler'"):
        export_nir(_net({"type": "leaky", "beta": 0.9}), dt_s=1e-3, method="exp")
    with pytest.raises(ConfigError, match="beta = 1"):
        export_nir(_net({"type": "if"}), dt_s=1e-3)
    with pytest.raises(ConfigError, match="no exact NIR form"):
        export_nir(_net({"type": "synaptic", "alpha": 0.7, "beta": 0.8}), dt_s=1e-3)
    with pytest.raises(ConfigError, match="form must be"):
        export_nir(_net({"type": "leaky", "reset_mechanism": "zero"}), form="other")
