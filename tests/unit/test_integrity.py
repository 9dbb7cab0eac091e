"""Run integrity records, temp-file cleanup, atomic NumPy archives, the train/evaluate overlap
check and the finished marker, on run folders written here (no training)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_npz, is_temp_name, remove_temp_files, sha256_file
from eegsnn.pipeline.integrity import (
    INTEGRITY_FILE,
    record_integrity,
    tracked_files,
    verify_integrity,
)
from eegsnn.pipeline.records import check_overlap, training_files, write_training_files
from eegsnn.pipeline.runstate import mark_ended, mark_started, read_status, require_finished


def _fake_run(root):
    """A finished-looking run folder: model files, fold files, later-command outputs."""
    files = {
        "config.yaml": "name: x\n",
        "data.json": "{}\n",
        "model/checkpoint/model.safetensors": "weights",
        "model/encoder.json": '{"method": "delta"}\n',
        "model/baseline.npz": "baseline",
        "folds/fold-1/train/checkpoint/model.safetensors": "fold weights",
        "folds/fold-1/predictions.csv": "a,b\n1,2\n",
        "metrics.json": "{}\n",
        # not tracked: rewritten or added by later commands, or appended to
        "report.html": "<html></html>\n",
        "plots/roc.png": "png",
        "evaluations/x/metrics.json": "{}\n",
        "eval-s002/metrics.json": "{}\n",  # eegsnn evaluate --out RUN/eval-s002
        "pipeline.log": "line\n",
        # temporary files of a killed writer
        "folds/fold-1/.baseline_predictions.csv.a1b2c3d4.tmp": "half",
        "model/.checkpoint.tmp-abc123/model.safetensors": "half",
    }
    root.mkdir()
    mark_started(root)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_integrity_records_the_model_files_and_refuses_a_changed_one(tmp_path):
    run = _fake_run(tmp_path / "run")
    digest = record_integrity(run)
    mark_ended(run, integrity=digest)
    assert read_status(run)["integrity"] == digest == sha256_file(run / INTEGRITY_FILE)
    listed = json.loads((run / INTEGRITY_FILE).read_text())["files"]
    assert sorted(listed) == tracked_files(run) == [
        "config.yaml", "data.json", "folds/fold-1/predictions.csv",
        "folds/fold-1/train/checkpoint/model.safetensors", "metrics.json",
        "model/baseline.npz", "model/checkpoint/model.safetensors", "model/encoder.json"]
    assert listed["model/encoder.json"] == sha256_file(run / "model/encoder.json")
    assert verify_integrity(run) == 8
    # later commands' outputs and new files do not count
    (run / "report.html").write_text("<html>new</html>\n")
    (run / "evaluations" / "y").mkdir()
    (run / "model" / "notes.txt").write_text("added later")
    assert verify_integrity(run) == 8

    weights = run / "model/checkpoint/model.safetensors"
    weights.write_text("weightz")  # same size, one byte differs
    with pytest.raises(DataError) as err:
        verify_integrity(run)
    msg = str(err.value)
    assert msg.startswith(f"{weights} changed after training") and "\n" not in msg
    assert "integrity.json" in msg and "restore the file" in msg
    weights.write_text("weights")
    assert verify_integrity(run) == 8
    (run / "model/baseline.npz").unlink()
    with pytest.raises(DataError, match=r"model/baseline.npz is missing \(listed in"):
        verify_integrity(run)


def test_an_edited_or_removed_integrity_record_is_noticed(tmp_path):
    run = _fake_run(tmp_path / "run")
    mark_ended(run, integrity=record_integrity(run))
    record = json.loads((run / INTEGRITY_FILE).read_text())
    record["files"]["model/encoder.json"] = "0" * 64
    (run / INTEGRITY_FILE).write_text(json.dumps(record))
    with pytest.raises(DataError, match=r"integrity.json changed after the run finished"):
        verify_integrity(run)
    (run / INTEGRITY_FILE).unlink()
    with pytest.raises(DataError, match=r"integrity.json is missing \(status.json names it\)"):
        verify_integrity(run)
    # a finished run without the record is refused with the command that retrains it
    mark_ended(run)
    assert "integrity" not in read_status(run)
    with pytest.raises(DataError, match=r"integrity.json is missing: the finished run .* "
                                        r"train it again with: eegsnn train .*--overwrite"):
        verify_integrity(run)
    # ... and so is a record that status.json does not name (status.json rewritten)
    record_integrity(run)
    with pytest.raises(DataError, match=r"status.json names no integrity record"):
        verify_integrity(run)
    # an unfinished run keeps none; engine folders and empty paths have nothing to verify
    mark_started(run)
    assert verify_integrity(run) == 0
    engine = tmp_path / "engine"
    (engine / "checkpoint").mkdir(parents=True)
    for name in ("config.json", "metrics.json", "history.json"):
        (engine / name).write_text("{}")
    require_finished(engine)
    assert verify_integrity(engine) == 0 and verify_integrity(tmp_path / "nothing") == 0


def test_a_run_folder_without_status_and_integrity_is_not_a_finished_run(tmp_path):
    """Deleting status.json and integrity.json does not turn the checks off."""
    run = _fake_run(tmp_path / "run")
    mark_ended(run, integrity=record_integrity(run))
    require_finished(run)
    assert verify_integrity(run) == 8
    (run / "status.json").unlink()
    (run / INTEGRITY_FILE).unlink()
    with pytest.raises(DataError, match=r"^not a finished run: .* holds a run's files but no "
                                        r"status.json .*--overwrite$") as err:
        require_finished(run)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"integrity.json is missing: the finished run"):
        verify_integrity(run)  # (read_status derives "finished" from metrics.json)
    (run / "status.json").write_text("{")  # unreadable: said so, not "did not finish"
    with pytest.raises(DataError, match=r"status\.json: unreadable \(not a JSON status "
                                        r"record\).*train it again with: .*--overwrite$"):
        require_finished(run)
    (run / "status.json").unlink()
    (run / "config.yaml").unlink()  # any run file is enough
    with pytest.raises(DataError, match=r"^not a finished run"):
        require_finished(run)


def test_mark_started_drops_the_old_final_outputs_after_marking_running(tmp_path):
    run = _fake_run(tmp_path / "run")
    (run / "raster.npz").write_text("old")
    mark_ended(run, integrity=record_integrity(run))
    require_finished(run)
    mark_started(run)
    assert read_status(run)["status"] == "running"
    for name in ("metrics.json", "raster.npz", "report.html", INTEGRITY_FILE):
        assert not (run / name).exists(), name
    with pytest.raises(DataError, match=r"^incomplete run: .* did not finish \(stopped while "
                                        r"running.*resume it with: eegsnn train"):
        require_finished(run)
    mark_ended(run, RuntimeError("disk\nfull"))
    with pytest.raises(DataError, match=r"^incomplete run: .*failed at .*: RuntimeError: "
                                        r"disk full\); resume"):
        require_finished(run)


def test_temp_files_of_killed_writers_are_removed_and_nothing_else(tmp_path):
    run = _fake_run(tmp_path / "run")
    for rel in ("model/.checkpoint.old-1234/state.json", ".raster.npz.1234.writing",
                "folds/fold-1/train/.curves.png.ab_cd123.png", "model/readout.tmp.npz"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("x")
    (run / ".gitignore").write_text("*\n")
    before = {p for p in run.rglob("*") if p.is_file()}
    removed = remove_temp_files(run)
    assert {p.relative_to(run).as_posix() for p in removed} == {
        "folds/fold-1/.baseline_predictions.csv.a1b2c3d4.tmp", "model/.checkpoint.tmp-abc123",
        "model/.checkpoint.old-1234", ".raster.npz.1234.writing",
        "folds/fold-1/train/.curves.png.ab_cd123.png", "model/readout.tmp.npz"}
    after = {p for p in run.rglob("*") if p.is_file()}
    assert all(not is_temp_name(p.name) for p in after)
    assert (run / ".gitignore").is_file() and (run / "report.html").is_file()
    assert len(before - after) == 6  # the five temp files and the file in the temp folder
    assert remove_temp_files(run) == []


def test_atomic_write_npz_leaves_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "raster.npz"
    atomic_write_npz(path, {"a": np.arange(3), "label": np.array("x")})
    with np.load(path) as z:
        assert z["a"].tolist() == [0, 1, 2] and str(z["label"]) == "x"
    class Broken:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):  # fails after "a" is written
        atomic_write_npz(path, {"a": np.arange(100), "b": Broken()})
    with np.load(path) as z:  # untouched, no temp file left
        assert z["a"].tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["raster.npz"]


def _windows(files, recordings):
    return SimpleNamespace(provenance={"files": files}, recording=np.array(recordings))


def test_overlap_with_the_training_recordings_is_refused_unless_allowed(tmp_path):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    train_ws = _windows([{"path": "Z/Z001.txt", "sha256": "a" * 64},
                         {"path": "Z/Z002.txt", "sha256": "b" * 64},
                         {"path": "S/S001.txt", "sha256": "c" * 64}],
                        ["Z/Z001.txt"] * 2 + ["Z/Z002.txt"] * 2 + ["S/S001.txt"] * 2)
    # the model saw the windows of Z001 and S001 only (Z002 was held out)
    write_training_files(run / "model" / "training_files.json", train_ws,
                         np.array([0, 1, 4, 5]))
    cfg: dict = {"split": {"by": "recording", "method": "holdout"}}
    assert [f["path"] for f in training_files(run, cfg, {})] == ["Z/Z001.txt", "S/S001.txt"]
    held_out = _windows([{"path": "Z002.txt", "sha256": "b" * 64}], ["Z002.txt"] * 3)
    assert check_overlap(run, cfg, {}, held_out, "Z002.txt") is None
    # the same content under another name is the same recording
    renamed = _windows([{"path": "new/a.txt", "sha256": "a" * 64},
                        {"path": "new/b.txt", "sha256": "d" * 64}],
                       ["new/a.txt"] * 3 + ["new/b.txt"] * 2)
    with pytest.raises(ConfigError) as err:
        check_overlap(run, cfg, {}, renamed, "new")
    msg = str(err.value)
    assert "1 recording(s)" in msg and "(new/a.txt = Z001.txt)" in msg  # and which it is
    assert "--allow-overlap" in msg
    assert "\n" not in msg and "new/b.txt" not in msg
    assert check_overlap(run, cfg, {}, renamed, "new", allow=True) == {
        "n_files": 1, "files": ["new/a.txt"], "trained_as": ["Z/Z001.txt"], "n_windows": 3}


def test_overlap_of_runs_without_a_training_record(tmp_path):
    """Older runs: data.json's files less the last fold's test recordings."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "splits.json").write_text(json.dumps({"folds": [{"test_groups": ["Z/Z002.txt"]}]}))
    record = {"files": [{"path": "Z/Z001.txt", "sha256": "a" * 64},
                        {"path": "Z/Z002.txt", "sha256": "b" * 64}]}
    holdout = {"split": {"by": "recording", "method": "holdout"}}
    assert [f["path"] for f in training_files(run, holdout, record)] == ["Z/Z001.txt"]
    refit = {"split": {"by": "recording", "method": "kfold", "refit": True}}
    assert len(training_files(run, refit, record)) == 2


