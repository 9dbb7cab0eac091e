"""Label sources: sidecar tables, hypnogram EDF, CHB-MIT summaries, paths, file ids."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.io import (
    SLEEP_EDF_STAGES,
    EventTable,
    find_hypnogram,
    label_from_path,
    parse_chbmit_summary,
    parse_recording_ids,
    read_events_table,
    read_hypnogram,
    seizure_events,
    write_edf,
)


def test_bids_events_tsv(tmp_path):
    f = tmp_path / "sub-01_task-mi_events.tsv"
    f.write_text("onset\tduration\ttrial_type\tvalue\n4.5\t4.0\tright\t2\n0.5\tn/a\tleft\t1\n")
    ev = read_events_table(f)
    np.testing.assert_allclose(ev.onset_s, [0.5, 4.5])  # sorted by onset
    np.testing.assert_allclose(ev.duration_s, [0.0, 4.0])
    assert list(ev.description) == ["left", "right"]
    ev2 = read_events_table(f, label_column="value")
    assert list(ev2.description) == ["1", "2"]


def test_csv_events_and_errors(tmp_path):
    f = tmp_path / "ev.csv"
    f.write_text("start_s,label\n1.0,a\n2.0,b\n")
    ev = read_events_table(f)
    assert ev.counts() == {"a": 1, "b": 1} and (ev.duration_s == 0).all()
    (tmp_path / "nocol.csv").write_text("when,label\n1,a\n")
    with pytest.raises(DataError, match=r"nocol\.csv: no onset column"):
        read_events_table(tmp_path / "nocol.csv")
    (tmp_path / "badrow.csv").write_text("onset,label\n1,a\nxx,b\n")
    with pytest.raises(DataError, match=r"badrow\.csv: row 3"):
        read_events_table(tmp_path / "badrow.csv")
    (tmp_path / "neg.csv").write_text("onset,label\n-1,a\n")
    with pytest.raises(DataError, match="negative"):
        read_events_table(tmp_path / "neg.csv")


def test_hypnogram_edf_roundtrip_and_pairing(tmp_path):
    psg = tmp_path / "SC4001E0-PSG.edf"
    write_edf(psg, np.zeros((1, 300)), 100, ["EEG Fpz-Cz"])
    hyp = tmp_path / "SC4001EC-Hypnogram.edf"
    stages = ["Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage R"]
    write_edf(
        hyp,
        np.zeros((1, 100)),
        1,
        ["Dummy"],
        annotations=([0, 30, 60, 120], [30, 30, 60, 30], stages),
        start=datetime.datetime(2000, 1, 1, 0, 0, 0),
    )
    assert find_hypnogram(psg) == hyp
    ev, start = read_hypnogram(hyp)
    np.testing.assert_allclose(ev.onset_s, [0, 30, 60, 120])
    np.testing.assert_allclose(ev.duration_s, [30, 30, 60, 30])
    assert list(ev.description) == stages
    assert start == datetime.datetime(2000, 1, 1)
    assert [SLEEP_EDF_STAGES[s] for s in stages] == ["W", "N1", "N2", "REM"]
    (tmp_path / "SC4002E0-PSG.edf").write_bytes(psg.read_bytes())
    with pytest.raises(DataError, match="expected one hypnogram SC4002E"):
        find_hypnogram(tmp_path / "SC4002E0-PSG.edf")


def test_hypnogram_without_annotations(tmp_path):
    write_edf(tmp_path / "h.edf", np.zeros((1, 10)), 1, ["Dummy"])
    with pytest.raises(DataError, match=r"h\.edf: hypnogram holds no annotations"):
        read_hypnogram(tmp_path / "h.edf")


SUMMARY = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
Channel 1: FP1-F7

File Name: chb01_01.edf
File Start Time: 11:42:54
File End Time: 12:42:54
Number of Seizures in File: 0

File Name: chb01_03.edf
File Start Time: 13:43:04
File End Time: 14:43:04
Number of Seizures in File: 1
Seizure Start Time: 2996 seconds
Seizure End Time: 3036 seconds

File Name: chb24_04.edf
File Start Time: 02:00:00
File End Time: 03:00:00
Number of Seizures in File: 2
Seizure 1 Start Time: 1088 seconds
Seizure 1 End Time: 1120 seconds
Seizure 2 Start Time: 1411 seconds
Seizure 2 End Time: 1438 seconds
"""


