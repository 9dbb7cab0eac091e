"""Recordings of another site: the ``.mat`` reader, the ``file,label`` table, the run's
dataset config made fit for them and the channel mapping (eegsnn.io.mat,
eegsnn.io.label_table, eegsnn.pipeline.apply)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.io import savemat

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.label_table import read_label_table
from eegsnn.io.mat import read_mat_signal
from eegsnn.io.readers import read_recording
from eegsnn.io.text import read_text_segment
from eegsnn.pipeline.apply import (
    _sfreq_check,
    channels_line,
    conform_channels,
    input_line,
    site_dataset,
)
from eegsnn.pipeline.records import write_predictions_csv
from eegsnn.preprocess.windows import WindowSet


def test_mat_one_array_volts_and_orientation(tmp_path):
    x = np.arange(10.0)
    savemat(tmp_path / "a.mat", {"x": x})
    sig = read_mat_signal(tmp_path / "a.mat", sfreq_hz=100.0)
    assert sig.ch_names == ["EEG"] and sig.sfreq_hz == 100.0 and sig.variable == "x"
    np.testing.assert_allclose(sig.data, x[None, :] * 1e-6)  # microvolts -> volts
    two = np.stack([x, -x], axis=1)  # [n, C]: transposed to [C, n]
    savemat(tmp_path / "b.mat", {"eeg": two, "note": "text"})
    sig = read_mat_signal(tmp_path / "b.mat", sfreq_hz=100.0, unit="mV")
    assert sig.ch_names == ["EEG001", "EEG002"]
    np.testing.assert_allclose(sig.data, two.T * 1e-3)
    rec = read_recording(tmp_path / "b.mat", sfreq_hz=100.0, text_unit="mV")
    assert rec.format == "mat" and rec.raw.info["sfreq"] == 100.0
    np.testing.assert_allclose(rec.raw.get_data(), two.T * 1e-3)


def _write_mat73(path, variables):
    """A MATLAB v7.3 file: HDF5 after MATLAB's 128-byte text header in a 512-byte user
    block; arrays stored column-major (MATLAB's ``[n, C]`` is HDF5's ``[C, n]``)."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            f.create_dataset(name, data=np.asarray(value).T)
            f[name].attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: eegsnn tests HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def test_mat_v73_is_read_with_pymatreader(tmp_path, require_extra):
    require_extra("pymatreader", "eeglab")  # skipped without it; a failure in CI
    x = np.arange(2 * 500, dtype=np.float64).reshape(500, 2) % 37 - 18  # MATLAB [n, C]
    _write_mat73(tmp_path / "seg.mat", {"data": x})
    sig = read_mat_signal(tmp_path / "seg.mat", sfreq_hz=173.61)
    assert sig.variable == "data" and sig.ch_names == ["EEG001", "EEG002"]
    np.testing.assert_allclose(sig.data, x.T * 1e-6)
    (tmp_path / "broken.mat").write_bytes((tmp_path / "seg.mat").read_bytes()[:700])
    with pytest.raises(DataError, match=r"broken\.mat: cannot read this MATLAB v7\.3 file"):
        read_mat_signal(tmp_path / "broken.mat", sfreq_hz=1.0)


def test_mat_sidecar_wins_and_errors_name_the_file(tmp_path):
    savemat(tmp_path / "s.mat", {"a": np.ones(50), "b": np.zeros(50)})
    with pytest.raises(DataError, match=r"s\.mat: 2 numeric signal arrays \(variables: a, b\)"):
        read_mat_signal(tmp_path / "s.mat", sfreq_hz=10.0)
    with pytest.raises(DataError, match="no variable 'c'"):
        read_mat_signal(tmp_path / "s.mat", variable="c", sfreq_hz=10.0)
    with pytest.raises(DataError, match=r"sampling rate of a \.mat file is not known"):
        read_mat_signal(tmp_path / "s.mat", variable="a")
    (tmp_path / "s.json").write_text(json.dumps(
        {"variable": "b", "sfreq_hz": 256, "unit": "V", "ch_names": ["T7-T8"]}))
    sig = read_mat_signal(tmp_path / "s.mat", variable="a", sfreq_hz=10.0)
    assert (sig.variable, sig.sfreq_hz, sig.ch_names) == ("b", 256.0, ["T7-T8"])
    assert np.all(sig.data == 0.0)
    (tmp_path / "s.json").write_text(json.dumps({"sfreq": 256}))
    with pytest.raises(DataError, match=r"s\.json: unknown key"):
        read_mat_signal(tmp_path / "s.mat")
    (tmp_path / "bad.mat").write_bytes(b"not matlab")
    with pytest.raises(DataError, match=r"bad\.mat: not a readable MATLAB"):
        read_mat_signal(tmp_path / "bad.mat", sfreq_hz=1.0)


