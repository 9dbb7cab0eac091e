"""Nothing lost, nothing trusted blindly, on a tiny real pipeline run (8 Bonn segments,
2 epochs: a few seconds):

- a run whose weights changed after training is refused by ``evaluate``, ``report``,
  ``plot`` and a resume, naming the file (``integrity.json``);
- ``evaluate`` refuses recordings the model was trained on (exit 2, naming them) unless
  ``--allow-overlap``, and then says so in its output;
- a run that failed ends its ``pipeline.log`` with the error, is "incomplete", and its
  orphan temporary files are removed when it resumes;
- ``kill -9`` at the moment each new file appears in the run folder leaves no truncated
  file under its final name, a folder marked incomplete (``report`` refuses it), and the
  same command then finishes it (a sample of the moments here; every one in the slow test).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from eegsnn.cli import main
from eegsnn.errors import DataError
from eegsnn.io.files import is_temp_name
from eegsnn.pipeline import run_pipeline
from eegsnn.pipeline.integrity import verify_integrity
from eegsnn.pipeline.runstate import read_status

EEGSNN = Path(sys.executable).with_name("eegsnn")
TRAIN = [f"Z/Z00{i}.txt" for i in range(1, 5)] + [f"S/S00{i}.txt" for i in range(1, 5)]


@pytest.fixture(scope="module")
def tiny_config(shared_data, tmp_path_factory):
    """A seizure-detection study on 8 Bonn segments: 40 windows, 2 epochs, holdout."""
    folder = tmp_path_factory.mktemp("tiny")
    cfg = {"name": "tiny", "pipeline": "seizure_detection",
           "data": {"source": [str(shared_data / "bonn" / f) for f in TRAIN]},
           "split": {"method": "holdout", "by": "recording", "test_fraction": 0.25,
                     "seed": 0},
           "train": {"epochs": 2, "seed": 0}, "encoder": {"spikes_per_s": 20},
           "model": {"hidden": [8]}, "cache_dir": str(folder / "cache")}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def tiny_run(tiny_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = run_pipeline(tiny_config, out, progress=False)
    return out, result


def _flip_one_weight(path: Path) -> None:
    import mlx.core as mx

    weights = dict(mx.load(str(path)))
    name = sorted(weights)[0]
    weights[name] = -weights[name]
    mx.save_safetensors(str(path), weights)


def test_changed_weights_are_refused_naming_the_file(tiny_run, tiny_config, tmp_path,
                                                     shared_data, capsys):
    out, _ = tiny_run
    assert verify_integrity(out) > 10  # config, data record, model and fold files
    listed = json.loads((out / "integrity.json").read_text())["files"]
    assert {"config.yaml", "data.json", "model/encoder.json", "model/model_config.json",
            "model/checkpoint/model.safetensors", "model/baseline.npz",
            "folds/fold-1/train/checkpoint/model.safetensors"} <= set(listed)
    weights = out / "model" / "checkpoint" / "model.safetensors"
    saved = weights.read_bytes()
    held_out = str(shared_data / "bonn" / "S" / "S010.txt")
    try:
        _flip_one_weight(weights)
        for args in (["evaluate", str(out), held_out, "--out", str(tmp_path / "ev")],
                     ["report", str(out)], ["plot", str(out), "--out", str(tmp_path / "p")]):
            assert main(args) == 3, args
            err = capsys.readouterr().err
            assert err.count("\n") == 1, err
            assert f"{weights} changed after training" in err and "integrity.json" in err
        assert not (tmp_path / "ev").exists() and not (tmp_path / "p").exists()
        with pytest.raises(DataError, match=r"model\.safetensors changed after training"):
            run_pipeline(tiny_config, out, overrides=["train.epochs=3"], resume=True,
                         progress=False)
        assert read_status(out)["status"] == "finished"  # the refused resume changed nothing
    finally:
        weights.write_bytes(saved)
    assert main(["evaluate", str(out), held_out, "--out", str(tmp_path / "ev")]) == 0
    assert "overlap" not in json.loads((tmp_path / "ev" / "metrics.json").read_text())


def test_overrides_json_is_tracked_and_a_resume_extends_it(tiny_run, tiny_config, tmp_path,
                                                           capsys):
    """overrides.json (the --set record) is in integrity.json: an edit is refused; a resume
    verifies it before extending it, and the finished resume records the new file."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(tiny_run[0], out)
    record = json.loads((out / "integrity.json").read_text())
    assert "overrides.json" in record["files"]
    path = out / "overrides.json"
    saved = path.read_text()
    path.write_text(saved.replace("}", ', "edited": true}', 1))
    assert main(["report", str(out)]) == 3
    err = capsys.readouterr().err
    assert f"{path} changed after training" in err and err.count("\n") == 1, err
    path.write_text(saved)
    run_pipeline(tiny_config, out, overrides=["train.epochs=3"], resume=True, progress=False)
    assert read_status(out)["status"] == "finished"
    assert "train.epochs=3" in path.read_text()
    assert verify_integrity(out) > 10
    assert json.loads((out / "integrity.json").read_text())["files"]["overrides.json"] != \
        record["files"]["overrides.json"]


