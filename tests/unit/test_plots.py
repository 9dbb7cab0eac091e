"""Plotting library: every plot renders to a non-empty PNG without a display; bad input gets
eegsnn errors; a missing matplotlib gives one line (ROC points: tests/unit/test_metrics.py)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)

pytest.importorskip("matplotlib")

from eegsnn.errors import ConfigError, DataError, MissingExtraError
from eegsnn.visualization import (
    confusion_matrix_plot,
    eeg_and_spikes,
    firing_rate_histogram,
    layer_rasters,
    layer_rates_bar,
    membrane_traces,
    reservoir_activity,
    roc_curves_plot,
    roc_plot,
    save_figure,
    spike_raster,
    surrogate_curves,
    surrogate_values,
    training_curves,
    write_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _no_display(monkeypatch):
    """Headless: no DISPLAY, Agg requested; the library must not need pyplot either."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _check_png(fig, path, min_bytes: int = 5000):
    out = save_figure(fig, path)
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > min_bytes
    # not a blank canvas: many distinct pixel values
    from matplotlib.image import imread

    img = imread(out)
    rgb = img[..., :3].sum(axis=-1)
    assert img.shape[0] > 200 and np.unique(rgb[::3, ::3]).size > 20
    assert (rgb < 2.9).mean() > 0.01  # more than 1% of the pixels are not white
    assert not [p for p in os.listdir(out.parent) if p.startswith(".")]  # atomic: no temp
    return img


@pytest.fixture(scope="module")
def eeg_code(shared_data):
    """Two real EEGMMIDB windows (R04, 8 channels, 2 s) and their delta code."""
    from eegsnn.encode import EEGEncoder
    from eegsnn.io import read_recording

    raw = read_recording(shared_data / "eegmmidb" / "S001" / "S001R04.edf").raw
    data = raw.get_data(picks=list(range(8))) * 1e6
    x = np.stack([data[:, 160 * k:160 * k + 320] for k in (10, 20)]).astype(np.float32)
    enc = EEGEncoder("delta", threshold=0.5, sfreq_hz=float(raw.info["sfreq"])).fit(x)
    names = list(raw.ch_names[:8])
    enc.ch_names_ = names
    return x, enc, np.array(enc.transform(x)), names


def test_spike_raster_and_membrane_from_a_real_neuron(tmp_path, eeg_code):
    import mlx.core as mx

    from eegsnn.nn import Leaky

    _, enc, spikes, _ = eeg_code
    assert spikes.sum() > 100
    img = _check_png(spike_raster(spikes, sample=1, dt_s=1 / 160,
                                  line_names=[f"{r['channel']}-{r['kind']}" for r in enc.layout]),
                     tmp_path / "raster.png")
    assert img.mean() < 1.0  # something dark was drawn
    lif = Leaky(beta=0.9, reset_mechanism="subtract")
    drive = mx.array(spikes[:, :, :6] * 0.6)
    spk, mem, _ = lif.unroll(drive)
    _check_png(membrane_traces(mem, spikes=spk, threshold=1.0, neurons=[0, 2, 4]),
               tmp_path / "membrane.png")


def test_eeg_beside_its_spikes(tmp_path, eeg_code):
    x, enc, spikes, names = eeg_code
    fig = eeg_and_spikes(x, spikes, sfreq_hz=160.0, layout=enc.layout, sample=0,
                         channels=[names[0], 3, names[5]])
    _check_png(fig, tmp_path / "eeg_spikes.png")
    # the encoder gives layout, names and rate
    _check_png(eeg_and_spikes(x, spikes, encoder=enc, sample=1), tmp_path / "eeg_enc.png")
    # without a layout the lines are split evenly over the channels
    _check_png(eeg_and_spikes(x[0], spikes[:, 0], sfreq_hz=160.0), tmp_path / "eeg2.png")
    with pytest.raises(ConfigError, match="unknown channel"):
        eeg_and_spikes(x, spikes, sfreq_hz=160.0, layout=enc.layout, channels=["Nope"])
    with pytest.raises(ConfigError, match="layout has"):
        eeg_and_spikes(x, spikes, sfreq_hz=160.0, layout=enc.layout[:-1])


