"""Shared fixtures: where the real data in ``../shared/data`` lives, optional extras.

Tests that need real recordings use the ``shared_data`` fixture. Outside CI, a checkout
without ``../shared`` skips them; in CI (``CI`` set) a missing data folder is a failure,
never a silent skip. Tests of an optional extra's package (mne-bids, moabb) use
``require_extra`` the same way (see there for the extras CI installs later).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import eegsnn  # noqa: F401  (optimised BLAS before mlx.core)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("EEGSNN_SHARED_DATA")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data`` (MNIST, EEGMMIDB S001, Bonn)."""
    path = _shared_data_dir()
    if not path.is_dir():
        message = f"real data folder {path} not found (set EEGSNN_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def kernels() -> None:
    """The C kernels of eegsnn.kernels (built by setup.py at install). Without a C compiler
    they are missing: skipped outside CI, a failure in CI (``CI`` set)."""
    from eegsnn.kernels import kernels_available, unavailable_reason

    if not kernels_available():
        message = f"eegsnn's C kernels are unavailable: {unavailable_reason()}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _import_extra(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = (f"{module} is not installed (pip install -e '.[{extra}]'): "
                   f"{type(exc).__name__}: {exc}")
        named = os.environ.get("EEGSNN_CI_EXTRAS")
        if os.environ.get("CI") and (named is None or extra in
                                     {e.strip() for e in named.split(",")}):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def require_extra() -> Callable[[str, str], ModuleType]:
    """``require_extra(module, extra)``: the module of an optional extra. Missing: skipped
    outside CI, a failure in CI (``CI`` set), unless ``EEGSNN_CI_EXTRAS`` is set and does
    not name the extra: .ci/run sets it to the extras a test run has installed
    (``bids,eeglab,riemann``, whose packages the dev extra holds, for the README's test command;
    ``bids,moabb`` for the run after it installs the moabb extra)."""
    return _import_extra
