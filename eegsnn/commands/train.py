"""``eegsnn train``: run a pipeline from a study config, or directly on recordings with flags.

Examples::

    eegsnn train --config configs/bonn_example.yaml --out runs/bonn_example
    eegsnn train --config configs/bonn_3class.yaml --set train.epochs=10 --set split.seed=1
    eegsnn train S001R04.edf S001R08.edf --event T1=left --event T2=right --window 4 \\
        --channels C3,Cz,C4 --bandpass 8,30 --folds 2 --baseline csp_lda --out runs/mi
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from eegsnn.commands.summary import print_summary as _print_summary  # shared with evaluate
from eegsnn.errors import ConfigError, DataError, Interrupted


def _stage_logging(quiet: bool) -> logging.Handler | None:
    if quiet:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[eegsnn] %(message)s"))
    logger = logging.getLogger("eegsnn.pipeline")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def _drop_logging(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("eegsnn.pipeline").removeHandler(handler)


def _floats(text: str, what: str, n: int) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{what}: expected {n} comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise ConfigError(f"{what}: expected {n} comma-separated numbers, got {text!r}")
    return values


def direct_config(data: list[Path], *, events: list[str], labels: str, window_s: float | None,
                  tmin_s: float | None, step_s: float | None, channels: str | None,
                  bandpass: str | None, sfreq_hz: float | None, pipeline: str
                  ) -> dict[str, Any]:
    """A study config from the ``train FILES...`` flags (the essentials of a study)."""
    mapping: dict[str, str] = {}
    for e in events:
        if "=" not in e:
            raise ConfigError(f"--event {e!r}: expected RAW=CLASS (e.g. T1=left)")
        raw, name = e.split("=", 1)
        if not raw or not name:
            raise ConfigError(f"--event {e!r}: expected RAW=CLASS (e.g. T1=left)")
        mapping[raw.strip()] = name.strip()
    if not mapping:
        raise ConfigError("direct mode needs the label mapping: --event T1=left --event "
                          "T2=right (annotation/folder name = class); or use --config")
    mode = "events" if labels in ("annotations", "events_file") else "sliding"
    windows: dict[str, Any] = {"mode": mode, "window_s": 4.0 if window_s is None else window_s}
    if mode == "events":
        windows["tmin_s"] = 0.0 if tmin_s is None else tmin_s
        if step_s is not None:
            raise ConfigError("--step applies to sliding windows (--labels path/hypnogram/...)")
    elif step_s is not None:
        windows["step_s"] = step_s
    steps: list[dict[str, Any]] = []
    if channels:
        steps.append({"step": "pick", "channels": [c.strip() for c in channels.split(",")]})
    if bandpass:
        lo, hi = _floats(bandpass, "--bandpass", 2)
        steps.append({"step": "bandpass", "l_freq": lo, "h_freq": hi})
    dataset: dict[str, Any] = {"windows": windows,
                               "labels": {"source": labels, "mapping": mapping}}
    if steps:  # else the pipeline's preprocessing (motor_imagery: 21 channels, 8-30 Hz)
        dataset["preprocess"] = steps
    if sfreq_hz is not None:
        dataset["sfreq_hz"] = sfreq_hz
    source: Any = [str(p) for p in data]
    if len(data) == 1:
        source = str(data[0])
    return {"name": "direct", "pipeline": pipeline, "data": {"source": source},
            "dataset": dataset}


@contextlib.contextmanager
def window_cache(enabled: bool) -> Iterator[None]:
    """``enabled=False``: the window cache is off inside the block (``EEGSNN_CACHE=off``,
    read by :func:`eegsnn.preprocess.cache.cache_enabled`; restored afterwards)."""
    if enabled:
        yield
        return
    before = os.environ.get("EEGSNN_CACHE")
    os.environ["EEGSNN_CACHE"] = "off"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("EEGSNN_CACHE", None)
        else:
            os.environ["EEGSNN_CACHE"] = before


def join_group(distributed: bool, backend: str = "any") -> Any:
    """The process group of a CLI command (a :class:`eegsnn.distributed.DistContext`).

    ``--distributed`` joins strictly: no group of two or more processes is an error (a
    misconfigured launch must not train independent copies). Without it a process started
    by a launcher still joins (the engine's ``distributed="auto"``), a plain one is alone.

    Raises:
        ConfigError: ``--distributed`` without a group, or an unknown ``--backend``.
    """
    from eegsnn.distributed import BACKENDS, init_distributed

    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not distributed:
        return init_distributed(backend)
    hint = ("start the command with mlx.launch, e.g. mlx.launch --backend ring -n 2 "
            "--python .venv/bin/python -- .venv/bin/eegsnn ... --distributed")
    try:
        ctx = init_distributed(backend, strict=True)
    except ConfigError as exc:
        raise ConfigError(f"--distributed: {exc}; {hint}") from exc
    if ctx.size < 2:
        raise ConfigError(f"--distributed: no process group formed (one process); {hint}")
    return ctx


def train(
    data: Annotated[list[Path] | None, typer.Argument(
        help="Recordings (EDF/BDF/FIF/..., folders or a data manifest .yaml). With --config "
             "they replace the config's data.source.", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Study config YAML (configs/*.yaml).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config value: key.sub=value (repeatable), e.g. "
                      "train.epochs=5; key.sub+=value adds to a list, e.g. "
                      "data.source+=/data/S001R12.edf (relative paths are read from the "
                      "config file's folder; a name or path already there is not added "
                      "twice).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Run folder (default runs/<study name>).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the run in --out, also with a changed train.epochs "
                         "(an unfinished run with the same config resumes without it).")
    ] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace what --out holds with a new run (kept aside until "
                            "the new run trains; put back if it stops before its first "
                            "checkpoint).")] = False,
    event: Annotated[list[str] | None, typer.Option(
        "--event", help="Direct mode: label mapping RAW=CLASS (repeatable), e.g. T1=left.")
    ] = None,
    labels: Annotated[str, typer.Option(
        "--labels", help="Direct mode: where labels come from: annotations | events_file | "
                         "path | hypnogram.")] = "annotations",
    window: Annotated[float | None, typer.Option(
        "--window", help="Window length in seconds (direct mode default 4).")] = None,
    tmin: Annotated[float | None, typer.Option(
        "--tmin", help="Event windows: start relative to the event onset, seconds.")] = None,
    step: Annotated[float | None, typer.Option(
        "--step", help="Sliding windows: hop in seconds.")] = None,
    channels: Annotated[str | None, typer.Option(
        "--channels", help="Channels to keep, comma-separated (e.g. C3,Cz,C4). With "
                           "--channels or --bandpass the preprocessing is theirs; without "
                           "either, the pipeline's.")] = None,
    bandpass: Annotated[str | None, typer.Option(
        "--bandpass", help="Band-pass filter LOW,HIGH in Hz (e.g. 8,30).")] = None,
    sfreq: Annotated[float | None, typer.Option(
        "--sfreq", help="Sampling rate of text recordings, Hz.")] = None,
    pipeline: Annotated[str, typer.Option(
        "--pipeline", help="Direct mode: the declared pipeline whose defaults apply.")
    ] = "generic",
    encoder: Annotated[str | None, typer.Option(
        "--encoder", help="Spike code: delta | rate | threshold.")] = None,
    spikes_per_s: Annotated[float | None, typer.Option(
        "--spikes-per-s", help="Encoder time steps per second of signal.")] = None,
    hidden: Annotated[str | None, typer.Option(
        "--hidden", help="Hidden layer sizes, comma-separated (e.g. 128,64).")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training epochs.")] = None,
    folds: Annotated[str | None, typer.Option(
        "--folds", help="K-fold cross-validation over groups (0: one held-out split; all: "
                        "one fold per group, e.g. leave one recording out).")
    ] = None,
    split_by: Annotated[str | None, typer.Option(
        "--split-by", help="Group kept on one side of a split: recording | session | "
                           "subject.")] = None,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Non-spiking baseline: csp_lda | ts_lr | spectral | none.")] = None,
    positive: Annotated[str | None, typer.Option(
        "--positive", help="Class scored one-vs-rest (sensitivity, specificity, ROC).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of everything.")] = None,
    report: Annotated[str | None, typer.Option(
        "--report", help="Report format: html | md | both | none.")] = None,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="Progress bars (default: on a terminal).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No stage log lines.")] = False,
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="Data-parallel training over the processes mlx.launch "
                              "started (error if no group forms); rank 0 writes --out.")
    ] = False,
    backend: Annotated[str, typer.Option(
        "--backend", help="Distributed backend: any | ring | mpi | nccl.")] = "any",
    cache: Annotated[bool, typer.Option(
        "--cache/--no-cache", help="Window cache: reuse and keep the preprocessed windows "
                                   "in ~/.cache/eegsnn/windows ($EEGSNN_CACHE_DIR, or the "
                                   "config's cache_dir); --no-cache or EEGSNN_CACHE=off "
                                   "keeps no windows on disk.")] = True,
) -> None:
    """Train a spiking classifier from a study config, or from recordings and flags.

    Stages: read -> preprocess -> window/label -> encode -> train -> evaluate -> report.

    From a study config (a new study is a new config):

      eegsnn train --config configs/bonn_example.yaml --out runs/bonn_example

      eegsnn train -c configs/bonn_3class.yaml --set train.epochs=10 \\
          --set split.seed=1

    Directly on recordings with the essentials as flags:

      eegsnn train S001R04.edf S001R08.edf --event T1=left --event T2=right \\
          --window 4 --channels C3,Cz,C4 --bandpass 8,30 --folds 2 \\
          --baseline csp_lda --out runs/mi

    The run folder holds the resolved config (and in overrides.json the config file's name
    and the --set / flag overrides applied to it), data checksums, environment, checkpoint,
    metrics.json, predictions, plots, the log and report.html; status.json says
    "finished" only once everything is written (metrics.json comes last).

    Running the same command again is safe: an unfinished run in --out (stopped by Ctrl-C
    or an error) resumes from its last checkpoints; a finished one is not trained again,
    its results are shown. A different config for a non-empty --out is refused (its
    free text, description and notes, aside): use a new --out, --overwrite, or --resume to
    continue a run with a changed train.epochs.

    Exit codes: 0 done, 1 unexpected error, 2 bad config or arguments (or another run is
    writing to --out: one run at a time holds its lock, the hidden .NAME.lock beside it),
    3 bad data, 4 checksum mismatch, 130 interrupted (Ctrl-C: "Aborted", the folder stays
    unfinished).

    Window cache: the preprocessed windows are cached in ~/.cache/eegsnn/windows
    ($XDG_CACHE_HOME/eegsnn/windows; $EEGSNN_CACHE_DIR or the config's cache_dir moves it),
    keyed by the sha256 of every input file (recordings and the files that label them) and
    the dataset config, so a second run skips reading and preprocessing. The windows hold
    the recordings' EEG (no header identity): --no-cache, or EEGSNN_CACHE=off for every
    command, keeps none on disk.

    Data-parallel (every rank runs the pipeline; training shards each batch; rank 0 writes
    --out, the other ranks a temporary folder removed at the end):

      mlx.launch --backend ring -n 2 --python .venv/bin/python -- \\
          .venv/bin/eegsnn train -c configs/bonn_example.yaml --out runs/bonn_dp \\
          --distributed
    """
    from eegsnn.pipeline import run_pipeline
    from eegsnn.pipeline.config import apply_overrides, load_study_config, resolve_study_config
    from eegsnn.pipeline.run import check_sources

    overrides = list(set_ or [])
    flag_overrides = {
        "encoder.method": encoder, "encoder.spikes_per_s": spikes_per_s,
        "train.epochs": epochs, "train.seed": seed, "split.seed": seed,
        "split.by": split_by, "evaluate.positive_class": positive,
        "report.format": report,
    }
    extra = [f"{k}={v}" for k, v in flag_overrides.items() if v is not None]
    if hidden is not None:
        try:
            sizes = [int(h) for h in hidden.split(",") if h.strip()]
        except ValueError:
            sizes = []
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"--hidden {hidden!r}: expected layer sizes, positive integers "
                              "separated by commas (e.g. 128,64)")
        extra.append(f"model.hidden={sizes}")
    if folds is not None:
        text = folds.strip().lower()
        if text == "all":
            extra += ["split.method=kfold", "split.n_splits=all"]
        elif text.isdecimal() and int(text) == 0:
            extra.append("split.method=holdout")
        elif text.isdecimal() and int(text) >= 2:
            extra += ["split.method=kfold", f"split.n_splits={int(text)}"]
        else:
            raise ConfigError(f"--folds must be 0 (held-out split), an integer >= 2 or all "
                              f"(one fold per group), got {folds!r}")
    if baseline is not None:
        extra.append("baseline=null" if baseline == "none" else f"baseline.type={baseline}")
    if config is not None:
        direct_flags = {"--event": event, "--window": window, "--tmin": tmin, "--step": step,
                        "--channels": channels, "--bandpass": bandpass, "--sfreq": sfreq}
        used = [k for k, v in direct_flags.items() if v]
        if used:
            raise ConfigError(f"{', '.join(used)}: direct-mode flags; with --config change "
                              "the dataset section with --set dataset.windows.window_s=2 ...")
        if data:  # the recordings are in data.json, not among the recorded overrides
            src = [os.path.abspath(p) for p in data]  # links kept (recording_relpath)
            # as JSON (a YAML flow value): a path with ' #', ': ' or quotes stays whole
            source_override = [f"data.source={json.dumps(src if len(src) > 1 else src[0])}"]
        else:
            source_override = []
        cfg = load_study_config(config, overrides + source_override + extra)
    else:
        if not data:
            raise ConfigError("give --config configs/....yaml, or recordings and --event "
                              "mappings (see eegsnn train --help)")
        base = direct_config(data, events=list(event or []), labels=labels, window_s=window,
                             tmin_s=tmin, step_s=step, channels=channels, bandpass=bandpass,
                             sfreq_hz=sfreq, pipeline=pipeline)
        cfg = resolve_study_config(apply_overrides(base, overrides + extra))
    ctx = join_group(distributed, backend)
    run_dir = out if out is not None else Path("runs") / str(cfg["name"])
    if not ctx.is_main:
        with window_cache(cache):
            _run_other_rank(cfg, ctx.rank)
        return
    if not (resume or overwrite):
        resume, finished = _existing_run(cfg, run_dir, alone=ctx.size < 2)
        if finished is not None:
            _print_summary(finished, run_dir)
            return
    from eegsnn.env import print_slow_path_note

    print_slow_path_note()  # one stderr line if the reference BLAS or no C kernels
    # (run_pipeline checks again, not knowing the config file; recordings given on the
    # command line are the shell's, not the config's: no hint about its folder then)
    check_sources(cfg, config if not data else None)
    handler = _stage_logging(quiet)
    try:
        with window_cache(cache):
            result = run_pipeline(cfg, run_dir, progress=progress, resume=resume,
                                  overwrite=overwrite,
                                  provenance=(config, overrides + extra))
    except Interrupted as exc:
        from eegsnn.pipeline.runstate import FINISHED, read_status

        status = (read_status(run_dir) or {}).get("status")
        if overwrite and status == FINISHED:
            exc.hint = (f"{run_dir} holds the finished run --overwrite was to replace (the "
                        "new one had trained nothing)")
        else:
            how = ("the same command without --overwrite resumes it" if overwrite else
                   "the same command resumes it")
            exc.hint = f"{run_dir} holds an unfinished run (see its status.json); {how}"
        raise
    finally:
        _drop_logging(handler)
    _print_summary(result.metrics, run_dir)


def _existing_run(cfg: dict[str, Any], run_dir: Path, alone: bool
                  ) -> tuple[bool, dict[str, Any] | None]:
    """What ``train`` does with a run already in ``--out`` (no --resume/--overwrite given):
    ``(resume, metrics)``. The same config: an unfinished run is resumed, a finished one
    is not trained again (its metrics are returned to be shown once its files match its
    integrity.json, else a DataError names the changed file; in a process group it is
    left to ``run_pipeline``, so that every rank does the same). Anything else is left to
    ``run_pipeline``, which refuses the folder and says why."""
    import json

    from eegsnn.pipeline.integrity import verify_integrity
    from eegsnn.pipeline.runstate import inspect_run

    state = inspect_run(run_dir, cfg)
    if state.changes or state.kind not in ("finished", "unfinished"):
        return False, None
    if state.kind == "finished":
        if not alone:
            return False, None
        # the results shown are the ones the run wrote: its files (metrics.json, weights)
        # must match integrity.json, else one line naming the file (exit 3)
        verify_integrity(run_dir)
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metrics = None
        if not isinstance(metrics, dict):  # not in integrity.json: never written whole
            raise DataError(f"{run_dir / 'metrics.json'}: missing or not a metrics record; "
                            "train the run again (--overwrite)")
        typer.echo(f"{run_dir}: this run already finished with the same config; its "
                   "results (--overwrite trains it again):", err=True)
        return False, metrics
    status = state.status.get("status", "unfinished")
    typer.echo(f"{run_dir}: resuming the unfinished run there ({status}, same config; "
               "--overwrite starts it over)", err=True)
    return True, None


def _run_other_rank(cfg: dict[str, Any], rank: int) -> None:
    """A rank other than 0: the same pipeline (its training joins rank 0's steps), written
    to a temporary folder that is removed afterwards, never into the user's ``--out``.

    The engine writes nothing on these ranks and reads a resumed checkpoint from rank 0.
    """
    import shutil
    import tempfile

    from eegsnn.pipeline import run_pipeline

    tmp = Path(tempfile.mkdtemp(prefix=f"eegsnn-rank{rank}-"))
    try:
        run_pipeline(cfg, tmp / "run", progress=False, resume=False, overwrite=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
