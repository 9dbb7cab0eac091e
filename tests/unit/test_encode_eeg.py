"""EEGEncoder on real recordings (EEGMMIDB S001 EDF, Bonn segments) and on bad input."""

from __future__ import annotations

import itertools
import json

import mlx.core as mx
import numpy as np
import pytest
from scipy import signal

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.encode import EEGEncoder, filter_bank, send_on_delta_counts
from eegsnn.errors import ConfigError, DataError

SFREQ = 160.0


@pytest.fixture(scope="module")
def raw(shared_data):
    mne = pytest.importorskip("mne")
    path = shared_data / "eegmmidb" / "S001" / "S001R03.edf"
    return mne.io.read_raw_edf(path, preload=True, verbose="error")


@pytest.fixture(scope="module")
def windows(raw):
    """Three 4-s windows of 8 channels, [B=3, C=8, N=640] in volts."""
    data = raw.get_data()[:8].astype(np.float32)
    n = 640
    return np.stack([data[:, i * n : (i + 1) * n] for i in (2, 5, 9)])


@pytest.fixture(scope="module")
def bonn(shared_data):
    z = np.loadtxt(shared_data / "bonn" / "Z" / "Z001.txt")
    s = np.loadtxt(shared_data / "bonn" / "S" / "S001.txt")
    return np.stack([z, s])[:, None, :].astype(np.float32)  # [2, 1, 4097]


# ------------------------------------------------------------------------------------ rate


def test_rate_follows_signal_within_binomial_tolerance(windows):
    enc = EEGEncoder("rate", num_steps=160, rate_sigma=3.0).fit(windows)
    x = windows[:2]
    keys = mx.random.split(mx.random.key(0), 300)
    mean = sum(np.asarray(enc.transform(x, key=k), dtype=np.float64) for k in keys) / len(keys)
    z = (x - enc.mean_[None, :, 0, None]) / enc.std_[None, :, 0, None]
    p = np.clip(0.5 + z / 6.0, 0.0, 1.0).reshape(2, 8, 160, 4).mean(-1)  # 4 samples per bin
    p = np.transpose(p, (2, 0, 1))  # [T, B, C]
    sd = np.sqrt(p * (1 - p) / len(keys))
    assert np.all(np.abs(mean - p) <= 5 * sd + 1e-9)
    # the rate follows the signal: it varies over time like the signal does (a per-window
    # average rate, as in mlx-snn 0.5, would be constant over time)
    corr = [np.corrcoef(mean[:, 0, c], p[:, 0, c])[0, 1] for c in range(8)]
    assert min(corr) > 0.9
    assert np.std(p, axis=0).min() > 0.02


