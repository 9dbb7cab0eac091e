"""``eegsnn evaluate RUN_DIR [DATA...]``: score a trained run on other recordings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer


def _slug(paths: list[Path] | None) -> str:
    if not paths:
        return "own-data"
    name = paths[0].name if len(paths) == 1 else f"{paths[0].stem}+{len(paths) - 1}"
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name) or "data"


def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder (eegsnn train --out).")],
    data: Annotated[list[Path] | None, typer.Argument(
        help="Recordings, folders or a data manifest .yaml (default: the run's own data).",
        show_default=False)] = None,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Dataset root for a manifest or the files.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (default RUN_DIR/evaluations/<data name>).")] = None,
    predict: Annotated[bool, typer.Option(
        "--predict", help="Also write predictions.csv: one row per window with class "
                          "probabilities.")] = False,
) -> None:
    """Score a trained run on recordings, with its exact preprocessing, encoder and model.

    Refuses data whose channels, sampling rate or window length do not fit the run.

    Examples:

      eegsnn evaluate runs/bonn_3class ../shared/data/bonn --predict

      eegsnn evaluate runs/mi S002R04.edf S002R08.edf --out runs/mi/eval-s002

    Writes metrics.json (and predictions.csv with --predict, confusion.png). Reruns give
    identical metrics. Exit codes: 0 done, 2 bad arguments, 3 data do not fit the run or
    cannot be read, or the run did not finish (the message says how to resume it), 4
    checksum mismatch.
    """
    from eegsnn.pipeline import evaluate_run
    from eegsnn.pipeline.runstate import require_finished

    require_finished(run_dir)  # an interrupted run: say so and how to resume it
    source = None
    if data:
        source = [str(p) for p in data] if len(data) > 1 else str(data[0])
    out_dir = out if out is not None else run_dir / "evaluations" / _slug(data)
    res = evaluate_run(run_dir, source, root=root, out_dir=out_dir, predict=predict)
    m = res.metrics
    lo, hi = m["accuracy_ci"]
    typer.echo(f"accuracy {m['accuracy']:.4f} [{lo:.3f}, {hi:.3f}]  balanced "
               f"{m['balanced_accuracy']:.4f}  kappa {m['cohen_kappa']:.3f}  macro-F1 "
               f"{m['f1_macro']:.4f}  ({m['n_samples']} windows)")
    if "positive" in m:
        pos = m["positive"]
        typer.echo(f"  {pos['class']} vs rest: sensitivity {pos['sensitivity']}  "
                   f"specificity {pos['specificity']}  ROC-AUC {pos['roc_auc']}")
    if not data:
        typer.echo("note: scored on the run's own data, training windows included; pass "
                   "held-out recordings for an unbiased estimate", err=True)
    typer.echo(f"wrote {out_dir / 'metrics.json'}"
               + (f" and {out_dir / 'predictions.csv'}" if predict else ""))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