def test_surrogate_curves_show_the_real_backward_pass(tmp_path):
    from eegsnn import surrogate

    x = np.array([-0.2, 0.0, 0.1])
    fwd, bwd = surrogate_values(surrogate.fast_sigmoid(slope=25.0), x)
    np.testing.assert_array_equal(fwd, [0.0, 0.0, 1.0])  # H(0) = 0
    np.testing.assert_allclose(bwd, 1.0 / (1.0 + 25.0 * np.abs(x)) ** 2, rtol=1e-6)
    fwd, bwd = surrogate_values(surrogate.triangular(width=0.5), x)
    np.testing.assert_allclose(bwd, np.maximum(0, 1 - np.abs(x) / 0.5) / 0.5, rtol=1e-6)
    _check_png(surrogate_curves(), tmp_path / "surrogates.png")
    _check_png(surrogate_curves({"fs k=5": surrogate.fast_sigmoid(5.0), "atan": "atan"},
                                x_range=(-2, 2)), tmp_path / "surrogates2.png")
    with pytest.raises(ConfigError, match="increasing"):
        surrogate_curves(x_range=(1, -1))


def test_training_curves_from_history_file(tmp_path):
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5 + 0.05 * e,
                "val_loss": 1.2 / e, "val_accuracy": 0.45 + 0.05 * e} for e in range(1, 6)]
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history))
    _check_png(training_curves(path), tmp_path / "curves.png")
    with pytest.raises(ConfigError, match="empty"):
        training_curves([])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json"):
        training_curves(bad)


def test_confusion_matrix_plot(tmp_path):
    cm = np.array([[30, 5], [8, 27]])
    _check_png(confusion_matrix_plot(cm, class_names=["left", "right"], normalize=True),
               tmp_path / "cm.png")
    _check_png(confusion_matrix_plot(np.diag([3, 4, 5]) + 1), tmp_path / "cm3.png")
    with pytest.raises(ConfigError, match="square"):
        confusion_matrix_plot(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="class names"):
        confusion_matrix_plot(cm, class_names=["a"])


def test_roc_plots(tmp_path):
    from eegsnn.evaluate import roc_auc, roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # ties on purpose
    _check_png(roc_plot(y, s, class_names=["rest", "task"]), tmp_path / "roc.png")
    logits = rng.normal(size=(300, 3)) + np.eye(3)[rng.integers(0, 3, 300)]
    _check_png(roc_plot(rng.integers(0, 3, 300), logits), tmp_path / "roc3.png")
    fpr, tpr, _ = roc_curve(y, s)
    fig = roc_curves_plot({"SNN": {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                                   "auc": roc_auc(y, s)},
                           "baseline": {"fpr": [0, 0.5, 1], "tpr": [0, 0.7, 1], "auc": None}},
                          title="task vs rest")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        f"SNN (AUC {roc_auc(y, s):.3f})", "baseline", "chance"]
    _check_png(fig, tmp_path / "roc_points.png")
    with pytest.raises(ConfigError, match="no curves"):
        roc_curves_plot({})
    with pytest.raises(ConfigError, match="same length"):
        roc_curves_plot({"SNN": {"fpr": [0, 1], "tpr": [0, 0.5, 1]}})


