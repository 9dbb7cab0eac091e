"""The stage engine: run a declared pipeline from a study config, and evaluate a run.

:func:`run_pipeline` runs the stages of the config's pipeline (see
:mod:`eegsnn.pipeline.spec`)::

    load -> split -> [encode -> train -> evaluate -> baseline] per fold -> report

and writes a run directory::

    RUN/
      config.yaml         resolved study config (pipeline defaults and overrides applied)
      overrides.json      the config file's name and the --set overrides applied to it
                          (eegsnn.pipeline.config.write_override_record; beside, not in,
                          config.yaml, so that a resume compares the configs only)
      data.json           data provenance: source, manifest sha256, every input file's
                          sha256, channels, sampling rate, windows and classes
                          (never patient identity)
      splits.json         test groups of every fold, class counts in train/test
      environment.json    eegsnn.env.environment_record() (versions, device, BLAS)
      pipeline.log        one line per stage; the last one names the error that stopped
                          a failed or interrupted run
      folds/fold-K/       encoder.json, model_config.json, train/ (history.json, train.log,
                          checkpoint/, curves.png), metrics.json, predictions.csv,
                          baseline.json, raster.npz
      model/              the deployable model: encoder.json, model_config.json,
                          checkpoint/ (holdout: the fold's model; kfold + refit and
                          split.method none: trained on all windows); for ``model.type:
                          lsm`` model_config.json holds the reservoir config and seed and
                          readout.npz the readout weights instead of checkpoint/ (see
                          eegsnn.pipeline.lsm); baseline.json + baseline.npz: the baseline
                          fitted on the same windows; about.json: what it was trained on;
                          training_files.json: its training recordings and their sha256
                          (evaluate refuses them: eegsnn.pipeline.records.check_overlap)
      metrics.json        SNN and baseline metrics (pooled, per fold, mean and 95 % CI),
                          written last
      status.json         running | finished | interrupted | failed (see
                          eegsnn.pipeline.runstate): a folder is a finished run only when
                          it says finished
      report.html         (or report.md)
      integrity.json      sha256 of every file above but the log, reports and status
                          (eegsnn.pipeline.integrity): evaluate, report, plot and a resume
                          refuse a run whose files changed; then status.json says finished

Every file is written atomically (temp file + ``os.replace``); temp files a killed run left
are removed when a run starts or resumes in the folder.

:func:`evaluate_run` applies a run's exact preprocessing, encoder and model to other
recordings and refuses data whose channels, sampling rate or window length do not fit.

The stages know models only through :class:`~eegsnn.pipeline.contract.PipelineModel` (fit,
predict, raster, save, load; one class per ``model.type``). The pieces live in
:mod:`~eegsnn.pipeline.folds` (splits, encoding, scores, ``metrics.json``),
:mod:`~eegsnn.pipeline.records` (run folder records) and :mod:`~eegsnn.pipeline.apply`
(applying a run to new data).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import eegsnn.env as env
from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.energy import combine, window_synops
from eegsnn.io.files import (
    LockHeld,
    atomic_write_json,
    atomic_write_npz,
    atomic_write_text,
    dump_yaml,
    exclusive_lock,
    file_in_the_way,
    holds_cwd,
    in_the_way,
    is_temp_name,
    remove_temp_files,
)
from eegsnn.pipeline import integrity, runstate
from eegsnn.pipeline.apply import (
    EvaluationResult,
    check_compatible,
    default_root,
    evaluate_run,
    load_run_model,
)
from eegsnn.pipeline.baselines import fit_baseline, require_baseline_extras, run_baseline
from eegsnn.pipeline.config import (
    apply_overrides,
    load_study_config,
    resolve_study_config,
    write_override_record,
)
from eegsnn.pipeline.contract import Fold, PipelineModel, issue_warnings
from eegsnn.pipeline.folds import (
    aggregate_metrics,
    encode_windows,
    encoder_params,
    fit_encoder,
    make_folds,
    score_windows,
    split_groups,
)
from eegsnn.pipeline.metrics import class_counts
from eegsnn.pipeline.models import pipeline_model
from eegsnn.pipeline.records import (
    TRAINING_FILES,
    FoldResult,
    RunResult,
    data_record,
    write_predictions_csv,
    write_training_files,
)
from eegsnn.pipeline.snn import split_validation
from eegsnn.pipeline.spec import PipelineSpec, get_pipeline
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.dataset import unused_labels
from eegsnn.preprocess.objects import describe_objects, is_object_description, mne_objects
from eegsnn.report import write_report

__all__ = ["EvaluationResult", "FoldResult", "RunResult", "check_compatible", "check_sources",
           "class_counts", "default_root", "encode_windows", "encoder_params", "evaluate_run",
           "load_run_model", "make_folds", "run_pipeline"]

log = logging.getLogger("eegsnn.pipeline")


def _setup_log(run_dir: Path | None) -> logging.Handler | None:
    if run_dir is None:
        return None
    handler = logging.FileHandler(run_dir / "pipeline.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler



def check_sources(cfg: Mapping[str, Any],
                  config_file: str | os.PathLike | None = None) -> None:
    """Every recording, folder or manifest of a resolved config's ``data.source`` exists.

    Raises:
        DataError: naming the first that does not; for a config read from ``config_file``,
        saying that its relative paths (``--set`` ones too) were read from its folder.
    """
    src = cfg["data"]["source"]
    for p in (src if isinstance(src, list) else [src]):
        if not is_object_description(p) and not Path(p).exists():
            hint = ("" if config_file is None else
                    "; relative paths in a config file and in its --set overrides are read "
                    f"from the config file's folder, {Path(config_file).resolve().parent}")
            raise DataError(f"{p}: file or folder not found (data.source{hint})")


def run_pipeline(config: Mapping[str, Any] | str | os.PathLike,
                 out_dir: str | os.PathLike | None = None, *, overrides: Sequence[str] = (),
                 progress: bool | None = None, resume: bool = False,
                 overwrite: bool = False,
                 provenance: tuple[str | os.PathLike | None, Sequence[str]] | None = None
                 ) -> RunResult:
    """Run a study end to end (see the module docstring for the stages and outputs).

    Args:
        config: a study config file (YAML) or an already loaded dict (relative data paths
            then resolve against the working directory).
        out_dir: run directory (``None``: nothing is written).
        overrides: ``key.sub=value`` strings applied to the config first.
        progress: progress bars (``None``: only on a terminal).
        resume: continue the run in ``out_dir`` (same config; ``train.epochs`` may
            differ): each fold's training resumes from its last checkpoint.
        overwrite: replace an existing run in ``out_dir``: it is kept aside (a hidden
            sibling folder) until the new run has trained, and put back when the new run
            stops before its first checkpoint (a config or data error, Ctrl-C while
            loading or encoding).
        provenance: ``(config file, overrides)`` recorded in ``out_dir/overrides.json``
            (:func:`~eegsnn.pipeline.config.write_override_record`; default: ``config``
            when it is a file, and ``overrides``), e.g. ``eegsnn train``'s ``--set``.

    ``out_dir/status.json`` says ``running`` from the start and ``finished`` only after
    ``metrics.json`` and the report are written (``interrupted`` or ``failed`` when the
    run stops early; see :mod:`eegsnn.pipeline.runstate`). While it runs, the run holds an
    exclusive lock on the hidden sibling ``.NAME.lock`` of ``out_dir`` (removed at the end;
    a run killed by a signal leaves it, and the next run takes it over): another run into
    the same folder stops at once (where no lock can be had, the run logs so and goes on).

    Raises:
        ConfigError: bad config, or ``out_dir`` holds files or another run (without
        ``resume`` or ``overwrite``; a different config even with ``resume``), or a run
        still in progress, or another run holds its lock. DataError / ChecksumError: bad
        or changed data.
    """
    objects = None  # in-memory MNE objects given as data.source
    if isinstance(overrides, str):  # one "key=value", not its characters
        overrides = [overrides]
    if isinstance(config, (str, os.PathLike)):
        cfg = load_study_config(config, overrides)
    elif isinstance(config, Mapping):
        config, objects = _take_objects(config)
        cfg = resolve_study_config(apply_overrides(config, overrides))
    else:
        raise ConfigError(f"run_pipeline: config must be a study config file or a mapping, "
                          f"got {type(config).__name__}")

    spec = get_pipeline(cfg["pipeline"])
    if cfg["split"]["method"] == "none" and out_dir is None:
        raise ConfigError("split.method none trains only the final model, written to "
                          "RUN/model/: give an output folder")
    if "baseline" in spec.stages and cfg.get("baseline") is not None:
        # Fail before any work (not after training) when the baseline's extra is missing.

        require_baseline_extras(cfg["baseline"]["type"])
    check_sources(cfg, config if isinstance(config, (str, os.PathLike)) else None)
    run_dir = Path(out_dir) if out_dir is not None else None
    with _run_dir_lock(run_dir):
        return _run_in(cfg, spec, run_dir, config, overrides, objects, progress=progress,
                       resume=resume, overwrite=overwrite, provenance=provenance)


@contextlib.contextmanager
def _run_dir_lock(run_dir: Path | None) -> Iterator[None]:
    """One run at a time in ``run_dir``: an exclusive lock on the hidden sibling
    ``.NAME.lock`` (links followed, so another spelling of the folder is the same lock),
    held from the folder checks until the run has ended. Two runs started together into
    one folder interleaved their files (a finished run with the config of one and the fold
    results of the other): the second now stops at once. Where no lock can be had (a
    folder above the run that cannot be written, no ``flock``) the run goes on and says so."""
    if run_dir is None or file_in_the_way(run_dir) is not None:  # (refused just after)
        yield
        return
    with contextlib.suppress(OSError):  # the folders the run makes anyway, as spelt: a link
        run_dir.parent.mkdir(parents=True, exist_ok=True)  # that leads nowhere stays so
    real = Path(os.path.realpath(run_dir))
    if not real.parent.is_dir():  # (the run's own mkdir fails there and says why)
        yield
        return
    lock_path = real.parent / f".{real.name}.lock"
    try:
        with exclusive_lock(lock_path) as lock:
            if not lock.held:
                log.warning("%s: the folder is not locked (%s): a second run started into it "
                            "now would not be stopped", run_dir, lock.why)
            yield
    except LockHeld as exc:
        who = ("this process" if exc.pid == os.getpid()
               else f"pid {exc.pid}" if exc.pid else "a process")
        raise ConfigError(f"{run_dir}: another run is writing there ({who}, which holds "
                          f"{lock_path}); wait for it, or use another --out folder") from None


def _run_in(cfg: dict[str, Any], spec: PipelineSpec, run_dir: Path | None, config: Any,
            overrides: Sequence[str], objects: list[Any] | None, *, progress: bool | None,
            resume: bool, overwrite: bool,
            provenance: tuple[str | os.PathLike | None, Sequence[str]] | None) -> RunResult:
    """:func:`run_pipeline` once its config is resolved and its folder locked."""
    earlier: Path | None = None  # the run --overwrite replaces, until this one trains
    if run_dir is not None:
        replace = _check_run_dir(run_dir, cfg, resume=resume, overwrite=overwrite)
        if resume and not (overwrite or replace):  # a finished run continued: its files
            integrity.verify_integrity(run_dir)  # must be intact
        _warn_set_aside(run_dir)
        if overwrite and run_dir.exists():
            earlier = _set_aside(run_dir)
        if (overwrite or replace) and earlier is None and run_dir.exists():
            _empty_folder(run_dir)  # (the folder stays: it may be a mount point, or in a
            # folder this process cannot write; removing it failed there, after its files)
    handler = None
    try:
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            remove_temp_files(run_dir)  # left by a run killed while writing
            # status.json says "running" until the very end (metrics.json, report written)
            runstate.mark_started(run_dir)
            if provenance is None:
                provenance = (config if isinstance(config, (str, os.PathLike)) else None,
                              overrides)
            write_override_record(run_dir, *provenance, resume=resume)
        handler = _setup_log(run_dir)
        try:
            result = _run(cfg, spec, run_dir, progress, objects)
            if run_dir is not None:  # last: integrity.json, then status.json says finished
                runstate.mark_ended(run_dir, integrity=integrity.record_integrity(run_dir))
        except BaseException as exc:  # Ctrl-C or an error: the folder stays incomplete
            # (also while integrity.json and the final status.json are written: status.json
            # said "running" with a dead pid after a Ctrl-C there)
            if handler is not None:  # pipeline.log ends with what stopped the run
                handler.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0,
                                              "stopped: %s", (runstate.error_line(exc),),
                                              None))
            if run_dir is not None:
                runstate.mark_ended(run_dir, exc)
            raise
        finally:
            if handler is not None:
                log.removeHandler(handler)
                handler.close()
    except BaseException:
        if earlier is not None and run_dir is not None:
            _give_back(run_dir, earlier)
        raise
    if earlier is not None:  # replaced for good
        shutil.rmtree(earlier, ignore_errors=True)
    return result


_ASIDE = ".replaced-"  # .NAME.replaced-XXXXXXXX: what --overwrite set aside


def _set_aside(run_dir: Path) -> Path | None:
    """Move what ``--overwrite`` replaces to a hidden sibling (``.NAME.replaced-XXXXXXXX``)
    until the new run has trained (:func:`_give_back`); ``None`` where it cannot be moved
    (a mount point, a folder above it this process cannot write): what it holds is then
    deleted at once, as before, and the folder kept.

    Raises:
        ConfigError: ``run_dir`` is the current folder or one above it.
    """
    import uuid

    here = holds_cwd(run_dir)
    if here is not None:
        raise ConfigError(f"{run_dir}: --overwrite of {here}; give the run folder by its "
                          "name from its parent folder")
    real = Path(os.path.realpath(run_dir))  # a link: the folder it points to
    aside = real.with_name(f".{real.name}{_ASIDE}{uuid.uuid4().hex[:8]}")
    try:
        os.replace(real, aside)
    except OSError:
        return None
    try:
        real.mkdir()  # (where a link points: run_dir itself then reads as a folder)
    except OSError:
        os.replace(aside, real)
        return None
    return aside


def _empty_folder(folder: Path) -> None:
    """Delete what ``folder`` holds (links themselves, not what they point to), keeping
    the folder."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _trained_something(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` holds a checkpoint, the one thing a resume uses (a
    fold's or the final model's training state; an LSM run keeps none: it is refitted)."""
    return any(run_dir.glob("**/checkpoint"))


def _give_back(run_dir: Path, earlier: Path) -> None:
    """The new run in ``run_dir`` stopped: when it trained nothing (a config or data error,
    Ctrl-C or a full disk before its first checkpoint) what it was to replace is put back;
    otherwise the new, resumable run stays and the earlier one goes."""
    real = Path(os.path.realpath(run_dir))
    if real.exists() and _trained_something(real):
        shutil.rmtree(earlier, ignore_errors=True)
        return
    try:
        if real.exists():
            shutil.rmtree(real)
        os.replace(earlier, real)
    except OSError as exc:
        log.warning("%s: what the new run was to replace could not be put back (%s); it is "
                    "in %s", run_dir, exc, earlier)
        return
    log.warning("%s: the new run stopped before it trained anything; what it was to "
                "replace is kept", run_dir)


def _warn_set_aside(run_dir: Path) -> None:
    """Name folders that an ``--overwrite`` killed before it finished (SIGTERM, SIGKILL)
    left beside ``run_dir``: they hold what it was to replace."""
    full = Path(os.path.realpath(run_dir))
    if not full.parent.is_dir():
        return
    left = sorted(full.parent.glob(f".{glob.escape(full.name)}{_ASIDE}*"))
    if left:
        log.warning("%s: %s beside it hold%s what an --overwrite killed before it "
                    "finished was to replace; move one back or delete it", run_dir,
                    ", ".join(p.name for p in left), "s" if len(left) == 1 else "")


def _check_run_dir(run_dir: Path, cfg: dict[str, Any], *, resume: bool, overwrite: bool
                   ) -> bool:
    """Refuse an output folder that ``run_pipeline`` must not write into (see there);
    ``True`` when the run there failed before training anything (a config or data error)
    and the folder holds nothing else (:data:`~eegsnn.pipeline.runstate.EARLY_RUN_FILES`):
    nothing to keep, so it is replaced (it blocked the corrected run as "a different
    config")."""
    blocking = file_in_the_way(run_dir)
    if blocking is not None:
        raise ConfigError(f"{run_dir}: the output folder cannot be made: {in_the_way(blocking)}")
    if overwrite:
        record = runstate.read_status(run_dir) if run_dir.is_dir() else None
        if record is not None and runstate.is_alive(record):
            raise ConfigError(f"{run_dir}: a run is in progress there (pid {record['pid']}); "
                              "stop it before --overwrite")
        return False
    state = runstate.inspect_run(run_dir, cfg)
    if state.kind == "empty":
        return False
    if state.kind == "busy":
        raise ConfigError(f"{run_dir}: a run is in progress there (pid {state.status['pid']}); "
                          "wait for it, or use another --out folder")
    if state.kind == "foreign":
        raise ConfigError(f"{run_dir}: folder exists, is not empty and holds no eegsnn run; "
                          "use another --out folder (--overwrite deletes what it holds)")
    if state.status.get("status") == "failed" and all(
            p.name in runstate.EARLY_RUN_FILES or is_temp_name(p.name)
            for p in run_dir.iterdir()):
        log.info("%s: replacing the run that failed there before training anything (%s)",
                 run_dir, state.status.get("error", "no error recorded"))
        return True
    changes = [c for c in state.changes if not (resume and c.startswith("train.epochs"))]
    if changes:
        shown = ", ".join(changes[:4]) + (f" and {len(changes) - 4} more"
                                          if len(changes) > 4 else "")
        hint = ("; --resume continues it to the new train.epochs"
                if state.only_epochs_changed else " (--resume needs the same config)")
        raise ConfigError(f"{run_dir}: holds a run with a different config ({shown}); use a "
                          f"new --out folder, or --overwrite to replace it{hint}")
    if not resume:
        what = "a finished" if state.kind == "finished" else "an unfinished"
        raise ConfigError(f"{run_dir}: holds {what} run with this config; use --resume "
                          "(resume=True) to continue it or --overwrite (overwrite=True) to "
                          "replace it")
    return False




# ---------------------------------------------------------------------------- stages


def _take_objects(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Any] | None]:
    """``(config, objects)``: MNE ``Raw``/``Epochs`` given as ``data.source`` are taken out
    and replaced by their descriptions (``mne:raw:NAME:sha256:HEX``, what ``config.yaml``
    records: no data, no identity); ``objects`` is ``None`` when there are none."""
    data = config.get("data")
    if not isinstance(data, Mapping):
        return config, None
    objects = mne_objects(data.get("source"))
    if objects is None:
        return config, None
    return {**config, "data": {**data, "source": describe_objects(objects)}}, objects