def test_evaluate_refuses_training_recordings_unless_allowed(tiny_run, tmp_path, capsys,
                                                             shared_data):
    out, result = tiny_run
    ws, fold = result.windows, result.folds[0]
    trained = sorted(set(ws.recording[fold.train_idx]))
    held = sorted(set(ws.recording[fold.test_idx]))
    assert len(trained) == 6 and len(held) == 2
    files = [str(shared_data / "bonn" / r) for r in (trained[0], held[0])]
    # a renamed copy is still the same recording (content, not names, is compared)
    copy = tmp_path / "data" / "S" / "S777.txt"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((shared_data / "bonn" / trained[-1]).read_bytes())
    for data in (files, [str(copy)]):
        assert main(["evaluate", str(out), *data, "--out", str(tmp_path / "refused")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "1 recording(s)" in err, err
        assert "--allow-overlap" in err and str(out) in err
    assert trained[0] in err or Path(trained[0]).name in err or "S777" in err
    assert not (tmp_path / "refused").exists()

    assert main(["evaluate", str(out), *files, "--allow-overlap",
                 "--out", str(tmp_path / "allowed")]) == 0
    captured = capsys.readouterr()
    assert "not held-out" in captured.err and "accuracy" in captured.out
    metrics = json.loads((tmp_path / "allowed" / "metrics.json").read_text())
    assert metrics["overlap"]["n_files"] == 1 and metrics["overlap"]["n_windows"] == 5
    assert metrics["overlap"]["trained_as"] == [trained[0]]
    assert metrics["n_samples"] == 10
    # held-out recordings alone: no overlap, no flag needed
    assert main(["evaluate", str(out), str(shared_data / "bonn" / held[0]),
                 "--out", str(tmp_path / "held")]) == 0
    assert "overlap" not in json.loads((tmp_path / "held" / "metrics.json").read_text())


def _copy(run: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(run, dst)
    return dst


def test_a_run_without_status_and_integrity_records_is_refused(tiny_run, tmp_path, capsys,
                                                               shared_data):
    """Deleting status.json and integrity.json turns no check off: every command that
    uses the run says it is not a finished run, in one line (exit 3)."""
    out = _copy(tiny_run[0], tmp_path / "run")
    (out / "status.json").unlink()
    (out / "integrity.json").unlink()
    _flip_one_weight(out / "model" / "checkpoint" / "model.safetensors")
    held_out = str(shared_data / "bonn" / "S" / "S010.txt")
    for args in (["evaluate", str(out), held_out, "--out", str(tmp_path / "ev")],
                 ["report", str(out)], ["plot", str(out), "--out", str(tmp_path / "p")],
                 ["export", str(out), str(tmp_path / "m.nir")]):
        assert main(args) == 3, args
        err = capsys.readouterr().err
        assert err.startswith(f"error: not a finished run: {out} holds a run's files but "
                              "no status.json") and err.count("\n") == 1, (args, err)
        assert f"--out {out} --overwrite" in err
    assert not (tmp_path / "ev").exists() and not (tmp_path / "m.nir").exists()
    # a status.json put back without its integrity record does not pass either
    (out / "status.json").write_text(json.dumps({"status": "finished"}))
    assert main(["report", str(out)]) == 3
    err = capsys.readouterr().err
    assert "integrity.json is missing: the finished run" in err and err.count("\n") == 1


def test_train_on_a_finished_run_verifies_it(tiny_run, tiny_config, tmp_path, capsys):
    """The same train command on a finished run shows its results only when its files are
    the ones it wrote."""
    out = _copy(tiny_run[0], tmp_path / "run")
    cmd = ["train", "--config", str(tiny_config), "--out", str(out), "--quiet",
           "--no-progress"]
    assert main(cmd) == 0
    assert "already finished with the same config" in capsys.readouterr().err
    weights = out / "model" / "checkpoint" / "model.safetensors"
    _flip_one_weight(weights)
    assert main(cmd) == 3
    err = capsys.readouterr().err
    assert f"{weights} changed after training" in err and err.count("\n") == 1, err
    assert read_status(out)["status"] == "finished"  # nothing was retrained
    (out / "metrics.json").unlink()  # a finished run that lost metrics.json: refused too
    assert main(cmd) == 3
    err = capsys.readouterr().err
    assert "metrics.json is missing (listed in integrity.json)" in err, err


def test_evaluate_refuses_the_same_samples_and_the_runs_own_data(tiny_run, tmp_path,
                                                                 capsys, shared_data):
    """A training segment with an extra trailing newline (other bytes, same samples) is
    refused; no DATA (the run's own data) needs --allow-overlap; the report then lists
    the evaluation and its overlap."""
    out, result = tiny_run
    out = _copy(out, tmp_path / "run")
    fold = result.folds[0]
    trained = sorted(set(result.windows.recording[fold.train_idx]))
    copy = tmp_path / "data" / "Z" / "Z900.txt"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((shared_data / "bonn" / trained[-1]).read_bytes() + b"\n")
    assert main(["evaluate", str(out), str(copy), "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err
    assert "1 recording(s) have the same content" in err and "Z900.txt" in err, err
    assert main(["evaluate", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no data given" in err and "--allow-overlap" in err and err.count("\n") == 1
    assert not (out / "evaluations").exists()
    assert main(["evaluate", str(out), "--allow-overlap"]) == 0
    assert "not held-out" in capsys.readouterr().err
    metrics = json.loads((out / "evaluations" / "own-data" / "metrics.json").read_text())
    assert metrics["overlap"]["n_files"] == 6 and metrics["n_samples"] == 40
    assert main(["report", str(out), "--format", "md"]) == 0
    md = (out / "report.md").read_text()
    assert "## Evaluations (eegsnn evaluate)" in md
    row = next(line for line in md.splitlines() if line.startswith("| own-data"))
    assert "| 40 |" in row and "6 recording(s), 30 windows the run was trained on: not " \
        "held-out" in row, row


def test_copies_inside_one_study_stay_on_one_side_of_the_split(tiny_config, tmp_path,
                                                               shared_data):
    """A Bonn folder holding a segment and its copy (other name, an extra newline): the
    copies are one group for the split (tested together or trained on together), named in
    data.json and in the log."""
    cfg = yaml.safe_load(tiny_config.read_text())
    data = tmp_path / "bonn"
    for rel in TRAIN:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes((shared_data / "bonn" / rel).read_bytes())
    (data / "Z" / "Z003_copy.txt").write_bytes((data / "Z" / "Z003.txt").read_bytes() + b"\n")
    cfg["data"]["source"] = str(data)
    cfg["split"] = {"method": "kfold", "n_splits": 4, "by": "recording", "seed": 0}
    out = tmp_path / "run"
    run_pipeline(cfg, out, progress=False)
    pair = ["Z/Z003.txt", "Z/Z003_copy.txt"]
    assert json.loads((out / "data.json").read_text())["identical_recordings"] == [pair]
    folds = json.loads((out / "splits.json").read_text())["folds"]
    assert len(folds) == 4
    assert [f["fold"] for f in folds if set(pair) <= set(f["test_groups"])] != []
    assert all(set(f["test_groups"]) & set(pair) in (set(), set(pair)) for f in folds)
    assert "identical content kept on one side of every split: Z/Z003.txt = " \
        "Z/Z003_copy.txt" in (out / "pipeline.log").read_text()


def test_resume_refuses_a_fold_checkpoint_changed_since_it_was_written(tiny_run, tiny_config,
                                                                       tmp_path, capsys):
    """An unfinished run keeps no integrity record; its fold checkpoints carry their own
    sha256 (state.json), checked when training continues from them."""
    from eegsnn.pipeline.runstate import mark_ended, mark_started

    out = _copy(tiny_run[0], tmp_path / "run")
    mark_started(out)
    mark_ended(out, KeyboardInterrupt())
    ckpt = out / "folds" / "fold-1" / "train" / "checkpoint" / "model.safetensors"
    _flip_one_weight(ckpt)
    assert main(["train", "--config", str(tiny_config), "--out", str(out), "--resume",
                 "--set", "train.epochs=3", "--quiet", "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert f"checkpoint {ckpt} changed since it was written" in err, err
    assert err.count("\n") == 1, err
    assert read_status(out)["status"] == "failed"


def test_a_failed_run_logs_its_error_is_incomplete_and_resumes_clean(tiny_config, tmp_path,
                                                                     monkeypatch, capsys):
    import eegsnn.pipeline.run as run_module

    out = tmp_path / "run"

    def broken(*args, **kwargs):
        raise RuntimeError("no space left\non device")

    monkeypatch.setattr(run_module, "write_report", broken)
    with pytest.raises(RuntimeError):
        run_pipeline(tiny_config, out, progress=False)
    monkeypatch.undo()
    last = (out / "pipeline.log").read_text().splitlines()[-1]
    assert last.endswith("ERROR stopped: RuntimeError: no space left on device"), last
    assert read_status(out)["status"] == "failed"
    assert not (out / "integrity.json").exists()
    for cmd in ("report", "plot", "evaluate"):
        assert main([cmd, str(out)]) == 3
        err = capsys.readouterr().err
        assert err.startswith("error: incomplete run: ") and err.count("\n") == 1, err
    orphan = out / "folds" / "fold-1" / ".baseline_predictions.csv.x1y2z3w4.tmp"
    orphan.write_text("recording,onset_s\nZ/Z0")  # a writer killed half-way
    result = run_pipeline(tiny_config, out, resume=True, progress=False)
    assert not orphan.exists() and read_status(out)["status"] == "finished"
    assert result.metrics["snn"]["pooled"]["n_samples"] == 10
    assert verify_integrity(out) > 10


def test_ctrl_c_while_integrity_json_is_written_marks_the_run_interrupted(tiny_config,
                                                                          tmp_path,
                                                                          monkeypatch):
    """Ctrl-C after training, while integrity.json or the final status.json is written,
    left status.json "running" with a dead pid; it now says "interrupted", pipeline.log
    says so, and a resume finishes the run."""
    import eegsnn.pipeline.integrity as integrity_module

    out = tmp_path / "run"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(integrity_module, "record_integrity", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tiny_config, out, progress=False)
    monkeypatch.undo()
    assert read_status(out)["status"] == "interrupted"
    assert (out / "metrics.json").is_file() and not (out / "integrity.json").exists()
    assert (out / "pipeline.log").read_text().splitlines()[-1].endswith(
        "ERROR stopped: KeyboardInterrupt")
    run_pipeline(tiny_config, out, resume=True, progress=False)
    assert read_status(out)["status"] == "finished" and verify_integrity(out) > 10
    # ... and while the final status.json is written
    import eegsnn.pipeline.runstate as runstate_module

    real_mark_ended = runstate_module.mark_ended

    def interrupted_when_finishing(run_dir, exc=None, **kwargs):
        if exc is None:
            raise KeyboardInterrupt
        return real_mark_ended(run_dir, exc, **kwargs)

    monkeypatch.setattr(runstate_module, "mark_ended", interrupted_when_finishing)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tiny_config, tmp_path / "run2", progress=False)
    monkeypatch.undo()
    assert read_status(tmp_path / "run2")["status"] == "interrupted"
    run_pipeline(tiny_config, tmp_path / "run2", resume=True, progress=False)
    assert read_status(tmp_path / "run2")["status"] == "finished"


# ------------------------------------------------------------------------- kill -9


def _listing(run: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(run):
        dirnames[:] = [d for d in dirnames if not is_temp_name(d, folder=True)]
        for name in filenames:
            if not is_temp_name(name):
                out.add((Path(dirpath) / name).relative_to(run).as_posix())
    return out


PNG_END = b"IEND\xaeB`\x82"


def _assert_complete(path: Path) -> None:
    """A file under its final name holds a whole document of its kind."""
    suffix = path.suffix
    if suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".yaml":
        yaml.safe_load(path.read_text())
    elif suffix == ".csv":
        rows = list(csv.reader(path.read_text().splitlines()))
        assert rows and all(len(r) == len(rows[0]) for r in rows), path
        assert path.read_text().endswith("\n"), path
    elif suffix == ".npz":
        with np.load(path) as archive:
            for key in archive.files:
                archive[key]
    elif suffix == ".safetensors":
        import mlx.core as mx

        mx.load(str(path))
    elif suffix == ".png":
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and data.endswith(PNG_END), path
    elif suffix == ".html":
        assert path.read_text().rstrip().endswith("</html>"), path


def _train_cmd(config: Path, out: Path) -> list[str]:
    return [str(EEGSNN), "train", "--config", str(config), "--out", str(out),
            "--no-progress", "--quiet"]


def _watch(cmd: list[str], run: Path, kill_at: str | None, timeout: float = 120
           ) -> tuple[subprocess.Popen, list[str]]:
    """Run ``cmd``; record the order in which files appear in ``run``; ``kill -9`` the
    process the moment ``kill_at`` appears (``None``: let it finish)."""
    before = _listing(run) if run.exists() else set()
    seen: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = proc.poll() is not None
        if run.exists():
            now = _listing(run)
            seen += sorted(now - before - set(seen))
        if kill_at is not None and kill_at in seen and not done:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        if done:
            break
        time.sleep(0.001)
    else:
        proc.kill()
        pytest.fail(f"{cmd} did not end in {timeout} s")
    proc.stderr.close()
    return proc, seen


@pytest.fixture(scope="module")
def file_order(tiny_config, tmp_path_factory):
    """The order in which an uninterrupted run writes its files."""
    if not EEGSNN.is_file():
        pytest.fail(f"the eegsnn console script is missing beside {sys.executable}")
    run = tmp_path_factory.mktemp("order") / "run"
    proc, seen = _watch(_train_cmd(tiny_config, run), run, None)
    assert proc.returncode == 0
    assert seen.index("status.json") < seen.index("config.yaml")  # "running" first
    assert read_status(run)["status"] == "finished"
    assert set(seen) == _listing(run)
    return [name for name in seen if name != "status.json"]


def _kill_and_resume(config: Path, run: Path, kill_at: str) -> None:
    cmd = _train_cmd(config, run)
    proc, seen = _watch(cmd, run, kill_at)
    assert kill_at in seen, f"{kill_at} never appeared: {seen}"
    assert proc.returncode in (0, -signal.SIGKILL)
    for rel in _listing(run):  # files under their final names (a temporary checkpoint
        _assert_complete(run / rel)  # folder's files are not: killed while written there)
    if read_status(run)["status"] == "finished":  # the kill landed after the marker
        assert verify_integrity(run) > 10
        return
    assert read_status(run)["status"] == "running"  # by a process that is gone
    report = subprocess.run([str(EEGSNN), "report", str(run)], capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 3, report.stderr
    assert report.stderr.startswith("error: incomplete run: ") and \
        report.stderr.count("\n") == 1, report.stderr
    # the same command finishes it
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert read_status(run)["status"] == "finished" and verify_integrity(run) > 10
    left = [p for p in run.rglob("*") if is_temp_name(p.name, folder=p.is_dir())]
    assert not left, left
    for path in run.rglob("*"):
        if path.is_file():
            _assert_complete(path)


@pytest.mark.parametrize("kill_at", ["model/checkpoint/model.safetensors", "report.html"])
def test_kill_at_a_sample_of_file_appearances_never_leaves_a_truncated_file(
        kill_at, tiny_config, tmp_path):
    """The deployable model being written; the report, the last output before
    integrity.json and the finished marker."""
    _kill_and_resume(tiny_config, tmp_path / "run", kill_at)


@pytest.mark.slow
def test_kill_at_every_file_appearance_never_leaves_a_truncated_file(
        file_order, tiny_config, tmp_path):
    for k, name in enumerate(file_order):
        _kill_and_resume(tiny_config, tmp_path / f"run{k}", name)
