"""``eegsnn evaluate RUN_DIR [DATA...]``: score a trained run on other recordings."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from eegsnn.commands.summary import print_decision_and_comparison, print_scores, trained_on_line
from eegsnn.errors import ConfigError


def _slug(paths: list[Path] | None) -> str:
    if not paths:
        return "own-data"
    name = paths[0].name if len(paths) == 1 else f"{paths[0].stem}+{len(paths) - 1}"
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name) or "data"


def default_out(run_dir: Path, data: list[Path] | None, source: str | list[str] | None
                ) -> Path:
    """``RUN/evaluations/<data name>``; when that folder holds an evaluation of other data
    (two files or folders of one name in different places: ``source``, the absolute paths
    that evaluate_run records, differs), the name gets a short hash of them, so neither
    evaluation overwrites the other. A folder whose metrics.json cannot be read is reused."""
    import hashlib
    import json

    folder = run_dir / "evaluations" / _slug(data)
    try:
        earlier = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        earlier_source = (earlier.get("data") or {}).get("source")
    except (OSError, ValueError, AttributeError):
        return folder
    if source is None or earlier_source in (None, source):
        return folder
    digest = hashlib.sha256(json.dumps(source).encode()).hexdigest()[:8]
    return folder.with_name(f"{folder.name}-{digest}")


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder (eegsnn train --out).")],
    data: Annotated[list[Path] | None, typer.Argument(
        help="Held-out recordings, folders or a data manifest .yaml (none: the run's own "
             "data, which needs --allow-overlap).",
        show_default=False)] = None,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Dataset root for a manifest or the files.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (default RUN_DIR/evaluations/<data name>).")] = None,
    predict: Annotated[bool, typer.Option(
        "--predict", help="Also write predictions.csv: one row per window with class "
                          "probabilities.")] = False,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Decision threshold on the positive class's probability "
                            "(default: the operating point the run recorded, if any).",
        show_default=False)] = None,
    cache: Annotated[bool, typer.Option(
        "--cache", help="Read and write the window cache (~/.cache/eegsnn/windows or "
                        "$EEGSNN_CACHE_DIR). Off by default: no windows of the evaluated "
                        "recordings are left on disk.")] = False,
    sfreq: Annotated[float | None, typer.Option(
        "--sfreq", help="Sampling rate (Hz) of text segments and .mat arrays, which carry "
                        "none (a .mat file's JSON sidecar wins); refused for EDF and other "
                        "files whose header gives the rate. The run resamples every "
                        "recording to its own rate.", show_default=False)] = None,
    labels_table: Annotated[Path | None, typer.Option(
        "--labels-table", help="CSV/TSV table file,label giving each recording's label "
                               "(a raw label of the run's mapping or a class name).",
        show_default=False)] = None,
    mat_var: Annotated[str | None, typer.Option(
        "--mat-var", help="Name of the signal array in .mat files (default: the only "
                          "numeric array, or the sidecar's 'variable').",
        show_default=False)] = None,
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help="Map a channel of the data to one of the run: DATA=RUN "
                          "(repeatable), e.g. --channel T7-T8=EEG.", show_default=False)
    ] = None,
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="Score recordings the run was trained on (same file or "
                                "signal content), or the run's own data when no DATA is "
                                "given, instead of refusing them; the output and the run's "
                                "report then name them.")
    ] = False,
) -> None:
    """Score a trained run on recordings, with its exact preprocessing, encoder and model.

    Refuses data whose channels, sampling rate or window length do not fit the run,
    recordings the run was trained on (same file bytes or same decoded samples: a renamed
    copy, an EDF with an edited header; --allow-overlap scores them and says so), no DATA
    at all (the run's own data: --allow-overlap), and a run whose model files changed after
    training (integrity.json) or that does not hold a finished run.

    Examples (held-out recordings the run never saw):

      eegsnn evaluate runs/mi S002R04.edf S002R08.edf --out runs/mi/eval-s002

      eegsnn evaluate runs/bonn_final site2/ --labels-table site2/labels.csv \\
          --sfreq 256

      eegsnn evaluate runs/bonn_3class new_segments/ --predict

      eegsnn evaluate runs/bonn_3class --allow-overlap   # own data: not held-out

    Scores the run's SNN/LSM and its saved baseline on the same windows and prints both
    side by side (windows, recordings, per class, whole recordings) and what the run's
    model/ was trained on. Recordings at another rate are resampled to the run's rate,
    channels picked by the run's channel list (--channel renames).

    Writes metrics.json (and predictions.csv with --predict, confusion.png). Reruns give
    identical metrics. Exit codes: 0 done, 2 bad arguments or recordings the run was trained
    on, 3 data do not fit the run or cannot be read, the run did not finish ("incomplete
    run": the message says how to resume it) or its files changed, 4 checksum mismatch.
    """
    from eegsnn.pipeline import evaluate_run
    from eegsnn.pipeline.apply import channels_line, input_line
    from eegsnn.pipeline.runstate import require_finished
    from eegsnn.report.report import NO_OVERLAP_FOUND

    require_finished(run_dir)  # an interrupted run: say so and how to resume it
    source = None
    if data:  # absolute: metrics.json names the data wherever the command ran
        paths = [os.path.abspath(p) for p in data]
        source = paths if len(paths) > 1 else paths[0]
    out_dir = out if out is not None else default_out(run_dir, data, source)
    channel_map = {}
    for item in channel or []:
        data_name, sep, run_name = item.partition("=")
        if not sep or not data_name.strip() or not run_name.strip():
            raise ConfigError(f"--channel {item!r}: expected DATA=RUN (e.g. T7-T8=EEG)")
        channel_map[data_name.strip()] = run_name.strip()
    res = evaluate_run(run_dir, source, root=root, out_dir=out_dir, predict=predict,
                       threshold=threshold, use_cache=cache, allow_overlap=allow_overlap,
                       sfreq_hz=sfreq, labels_table=labels_table, mat_variable=mat_var,
                       channel_map=channel_map)
    m = res.metrics
    rec = m.get("recording_level") or {}
    n_rec = f", {rec['n_recordings']} recordings" if "n_recordings" in rec else ""
    typer.echo(trained_on_line(m.get("trained_on")))
    typer.echo(input_line(m.get("data") or {}))
    typer.echo(channels_line(m.get("channels") or {}))
    windows = f"{m['n_samples']} window{'' if m['n_samples'] == 1 else 's'}"
    print_scores(m, m.get("baseline"), family="LSM" if m.get("model_type") == "lsm" else "SNN",
                 scope="", counts=f"{windows}{n_rec}")
    print_decision_and_comparison(m, m.get("operating_point"))
    if "overlap" in m:
        ov = m["overlap"]
        typer.echo(f"note: {ov['n_files']} recording(s) ({ov['n_windows']} windows) were used "
                   "to train the run (--allow-overlap): these scores are not held-out",
                   err=True)
    else:
        typer.echo(f"overlap with training recordings: {NO_OVERLAP_FOUND}")
    if not data:
        typer.echo("note: scored on the run's own data, training windows included; pass "
                   "held-out recordings for an unbiased estimate", err=True)
    typer.echo(f"wrote {out_dir / 'metrics.json'}"
               + (f" and {out_dir / 'predictions.csv'}" if predict else ""))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
