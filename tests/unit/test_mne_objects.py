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
    # a Raw is cut into windows of the fitted length (4 s: 20000 // 640 = 31 windows),
    # the same spikes as those windows given as an array
    _, raw = run04
    spikes = np.array(enc_mne.transform(raw))
    assert spikes.shape == (64, 31, 64 * 3 * 2)
    cut = raw.get_data()[:, :31 * 640].reshape(64, 31, 640).transpose(1, 0, 2) * 1e6
    assert np.mean(spikes != np.array(enc_np.transform(cut))) < 1e-4
    # an encoder fitted on a Raw knows no window length: it refuses a Raw, naming the fix
    enc_raw = EEGEncoder("delta", threshold=1.0, num_steps=100).fit(raw)
    with pytest.raises(ConfigError, match="make_fixed_length_epochs"):
        enc_raw.transform(raw)
    assert np.array(enc_raw.transform(cut[:2] * 1e-6)).shape == (100, 2, 128)
    # the window length travels with the encoder's config
    assert EEGEncoder.from_config(enc_mne.to_config()).n_samples_ == 640
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


# ----------------------------------------------------------- MNE objects as load_windows input


def _raws(shared_data, runs=(4, 8)):
    return [mne.io.read_raw_edf(shared_data / "eegmmidb" / "S001" / f"S001R{r:02d}.edf",
                                preload=True, verbose="error") for r in runs]


def test_load_windows_takes_raw_objects_like_their_files(shared_data, tmp_path):
    from eegsnn.preprocess import load_windows

    cfg = {**CONFIG, "preprocess": [{"step": "bandpass", "l_freq": 8.0, "h_freq": 30.0}]}
    raws = _raws(shared_data)
    raws[0].info["subject_info"] = {"his_id": "PATIENT_X", "first_name": "Alice"}
    before = raws[0].get_data().copy()
    ws = load_windows(raws, cfg, cache_dir=tmp_path)
    files = [shared_data / "eegmmidb" / "S001" / f"S001R{r:02d}.edf" for r in (4, 8)]
    wf = load_windows(files, cfg, cache_dir=tmp_path)
    np.testing.assert_allclose(ws.X, wf.X, rtol=1e-5, atol=1e-4)
    assert np.array_equal(ws.y, wf.y) and np.allclose(ws.onset_s, wf.onset_s)
    # identity: the file name the Raw was read from, subject parsed from it as for files
    assert list(np.unique(ws.recording)) == ["S001R04.edf", "S001R08.edf"]
    assert set(ws.subject) == {"001"} and list(ws.groups("recording")) == list(wf.recording)
    # provenance: a content hash per object; the caller's object is left as it was
    files_rec = ws.provenance["files"]
    assert [f["path"] for f in files_rec] == ["S001R04.edf", "S001R08.edf"]
    assert all(len(f["sha256"]) == 64 for f in files_rec)
    assert files_rec[0]["sha256"] != files_rec[1]["sha256"]
    assert np.array_equal(raws[0].get_data(), before)
    assert raws[0].info["subject_info"]["his_id"] == "PATIENT_X"
    assert "PATIENT_X" not in repr(ws.provenance) and "Alice" not in repr(ws.provenance)
    # the cache is keyed by content: a changed object is not served the old windows
    assert load_windows(raws, cfg, cache_dir=tmp_path).provenance["cache"]["hit"]
    raws[1]._data[0, :100] += 1e-6
    assert not load_windows(raws, cfg, cache_dir=tmp_path).provenance["cache"]["hit"]


