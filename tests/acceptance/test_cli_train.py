"""``eegsnn train``: config mode with overrides, direct mode on EDF files, errors and exit
codes (through ``eegsnn.cli.main`` and typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from eegsnn.cli import app, main
from eegsnn.evaluate.energy import describe

FAST = ["--set", "train.epochs=1", "--set", "encoder.spikes_per_s=10",
        "--set", "model.hidden=[8]"]


def test_train_from_config_with_overrides(repo_root, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 *FAST, "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none",
                 "--report", "md", "--out", str(out), "--quiet", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "SNN held-out accuracy" in captured.out and "ictal vs rest" in captured.out
    # synaptic operations and energy per prediction, the line `eegsnn evaluate` prints
    synops = json.loads((out / "metrics.json").read_text())["snn"]["synops"]
    assert f"  energy: {describe(synops)}\n" in captured.out
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 1 and cfg["model"]["hidden"] == [8]
    assert cfg["baseline"] is None and cfg["report"]["format"] == "md"
    assert (out / "report.md").is_file() and not (out / "report.html").exists()
    assert "baseline" not in json.loads((out / "metrics.json").read_text())
    # the overrides are recorded beside config.yaml (file name only) and listed in the report
    record = json.loads((out / "overrides.json").read_text())
    assert record == {"config_file": "bonn_example.yaml", "overrides": [
        "train.epochs=1", "encoder.spikes_per_s=10", "model.hidden=[8]",
        f"cache_dir={tmp_path / 'cache'}", "report.format=md", "baseline=null"]}
    assert ("| overrides | train.epochs=1; encoder.spikes_per_s=10; model.hidden=[8]; "
            "cache_dir=cache; report.format=md; baseline=null (applied to "
            "bonn_example.yaml) |") in (out / "report.md").read_text()
    # the record is no part of the config comparison: the same command finds the same run
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 *FAST, "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none",
                 "--report", "md", "--out", str(out), "--quiet", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and "already finished with the same config" in captured.err
    # ... and with another description or notes (free text, no part of the result: a
    # shipped config's reworded description refused every run made before the rewording)
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 *FAST, "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none",
                 "--report", "md", "--set", "description=reworded", "--set", "notes=new",
                 "--out", str(out), "--quiet", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0 and "already finished with the same config" in captured.err
    # the same folder with another config (the baseline, report format and cache differ):
    # refused with a one-line error (exit 2) that names a change and suggests --overwrite
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 *FAST, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "--overwrite" in err
    assert "different config (baseline" in err and err.count("\n") == 1


def test_direct_mode_keeps_the_pipelines_preprocessing_without_flags():
    """Without --channels/--bandpass the pipeline's preprocessing applies (motor_imagery:
    21 sensorimotor channels, 8-30 Hz; direct mode gave an empty chain, i.e. 64 unfiltered
    channels); with either flag the chain is the flags'."""
    from eegsnn.commands.train import direct_config
    from eegsnn.pipeline.config import resolve_study_config

    flags = {"events": ["T1=left", "T2=right"], "labels": "annotations", "window_s": 4.0,
             "tmin_s": None, "step_s": None, "sfreq_hz": None, "pipeline": "motor_imagery"}
    cfg = resolve_study_config(direct_config([Path("a.edf")], channels=None, bandpass=None,
                                             **flags), base_dir="/tmp")
    steps = cfg["dataset"]["preprocess"]
    assert [s["step"] for s in steps] == ["pick", "bandpass"] and len(steps[0]["channels"]) == 21
    cfg = resolve_study_config(direct_config([Path("a.edf")], channels="C3,C4", bandpass=None,
                                             **flags), base_dir="/tmp")
    assert [s["step"] for s in cfg["dataset"]["preprocess"]] == ["pick"]


