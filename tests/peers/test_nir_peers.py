"""The shipped model kinds, exported to NIR, run in snnTorch 1.0 and Norse 1.1 with the
same spikes and predictions as in eegsnn (``docs/nir.md``).

Peers live in ``.venv-peers`` (torch, snntorch, norse, nirtorch); elsewhere these tests
skip. Run: ``.venv-peers/bin/python -m pytest -q tests/peers``.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from nir_peer_helpers import (  # skips this module without torch, nirtorch, nir
    DT,
    PEERS,
    first_spiking_head,
    readout,
    run_peer,
    seeded_model,
    spike_input,
)

from eegsnn.interop.nir import export_nir

#: The model of each shipped config (configs/*.yaml through pipelines/*.py): the MLP of
#: seizure_detection (hidden 128) and of sleep_staging / generic / long recordings
#: (hidden 64), the band_power family of motor_imagery, and the recurrent family.
#: test_shipped_configs_nir.py builds each config's own model.
SHIPPED = {
    "mlp128": {"hidden": [128], "readout": "mean"},
    "mlp64": {"hidden": [64], "readout": "mean"},
    "band_power": {"family": "band_power"},
    "recurrent": {"family": "recurrent"},
}

@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_shipped_model_runs_in_peer_with_same_predictions(kind, peer):
    spec = SHIPPED[kind]
    n_in = 12
    model = seeded_model(spec, n_in)
    x = spike_input(n_in)
    out = model(mx.array(x))
    hidden = np.array(out["layer_spikes"][0])
    assert 0.05 < hidden.mean() < 0.8, "the test must exercise spikes and resets"
    graph = export_nir(model, dt_s=DT)
    membrane = run_peer(peer, graph, x)
    ours = np.array(out["membrane"])
    np.testing.assert_allclose(membrane, ours, rtol=1e-4, atol=1e-3)
    logits = np.array(out["logits"])
    np.testing.assert_array_equal(readout(membrane, model.readout_mode).argmax(-1),
                                  logits.argmax(-1))


@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_hidden_spikes_are_identical_in_peer(kind, peer):
    """The network up to its first spiking layer: the peer's spikes equal eegsnn's."""
    head = first_spiking_head(seeded_model(SHIPPED[kind]))
    x = spike_input()
    spikes = np.array(head(mx.array(x))["spikes"])
    assert spikes.sum() > 0
    np.testing.assert_array_equal(run_peer(peer, export_nir(head, dt_s=DT), x), spikes)


def test_what_no_peer_form_exists_for_is_refused():
    from eegsnn.errors import ConfigError

    for spec, match in (({"family": "spiking_eegnet"}, "conv_time"),
                        ({"family": "spiking_shallow"}, "conv_time")):
        with pytest.raises(ConfigError, match=match):
            export_nir(seeded_model(spec, 4, 2), dt_s=DT)


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_lsm_reservoir_runs_in_peer_with_same_spikes_and_predictions(peer):
    """The shipped LSM (configs/*_lsm.yaml: Leaky beta 0.95, threshold 1, subtract reset,
    random E/I topology, counts in 4 bins, ridge) at a small size: the peer runs the
    reservoir exactly; the window-level readout is applied from the graph's metadata."""
    from eegsnn.interop.nir import export_reservoir
    from eegsnn.pipeline.lsm import LSMModel

    spec = {"type": "lsm", "reservoir": {
        "n_neurons": 60, "topology": {"kind": "random", "p": 0.1}, "frac_excitatory": 0.8,
        "spectral_radius": 0.9, "input_connectivity": 0.3, "input_gain": 1.0,
        "neuron": {"model": "Leaky", "beta": 0.95, "threshold": 1.0}, "seed": 0},
        "features": {"kind": "counts", "bins": 4},
        "readout": {"type": "ridge", "alpha": [0.1, 1, 10]}}
    lsm = LSMModel(spec, n_inputs=12, n_classes=3)
    x = spike_input(12, steps=80, batch=24, seed=3) * 2.0  # strong enough to drive the reservoir
    ours, _ = lsm.reservoir(mx.array(x))
    ours = np.array(ours)
    assert 0.01 < ours.mean() < 0.8
    feats, _ = lsm.run(x)
    lsm.fit(feats, np.arange(24) % 3)
    graph = export_reservoir(lsm.reservoir, dt_s=DT)
    theirs = run_peer(peer, graph, x)
    np.testing.assert_array_equal(theirs, ours)
    from eegsnn.nn.readout import reservoir_features

    peer_feats = np.asarray(reservoir_features(mx.array(theirs), None, "counts", n_bins=4))
    np.testing.assert_array_equal(lsm.decision_function(peer_feats).argmax(1),
                                  lsm.decision_function(feats).argmax(1))