def test_load_windows_takes_epochs_and_unnamed_objects(run04, shared_data, tmp_path):
    from eegsnn.preprocess import load_windows

    raw = _raws(shared_data, (4,))[0]
    events, event_id = mne.events_from_annotations(raw, verbose="error")
    epochs = mne.Epochs(raw, events, {k: event_id[k] for k in ("T1", "T2")}, tmin=-0.5,
                        tmax=4.5, baseline=None, preload=True, verbose="error")
    from_epochs = load_windows(epochs, CONFIG, cache_dir=tmp_path)
    from_raw = load_windows(raw, CONFIG, cache_dir=tmp_path)
    # events mode: the window starts tmin_s after each event, inside the epoch
    np.testing.assert_allclose(from_epochs.X, from_raw.X, rtol=1e-5, atol=1e-4)
    assert np.array_equal(from_epochs.y, from_raw.y)
    np.testing.assert_allclose(from_epochs.onset_s, from_raw.onset_s)
    assert set(from_epochs.recording) == {"epochs-0"}
    sliding = {**CONFIG, "windows": {"mode": "sliding", "window_s": 1.0, "step_s": 1.0}}
    assert len(load_windows(epochs, sliding, cache_dir=tmp_path)) == 5 * len(epochs)
    too_long = {**CONFIG, "windows": {"mode": "events", "window_s": 6.0}}
    with pytest.raises(DataError, match="epochs-0"):
        load_windows(epochs, too_long, cache_dir=tmp_path)
    # unnamed in-memory recordings: raw-K, duplicates kept apart
    arr = mne.io.RawArray(raw.get_data(), mne.create_info(raw.ch_names, 160.0, "eeg"),
                          verbose="error")
    ann = raw.annotations
    arr.set_annotations(mne.Annotations(ann.onset, ann.duration, ann.description))
    ws = load_windows([arr, arr.copy()], CONFIG, cache_dir=tmp_path)
    assert list(np.unique(ws.recording)) == ["raw-0", "raw-1"]
    with pytest.raises(ConfigError, match="not both"):
        load_windows([arr, "x.edf"], CONFIG, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="annotations"):
        load_windows(arr, {**CONFIG, "labels": {"source": "path", "mapping": {"a": "b"}},
                           "windows": {"mode": "sliding", "window_s": 4.0}},
                     cache_dir=tmp_path)


def test_run_pipeline_and_evaluate_run_take_raw_objects(shared_data, tmp_path):
    import json

    from eegsnn.pipeline import evaluate_run, run_pipeline

    raws = _raws(shared_data, (4, 8, 3))
    raws[0].info["subject_info"] = {"his_id": "PATIENT_X", "first_name": "Alice"}
    out = tmp_path / "run"
    result = run_pipeline({
        "pipeline": "motor_imagery", "data": {"source": raws[:2]},
        "split": {"method": "holdout", "test_fraction": 0.5, "by": "recording"},
        "encoder": {"spikes_per_s": 8}, "model": {"hidden": [8]}, "train": {"epochs": 1},
        "baseline": None, "report": {"format": "none"}, "cache_dir": str(tmp_path / "c")},
        out)
    assert sorted(set(result.windows.recording)) == ["S001R04.edf", "S001R08.edf"]
    # config.yaml / data.json name each object and its content hash, never the data
    data = json.loads((out / "data.json").read_text())
    assert [s.rsplit(":", 1)[0] for s in data["source"]] == [
        "mne:raw:S001R04.edf:sha256", "mne:raw:S001R08.edf:sha256"]
    assert data["source"][0].endswith(data["files"][0]["sha256"])
    assert "mne:raw:S001R08.edf:sha256:" in (out / "config.yaml").read_text()
    text = "".join(p.read_text(errors="ignore") for p in out.rglob("*")
                   if p.is_file() and p.suffix in (".json", ".yaml", ".csv", ".log"))
    assert "PATIENT_X" not in text and "Alice" not in text
    # a held-out Raw is evaluated; the training Raws are recognised by their content
    rep = evaluate_run(out, raws[2])
    assert rep.metrics["n_samples"] == 15
    with pytest.raises(ConfigError, match="same content"):
        evaluate_run(out, raws[:2])


def test_objects_with_impossible_samples_are_refused_by_name():
    """Samples no EEG holds (µV values given as volts, NaN) are one DataError naming the
    object and channel; data in volts pass."""
    from eegsnn.preprocess import load_windows

    cfg = {"windows": {"mode": "sliding", "window_s": 1.0},
           "labels": {"source": "annotations", "mapping": {"rest": "rest"}, "default": "rest"}}
    x = np.random.default_rng(0).normal(0.0, 20e-6, (3, 800))  # volts
    info = mne.create_info(["C3", "Cz", "C4"], 160.0, "eeg")
    ok = load_windows([mne.io.RawArray(x, info, verbose="error")], cfg, use_cache=False)
    assert len(ok) == 5 and 5 < np.abs(ok.X).max() < 200  # µV
    micro = x.copy()
    micro[1] *= 1e6  # Cz in µV, held as if volts
    with pytest.raises(DataError, match=r"^raw-0: channel\(s\) Cz reach .* V .*MNE holds "
                                        r"volts.*multiply by 1e-6"):
        load_windows([mne.io.RawArray(micro, info, verbose="error")], cfg, use_cache=False)
    bad = x.reshape(3, 5, 160).transpose(1, 0, 2).copy()
    bad[2, 2, 7] = np.nan
    epochs = mne.EpochsArray(bad, info, verbose="error")
    with pytest.raises(DataError, match=r"^epochs-1: NaN or infinite samples in 1 "
                                        r"channel\(s\) \(C4\)"):
        load_windows([mne.io.RawArray(x, info, verbose="error"), epochs], cfg,
                     use_cache=False)
