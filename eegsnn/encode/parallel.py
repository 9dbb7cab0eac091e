"""Parallel preparation: read -> preprocess -> window -> [encode] -> write, one recording
per task, in worker processes, with bounded memory, skipping what is already current.

.. code-block:: python

    from eegsnn.encode.parallel import prepare_recordings, load_prepared
    report = prepare_recordings("data/", config, "prepared/", max_workers=8,
                                encoder=fitted_encoder)     # encoder optional
    print(report.summary())          # 998 done, 0 cached, 2 failed: file + reason each
    ws = load_prepared(report)       # WindowSet of every recording that succeeded

Each recording is one task (:func:`prepare_one`): it hashes the file, derives the output
name from ``sha256(versions, file checksum, dataset config, encoder config)`` (the
:func:`~eegsnn.preprocess.cache.cache_key` of the window cache), and if that output already
exists it is *current* and skipped. Otherwise it runs :func:`~eegsnn.preprocess.load_windows`
on the one file and writes ``<stem>-<key16>.npz`` (and ``<stem>-<key16>.spikes`` with an
encoder) atomically, so an interrupted run never leaves a half-written output that a later
run would trust. A changed file, config or encoder gives a new name, so stale outputs are
never reused.

Memory: workers return a small record (paths, counts, seconds, their peak RSS), never
arrays; at most ``max_in_flight`` tasks (default ``2 * max_workers``) are submitted at a
time, so the parent holds a bounded queue whatever the corpus size, and each worker holds
one recording at a time. ``max_tasks_per_child`` recycles workers to cap slow leaks.

Failures: a recording that raises (truncated EDF, missing events, ...) becomes a
``failed`` item with the file and a one-line reason; the others go on. A worker that dies
(killed, out of memory) fails its in-flight recordings and the pool is restarted for the
rest. The report is also written to ``<out_dir>/prepared.json`` (relative paths only, no
patient identity).

Workers are started with ``spawn`` (safe with MLX/OpenBLAS threads in the parent) and run
each with ``OMP/OPENBLAS_NUM_THREADS=1`` by default so ``N`` workers use ``N`` cores
(:func:`eegsnn.env.worker_init`).

This module sits in the encode layer: it chains the preprocessing layer (windows) and the
encoders, so it may import both.
"""

from __future__ import annotations

import copy
import json
import logging
import multiprocessing as mp
import os
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.encode.dataset import encode_to_file
from eegsnn.encode.eeg import EEGEncoder
from eegsnn.encode.storage import load_spikes
from eegsnn.env import worker_init
from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_text, sha256_file
from eegsnn.preprocess.cache import cache_key
from eegsnn.preprocess.dataset import (
    label_files,
    load_config,
    load_windows,
    recording_relpath,
    resolve_source,
    validate_config,
)
from eegsnn.preprocess.windows import WindowSet

__all__ = ["PrepareItem", "PrepareReport", "load_prepared", "peak_rss_mb", "prepare_one",
           "prepare_recordings"]

log = logging.getLogger(__name__)
REPORT_NAME = "prepared.json"


@dataclass
class PrepareItem:
    """What happened to one recording.

    Attributes:
        recording: path relative to the dataset root.
        status: ``"done"`` (written now), ``"cached"`` (current output existed) or
            ``"failed"``.
        windows: output file (``.npz`` window set) relative to ``out_dir``, or ``None``.
        spikes: output spike dataset folder relative to ``out_dir``, or ``None``.
        n_windows: number of windows (0 when failed).
        seconds: wall time of the task in its worker.
        peak_rss_mb: the worker's peak resident memory so far (MiB).
        error: one-line reason when failed.
    """

    recording: str
    status: str
    windows: str | None = None
    spikes: str | None = None
    n_windows: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    error: str | None = None


