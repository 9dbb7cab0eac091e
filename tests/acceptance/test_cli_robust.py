"""The installed ``eegsnn`` console script never crashes on the user: usage errors exit 2
with typer's usage message, unexpected errors are one line and exit 1, Ctrl-C prints
"Aborted" and exits 130 leaving a run folder marked unfinished, which the same command
then resumes (the README's first command can be run twice).

Every case runs the console script in a subprocess, as a user would (typer 0.29 vendors
click: the old ``import click`` in the error path crashed every usage error)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

EEGSNN = Path(sys.executable).with_name("eegsnn")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    if not EEGSNN.is_file():
        pytest.fail(f"the eegsnn console script is missing beside {sys.executable}")
    return subprocess.run([str(EEGSNN), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "100"})


def _no_crash(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "ModuleNotFoundError" not in out, out
    return out


@pytest.mark.parametrize("args, message", [
    (["trian"], "No such command 'trian'"),
    (["train", "--epochs", "abc"], "Invalid value for '--epochs'"),
    (["manifest", "verify"], "Missing argument"),
    (["train", "--no-such-option"], "No such option"),
])
def test_usage_errors_exit_2_with_the_usage_message(args, message):
    proc = _run(*args)
    out = _no_crash(proc)
    assert proc.returncode == 2, out
    assert "Usage: eegsnn" in proc.stderr and message in proc.stderr, out
    if args == ["trian"]:
        assert "Did you mean 'train'?" in proc.stderr


def test_bare_eegsnn_prints_the_help_and_exits_2():
    """typer's ``no_args_is_help``: the help, and exit 2 (no command is a usage error; the
    behaviour of click 8.2 / typer >= 0.16)."""
    proc = _run()
    _no_crash(proc)
    assert proc.returncode == 2
    assert "Usage: eegsnn" in proc.stdout and "train" in proc.stdout and "report" in proc.stdout


def test_unexpected_errors_are_one_line_exit_1(monkeypatch, capsys):
    """A bug (not an EEGSNNError) is one line and exit 1; ``--debug`` shows the traceback.
    In-process: no user input reaches an unexpected error on purpose."""
    import eegsnn.pipeline.runstate as runstate
    from eegsnn.cli import main

    def broken(run_dir):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(runstate, "require_finished", broken)
    assert main(["report", "somewhere"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: RuntimeError: boom second line (unexpected; run with eegsnn "
                   "--debug ... for the traceback)\n")
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "report", "somewhere"])


def test_sigint_during_train_aborts_130_and_the_same_command_resumes(repo_root, tmp_path):
    out = tmp_path / "run"
    cmd = [str(EEGSNN), "train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
           "--set", "train.epochs=4", "--set", "encoder.spikes_per_s=20",
           "--set", f"cache_dir={tmp_path / 'cache'}", "--baseline", "none",
           "--report", "md", "--no-progress", "--out", str(out)]
    # SIGINT as the terminal sends it; the child starts with Python's default handling even
    # when this test runs as a background job (which ignores SIGINT)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        checkpoint = out / "folds" / "fold-1" / "train" / "checkpoint"
        deadline = time.monotonic() + 90
        while not checkpoint.is_dir() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert checkpoint.is_dir(), "no epoch finished in 90 s"
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # during epoch 2 of 4
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    aborted = [line for line in stderr.splitlines() if line.startswith("Aborted")]
    assert len(aborted) == 1 and "the same command resumes it" in aborted[0], stderr
    assert "SNN held-out accuracy" not in stdout
    # visibly unfinished: status.json, no metrics.json or report
    assert json.loads((out / "status.json").read_text())["status"] == "interrupted"
    assert not (out / "metrics.json").exists() and not (out / "report.md").exists()
    report = _run("report", str(out), "--format", "md")
    _no_crash(report)
    assert report.returncode == 3
    assert "did not finish" in report.stderr and "interrupted" in report.stderr
    assert f"eegsnn train --config {out / 'config.yaml'} --out {out}" in report.stderr

    # the same command again: resumes from the fold's checkpoint and finishes
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    _no_crash(resumed)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the unfinished run" in resumed.stderr
    assert "SNN held-out accuracy" in resumed.stdout
    train_log = (out / "folds" / "fold-1" / "train" / "train.log").read_text()
    assert "resumed from" in train_log
    history = json.loads((out / "folds" / "fold-1" / "train" / "history.json").read_text())
    assert len(history) == 4
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "report.md").is_file()

    # once more (the README's command run twice): nothing is trained, the results are shown
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "already finished with the same config" in again.stderr
    assert f"accuracy {metrics['snn']['pooled']['accuracy']:.4f}" in again.stdout
    assert "[eegsnn] load" not in again.stderr  # no stage ran
    # a different config for the same folder: one-line refusal naming the change
    other = subprocess.run([*cmd, "--set", "model.hidden=[8]"], capture_output=True,
                           text=True, timeout=120)
    assert other.returncode == 2 and other.stderr.count("\n") == 1, other.stderr
    assert "different config (model.hidden" in other.stderr and "--overwrite" in other.stderr


def test_run_status_records_how_a_run_ended(tmp_path, repo_root):
    """status.json: running -> finished / interrupted / failed (one line); folders from
    before status.json; a run in progress (a live pid) is never written into."""
    from eegsnn.errors import ConfigError, DataError, Interrupted
    from eegsnn.pipeline import run_pipeline
    from eegsnn.pipeline.runstate import (
        config_changes,
        mark_ended,
        mark_started,
        read_status,
        require_finished,
    )

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}")  # an earlier run's final output
    mark_started(run)
    assert read_status(run)["status"] == "running" and not (run / "metrics.json").exists()
    with pytest.raises(DataError, match=r"did not finish \(stopped while running"):
        require_finished(run)
    mark_ended(run, Interrupted())
    assert read_status(run)["status"] == "interrupted"
    mark_ended(run, RuntimeError("bad\nthing"))
    assert read_status(run) | {"ended": 0, "started": 0} == {
        "status": "failed", "error": "RuntimeError: bad thing", "ended": 0, "started": 0}
    mark_ended(run)
    assert read_status(run)["status"] == "finished"
    require_finished(run)

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.yaml").write_text("name: x\n")
    assert read_status(legacy) == {"status": "incomplete"}
    (legacy / "metrics.json").write_text("{}")
    assert read_status(legacy) == {"status": "finished"}
    assert read_status(tmp_path / "nothing") is None

    assert config_changes({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"b": 2, "c": [1]}}) == [
        "a.b: 1 -> 2", "d"]

    # a live process's run: refused (the sleeping child stands in for `eegsnn train`)
    busy = tmp_path / "busy"
    busy.mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        import socket

        (busy / "status.json").write_text(json.dumps({
            "status": "running", "pid": sleeper.pid, "host": socket.gethostname()}))
        for kwargs in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(ConfigError, match="in progress"):
                run_pipeline(repo_root / "configs" / "bonn_example.yaml", busy, **kwargs)
        with pytest.raises(DataError, match="still in progress"):
            require_finished(busy)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_same_data_spelt_through_a_link_is_the_same_run(tmp_path):
    """A run folder's saved config against a new one: data.source spelt through a link
    (a cluster's /home that links to /gpfs, a linked working directory) is the same data;
    another folder is a different run."""
    from eegsnn.pipeline.runstate import inspect_run, mark_ended, mark_started

    (tmp_path / "real" / "bonn").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    run = tmp_path / "run"
    run.mkdir()
    mark_started(run)
    (run / "config.yaml").write_text(
        f"name: x\ndata:\n  source: [{tmp_path / 'real' / 'bonn'}]\n  root: null\n")
    mark_ended(run)
    same = {"name": "x", "data": {"source": [str(tmp_path / "link" / "bonn")], "root": None}}
    assert inspect_run(run, same).changes == []
    other = {"name": "x", "data": {"source": [str(tmp_path / "other")], "root": None}}
    assert inspect_run(run, other).changes == ["data.source"]
