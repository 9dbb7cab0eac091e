"""Whether a run folder holds a finished run, and what a new run may do with the folder.

:func:`eegsnn.pipeline.run_pipeline` writes ``RUN/status.json`` when a run starts and
replaces it when the run ends::

    {"status": "running", "started": "...", "pid": 1234, "host": "..."}   # at the start
    {"status": "finished", "integrity": "<sha256 of integrity.json>", ...}   # written last
    {"status": "interrupted", ...}   # Ctrl-C
    {"status": "failed", "error": "one line", ...}

``finished`` is written strictly last, after every other file of the run (metrics.json,
raster.npz, the report, integrity.json: :mod:`eegsnn.pipeline.integrity`). A folder whose
status is not ``finished`` is an incomplete run: a (re)started run removes the final outputs
of an earlier one first (:data:`FINAL_OUTPUTS`); ``eegsnn report``, ``plot`` and
``evaluate`` refuse it in one line ("incomplete run: ...") with the command that resumes it
(:func:`resume_command`). A status of ``running`` whose process is gone (killed) is
incomplete too.

A folder that holds a pipeline run's files (:data:`RUN_FILES`) but no ``status.json`` (it
was deleted, or the run comes from an eegsnn before run records) is refused too ("not a
finished run"): nothing says it finished, nor which files it finished with; it is trained
again (``--overwrite``). :func:`read_status` still derives a record for it (``finished``
with ``metrics.json``), which ``eegsnn train`` uses to recognise the folder; its integrity
check (:func:`eegsnn.pipeline.integrity.verify_integrity`) then refuses it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eegsnn.errors import DataError, Interrupted
from eegsnn.io.files import atomic_write_text, dump_yaml

__all__ = ["EARLY_RUN_FILES", "RUN_FILES", "STATUS_FILE", "RunState", "config_changes",
           "error_line", "holds_run_files", "inspect_run", "mark_ended", "mark_started",
           "read_status", "require_finished", "resume_command", "retrain_command"]

STATUS_FILE = "status.json"
FINISHED = "finished"
#: Final outputs of a run, written last; removed when a run (re)starts in the folder.
FINAL_OUTPUTS = ("metrics.json", "raster.npz", "report.html", "report.md", "integrity.json")
#: Files and folders only a pipeline run writes (an engine folder of ``eegsnn.train.fit``
#: holds ``config.json``, ``metrics.json`` and ``checkpoint/``, none of these).
RUN_FILES = ("config.yaml", "data.json", "splits.json", "integrity.json", "overrides.json",
             "raster.npz", "model", "folds", "refit")
#: What a run writes before it trains anything: a failed run folder holding only these is
#: replaced by the next run (anything else in it, a user's file too, keeps it).
EARLY_RUN_FILES = frozenset({"config.yaml", "overrides.json", "environment.json",
                             "pipeline.log", "status.json", "data.json", "splits.json"})


def holds_run_files(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds files of a pipeline run (:data:`RUN_FILES`; or a
    ``metrics.json`` without the ``config.json`` of an engine folder)."""
    root = Path(run_dir)
    if any((root / name).exists() for name in RUN_FILES):
        return True
    return (root / "metrics.json").is_file() and not (root / "config.json").is_file()


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _write(run_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_text(run_dir / STATUS_FILE, json.dumps(record, indent=2) + "\n")


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's status record, ``None`` for a folder without one.

    A folder from before ``status.json`` that holds ``config.yaml`` gets a derived record:
    ``finished`` when ``metrics.json`` exists, else ``incomplete``. A corrupt file reads as
    ``{"status": "unknown"}`` (never as finished).
    """
    run_dir = Path(run_dir)
    path = run_dir / STATUS_FILE
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"status": "unknown"}
        return record if isinstance(record, dict) else {"status": "unknown"}
    if (run_dir / "config.yaml").is_file():
        return {"status": FINISHED if (run_dir / "metrics.json").is_file() else "incomplete"}
    return None


def is_alive(record: Mapping[str, Any]) -> bool:
    """Whether a ``running`` record's process is still running (on this host)."""
    if record.get("status") != "running" or record.get("host") != socket.gethostname():
        return False
    try:
        pid = int(record.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def mark_started(run_dir: Path) -> None:
    """Mark ``run_dir`` as a run in progress and drop the final outputs of an earlier run."""
    # "running" first: a kill in between never leaves a "finished" folder without its outputs
    _write(run_dir, {"status": "running", "started": _now(), "pid": os.getpid(),
                     "host": socket.gethostname()})
    for name in FINAL_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)


def mark_ended(run_dir: Path, exc: BaseException | None = None, *,
               integrity: str | None = None) -> None:
    """Record how the run in ``run_dir`` ended: ``finished`` (``exc`` is ``None``),
    ``interrupted`` (Ctrl-C) or ``failed`` (the error's message, one line).

    Args:
        integrity: sha256 of the finished run's ``integrity.json`` (kept in the record).
    """
    old = read_status(run_dir) or {}
    record: dict[str, Any] = {"status": FINISHED, "ended": _now()}
    if integrity is not None and exc is None:
        record["integrity"] = integrity
    if old.get("started"):
        record["started"] = old["started"]
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        record["status"] = "interrupted"
    elif exc is not None:
        record["status"] = "failed"
        record["error"] = error_line(exc)[:500]
    with contextlib.suppress(OSError):
        _write(run_dir, record)


def error_line(exc: BaseException) -> str:
    """``Type: message`` of an exception on one line (``Type`` alone without a message)."""
    text = str(exc)
    return " ".join((type(exc).__name__ + (f": {text}" if text else "")).split())


def retrain_command(run_dir: str | os.PathLike) -> str:
    """The command that trains the run in ``run_dir`` again from its saved config."""
    return resume_command(run_dir) + " --overwrite"


def resume_command(run_dir: str | os.PathLike) -> str:
    """The command that resumes the run in ``run_dir`` (its saved, resolved config)."""
    run = str(run_dir)
    return (f"eegsnn train --config {shlex.quote(str(Path(run) / 'config.yaml'))} "
            f"--out {shlex.quote(run)}")


def _describe(record: Mapping[str, Any]) -> str:
    status = record.get("status", "unknown")
    if status == "running":
        status = "stopped while running" if not is_alive(record) else "still running"
    when = record.get("ended") or record.get("started")
    text = status + (f" at {when}" if when else "")
    if record.get("error"):
        text += f": {record['error']}"
    return text


def require_finished(run_dir: str | os.PathLike) -> None:
    """Raise :class:`DataError` ("incomplete run: ...", one line) when ``run_dir`` holds a
    run that did not finish, and ("not a finished run: ...") when it holds a run's files
    (:func:`holds_run_files`) without ``status.json``.

    Folders that hold no pipeline run pass (the caller reports what it misses); a folder
    that does not exist is ``"RUN: run folder not found"``.
    """
    if not Path(run_dir).is_dir():
        raise DataError(f"{run_dir}: run folder not found"
                        + (" (a file, not a folder)" if Path(run_dir).exists() else ""))
    if not (Path(run_dir) / STATUS_FILE).is_file() and holds_run_files(run_dir):
        fix = (f"train it again with: {retrain_command(run_dir)}"
               if (Path(run_dir) / "config.yaml").is_file() else "train it again")
        raise DataError(f"not a finished run: {run_dir} holds a run's files but no "
                        f"{STATUS_FILE} (removed, or written by an eegsnn before run "
                        f"records), so nothing says the run finished or which files it "
                        f"finished with; {fix}")
    record = read_status(run_dir)
    if record is None or record.get("status") == FINISHED:
        return
    if record.get("status") == "running" and is_alive(record):
        raise DataError(f"incomplete run: {run_dir}: the run is still in progress (pid "
                        f"{record.get('pid')}); wait until `eegsnn train` finishes")
    if record == {"status": "unknown"}:  # status.json unreadable (read_status)
        raise DataError(f"{Path(run_dir) / STATUS_FILE}: unreadable (not a JSON status "
                        "record), so nothing says whether the run finished; train it again "
                        f"with: {retrain_command(run_dir)}")
    raise DataError(f"incomplete run: {run_dir}: the run did not finish "
                    f"({_describe(record)}); resume it with: {resume_command(run_dir)}")


def config_changes(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs (``a.b: OLD -> NEW`` for short
    values)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            name = f"{prefix}{key}"
            if key not in old or key not in new:
                out.append(name)
            else:
                out += config_changes(old[key], new[key], name + ".")
        return out
    if old == new:
        return []
    name = prefix.rstrip(".")
    if len(repr(old)) + len(repr(new)) <= 60:
        return [f"{name}: {old!r} -> {new!r}"]
    return [name]


@dataclass
class RunState:
    """What an output folder holds, for a new run with a given config.

    ``kind``: ``empty`` (missing or empty), ``foreign`` (files but no eegsnn run),
    ``busy`` (a run in progress), ``finished`` or ``unfinished``; ``changes``: config keys
    that differ from the saved run's (:func:`config_changes`, ``train.epochs`` included).
    """

    kind: str
    status: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)

    @property
    def only_epochs_changed(self) -> bool:
        return bool(self.changes) and all(c.startswith("train.epochs")
                                          for c in self.changes)


#: top-level config keys of free text: a change in them does not make a different run
FREE_TEXT_KEYS = ("description", "notes")


def inspect_run(run_dir: str | os.PathLike, config: Mapping[str, Any]) -> RunState:
    """Classify ``run_dir`` for a run with the resolved study config ``config``; the
    free-text keys (:data:`FREE_TEXT_KEYS`) are not compared."""
    import yaml

    run_dir = Path(run_dir)
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return RunState("empty")
    record = read_status(run_dir)
    if record is None:
        return RunState("foreign")
    if record.get("status") == "running" and is_alive(record):
        return RunState("busy", record)
    saved = run_dir / "config.yaml"
    if not saved.is_file():  # stopped before its config was written: nothing to keep
        return RunState("unfinished", record)
    try:
        old = yaml.safe_load(saved.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{saved}: cannot read the saved run config ({exc}); use a new "
                        "--out folder or --overwrite") from exc
    new = yaml.safe_load(dump_yaml(config))  # the config as config.yaml would hold it
    kind = "finished" if record.get("status") == FINISHED else "unfinished"
    if isinstance(old, Mapping) and isinstance(new, Mapping):  # free text changes no result
        old, new = ({k: v for k, v in c.items() if k not in FREE_TEXT_KEYS} for c in (old, new))
        old, new = _data_paths_resolved(old), _data_paths_resolved(new)
    return RunState(kind, record, config_changes(old, new))


def _data_paths_resolved(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with ``data.source`` and ``data.root`` paths resolved (links followed):
    the same files spelt another way (through a linked working directory, /home that links
    to /gpfs) are the same data, not a different run."""
    data = config.get("data")
    if not isinstance(data, Mapping):
        return dict(config)

    def real(value: Any) -> Any:
        if isinstance(value, str):
            return os.path.realpath(value)
        if isinstance(value, list):
            return [real(v) for v in value]
        return value

    return {**config, "data": {**data, **{k: real(data[k]) for k in ("source", "root")
                                          if k in data}}}
