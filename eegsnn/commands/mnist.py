"""``eegsnn mnist``: the MNIST sanity check of the training engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def mnist(
    data_dir: Annotated[Path, typer.Option("--data-dir",
                                           help="Folder with the 4 MNIST IDX files.")],
    epochs: Annotated[Optional[int], typer.Option(  # noqa: UP045  (typer needs Optional)
        "--epochs", help="Epochs (default 25; 1 with --quick).")] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Subset + one epoch (CI smoke test).")] = False,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", help="Run folder (default runs/mnist or runs/mnist-quick).")] = None,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of init, data order and encodings.")] = 0,
    download: Annotated[bool, typer.Option(
        "--download", help="Fetch missing IDX files into --data-dir first.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume/--no-resume", help="Continue from OUT/checkpoint when present.")] = True,
    schedule: Annotated[str, typer.Option(
        "--schedule", help="Learning rate: 'constant' (published config) or 'cosine' decay.")
    ] = "constant",
    engine: Annotated[str, typer.Option(
        "--engine", help="Training step: auto (fused CPU kernels when eligible) | fused | mlx."
    )] = "auto",
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="Data-parallel over the processes mlx.launch started (error "
                              "if no group forms); rank 0 writes --out.")] = False,
    backend: Annotated[str, typer.Option(
        "--backend", help="Distributed backend: any | ring | mpi | nccl.")] = "any",
) -> None:
    """Train the reference SNN (784-256-10 Leaky, T=25) on MNIST and report test metrics.

    Example: ``eegsnn mnist --data-dir ../shared/data/mnist --quick``

    Data-parallel on 2 local processes (same global batch of 128, same result up to float
    rounding): ``mlx.launch --backend ring -n 2 --python .venv/bin/python --
    .venv/bin/eegsnn mnist --data-dir ../shared/data/mnist --quick --distributed``
    """
    from eegsnn.commands.train import join_group
    from eegsnn.env import print_slow_path_note
    from eegsnn.train.mnist import run_mnist

    ctx = join_group(distributed, backend)
    if ctx.is_main:
        print_slow_path_note()  # one stderr line if the reference BLAS or no C kernels
    run_dir = out if out is not None else Path("runs") / ("mnist-quick" if quick else "mnist")
    result = run_mnist(data_dir, run_dir, epochs=epochs, quick=quick, seed=seed,
                       download=download, resume=resume, schedule=schedule,
                       engine=engine, distributed=ctx, progress=None if ctx.is_main else False)
    if not ctx.is_main:
        return
    metrics = result.metrics or {}
    last = result.history[-1] if result.history else {}
    typer.echo(f"epochs {len(result.history)}  train time "
               f"{sum(h['train_time_s'] for h in result.history):.1f} s  "
               f"last epoch train loss {last.get('train_loss', float('nan')):.4f}")
    typer.echo(f"test accuracy {metrics.get('accuracy', float('nan')):.4f}  balanced "
               f"{metrics.get('balanced_accuracy', float('nan')):.4f}  kappa "
               f"{metrics.get('cohen_kappa', float('nan')):.4f}  macro-F1 "
               f"{metrics.get('f1_macro', float('nan')):.4f}")
    if ctx.distributed:
        typer.echo(f"data-parallel over {ctx.size} processes ({ctx.backend})")
    typer.echo(f"training step engine: {result.engine}")
    typer.echo(f"run folder {run_dir}")


def register(app: typer.Typer) -> None:
    app.command("mnist")(mnist)
