"""Windows and labels: pure functions by hand, EEGMMIDB epochs, Bonn sets, splits."""

from __future__ import annotations

import datetime
from pathlib import Path

import mne
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegsnn.errors import ConfigError, DataError
from eegsnn.io import EventTable, read_recording, write_edf
from eegsnn.preprocess import (
    WindowSet,
    check_disjoint,
    event_window_starts,
    extract_windows,
    group_kfold,
    group_train_test_split,
    leave_groups_out,
    load_windows,
    plan_windows,
    sliding_window_starts,
    span_labels,
    validate_config,
    window_samples,
)

MI = {
    "windows": {"mode": "events", "window_s": 4.0},
    "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
}


def test_event_window_starts_by_hand():
    ev = EventTable.from_lists([0.0, 1.0, 2.5, 9.0], [1, 1, 1, 1], ["a", "x", "b", "a"])
    starts, labels, out = event_window_starts(
        ev, {"a": "A", "b": "B"}, sfreq_hz=10, n_times=100, n_samples=20, tmin_s=-0.5
    )
    # a@0.0 -> start -5 (dropped), b@2.5 -> 20, a@9.0 -> 85 (85+20 > 100, dropped)
    assert starts.tolist() == [20] and labels.tolist() == ["B"] and out == 2
    starts, labels, out = event_window_starts(
        ev, {"a": "A", "b": "B"}, sfreq_hz=10, n_times=110, n_samples=20
    )
    assert starts.tolist() == [0, 25, 90] and labels.tolist() == ["A", "B", "A"] and out == 0


def test_sliding_window_starts_by_hand():
    assert sliding_window_starts(10, 4, 2).tolist() == [0, 2, 4, 6]
    assert sliding_window_starts(10, 4, 4).tolist() == [0, 4]
    assert sliding_window_starts(3, 4, 1).tolist() == []
    with pytest.raises(ConfigError):
        sliding_window_starts(10, 4, 0)
    assert window_samples(4.0, 160) == 640 and window_samples(4097 / 173.61, 173.61) == 4097


def test_plan_windows_by_hand():
    """The one planner of the eager, lazy and MNE paths: spans, labels, errors."""
    ev = EventTable.from_lists([1.0, 5.0, 9.0, 4.0], [0, 0, 0, 3], ["a", "b", "a", "x"])
    mapping = {"a": "A", "b": "B"}
    plan = plan_windows(n_times=12, sfreq_hz=1.0, window_s=2.0, events=ev, mapping=mapping)
    assert plan.starts.tolist() == [1, 5, 9] and plan.labels.tolist() == ["A", "B", "A"]
    assert plan.onset_s.tolist() == [1.0, 5.0, 9.0] and plan.n_out_of_bounds == 0
    assert plan.class_indices(["B", "A"]).tolist() == [1, 0, 1]
    # a selected span drops (and counts) the windows outside it
    plan = plan_windows(n_times=12, sfreq_hz=1.0, window_s=2.0, events=ev, mapping=mapping,
                        start_s=2.0, stop_s=10.0)
    assert plan.starts.tolist() == [5] and plan.n_out_of_bounds == 2
    # sliding: one label for every window (path labels), inside the span [1, 9)
    plan = plan_windows(n_times=10, sfreq_hz=1.0, window_s=4.0, mode="sliding", step_s=3.0,
                        label="X", start_s=1.0, stop_s=9.0)
    assert plan.starts.tolist() == [1, 4] and plan.labels.tolist() == ["X", "X"]
    # sliding labelled by spans: x covers [4, 7), so [6, 8) straddles it (dropped)
    plan = plan_windows(n_times=10, sfreq_hz=1.0, window_s=2.0, mode="sliding", events=ev,
                        mapping={"x": "X"}, default="rest")
    assert plan.starts.tolist() == [0, 2, 4, 8]
    assert plan.labels.tolist() == ["rest", "rest", "X", "rest"]
    shuffled = type(plan)(np.array([5, 1, 5]), np.array(["p", "q", "r"]), 2, 1.0)
    assert shuffled.in_time_order().labels.tolist() == ["q", "p", "r"]
    with pytest.raises(DataError, match=r"rec: none of the requested events \['c'\] found"):
        plan_windows(n_times=12, sfreq_hz=1.0, window_s=2.0, events=ev, mapping={"c": "C"},
                     source="rec")
    with pytest.raises(DataError, match=r"selected span \(2\.00 s\) is shorter"):
        plan_windows(n_times=12, sfreq_hz=1.0, window_s=4.0, mode="sliding", label="X",
                     start_s=8.0, stop_s=10.0)


