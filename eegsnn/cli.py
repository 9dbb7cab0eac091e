"""The ``eegsnn`` command line: a thin shell over the Python API.

Command groups live in :mod:`eegsnn.commands`; each module there has ``register(app)``.
Errors a user can cause (:class:`eegsnn.errors.EEGSNNError`) are printed as one line and
exit with the error's code, usage errors exit 2 with typer's usage message, anything else is
one line and exit 1, Ctrl-C prints "Aborted" and exits 130 (see :func:`main`); ``--debug``
shows the full traceback instead.
"""

from __future__ import annotations

import importlib
import inspect
import re
import signal
import sys
import threading
from typing import Any

import typer

import eegsnn  # noqa: F401  (loads the optimised BLAS before mlx.core)
from eegsnn.errors import EEGSNNError, Interrupted

# Command modules in the order they appear in ``eegsnn --help``.
COMMAND_MODULES = (
    "info",
    "manifest",
    "encode",
    "train",
    "evaluate",
    "export",
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


#: a line that starts a list item in a help text: "- ", "* ", "1. ", "2) "
_LIST_ITEM = re.compile(r"^([-*]|\d+[.)])\s")


def reflow_help(text: str) -> str:
    """A command's help text with the single line breaks of its prose removed.

    typer's Rich help keeps every line break of a docstring and wraps each line at the
    terminal's width on its own, so 90-column docstring lines broke mid-sentence in an
    80-column terminal (or a pipe). Here each paragraph of prose (paragraphs are separated
    by blank lines) becomes one line that Rich wraps as a whole. A paragraph keeps its
    lines when one of them is indented (example commands), when a line after the first
    starts a list item (``-``, ``*``, ``1.``), or when it starts with click's no-rewrap
    marker ``\\b`` (which is dropped). What follows a form feed (``\\f``, typer's end of the
    help) is kept as it is.
    """
    head, cut, tail = inspect.cleandoc(text).partition("\f")
    paragraphs = []
    for para in re.split(r"\n\s*\n", head.strip("\n")):
        lines = para.strip("\n").split("\n")
        if lines[0].strip() == "\b":
            paragraphs.append("\n".join(lines[1:]))
        elif any(line[:1].isspace() for line in lines) or any(
                _LIST_ITEM.match(line) for line in lines[1:]):
            paragraphs.append("\n".join(lines))
        else:
            paragraphs.append(" ".join(para.split()))
    return "\n\n".join(paragraphs) + cut + tail


def _reflow_commands(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = reflow_help(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_commands(group.typer_instance)


_reflow_commands(app)


def _refused_path(exc: OSError) -> bool:
    """Whether ``exc`` is the system refusing a path the user gave (no permission, a file
    where a folder must be or the reverse, an existing file, a full or read-only disk),
    not a bug or a lost connection."""
    import errno

    return isinstance(exc, (PermissionError, IsADirectoryError, NotADirectoryError,
                            FileExistsError)) or exc.errno in (errno.ENOSPC, errno.EROFS)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _on_sigint(signum: int, frame: Any) -> None:
    raise Interrupted()


def _exit_code(code: Any) -> int:
    """The process exit code of ``SystemExit(code)`` (a message is printed, code 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    typer.echo(_one_line(code), err=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``eegsnn`` console script; returns the exit code.

    - usage errors (unknown command or option, bad value, missing argument): typer's usage
      message ("Did you mean ..." where it has one), exit 2; bare ``eegsnn`` prints the
      help and exits 2 as well (typer's ``no_args_is_help``: no command is a usage error);
    - :class:`~eegsnn.errors.EEGSNNError`: ``error: MESSAGE`` on one line, exit code of the
      error (2 config/arguments, 3 data, 4 checksum);
    - the system refusing a path (no permission, a folder where a file must go, a full or
      read-only disk): ``error: PATH: REASON (...)`` on one line, exit 2;
    - any other exception: ``error: TYPE: MESSAGE (unexpected ...)`` on one line, exit 1;
    - Ctrl-C (SIGINT): ``Aborted`` on one line (and what the command left, e.g. how to
      resume a run), exit 130.

    ``eegsnn --debug ...`` lets errors propagate with their traceback instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _STATE["debug"] = False
    previous = None
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        # Ctrl-C raises Interrupted, not KeyboardInterrupt, which typer would turn into an
        # exit code of its own (typer 0.29: 130 without a message; older: "Aborted!" and
        # 1). An ignored SIGINT (a background job) stays ignored.
        previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        try:
            # standalone mode: typer prints usage errors and help the usual way and exits
            app(args=args, prog_name="eegsnn", standalone_mode=True)
        except SystemExit as exc:
            return _exit_code(exc.code)
        return 0
    except Interrupted as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
        typer.echo("Aborted" + (f": {exc.hint}" if exc.hint else ""), err=True)
        return Interrupted.exit_code
    except EEGSNNError as exc:
        if _STATE["debug"]:
            raise
        typer.echo(f"error: {_one_line(exc)}", err=True)
        return exc.exit_code
    except Exception as exc:
        if _STATE["debug"]:
            raise
        if isinstance(exc, OSError) and _refused_path(exc):  # read-only, a file for a folder
            where = exc.filename if exc.filename is not None else ""
            typer.echo(f"error: {where}{': ' if where else ''}{exc.strerror or exc} (a file "
                       "or folder this command must write or read; check the path and its "
                       "permissions)", err=True)
            return 2
        typer.echo(f"error: {type(exc).__name__}: {_one_line(exc)} (unexpected; run with "
                   "eegsnn --debug ... for the traceback)", err=True)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
