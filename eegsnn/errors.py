"""Exceptions eegsnn raises for bad input, configuration or data.

Every error a user can cause derives from :class:`EEGSNNError`; the CLI prints its message
as one line (naming the file and the problem) and exits with :attr:`EEGSNNError.exit_code`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class EEGSNNError(Exception):
    """Base class of the errors a user can cause; the CLI prints them as one line."""

    exit_code = 2


class ConfigError(EEGSNNError, ValueError):
    """A configuration or argument is invalid (unknown name, out-of-range value...)."""

    exit_code = 2


class DataError(EEGSNNError, ValueError):
    """Input data is missing, corrupt or inconsistent (names the file and the problem)."""

    exit_code = 3


class ChecksumError(DataError):
    """A file does not match the checksum recorded in its data manifest."""

    exit_code = 4


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) in the ``eegsnn`` command line: the CLI prints "Aborted" and exits
    130.

    A ``BaseException`` like :class:`KeyboardInterrupt` (``except Exception`` does not catch
    it), but a class of its own so that the command-line framework does not turn it into
    its own exit code; outside the CLI, Ctrl-C raises :class:`KeyboardInterrupt` as usual.
    ``hint`` (set by a command) is printed after "Aborted", e.g. how to resume.
    """

    exit_code = 130
    hint: str = ""


class MissingExtraError(ConfigError, ImportError):
    """An optional dependency is not installed; the message names the extra to install
    (raised by :func:`eegsnn.extras.require`).

    Both an :class:`ImportError` (what Python code expects) and a :class:`ConfigError` (the
    configuration asks for something not installed; the CLI prints it as one line).
    """


def refuse_unknown_options(what: str, options: Iterable[str], make: Callable[..., Any],
                           ignore: Iterable[str] = ()) -> None:
    """Raise a :class:`ConfigError` naming the ``options`` that ``make`` (a class or a
    function built from config keys) does not take, and those it takes: ``"{what}: unknown
    option(s) bta (known: beta, threshold, ...)"`` instead of Python's ``__init__() got an
    unexpected keyword argument``. ``ignore``: parameters that are not config keys."""
    import inspect

    try:
        params = inspect.signature(make).parameters
    except (TypeError, ValueError):  # no signature to read: Python's own error follows
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    known = {name for name, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self", *ignore}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown option(s) {', '.join(unknown)} (known: "
                          f"{', '.join(sorted(known))})")