# ------------------------------------------------- same recording, other bytes or form

_EDF_CFG = {"labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
            "windows": {"mode": "events", "window_s": 2.0},
            "preprocess": [{"step": "pick", "channels": ["C3", "Cz", "C4"]}]}


def test_signal_hash_matches_an_edited_header_an_mne_raw_and_a_text_layout(shared_data,
                                                                            tmp_path):
    """The decoded samples identify a recording: an EDF whose patient field was edited
    (re-anonymised), the same file given as an MNE Raw, a Bonn segment with an extra
    trailing newline; a different recording does not match."""
    import mne

    from eegsnn.preprocess import load_windows

    edf = shared_data / "eegmmidb" / "S001" / "S001R04.edf"
    edited = tmp_path / "anon.edf"
    data = bytearray(edf.read_bytes())
    data[8:16] = b"X" * 8  # the patient identification field of the header
    edited.write_bytes(bytes(data))
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    runs = [load_windows(src, _EDF_CFG, use_cache=False) for src in (edf, edited, raw)]
    files = [ws.provenance["files"][0] for ws in runs]
    assert files[0]["sha256"] != files[1]["sha256"] != files[2]["sha256"]
    assert files[0]["signal_sha256"] == files[1]["signal_sha256"] == files[2]["signal_sha256"]
    pyedflib = load_windows(edf, {**_EDF_CFG, "reader": "pyedflib"}, use_cache=False)
    assert pyedflib.provenance["files"][0]["signal_sha256"] == files[0]["signal_sha256"]
    other = load_windows(shared_data / "eegmmidb" / "S001" / "S001R08.edf", _EDF_CFG,
                         use_cache=False).provenance["files"][0]
    assert other["signal_sha256"] != files[0]["signal_sha256"]
    # the run trained on the file refuses the edited copy and the Raw (by signal)
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    write_training_files(run / "model" / "training_files.json", runs[0], None)
    cfg: dict = {"split": {"by": "recording", "method": "holdout"}}
    for ws, name in ((runs[1], "anon.edf = S001R04.edf"), (runs[2], "S001R04.edf")):
        with pytest.raises(ConfigError, match=rf"1 recording\(s\) have the same content .*"
                                              rf"\({name}\)"):
            check_overlap(run, cfg, {}, ws, name.split(" = ")[0])
    assert check_overlap(run, cfg, {}, runs[1], "x", allow=True)["trained_as"] == [
        "S001R04.edf"]
    # Bonn text: a trailing newline changes the bytes, not the samples
    z = shared_data / "bonn" / "Z" / "Z003.txt"
    copy = tmp_path / "Z" / "Z003_copy.txt"
    copy.parent.mkdir()
    copy.write_bytes(z.read_bytes() + b"\n")
    bonn = {"sfreq_hz": 173.61, "labels": {"source": "path", "mapping": {"Z": "healthy"}},
            "windows": {"mode": "sliding", "window_s": 4.0}}
    a, b = (load_windows([p], bonn, root=p.parent.parent, use_cache=False)
            .provenance["files"][0] for p in (z, copy))
    assert a["sha256"] != b["sha256"] and a["signal_sha256"] == b["signal_sha256"]


