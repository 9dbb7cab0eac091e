"""``eegsnn plot RUN_DIR``: render a run's common figures (needs the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from eegsnn.errors import ConfigError


def plot(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (eegsnn train --out, or "
                                                 "eegsnn.train.fit(run_dir=...)).")],
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045  (typer needs Optional)
        "--out", "-o", help="Folder for the figures (default RUN_DIR/plots).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="png, pdf or svg.")] = "png",
    only: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--only", help="Plot only these kinds (repeat): curves, confusion, roc, raster, "
                       "membrane, rates.")] = None,
    dt_s: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--dt-s", help="Step length in seconds for raster time axes (default: the run's "
                       "window length over each array's steps; steps when the run does not "
                       "record one).")
    ] = None,
) -> None:
    """Plot training curves, confusion matrix, ROC, spike rasters, membrane traces and
    firing rates from the files a run folder holds.

    Example: eegsnn plot runs/eegmmidb_s001 --format pdf

    A pipeline run that did not finish is refused with exit code 3 ("incomplete run: ...",
    with the command that resumes it); the training curves so far of one of its folds are
    drawn by plotting that fold's training folder (RUN/folds/fold-1/train). A run whose files
    changed after it finished (integrity.json) is refused, naming the file, and so is a
    folder of run files without status.json or integrity.json ("not a finished run").
    """
    from eegsnn.pipeline.integrity import verify_integrity
    from eegsnn.pipeline.runstate import require_finished
    from eegsnn.visualization.run import PLOT_KINDS, plot_run

    if fmt not in ("png", "pdf", "svg"):
        raise ConfigError(f"--format must be png, pdf or svg, got {fmt!r}")
    kinds = tuple(only) if only else PLOT_KINDS
    require_finished(run_dir)  # an incomplete run: say so and how to resume it
    verify_integrity(run_dir)
    for path in plot_run(run_dir, out, fmt=fmt, kinds=kinds, dt_s=dt_s):
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("plot")(plot)
