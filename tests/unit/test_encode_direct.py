"""The ``direct`` input path and spatial filters (CSP fitted on training windows)."""

from __future__ import annotations

import json
import warnings

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.encode import EEGEncoder
from eegsnn.encode.spatial import (
    apply_spatial_filter,
    fit_spatial_filter,
    validate_spatial_filter,
)
from eegsnn.errors import ConfigError, DataError

SFREQ = 160.0


def _two_class_windows(seed: int = 0, n: int = 40, c: int = 6, samples: int = 320):
    """Class 1 has 3x the variance of class 0 along one hidden spatial direction."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, c, samples))
    y = np.repeat([0, 1], n // 2)
    direction = np.zeros(c)
    direction[[1, 3]] = [1.0, -1.0]
    source = rng.standard_normal((n, samples)) * np.where(y == 1, 3.0, 0.3)[:, None]
    X = X + direction[None, :, None] * source[:, None, :]
    return X.astype(np.float32), y


def test_direct_is_the_standardised_signal_times_gain_binned():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 4, 320)).astype(np.float32) * 5 + 2
    enc = EEGEncoder("direct", spikes_per_s=80, sfreq_hz=SFREQ, gain=2.0).fit(X)
    out = np.asarray(enc.transform(X))
    assert out.shape == (160, 3, 4) and out.dtype == np.float32
    mean = X.astype(np.float64).mean(axis=(0, 2))
    std = X.astype(np.float64).std(axis=(0, 2))
    z = 2.0 * (X - mean[None, :, None]) / std[None, :, None]
    expected = np.transpose(z.reshape(3, 4, 160, 2).mean(-1), (2, 0, 1))  # 2 samples per step
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert [r["kind"] for r in enc.layout] == ["analog"] * 4
    with pytest.raises(ConfigError, match="no spike decoder"):
        enc.decode(out)



def test_fit_warns_when_the_time_bins_average_the_rhythm_away():
    """A 20 Hz rhythm at 160 Hz averaged over 8-sample bins (20 steps/s) keeps a few per
    cent of its variance: a silent input to the network, so fit warns with the fix; at
    80 steps/s (2 samples per bin) it keeps cos^2(pi 20/160) = 85 %, and a 2 Hz rhythm
    survives 20 steps/s."""
    t = np.arange(640) / SFREQ
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, (8, 3, 1))
    fast = np.sin(2 * np.pi * 20.0 * t + phase).astype(np.float32)
    with pytest.warns(UserWarning, match=r"rec\.edf: EEGEncoder \(direct\): averaging 8 "
                      r"samples per time step keeps only [0-9] % .* \(20 steps/s\)"):
        enc = EEGEncoder("direct", spikes_per_s=20, sfreq_hz=SFREQ).fit(fast, source="rec.edf")
    assert enc.variance_kept_ < 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = EEGEncoder("direct", spikes_per_s=80, sfreq_hz=SFREQ).fit(fast)
        assert enc.variance_kept_ == pytest.approx(np.cos(np.pi * 20 / 160) ** 2, abs=0.01)
        # saved with the encoder (encoder.json), read back; absent in older files: None
        config = enc.to_config()
        assert EEGEncoder.from_config(config).variance_kept_ == enc.variance_kept_
        del config["state"]["variance_kept"]
        assert EEGEncoder.from_config(config).variance_kept_ is None
        slow = np.sin(2 * np.pi * 2.0 * t + phase).astype(np.float32)
        assert EEGEncoder("direct", spikes_per_s=20, sfreq_hz=SFREQ).fit(
            slow).variance_kept_ > 0.95
        assert EEGEncoder("direct", sfreq_hz=SFREQ).fit(fast).variance_kept_ is None
    import mne  # a continuous recording is binned whole, and checked the same way

    raw = mne.io.RawArray(fast[0].astype(np.float64),
                          mne.create_info(3, SFREQ, "eeg"), verbose="error")
    with pytest.warns(UserWarning, match="keeps only"):
        assert EEGEncoder("direct", spikes_per_s=20).fit(raw).variance_kept_ < 0.05
        assert EEGEncoder("delta", spikes_per_s=20, sfreq_hz=SFREQ).fit(
            fast).variance_kept_ is None  # (event codes count, they do not average)

def test_csp_finds_the_discriminative_direction():
    X, y = _two_class_windows()
    filters = fit_spatial_filter(X, y, {"type": "csp", "n_components": 2})
    assert filters.shape == (2, 6)
    # one of the first two filters projects mostly onto the channels 1 and 3 (opposite sign)
    share = np.abs(filters) / np.abs(filters).sum(axis=1, keepdims=True)
    best = filters[np.argmax(share[:, 1] + share[:, 3])]
    weight = np.abs(best) / np.abs(best).sum()
    assert weight[1] + weight[3] > 0.8 and np.sign(best[1]) != np.sign(best[3])
    projected = apply_spatial_filter(filters, X)
    assert projected.shape == (40, 2, 320)
    log_var = np.log(projected.var(axis=2))
    separation = [abs(log_var[y == 1, k].mean() - log_var[y == 0, k].mean()) for k in range(2)]
    assert max(separation) > 2.0  # log of the ~(3 / 0.3)^2 variance ratio along w


def test_encoder_with_csp_round_trips_and_uses_only_training_labels():
    X, y = _two_class_windows()
    enc = EEGEncoder("direct", spikes_per_s=80, sfreq_hz=SFREQ,
                     spatial_filter={"type": "csp", "n_components": 3}).fit(X[:30], y[:30])
    out = enc.transform(X)
    assert out.shape == (160, 40, 3)
    assert enc.source_names == ["csp1", "csp2", "csp3"]
    assert [r["channel"] for r in enc.layout] == ["csp1", "csp2", "csp3"]
    config = json.loads(json.dumps(enc.to_config()))
    again = EEGEncoder.from_config(config)
    np.testing.assert_array_equal(np.asarray(again.transform(X)), np.asarray(out))
    # a filter bank gets one CSP per band (filter-bank CSP); a spike code works on top
    fb = EEGEncoder("delta", threshold=1.0, sfreq_hz=SFREQ, bands=[["mu", 8, 13],
                                                                    ["beta", 13, 30]],
                    spatial_filter={"type": "csp", "n_components": 2}).fit(X, y)
    assert fb.filters_.shape == (2, 2, 6)
    assert fb.transform(X).shape == (320, 40, 2 * 2 * 2)  # components x bands x ON/OFF


def test_csp_component_order_alternate_takes_the_extremes_in_turn():
    """The classical two-class CSP order (Ramoser et al. 2000): the filters of the largest
    and the smallest class-1 / class-0 variance ratio, then the next two...;
    MNE's default (mutual information) is left out of the spec, so earlier encoders keep
    their parameters."""
    rng = np.random.default_rng(3)
    n, c, samples = 60, 8, 256
    X = rng.standard_normal((n, c, samples))
    y = np.repeat([0, 1], n // 2)
    for channel, cls, scale in ((2, 1, 4.0), (5, 0, 2.5), (6, 1, 1.6)):  # graded effects
        X[y == cls, channel] *= scale
    filters = fit_spatial_filter(X, y, {"type": "csp", "n_components": 4,
                                        "component_order": "alternate"})
    projected = apply_spatial_filter(filters, X).astype(np.float64)
    ratio = projected[y == 1].var(axis=(0, 2)) / projected[y == 0].var(axis=(0, 2))
    # the two extremes first (one per class: ratios on both sides of 1), then the next two
    assert {ratio[0], ratio[1]} == {max(ratio), min(ratio)}
    assert min(ratio[:2]) < 1.0 < max(ratio[:2]) and min(ratio[2:]) < 1.0 < max(ratio[2:])
    assert max(ratio[2:]) < max(ratio[:2]) and min(ratio[2:]) > min(ratio[:2])
    assert validate_spatial_filter({"type": "csp"}) == {"type": "csp", "n_components": 6,
                                                        "reg": None}
    assert validate_spatial_filter({"component_order": "alternate"})["component_order"] == \
        "alternate"
    with pytest.raises(ConfigError, match="component_order must be one of mutual_info, "
                                          "alternate, got 'eigen'"):
        validate_spatial_filter({"component_order": "eigen"})
    with pytest.raises(DataError, match="alternate is for two classes; the training windows "
                                        "have 3"):
        fit_spatial_filter(X, np.arange(n) % 3, {"component_order": "alternate"})


def test_spatial_filter_errors():
    X, y = _two_class_windows()
    with pytest.raises(ConfigError, match="training labels"):
        EEGEncoder("direct", spatial_filter={"type": "csp"}).fit(X)
    assert fit_spatial_filter(X, y, {"type": "csp", "n_components": 7}).shape == (6, 6)
    with pytest.raises(DataError, match="two classes"):
        fit_spatial_filter(X, np.zeros(len(y)), {"type": "csp", "n_components": 2})
    with pytest.raises(ConfigError, match="type must be one of"):
        validate_spatial_filter({"type": "ica"})
    with pytest.raises(ConfigError, match="unknown key"):
        validate_spatial_filter({"type": "csp", "components": 2})
    for reg in (True, "ledoit-wolf"):
        with pytest.raises(ConfigError, match="reg must be"):
            validate_spatial_filter({"type": "csp", "reg": reg})
    assert validate_spatial_filter({"type": "csp", "reg": "ledoit_wolf"})["reg"] == "ledoit_wolf"
    with pytest.raises(ConfigError, match="gain must be > 0"):
        EEGEncoder("direct", gain=0.0)
    enc = EEGEncoder("direct", spatial_filter={"type": "csp", "n_components": 2}).fit(X, y)
    config = enc.to_config()
    del config["state"]["filters"]
    with pytest.raises(ConfigError, match="no fitted filters"):
        EEGEncoder.from_config(config)


def test_direct_input_drives_a_spiking_layer():
    """Spikes start in the network: a Leaky layer fed the direct current fires, and fires
    more for the high-variance class (the band-power code CSP + LDA relies on)."""
    from eegsnn.model import build_model

    X, y = _two_class_windows()
    enc = EEGEncoder("direct", num_steps=320, spatial_filter={"type": "csp",
                                                              "n_components": 2}).fit(X, y)
    current = enc.transform(X)
    mx.random.seed(0)
    model = build_model({"input_shape": [2], "layers": [
        {"type": "leaky", "beta": 0.9, "threshold": 1.0},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}], "readout": "mean"})
    counts = np.asarray(model(current)["layer_spikes"][0].sum(axis=(0, 2)))
    assert counts.sum() > 0
    assert abs(counts[y == 1].mean() - counts[y == 0].mean()) > 5 * counts.std() / np.sqrt(20)


def test_on_off_polarity_gives_plus_and_minus_lines():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 3, 160)).astype(np.float32)
    signed = EEGEncoder("direct", num_steps=80).fit(X)
    both = EEGEncoder("direct", num_steps=80, polarity="on_off").fit(X)
    a, b = np.asarray(signed.transform(X)), np.asarray(both.transform(X))
    assert b.shape == (80, 2, 6)
    np.testing.assert_array_equal(b[..., 0::2], a)
    np.testing.assert_array_equal(b[..., 1::2], -a)
    assert [r["kind"] for r in both.layout[:2]] == ["pos", "neg"]
    assert both.layout[2]["channel"] == both.ch_names_[1]
    with pytest.raises(ConfigError, match="polarity"):
        EEGEncoder("direct", polarity="both")


def test_a_list_of_gains_gives_one_copy_of_every_line_per_gain():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 2, 160)).astype(np.float32)
    one = np.asarray(EEGEncoder("direct", num_steps=80, polarity="on_off").fit(X).transform(X))
    enc = EEGEncoder("direct", num_steps=80, polarity="on_off", gain=[0.5, 1, 2]).fit(X)
    out = np.asarray(enc.transform(X))
    assert out.shape == (80, 3, 2 * 3 * 2) and enc.n_lines == 12
    # source-major, then gain (the code's level), then kind: (src, gain, +/-)
    by_line = out.reshape(80, 3, 2, 3, 2)
    for k, g in enumerate((0.5, 1.0, 2.0)):
        np.testing.assert_allclose(by_line[:, :, :, k, :].reshape(one.shape), g * one,
                                   rtol=1e-6, atol=1e-7)
    assert [(r["channel"], r["level"], r["kind"]) for r in enc.layout[:4]] == [
        (enc.ch_names_[0], 0.5, "pos"), (enc.ch_names_[0], 0.5, "neg"),
        (enc.ch_names_[0], 1.0, "pos"), (enc.ch_names_[0], 1.0, "neg")]
    assert enc.layout[6]["channel"] == enc.ch_names_[1]
    again = EEGEncoder.from_config(json.loads(json.dumps(enc.to_config())))
    assert again.gain == [0.5, 1.0, 2.0]
    np.testing.assert_array_equal(np.asarray(again.transform(X)), out)
    # a scalar gain keeps one line per source and kind, with no level
    assert EEGEncoder("direct", gain=np.float32(2)).gain == 2.0
    assert EEGEncoder("direct", gain=np.array(2.0)).gain == 2.0  # 0-d arrays are numbers
    assert EEGEncoder("direct", gain=np.array([0.5, 1.0])).gain == [0.5, 1.0]
    assert one.shape == (80, 3, 4)
    for bad, match in (([], "gain must be > 0"), ([1.0, -1.0], "gain must be > 0"),
                       ("2", "gain must be > 0"), ([1.0, float("nan")], "gain must be > 0"),
                       ([2.0, 1.0], "strictly increasing"), ([1.0, 1.0], "strictly increasing"),
                       (True, "gain must be > 0"), (np.array([[1.0, 2.0]]), "gain must be > 0"),
                       (np.bool_(True), "gain must be > 0")):
        with pytest.raises(ConfigError, match=match):
            EEGEncoder("direct", gain=bad)


def _leaky_by_hand(current: np.ndarray, threshold: float, beta: float = 0.9) -> list[int]:
    """U[t] = beta U[t-1] + I[t] - S[t-1] threshold; S[t] = U[t] > threshold."""
    mem, spike, out = 0.0, 0, []
    for i in current:
        mem = beta * mem + float(i) - spike * threshold
        spike = int(mem > threshold)
        out.append(spike)
    return out


def test_a_neuron_on_the_gain_g_copy_fires_as_one_with_threshold_over_g():
    """Gain ``g`` at threshold 1 is threshold ``1 / g`` on the unscaled current: the copies
    are detectors with thresholds an octave apart (the Leaky layer against a hand loop)."""
    from eegsnn.nn.neurons import Leaky

    rng = np.random.default_rng(5)
    X = (rng.standard_normal((2, 1, 400)) * np.linspace(0.2, 2.0, 400)).astype(np.float32)
    gains = [0.5, 1.0, 2.0]
    one = EEGEncoder("direct", num_steps=200, polarity="on_off").fit(X)
    many = EEGEncoder("direct", num_steps=200, polarity="on_off", gain=gains).fit(X)
    base = np.asarray(one.transform(X))  # [T, B, 2]
    copies = many.transform(X)  # [T, B, 6]: (g, +/-)
    spikes = np.asarray(Leaky(beta=0.9, threshold=1.0).unroll(copies)[0])
    per_threshold = np.asarray(Leaky(beta=0.9, threshold=mx.array(
        np.repeat([1.0 / g for g in gains], 2).astype(np.float32))).unroll(
            mx.array(np.tile(base, (1, 1, 3))))[0])
    np.testing.assert_array_equal(spikes, per_threshold)
    for k, g in enumerate(gains):
        for line in (0, 1):
            hand = _leaky_by_hand(base[:, 0, line], threshold=1.0 / g)
            assert spikes[:, 0, 2 * k + line].astype(int).tolist() == hand
    counts = spikes.sum(axis=(0, 1)).reshape(3, 2).sum(axis=1)
    assert counts[2] > counts[1] > counts[0] > 0  # a higher gain is a lower threshold


def test_report_of_the_direct_code_describes_the_current():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 3, 160)).astype(np.float32)
    enc = EEGEncoder("direct", num_steps=160, sfreq_hz=SFREQ, gain=2.0).fit(X)
    rep = enc.report(X)
    assert "total_spikes" not in rep and "sparsity" not in rep
    current = np.asarray(enc.transform(X))
    assert rep["current_rms"] == pytest.approx(np.sqrt(np.mean(current.astype(np.float64) ** 2)))
    assert rep["current_rms"] == pytest.approx(2.0, rel=0.05)  # gain x one standard deviation
    assert set(rep["current_rms_per_channel"]) == set(enc.ch_names_)
    assert rep["duration_s"] == pytest.approx(1.0)


def test_eegsnn_encode_refuses_the_direct_code(repo_root, tmp_path):
    """There are no spikes to store: a clear error, not the spike writer's complaint."""
    from eegsnn.pipeline.encode import encode_dataset

    config = repo_root / "configs" / "eegmmidb_imagery_lr.yaml"
    with pytest.raises(ConfigError, match="analog current, not spikes"):
        encode_dataset(config, tmp_path / "x", overrides=["encoder.spatial_filter=null"])
    # a CSP fitted with the labels of the windows it encodes would leak them into any
    # cross-validation on the stored dataset: refused, with the fix
    with pytest.raises(ConfigError, match="--encoder-from RUN_DIR"):
        encode_dataset(config, tmp_path / "x", overrides=["encoder.method=delta"])
    assert not list(tmp_path.iterdir())