@pytest.mark.parametrize("folds", ["2", "all"])
def test_train_direct_mode_on_edf_files(shared_data, tmp_path, folds):
    s001 = shared_data / "eegmmidb" / "S001"
    runner = CliRunner()
    result = runner.invoke(app, [
        "train", str(s001 / "S001R04.edf"), str(s001 / "S001R08.edf"),
        "--event", "T1=left", "--event", "T2=right", "--window", "2", "--tmin", "0.5",
        "--channels", "C3,Cz,C4", "--bandpass", "8,30", "--folds", folds,
        "--baseline", "csp_lda", "--encoder", "delta", "--spikes-per-s", "20",
        "--hidden", "8", "--epochs", "2", "--report", "none", "--quiet",
        "--set", f"cache_dir={tmp_path / 'cache'}", "--out", str(tmp_path / "mi")])
    assert result.exit_code == 0, result.output
    assert "baseline csp_lda: accuracy" in result.output
    cfg = yaml.safe_load((tmp_path / "mi" / "config.yaml").read_text())
    assert cfg["dataset"]["windows"] == {"mode": "events", "window_s": 2.0, "tmin_s": 0.5}
    assert cfg["dataset"]["preprocess"][0]["channels"] == ["C3", "Cz", "C4"]
    assert cfg["split"]["method"] == "kfold"
    assert cfg["split"]["n_splits"] == (2 if folds == "2" else "all")
    data = json.loads((tmp_path / "mi" / "data.json").read_text())
    assert data["ch_names"] == ["C3", "Cz", "C4"] and data["sfreq_hz"] == 160.0
    assert data["n_samples"] == 320
    splits = json.loads((tmp_path / "mi" / "splits.json").read_text())
    tests = [f["test_groups"] for f in splits["folds"]]
    assert sorted(g for t in tests for g in t) == ["S001R04.edf", "S001R08.edf"]  # one run per fold
    assert (tmp_path / "mi" / "model" / "checkpoint").is_dir()  # refit on both runs


@pytest.mark.parametrize("args, code, message", [
    (["train"], 2, "give --config"),
    (["train", "x.edf", "--window", "2"], 3, "x.edf: file or folder not found"),
    (["train", "--config", "missing.yaml"], 3, "cannot read config"),
    (["train", "--config", "{cfg}", "--set", "train.epochs"], 2, "key=value"),
    (["train", "--config", "{cfg}", "--set", "split.method=random"], 2, "split.method"),
    (["train", "--config", "{cfg}", "--window", "2"], 2, "direct-mode flags"),
    (["train", "--config", "{cfg}", "--folds", "1"], 2, "--folds"),
    (["train", "--config", "{cfg}", "--folds", "some"], 2, "an integer >= 2 or all"),
    (["train", "--config", "{cfg}", "--set", "train.epochs+=3"], 2, "+= adds to a list"),
])
def test_train_errors_are_one_line_with_exit_codes(repo_root, tmp_path, capsys, args, code,
                                                   message):
    cfg = str(repo_root / "configs" / "bonn_example.yaml")
    argv = [a.replace("{cfg}", cfg) for a in args]
    if "x.edf" in argv:
        argv += ["--event", "T1=left", "--out", str(tmp_path / "r")]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1


def test_direct_mode_needs_event_mapping(shared_data, capsys):
    code = main(["train", str(shared_data / "eegmmidb" / "S001" / "S001R04.edf")])
    assert code == 2 and "--event T1=left" in capsys.readouterr().err


def test_debug_flag_shows_the_traceback(repo_root):
    from eegsnn.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
              "--set", "split.method=random"])