def test_signal_sha256_ignores_channel_order_and_sees_a_changed_sample():
    from eegsnn.preprocess.objects import signal_sha256

    rng = np.random.default_rng(0)
    x = rng.normal(0, 50e-6, (3, 500))
    assert signal_sha256(x) == signal_sha256(x[::-1]) == signal_sha256(x + 1e-13)
    y = x.copy()
    y[1, 7] += 1e-7  # 0.1 µV
    assert signal_sha256(y) != signal_sha256(x)
    assert signal_sha256(x[:, :-1]) != signal_sha256(x)
    epochs = np.stack([x[:, :250], x[:, 250:]])  # [E, C, N]: epochs joined per channel
    assert signal_sha256(epochs) == signal_sha256(x)


def test_identical_recordings_stay_on_one_side_of_every_split(caplog):
    """Z003 and its copy (another name, same content) are one group for the split; the
    merge is logged and the copies are named."""
    from eegsnn.pipeline.folds import make_folds
    from eegsnn.preprocess.splits import identical_recordings

    recs = [f"Z/Z00{i}.txt" for i in range(1, 6)] + ["Z/Z003_copy.txt", "raw-0", "raw-1"]
    files = [{"path": r, "sha256": f"{i:064x}", "signal_sha256": f"s{i}"}
             for i, r in enumerate(recs)]
    files[5]["signal_sha256"] = files[2]["signal_sha256"]  # same samples, other bytes
    files[7]["sha256"] = files[6]["sha256"]  # [raw, raw.copy()]
    same = identical_recordings(files)
    assert same == [["Z/Z003.txt", "Z/Z003_copy.txt"], ["raw-0", "raw-1"]]
    recording = np.repeat(recs, 3)
    y = np.zeros(recording.size, dtype=int)
    for split in ({"method": "kfold", "n_splits": 6, "seed": s} for s in range(4)):
        with caplog.at_level("WARNING"):
            folds = make_folds(recording, split, y, recording=recording, files=files)
        assert "Z/Z003.txt = Z/Z003_copy.txt" in caplog.text
        for tr, te in folds:
            for pair in same:
                sides = {bool(np.isin(recording[te], pair).any()),
                         bool(np.isin(recording[tr], pair).any())}
                assert sides != {True}, (pair, split)  # never on both sides
                assert set(recording[te]) & set(pair) in (set(), set(pair))
    assert "different labels" not in caplog.text  # (the copies hold the same class)
    conflicting = np.where(recording == "Z/Z003_copy.txt", 1, y)
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_folds(recording, {"method": "kfold", "n_splits": 3, "seed": 0}, conflicting,
                   recording=recording, files=files)
    assert ("Z/Z003.txt = Z/Z003_copy.txt: the same content with different labels"
            in caplog.text)
    # without the content records the copies are separate groups (the old behaviour)
    assert len(make_folds(recording, {"method": "kfold", "n_splits": 8, "seed": 0}, y)) == 8
    with pytest.raises(ConfigError, match=r"more than the 6 groups|must be in \[2, 6\]"):
        make_folds(recording, {"method": "kfold", "n_splits": 8, "seed": 0}, y,
                   recording=recording, files=files)
    # a test group named in the config takes its copy to the test side
    (tr, te), = make_folds(recording, {"method": "leave_groups_out", "seed": 0,
                                       "test_groups": ["Z/Z003_copy.txt"]}, y,
                           recording=recording, files=files)
    assert set(recording[te]) == {"Z/Z003.txt", "Z/Z003_copy.txt"}


