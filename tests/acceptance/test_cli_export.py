"""``eegsnn export RUN OUT.nir`` and the synaptic-operation estimates of a run
(``metrics.json`` ``snn.synops``, the report, ``eegsnn evaluate``), on a tiny run of the
shipped Bonn example (real data)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from eegsnn.cli import main

nir = pytest.importorskip("nir")


@pytest.fixture(scope="module")
def run_dir(repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 "--set", "train.epochs=1", "--set", "encoder.spikes_per_s=25",
                 "--set", "encoder.threshold=0.5", "--set", "model.hidden=[16]",
                 "--set", f"cache_dir={out.parent / 'cache'}",
                 "--out", str(out), "--quiet", "--no-progress"])
    assert code == 0
    return out


def test_export_writes_a_nir_file_that_runs_like_the_run(run_dir, tmp_path, capsys):
    import mlx.core as mx

    from eegsnn.interop.nir import load_nir, simulate_nir
    from eegsnn.pipeline.apply import load_run_model

    out = tmp_path / "net.nir"
    assert main(["export", str(run_dir), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and out.is_file()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temp file left
    graph = nir.read(out)
    meta = json.loads(graph.metadata["eegsnn"])
    assert meta["dt_s"] == 1e-4 and meta["readout"] == "mean" and meta["form"] == "portable"
    assert meta["class_names"] == ["healthy", "interictal", "ictal"]
    assert meta["run"] == "run" and meta["num_steps"] > 0
    assert meta["step_s"] == pytest.approx(1.0 / 25, rel=0.05)  # 25 steps per second
    # the subtract reset of the shipped default neuron travels as a CubaLIF with its loop
    assert any(isinstance(n, nir.CubaLIF) for n in graph.nodes.values())
    _, _, _, model = load_run_model(run_dir)
    net = model.net
    n_in = net.config["input_shape"][0]
    rng = np.random.default_rng(0)
    x = (rng.random((meta["num_steps"], 8, n_in)) < 0.2).astype(np.float32)
    ours = net(mx.array(x))
    back = load_nir(out)(mx.array(x))
    np.testing.assert_array_equal(np.array(back["layer_spikes"][0]),
                                  np.array(ours["layer_spikes"][0]))
    np.testing.assert_array_equal(np.array(back["logits"]).argmax(-1),
                                  np.array(ours["logits"]).argmax(-1))
    # an independent NumPy reading of the NIR graph gives the same readout membrane
    np.testing.assert_allclose(simulate_nir(graph, x), np.array(ours["membrane"]),
                               rtol=1e-4, atol=1e-4)


def test_export_refusals(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), str(tmp_path / "net.h5")]) == 2
    assert "must end in .nir" in capsys.readouterr().err
    assert main(["export", str(tmp_path), str(tmp_path / "net.nir")]) == 3
    assert "not a finished eegsnn run" in capsys.readouterr().err
    assert main(["export", str(run_dir), str(tmp_path / "n.nir"), "--form", "native"]) == 2
    err = capsys.readouterr().err
    assert "subtract" in err and "portable" in err and not (tmp_path / "n.nir").exists()
    # the fix is said in CLI terms, not as a Python argument
    assert "--form portable" in err and "on_unsupported" not in err
    # no silent overwrite, no folders made up
    out = tmp_path / "kept.nir"
    out.write_bytes(b"mine")
    assert main(["export", str(run_dir), str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["export", str(run_dir), str(out), "--overwrite"]) == 0
    assert nir.read(out).nodes
    missing = tmp_path / "no" / "such" / "dir" / "x.nir"
    assert main(["export", str(run_dir), str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    capsys.readouterr()
    assert main(["export", "--help"]) == 0
    assert "--form native" not in capsys.readouterr().out.replace("\n", " ")
    assert main(["export", str(run_dir), str(tmp_path / "n.nir"), "--form", "x"]) == 2


def test_run_records_synaptic_operations_and_energy(run_dir, repo_root, tmp_path, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    ops = metrics["snn"]["synops"]
    assert ops["n_predictions"] > 0
    first, second = ops["per_layer"]
    # this encoder packs several events per step (counts > 1): NeuroBench counts MACs for
    # non-binary input; the hidden layer's spikes give accumulates; zeros are skipped
    with np.load(run_dir / "raster.npz") as z:
        x = z["input"]
    binary = bool(np.all((x == 0) | (np.abs(x) == 1)))
    assert first["input"] == ("spikes" if binary else "analog")
    assert 0 < first["ac" if binary else "mac"] < first["dense_mac"]
    assert second["input"] == "spikes" and 0 < second["ac"] < second["dense_mac"]
    assert ops["per_prediction_ac"] == pytest.approx(second["ac"] + (first["ac"] if binary
                                                                    else 0.0))
    assert ops["energy_pj"] == pytest.approx(0.9 * ops["per_prediction_ac"]
                                             + 4.6 * ops["per_prediction_mac"])
    assert ops["ann_energy_pj"] > ops["energy_pj"]
    assert 0 < ops["activation_sparsity"] < 1
    assert "Horowitz" in ops["assumptions"]["source"]
    fold = json.loads((run_dir / "folds" / "fold-1" / "metrics.json").read_text())
    assert fold["synops"]["per_layer"][0]["type"] == "linear"
    report = (run_dir / "report.html").read_text()
    assert "Synaptic operations and energy" in report
    # rows named by the neuron layer they feed, energy in µJ (the CLI: ASCII uJ)
    assert "<td>into hidden 1 (" in report and "<td>into output (" in report
    assert re.search(r" [\d.]+ [pnµm]?J per prediction", report) and " uJ" not in report
    s_folder = repo_root / "examples" / "bonn_small" / "S"
    assert main(["evaluate", str(run_dir), str(s_folder), "--out", str(tmp_path / "e"),
                 "--allow-overlap"]) == 0
    assert "energy:" in capsys.readouterr().out
    ev = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert ev["synops"]["n_predictions"] == 100


def test_export_of_a_layer_nir_lacks_names_the_run(run_dir, tmp_path, monkeypatch, capsys):
    """A model with a layer NIR has no node for (spiking EEGNet's time convolution) is
    refused with the run's name in the one line, and nothing is written."""
    import eegsnn.pipeline.apply as apply
    from eegsnn.model import build_model, family_config

    cfg, record, encoder, model = apply.load_run_model(run_dir)
    model.net = build_model(family_config({"family": "spiking_eegnet"}, 4, 2))
    record = {k: v for k, v in record.items() if k != "n_samples"}
    monkeypatch.setattr(apply, "load_run_model", lambda run: (cfg, record, encoder, model))
    assert main(["export", str(run_dir), str(tmp_path / "n.nir")]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir}: NIR export" in err and "conv_time" in err and err.count("\n") == 1
    assert not (tmp_path / "n.nir").exists()
