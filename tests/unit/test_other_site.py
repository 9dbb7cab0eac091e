"""Recordings of another site: the ``.mat`` reader, the ``file,label`` table, the run's
dataset config made fit for them and the channel mapping (eegsnn.io.mat,
eegsnn.io.label_table, eegsnn.pipeline.apply)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import savemat

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.label_table import read_label_table
from eegsnn.io.mat import read_mat_signal
from eegsnn.io.readers import read_recording
from eegsnn.pipeline.apply import conform_channels, site_dataset
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
    with pytest.raises(DataError, match=r"channel map names \['O1'\]"):
        conform_channels(ws, record, "d", tmp_path, {"O1": "Cz"})
    one, used = conform_channels(_ws(["T7-T8"]), {"ch_names": ["EEG"]}, "d", tmp_path)
    assert one.ch_names == ("EEG",) and used == {"EEG": "T7-T8"}


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
