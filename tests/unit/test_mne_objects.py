"""MNE Raw/Epochs in and out of eegsnn: same windows as load_windows, exact round trips,
encoders fed MNE objects directly, channel names and sampling rate kept."""

from __future__ import annotations

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.errors import ConfigError, DataError
from eegsnn.interop.mne import (
    epochs_data,
    spikes_from_raw,
    spikes_to_raw,
    windows_from_epochs,
    windows_from_raw,
    windows_to_epochs,
)

mne = pytest.importorskip("mne")

CONFIG = {"windows": {"mode": "events", "window_s": 4.0},
          "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}


@pytest.fixture(scope="module")
def run04(shared_data):
    from eegsnn.io import read_recording

    path = shared_data / "eegmmidb" / "S001" / "S001R04.edf"
    return path, read_recording(path).raw


@pytest.fixture(scope="module")
def epochs04(run04):
    _, raw = run04
    events, _ = mne.events_from_annotations(raw, event_id={"T1": 2, "T2": 3}, verbose="error")
    return mne.Epochs(raw, events, event_id={"left": 2, "right": 3}, tmin=0.0,
                      tmax=4.0 - 1 / 160, baseline=None, preload=True, verbose="error")


def test_epochs_give_the_windows_load_windows_gives(run04, epochs04, tmp_path):
    from eegsnn.preprocess import load_windows

    path, _ = run04
    ref = load_windows([path], CONFIG, cache_dir=tmp_path / "cache")
    ws = windows_from_epochs(epochs04, recording="S001R04.edf")
    assert ws.ch_names == ref.ch_names and len(ws.ch_names) == 64
    assert ws.sfreq_hz == ref.sfreq_hz == 160.0
    assert ws.class_names == ref.class_names == ("left", "right")
    np.testing.assert_array_equal(ws.y, ref.y)
    np.testing.assert_allclose(ws.onset_s, ref.onset_s, atol=1e-9)
    np.testing.assert_allclose(ws.X, ref.X, rtol=1e-6, atol=1e-4)  # µV
    assert np.abs(ws.X).max() > 10  # microvolts, not volts


def test_raw_windows_match_load_windows_events_and_sliding(run04, tmp_path):
    from eegsnn.preprocess import load_windows

    path, raw = run04
    ref = load_windows([path], CONFIG, cache_dir=tmp_path / "cache")
    ws = windows_from_raw(raw, window_s=4.0, mapping={"T1": "left", "T2": "right"})
    np.testing.assert_array_equal(ws.X, ref.X)
    np.testing.assert_array_equal(ws.y, ref.y)
    cfg = {"windows": {"mode": "sliding", "window_s": 2.0, "step_s": 1.0},
           "labels": {"source": "annotations", "mapping": {"T0": "rest", "T1": "left",
                                                           "T2": "right"}}}
    ref2 = load_windows([path], cfg, cache_dir=tmp_path / "cache")
    ws2 = windows_from_raw(raw, window_s=2.0, step_s=1.0, mode="sliding",
                           mapping={"T0": "rest", "T1": "left", "T2": "right"})
    assert len(ws2) == len(ref2) > 50
    np.testing.assert_array_equal(ws2.y, ref2.y)
    np.testing.assert_array_equal(ws2.X, ref2.X)
    with pytest.raises(DataError, match="no window"):
        windows_from_raw(raw, window_s=4.0, mapping={"T9": "x"})
    with pytest.raises(ConfigError, match="mapping"):
        windows_from_raw(raw, window_s=4.0)


def test_windowset_epochs_round_trip(epochs04):
    ws = windows_from_epochs(epochs04)
    ep = windows_to_epochs(ws)
    assert isinstance(ep, mne.EpochsArray)
    assert ep.ch_names == list(ws.ch_names) and ep.info["sfreq"] == 160.0
    assert ep.event_id == {"left": 1, "right": 2}
    np.testing.assert_allclose(ep.get_data(), epochs04.get_data(), rtol=1e-6, atol=1e-12)
    back = windows_from_epochs(ep)
    np.testing.assert_array_equal(back.X, ws.X)
    np.testing.assert_array_equal(back.y, ws.y)
    assert back.ch_names == ws.ch_names and back.class_names == ws.class_names
    np.testing.assert_allclose(back.onset_s, ws.onset_s, atol=1 / 160)
    # no identity travels into the new Epochs
    assert ep.info["subject_info"] is None and ep.info["meas_date"] is None


def test_encoder_accepts_epochs_and_raw_directly(run04, epochs04):
    from eegsnn.encode import EEGEncoder

    X, _, names, ch_names, sfreq = epochs_data(epochs04)
    assert X.shape == (len(epochs04), 64, 640) and names == ["left", "right"]
    # fitted on MNE Epochs (volts, sfreq and names read from info) ...
    enc_mne = EEGEncoder("threshold", levels=3, num_steps=64).fit(epochs04)
    assert enc_mne.sfreq_hz == 160.0 and enc_mne.ch_names_ == ch_names
    # ... the relative code equals the one fitted on the microvolt arrays
    enc_np = EEGEncoder("threshold", levels=3, num_steps=64, sfreq_hz=sfreq).fit(X)
    a = np.array(enc_mne.transform(epochs04))
    b = np.array(enc_np.transform(X))
    assert a.shape == (64, len(epochs04), 64 * 3 * 2) and a.sum() > 1000
    assert np.mean(a != b) < 1e-4  # float rounding at level crossings only
    # a Raw is one long window [1, C, N]
    _, raw = run04
    enc_raw = EEGEncoder("delta", threshold=1.0, num_steps=100).fit(raw)
    assert np.array(enc_raw.transform(raw)).shape == (100, 1, 128)
    with pytest.raises(DataError, match="channel names differ"):
        enc_mne.transform(epochs04.copy().reorder_channels(ch_names[::-1]))


def test_epochs_class_names_and_errors(epochs04):
    _, y, names, _, _ = epochs_data(epochs04, class_names=["right", "left"])
    assert names == ["right", "left"]
    _, y2, _, _, _ = epochs_data(epochs04)
    np.testing.assert_array_equal(y, 1 - y2)
    with pytest.raises(ConfigError, match="not in class_names"):
        epochs_data(epochs04, class_names=["left"])
    with pytest.raises(ConfigError, match=r"expected mne\.Epochs"):
        epochs_data(np.zeros((2, 3, 4)))


def test_spike_code_round_trips_through_an_mne_raw(epochs04):
    from eegsnn.encode import EEGEncoder

    enc = EEGEncoder("delta", threshold=0.5, num_steps=80).fit(epochs04)
    spikes = np.array(enc.transform(epochs04[:3]))  # [80, 3, 128]
    raw = spikes_to_raw(spikes, step_s=4.0 / 80, layout=enc.layout)
    assert raw.info["sfreq"] == pytest.approx(20.0)
    assert raw.ch_names[:2] == [f"{enc.ch_names_[0]}/on", f"{enc.ch_names_[0]}/off"]
    assert raw.n_times == 240  # three windows laid end to end
    back = spikes_from_raw(raw)
    np.testing.assert_array_equal(back[:80], spikes[:, 0])
    np.testing.assert_array_equal(back[160:], spikes[:, 2])
    with pytest.raises(ConfigError, match="line names"):
        spikes_to_raw(spikes, step_s=0.05, layout=enc.layout[:5])