def _run(cfg: dict[str, Any], spec: Any, run_dir: Path | None, progress: bool | None,
         objects: list[Any] | None = None) -> RunResult:
    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    if run_dir is not None:
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))
        atomic_write_json(run_dir / "environment.json", env.environment_record())
    log.info("pipeline %s (%s): stages %s", cfg["name"], cfg["pipeline"],
             " -> ".join(s for s in spec.stages  # (no baseline: its stage is skipped)
                         if s != "baseline" or cfg.get("baseline") is not None))
    ws = _load(cfg, run_dir, timing, objects)
    folds = _split(cfg, spec, ws, run_dir)

    fold_results: list[FoldResult] = []
    raster: dict[str, np.ndarray] | None = None
    last: tuple[PipelineModel, dict[str, Any]] | None = None
    last_train: np.ndarray | None = None
    for k, (train_idx, test_idx) in enumerate(folds):
        fold_dir = None if run_dir is None else run_dir / "folds" / f"fold-{k + 1}"
        if fold_dir is not None:
            fold_dir.mkdir(parents=True, exist_ok=True)
        log.info("fold %d/%d: %d train windows, %d test windows", k + 1, len(folds),
                 len(train_idx), len(test_idx))
        t0 = time.perf_counter()
        model = pipeline_model(cfg)
        # the encoder (statistics, CSP) is fitted on the training windows only, without the
        # validation recordings the model will hold out
        spikes, enc_config, enc_notes = _encode(
            cfg, ws, _encoder_windows(cfg, ws, model, train_idx), f"fold {k + 1}, encoder")
        timing[f"encode_s_fold{k + 1}"] = time.perf_counter() - t0
        if "train" not in spec.stages:
            continue
        fitted = model.fit(_fold(cfg, ws, spikes, enc_config, train_idx, test_idx), fold_dir,
                           progress=progress, where=f"fold {k + 1}")
        assert fitted.test is not None
        fr = _evaluate_fold(cfg, spec, ws, k, train_idx, test_idx, fitted.test.proba,
                            fitted.test.rates, fitted.record)
        if enc_notes:  # (aggregate_metrics names the fold)
            fr.metrics["warnings"] = enc_notes + fr.metrics.get("warnings", [])
        # synaptic operations and energy per prediction on held-out windows (SNN or LSM),
        # the encoder front-end's operations listed apart
        ops = window_synops(model, spikes, test_idx, encoder=enc_config,
                            n_samples=ws.n_samples)
        if ops is not None:
            fr.metrics["synops"] = ops
        if raster is None:
            raster = _raster(model, spikes, ws, int(test_idx[0]))
        if fold_dir is not None:
            _save_model(fold_dir, model, enc_config)
            _write_fold(cfg, ws, fold_dir, fr, raster if k == 0 else None)
        fold_results.append(fr)
        last, last_train = (model, enc_config), train_idx

    about = None
    if run_dir is not None and "train" in spec.stages and (
            last is not None or cfg["split"]["method"] == "none"):
        about = _deployable_model(cfg, spec, ws, run_dir, last, last_train, progress)

    metrics = aggregate_metrics(cfg, ws, fold_results)
    pooled_ops = combine([fr.metrics.get("synops") for fr in fold_results])
    if pooled_ops is not None and "snn" in metrics:
        metrics["snn"]["synops"] = pooled_ops
    if about is not None:
        metrics["final_model"] = about
        if about.get("warnings"):  # the final model's encoder (named there)
            metrics["warnings"] = metrics.get("warnings", []) + about["warnings"]
    if cfg["split"]["method"] == "none":
        metrics["held_out"] = None  # no held-out score: never a number made up here
    timing["total_s"] = time.perf_counter() - t_start
    metrics["timing"] = timing
    if run_dir is not None:
        atomic_write_json(run_dir / "metrics.json", metrics)
        if raster is not None:
            atomic_write_npz(run_dir / "raster.npz", raster)
        if "report" in spec.stages and cfg["report"]["format"] != "none":
            for path in write_report(run_dir, fmt=cfg["report"]["format"]):
                log.info("report: %s", path)
    if fold_results:
        log.info("done in %.1f s: accuracy %.4f", timing["total_s"],
                 metrics["snn"]["pooled"]["accuracy"])
    else:
        log.info("done in %.1f s: no held-out windows scored", timing["total_s"])
    return RunResult(run_dir, cfg, metrics, fold_results, ws)