def test_span_labels_by_hand():
    # Spans (samples at 1 Hz): W [0, 30), N1 [30, 60), seizure-like gap, R [100, 130)
    ev = EventTable.from_lists([0, 30, 100, 45], [30, 30, 30, 0], ["W", "N1", "R", "point"])
    mapping = {"W": "wake", "N1": "n1", "R": "rem", "point": "p"}
    starts = np.array([0, 10, 20, 30, 70, 95, 100])
    lab = span_labels(starts, 10, 1.0, ev, mapping)
    assert lab.tolist() == ["wake", "wake", "wake", "n1", None, None, "rem"]
    lab = span_labels(starts, 10, 1.0, ev, mapping, default="other")
    # [70, 80) touches nothing -> default; [95, 105) straddles R -> dropped.
    assert lab.tolist() == ["wake", "wake", "wake", "n1", "other", None, "rem"]
    # Window straddling W/N1 is ambiguous: dropped.
    assert span_labels(np.array([25]), 10, 1.0, ev, mapping).tolist() == [None]


def test_extract_windows_matches_slicing():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 50))
    starts = np.array([0, 7, 40])
    out = extract_windows(data, starts, 10, scale=np.array([1.0, 2.0, 3.0]))
    assert out.shape == (3, 3, 10) and out.dtype == np.float32
    for k, s in enumerate(starts):
        np.testing.assert_allclose(out[k], data[:, s : s + 10] * [[1], [2], [3]], rtol=1e-6)
    with pytest.raises(ValueError):
        extract_windows(data, np.array([45]), 10)


def _eegmmidb(shared_data, *runs):
    return [shared_data / "eegmmidb" / "S001" / f"S001R{r:02d}.edf" for r in runs]


def test_imagery_runs_give_15_labelled_epochs_each(shared_data, tmp_path):
    ws = load_windows(_eegmmidb(shared_data, 4, 8), MI, cache_dir=tmp_path)
    assert ws.X.shape == (30, 64, 640) and ws.X.dtype == np.float32
    assert ws.class_names == ("left", "right") and ws.sfreq_hz == 160.0
    for run in ("04", "08"):
        sel = ws.run == run
        assert sel.sum() == 15
        rec = read_recording(shared_data / "eegmmidb" / "S001" / f"S001R{run}.edf")
        ev = rec.events
        t = ev.description != "T0"
        np.testing.assert_allclose(ws.onset_s[sel], ev.onset_s[t])
        expect = ["left" if d == "T1" else "right" for d in ev.description[t]]
        assert [ws.class_names[i] for i in ws.y[sel]] == expect
        # Window content: the recording's samples in microvolts.
        first = np.rint(ev.onset_s[t][0] * 160).astype(int)
        np.testing.assert_allclose(
            ws.X[sel][0], rec.raw.get_data()[:, first : first + 640] * 1e6, rtol=1e-6, atol=1e-4
        )
    assert set(ws.subject) == {"001"} and ws.ch_names[:2] == ("FC5", "FC3")
    assert ws.provenance["recordings"] == [
        {"path": "S001R04.edf", "windows": 15, "out_of_bounds": 0},
        {"path": "S001R08.edf", "windows": 15, "out_of_bounds": 0},
    ]


def test_preprocessed_epochs_record_steps(shared_data, tmp_path):
    cfg = {
        **MI,
        "preprocess": [
            {"step": "bandpass", "l_freq": 8, "h_freq": 30},
            {"step": "resample", "sfreq": 80},
            {"step": "pick", "channels": ["C3", "Cz", "C4"]},
        ],
    }
    ws = load_windows(_eegmmidb(shared_data, 4), cfg, cache_dir=tmp_path)
    assert ws.X.shape == (15, 3, 320) and ws.ch_names == ("C3", "Cz", "C4")
    assert ws.sfreq_hz == 80.0
    assert ws.provenance["preprocess"][0] == {
        "step": "bandpass",
        "l_freq": 8.0,
        "h_freq": 30.0,
        "method": "fir",
    }
    assert ws.provenance["versions"]["mne"] == mne.__version__
    assert ws.provenance["files"][0]["sha256"].startswith("3d161f88e1c0")
    # Same windows as MNE by hand.
    raw = mne.io.read_raw_edf(_eegmmidb(shared_data, 4)[0], preload=True, verbose="error")
    raw.filter(8.0, 30.0, verbose="error").resample(80.0, verbose="error")
    raw.pick(["C3..", "Cz..", "C4.."])
    onset = raw.annotations.onset[raw.annotations.description != "T0"][0]
    s = round(onset * 80)
    np.testing.assert_allclose(ws.X[0], raw.get_data()[:, s : s + 320] * 1e6, rtol=1e-5, atol=1e-3)


