"""BIDS input (extra ``bids``): a BIDS tree the test writes with mne-bids from EEGMMIDB S001
(two "subjects" from four S001 runs), read back with entity filters, labels from events.tsv,
subjects from participants.tsv, split by subject."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn.errors import ConfigError, DataError
from eegsnn.io.bids import bids_participants, find_bids_recordings, validate_bids_filters
from eegsnn.preprocess import leave_groups_out, load_windows

mne = pytest.importorskip("mne")

CONFIG = {"bids": {"task": "imagery", "datatype": "eeg"},
          "windows": {"mode": "events", "window_s": 2.0},
          "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}


@pytest.fixture(scope="module")
def bids_root(shared_data, tmp_path_factory, require_extra):
    mne_bids = require_extra("mne_bids", "bids")  # skipped without it; a failure in CI
    root = tmp_path_factory.mktemp("bids") / "ds"
    # sub-01 holds S001R04/R08; sub-02 other recordings (R06/R10, also imagined, T1/T2)
    # under the same run numbers: identical copies would be merged into one split group
    source = {"01": {4: 4, 8: 8}, "02": {4: 6, 8: 10}}
    for sub in ("01", "02"):
        for run in (4, 8):
            raw = mne.io.read_raw_edf(shared_data / "eegmmidb" / "S001" /
                                      f"S001R{source[sub][run]:02d}.edf", verbose="error")
            path = mne_bids.BIDSPath(subject=sub, task="imagery", run=run, datatype="eeg",
                                     root=root)
            mne_bids.write_raw_bids(raw, path, overwrite=True, verbose="error")
    return root


def test_bids_root_reads_with_entity_filters_and_subjects(bids_root, tmp_path):
    ws = load_windows(bids_root, CONFIG, cache_dir=tmp_path)
    assert sorted(set(ws.subject)) == ["01", "02"] and sorted(set(ws.run)) == ["4", "8"]
    assert len(set(ws.recording)) == 4
    assert all(r.startswith(f"sub-{s}/eeg/") for r, s in zip(ws.recording, ws.subject,
                                                             strict=True))
    # the same windows as reading the EDF files (copies of S001R04/R08) directly
    direct = load_windows([bids_root / "sub-01" / "eeg" /
                           f"sub-01_task-imagery_run-{r}_eeg.edf" for r in (4, 8)],
                          {k: v for k, v in CONFIG.items() if k != "bids"},
                          cache_dir=tmp_path)
    mine = np.asarray(ws.subject) == "01"
    np.testing.assert_allclose(ws.X[mine], direct.X, rtol=1e-5, atol=1e-3)
    assert np.array_equal(ws.y[mine], direct.y)
    # entity filters select files
    one = load_windows(bids_root, {**CONFIG, "bids": {"subject": "02", "run": ["8"]}},
                       cache_dir=tmp_path)
    assert set(one.subject) == {"02"} and set(one.run) == {"8"}
    assert len(one) == int((np.asarray(ws.subject) == "02").sum() / 2)
    # provenance hashes the sidecars that decide labels and subjects
    paths = [f["path"] for f in ws.provenance["files"]]
    assert "participants.tsv" in paths and any(p.endswith("_events.tsv") for p in paths)
    # split by subject: no subject on both sides
    train, test = leave_groups_out(ws.groups("subject"), ["02"])
    assert set(ws.subject[train]) == {"01"} and set(ws.subject[test]) == {"02"}


def test_labels_come_from_events_tsv(bids_root, tmp_path):
    events = bids_root / "sub-02" / "eeg" / "sub-02_task-imagery_run-4_events.tsv"
    rows = list(csv.DictReader(open(events, encoding="utf-8"), delimiter="\t"))
    before = load_windows(bids_root, {**CONFIG, "bids": {"subject": "02", "run": "4"}},
                          cache_dir=tmp_path)
    renamed = {"T1": "left_hand", "T2": "right_hand"}
    text = open(events, encoding="utf-8").read()
    try:
        with open(events, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "trial_type": renamed.get(r["trial_type"],
                                                                r["trial_type"])})
        cfg = {**CONFIG, "bids": {"subject": "02", "run": "4"},
               "labels": {"source": "annotations",
                          "mapping": {"left_hand": "left", "right_hand": "right"}}}
        # the EDF still says T1/T2: the labels come from events.tsv (and the edit is not
        # served from the cache)
        after = load_windows(bids_root, cfg, cache_dir=tmp_path)
        assert not after.provenance["cache"]["hit"]
        assert np.array_equal(after.y, before.y) and len(after) == len(before)
        with pytest.raises(DataError):
            load_windows(bids_root, {**CONFIG, "bids": {"subject": "02", "run": "4"}},
                         cache_dir=tmp_path)
    finally:
        events.write_text(text, encoding="utf-8")


def test_bids_errors_name_the_problem(bids_root, tmp_path):
    assert bids_participants(bids_root) == ["01", "02"]
    with pytest.raises(ConfigError, match=r"participants\.tsv"):
        find_bids_recordings(bids_root, {"subject": "07"})
    with pytest.raises(DataError, match="no BIDS recording matches"):
        find_bids_recordings(bids_root, {"task": "rest"})
    with pytest.raises(DataError, match="not a BIDS root"):
        load_windows(bids_root / "sub-01", CONFIG, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown key"):
        validate_bids_filters({"subjects": "01"})
    assert validate_bids_filters({"subject": "sub-01"})["subject"] == ["01"]
    # labels.source events_file looks beside the recording under another name: the error
    # points to the setting that reads events.tsv (not "events file ... not found")
    cfg = {**CONFIG, "bids": {"subject": "01"},
           "labels": {**CONFIG["labels"], "source": "events_file"}}
    with pytest.raises(ConfigError, match=r"labels\.source 'events_file' with a BIDS root.*"
                                          r"use labels\.source: annotations") as info:
        load_windows(bids_root, cfg, cache_dir=tmp_path)
    assert "not found beside it" not in str(info.value)


def test_pipeline_on_a_bids_root_splits_by_subject(bids_root, tmp_path):
    import json

    from eegsnn.pipeline import run_pipeline

    out = tmp_path / "run"
    run_pipeline({
        "pipeline": "motor_imagery", "data": {"source": str(bids_root)},
        "dataset": {"bids": {"task": "imagery", "run": "4"}},
        "split": {"method": "leave_groups_out", "by": "subject", "test_groups": ["02"]},
        "encoder": {"spikes_per_s": 8}, "model": {"hidden": [8]}, "train": {"epochs": 1},
        "baseline": None, "report": {"format": "none"}, "cache_dir": str(tmp_path / "c")},
        out)
    splits = json.loads((out / "splits.json").read_text())
    assert splits["by"] == "subject" and splits["folds"][0]["test_groups"] == ["02"]
    data = json.loads((out / "data.json").read_text())
    assert data["n_recordings"] == 2
    assert {f["path"] for f in data["files"]} >= {
        "sub-01/eeg/sub-01_task-imagery_run-4_eeg.edf", "participants.tsv"}
