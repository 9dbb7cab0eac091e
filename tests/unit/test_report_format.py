"""The report's pure formatting helpers: one metric format, no Python reprs, no absolute
paths, one name per neuron layer (the rendered report: tests/acceptance/)."""

from __future__ import annotations

import numpy as np
import pytest

from eegsnn.report.report import (
    _encoder_text,
    _preprocess_text,
    as_text,
    display_path,
    format_metric,
    is_score,
    neuron_layers,
    scrub_paths,
)


def test_metrics_are_percentages_and_scores_are_numbers():
    assert format_metric("accuracy", 0.952, (0.899, 0.978)) == "95.2 % [89.9, 97.8]"
    assert format_metric("sensitivity", 1.0) == "100.0 %"
    # AUC and kappa are scores, never "100.0 %"
    assert format_metric("roc_auc", 1.0) == "1.000"
    assert format_metric("roc_auc_ovr_macro", 0.9957, (0.99, 1.0)) == "0.996 [0.990, 1.000]"
    assert format_metric("cohen_kappa", -0.05, (-0.2, 0.1)) == "-0.050 [-0.200, 0.100]"
    assert format_metric("accuracy", None, (0.1, 0.2)) == "n/a"
    assert format_metric("accuracy", float("nan")) == "n/a"
    assert format_metric("accuracy", 0.5, (float("nan"), float("nan"))) == "50.0 %"
    assert is_score("ROC-AUC") and is_score("kappa") and not is_score("balanced_accuracy")


def test_lists_and_mappings_are_text_not_reprs():
    assert as_text(["a.edf", "b.edf"]) == "a.edf, b.edf"
    assert as_text(("C3", "Cz")) == "C3, Cz"
    assert as_text(np.array([1.5, 2.0])) == "1.5, 2"
    assert as_text({"Z": "healthy", "S": "ictal"}) == "Z: healthy; S: ictal"
    assert as_text({"bands": [[0.5, 4.0], [4.0, 8.0]]}) == "bands: 0.5, 4, 4, 8"
    assert as_text(None) == "n/a" and as_text(173.61) == "173.61" and as_text(3) == "3"
    for value in (["x"], {"k": ["v"]}, ("a", "b")):
        assert "[" not in as_text(value) and "'" not in as_text(value)


def test_paths_are_relative_to_the_run_or_bare_file_names(tmp_path):
    run = tmp_path / "runs" / "bonn"
    assert display_path(run / "plots" / "roc.png", run) == "plots/roc.png"
    assert display_path(run, run) == "."
    assert display_path("/home/alice/eeg/bonn_small.yaml", run) == "bonn_small.yaml"
    assert display_path("/home/alice/eeg/bonn_small.yaml") == "bonn_small.yaml"
    assert display_path(f"{run}-other/x.edf", run) == "x.edf"  # not inside the run
    assert display_path("~/data/S001R04.edf") == "S001R04.edf"
    assert display_path("C:\\Users\\alice\\eeg\\a.edf") == "a.edf"
    assert display_path("F/F001.txt", run) == "F/F001.txt"  # relative: as it is
    text = "BLAS: openblas (/home/alice/.venv/lib/libopenblas.so via shim); A+B / C+D"
    assert scrub_paths(text) == "BLAS: openblas (libopenblas.so via shim); A+B / C+D"
    assert scrub_paths(f"written to {run}/report.html", run) == "written to report.html"
    for keep in ("spikes / neuron / step", "runs/bonn/x", "1/2 and km/h", "/x"):
        assert scrub_paths(keep) == keep


def test_one_human_name_per_neuron_layer():
    cfg = {"layers": [{"type": "linear", "in_features": 10, "out_features": 128},
                      {"type": "leaky", "beta": 0.9},
                      {"type": "linear", "in_features": 128, "out_features": 3},
                      {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}],
           "readout": "mean"}
    layers = neuron_layers(cfg)
    assert [(la["rate_key"], la["raster_key"], la["name"], la["spiking"]) for la in layers] == [
        ("layers.1.leaky", "layer0", "hidden 1 (Leaky, 128)", True),
        ("layers.3.leaky", "layer1", "output (Leaky integrator, 3)", False)]
    # a spiking output (count readout, or a reset) keeps its rate; raster sizes win
    spiking = dict(cfg, readout="count")
    assert neuron_layers(spiking, sizes={"layer0": 64})[0]["name"] == "hidden 1 (Leaky, 64)"
    assert neuron_layers(spiking)[1] == {"rate_key": "layers.3.leaky", "raster_key": "layer1",
                                         "spiking": True, "name": "output (Leaky, 3)"}
    lsm = neuron_layers({"reservoir": {"n_neurons": 300}}, "lsm")
    assert lsm == [{"rate_key": "reservoir", "raster_key": "layer0", "spiking": True,
                    "name": "reservoir (300 neurons)"}]
    assert neuron_layers(None) == []


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_contents_anchor_every_section(tmp_path, fmt):
    from eegsnn.report.report import _Doc

    doc = _Doc(fmt, tmp_path)
    doc.h(1, "eegsnn report: x")
    doc.toc()
    for name in ("Study", "Results on held-out data", "ROC curve", "ROC curve"):
        doc.h(2, name)
    doc.h(3, "Whole recordings (25 recordings)")
    out = doc.render("x")
    anchors = ["study", "results-on-held-out-data", "roc-curve", "roc-curve-2",
               "whole-recordings-25-recordings"]
    for anchor in anchors:
        assert f'id="{anchor}"' in out
        assert f'(#{anchor})' in out if fmt == "md" else f'href="#{anchor}"' in out
    assert out.count(doc._TOC) == 0
    if fmt == "html":
        assert out.index('<nav id="contents"') < out.index('id="study"')