def test_bonn_sets_load_with_their_labels(shared_data, tmp_path):
    cfg = {
        "sfreq_hz": 173.61,
        "expected_samples": 4097,
        "windows": {"mode": "sliding", "window_s": 4097 / 173.61},
        "labels": {"source": "path", "mapping": {"Z": "A", "O": "B", "N": "C", "F": "D", "S": "E"}},
    }
    ws = load_windows(shared_data / "bonn", cfg, cache_dir=tmp_path)
    assert ws.X.shape == (400, 1, 4097)
    assert ws.class_counts() == {"A": 80, "B": 80, "C": 80, "D": 80, "E": 80}
    for k in (0, 123, 399):
        letter = ws.recording[k].split("/")[0]
        assert ws.class_names[ws.y[k]] == cfg["labels"]["mapping"][letter]
        values = np.array((shared_data / "bonn" / ws.recording[k]).read_text().split(), float)
        np.testing.assert_allclose(ws.X[k, 0], values, rtol=1e-6)  # microvolts as written
    # Binary task: seizure (S) vs seizure-free (N, F); other sets are not loaded.
    cfg2 = {
        **cfg,
        "windows": {"mode": "sliding", "window_s": 23.0 / 4, "step_s": 23.0 / 8},
        "labels": {"source": "path", "mapping": {"S": "seizure", "N": "free", "F": "free"}},
    }
    ws2 = load_windows(shared_data / "bonn", cfg2, cache_dir=tmp_path)
    n_per = len(
        sliding_window_starts(4097, window_samples(23.0 / 4, 173.61), round(23.0 / 8 * 173.61))
    )
    assert n_per == 7
    assert ws2.class_names == ("seizure", "free") and len(ws2) == 240 * n_per
    assert ws2.class_counts() == {"seizure": 80 * n_per, "free": 160 * n_per}


def test_symlinked_recordings_keep_the_names_and_folders_they_are_given_under(
        shared_data, tmp_path):
    """A DataLad / git-annex dataset: every file is a link to a hashed object name. The
    recordings are named, and labelled from their folders, by the links, not the targets
    (which hold neither the set's letter nor the segment's name)."""
    store, dataset = tmp_path / "annex" / "objects", tmp_path / "bonn"
    store.mkdir(parents=True)
    for letter, name in (("Z", "Z001.txt"), ("Z", "Z002.txt"), ("S", "S001.txt"),
                         ("S", "S002.txt")):
        target = store / f"SHA256E-s{len(name)}--{letter}{name}.txt"
        target.write_bytes((shared_data / "bonn" / letter / name).read_bytes())
        (dataset / letter).mkdir(parents=True, exist_ok=True)
        (dataset / letter / name).symlink_to(target)
    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 4097 / 173.61},
           "labels": {"source": "path", "mapping": {"Z": "A", "S": "E"}}}
    for source in (dataset, sorted(dataset.rglob("*.txt"))):  # a folder, or the files
        ws = load_windows(source, cfg, cache_dir=tmp_path / "cache")
        assert sorted(ws.recording) == ["S/S001.txt", "S/S002.txt", "Z/Z001.txt",
                                        "Z/Z002.txt"]
        assert ws.class_counts() == {"A": 2, "E": 2}


def test_linked_subject_folders_keep_their_names(shared_data, tmp_path):
    """data/sub01 and data/sub02 link to store/s1 and store/s2, each holding a seg.txt:
    the recordings are sub01/... and sub02/... (two recordings, the folders as given), with
    the dataset root given or found."""
    for sub, src in (("s1", "Z001.txt"), ("s2", "Z002.txt")):
        (tmp_path / "store" / sub / "Z").mkdir(parents=True)
        (tmp_path / "store" / sub / "Z" / "seg.txt").write_bytes(
            (shared_data / "bonn" / "Z" / src).read_bytes())
    data = tmp_path / "data"
    data.mkdir()
    for link, sub in (("sub01", "s1"), ("sub02", "s2")):
        (data / link).symlink_to(tmp_path / "store" / sub, target_is_directory=True)
    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 4097 / 173.61},
           "labels": {"source": "path", "mapping": {"Z": "A"}}}
    files = [data / "sub01" / "Z" / "seg.txt", data / "sub02" / "Z" / "seg.txt"]
    for root in (data, None):
        ws = load_windows(files, cfg, root=root, cache_dir=tmp_path / "c")
        assert sorted(set(ws.recording)) == ["sub01/Z/seg.txt", "sub02/Z/seg.txt"]


