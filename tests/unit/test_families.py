"""Model families (spiking_eegnet, recurrent): expansion, defaults in steps and seconds,
study-config validation, a forward pass on direct EEG-shaped input and short trainings
through eegsnn.train.fit on a toy motor-imagery-like task."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from eegsnn.errors import ConfigError
from eegsnn.model import build_model, family_config, validate_config
from eegsnn.pipeline.modelspec import build_model_config, validate_model_spec
from eegsnn.train import ArrayDataset, fit
from eegsnn.train.checkpoint import load_checkpoint


def _types(cfg):
    return [layer["type"] for layer in cfg["layers"]]


def test_spiking_eegnet_expansion_and_kernels_in_seconds():
    cfg = family_config({"family": "spiking_eegnet"}, 21, 2, steps_per_s=80)
    assert _types(cfg) == [
        "conv_time", "batchnorm", "spatial", "batchnorm", "leaky", "avgpool_time", "dropout",
        "conv_time", "linear", "batchnorm", "leaky", "avgpool_time", "dropout", "linear",
        "leaky"]
    layers = cfg["layers"]
    assert layers[0] == {"type": "conv_time", "per_channel": True, "out_channels": 8,
                         "kernel_size": 32, "causal": True, "bias": False}
    assert layers[2]["depth_multiplier"] == 2
    assert layers[7]["kernel_size"] == 8  # 0.4 s at 80 / 4 steps/s
    assert layers[8]["out_features"] == 16 and layers[13]["out_features"] == 2
    assert layers[14]["reset_mechanism"] == "none" and cfg["readout"] == "mean"
    assert validate_config(cfg)["output_shape"] == [2]
    fast = family_config({"family": "spiking_eegnet", "kernel_s": 0.25, "f1": 4,
                          "depth": 3, "dropout": 0.0}, 8, 3, steps_per_s=160)
    assert "dropout" not in _types(fast)
    assert fast["layers"][0]["kernel_size"] == 40 and fast["layers"][6]["kernel_size"] == 16
    assert fast["layers"][7]["out_features"] == 12
    # without a step rate: the step defaults (32, 8); seconds are refused
    assert family_config({"family": "spiking_eegnet"}, 21, 2)["layers"][0]["kernel_size"] == 32
    with pytest.raises(ConfigError, match="kernel_s needs the input step rate"):
        family_config({"family": "spiking_eegnet", "kernel_s": 0.5}, 21, 2)


def test_spiking_shallow_expansion():
    cfg = family_config({"family": "spiking_shallow"}, 21, 2, steps_per_s=160)
    assert _types(cfg) == ["conv_time", "batchnorm", "spatial", "batchnorm", "leaky",
                           "avgpool_time", "dropout", "linear", "leaky"]
    assert cfg["layers"][0]["kernel_size"] == 64  # 0.4 s at 160 steps/s
    assert cfg["layers"][5] == {"type": "avgpool_time", "kernel_size": 80, "stride": 16}
    assert cfg["layers"][6]["p"] == 0.5
    steps = family_config({"family": "spiking_shallow", "pool_steps": 10,
                           "pool_stride_steps": 5, "dropout": 0}, 4, 3)
    assert steps["layers"][5] == {"type": "avgpool_time", "kernel_size": 10, "stride": 5}
    with pytest.raises(ConfigError, match="not both"):
        family_config({"family": "spiking_shallow", "pool_s": 1.0, "pool_steps": 3}, 4, 2)


def test_recurrent_expansion():
    cfg = family_config({"family": "recurrent"}, 21, 2)
    assert _types(cfg) == ["linear", "batchnorm", "rleaky", "dropout", "linear", "leaky"]
    assert cfg["layers"][0]["out_features"] == 64 and cfg["layers"][3]["p"] == 0.2
    cfg = family_config({"family": "recurrent", "hidden": 32, "pool": 2, "batchnorm": False,
                         "dropout": 0.0,
                         "neuron": {"type": "RSynaptic", "alpha": 0.8, "beta": 0.7}}, 6, 4)
    assert _types(cfg) == ["avgpool_time", "linear", "rsynaptic", "linear", "leaky"]
    assert cfg["layers"][2]["alpha"] == 0.8
    assert validate_config(cfg)["layers"][2]["features"] == 32



def test_a_neuron_without_type_changes_the_familys_default_neuron():
    spec = validate_model_spec({"family": "recurrent", "neuron": {"beta": 0.8}})
    assert spec["neuron"] == {"type": "rleaky", "beta": 0.8,
                              "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}
    spec = validate_model_spec({"family": "band_power", "neuron": {"threshold": 0.5}})
    assert spec["neuron"]["threshold"] == 0.5 and spec["neuron"]["beta"] == 0.9
    spec = validate_model_spec({"family": "band_power", "neuron": {"type": "if"}})
    assert spec["neuron"] == {"type": "if"}  # another type is taken whole
    spec = validate_model_spec({"family": "band_power", "neuron": {"type": "Leaky",
                                                                   "beta": 0.7}})
    assert spec["neuron"] == {"type": "leaky", "beta": 0.7, "threshold": 1.0,  # its own type:
                              "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}  # merged
    spec = validate_model_spec({"family": "band_power", "neuron": {"surrogate": {"slope": 5}}})
    assert spec["neuron"]["surrogate"] == {"type": "fast_sigmoid", "slope": 5}
    spec = validate_model_spec({"family": "band_power",
                                "neuron": {"surrogate": {"type": "atan", "alpha": 2.0}}})
    assert spec["neuron"]["surrogate"] == {"type": "atan", "alpha": 2.0}
    # the short form's default neuron likewise (--set model.neuron.beta on a generic config)
    spec = validate_model_spec({"hidden": [8], "neuron": {"beta": 0.5}})
    assert spec["neuron"] == {"type": "leaky", "beta": 0.5,
                              "surrogate": {"type": "fast_sigmoid", "slope": 25.0}}
    spec = validate_model_spec({"neuron": {"type": "synaptic", "alpha": 0.8}})
    assert spec["neuron"] == {"type": "synaptic", "alpha": 0.8}  # a type: taken whole

@pytest.mark.parametrize("spec, match", [
    ({"family": "eegnet"}, "model.family must be one of"),
    ({"family": "recurrent", "hiden": 3}, r"unknown option\(s\) \['hiden'\]"),
    ({"family": "recurrent", "hidden": 0}, "hidden must be a positive integer"),
    ({"family": "recurrent", "neuron": {"type": "leaky"}}, "neuron type must be one of"),
    ({"family": "spiking_eegnet", "neuron": {"type": "rleaky"}}, "neuron type must be one of"),
    ({"family": "spiking_eegnet", "dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"family": "spiking_eegnet", "kernel_s": 0.3, "kernel_steps": 9}, "not both"),
    ({"family": "spiking_eegnet", "causal": 1}, "causal must be true or false"),
    ({"family": "recurrent", "readout": "count"}, "readout must be final, max or mean"),
])
def test_family_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        validate_model_spec(spec)


def test_study_config_model_section():
    spec = validate_model_spec({"family": "spiking_eegnet", "f1": 4})
    assert spec["f1"] == 4 and spec["depth"] == 2 and spec["pool2"] == 8
    cfg = build_model_config({"family": "spiking_eegnet", "kernel_s": 0.5}, n_inputs=21,
                             n_classes=2, steps_per_s=80)
    assert cfg["input_shape"] == [21] and cfg["layers"][0]["kernel_size"] == 40
    with pytest.raises(ConfigError, match="give one of"):
        validate_model_spec({"family": "recurrent", "layers": [{"type": "leaky"}]})
    with pytest.raises(ConfigError, match="hidden must be a positive integer"):
        validate_model_spec({"family": "recurrent", "hidden": [8]})


def test_default_families_run_on_direct_eeg_shaped_input():
    x = mx.random.normal((320, 2, 21))  # 4 s at 80 steps/s, 21 channels
    for name, steps in (("spiking_eegnet", 10), ("spiking_shallow", 36), ("recurrent", 320)):
        model = build_model(family_config({"family": name}, 21, 2, steps_per_s=80))
        model.eval()
        out = model(x)
        assert out["logits"].shape == (2, 2)
        assert out["membrane"].shape == (steps, 2, 2)  # (320 - 40) // 8 + 1 = 36
        assert np.all(np.isfinite(np.array(out["logits"])))


def _toy(n, seed, t=64, c=4):
    """A 10 Hz rhythm (80 steps/s) on channel 0 (class 0) or channel 1 (class 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(t, n, c)).astype(np.float32) * 0.5
    phase = rng.uniform(0, 2 * np.pi, n)
    osc = 1.5 * np.sin(2 * np.pi * 10 / 80 * np.arange(t)[:, None] + phase[None])
    x[:, y == 0, 0] += osc[:, y == 0]
    x[:, y == 1, 1] += osc[:, y == 1]
    return ArrayDataset(mx.array(x / x.std()), y, time_major=True)


