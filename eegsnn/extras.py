"""Optional extras (``nir``, ``sklearn``, ``plot``): import them or fail with one line.

A missing extra raises :class:`~eegsnn.errors.MissingExtraError`, which is both an
:class:`ImportError` (what Python code expects) and an :class:`eegsnn.errors.ConfigError`
(the configuration asks for something not installed; the CLI prints it as one line), naming
the extra to install::

    NIR export needs the 'nir' extra: pip install 'eegsnn[nir]'

The one mechanism for optional extras, usable from any layer (it imports only
:mod:`eegsnn.errors`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from eegsnn.errors import MissingExtraError

__all__ = ["MissingExtraError", "require"]


def require(module: str, extra: str, purpose: str, alternative: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`~eegsnn.errors.MissingExtraError`.

    Args:
        module: the module to import (``"nir"``, ``"sklearn"``, ``"matplotlib"``).
        extra: the eegsnn extra that installs it (``"nir"``, ``"sklearn"``, ``"plot"``).
        purpose: what needs it, starting the message (``"NIR export"``).
        alternative: how to do without it, appended in parentheses (``"or set baseline:
            none"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the '{extra}' extra: pip install 'eegsnn[{extra}]'"
            + (f" ({alternative})" if alternative else "")
        ) from exc