def test_help_texts_have_examples():
    runner = CliRunner()
    for cmd in ("train", "evaluate", "encode", "report"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0
        assert f"eegsnn {cmd}" in result.output, cmd


def test_recordings_with_yaml_characters_in_their_path_stay_whole(repo_root, tmp_path, capsys):
    """Recordings given on the command line with --config are paths, not YAML: one with
    ' #' (a YAML comment) or ': ' (a mapping) in its name was cut or made a mapping."""
    config = str(repo_root / "configs" / "eegmmidb_imagery_lr.yaml")
    for name in ("d #2", "d: x"):
        missing = tmp_path / name / "S001R04.edf"
        assert main(["train", "--config", config, str(missing), "--out",
                     str(tmp_path / "run"), "--quiet", "--no-progress"]) == 3
        err = capsys.readouterr().err
        assert f"{missing}: file or folder not found" in err, err


def test_a_run_that_failed_before_training_does_not_block_the_corrected_one(repo_root,
                                                                              tmp_path,
                                                                              capsys):
    """A run stopped by a data error before any training leaves a failed folder; the
    corrected command replaces it (it was refused as "a different config" and needed
    --overwrite). A failed run that trained something is still kept."""
    out = tmp_path / "run"
    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--out", str(out), "--quiet", "--no-progress"]
    assert main([*base, "--set", "dataset.windows.window_s=0.001"]) == 2
    assert "shorter than one sample" in capsys.readouterr().err
    assert json.loads((out / "status.json").read_text())["status"] == "failed"
    (out / "NOTES.md").write_text("mine")  # a file of the user's: the folder is kept
    assert main(base) == 2
    assert "holds a run with a different config" in capsys.readouterr().err
    assert (out / "NOTES.md").read_text() == "mine"
    (out / "NOTES.md").unlink()
    assert main(base) == 0, capsys.readouterr().err
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    status = json.loads((out / "status.json").read_text())
    (out / "status.json").write_text(json.dumps({**status, "status": "failed"}))
    assert main([*base, "--set", "train.epochs=2"]) == 2  # trained folds: kept
    assert "holds a run with a different config" in capsys.readouterr().err


def test_overwrite_keeps_the_earlier_run_until_the_new_one_trains(repo_root, tmp_path,
                                                                   capsys):
    """--overwrite with a new run that stops on a data error before training gives the
    earlier run back (it was deleted first: a finished run lost to a typo); a new run that
    finishes replaces it, and nothing is left beside the folder."""
    out = tmp_path / "run"
    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--out", str(out), "--quiet", "--no-progress"]
    assert main(base) == 0
    before = (out / "metrics.json").read_bytes()
    assert main([*base, "--overwrite", "--set", "dataset.windows.window_s=0.001"]) == 2
    capsys.readouterr()
    assert (out / "metrics.json").read_bytes() == before
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    assert main([*base, "--overwrite", "--set", "train.seed=1"]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "run"]


def test_overwrite_where_the_run_cannot_be_set_aside_keeps_the_folder(repo_root, tmp_path,
                                                                      capsys, monkeypatch):
    """A run folder that cannot be moved aside (a mount point, a folder above it this
    process cannot write) and cannot be removed: --overwrite deleted its files, failed to
    remove the folder itself and stopped ('Read-only file system'), the earlier run lost
    and no new one; now the folder is emptied and kept, and the new run is written."""
    import errno
    import os

    import eegsnn.pipeline.run as run_module

    out = tmp_path / "run"
    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--quiet", "--no-progress", "--out", str(out)]
    assert main(base) == 0
    real_rmdir = os.rmdir

    def cannot_remove(path, *args, **kwargs):
        if os.path.realpath(path) == os.path.realpath(out):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(run_module, "_set_aside", lambda run_dir: None)  # (cannot move)
    monkeypatch.setattr(os, "rmdir", cannot_remove)
    assert main([*base, "--overwrite", "--set", "train.seed=7"]) == 0, capsys.readouterr().err
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["seed"] == 7
    assert json.loads((out / "status.json").read_text())["status"] == "finished"


def test_a_second_run_into_a_folder_in_use_stops_at_once(repo_root, tmp_path, capsys):
    """Two runs started together into one folder interleaved their files (a finished run
    whose config.yaml came from one and its fold results from the other): while a process
    holds the folder (its hidden sibling .NAME.lock), another run there stops at once, with
    or without --overwrite or --resume, through a link too, and changes nothing (not the
    'different config' or 'resume' messages of a folder that is not in use); the lock
    of a process that died is taken over, and a run removes its lock when it ends."""
    import subprocess
    import sys

    out = tmp_path / "run"
    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--quiet", "--no-progress"]
    assert main([*base, "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "run"]
    before = (out / "metrics.json").read_bytes()
    link = tmp_path / "link"
    link.symlink_to(out, target_is_directory=True)
    code = ("import sys, time\nfrom eegsnn.io.files import exclusive_lock\n"
            "with exclusive_lock(sys.argv[1]):\n    print('held', flush=True)\n"
            "    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / ".run.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # (the same command again only reads the finished run: exit 0, nothing written)
        for extra in (["--set", "train.seed=2"], ["--overwrite", "--set", "train.seed=2"],
                      ["--resume", "--set", "train.epochs=2"]):
            for where in (out, link):
                assert main([*base, "--out", str(where), *extra]) == 2, (where, extra)
                err = capsys.readouterr().err
                assert f"another run is writing there (pid {holder.pid}," in err, err
    finally:
        holder.kill()
        holder.wait()
    assert (out / "metrics.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock", "cache", "link", "run"]
    assert main([*base, "--out", str(out), "--overwrite", "--set", "train.seed=2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "link", "run"]


def test_the_lock_creates_nothing_follows_no_link_and_says_when_there_is_none(
        repo_root, tmp_path, capsys, caplog):
    """An --out through a link that leads nowhere (an unmounted drive) is refused, naming
    the link (it said 'File exists'), and nothing is made where the link points; a link
    planted at .NAME.lock is not followed (its target is not emptied): that run goes on
    unlocked and says so."""
    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--quiet", "--no-progress"]
    (tmp_path / "drive").symlink_to(tmp_path / "unmounted" / "runs")
    assert main([*base, "--out", str(tmp_path / "drive" / "run")]) == 2
    assert (f"the output folder cannot be made: {tmp_path / 'drive'} is a link to "
            f"{tmp_path / 'unmounted' / 'runs'}, which does not exist") in capsys.readouterr().err
    assert not (tmp_path / "unmounted").exists()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious data line\n")
    (tmp_path / ".run.lock").symlink_to(victim)
    with caplog.at_level("WARNING"):
        assert main([*base, "--out", str(tmp_path / "run")]) == 0
    assert victim.read_text() == "precious data line\n"
    assert (tmp_path / ".run.lock").is_symlink()
    assert "the folder is not locked (cannot open" in caplog.text


def test_overwrite_gives_back_until_a_checkpoint_and_handles_links_and_dot(
        repo_root, tmp_path, capsys, monkeypatch, caplog):
    """A new run that stops after its fold folder exists but before any checkpoint gives
    the earlier run back (only the names of a run's first files counted: the earlier run
    was deleted); an --out that is a link replaces the run where it points and keeps the
    link; '.' is refused; a folder set aside by a killed --overwrite is named."""
    import eegsnn.pipeline.snn as snn

    base = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"), *FAST,
            "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none", "--report",
            "none", "--quiet", "--no-progress"]
    real = tmp_path / "real" / "run"
    real.parent.mkdir()
    assert main([*base, "--out", str(real)]) == 0
    before = (real / "metrics.json").read_bytes()

    def stop(*args, **kwargs):
        raise RuntimeError("stopped before the first checkpoint")

    with monkeypatch.context() as patch:
        patch.setattr(snn, "fit", stop)
        assert main([*base, "--out", str(real), "--overwrite", "--set", "train.seed=3"]) == 1
    capsys.readouterr()
    assert (real / "metrics.json").read_bytes() == before
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert main([*base, "--out", str(link), "--overwrite", "--set", "train.seed=4"]) == 0
    assert link.is_symlink() and yaml.safe_load(
        (real / "config.yaml").read_text())["train"]["seed"] == 4
    assert sorted(p.name for p in real.parent.iterdir()) == ["run"]  # nothing set aside left
    monkeypatch.chdir(real)
    assert main([*base, "--out", ".", "--overwrite"]) == 2
    assert "--overwrite of the current folder" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    (real.parent / ".run.replaced-0123abcd").mkdir()
    with caplog.at_level("WARNING"):
        assert main([*base, "--out", str(real), "--overwrite", "--set", "train.seed=5"]) == 0
    assert ".run.replaced-0123abcd beside it holds what an --overwrite killed" in caplog.text
