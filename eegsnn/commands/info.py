"""``eegsnn info``: versions, MLX device and the BLAS MLX runs on."""

from __future__ import annotations

import json

import typer


def info(
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
    bench: bool = typer.Option(
        True, "--bench/--no-bench", help="Time one 1024x1024 float32 matmul to show BLAS speed."
    ),
) -> None:
    """Print versions, the MLX device and which BLAS MLX is using.

    Example: ``eegsnn info`` or ``EEGSNN_BLAS=off eegsnn info`` to see the reference BLAS.
    """
    from eegsnn.env import environment_record, matmul_seconds, slow_path_note

    record = environment_record()
    if bench:
        record["matmul_1024_float32_ms"] = round(matmul_seconds() * 1e3, 2)
    note = slow_path_note()
    record["slow_path"] = note or None
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    typer.echo(f"eegsnn {record['packages']['eegsnn']}  (python {record['python']})")
    typer.echo(f"platform    {record['platform']}")
    typer.echo(f"mlx device  {record['mlx_device']}")
    typer.echo(f"BLAS        {record['blas']['effective']}")
    typer.echo(f"            {record['blas']['reason']}")
    if "matmul_1024_float32_ms" in record:
        typer.echo(f"matmul      1024x1024 float32: {record['matmul_1024_float32_ms']} ms")
    kernels = record["kernels"]
    typer.echo("kernels     " + (f"C kernels loaded ({kernels['threads']} OpenMP threads): the "
                                 "fused CPU training step is available" if kernels["available"]
                                 else f"unavailable: {kernels['reason']}"))
    if note:
        typer.echo(f"fast path   {note}")
    typer.echo("packages    " + ", ".join(
        f"{k} {v}" for k, v in record["packages"].items() if v is not None
    ))
    typer.echo("extras      " + ", ".join(f"{k} {v}" for k, v in record["extras"].items()))


def register(app: typer.Typer) -> None:
    app.command("info")(info)
