"""Figures without a display: :class:`matplotlib.figure.Figure` objects, never pyplot.

Every plot function builds a bare ``Figure`` (no pyplot state, no GUI backend, nothing to
close), so plotting works on headless servers, in CI and in threads. Saving uses the Agg
renderer through :func:`save_figure`, which writes atomically (temp file + ``os.replace``).
In Jupyter a returned figure displays as usual.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.extras import require
from eegsnn.io.files import current_umask

__all__ = ["as_numpy", "blank_figure", "have_matplotlib", "new_figure", "save_figure",
           "time_axis", "write_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (8, 4),
               **subplot_kw: Any) -> tuple[Any, Any]:
    """``(fig, axes)``: a headless Figure and its axes (``squeeze=False`` is not applied)."""
    require("matplotlib", "plot", "Plotting")
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, **subplot_kw)
    return fig, axes


def blank_figure(figsize: tuple[float, float] = (8, 4)) -> Any:
    """A headless Figure without axes (for grid layouts)."""
    require("matplotlib", "plot", "Plotting")
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .pdf, .svg) atomically.

    Returns the path. Raises :class:`~eegsnn.errors.ConfigError` for an unknown suffix.
    """
    require("matplotlib", "plot", "Saving figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg", "jpg", "jpeg"):
        raise ConfigError(f"save_figure: {path}: unknown image format {fmt!r} "
                          "(use .png, .pdf, .svg or .jpg)")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{fmt}")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format=fmt)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def have_matplotlib() -> bool:
    """Whether the ``plot`` extra (matplotlib) is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def write_figure(path: str | os.PathLike, make: Callable[..., Any], *args: Any,
                 dpi: int = 120, **kwargs: Any) -> Path | None:
    """Draw ``make(*args, **kwargs)`` (a plot function of this package) and save it to
    ``path``; ``None`` and nothing drawn when matplotlib is not installed.

    For outputs that are optional extras of a larger product (the run report, the figures
    of ``eegsnn apply``), which say "figure not available" instead of failing.
    """
    if not have_matplotlib():
        return None
    return save_figure(make(*args, **kwargs), path, dpi=dpi)


def as_numpy(values: Any, name: str, ndims: tuple[int, ...], where: str) -> np.ndarray:
    """``values`` (numpy, mlx, list) as float64 with one of ``ndims`` dimensions."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {name} must be an array, got {type(values).__name__}"
                          ) from exc
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ConfigError(f"{where}: {name} must be {want}, got shape {arr.shape}")
    if arr.size == 0:
        raise ConfigError(f"{where}: {name} is empty")
    return arr


def time_axis(num_steps: int, dt_s: float | None) -> tuple[np.ndarray, str]:
    """Step times and the axis label: seconds when ``dt_s`` is given, else step indices."""
    if dt_s is None:
        return np.arange(num_steps, dtype=np.float64), "time step"
    if not dt_s > 0:
        raise ConfigError(f"dt_s must be > 0, got {dt_s}")
    return np.arange(num_steps) * float(dt_s), "time (s)"