def _load(cfg: Mapping[str, Any], run_dir: Path | None, timing: dict[str, float],
          objects: list[Any] | None = None) -> Any:
    """load: read -> preprocess -> window/label; writes ``data.json``."""
    t0 = time.perf_counter()
    ws = load_windows(objects or cfg["data"]["source"], cfg["dataset"],
                      root=cfg["data"]["root"],
                      cache_dir=cfg.get("cache_dir"))
    timing["load_s"] = time.perf_counter() - t0
    if len(np.unique(ws.y)) < 2:
        why = unused_labels(ws, cfg["dataset"])
        recs = list(dict.fromkeys(ws.recording.tolist()))  # names, as the windows know them
        files = ", ".join(recs[:3]) + (f" and {len(recs) - 3} more" if len(recs) > 3 else "")
        only = (f"the windows hold only one class ({ws.class_names[int(ws.y[0])]}); a "
                "classifier needs two or more")
        raise DataError(f"{files}: {why}, so {only}; fix --event / dataset.labels.mapping"
                        if why else f"{files}: {only}")
    unused = unused_labels(ws, cfg["dataset"])
    positive = cfg.get("evaluate", {}).get("positive_class")
    if positive is not None and not np.any(
            ws.y == list(ws.class_names).index(str(positive))):
        # sensitivity, specificity and ROC are all of this class: nothing to report
        found = ", ".join(ws.class_names[int(i)] for i in np.unique(ws.y))
        raise DataError(f"the windows hold no {positive} window (evaluate.positive_class)"
                        + (f": {unused}" if unused else "") + f"; classes found: {found}")
    if unused:  # two or more classes remain: say so, do not stop
        log.warning("load: %s", unused)
    record = data_record(cfg, ws)
    if run_dir is not None:
        atomic_write_json(run_dir / "data.json", record)
    log.info("load: %d windows from %d recordings, %d channels at %g Hz, classes %s",
             len(ws), record["n_recordings"], ws.n_channels, ws.sfreq_hz,
             record["class_counts"])
    return ws


