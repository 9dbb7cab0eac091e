"""``eegsnn plot RUN_DIR``: figures from a real engine run folder and pipeline-style files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)

pytest.importorskip("matplotlib")

from eegsnn.cli import main
from eegsnn.errors import DataError
from eegsnn.visualization import plot_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def engine_run(tmp_path_factory):
    """A run folder written by eegsnn.train.fit on a small separable spike dataset."""
    from eegsnn.train import ArrayDataset, fit

    rng = np.random.default_rng(0)
    n, t, f = 64, 10, 6
    y = rng.integers(0, 2, n)
    x = (rng.random((t, n, f)) < (0.15 + 0.5 * (np.arange(f)[None] % 2 == y[:, None]))[None]
         ).astype(np.float32)
    run = tmp_path_factory.mktemp("run")
    config = {"input_shape": [f], "layers": [
        {"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.8},
        {"type": "linear", "out_features": 2},
        {"type": "leaky", "beta": 0.8, "reset_mechanism": "none"}], "readout": "final"}
    data = ArrayDataset(x, y, time_major=True)
    fit(config, data.subset(np.arange(48)), {"epochs": 2, "batch_size": 16},
        test=data.subset(np.arange(48, 64)), run_dir=run, progress=False)
    return run


def test_plot_run_on_an_engine_run(engine_run, tmp_path):
    assert (engine_run / "history.json").is_file() and (engine_run / "metrics.json").is_file()
    paths = plot_run(engine_run, tmp_path / "figs")
    names = sorted(p.name for p in paths)
    assert names == ["confusion_matrix.png", "training_curves.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000


def test_cli_plot_with_pipeline_files(engine_run, tmp_path, capsys):
    run = tmp_path / "pipe"
    fold = run / "folds" / "fold-0" / "train"
    fold.mkdir(parents=True)
    (fold / "history.json").write_text((engine_run / "history.json").read_text())
    cm = [[20, 4], [6, 18]]
    (run / "metrics.json").write_text(json.dumps(
        {"class_names": ["left", "right"], "snn": {"pooled": {"confusion_matrix": cm}}}))
    rng = np.random.default_rng(1)
    with open(run / "folds" / "fold-0" / "predictions.csv", "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["recording", "onset_s", "true", "predicted", "p_left", "p_right"])
        for i in range(48):
            true = "left" if i % 2 else "right"
            p = float(np.clip(rng.normal(0.65 if true == "right" else 0.35, 0.2), 0, 1))
            w.writerow(["r.edf", i, true, "right" if p > 0.5 else "left", 1 - p, p])
    np.savez_compressed(run / "raster.npz",
                        input=(rng.random((50, 30)) < 0.2).astype(np.float32),
                        layer0=(rng.random((50, 16)) < 0.1).astype(np.float32),
                        layer1=(rng.random((50, 2)) < 0.3).astype(np.float32),
                        membrane=rng.normal(size=(50, 2)).astype(np.float32))
    assert main(["plot", str(run)]) == 3  # run files without status/integrity: refused
    assert "not a finished run" in capsys.readouterr().err
    from eegsnn.pipeline.integrity import record_integrity
    from eegsnn.pipeline.runstate import mark_ended

    mark_ended(run, integrity=record_integrity(run))  # as a finished run leaves it
    (run / "plots").mkdir()
    report_figures = {"roc.png": b"report's ROC", "firing_rates.png": b"report's rates"}
    for name, content in report_figures.items():  # the report's, which report.md links
        (run / "plots" / name).write_bytes(content)
    assert main(["plot", str(run), "--dt-s", "0.00625"]) == 0
    out = capsys.readouterr().out
    made = sorted(p.name for p in (run / "plots").iterdir() if p.name not in report_figures)
    assert made == ["confusion_matrix.png", "firing_rate_histogram.png", "membrane.png",
                    "raster_input.png", "raster_layer0.png", "raster_layer1.png",
                    "roc_per_class.png", "training_curves_folds_fold-0.png"]
    assert out.count("wrote ") == len(made)
    for name, content in report_figures.items():  # plot overwrote the report's roc.png
        assert (run / "plots" / name).read_bytes() == content
    assert main(["plot", str(run), "--only", "roc", "--format", "svg", "--out",
                 str(tmp_path / "svg")]) == 0
    assert (tmp_path / "svg" / "roc_per_class.svg").read_text().lstrip().startswith("<?xml")


def test_plot_errors(tmp_path, capsys):
    with pytest.raises(DataError, match="not found"):
        plot_run(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["plot", str(empty)]) == 3  # DataError exit code, one line
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing to plot" in err and err.count("\n") == 1
    assert main(["plot", str(empty), "--only", "bogus"]) == 2


def test_plot_run_rasters_in_seconds_from_the_run_window(tmp_path, monkeypatch):
    """Without --dt-s a pipeline run's rasters take their time axis from data.json's window
    length: each array's steps span the window (a 4 s window of 50 steps: 80 ms a step)."""
    import eegsnn.visualization.run as run_module

    rng = np.random.default_rng(2)
    np.savez_compressed(tmp_path / "raster.npz",
                        input=(rng.random((50, 6)) < 0.2).astype(np.float32),
                        layer0=(rng.random((25, 4)) < 0.3).astype(np.float32))
    (tmp_path / "data.json").write_text(json.dumps({"window_s": 4.0}))
    seen = {}
    real = run_module.spike_raster

    def spy(value, *, dt_s=None, **kwargs):
        seen[value.shape[0]] = dt_s
        return real(value, dt_s=dt_s, **kwargs)

    monkeypatch.setattr(run_module, "spike_raster", spy)
    plot_run(tmp_path, kinds=("raster",))
    assert seen == {50: pytest.approx(0.08), 25: pytest.approx(0.16)}
    seen.clear()
    plot_run(tmp_path, kinds=("raster",), dt_s=0.01)  # an explicit step length wins
    assert seen == {50: 0.01, 25: 0.01}


def test_plot_run_rates_leave_out_the_integrator_output(tmp_path, monkeypatch):
    """The firing-rate histogram of ``eegsnn plot`` leaves out a non-spiking integrator
    output (no reset, read from its membrane), as the report does: same helper
    (eegsnn.visualization.layers.neuron_layers); a spiking output stays in."""
    import eegsnn.visualization.run as run_module

    rng = np.random.default_rng(3)
    np.savez_compressed(tmp_path / "raster.npz",
                        layer0=(rng.random((20, 8)) < 0.3).astype(np.float32),
                        layer1=(rng.random((20, 2)) < 0.3).astype(np.float32))
    layers = [{"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.9},
              {"type": "linear", "out_features": 2},
              {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]
    (tmp_path / "model").mkdir()
    cfg_path = tmp_path / "model" / "model_config.json"
    cfg_path.write_text(json.dumps({"input_shape": [4], "layers": layers, "readout": "final"}))
    seen = []
    real = run_module.firing_rate_histogram

    def spy(layer_spikes, **kwargs):
        seen.append(sorted(layer_spikes))
        return real(layer_spikes, **kwargs)

    monkeypatch.setattr(run_module, "firing_rate_histogram", spy)
    plot_run(tmp_path, kinds=("rates",))
    assert seen == [["layer0"]]
    # a count readout: the output spikes, so its rate is drawn
    cfg_path.write_text(json.dumps({"input_shape": [4], "layers": layers, "readout": "count"}))
    plot_run(tmp_path, kinds=("rates",))
    assert seen[-1] == ["layer0", "layer1"]