def test_rate_reproducible_and_key_dependent(windows):
    enc = EEGEncoder("rate", seed=5).fit(windows)
    a = np.asarray(enc.transform(windows))
    b = np.asarray(enc.transform(windows))
    c = np.asarray(enc.transform(windows, key=6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (640, 3, 8)


# ------------------------------------------------------------------------------------ delta


def test_delta_decodes_within_threshold_and_snr_rises_as_threshold_falls(windows):
    snrs = []
    for thr in (1.0, 0.5, 0.25, 0.1):
        enc = EEGEncoder("delta", threshold=thr).fit(windows)
        spikes = enc.transform(windows)
        ref, est = enc.reference(windows), enc.decode(spikes)
        err = np.abs(ref - est) / enc.std_[None, :, :, None]
        assert err.max() < thr * (1 + 1e-4)
        snrs.append(enc.report(windows, spikes)["snr_db"])
    assert all(a < b for a, b in itertools.pairwise(snrs)), snrs
    assert snrs[-1] > 20.0


def test_threshold_snr_rises_as_levels_get_denser(windows):
    snrs = []
    for k in (3, 7, 15, 31):
        enc = EEGEncoder("threshold", levels=k, level_range=3.0).fit(windows)
        spikes = enc.transform(windows)
        assert spikes.shape == (640, 3, 8 * k * 2)
        assert float(mx.max(spikes).item()) == 1.0  # one event per line per sample at T = N
        snrs.append(enc.report(windows, spikes)["snr_db"])
    assert all(a < b for a, b in itertools.pairwise(snrs)), snrs


def test_threshold_decoding_exact_inside_levels(windows):
    enc = EEGEncoder("threshold", levels=[-1.0, 0.0, 1.0]).fit(windows)
    ref = enc.reference(windows)
    est = enc.decode(enc.transform(windows))
    z = (ref - enc.mean_[None, :, :, None]) / enc.std_[None, :, :, None]
    zhat = (est - enc.mean_[None, :, :, None]) / enc.std_[None, :, :, None]
    band = np.digitize(z, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(zhat, np.array([-1.5, -0.5, 0.5, 1.5])[band], atol=1e-5)


def test_delta_lines_match_independent_filter_and_layout(windows):
    enc = EEGEncoder("delta", threshold=0.3, bands="default", sfreq_hz=SFREQ).fit(windows)
    spikes = np.asarray(enc.transform(windows))
    layout = enc.layout
    assert spikes.shape == (640, 3, 8 * 5 * 2) == (640, 3, len(layout))
    assert layout[0] == {"line": 0, "channel": "ch0", "band": "delta", "kind": "on", "level": None}
    line = next(
        r["line"] for r in layout if (r["channel"], r["band"], r["kind"]) == ("ch3", "alpha", "off")
    )
    assert line == (3 * 5 + 2) * 2 + 1
    # independent computation of that line: scipy band-pass, z-score, send-on-delta
    sos = signal.butter(4, [8.0, 13.0], btype="bandpass", fs=SFREQ, output="sos")
    alpha = signal.sosfiltfilt(sos, windows[:, 3].astype(np.float64), axis=-1)
    z = (alpha - alpha.mean()) / alpha.std()
    _, off = send_on_delta_counts(z.T.astype(np.float32), 0.3)
    np.testing.assert_allclose(spikes[:, :, line], np.asarray(off), atol=0)


def test_filter_bank_passes_band_and_rejects_others():
    t = np.arange(1600) / SFREQ
    x = np.sin(2 * np.pi * 10.0 * t)  # 10 Hz: alpha
    out = filter_bank(x, SFREQ)
    power = (out[:, 200:-200] ** 2).mean(axis=-1)
    assert out.shape == (5, 1600)
    assert np.argmax(power) == 2 and power[2] > 0.4 and power[[0, 4]].max() < 1e-3


# ------------------------------------------------------------------------------------ Bonn


def test_bonn_seizure_emits_more_delta_events_than_healthy(bonn):
    enc = EEGEncoder("delta", threshold=0.25, sfreq_hz=173.61, bands="default").fit(bonn)
    spikes = enc.transform(bonn)
    assert spikes.shape == (4097, 2, 10)
    counts = np.asarray(mx.sum(spikes, axis=(0, 2)))
    assert counts[1] > 2 * counts[0]  # set S (seizure) vs set Z (healthy, eyes open)
    rep = enc.report(bonn, spikes)
    assert rep["snr_db"] > 15.0
    assert sum(rep["spikes_per_channel"].values()) == pytest.approx(rep["total_spikes"])


def test_spikes_per_s_keeps_every_event_when_binning(bonn):
    native = EEGEncoder("delta", threshold=0.2, sfreq_hz=173.61).fit(bonn)
    coarse = EEGEncoder("delta", threshold=0.2, sfreq_hz=173.61, spikes_per_s=50.0).fit(bonn)
    a, b = native.transform(bonn), coarse.transform(bonn)
    assert b.shape[0] == round(4097 * 50.0 / 173.61)
    np.testing.assert_array_equal(np.asarray(mx.sum(a, axis=0)), np.asarray(mx.sum(b, axis=0)))
    strict = EEGEncoder(
        "delta", threshold=0.2, sfreq_hz=173.61, spikes_per_s=50.0, overflow="error"
    ).fit(bonn)
    with pytest.raises(ConfigError, match="num_steps >="):
        strict.transform(bonn)
    max_per_sample = int(np.asarray(mx.max(a)).item())
    up = EEGEncoder("delta", threshold=0.2, num_steps=4097 * max_per_sample, overflow="error").fit(
        bonn
    )
    ups = up.transform(bonn)  # enough steps: 0/1 spikes, nothing lost
    assert float(mx.max(ups).item()) == 1.0
    np.testing.assert_array_equal(np.asarray(mx.sum(ups, axis=0)), np.asarray(mx.sum(a, axis=0)))


# ------------------------------------------------------------------------------------ MNE, config


def test_mne_raw_and_epochs_input(raw):
    mne = pytest.importorskip("mne")
    short = raw.copy().crop(0, 3.0 - 1 / SFREQ)
    enc = EEGEncoder("threshold").fit(short)
    assert enc.sfreq_hz == SFREQ and enc.ch_names_ == short.ch_names
    spikes = enc.transform(short)
    assert spikes.shape == (480, 1, 64 * 5 * 2)
    assert enc.layout[10]["channel"] == short.ch_names[1]
    events = mne.make_fixed_length_events(raw, duration=2.0)[:4]
    epochs = mne.Epochs(
        raw, events, tmin=0, tmax=2.0 - 1 / SFREQ, baseline=None, preload=True, verbose="error"
    )
    assert enc.transform(epochs).shape == (320, 4, 640)
    renamed = short.copy().rename_channels({short.ch_names[0]: "XX"})
    with pytest.raises(DataError, match="channel names differ"):
        enc.transform(renamed)


def test_config_round_trip_rebuilds_exactly(windows):
    for method in ("rate", "delta", "threshold"):
        enc = EEGEncoder(
            method, bands=[("mu", 8, 12), ("beta", 13, 30)], sfreq_hz=SFREQ, num_steps=200, seed=3
        ).fit(windows)
        cfg = json.loads(json.dumps(enc.to_config()))
        again = EEGEncoder.from_config(cfg)
        np.testing.assert_array_equal(
            np.asarray(enc.transform(windows)), np.asarray(again.transform(windows))
        )
        assert again.layout == enc.layout
    with pytest.raises(ConfigError):
        EEGEncoder.from_config({"name": "other"})


# ------------------------------------------------------------------------------------ bad input


def test_bad_input_errors(windows):
    enc = EEGEncoder("delta").fit(windows)
    bad = windows.copy()
    bad[1, 2, 10] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinite samples in channel\(s\) ch2"):
        enc.transform(bad)
    bad[1, 2, 10] = np.inf
    with pytest.raises(DataError, match="ch2"):
        enc.fit(bad)
    with pytest.raises(DataError, match=r"\[B, C, N\]"):
        enc.transform(windows[0, 0])
    with pytest.raises(DataError, match=r"\[B, C, N\]"):
        enc.transform(windows[None])
    with pytest.raises(DataError, match="X has 5 channels, the encoder was fitted on 8"):
        enc.transform(windows[:, :5])
    with pytest.raises(ConfigError, match="fit"):
        EEGEncoder("delta").transform(windows)
    with pytest.raises(ConfigError, match="method"):
        EEGEncoder("poisson")
    with pytest.raises(ConfigError, match="Nyquist"):
        EEGEncoder("rate", bands=[("hi", 60, 90)], sfreq_hz=SFREQ)
    with pytest.raises(ConfigError, match="not both"):
        EEGEncoder("rate", num_steps=10, spikes_per_s=10.0)


def test_short_window_errors(windows):
    banded = EEGEncoder("delta", bands="default", sfreq_hz=SFREQ).fit(windows)
    with pytest.raises(DataError, match="shorter than"):
        banded.transform(windows[:, :, :20])
    sparse = EEGEncoder("delta", spikes_per_s=1.0, sfreq_hz=SFREQ).fit(windows)
    with pytest.raises(DataError, match="no time step"):
        sparse.transform(windows[:, :, :50])


def test_zero_variance_channel_error_or_silence(windows):
    flat = windows.copy()
    flat[:, 4] = 1e-6
    with pytest.raises(DataError, match=r"zero-variance.*ch4"):
        EEGEncoder("rate").fit(flat)
    for method in ("rate", "delta", "threshold"):
        enc = EEGEncoder(method, on_flat="silence").fit(flat)
        spikes = np.asarray(enc.transform(flat))
        lines = [r["line"] for r in enc.layout if r["channel"] == "ch4"]
        assert spikes[:, :, lines].sum() == 0
        others = [r["line"] for r in enc.layout if r["channel"] != "ch4"]
        assert spikes[:, :, others].sum() > 0
        if method != "rate":
            snr = enc.report(flat, spikes)["snr_db_per_channel"]
            assert snr["ch4"] is None and snr["ch3"] > 0


@pytest.mark.parametrize("num_steps", [160, 5, 2])  # 4, 128 and 320 samples per bin
def test_threshold_coarse_bins_equal_native_events_summed(windows, num_steps):
    native = EEGEncoder("threshold", levels=4).fit(windows)
    coarse = EEGEncoder("threshold", levels=4, num_steps=num_steps).fit(windows)
    a = np.asarray(native.transform(windows))
    b = np.asarray(coarse.transform(windows))
    ref = a.reshape(num_steps, 640 // num_steps, *a.shape[1:]).sum(axis=1)
    np.testing.assert_array_equal(b, ref)
    strict = EEGEncoder("threshold", levels=4, num_steps=num_steps, overflow="error")
    with pytest.raises(ConfigError, match="num_steps >= 640"):
        strict.fit(windows).transform(windows)


def test_fit_statistics_match_numpy_across_chunks():
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 5.0, 0.1])[None, :, None]
    offset = np.array([3.0, -2.0, 100.0])[None, :, None]
    x = (rng.standard_normal((150, 3, 200)) * scale + offset).astype(np.float32)  # 3 chunks
    enc = EEGEncoder("delta").fit(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(enc.mean_[:, 0], x64.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(enc.std_[:, 0], x64.std(axis=(0, 2)), rtol=1e-5)


def test_each_method_is_one_code_object(windows):
    """EEGEncoder hands the code to its method's object in eegsnn.encode.codes."""
    from eegsnn.encode import METHODS
    from eegsnn.encode.codes import CODES, DeltaCode, SourceStats, make_code
    from eegsnn.encode.inputs import is_mne

    assert METHODS == tuple(CODES) == ("rate", "delta", "threshold", "direct")
    enc = EEGEncoder("delta", threshold=0.3, num_steps=160).fit(windows)
    code = enc.code
    assert isinstance(code, DeltaCode) and code.kinds == enc.kinds == ("on", "off")
    # the code on its own: z-scored sources [N, B, S] in, the encoder's spikes out
    s = enc.std_.size
    stats = SourceStats(enc.mean_.reshape(s), enc.std_.reshape(s), enc.flat_.reshape(s))
    x = mx.array(np.ascontiguousarray(np.transpose(windows, (2, 0, 1))))
    np.testing.assert_array_equal(np.asarray(code.encode(x, 160, stats)),
                                  np.asarray(enc.transform(windows)))
    assert make_code("direct", {"polarity": "on_off"}).kinds == ("pos", "neg")
    with pytest.raises(ConfigError, match="no spike decoder"):
        make_code("rate", {}).require_decoder()
    with pytest.raises(ConfigError, match="method"):
        make_code("latency", {})
    assert not is_mne(windows)


def test_channel_flat_in_one_recording_is_caught_per_recording():
    """Pooled statistics see channel 1 alive (it varies in recording b); the ``groups``
    check names recording a and the channel, and ``on_flat="silence"`` silences it."""
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 20.0, (8, 3, 64)).astype(np.float32)
    X[:4, 1] = 3.0  # constant over every window of recording a
    groups = np.array(["a.edf"] * 4 + ["b.edf"] * 4)
    names = ["C3", "Cz", "C4"]
    EEGEncoder("delta").fit(X, ch_names=names)  # pooled: not flat, no error
    with pytest.raises(DataError, match=r"^a\.edf: zero-variance \(flat\) signal in "
                                        r"channel\(s\) Cz over all its windows.*on_flat"):
        EEGEncoder("delta").fit(X, ch_names=names, groups=groups)
    for method in ("rate", "delta"):
        enc = EEGEncoder(method, on_flat="silence").fit(X, ch_names=names, groups=groups)
        assert enc.flat_[1].all() and not enc.flat_[[0, 2]].any()
        spikes = np.asarray(enc.transform(X))  # [T, B, L]: Cz's lines silent everywhere
        cz = [r["line"] for r in enc.layout if r["channel"] == "Cz"]
        others = [r["line"] for r in enc.layout if r["channel"] != "Cz"]
        assert spikes[:, :, cz].sum() == 0 and spikes[:, :, others].sum() > 0
    X[:4, 1] = rng.normal(0.0, 20.0, (4, 64))  # alive in both: no error
    EEGEncoder("delta").fit(X, ch_names=names, groups=groups)
    with pytest.raises(ConfigError, match="groups"):
        EEGEncoder("delta").fit(X, groups=groups[:3])


def test_flat_channels_of_new_recordings_skip_channels_silenced_at_fit():
    """flat_channels counts, per recording, the windows in which a channel is flat, except
    for channels the fit silenced (flat in training already)."""
    rng = np.random.default_rng(1)
    names = ["C3", "Cz", "C4"]
    train = rng.normal(0.0, 20.0, (6, 3, 64)).astype(np.float32)
    train[:, 2] = 5.0  # C4 flat in training: silenced
    enc = EEGEncoder("delta", on_flat="silence").fit(train, ch_names=names)
    new = rng.normal(0.0, 20.0, (6, 3, 64)).astype(np.float32)
    new[:3, 0] = -2.0  # C3 flat over all of x.edf
    new[3:, 2] = 1.0  # C4 flat in y.edf: silenced anyway, not listed
    new[3, 1] = 0.0  # Cz flat in one window of y.edf
    groups = ["x.edf"] * 3 + ["y.edf"] * 3
    assert enc.flat_channels(new, groups) == {"x.edf": {"C3": (3, 3)}, "y.edf": {"Cz": (1, 3)}}
    assert EEGEncoder("delta").fit(new, ch_names=names).flat_channels(
        new, groups, ch_names=["a", "b", "c"]) == {"x.edf": {"a": (3, 3)},
                                                   "y.edf": {"b": (1, 3), "c": (3, 3)}}
    with pytest.raises(ConfigError, match="groups"):
        enc.flat_channels(new, groups[:2])
    with pytest.raises(ConfigError, match="fit"):
        EEGEncoder("delta").flat_channels(new, groups)


def test_a_zeroed_channel_after_a_band_pass_is_flat():
    """A disconnected electrode band-passed is not constant (filter residue ~1e-15 V) but
    ~1e-10 of the other channels: flat for flat_channels and for fit's per-recording and
    pooled checks."""
    rng = np.random.default_rng(2)
    X = rng.normal(0.0, 20e-6, (4, 3, 256))
    X[:, 1] = rng.normal(0.0, 1e-15, (4, 256)) + 3e-15  # residue, not constant
    groups = ["a.edf"] * 2 + ["b.edf"] * 2
    names = ["C3", "Cz", "C4"]
    enc = EEGEncoder("delta").fit(rng.normal(0.0, 20e-6, (4, 3, 256)), ch_names=names)
    assert enc.flat_channels(X, groups) == {"a.edf": {"Cz": (2, 2)}, "b.edf": {"Cz": (2, 2)}}
    with pytest.raises(DataError, match=r"flat\) signal in channel\(s\) Cz over all 4"):
        EEGEncoder("delta").fit(X, ch_names=names)
    Y = X.copy()
    Y[2:, 1] = rng.normal(0.0, 20e-6, (2, 256))  # alive in b.edf: the per-recording check
    with pytest.raises(DataError, match=r"^a\.edf: zero-variance \(flat\) signal in "
                                        r"channel\(s\) Cz"):
        EEGEncoder("delta").fit(Y, ch_names=names, groups=groups)
    assert not EEGEncoder("delta").fit(rng.normal(0.0, 1e-9, (4, 3, 256))).flat_.any()


def test_a_channel_flat_in_every_recording_with_a_spatial_filter_says_drop_the_channel():
    """With CSP the pooled check sees components; a raw channel flat in every recording
    (a reference channel) is named as such, with the pick-step advice, not 'drop the
    recording'."""
    rng = np.random.default_rng(3)
    X = rng.normal(0.0, 20e-6, (12, 4, 128))
    X[:, 3] = 0.0  # REF
    y = np.tile([0, 1], 6)
    groups = np.repeat(["a.edf", "b.edf", "c.edf"], 4)
    enc = EEGEncoder("direct", spatial_filter={"type": "csp", "n_components": 2})
    with pytest.raises(DataError, match=r"channel\(s\) REF in every training recording "
                                        r"\(a reference or unused channel\?\); drop the "
                                        r"channel\(s\) from the 'pick' step"):
        enc.fit(X, y, ch_names=["C3", "Cz", "C4", "REF"], groups=groups, source="recs")
