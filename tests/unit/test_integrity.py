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
    # runs without the record (older runs, engine folders) have nothing to verify
    mark_ended(run)
    assert "integrity" not in read_status(run) and verify_integrity(run) == 0
    assert verify_integrity(tmp_path / "nothing") == 0


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
    assert "1 recording(s)" in msg and "new/a.txt" in msg and "--allow-overlap" in msg
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
