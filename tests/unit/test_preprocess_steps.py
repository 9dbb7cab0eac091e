"""Declarative preprocessing steps: validation, and equality with direct MNE calls."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.preprocess import ChannelStandardizer, apply_steps, validate_steps


def _raw(n_ch=4, sfreq=200.0, seconds=10.0, seed=0, names=None):
    rng = np.random.default_rng(seed)
    n = int(sfreq * seconds)
    t = np.arange(n) / sfreq
    x = rng.normal(0, 5e-6, (n_ch, n)) + 20e-6 * np.sin(2 * np.pi * 50 * t)
    names = names or ["C3", "Cz", "C4", "Pz", "Oz", "Fz"][:n_ch]
    return mne.io.RawArray(x, mne.create_info(names, sfreq, "eeg"), verbose="error")


def test_validate_fills_defaults_and_normalises_names():
    steps = validate_steps(
        [
            {"step": "bandpass", "l_freq": 8, "h_freq": 30},
            {"step": "notch", "freqs": 50},
            {"step": "resample", "sfreq": 128},
            {"step": "reref"},
            {"step": "pick", "channels": ["C3..", "Cz.."]},
            {"step": "crop", "tmax_s": 5},
        ]
    )
    assert steps == [
        {"step": "bandpass", "l_freq": 8.0, "h_freq": 30.0, "method": "fir"},
        {"step": "notch", "freqs": [50.0], "method": "fir"},
        {"step": "resample", "sfreq": 128.0},
        {"step": "reref", "ref": "average"},
        {"step": "pick", "channels": ["C3", "Cz"], "types": None},
        {"step": "crop", "tmin_s": 0.0, "tmax_s": 5.0},
    ]
    assert validate_steps(None) == []


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([{"step": "wavelet"}], r"preprocess\[0\]: unknown step 'wavelet'"),
        ([{"l_freq": 1}], r"preprocess\[0\] must be a mapping with a 'step' key"),
        ([{"step": "bandpass"}], r"preprocess\[0\] \(bandpass\): give l_freq and/or h_freq"),
        ([{"step": "bandpass", "l_freq": 30, "h_freq": 8}], "must be below h_freq"),
        ([{"step": "bandpass", "l_freq": -1}], "l_freq must be a positive number"),
        ([{"step": "bandpass", "l_freq": 1, "order": 4}], r"unknown argument\(s\) order"),
        ([{"step": "resample"}], "missing required argument 'sfreq'"),
        ([{"step": "notch", "freqs": []}], "non-empty list"),
        ([{"step": "reref", "ref": 5}], "ref must be 'average' or a list"),
        ([{"step": "pick"}], "give channels and/or types"),
        ([{"step": "pick", "channels": ["C3", "C3.."]}], "listed twice"),
        ([{"step": "crop", "tmin_s": 5, "tmax_s": 2}], "tmax_s must be above tmin_s"),
        ("bandpass", "must be a list of steps"),
    ],
)
def test_validate_errors(steps, match):
    with pytest.raises(ConfigError, match=match):
        validate_steps(steps)


def test_filters_equal_direct_mne_calls():
    ours, ref = _raw(), _raw()
    apply_steps(
        ours, [{"step": "bandpass", "l_freq": 8, "h_freq": 30}, {"step": "notch", "freqs": [50]}]
    )
    ref.filter(8.0, 30.0, verbose="error").notch_filter([50.0], verbose="error")
    np.testing.assert_array_equal(ours.get_data(), ref.get_data())


def test_bandpass_removes_50hz():
    raw = _raw()
    before = np.abs(np.fft.rfft(raw.get_data()[0]))
    apply_steps(raw, [{"step": "bandpass", "l_freq": 8, "h_freq": 30}])
    after = np.abs(np.fft.rfft(raw.get_data()[0]))
    k = 50 * 10  # 50 Hz bin for a 10 s signal
    assert after[k] < before[k] / 100


def test_resample_reref_pick_crop():
    raw = _raw(n_ch=5)
    apply_steps(
        raw,
        [
            {"step": "resample", "sfreq": 100},
            {"step": "reref", "ref": "average"},
            {"step": "pick", "channels": ["Pz", "C3", "Oz"]},
            {"step": "crop", "tmin_s": 1.0, "tmax_s": 6.0},
        ],
    )
    assert raw.info["sfreq"] == 100.0
    assert raw.ch_names == ["Pz", "C3", "Oz"]  # the order asked for
    assert raw.n_times == 501  # 1.0 s .. 6.0 s inclusive at 100 Hz
    ref = _raw(n_ch=5).resample(100, verbose="error")
    x = ref.get_data()
    x = x - x.mean(axis=0, keepdims=True)
    idx = [ref.ch_names.index(c) for c in ["Pz", "C3", "Oz"]]
    np.testing.assert_allclose(raw.get_data(), x[idx, 100:601], atol=1e-18)


def test_reref_to_a_channel_and_pick_types():
    raw = _raw(n_ch=3)
    x = raw.get_data().copy()
    apply_steps(raw, [{"step": "reref", "ref": ["Cz"]}])
    np.testing.assert_allclose(raw.get_data(), x - x[1], atol=1e-20)
    raw2 = _raw(n_ch=3)
    raw2.set_channel_types({"C4": "eog"}, verbose="error")
    apply_steps(raw2, [{"step": "pick", "types": ["eeg"]}])
    assert raw2.ch_names == ["C3", "Cz"]


def test_recording_errors_name_the_file_and_step():
    raw = _raw(sfreq=100.0)
    with pytest.raises(
        DataError,
        match=r"rec\.edf: preprocess\[0\] \(bandpass\): h_freq=60.0 "
        r"Hz is not below the Nyquist frequency 50 Hz",
    ):
        apply_steps(raw, [{"step": "bandpass", "h_freq": 60}], source="rec.edf")
    with pytest.raises(
        DataError,
        match=r"rec\.edf: preprocess\[1\] \(pick\): channel\(s\) "
        r"T7 not in this recording",
    ):
        apply_steps(
            raw, [{"step": "reref"}, {"step": "pick", "channels": ["C3", "T7"]}], source="rec.edf"
        )
    with pytest.raises(DataError, match=r"notch at .50.0. Hz is not below the Nyquist"):
        apply_steps(_raw(sfreq=100.0), [{"step": "notch", "freqs": [50]}])
    with pytest.raises(DataError, match="reference channel"):
        apply_steps(_raw(), [{"step": "reref", "ref": ["A1"]}])
    with pytest.raises(DataError, match="past the end"):
        apply_steps(_raw(), [{"step": "crop", "tmin_s": 100}])
    with pytest.raises(
        DataError,
        match=r"x\.edf: preprocess\[0\] \(pick\): no channels of "
        r"type",
    ):
        apply_steps(_raw(), [{"step": "pick", "types": ["ecg"]}], source="x.edf")


def test_two_spellings_of_one_electrode_are_refused_not_guessed():
    """A recording holding both C3.. (EEGMMIDB's spelling) and C3 keeps both names when
    read; picking or referencing C3 would take whichever matches exactly."""
    from eegsnn.io.channels import standardize_channels

    raw = _raw(names=["C3..", "C3", "Cz", "C4"])
    standardize_channels(raw, montage=False)
    assert raw.ch_names[:2] == ["C3..", "C3"]  # (the collision keeps both spellings)
    for steps in ([{"step": "pick", "channels": ["C3", "C4"]}],
                  [{"step": "reref", "ref": ["C3"]}]):
        with pytest.raises(DataError, match=r"s\.edf: preprocess\[0\] \((pick|reref)\): "
                                            r"channel C3 is ambiguous in this recording: "
                                            r"C3\.\., C3 name the same electrode"):
            apply_steps(raw.copy(), steps, source="s.edf")
    picked = apply_steps(raw.copy(), [{"step": "pick", "channels": ["Cz", "C4"]}])
    assert picked.ch_names == ["Cz", "C4"]  # unambiguous names still pick


def test_standardizer_fit_on_train_only():
    rng = np.random.default_rng(0)
    train = rng.normal([[1.0], [-2.0], [0.0]], [[2.0], [0.5], [1.0]], (20, 3, 50)).astype(
        np.float32
    )
    train[:, 2, :] = 7.0  # a flat channel
    test = rng.normal(0, 1, (5, 3, 50)).astype(np.float32)
    st = ChannelStandardizer().fit(train)
    mean = train.astype(np.float64).transpose(1, 0, 2).reshape(3, -1).mean(axis=1)
    std = train.astype(np.float64).transpose(1, 0, 2).reshape(3, -1).std(axis=1)
    np.testing.assert_allclose(st.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(st.std[:2], std[:2], rtol=1e-5)
    assert st.flat == (2,) and st.std[2] == 1.0
    z = st.transform(train)
    np.testing.assert_allclose(z[:, :2].mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(z[:, :2].std(axis=(0, 2)), 1, atol=1e-4)
    np.testing.assert_allclose(z[:, 2], 0, atol=1e-6)
    zt = st.transform(test)  # test data use the training statistics
    np.testing.assert_allclose(
        zt, (test - mean[None, :, None]) / st.std[None, :, None], rtol=1e-5, atol=1e-5
    )
    again = ChannelStandardizer.from_state_dict(st.state_dict())
    np.testing.assert_array_equal(again.transform(test), zt)
    with pytest.raises(ConfigError, match="before fit"):
        ChannelStandardizer().transform(test)
    with pytest.raises(ConfigError, match="fitted on 3 channels"):
        st.transform(test[:, :2])
    bad = train.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ChannelStandardizer().fit(bad)