def test_a_recording_has_one_name_however_it_is_reached(shared_data, tmp_path,
                                                        monkeypatch):
    """Through a linked working directory, a relative path, an absolute path through the
    link or the real folder: the same recordings, the same names (a cluster's /home is
    often a link)."""
    from eegsnn.io.files import canonical_path

    real = tmp_path / "real" / "bonn"
    for letter in ("Z", "S"):
        (real / letter).mkdir(parents=True)
        for name in (f"{letter}001.txt", f"{letter}002.txt"):
            (real / letter / name).write_bytes((shared_data / "bonn" / letter / name)
                                               .read_bytes())
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    monkeypatch.chdir(tmp_path / "link" / "bonn")
    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 4097 / 173.61},
           "labels": {"source": "path", "mapping": {"Z": "A", "S": "E"}}}
    files = ["Z/Z001.txt", "Z/Z002.txt", "S/S001.txt", "S/S002.txt"]
    spellings = [[Path(f) for f in files], [Path("..") / "bonn" / f for f in files],
                 [tmp_path / "link" / "bonn" / f for f in files], [real / f for f in files]]
    names = {tuple(sorted(load_windows(src, cfg, cache_dir=tmp_path / "c").recording))
             for src in spellings}
    assert names == {("S/S001.txt", "S/S002.txt", "Z/Z001.txt", "Z/Z002.txt")}
    assert {canonical_path(src[0]) for src in spellings} == {real / "Z" / "Z001.txt"}


def test_sleep_staging_from_hypnogram(tmp_path):
    rng = np.random.default_rng(0)
    start = datetime.datetime(1989, 4, 24, 16, 13)
    write_edf(
        tmp_path / "SC4001E0-PSG.edf",
        rng.normal(0, 20e-6, (2, 100 * 240)),
        100,
        ["EEG Fpz-Cz", "EEG Pz-Oz"],
        start=start,
    )
    # Hypnogram starts 30 s after the PSG: every onset moves by +30 s.
    write_edf(
        tmp_path / "SC4001EC-Hypnogram.edf",
        np.zeros((1, 10)),
        1,
        ["x"],
        annotations=(
            [0, 60, 90, 150],
            [60, 30, 60, 30],
            ["Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage ?"],
        ),
        start=start + datetime.timedelta(seconds=30),
    )
    cfg = {
        "windows": {"mode": "sliding", "window_s": 30},
        "labels": {
            "source": "hypnogram",
            "mapping": {"Sleep stage W": "W", "Sleep stage 1": "N1", "Sleep stage 2": "N2"},
        },
    }
    ws = load_windows([tmp_path / "SC4001E0-PSG.edf"], cfg, cache_dir=tmp_path / "c")
    # PSG time: W [30, 90) -> windows at 30, 60; N1 [90, 120) -> 90; N2 [120, 180) -> 120, 150
    np.testing.assert_allclose(ws.onset_s, [30, 60, 90, 120, 150])
    assert [ws.class_names[i] for i in ws.y] == ["W", "W", "N1", "N2", "N2"]
    assert ws.ch_names == ("Fpz-Cz", "Pz-Oz") and ws.subject[0] == "C00"
    assert ws.session[0] == "1"
    assert {f["path"] for f in ws.provenance["files"]} == {
        "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf (labels)"}  # its checksum is recorded
    # a corrected hypnogram (the PSG unchanged) is read again, not taken from the cache
    write_edf(tmp_path / "SC4001EC-Hypnogram.edf", np.zeros((1, 10)), 1, ["x"],
              annotations=([0, 60, 90], [60, 30, 90],
                           ["Sleep stage W", "Sleep stage 2", "Sleep stage 1"]),
              start=start + datetime.timedelta(seconds=30))
    again = load_windows([tmp_path / "SC4001E0-PSG.edf"], cfg, cache_dir=tmp_path / "c")
    assert again.provenance["cache"]["hit"] is False
    assert [again.class_names[i] for i in again.y] == ["W", "W", "N2", "N1", "N1", "N1"]