@dataclass
class PrepareReport:
    """Per-recording outcome of :func:`prepare_recordings`."""

    out_dir: Path
    items: list[PrepareItem] = field(default_factory=list)
    seconds: float = 0.0
    max_workers: int = 1

    def by_status(self, status: str) -> list[PrepareItem]:
        return [it for it in self.items if it.status == status]

    @property
    def failed(self) -> list[PrepareItem]:
        return self.by_status("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """``"3 done, 1 cached, 1 failed in 4.2 s (2 workers)"`` + one line per failure."""
        lines = [f"{len(self.by_status('done'))} done, {len(self.by_status('cached'))} "
                 f"cached, {len(self.failed)} failed in {self.seconds:.1f} s "
                 f"({self.max_workers} workers)"]
        lines += [f"  FAILED {it.recording}: {it.error}" for it in self.failed]
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """:class:`DataError` listing every failed recording (if any)."""
        if self.failed:
            raise DataError(self.summary())

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "seconds": self.seconds,
                "max_workers": self.max_workers, "items": [asdict(i) for i in self.items]}

    def save(self) -> Path:
        path = self.out_dir / REPORT_NAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path

    @staticmethod
    def load(out_dir: str | os.PathLike) -> PrepareReport:
        path = Path(out_dir) / REPORT_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a readable preparation report ({exc})") from exc
        return PrepareReport(out_dir=Path(out_dir), seconds=float(data["seconds"]),
                             max_workers=int(data["max_workers"]),
                             items=[PrepareItem(**i) for i in data["items"]])


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if not isinstance(exc, (DataError, ConfigError)):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (``ru_maxrss`` would report the parent's peak
    for a process started by fork + exec, as spawned workers are). Elsewhere ``ru_maxrss``.
    """
    import resource  # Unix only

    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def _output_key(rel: str, digest: str, cfg: dict, encoder_cfg: dict | None,
                labels: Sequence[tuple[str, str]] = ()) -> str:
    """The key of one recording's outputs: its content, the files that label it
    (``labels``: ``(path, sha256)``; a corrected hypnogram makes new outputs), the dataset
    and encoder configs."""
    return cache_key([(rel, digest), *labels], {"dataset": cfg, "encoder": encoder_cfg})


def _npz_complete(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "X.npy" in z.namelist() and "meta.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def prepare_one(task: Mapping[str, Any]) -> dict[str, Any]:
    """Prepare one recording (runs in a worker; also callable directly).

    Args:
        task: ``{"path", "rel", "root", "config" (a dataset config), "out_dir",
            "encoder" (EEGEncoder config or None), "overwrite", "keep_windows"}``.

    Returns:
        a :class:`PrepareItem` as a dict. Never raises for a bad recording.
    """
    t0 = time.perf_counter()
    rel = str(task["rel"])
    item = PrepareItem(recording=rel, status="failed")
    try:
        path = Path(task["path"])
        out_dir = Path(task["out_dir"])
        cfg, enc_cfg = task["config"], task.get("encoder")
        valid = validate_config(cfg)
        labels = [(f.name, sha256_file(f))
                  for f in label_files(path, valid, Path(task["root"]))]
        key = _output_key(rel, sha256_file(path), valid, enc_cfg, labels)
        stem = Path(rel).name.split(".")[0]
        win_name = f"{stem}-{key[:16]}.npz"
        spk_name = f"{stem}-{key[:16]}.spikes" if enc_cfg is not None else None
        keep = bool(task.get("keep_windows", True)) or spk_name is None
        win_path = out_dir / win_name
        current = (not keep) or (win_path.is_file() and _npz_complete(win_path))
        if spk_name is not None:
            current = current and (out_dir / spk_name / "meta.json").is_file()
        if current and not task.get("overwrite"):
            if keep:
                with np.load(win_path, allow_pickle=False) as z:
                    n = int(z["y"].shape[0])
            else:
                assert spk_name is not None  # windows are only dropped when spikes are kept
                n = int(json.loads((out_dir / spk_name / "meta.json").read_text())
                        ["num_windows"])
            item = PrepareItem(recording=rel, status="cached",
                               windows=win_name if keep else None, spikes=spk_name,
                               n_windows=n)
        else:
            ws = load_windows([path], cfg, root=task["root"], use_cache=False)
            if spk_name is not None:
                assert enc_cfg is not None  # spk_name is set exactly when enc_cfg is
                enc = EEGEncoder.from_config(enc_cfg)
                encode_to_file(out_dir / spk_name, ws.X, enc, labels=ws.y, sources=[path],
                               meta={"recording": rel, "windows": win_name},
                               overwrite=True)
            if keep:
                ws.save(win_path)  # last: its presence marks the whole task complete
            item = PrepareItem(recording=rel, status="done",
                               windows=win_name if keep else None, spikes=spk_name,
                               n_windows=len(ws))
    except Exception as exc:  # one bad recording must not stop the others
        item = PrepareItem(recording=rel, status="failed", error=_one_line(exc))
    item.seconds = time.perf_counter() - t0
    item.peak_rss_mb = peak_rss_mb()
    return asdict(item)


def prepare_recordings(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    config: Mapping[str, Any] | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    encoder: Any = None,
    max_workers: int | None = None,
    max_in_flight: int | None = None,
    max_tasks_per_child: int | None = None,
    worker_threads: int | None = 1,
    keep_windows: bool = True,
    overwrite: bool = False,
) -> PrepareReport:
    """Prepare many recordings in parallel worker processes (see the module docstring).

    Args:
        source: files, a folder, or a data manifest (as :func:`load_windows`).
        config: dataset config (dict or YAML file).
        out_dir: folder for the outputs and ``prepared.json`` (created).
        root: dataset root for relative recording names.
        encoder: a *fitted* :class:`~eegsnn.encode.EEGEncoder` (or its ``to_config()``):
            also encode each recording to a packed spike dataset. Fit it on training
            windows beforehand: per-recording fitting would leak test statistics.
        max_workers: worker processes (default ``os.cpu_count()``); ``0`` runs every task
            in this process (no isolation; for debugging).
        max_in_flight: tasks submitted at once (default ``2 * max_workers``).
        max_tasks_per_child: recycle a worker after this many recordings.
        worker_threads: BLAS/OpenMP threads per worker (``None``: library default).
        keep_windows: with an encoder, also keep the float32 windows (``.npz``). For a
            large corpus pass ``False``: float32 windows are larger than the EDF files
            themselves, the packed spikes ~40x smaller (see ``docs/scaling.md``).
        overwrite: redo recordings whose output is current.

    Returns:
        the :class:`PrepareReport` (failures included; see ``raise_for_failures``).
    """
    if isinstance(config, (str, os.PathLike)):
        config = load_config(config)
    cfg = validate_config(config)
    files, root_path, _known = resolve_source(source, root, text=cfg["sfreq_hz"] is not None)
    enc_cfg = None
    if encoder is not None:
        enc = encoder if isinstance(encoder, EEGEncoder) else EEGEncoder.from_config(encoder)
        if not enc.is_fitted:
            raise ConfigError("prepare_recordings: the encoder must be fitted (on training "
                              "windows) before parallel encoding")
        enc_cfg = enc.to_config()
    workers = (os.cpu_count() or 1) if max_workers is None else int(max_workers)
    if workers < 0:
        raise ConfigError(f"max_workers must be >= 0, got {max_workers}")
    in_flight = max(1, int(max_in_flight) if max_in_flight else 2 * max(workers, 1))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw_cfg = copy.deepcopy(dict(config))
    tasks = [{"path": str(p), "rel": recording_relpath(p, root_path), "root": str(root_path),
              "config": raw_cfg, "out_dir": str(out), "encoder": enc_cfg, "overwrite": overwrite,
              "keep_windows": keep_windows}
             for p in files]
    t0 = time.perf_counter()
    results: dict[int, dict[str, Any]] = {}
    if workers == 0:
        for i, task in enumerate(tasks):
            results[i] = prepare_one(task)
    else:
        _run_pool(tasks, results, workers, in_flight, max_tasks_per_child, worker_threads)
    report = PrepareReport(out_dir=out, max_workers=workers,
                           items=[PrepareItem(**results[i]) for i in range(len(tasks))],
                           seconds=time.perf_counter() - t0)
    report.save()
    for it in report.failed:
        log.warning("prepare: %s failed: %s", it.recording, it.error)
    return report


def _dead_worker(rel: str) -> dict[str, Any]:
    return asdict(PrepareItem(recording=rel, status="failed",
                              error="worker process died (killed, crashed or out of memory) "
                                    "while preparing this recording"))


def _run_pool(tasks: list[dict], results: dict[int, dict], workers: int, in_flight: int,
              max_tasks_per_child: int | None, threads: int | None,
              fn: Callable[[Mapping[str, Any]], dict[str, Any]] = prepare_one) -> None:
    """Run ``fn`` over ``tasks`` in a pool; fills ``results[i]``.

    When a worker dies every task in flight in that pool fails with ``BrokenProcessPool``,
    not only the culprit; those tasks are re-run one at a time in a fresh one-worker pool,
    so only a recording that kills its worker on its own is reported as failed.
    """
    ctx = mp.get_context("spawn")

    def make_pool(n: int) -> ProcessPoolExecutor:
        kwargs: dict[str, Any] = {"max_workers": n, "mp_context": ctx,
                                  "initializer": worker_init, "initargs": (threads,)}
        if max_tasks_per_child:
            kwargs["max_tasks_per_child"] = max_tasks_per_child
        return ProcessPoolExecutor(**kwargs)

    pending = list(range(len(tasks)))[::-1]  # stack: pop() takes the next task in order
    while pending:
        running: dict[Future, int] = {}
        suspects: list[int] = []
        with make_pool(workers) as pool:
            while pending or running:
                while pending and len(running) < in_flight:
                    i = pending.pop()
                    running[pool.submit(fn, tasks[i])] = i
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    i = running.pop(fut)
                    try:
                        results[i] = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects.append(i)
                if broken:
                    for fut, i in running.items():
                        if fut.done() and fut.exception() is None:
                            results[i] = fut.result()
                        else:
                            suspects.append(i)
                    running.clear()
                    break
        for i in sorted(suspects):  # isolate the culprit(s)
            with make_pool(1) as solo:
                try:
                    results[i] = solo.submit(fn, tasks[i]).result()
                except BrokenProcessPool:
                    results[i] = _dead_worker(tasks[i]["rel"])


def load_prepared(report: PrepareReport | str | os.PathLike, *, spikes: bool = False):
    """Windows (or spike datasets) of every recording that was prepared successfully.

    Args:
        report: a :class:`PrepareReport` or its ``out_dir``.
        spikes: return the list of :class:`~eegsnn.encode.SpikeDataset` instead.

    Returns:
        one :class:`~eegsnn.preprocess.WindowSet` (concatenated in recording order;
        raises :class:`DataError` if recordings disagree in channels or rate), or the
        spike datasets.
    """
    if not isinstance(report, PrepareReport):
        report = PrepareReport.load(report)
    ok = [it for it in report.items if it.status in ("done", "cached")]
    if not ok:
        raise DataError(f"{report.out_dir}: no recording was prepared successfully")
    if spikes:
        missing = [it.recording for it in ok if it.spikes is None]
        if missing:
            raise ConfigError(f"{report.out_dir}: prepared without an encoder ({missing[0]})")
        return [load_spikes(report.out_dir / str(it.spikes)) for it in ok]
    if any(it.windows is None for it in ok):
        raise ConfigError(f"{report.out_dir}: prepared with keep_windows=False (spikes only); "
                          "use load_prepared(..., spikes=True)")
    return WindowSet.concat([WindowSet.load(report.out_dir / str(it.windows)) for it in ok])