@pytest.mark.parametrize("spec", [
    {"family": "spiking_eegnet", "f1": 4, "kernel_steps": 8, "pool1": 2, "pool2": 4,
     "separable_kernel_steps": 4, "dropout": 0.0},
    {"family": "spiking_shallow", "f1": 4, "kernel_steps": 8, "pool_steps": 16,
     "pool_stride_steps": 8, "dropout": 0.0},
    {"family": "recurrent", "hidden": 16, "dropout": 0.0},
])
def test_families_learn_a_spatial_rhythm_task_through_fit(spec, tmp_path):
    train, test = _toy(128, 0), _toy(64, 1)
    cfg = family_config(spec, 4, 2)
    result = fit(cfg, train,
                 {"epochs": 6, "batch_size": 32, "seed": 0, "checkpoint_every": 0,
                  "optimizer": {"type": "adam", "learning_rate": 0.01},
                  "loss": {"type": "ce_membrane", "reduce": "mean"}},
                 test=test, run_dir=tmp_path / "run", progress=False)
    assert result.engine == "mlx"
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert result.metrics["accuracy"] >= 0.9
    # batch-norm running statistics were updated by the compiled training step
    bn = next(m for m in result.model.layers if type(m).__name__ == "BatchNormTime")
    assert np.abs(np.array(bn.running_var) - 1.0).max() > 1e-3
    # the checkpoint restores the weights and the running statistics
    restored = build_model(cfg)
    load_checkpoint(tmp_path / "run" / "checkpoint", restored)
    restored.eval()
    result.model.eval()
    x = test.inputs[:, :8]
    np.testing.assert_array_equal(np.array(restored(x)["logits"]),
                                  np.array(result.model(x)["logits"]))