def test_label_table_csv_tsv_and_lookups(tmp_path):
    (tmp_path / "l.csv").write_text("File,Class,extra\nsite/a.mat,ictal,1\nb.edf,S,2\n")
    t = read_label_table(tmp_path / "l.csv")
    assert t.label("site/a.mat") == "ictal"  # by relative path
    assert t.label("other/b.edf") == "S"  # by name
    assert t.label("x/a.edf") == "ictal"  # by stem
    with pytest.raises(DataError, match=r"c\.edf: no row in the label table"):
        t.label("c.edf")
    (tmp_path / "l.tsv").write_text("path\tlabel\nx/a.mat\tZ\ny/a.mat\tS\n")
    t = read_label_table(tmp_path / "l.tsv")
    assert t.label("x/a.mat") == "Z"
    with pytest.raises(DataError, match="no row"):  # a.mat alone is ambiguous
        t.label("z/a.mat")
    (tmp_path / "d.csv").write_text("file,label\na.mat,S\na.mat,Z\n")
    with pytest.raises(DataError, match="listed twice with different labels"):
        read_label_table(tmp_path / "d.csv")
    (tmp_path / "h.csv").write_text("name,y\na.mat,S\n")
    with pytest.raises(DataError, match="needs a header with a file column"):
        read_label_table(tmp_path / "h.csv")


def _ws(ch_names, n_windows=2):
    c = len(ch_names)
    X = np.arange(n_windows * c * 4, dtype=np.float32).reshape(n_windows, c, 4)
    z = np.array(["r"] * n_windows)
    return WindowSet(X=X, y=np.zeros(n_windows, dtype=np.int64), class_names=("a", "b"),
                     ch_names=tuple(ch_names), sfreq_hz=100.0, subject=z, session=z, run=z,
                     recording=z, onset_s=np.zeros(n_windows))


def test_conform_channels_picks_orders_and_renames(tmp_path):
    record = {"ch_names": ["C3", "Cz", "C4"]}
    ws = _ws(["C4", "Fp1", "C3", "T7"])
    out, used = conform_channels(ws, record, "d", tmp_path, {"T7": "Cz"})
    assert out.ch_names == ("C3", "Cz", "C4")
    np.testing.assert_array_equal(out.X, ws.X[:, [2, 3, 0]])
    assert used == {"C3": "C3", "Cz": "T7", "C4": "C4"}
    with pytest.raises(DataError, match=r"channel\(s\) Cz of the run .* are not in the data"):
        conform_channels(ws, record, "d", tmp_path)
    with pytest.raises(DataError, match=r"--channel names O1, which the data do not hold"):
        conform_channels(ws, record, "d", tmp_path, {"O1": "Cz"})
    with pytest.raises(DataError, match=r"maps to Foo, which is not a channel of the run"):
        conform_channels(ws, record, "d", tmp_path, {"T7": "Foo"})
    one, used = conform_channels(_ws(["T7-T8"]), {"ch_names": ["EEG"]}, "d", tmp_path)
    assert one.ch_names == ("EEG",) and used == {"EEG": "T7-T8"}
    assert channels_line(used) == "channels (run <- data): EEG <- T7-T8"
    assert channels_line({"C3": "C3", "Cz": "Cz"}) == "channels: the run's 2 channel(s) by name"


def test_one_channel_recording_is_taken_only_when_a_name_is_generic(tmp_path):
    bonn_run = {"ch_names": ["EEG"]}  # Bonn text segments have no channel name
    with pytest.raises(DataError, match=r"only channel ECG is not the run's channel EEG; "
                                        r".*--channel ECG=EEG"):
        conform_channels(_ws(["ECG"]), bonn_run, "ecg.edf", tmp_path)
    _, used = conform_channels(_ws(["ECG"]), bonn_run, "ecg.edf", tmp_path, {"ECG": "EEG"})
    assert used == {"EEG": "ECG"}  # named by the user: taken
    with pytest.raises(DataError, match=r"only channel T7 is not the run's channel Cz"):
        conform_channels(_ws(["T7"]), {"ch_names": ["Cz"]}, "d", tmp_path)
    _, used = conform_channels(_ws(["EEG"]), {"ch_names": ["Cz"]}, "seg.txt", tmp_path)
    assert used == {"Cz": "EEG"}  # the data's name is generic (a text segment)


def test_sfreq_is_refused_for_containers_with_a_rate(tmp_path):
    edf, txt = tmp_path / "a.edf", tmp_path / "b.txt"
    edf.write_bytes(b"x")
    txt.write_text("1\n2\n")
    with pytest.raises(ConfigError, match=r"--sfreq 100: .*a\.edf carries its own sampling "
                                          r"rate.*text segments and \.mat"):
        _sfreq_check(str(edf), 100.0)
    assert _sfreq_check(str(txt), 100.0) is None and _sfreq_check(str(edf), None) is None
    note = _sfreq_check(str(tmp_path), 100.0)  # mixed: the EDF keeps its header's rate
    assert note is not None and "a.edf use their header's rate" in note


def test_input_line_says_resampling_and_label_table():
    data = {"sfreq_hz_read": [256.0], "resampled": {"from_hz": [256.0], "to_hz": 173.61},
            "sfreq_given_hz": 256.0, "labels": "table labels.csv"}
    assert input_line(data) == ("data: resampled 256 -> 173.61 Hz (--sfreq 256); labels "
                                "from table labels.csv")
    assert "not resampled" in input_line({"sfreq_hz_read": [173.61], "resampled": None,
                                          "labels": "the run's rule (path)"})