@pytest.mark.parametrize("how", ["points", "scores"])
def test_roc_of_a_perfect_model_stays_visible(tmp_path, how):
    """A perfect model's curve runs along the top edge (tpr = 1): the axes are padded and
    the curve is drawn above the frame, so its colour is what the top of the plot shows."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    if how == "points":
        perfect = {"fpr": [0.0, 0.0, 1.0], "tpr": [0.0, 1.0, 1.0], "auc": 1.0}
        # a baseline just as perfect: the model's curve stays on top of it
        fig = roc_curves_plot({"SNN": perfect, "baseline": perfect})
        base_line = fig.axes[0].get_lines()[1]
        assert fig.axes[0].get_lines()[0].get_zorder() > base_line.get_zorder()
        assert base_line.get_linewidth() > fig.axes[0].get_lines()[0].get_linewidth()
    else:
        y = np.array([0, 0, 0, 1, 1, 1])
        fig = roc_plot(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((-0.02, 1.02))
    assert ax.get_ylim() == pytest.approx((-0.02, 1.02))
    curve = ax.get_lines()[0]
    assert "AUC 1.000" in curve.get_label()
    assert not curve.get_clip_on()
    assert curve.get_zorder() > max(sp.get_zorder() for sp in ax.spines.values())
    path = tmp_path / "perfect.png"
    save_figure(fig, path, dpi=100)
    img = imread(path)[..., :3]
    height = img.shape[0]
    colour = np.array(to_rgb(curve.get_color()))
    for x_data in (0.25, 0.5, 0.75):  # along the top edge, where tpr = 1
        x_px, y_px = ax.transData.transform((x_data, 1.0))
        row, col = int(np.rint(height - y_px)), int(np.rint(x_px))
        patch = img[row - 1:row + 2, col].reshape(-1, 3)
        assert np.min(np.abs(patch - colour).sum(axis=1)) < 0.15, (x_data, patch)


def test_layer_rasters_and_rates_bar_of_a_run_window(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"input": (rng.random((60, 16)) < 0.2).astype(np.float32),
              "layer1": (rng.random((60, 8)) < 0.1).astype(np.float32),
              "layer0": (rng.random((60, 32)) < 0.1).astype(np.float32),
              "class": np.array("seizure")}
    fig = layer_rasters(arrays, title="one window")
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == ["input", "layer0", "layer1"]
    _check_png(fig, tmp_path / "raster.png")
    fig = layer_rates_bar({"layer0": 0.1, "layer1": 0.05})
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([0.1, 0.05])
    _check_png(fig, tmp_path / "rates_bar.png", min_bytes=3000)
    with pytest.raises(ConfigError, match="no 'input'"):
        layer_rasters({"membrane": np.zeros((3, 2))})
    # the direct encoder's analog current is a heat map, not a raster of "spikes"
    current = rng.standard_normal((60, 8)).astype(np.float32)
    fig = layer_rasters({"input": current, "layer0": arrays["layer0"]})
    assert len(fig.axes[0].images) == 1 and not fig.axes[0].collections
    assert "analog input current" in fig.axes[0].get_title(loc="left")
    assert fig.axes[1].collections and not fig.axes[1].images
    _check_png(fig, tmp_path / "raster_direct.png")



def test_layer_rasters_in_seconds_with_names_and_an_integrator_output(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"input": (rng.random((200, 10)) < 0.2).astype(np.float32),
              "layer0": (rng.random((200, 32)) < 0.1).astype(np.float32),
              "layer1": (rng.random((200, 3)) < 0.3).astype(np.float32),
              "membrane": rng.standard_normal((200, 3)).astype(np.float32)}
    fig = layer_rasters(arrays, window_s=4.0, membrane_output="layer1",
                        labels={"input": "encoder output (delta, 10 lines)",
                                "layer0": "hidden 1 (Leaky, 32)",
                                "layer1": "output (Leaky integrator, 3)"},
                        class_names=["healthy", "interictal", "ictal"])
    axes = fig.axes
    assert axes[-1].get_xlabel() == "time (s)"
    assert axes[0].get_xlim() == pytest.approx((0.0, 4.0))
    offsets = axes[1].collections[0].get_offsets()
    assert 0 <= offsets[:, 0].min() and offsets[:, 0].max() < 4.0  # seconds, not steps
    assert [ax.get_ylabel() for ax in axes] == ["encoder output\n(delta, 10 lines)",
                                                "hidden 1\n(Leaky, 32)",
                                                "output\n(Leaky integrator, 3)"]
    # the integrator output: its membrane per class, no raster of threshold crossings
    assert not axes[2].collections
    assert [line.get_label() for line in axes[2].get_lines()] == ["healthy", "interictal",
                                                                  "ictal"]
    _check_png(fig, tmp_path / "raster_s.png")
    with pytest.raises(ConfigError, match="membrane"):
        layer_rasters({"layer0": arrays["layer0"]}, membrane_output="layer0")
    with pytest.raises(ConfigError, match="window_s"):
        layer_rasters(arrays, window_s=0)
    fig = layer_rates_bar({"hidden 1 (Leaky, 32)": 9.0, "hidden 2 (Leaky, 8)": 4.5},
                          unit="Hz")
    assert fig.axes[0].get_ylabel() == "mean firing rate (Hz)"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "hidden 1 (Leaky, 32)", "hidden 2 (Leaky, 8)"]


def test_write_figure_skips_without_matplotlib(tmp_path, monkeypatch):
    out = write_figure(tmp_path / "r.png", layer_rates_bar, {"a": 0.1})
    assert out == tmp_path / "r.png" and out.read_bytes()[:8] == PNG_MAGIC
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert write_figure(tmp_path / "none.png", layer_rates_bar, {"a": 0.1}) is None
    assert not (tmp_path / "none.png").exists()


def test_firing_rate_histogram_and_reservoir_activity(tmp_path):
    rng = np.random.default_rng(0)
    rates = rng.uniform(0, 0.3, 200)
    spikes = (rng.random((100, 4, 200)) < rates).astype(np.float32)
    _check_png(firing_rate_histogram({"hidden": spikes, "output": spikes[..., :10],
                                      "given rates": rates}, dt_s=1e-3),
               tmp_path / "rates.png")
    _check_png(reservoir_activity(spikes, excitatory=160, dt_s=1e-3), tmp_path / "res.png")
    with pytest.raises(ConfigError, match="excitatory mask"):
        reservoir_activity(spikes, excitatory=np.ones(5, bool))


def test_reservoir_activity_of_a_real_reservoir(tmp_path):
    import mlx.core as mx

    from eegsnn.nn.reservoir import Reservoir

    res = Reservoir(n_inputs=4, n_neurons=200, seed=0)
    x = mx.array((np.random.default_rng(1).random((80, 2, 4)) < 0.2).astype(np.float32))
    spikes, _ = res(x)
    exc = np.asarray(res.excitatory)
    assert exc.dtype == bool and 0 < exc.sum() < 200
    _check_png(reservoir_activity(np.array(spikes), excitatory=exc, sample=1),
               tmp_path / "reservoir.png")


def test_bad_shapes_and_formats():
    with pytest.raises(ConfigError, match="spikes must be"):
        spike_raster(np.zeros(5))
    with pytest.raises(ConfigError, match="sample=3"):
        spike_raster(np.zeros((5, 2, 3)), sample=3)
    with pytest.raises(ConfigError, match="out of range"):
        membrane_traces(np.zeros((5, 3)), neurons=[7])
    with pytest.raises(ConfigError, match="image format"):
        save_figure(spike_raster(np.ones((3, 2))), "x.bmp")


def test_missing_matplotlib_gives_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError) as info:
        spike_raster(np.ones((3, 2)))
    assert str(info.value) == "Plotting needs the 'plot' extra: pip install 'eegsnn[plot]'"


def test_importing_the_library_does_not_import_pyplot():
    import subprocess

    code = ("import eegsnn.visualization as v, sys, numpy as np; "
            "v.save_figure(v.spike_raster(np.ones((3, 2))), sys.argv[1]); "
            "print('matplotlib.pyplot' in sys.modules)")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        env = {k: val for k, val in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
        out = subprocess.run([sys.executable, "-c", code, os.path.join(d, "a.png")],
                             capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