def test_seizure_windows_from_chbmit_summary(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("chb01_01.edf", "chb01_03.edf"):
        write_edf(tmp_path / name, rng.normal(0, 20e-6, (2, 256 * 60)), 256, ["FP1-F7", "F7-T7"])
    (tmp_path / "chb01-summary.txt").write_text(
        "File Name: chb01_01.edf\nNumber of Seizures in File: 0\n\n"
        "File Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
        "Seizure Start Time: 20 seconds\nSeizure End Time: 32 seconds\n"
    )
    cfg = {
        "windows": {"mode": "sliding", "window_s": 4, "step_s": 2},
        "labels": {
            "source": "seizures",
            "summary": "chb01-summary.txt",
            "mapping": {"seizure": "seizure"},
            "default": "background",
        },
    }
    ws = load_windows(tmp_path, cfg, cache_dir=tmp_path / "c")
    assert ws.class_names == ("seizure", "background")
    assert ws.ch_names == ("Fp1-F7", "F7-T7")
    sz = ws.onset_s[(ws.y == 0)]
    np.testing.assert_allclose(sz, [20, 22, 24, 26, 28])  # windows inside [20, 32)
    rec3 = ws.recording == "chb01_03.edf"
    # Windows straddling onset/offset (18, 30) are dropped; 29 windows per minute at 2 s hop.
    assert rec3.sum() == 29 - 2 and (ws.recording == "chb01_01.edf").sum() == 29
    assert set(ws.run) == {"01", "03"} and set(ws.subject) == {"01"}


def test_seizures_outside_the_recording_are_refused_or_cut(tmp_path, caplog):
    """A summary that puts a seizure after a 60 s recording's end is a summary of another
    file: refused, naming both. One that runs past the end is cut there, with a warning."""
    write_edf(tmp_path / "chb01_03.edf", np.zeros((1, 256 * 60)) + 1e-6, 256, ["FP1-F7"])
    cfg = {"windows": {"mode": "sliding", "window_s": 4, "step_s": 4},
           "labels": {"source": "seizures", "summary": "chb01-summary.txt",
                      "mapping": {"seizure": "seizure"}, "default": "background"}}
    summary = tmp_path / "chb01-summary.txt"
    summary.write_text("File Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
                       "Seizure Start Time: 300 seconds\nSeizure End Time: 400 seconds\n")
    with pytest.raises(DataError, match=r"chb01_03.edf: the seizure summary "
                                        r"chb01-summary.txt puts a seizure at 300-400 s, "
                                        r"after the recording's end \(60.0 s\)"):
        load_windows(tmp_path, cfg, cache_dir=tmp_path / "c")
    summary.write_text("File Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
                       "Seizure Start Time: 40 seconds\nSeizure End Time: 400 seconds\n")
    with caplog.at_level("WARNING"):
        ws = load_windows(tmp_path, cfg, cache_dir=tmp_path / "c")
    assert "seizure at 40-400 s runs past the recording's end (60.0 s)" in caplog.text
    np.testing.assert_allclose(ws.onset_s[ws.y == 0], [40, 44, 48, 52, 56])
    summary.write_text("File Name: chb01_03.edf\nNumber of Seizures in File: 2\n"
                       "Seizure 1 Start Time: 8 seconds\nSeizure 1 End Time: 20 seconds\n"
                       "Seizure 2 Start Time: 16 seconds\nSeizure 2 End Time: 24 seconds\n")
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_windows(tmp_path, cfg, cache_dir=tmp_path / "c")
    assert "seizures at 8-20 s and 16-24 s overlap; labelled as one" in caplog.text


def test_events_file_labels(tmp_path):
    write_edf(tmp_path / "sub-01_task-mi_run-1_eeg.edf", np.zeros((1, 1000)) + 1e-6, 100, ["Cz"])
    (tmp_path / "sub-01_task-mi_run-1_events.tsv").write_text(
        "onset\tduration\ttrial_type\n1.0\t2\tleft\n5.0\t2\tright\n9.5\t2\tleft\n"
    )
    cfg = {
        "windows": {"mode": "events", "window_s": 2.0},
        "labels": {
            "source": "events_file",
            "mapping": {"left": "L", "right": "R"},
            "events_file": "{stem}_events.tsv",
        },
    }
    cfg["labels"]["events_file"] = "sub-01_task-mi_run-1_events.tsv"
    ws = load_windows([tmp_path / "sub-01_task-mi_run-1_eeg.edf"], cfg, cache_dir=tmp_path)
    # The event at 9.5 s would end at 11.5 s > 10 s: dropped and counted.
    np.testing.assert_allclose(ws.onset_s, [1.0, 5.0])
    assert ws.provenance["recordings"][0]["out_of_bounds"] == 1
    assert ws.subject[0] == "01" and ws.run[0] == "1"
    # an edited events file is read again (the cache key covers it)
    (tmp_path / "sub-01_task-mi_run-1_events.tsv").write_text(
        "onset\ttrial_type\n1.0\tright\n5.0\tright\n")
    again = load_windows([tmp_path / "sub-01_task-mi_run-1_eeg.edf"], cfg, cache_dir=tmp_path)
    assert [again.class_names[i] for i in again.y] == ["R", "R"]



def test_label_file_changed_while_read_is_refused(tmp_path, monkeypatch):
    """An events file edited between its hashing and its reading is refused, as a
    recording is (its windows were cached under the old file's key)."""
    import eegsnn.preprocess.dataset as dataset_mod
    from eegsnn.errors import DataError

    edf = tmp_path / "sub-01_task-mi_run-1_eeg.edf"
    write_edf(edf, np.zeros((1, 1000)) + 1e-6, 100, ["Cz"])
    events = tmp_path / "sub-01_task-mi_run-1_events.tsv"
    events.write_text("onset\tduration\ttrial_type\n1.0\t2\tleft\n5.0\t2\tright\n")
    cfg = {"windows": {"mode": "events", "window_s": 2.0},
           "labels": {"source": "events_file", "mapping": {"left": "L", "right": "R"},
                      "events_file": events.name}}
    real = dataset_mod.read_recording

    def read_then_edit(path, **kwargs):
        rec = real(path, **kwargs)
        events.write_text("onset\tduration\ttrial_type\n1.0\t2\tright\n5.0\t2\tright\n")
        return rec

    monkeypatch.setattr(dataset_mod, "read_recording", read_then_edit)
    with pytest.raises(DataError, match=r"_events\.tsv: the file changed while it was being "
                                        "read"):
        load_windows([edf], cfg, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("**/*.npz"))

def test_config_validation():
    base = {
        "windows": {"mode": "events", "window_s": 4},
        "labels": {"source": "annotations", "mapping": {"T1": "left"}},
    }
    cfg = validate_config(base)
    assert cfg["labels"]["class_names"] == ["left"] and cfg["windows"]["tmin_s"] == 0.0
    bad = [
        ({**base, "colour": 1}, r"unknown key\(s\) colour"),
        ({**base, "windows": {"mode": "random", "window_s": 4}}, "windows.mode"),
        ({**base, "windows": {"mode": "events", "window_s": 0}}, "window_s must be a positive"),
        ({**base, "windows": {"mode": "events", "window_s": 4, "step_s": 1}}, "'sliding' only"),
        ({**base, "labels": {"source": "tea", "mapping": {"a": "b"}}}, "labels.source"),
        ({**base, "labels": {"source": "annotations", "mapping": {}}}, "non-empty mapping"),
        ({**base, "labels": {"source": "path", "mapping": {"Z": "A"}}}, "use windows.mode"),
        (
            {
                **base,
                "windows": {"mode": "sliding", "window_s": 4},
                "labels": {"source": "seizures", "mapping": {"s": "s"}},
            },
            "needs labels.summary",
        ),
        ({**base, "reader": "edflib"}, "reader must be one of"),
        ({**base, "windows": {"mode": "sliding", "window_s": 4, "tmin_s": 100}},
         "tmin_s .* applies to mode 'events' only"),
        ({**base, "windows": {"mode": "events", "window_s": 4, "tmin_s": "x"}},
         "tmin_s must be a number"),
        ({**base, "labels": {"source": "annotations", "mapping": {"T1": False}}},
         r"'T1': False: a boolean.*quote it"),
        ({"labels": base["labels"]}, "needs a 'windows' mapping"),
    ]
    for conf, match in bad:
        with pytest.raises(ConfigError, match=match):
            validate_config(conf)


def _toy_set(n=12):
    rng = np.random.default_rng(0)
    subj = np.array(["01", "01", "01", "02", "02", "03", "03", "03", "03", "04", "05", "05"])[:n]
    return WindowSet(
        X=rng.normal(size=(n, 2, 5)),
        y=np.arange(n) % 2,
        class_names=("a", "b"),
        ch_names=("C3", "C4"),
        sfreq_hz=100.0,
        subject=subj,
        session=[""] * n,
        run=[str(i % 3) for i in range(n)],
        recording=[f"{s}/r{i % 3}.edf" for i, s in enumerate(subj)],
        onset_s=np.arange(n, dtype=float),
        provenance={"note": "toy"},
    )


def test_windowset_save_load_subset_concat(tmp_path):
    ws = _toy_set()
    ws.save(tmp_path / "w.npz")
    back = WindowSet.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(back.X, ws.X)
    for attr in ("y", "subject", "session", "run", "recording", "onset_s"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(ws, attr))
    assert back.class_names == ws.class_names and back.provenance == {"note": "toy"}
    sub = ws.subset(ws.subject == "03")
    assert len(sub) == 4 and set(sub.subject) == {"03"}
    both = WindowSet.concat([ws.subset([0, 1]), ws.subset([5])])
    assert both.onset_s.tolist() == [0.0, 1.0, 5.0]
    assert ws.groups("session")[0] == "01/" and ws.groups("recording")[0] == "01/r0.edf"
    with pytest.raises(ConfigError):
        ws.groups("hospital")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk\.npz: not a readable window set"):
        WindowSet.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="channels"):
        WindowSet(
            X=np.zeros((1, 3, 4)),
            y=[0],
            class_names=("a",),
            ch_names=("x",),
            sfreq_hz=1,
            subject=["s"],
            session=[""],
            run=[""],
            recording=["r"],
            onset_s=[0],
        )