def _split(cfg: Mapping[str, Any], spec: Any, ws: Any, run_dir: Path | None
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """split: the folds; writes ``splits.json``."""
    groups = ws.groups(cfg["split"]["by"])
    folds = make_folds(groups, cfg["split"], ws.y, recording=ws.recording,  # copies: 1 side
                       files=ws.provenance.get("files")) if "split" in spec.stages else []
    if run_dir is not None:
        atomic_write_json(run_dir / "splits.json", {
            "method": cfg["split"]["method"], "by": cfg["split"]["by"],
            "folds": [{"fold": k + 1,
                       "test_groups": sorted(set(groups[te].tolist())),
                       "train_class_counts": class_counts(ws.y[tr], ws.class_names),
                       "test_class_counts": class_counts(ws.y[te], ws.class_names)}
                      for k, (tr, te) in enumerate(folds)]})
    log.info("split: %s by %s, %d fold(s)", cfg["split"]["method"], cfg["split"]["by"],
             len(folds))
    return folds


def _groups(cfg: Mapping[str, Any], ws: Any) -> np.ndarray:
    """Every window's split group, identical recordings merged (as the folds have them):
    the inner validation split never validates on a copy of a training recording."""
    groups, _, _ = split_groups(ws.groups(cfg["split"]["by"]), cfg["split"],
                                recording=ws.recording, files=ws.provenance.get("files"))
    return groups


def _encoder_windows(cfg: Mapping[str, Any], ws: Any, model: PipelineModel,
                     train_idx: np.ndarray) -> np.ndarray:
    """The training windows the encoder is fitted on: ``train_idx`` less the validation
    windows the model will split off (the same deterministic split it makes)."""
    split = cfg["split"]
    if not model.splits_validation or float(split["val_fraction"]) <= 0:
        return train_idx
    fit_idx, _ = split_validation(train_idx, float(split["val_fraction"]),
                                  int(split["seed"]) + 1, groups=_groups(cfg, ws),
                                  y=ws.y, keep_in_training=split.get("train_only") or ())
    return fit_idx


def _encode(cfg: Mapping[str, Any], ws: Any, fit_idx: np.ndarray | None, where: str
            ) -> tuple[Any, dict[str, Any], list[str]]:
    """encode: fit the encoder on ``fit_idx`` windows (all: ``None``), encode every window.

    Returns the spikes, the encoder's config and the fit's warnings (e.g. a ``direct`` code
    whose time bins average the signal away), logged and kept for the run's metrics."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        encoder = fit_encoder(cfg, ws, fit_idx)
    mine = [w for w in caught if issubclass(w.category, UserWarning)]
    for w in caught:  # others (a library's deprecations...) pass through unchanged
        if w not in mine:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    issue_warnings(where, mine)  # logged with where it happened
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    log.info("encode: %s -> spikes [T=%d, W=%d, L=%d]", cfg["encoder"]["method"],
             spikes.shape[0], spikes.shape[1], spikes.shape[2])
    return spikes, encoder.to_config(), [f"encoder: {w.message}" for w in mine]


def _fold(cfg: Mapping[str, Any], ws: Any, spikes: Any, enc_config: dict[str, Any],
          train_idx: np.ndarray, test_idx: np.ndarray | None = None) -> Fold:
    return Fold(spikes, ws.y, ws.class_names, _groups(cfg, ws), train_idx,
                test_idx, int(spikes.shape[0]) * float(ws.sfreq_hz) / float(ws.n_samples),
                enc_config)


def _evaluate_fold(cfg: Mapping[str, Any], spec: Any, ws: Any, k: int, train_idx: np.ndarray,
                   test_idx: np.ndarray, proba: np.ndarray, rates: dict[str, float],
                   record: dict[str, Any]) -> FoldResult:
    """evaluate (+ baseline): scores of the fold's held-out windows."""
    rep = score_windows(cfg, ws, test_idx, proba, operating_point=record.get("operating_point"))
    rep["firing_rates"] = rates
    rep.update({k: v for k, v in record.items() if k not in ("operating_point", "warnings")})
    if record.get("warnings"):  # the fit's warnings first, then the scores' (single class)
        rep["warnings"] = list(record["warnings"]) + rep.get("warnings", [])
    rep["test_class_counts"] = class_counts(ws.y[test_idx], ws.class_names)
    fr = FoldResult(k + 1, train_idx, test_idx, proba, rep, firing_rates=rates,
                    train_time_s=record["train_time_s"])
    log.info("evaluate: fold %d accuracy %.4f balanced %.4f", k + 1, rep["accuracy"],
             rep["balanced_accuracy"])
    if "baseline" in spec.stages and cfg["baseline"] is not None:
        t0 = time.perf_counter()
        bp = run_baseline(cfg["baseline"], ws.X[train_idx], ws.y[train_idx],
                          ws.X[test_idx], ws.sfreq_hz, len(ws.class_names),
                          seed=int(cfg["train"]["seed"]))
        fr.baseline_proba = bp
        fr.baseline_metrics = score_windows(cfg, ws, test_idx, bp,
                                            who=f"baseline {cfg['baseline']['type']}")
        fr.baseline_metrics["fit_time_s"] = time.perf_counter() - t0
        log.info("baseline %s: fold %d accuracy %.4f", cfg["baseline"]["type"], k + 1,
                 fr.baseline_metrics["accuracy"])
    return fr


def _raster(model: PipelineModel, spikes: Any, ws: Any, index: int) -> dict[str, np.ndarray]:
    """Input spikes and every neuron layer's spikes of one window (for the report)."""
    x = spikes[:, index:index + 1]
    arrays = {"input": np.asarray(x[:, 0]), **model.raster(x)}
    arrays["class"] = np.array(ws.class_names[int(ws.y[index])])
    arrays["recording"] = np.array(str(ws.recording[index]))
    return arrays


def _write_fold(cfg: Mapping[str, Any], ws: Any, fold_dir: Path, fr: FoldResult,
                raster: dict[str, np.ndarray] | None) -> None:
    test_idx = fr.test_idx
    atomic_write_json(fold_dir / "metrics.json", fr.metrics)
    op = fr.metrics.get("operating_point") or {}
    write_predictions_csv(fold_dir / "predictions.csv", ws.recording[test_idx],
                          ws.onset_s[test_idx], ws.y[test_idx], fr.proba, ws.class_names,
                          positive_class=cfg["evaluate"]["positive_class"],
                          threshold=op.get("threshold"))
    if fr.baseline_metrics is not None and fr.baseline_proba is not None:
        atomic_write_json(fold_dir / "baseline.json", {"baseline": cfg["baseline"],
                                                       **fr.baseline_metrics})
        write_predictions_csv(fold_dir / "baseline_predictions.csv", ws.recording[test_idx],
                              ws.onset_s[test_idx], ws.y[test_idx], fr.baseline_proba,
                              ws.class_names)
    if raster is not None:
        atomic_write_npz(fold_dir / "raster.npz", raster)


def _save_model(dest: Path, model: PipelineModel, enc_config: dict[str, Any]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_json(dest / "encoder.json", enc_config)
    model.save(dest)


def _deployable_model(cfg: Mapping[str, Any], spec: Any, ws: Any, run_dir: Path,
                      last: tuple[PipelineModel, dict[str, Any]] | None,
                      last_train: np.ndarray | None, progress: bool | None
                      ) -> dict[str, Any]:
    """``model/``: k-fold with refit and ``split.method: none`` train on every window;
    else the last fold's model. The baseline is fitted on the same windows (validation
    ones included: it does not stop early) and saved beside it. Returns ``about.json``:
    windows and recordings fitted on, and those held out for validation."""
    method = cfg["split"]["method"]
    if method == "none" or (method == "kfold" and cfg["split"]["refit"]):
        idx = np.arange(len(ws))
        model = pipeline_model(cfg)
        fit_idx = _encoder_windows(cfg, ws, model, idx)
        n_val = len(ws) - fit_idx.size
        log.info("%s: training the final model on %d windows%s",
                 "split none" if method == "none" else "refit", fit_idx.size,
                 f" ({n_val} more from {cfg['split']['val_fraction']:g} of the recordings "
                 "held out for early stopping)" if n_val else " (all)")
        final = "final model" if method == "none" else "refit"
        spikes, enc_config, notes = _encode(cfg, ws, fit_idx, f"{final}, encoder")
        refit_notes = [f"{final}: {n}" for n in notes]
        fitted = model.fit(_fold(cfg, ws, spikes, enc_config, np.arange(len(ws))),
                           run_dir / "refit", progress=progress, where="refit")
        _save_model(run_dir / "model", model, enc_config)
        if fitted.summary is not None:
            atomic_write_json(run_dir / "model" / "fit.json", fitted.summary)
        whole = ("all windows" if fit_idx.size == len(ws) else
                 "all windows less its validation recordings")
        note = (f"trained on {whole}; no held-out test in this run (split.method none)"
                if method == "none" else f"trained on {whole} after cross-validation")
    else:
        assert last is not None and last_train is not None
        _save_model(run_dir / "model", *last)
        idx = last_train
        fit_idx = _encoder_windows(cfg, ws, last[0], idx)
        refit_notes = []  # (the last fold's encoder: its warnings are in its fold's)
        note = ("the model of the last fold (split.refit false)" if method == "kfold"
                else "the model of the training split; its held-out windows are in "
                     "metrics.json")
    if "baseline" in spec.stages and cfg["baseline"] is not None:
        fit_baseline(cfg["baseline"], ws.X[idx], ws.y[idx], ws.sfreq_hz,
                     len(ws.class_names), seed=int(cfg["train"]["seed"])
                     ).save(run_dir / "model")
    val_idx = np.setdiff1d(idx, fit_idx)
    about = {"note": note, "study": cfg["name"], "split": method,
             "trained_on": {"windows": int(fit_idx.size),  # fitted on (validation excluded)
                            "recordings": int(np.unique(ws.recording[fit_idx]).size),
                            "validation_windows": int(val_idx.size),
                            "validation_recordings":
                                int(np.unique(ws.recording[val_idx]).size),
                            "all_windows": bool(fit_idx.size == len(ws)),
                            "class_counts": class_counts(ws.y[fit_idx], ws.class_names),
                            "val_fraction": float(cfg["split"]["val_fraction"]),
                            "baseline_windows": int(idx.size)},
             "baseline": None if cfg["baseline"] is None or "baseline" not in spec.stages
             else cfg["baseline"]["type"]}
    if refit_notes:
        about["warnings"] = refit_notes
    atomic_write_json(run_dir / "model" / "about.json", about)
    write_training_files(run_dir / "model" / TRAINING_FILES, ws, idx)
    return about
