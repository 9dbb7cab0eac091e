"""The ``eegsnn`` command line: a thin shell over the Python API.

Command groups live in :mod:`eegsnn.commands`; each module there has ``register(app)``.
Errors a user can cause (:class:`eegsnn.errors.EEGSNNError`) are printed as one line and
exit with the error's code; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import importlib
import sys

import typer

import eegsnn  # noqa: F401  (loads the optimised BLAS before mlx.core)
from eegsnn.errors import EEGSNNError

# Command modules in the order they appear in ``eegsnn --help``.
COMMAND_MODULES = (
    "info",
    "manifest",
    "encode",
    "train",
    "evaluate",
    "mnist",
    "report",
    "plot",
)

app = typer.Typer(
    name="eegsnn",
    help="Spiking neural networks on MLX for EEG: read, encode, train, evaluate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_STATE = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _STATE["debug"] = debug


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"eegsnn.commands.{_name}")
    except ModuleNotFoundError as exc:  # command group not built yet
        if exc.name != f"eegsnn.commands.{_name}":
            raise
        continue
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``eegsnn`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="eegsnn", standalone_mode=False)
    except EEGSNNError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        if debug:
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                   err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