def test_group_kfold_never_leaks_and_covers_everything():
    ws = _toy_set()
    groups = ws.groups("subject")
    folds = group_kfold(groups, n_splits=3, seed=1)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(len(ws)))
    for train, test in folds:
        check_disjoint(groups, train, test)
        assert len(train) + len(test) == len(ws)
    # Balanced: the largest group (4 windows) sits alone or with small ones.
    sizes = sorted(len(t) for _, t in folds)
    assert sizes == [4, 4, 4]
    with pytest.raises(ConfigError, match="more than the 5 groups"):
        group_kfold(groups, n_splits=6)
    with pytest.raises(DataError, match="split leaks"):
        check_disjoint(groups, np.array([0]), np.array([1]))


def test_leave_out_and_train_test_split():
    groups = _toy_set().groups("subject")
    train, test = leave_groups_out(groups, ["03"])
    assert test.tolist() == [5, 6, 7, 8] and 5 not in train
    with pytest.raises(ConfigError, match="not among the groups"):
        leave_groups_out(groups, ["99"])
    tr, te = group_train_test_split(groups, 0.25, seed=0)
    check_disjoint(groups, tr, te)
    assert len(te) >= 3 and len(tr) > 0
    with pytest.raises(ConfigError, match="at least two groups"):
        group_train_test_split(["a", "a"], 0.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=3, max_size=40), st.integers(2, 4), st.integers(0, 1000)
)
def test_group_kfold_property(labels, k, seed):
    groups = np.array([f"g{v}" for v in labels])
    if len(set(labels)) < k:
        with pytest.raises(ConfigError):
            group_kfold(groups, k, seed=seed)
        return
    folds = group_kfold(groups, k, seed=seed)
    assert len(folds) == k
    tests = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(test) > 0