def test_statistics_section_names_the_exact_fallback_and_na_per_class(tmp_path):
    """A perfect SNN on a 3-class task with no windows of one class: the report says which
    intervals are exact (degenerate bootstrap) and shows n/a, not 0 or 100 %, for the
    class without windows."""
    from eegsnn.pipeline.metrics import full_report, window_statistics
    from eegsnn.report.report import _Doc, _statistics_section

    names = ["Z", "F", "S"]
    y = np.repeat([0, 1], 30)
    rec = np.repeat(np.arange(12), 5).astype(str)
    proba = np.full((60, 3), 0.05)
    proba[np.arange(60), y] = 0.9
    pooled = full_report(y, proba, names)
    pooled.update(window_statistics(y, proba, names, None, rec))
    doc = _Doc("md", tmp_path)
    _statistics_section(doc, {"snn": {"pooled": pooled}}, names, "SNN")
    out = doc.render("x")
    assert "exact Clopper-Pearson (degenerate bootstrap; n = 12 recordings)" in out
    assert "accuracy, balanced accuracy: exact" in out
    s_row = next(line for line in out.splitlines() if line.startswith("| S |"))
    assert s_row.count("n/a") == 3 and "| 0 |" in s_row


def test_report_marks_too_few_recordings_and_not_estimable_scores(tmp_path):
    """Two recordings: no cluster interval ([n/a], the reason named); a perfect AUC over
    ten recordings: no zero-width [1.000, 1.000], the reason instead."""
    from eegsnn.pipeline.metrics import full_report, window_statistics
    from eegsnn.report.report import _Doc, _statistics_section

    names = ["rest", "seizure"]
    y = np.array([0, 1] * 10)
    proba = np.stack([1 - np.where(y == 1, 0.8, 0.3), np.where(y == 1, 0.8, 0.3)], axis=1)
    proba[0] = [0.4, 0.6]  # one rest window called seizure: accuracy not degenerate
    outs = []
    for rec in (np.repeat(["a", "b"], 10), np.repeat(np.arange(10), 2).astype(str)):
        pooled = full_report(y, proba, names, "seizure")
        pooled.update(window_statistics(y, proba, names, 1, rec))
        doc = _Doc("md", tmp_path)
        _statistics_section(doc, {"snn": {"pooled": pooled}}, names, "SNN")
        outs.append(doc.render("x"))
    few, many = outs
    assert "| accuracy | 95.0 % [n/a] |" in few
    assert "not estimated: only 2 recordings (a cluster bootstrap needs >= 5)" in few
    assert "| ROC-AUC | 1.000 (interval not estimable: every resample gives 1.000) |" in many
    assert "[1.000, 1.000]" not in many


def test_study_table_says_the_preprocessing_and_the_encoder_in_words():
    steps = [{"step": "pick", "channels": ["C3", "Cz", "C4"], "types": None},
             {"step": "bandpass", "l_freq": 8.0, "h_freq": 30.0, "method": "fir"},
             {"step": "bandpass", "l_freq": 0.5, "h_freq": None, "method": "iir"},
             {"step": "notch", "freqs": [50.0], "method": "fir"},
             {"step": "resample", "sfreq": 128.0}, {"step": "reref", "ref": "average"},
             {"step": "crop", "tmin_s": 0.0, "tmax_s": None}]
    assert _preprocess_text(steps) == (
        "pick 3 channels -> band-pass 8-30 Hz -> high-pass 0.5 Hz (IIR) -> notch 50 Hz -> "
        "resample to 128 Hz -> average reference -> crop 0-end s")
    assert _preprocess_text([]) == "none"
    direct = {"method": "direct", "spikes_per_s": 80, "bands": None, "polarity": "on_off",
              "gain": [0.5, 1.0, 2.0],
              "spatial_filter": {"type": "csp", "n_components": 4, "reg": None}}
    assert _encoder_text(direct) == (
        "direct (the signal as input current; spikes start in the first layer), CSP spatial "
        "filters (4 components, fitted on the training windows only), +I and -I lines "
        "(each half-wave to its own neurons), 80 steps per second, gains 0.5, 1, 2")
    delta = {"method": "delta", "spikes_per_s": 40, "gain": 1.0,
             "bands": [["mu", 8, 13], ["beta", 13, 30]]}
    assert _encoder_text(delta) == "delta, filter bank mu 8-13 Hz, beta 13-30 Hz, 40 steps " \
                                   "per second"