def test_band_power_neurons_are_driven_by_the_input_current():
    """No input weights: the first layer's spikes are a Leaky neuron run on each input line
    (checked against a hand-written loop), and the readout is linear in their rates."""
    cfg = family_config({"family": "band_power"}, 4, 2)
    assert _types(cfg) == ["leaky", "linear", "leaky"]
    assert cfg["layers"][2]["reset_mechanism"] == "none"
    mx.random.seed(0)
    model = build_model(cfg)
    rng = np.random.default_rng(0)
    current = rng.standard_normal((30, 3, 4)).astype(np.float32) * np.array([0.2, 1, 2, 4])
    out = model(mx.array(current))
    spikes = np.asarray(out["layer_spikes"][0])
    mem = np.zeros((3, 4))
    expected = np.zeros_like(spikes)
    for t in range(30):  # Leaky, subtract reset, reset applied at the next step
        reset = (mem > 1.0).astype(float)
        mem = 0.9 * mem + current[t] - reset * 1.0
        expected[t] = mem > 1.0
    np.testing.assert_array_equal(spikes, expected)
    rates = spikes.mean(axis=(0, 1))
    assert rates[0] < rates[3]  # larger amplitude, more spikes
    hidden = family_config({"family": "band_power", "hidden": 16, "dropout": 0.1}, 4, 3)
    assert _types(hidden) == ["linear", "leaky", "dropout", "linear", "leaky"]
    with pytest.raises(ConfigError, match="neuron type"):
        family_config({"family": "band_power", "neuron": {"type": "rleaky"}}, 4, 2)


def test_too_few_steps_for_the_pooling_names_the_need():
    """A window shorter than the families' pooling needs is refused up front with the
    number of steps it needs (it failed inside the second pooling layer, naming neither
    the window nor the family's options)."""
    from eegsnn.model.network import min_num_steps

    eegnet = build_model(family_config({"family": "spiking_eegnet"}, 4, 2))
    assert eegnet.min_num_steps == 4 * 8
    eegnet.eval()
    assert eegnet(mx.zeros((32, 1, 4)))["logits"].shape == (1, 2)
    with pytest.raises(ConfigError, match=r"16 time steps .* 4 then 8 steps\) needs at "
                                          r"least 32"):
        eegnet(mx.zeros((16, 1, 4)))
    shallow = family_config({"family": "spiking_shallow", "pool_steps": 10,
                             "pool_stride_steps": 5}, 4, 2)
    assert min_num_steps(shallow) == 10  # floor((T - 10) / 5) + 1 >= 1
    two = {"layers": [{"type": "avgpool_time", "kernel_size": 10, "stride": 5},
                      {"type": "avgpool_time", "kernel_size": 3}]}
    assert min_num_steps(two) == (3 - 1) * 5 + 10