def _span_labels_reference(starts, n, sfreq, events, mapping, default):
    out = []
    for s in starts:
        ws, we = s, s + n
        inside, partial = set(), set()
        for on, dur, d in zip(events.onset_s, events.duration_s, events.description,
                              strict=True):
            if d not in mapping or dur <= 0:
                continue
            a, b = round(on * sfreq), round((on + dur) * sfreq)
            if a <= ws and we <= b:
                inside.add(mapping[d])
            elif a < we and ws < b:
                partial.add(mapping[d])
        if inside:
            out.append(next(iter(inside)) if len(inside) == 1 and partial <= inside else None)
        else:
            out.append(None if partial else default)
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30), st.sampled_from("abcx")),
                max_size=8),
       st.integers(1, 12), st.integers(1, 6), st.sampled_from([None, "bg"]))
def test_span_labels_matches_reference(spans, n, step, default):
    ev = EventTable.from_lists([s[0] for s in spans], [s[1] for s in spans],
                               [s[2] for s in spans])
    mapping = {"a": "A", "b": "B", "c": "A"}
    starts = sliding_window_starts(80, n, step)
    got = span_labels(starts, n, 1.0, ev, mapping, default).tolist()
    assert got == _span_labels_reference(starts, n, 1.0, ev, mapping, default)


