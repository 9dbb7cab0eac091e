"""``eegsnn report RUN_DIR``: write the run's HTML or Markdown report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eegsnn.errors import ConfigError


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (eegsnn train --out).")],
    fmt: Annotated[str, typer.Option(
        "--format", "-f", help="html (self-contained, figures embedded), md, or both.")
    ] = "html",
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Report file (default RUN_DIR/report.html or .md), outside the "
                            "run folder, in a folder that exists. The run folder is then "
                            "only read: HTML embeds its figures, Markdown writes them "
                            "beside the report (OUT's name + _figures/).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --out file (and its _figures/).")
    ] = False,
) -> None:
    """Write a run's report (self-contained HTML, or Markdown with PNG figures).

    Holds the config, data provenance, metrics with confidence intervals, confusion
    matrix, ROC curve, a spike raster, firing rates, and the baseline beside the SNN.

    Example: eegsnn report runs/bonn_example --format md

    A run that did not finish (interrupted or killed) is refused with exit code 3
    ("incomplete run: ...") and the command that resumes it; so is a run whose files changed
    after it finished (integrity.json), naming the file, and a folder of run files without
    status.json or integrity.json ("not a finished run").

    Lists the run's evaluations (RUN/evaluations/*: eegsnn evaluate) with their data,
    windows, accuracy and any overlap with the training recordings.
    """
    from eegsnn.pipeline.integrity import verify_integrity
    from eegsnn.pipeline.runstate import require_finished
    from eegsnn.report import write_report

    if fmt not in ("html", "md", "both"):
        raise ConfigError(f"--format must be html, md or both, got {fmt!r}")
    require_finished(run_dir)  # an interrupted run: say so and how to resume it
    verify_integrity(run_dir)  # the files it reports on are the ones the run wrote
    for path in write_report(run_dir, fmt=fmt, out=out, overwrite=overwrite):
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
