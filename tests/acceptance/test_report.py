"""Reports from a run folder built by hand: numbers, CIs, baseline column, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.energy import describe, synops
from eegsnn.model import build_model
from eegsnn.pipeline.metrics import fold_summary, full_report
from eegsnn.report import build_report, write_report


def _run_dir(tmp_path, with_baseline=True, folds=2):
    y = np.array([0] * 4 + [1] * 4)
    proba = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] + [[0.3, 0.7]] * 4)  # 7 / 8 right
    snn = full_report(y, proba, ["rest", "seizure"], "seizure")
    base = full_report(y, np.array([[0.6, 0.4]] * 8), ["rest", "seizure"], "seizure")
    fold_reports = [dict(snn, train_class_counts={"rest": 4, "seizure": 2},
                         train_class_counts_balanced={"rest": 4, "seizure": 4},
                         test_class_counts={"rest": 4, "seizure": 4})] * folds
    metrics = {
        "study": "demo", "pipeline": "seizure_detection", "n_folds": folds,
        "split": {"method": "kfold", "by": "recording"}, "class_names": ["rest", "seizure"],
        "balance": "oversample", "class_counts": {"rest": 8, "seizure": 6},
        "snn": {"pooled": snn, "folds": fold_reports,
                "summary": {"accuracy": fold_summary([0.8, 0.95])},
                "firing_rates": {"layers.1.leaky": 0.12}},
    }
    if with_baseline:
        metrics["baseline"] = {"type": "spectral", "pooled": base, "folds": [base] * folds,
                               "summary": {"accuracy": fold_summary([0.5, 0.5])}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "data.json").write_text(json.dumps({
        "source": "data/demo.yaml", "manifest": {"name": "demo", "path": "data/demo.yaml",
                                                 "sha256": "ab" * 32, "license": "CC-BY",
                                                 "citation": ["Someone 2001"]},
        "n_recordings": 4, "n_windows": 14, "ch_names": ["Cz"], "sfreq_hz": 100.0,
        "window_s": 2.0, "n_samples": 200, "class_names": ["rest", "seizure"],
        "files": [{"path": f"r{i}.edf", "sha256": "cd" * 32} for i in range(20)]}))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"name": "demo",
                                                          "pipeline": "seizure_detection",
                                                          "description": "A demo study."}))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "raster.npz", input=(rng.random((20, 6)) < 0.2).astype(np.float32),
             layer0=(rng.random((20, 8)) < 0.1).astype(np.float32), recording="r1.edf",
             **{"class": "seizure"})
    return tmp_path


def test_report_numbers_intervals_and_baseline(tmp_path):
    run = _run_dir(tmp_path)
    md = build_report(run, "md")
    # accuracy 7/8 with its Wilson interval [0.529, 0.978]
    assert "| accuracy | 87.5 % [52.9, 97.8] | 50.0 % [21.5, 78.5] |" in md
    assert "| sensitivity (seizure) | 100.0 % [51.0, 100.0] | 0.0 % [0.0, 49.0] |" in md
    assert "baseline: spectral" in md and "Across folds" in md
    # t-interval of the fold values (0.8, 0.95): 0.875 +- 12.706 * 0.075, clipped to [0, 1]
    lo, hi = fold_summary([0.8, 0.95])["ci95"]
    assert lo == pytest.approx(0.875 - 12.7062 * 0.075, abs=1e-3) and hi > 1
    assert "| accuracy | 87.5 % [0.0, 100.0] | 50.0 % [50.0, 50.0] |" in md
    assert "| seizure | 6 | 4 | 8 | 8 |" in md  # class balance summed over 2 folds
    assert "Someone 2001" in md and "... and 8 more" in md
    assert "![SNN confusion matrix](plots/confusion.png)" in md
    assert (run / "plots" / "roc.png").is_file() and (run / "plots" / "raster.png").is_file()


def test_html_is_self_contained_and_escaped(tmp_path):
    run = _run_dir(tmp_path, with_baseline=False, folds=1)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["description"] = "<script>x</script>"
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (path,) = write_report(run, "html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script>" not in text
    assert text.count("data:image/png;base64,") >= 3
    assert "baseline:" not in text and "Across folds" not in text


def test_report_without_matplotlib_says_so(tmp_path, monkeypatch):
    import sys

    run = _run_dir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    md = build_report(run, "md")
    assert "figure not available" in md and "eegsnn[plot]" in md


def test_report_errors(tmp_path):
    with pytest.raises(DataError, match=r"metrics\.json is missing"):
        build_report(tmp_path)
    run = _run_dir(tmp_path)
    with pytest.raises(ConfigError, match="format"):
        build_report(run, "pdf")
    with pytest.raises(ConfigError, match="one file"):
        write_report(run, "both", out=tmp_path / "r.html")


def test_report_names_layers_shows_seconds_and_hides_machine_paths(tmp_path):
    """One name per layer (model_config.json), no rate for the integrator output, AUC as a
    number, a table of contents, and no absolute path or list repr of data.json/config."""
    run = _run_dir(tmp_path)
    (run / "model").mkdir()
    (run / "model" / "model_config.json").write_text(json.dumps({
        "layers": [{"type": "linear", "in_features": 6, "out_features": 8},
                   {"type": "leaky"}, {"type": "linear", "in_features": 8, "out_features": 2},
                   {"type": "leaky", "reset_mechanism": "none"}], "readout": "mean"}))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["snn"]["firing_rates"] = {"layers.1.leaky": 0.12, "layers.3.leaky": 0.4}
    (run / "metrics.json").write_text(json.dumps(metrics))
    data = json.loads((run / "data.json").read_text())
    home = "/home/alice/private"
    data.update(source=[f"{home}/a.edf", f"{home}/b.edf"], manifest=None,
                files=[{"path": f"{home}/a.edf", "sha256": "ab" * 32}])
    (run / "data.json").write_text(json.dumps(data))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg.update(data={"source": [f"{home}/a.edf", f"{home}/b.edf"]},
               cache_dir=f"{home}/cache", encoder={"method": "delta", "spikes_per_s": 10})
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    rng = np.random.default_rng(0)
    np.savez(run / "raster.npz", input=(rng.random((20, 6)) < 0.2).astype(np.float32),
             layer0=(rng.random((20, 8)) < 0.1).astype(np.float32),
             layer1=(rng.random((20, 2)) < 0.5).astype(np.float32),
             membrane=rng.standard_normal((20, 2)).astype(np.float32),
             recording=f"{home}/a.edf", **{"class": "seizure"})
    md = build_report(run, "md")
    html_text = build_report(run, "html")
    for text in (md, html_text):
        assert home not in text and "['" not in text and "layers.1.leaky" not in text
    assert "| source | a.edf, b.edf |" in md and "| a.edf | " + "ab" * 32 + " |" in md
    assert "source:\n  - a.edf\n  - b.edf" in md and "cache_dir: cache" in md
    # the hidden layer by its name, in Hz as well (2 s windows of 20 steps: 0.1 s per step)
    assert "| hidden 1 (Leaky, 8) | 0.1200 | 1.20 |" in md
    assert "output (Leaky integrator, 2) does not spike" in md and "| 0.4000 |" not in md
    assert "20 steps of 100 ms over the 2 s window" in md
    # AUC a number, accuracy a percentage; the contents link every section
    assert "| ROC-AUC (seizure vs rest) | 0.750 | 0.500 |" in md
    assert "| ROC-AUC (one vs rest, macro) | 0.750 | 0.500 |" in md
    assert "1. [Study](#study)" in md and '<a id="roc-curve"></a>' in md
    assert '<nav id="contents"' in html_text and 'href="#spiking-activity"' in html_text
    assert 'id="spiking-activity"' in html_text
    assert "<th></th>" not in html_text


def test_energy_section_names_the_synapses_by_layer_in_microjoules(tmp_path):
    """The synaptic-operation rows are named by the neuron layer they feed (the names of
    the rest of the report), energies in µJ."""
    run = _run_dir(tmp_path)
    model_cfg = {"input_shape": [6], "readout": "mean", "layers": [
        {"type": "linear", "out_features": 8}, {"type": "leaky"},
        {"type": "linear", "out_features": 2}, {"type": "leaky", "reset_mechanism": "none"}]}
    ops = synops(build_model(model_cfg), (np.random.default_rng(1).random((20, 5, 6)) < 0.3)
                 .astype(np.float32))
    (run / "model").mkdir()
    (run / "model" / "model_config.json").write_text(json.dumps(
        build_model(model_cfg).config, default=list))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["snn"]["synops"] = ops
    (run / "metrics.json").write_text(json.dumps(metrics))
    md = build_report(run, "md")
    assert describe(ops, micro="µ") in md and "uJ" not in md
    assert f"counted on {ops['n_predictions']} of the 8 held-out windows" in md
    rows = [line for line in md.splitlines() if line.startswith("| into ")]
    assert [r.split(" | ")[:3] for r in rows] == [
        ["| into hidden 1 (Leaky, 8)", "linear", "spikes"],
        ["| into output (Leaky integrator, 2)", "linear", "spikes"]]
    assert f"| {ops['per_layer'][0]['ac']:.4g} |" in rows[0]


def test_headline_intervals_are_over_recordings_wilson_only_secondary(tmp_path):
    """With a recording-level bootstrap the headline brackets are its intervals (exact
    over recordings for a perfect sensitivity), and the window Wilson intervals are rows
    named as such; the text says which is which."""
    from eegsnn.evaluate.stats import clopper_pearson
    from eegsnn.pipeline.metrics import window_statistics

    run = _run_dir(tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    y = np.array([0] * 4 + [1] * 4)
    proba = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] + [[0.3, 0.7]] * 4)
    rec = np.array([f"r{i}" for i in range(8)])  # one window per recording
    stats = window_statistics(y, proba, ["rest", "seizure"], 1, rec)
    metrics["snn"]["pooled"].update(stats)
    (run / "metrics.json").write_text(json.dumps(metrics))
    md = build_report(run, "md")
    acc = stats["bootstrap"]["metrics"]["accuracy"]["ci95"]
    assert f"| accuracy | 87.5 % [{100 * acc[0]:.1f}, {100 * acc[1]:.1f}] |" in md
    lo, _ = clopper_pearson(4, 4)  # 4 positive recordings, all right
    assert f"| sensitivity (seizure) | 100.0 % [{100 * lo:.1f}, 100.0] |" in md
    assert ("| accuracy, window-level Wilson interval (windows as independent) | "
            "87.5 % [52.9, 97.8] |") in md
    assert "brackets are 95 % intervals over the 8 held-out recordings (cluster bootstrap" in md
    assert "95 % Wilson intervals." not in md
    assert "exact Clopper-Pearson (degenerate bootstrap; n = 4 recordings)" in md