def test_crop_keeps_onsets_in_recording_time(shared_data, tmp_path):
    f = _eegmmidb(shared_data, 4)
    full = load_windows(f, MI, cache_dir=tmp_path)
    cropped = load_windows(f, {**MI, "preprocess": [{"step": "crop", "tmin_s": 30.0}]},
                           cache_dir=tmp_path)
    keep = full.onset_s >= 30.0
    np.testing.assert_allclose(cropped.onset_s, full.onset_s[keep])
    np.testing.assert_allclose(cropped.X, full.X[keep])
    np.testing.assert_array_equal(cropped.y, full.y[keep])


def test_config_from_yaml_file(shared_data, tmp_path):
    (tmp_path / "pipeline.yaml").write_text(
        "dataset:\n  preprocess:\n    - {step: pick, channels: [C3, Cz, C4]}\n"
        "  windows: {mode: events, window_s: 4.0}\n"
        "  labels:\n    source: annotations\n    mapping: {T1: left, T2: right}\n"
        "model: {whatever: 1}\n")
    ws = load_windows(_eegmmidb(shared_data, 8), tmp_path / "pipeline.yaml", cache_dir=tmp_path)
    assert ws.X.shape == (15, 3, 640) and ws.class_names == ("left", "right")
    (tmp_path / "bad.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: a dataset config is a YAML mapping"):
        load_windows(_eegmmidb(shared_data, 8), tmp_path / "bad.yaml", cache_dir=tmp_path)


def test_free_text_annotations_stay_out_of_errors_and_the_cache(tmp_path):
    """EDF+ annotations are free text and may name the patient: an error listing the events
    present, and the windows' provenance (kept in the window cache), show event codes and
    the mapping's own words, and count the rest (they copied every text)."""
    from eegsnn.io.labels import FREE_TEXT

    rng = np.random.default_rng(0)
    texts = ["Patient Jane Doe coughed", "Nurse Smith: JD-19700101", "T1"]
    write_edf(tmp_path / "a.edf", rng.normal(0, 20e-6, (1, 100 * 30)), 100, ["Cz"],
              annotations=([1.0, 5.0, 9.0], [1.0, 1.0, 2.0], texts))
    cfg = {"windows": {"mode": "events", "window_s": 2.0},
           "labels": {"source": "annotations", "mapping": {"T7": "left", "T8": "right"}}}
    with pytest.raises(DataError) as err:
        load_windows([tmp_path / "a.edf"], cfg, cache_dir=tmp_path / "c")
    message = str(err.value)
    assert "'T1': 1" in message and f"'{FREE_TEXT}': 2" in message, message
    assert "Jane" not in message and "Smith" not in message
    cfg["labels"]["mapping"] = {"T1": "left", "Patient Jane Doe coughed": "cough"}
    ws = load_windows([tmp_path / "a.edf"], cfg, cache_dir=tmp_path / "c")
    codes = ws.provenance["label_codes"]  # the mapping's own words are the user's: kept
    assert codes == {"Patient Jane Doe coughed": 1, "T1": 1, FREE_TEXT: 1}, codes
    from eegsnn.io.labels import public_event_counts

    shown = {"Stimulus/S  1": 1, "Response/R 12": 1, "BAD_ACQ_SKIP": 1, "768": 1,
             "Sleep stage W": 1}  # BrainVision, MNE, numeric, Sleep-EDF
    hidden = {"JaneDoe coughed": 1, "john smith": 1, "Comment/Anna Schmidt": 1,
              "patient anna": 1, "Comment/Schmidt": 1, "Nurse_Smith": 1, "JaneDoe": 1,
              "Dr.Mueller": 1}  # typed text, one word or lower-case too
    assert public_event_counts({**shown, **hidden}) == {**shown, FREE_TEXT: 8}
    import zipfile

    for npz in (tmp_path / "c").rglob("*.npz"):
        with zipfile.ZipFile(npz) as z:
            assert not any(b"Smith" in z.read(n) for n in z.namelist())