def test_predictions_csv_has_the_decision_at_the_threshold(tmp_path):
    proba = np.array([[0.7, 0.3], [0.2, 0.8], [0.9, 0.1]])
    rec, onset, y = np.array(["r1", "r1", "r2"]), np.zeros(3), np.array([1, 1, 0])
    write_predictions_csv(tmp_path / "p.csv", rec, onset, y, proba, ("rest", "ictal"),
                          positive_class="ictal", threshold=0.25)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["predicted"] for r in rows] == ["rest", "ictal", "rest"]
    assert [r["predicted_at_threshold"] for r in rows] == ["ictal", "ictal", "rest"]
    write_predictions_csv(tmp_path / "q.csv", rec, onset, y, proba, ("rest", "ictal"))
    assert "predicted_at_threshold" not in open(tmp_path / "q.csv").readline()


def test_text_length_and_mat_variable_hints(tmp_path):
    (tmp_path / "s.txt").write_text("1\n2\n3\n")
    with pytest.raises(DataError, match=r"3 samples, expected 4097 .*--sfreq"):
        read_text_segment(tmp_path / "s.txt", expected_samples=4097)
    savemat(tmp_path / "two.mat", {"a": np.zeros(50), "b": np.ones(50)})
    with pytest.raises(DataError, match=r"name one with --mat-var") as info:
        read_mat_signal(tmp_path / "two.mat", sfreq_hz=100.0)
    assert "--sfreq" not in str(info.value)


def test_site_dataset_resamples_first_and_maps_names(tmp_path):
    dataset = {"sfreq_hz": 173.61, "expected_samples": 4097,
               "preprocess": [{"step": "bandpass", "l_freq": 1, "h_freq": 40},
                              {"step": "pick", "channels": ["Cz", "C3"]}],
               "windows": {"mode": "sliding", "window_s": 4.0},
               "labels": {"source": "path", "mapping": {"S": "ictal", "Z": "healthy"}}}
    out = site_dataset(dataset, {"sfreq_hz": 173.61}, sfreq_hz=256.0,
                       labels_table=tmp_path / "l.csv", channel_map={"T7": "Cz"})
    assert out["preprocess"][0] == {"step": "resample", "sfreq": 173.61}
    assert out["preprocess"][2]["channels"] == ["T7", "C3"]
    assert out["sfreq_hz"] == 256.0 and out["expected_samples"] is None
    assert out["labels"]["source"] == "table" and out["labels"]["mapping"]["S"] == "ictal"
    assert dataset["preprocess"][1]["channels"] == ["Cz", "C3"]  # the run's config untouched
    chain = [{"step": "resample", "sfreq": 128}]
    assert site_dataset({**dataset, "preprocess": chain}, {"sfreq_hz": 128.0}
                        )["preprocess"] == chain  # the chain resamples itself
    with pytest.raises(ConfigError, match="--sfreq"):
        site_dataset(dataset, {"sfreq_hz": 173.61}, sfreq_hz=-1)


def test_mat_sidecar_values_are_checked(tmp_path):
    """A sidecar 'variable' that is not a string (an 'unexpected' TypeError), a NaN rate
    (MNE's 'cannot convert float NaN' at the resample) and a channel named twice (MNE
    renamed them, so a pick found neither) are refused naming the file."""
    savemat(tmp_path / "a.mat", {"data": np.zeros((2, 500))})
    side = tmp_path / "a.json"
    for meta, match in (({"variable": ["data"], "sfreq_hz": 250}, r"must be a string"),
                        ({"sfreq_hz": float("nan")}, r"sampling rate .* not known \(nan\)"),
                        ({"sfreq_hz": 250, "ch_names": ["C3", "C3"]},
                         r"a\.json names channel\(s\) C3 more than once")):
        side.write_text(json.dumps(meta))
        with pytest.raises(DataError, match=match):
            read_mat_signal(tmp_path / "a.mat")


def test_evaluate_says_which_event_windows_ran_past_a_recording(tmp_path):
    """Event windows that run past a recording's ends are not scored; evaluate now says so
    (training recorded them in data.json, evaluate dropped them without a word)."""
    from types import SimpleNamespace

    from eegsnn.pipeline.apply import _input_record

    ws = SimpleNamespace(provenance={"sfreq_hz_read": {"a.edf": 160.0}, "recordings": [
        {"path": "a.edf", "windows": 1, "out_of_bounds": 1},
        {"path": "b.edf", "windows": 3, "out_of_bounds": 0}]})
    data = _input_record(ws, {"sfreq_hz": 160.0}, {"labels": {"source": "annotations"}},
                         None, None)
    assert data["out_of_bounds"] == {"a.edf": 1}
    assert input_line(data).endswith("; 1 event window(s) run past the ends of 1 "
                                      "recording(s), not scored")