def test_chbmit_summary(tmp_path):
    f = tmp_path / "chb01-summary.txt"
    f.write_text(SUMMARY.replace("\n", "\r\n"))
    s = parse_chbmit_summary(f)
    assert s == {
        "chb01_01.edf": [],
        "chb01_03.edf": [(2996.0, 3036.0)],
        "chb24_04.edf": [(1088.0, 1120.0), (1411.0, 1438.0)],
    }
    ev = seizure_events(s["chb24_04.edf"])
    np.testing.assert_allclose(ev.onset_s, [1088, 1411])
    np.testing.assert_allclose(ev.duration_s, [32, 27])
    assert ev.counts() == {"seizure": 2}


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            ("Number of Seizures in File: 1", "Number of Seizures in File: 2"),
            "chb01_03.edf declares 2 seizures but lists 1",
        ),
        (("Seizure End Time: 3036", "Seizure End Time: 2000"), "ends .* before it starts"),
        (("Seizure End Time: 3036 seconds\n", ""), "seizure start without an end"),
    ],
)
def test_chbmit_summary_errors(tmp_path, edit, match):
    f = tmp_path / "chb01-summary.txt"
    f.write_text(SUMMARY.replace(*edit))
    with pytest.raises(DataError, match=r"chb01-summary\.txt: .*" + match):
        parse_chbmit_summary(f)


def test_label_from_path():
    assert label_from_path("Z/Z001.txt") == "Z"
    assert label_from_path("N/N001.TXT") == "N"
    assert label_from_path("sets/S/S042.txt", r"([ZONFS])\d{3}\.") == "S"
    with pytest.raises(ConfigError, match="capture group"):
        label_from_path("Z/Z001.txt", r"Z")
    with pytest.raises(DataError, match="does not match"):
        label_from_path("Z/Z001.txt", r"(Q)")
    with pytest.raises(DataError, match="no parent folder"):
        label_from_path("Z001.txt")


@pytest.mark.parametrize(
    ("path", "ids"),
    [
        ("S001/S001R04.edf", ("001", "", "04")),
        ("sub-07/ses-2/eeg/sub-07_ses-2_task-mi_run-3_eeg.edf", ("07", "2", "3")),
        ("chb01/chb01_03.edf", ("01", "", "03")),
        ("chb17/chb17a_03.edf", ("17a", "", "03")),
        ("sleep-cassette/SC4012E0-PSG.edf", ("C01", "2", "")),
        ("sleep-telemetry/ST7011J0-PSG.edf", ("T01", "1", "")),
        ("Z/Z001.txt", ("Z001", "", "")),
    ],
)
def test_recording_ids(path, ids):
    got = parse_recording_ids(path)
    assert (got["subject"], got["session"], got["run"]) == ids


def test_recording_ids_custom_pattern_and_no_fallback():
    got = parse_recording_ids("p12/night3.edf", r"p(?P<subject>\d+)/night(?P<session>\d)")
    assert got == {"subject": "12", "session": "3", "run": ""}
    assert parse_recording_ids("Z/Z001.txt", fallback_to_stem=False)["subject"] == ""
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_recording_ids("a.edf", "(")


def test_event_table_helpers():
    ev = EventTable.from_lists([3.0, 1.0], [1.0, 0.0], ["b", "a"])
    assert list(ev.description) == ["a", "b"]
    np.testing.assert_allclose(ev.shifted(-1.0).onset_s, [0.0, 2.0])
    both = ev.concat(EventTable.from_lists([2.0], [0.0], ["c"]))
    assert list(both.description) == ["a", "c", "b"] and len(both) == 3
