"""Run integrity: the sha256 of every file that defines a finished run, checked before use.

When a run finishes, :func:`record_integrity` writes ``RUN/integrity.json``::

    {"format": "eegsnn-integrity", "version": 1, "algorithm": "sha256",
     "files": {"config.yaml": "<hex>", "model/checkpoint/model.safetensors": "<hex>", ...}}

It lists the run's records (:data:`TRACKED`: the config and its ``--set`` overrides
(``overrides.json``), the data record, the splits, the environment, metrics.json,
raster.npz) and every file below ``model/`` (the deployable
model: weights, encoder, model config, readout, saved baseline, training recordings),
``folds/`` (every fold's model, checkpoints and results) and ``refit/``, temporary files
aside. What later commands rewrite or add (``status.json``, the reports, ``plots/``,
``evaluations/``, an ``eegsnn evaluate --out RUN/...`` folder) and the log are not tracked.
The sha256 of ``integrity.json`` itself goes into ``status.json`` (written after it, last),
so a deleted or edited ``integrity.json`` is noticed too.

:func:`verify_integrity` (``eegsnn evaluate``, ``report``, ``plot`` and a resumed run call
it) re-hashes the listed files and raises :class:`~eegsnn.errors.DataError` naming the
first file that changed or went missing. A finished run passes only with both its
``finished`` status and a matching ``integrity.json``: a finished run (or a folder of run
files whose status.json is gone, :func:`~eegsnn.pipeline.runstate.read_status`) without
the record is refused with the command that trains it again; runs from before this record
are not trusted silently. An unfinished run keeps no record (its fold checkpoints carry
their own sha256, :mod:`eegsnn.train.checkpoint`); folders of no pipeline run (engine runs
of ``eegsnn.train.fit``) have nothing to verify.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eegsnn.errors import DataError
from eegsnn.io.files import atomic_write_json, is_temp_name, sha256_file
from eegsnn.pipeline.runstate import FINISHED, holds_run_files, read_status, retrain_command

__all__ = ["INTEGRITY_FILE", "TRACKED", "TRACKED_FOLDERS", "record_integrity", "tracked_files",
           "verify_integrity"]

INTEGRITY_FILE = "integrity.json"
FORMAT = "eegsnn-integrity"
VERSION = 1
#: Top-level files of a run folder that integrity.json tracks (when present).
#: ``overrides.json`` (the ``--set`` overrides) is rewritten by a resume, which is safe to
#: track: run_pipeline verifies before it extends the record, mark_started then removes
#: integrity.json, and the finished resume records the extended file anew.
TRACKED = ("config.yaml", "overrides.json", "data.json", "splits.json", "environment.json",
           "metrics.json", "raster.npz")
#: Top-level folders whose every file integrity.json tracks.
TRACKED_FOLDERS = ("model", "folds", "refit")
_FIX = "the run cannot be trusted; retrain it or restore the file"


def tracked_files(run_dir: str | os.PathLike) -> list[str]:
    """The files of ``run_dir`` that :func:`record_integrity` hashes: POSIX paths relative
    to ``run_dir``, sorted (:data:`TRACKED` and every file below :data:`TRACKED_FOLDERS`,
    temporary files aside)."""
    root = Path(run_dir)
    out = [name for name in TRACKED if (root / name).is_file()]
    for folder in TRACKED_FOLDERS:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if not is_temp_name(d, folder=True)]
            out += [(here / name).relative_to(root).as_posix() for name in filenames
                    if not is_temp_name(name)]
    return sorted(out)


def record_integrity(run_dir: str | os.PathLike) -> str:
    """Write ``run_dir/integrity.json`` (the sha256 of every :func:`tracked_files` file).

    Returns:
        The sha256 of ``integrity.json`` (kept in ``status.json`` by
        :func:`eegsnn.pipeline.runstate.mark_ended`).
    """
    root = Path(run_dir)
    record = {"format": FORMAT, "version": VERSION, "algorithm": "sha256",
              "files": {rel: sha256_file(root / rel) for rel in tracked_files(root)}}
    atomic_write_json(root / INTEGRITY_FILE, record)
    return sha256_file(root / INTEGRITY_FILE)


def _read_record(run_dir: Path) -> dict[str, Any] | None:
    """``integrity.json`` checked against the digest ``status.json`` holds (``None``: the run
    keeps no integrity record)."""
    path = run_dir / INTEGRITY_FILE
    status = read_status(run_dir) or {}
    expected = status.get("integrity")
    if not path.is_file():
        if expected:
            raise DataError(f"{path} is missing (status.json names it); {_FIX}")
        return None
    if not expected and status.get("status") == FINISHED:
        what = "names no integrity record" if (run_dir / "status.json").is_file() \
            else "is missing"
        raise DataError(f"{run_dir / 'status.json'} {what}, so {path} cannot be checked "
                        f"against it; {_FIX}")
    if expected and sha256_file(path) != expected:
        raise DataError(f"{path} changed after the run finished (its sha256 differs from the "
                        f"one in status.json); {_FIX}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: corrupt integrity record ({exc}); {_FIX}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT or \
            not isinstance(record.get("files"), dict):
        raise DataError(f"{path}: not an eegsnn integrity record; {_FIX}")
    if int(record.get("version", 0)) > VERSION:
        raise DataError(f"{path}: integrity record version {record['version']} is newer "
                        f"than this eegsnn supports ({VERSION})")
    return record


def verify_integrity(run_dir: str | os.PathLike) -> int:
    """Check every file ``run_dir/integrity.json`` lists against its recorded sha256.

    Returns:
        How many files were checked (0: an unfinished run, or a folder of no pipeline run:
        nothing to check).

    Raises:
        DataError: one line naming the first file that changed or is missing (or an
        ``integrity.json`` that was edited, removed or is corrupt), or a finished run that
        keeps no integrity record.
    """
    root = Path(run_dir)
    record = _read_record(root)
    if record is None:
        status = read_status(root) or {}
        if status.get("status") == FINISHED and holds_run_files(root):
            raise DataError(f"{root / INTEGRITY_FILE} is missing: the finished run {root} "
                            "keeps no record of its files' sha256 (removed, or a run from "
                            "an eegsnn before integrity records), so its model cannot be "
                            f"trusted; train it again with: {retrain_command(root)}")
        return 0
    files: dict[str, str] = record["files"]
    for rel, digest in sorted(files.items()):
        path = root / rel
        if not path.is_file():
            raise DataError(f"{path} is missing (listed in {INTEGRITY_FILE}); {_FIX}")
        if sha256_file(path) != digest:
            raise DataError(f"{path} changed after training (sha256 differs from "
                            f"{INTEGRITY_FILE}); {_FIX}")
    return len(files)
