"""NIR export of the EEG sequence layers: batchnorm (inference form) and spatial filters on
flat input are NIR Affine nodes; layers NIR has no node for are refused clearly."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)

nir = pytest.importorskip("nir")

from eegsnn.errors import ConfigError  # noqa: E402
from eegsnn.interop.nir import export_nir, load_nir, save_nir, simulate_nir  # noqa: E402
from eegsnn.model import build_model, family_config  # noqa: E402


def test_batchnorm_and_spatial_export_as_affine_and_round_trip(tmp_path):
    mx.random.seed(0)
    model = build_model({"input_shape": [6], "readout": "mean", "layers": [
        {"type": "spatial", "depth_multiplier": 4},
        {"type": "batchnorm"},
        {"type": "leaky", "beta": 0.8, "reset_mechanism": "zero"},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5, 6)).astype(np.float32) * 2.0
    model.train()
    model(mx.array(x))  # one training pass: non-trivial running statistics
    bn = model.layers[1]
    bn.weight, bn.bias = mx.array([1.5, 0.5, 2.0, 1.0]), mx.array([0.1, -0.2, 0.0, 0.3])
    model.eval()
    out = model(mx.array(x))
    spikes, mem = np.array(out["layer_spikes"][0]), np.array(out["membrane"])
    assert 0.02 < spikes.mean() < 0.9
    graph = export_nir(model, dt_s=1e-3)
    affine = graph.nodes["batchnorm_1"]
    assert isinstance(affine, nir.Affine) and isinstance(graph.nodes["spatial_0"], nir.Affine)
    # by hand: gamma (x - mu) / sqrt(var + eps) + beta as W x + b
    gain = np.array([1.5, 0.5, 2.0, 1.0]) / np.sqrt(np.array(bn.running_var) + 1e-5)
    np.testing.assert_allclose(np.diag(affine.weight), gain, rtol=1e-6)
    np.testing.assert_allclose(affine.bias, np.array([0.1, -0.2, 0.0, 0.3])
                               - gain * np.array(bn.running_mean), rtol=1e-5, atol=1e-6)
    # the NIR simulator and the re-imported model give the same outputs
    np.testing.assert_allclose(simulate_nir(graph, x).mean(axis=0), mem.mean(axis=0),
                               rtol=1e-4, atol=1e-4)
    back = load_nir(save_nir(model, tmp_path / "net.nir", dt_s=1e-3))
    out2 = back(mx.array(x))
    np.testing.assert_array_equal(np.array(out2["layer_spikes"][0]), spikes)
    np.testing.assert_allclose(np.array(out2["membrane"]), mem, rtol=1e-4, atol=1e-5)


def test_layers_without_a_nir_node_are_refused():
    for family, match in (("spiking_eegnet", "'conv_time' has no NIR form"),
                          ("recurrent", r"rleaky_2 \(RLeaky, reset_mechanism='zero'\): no exact")):
        spec = {"family": family}
        if family == "recurrent":
            spec["neuron"] = {"type": "rleaky", "reset_mechanism": "zero"}
        with pytest.raises(ConfigError, match=match):
            export_nir(build_model(family_config(spec, 4, 2)))