def test_identical_label_files_are_not_identical_recordings():
    """Two runs of one paradigm can have byte-identical events.tsv files: label files read
    beside the recordings are not recordings, and are never reported or merged as copies."""
    from eegsnn.preprocess.splits import identical_recordings

    files = [{"path": "sub-01/run-1_eeg.edf", "sha256": "a" * 64},
             {"path": "sub-01/run-2_eeg.edf", "sha256": "b" * 64},
             {"path": "sub-01/run-1_events.tsv", "sha256": "c" * 64},
             {"path": "sub-01/run-2_events.tsv", "sha256": "c" * 64}]
    assert identical_recordings(files) == [["sub-01/run-1_events.tsv",
                                            "sub-01/run-2_events.tsv"]]
    assert identical_recordings(files, ["sub-01/run-1_eeg.edf", "sub-01/run-2_eeg.edf"]) == []


def test_a_copy_of_a_training_only_recording_is_named_not_tested(caplog):
    """A recording to be tested that copies a training-only one (same content) is trained
    on and never tested; the warning says so, and when it leaves too few recordings to test
    the error names the copy (a data problem), not only the count of groups."""
    from eegsnn.errors import DataError
    from eegsnn.pipeline.folds import make_folds

    recs = ["S002R06.edf", "S002R10.edf", "S002R13.edf", "S002R05.edf", "S002R09.edf"]
    files = [{"path": r, "sha256": f"{i:064x}"} for i, r in enumerate(recs)]
    files[1]["sha256"] = files[4]["sha256"]  # R10 is a copy of training-only R09
    recording = np.repeat(recs, 4)
    y = np.tile([0, 1], recording.size // 2)
    split = {"method": "kfold", "n_splits": "all", "seed": 0,
             "train_only": ["S002R05.edf", "S002R09.edf"]}
    with caplog.at_level("WARNING"):
        folds = make_folds(recording, split, y, recording=recording, files=files)
    assert "S002R10.edf has the same content as training-only S002R09.edf" in caplog.text
    tested = [sorted(set(recording[te])) for _, te in folds]
    assert tested == [["S002R06.edf"], ["S002R13.edf"]]
    for tr, _ in folds:
        assert "S002R10.edf" in set(recording[tr])
    two = np.isin(recording, recs[:2] + recs[3:])  # without R13: one run left to test
    with pytest.raises(DataError, match=r"S002R10.edf has the same content as training-only "
                                        r"S002R09.edf, and then split.n_splits: all needs"):
        make_folds(recording[two], split, y[two], recording=recording[two],
                   files=[f for f in files if f["path"] != "S002R13.edf"])
    # the copy named for testing: the copy is the problem, not a double listing
    with pytest.raises(DataError, match=r"S002R10.edf has the same content as training-"
                                        r"only S002R09.edf, so it cannot be tested"):
        make_folds(recording, {"method": "leave_groups_out", "seed": 0,
                               "test_groups": ["S002R10.edf"],
                               "train_only": ["S002R05.edf", "S002R09.edf"]},
                   y, recording=recording, files=files)
    # recordings in folders, training-only runs named by file name
    nested = np.char.add("data/", recording)
    nested_files = [{**f, "path": "data/" + f["path"]} for f in files]
    caplog.clear()
    with caplog.at_level("WARNING"):
        make_folds(nested, split, y, recording=nested, files=nested_files)
    assert ("data/S002R10.edf has the same content as training-only data/S002R09.edf "
            "(of S002R09.edf)") in caplog.text
    # split by subject: a subject whose recording copies a training-only subject's
    subject = np.array([r[:4] if r != "S002R10.edf" else "S003" for r in recording])
    caplog.clear()
    with caplog.at_level("WARNING"), pytest.raises(DataError, match="nothing is left to test"):
        make_folds(subject, {"method": "kfold", "n_splits": "all", "seed": 0, "by": "subject",
                             "train_only": ["S002"]}, y, recording=recording, files=files)
    assert "S002R10.edf (of S003) has the same content as training-only S002R09.edf " \
           "(of S002), so all of S003 is trained on with it" in caplog.text


def test_inner_validation_split_keeps_copies_on_one_side():
    """The SNN's inner validation split (early stopping, operating point) uses the same
    merged groups as the folds: it never validates on a copy of a recording it fits on."""
    from eegsnn.pipeline.folds import split_groups
    from eegsnn.pipeline.snn import split_validation

    recs = [f"Z/Z00{i}.txt" for i in range(1, 7)] + ["Z/Z003_copy.txt", "Z/Z005_copy.txt"]
    files = [{"path": r, "sha256": f"{i:064x}", "signal_sha256": f"s{i}"}
             for i, r in enumerate(recs)]
    files[6]["signal_sha256"] = files[2]["signal_sha256"]
    files[7]["sha256"] = files[4]["sha256"]
    recording = np.repeat(recs, 3)
    split = {"method": "kfold", "n_splits": 3, "seed": 0, "train_only": ["Z/Z005_copy.txt"]}
    groups, renamed, same = split_groups(recording, split, recording=recording, files=files)
    assert same == [["Z/Z003.txt", "Z/Z003_copy.txt"], ["Z/Z005.txt", "Z/Z005_copy.txt"]]
    assert renamed["train_only"] == ["Z/Z005_copy.txt"]  # the listed name names the group
    assert set(groups[recording == "Z/Z005.txt"]) == {"Z/Z005_copy.txt"}
    pairs = [np.isin(recording, pair) for pair in same]
    train_idx = np.arange(recording.size)
    for seed in range(12):
        fit, val = split_validation(train_idx, 0.3, seed, groups=groups,
                                    keep_in_training=renamed["train_only"])
        assert val is not None and val.size
        for pair in pairs:
            assert not (pair[fit].any() and pair[val].any()), seed
        assert not pairs[1][val].any()  # the train-only pair is never drawn for validation
    # the raw groups (before this change) let a copy straddle for some seed
    raw = np.asarray(recording).astype(str)
    assert any(pairs[0][split_validation(train_idx, 0.3, s, groups=raw)[0]].any()
               and pairs[0][split_validation(train_idx, 0.3, s, groups=raw)[1]].any()
               for s in range(12))


def test_a_changed_checkpoint_is_refused_on_load(tmp_path):
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    from eegsnn.train.checkpoint import load_checkpoint, read_checkpoint_state, save_checkpoint

    model = nn.Linear(3, 2)
    opt = optim.Adam(learning_rate=1e-3)
    opt.init(model.trainable_parameters())
    ckpt = save_checkpoint(tmp_path / "checkpoint", model, opt, {"epoch": 1})
    digests = read_checkpoint_state(ckpt)["sha256"]
    assert digests == {n: sha256_file(ckpt / n)
                       for n in ("model.safetensors", "optimizer.safetensors")}
    load_checkpoint(ckpt, nn.Linear(3, 2), optim.Adam(learning_rate=1e-3))
    for name in ("model.safetensors", "optimizer.safetensors"):
        saved = (ckpt / name).read_bytes()
        tensors = dict(mx.load(str(ckpt / name)))
        key = sorted(tensors)[0]
        tensors[key] = tensors[key] + 1
        mx.save_safetensors(str(ckpt / name), tensors)
        with pytest.raises(DataError, match=rf"^checkpoint {ckpt / name} changed since it "
                                            r"was written"):
            load_checkpoint(ckpt, nn.Linear(3, 2), optim.Adam(learning_rate=1e-3))
        (ckpt / name).write_bytes(saved)
    load_checkpoint(ckpt, nn.Linear(3, 2))


def test_exclusive_lock_keeps_a_second_holder_out_and_is_taken_over_from_a_dead_one(
        tmp_path):
    """The lock file holds the holder's pid and goes with the release; a second holder
    (another open, here in the same process, as flock treats it) is refused with that pid;
    a file left by a process that died (no flock on it) is taken over; a link or a file
    that is not a lock file is never followed, emptied or removed (no lock then)."""
    import os
    import subprocess
    import sys

    from eegsnn.io.files import LockHeld, exclusive_lock

    path = tmp_path / ".run.lock"
    with exclusive_lock(path) as lock:
        assert lock.held and lock.path == path and path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(LockHeld, match=f"held by process {os.getpid()}") as exc:
            with exclusive_lock(path):
                pass
        assert exc.value.pid == os.getpid() and isinstance(exc.value, ConfigError)
        assert path.read_text() == f"{os.getpid()}\n"  # the refused one changed nothing
    assert not path.exists()
    # a holder that is killed leaves its file, unlocked: the next one takes it over
    code = ("import os, sys\nfrom eegsnn.io.files import exclusive_lock\n"
            "with exclusive_lock(sys.argv[1]):\n    os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)
    assert path.exists()
    with exclusive_lock(path) as lock:
        assert lock.held and path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()
    # a folder that cannot be written to: no lock, and why
    with exclusive_lock(tmp_path / "missing" / ".run.lock") as lock:
        assert not lock.held and "cannot open" in lock.why
    # a link planted at the lock's name: its target is not emptied, the link stays
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data line\n")
    path.symlink_to(victim)
    with exclusive_lock(path) as lock:
        assert not lock.held and "cannot open" in lock.why
    assert victim.read_text() == "precious data line\n" and path.is_symlink()
    path.unlink()
    # someone's file of that name: not emptied, not removed
    path.write_text("notes\n")
    with exclusive_lock(path) as lock:
        assert not lock.held and "is not a lock file" in lock.why
    assert path.read_text() == "notes\n"


def test_a_link_that_leads_nowhere_is_in_the_way_and_named(tmp_path):
    """An output under a link to a missing folder (an unmounted drive) is refused naming
    the link and its target (it was 'File exists', or the folder made where it points)."""
    from eegsnn.io.files import file_in_the_way, in_the_way

    (tmp_path / "drive").symlink_to(tmp_path / "unmounted" / "runs")
    (tmp_path / "afile").write_text("x")
    assert file_in_the_way(tmp_path / "drive" / "run" / "fold") == tmp_path / "drive"
    assert in_the_way(tmp_path / "drive") == (f"{tmp_path / 'drive'} is a link to "
                                              f"{tmp_path / 'unmounted' / 'runs'}, which "
                                              "does not exist")
    assert file_in_the_way(tmp_path / "afile" / "run") == tmp_path / "afile"
    assert in_the_way(tmp_path / "afile") == f"{tmp_path / 'afile'} is a file, not a folder"
    # a relative link is named with its target from its own folder; a loop of links
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "rel").symlink_to("gone")
    assert in_the_way(file_in_the_way(tmp_path / "sub" / "rel" / "x")) == (
        f"{tmp_path / 'sub' / 'rel'} is a link to {tmp_path / 'sub' / 'gone'}, which does not "
        "exist")
    (tmp_path / "loopa").symlink_to(tmp_path / "loopb")
    (tmp_path / "loopb").symlink_to(tmp_path / "loopa")
    assert in_the_way(file_in_the_way(tmp_path / "loopa" / "run")) == (
        f"{tmp_path / 'loopa'} is a link that leads nowhere (a loop of links)")
    (tmp_path / "chain").symlink_to("sub/rel")  # -> sub/rel -> sub/gone
    assert in_the_way(file_in_the_way(tmp_path / "chain" / "run")) == (
        f"{tmp_path / 'chain'} is a link (through {tmp_path / 'sub' / 'rel'}) to "
        f"{tmp_path / 'sub' / 'gone'}, which does not exist")
    (tmp_path / "unmounted" / "runs").mkdir(parents=True)  # mounted: nothing in the way
    assert file_in_the_way(tmp_path / "drive" / "run") is None
    assert not (tmp_path / "unmounted" / "runs" / "run").exists()
