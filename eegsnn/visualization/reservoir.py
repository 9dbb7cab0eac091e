"""Figures of reservoir (liquid state machine) tuning: raster by population, rate histogram.

The analysis itself (:func:`~eegsnn.evaluate.reservoir.firing_rates`, separation, memory
capacity) is in :mod:`eegsnn.evaluate.reservoir`; ``scripts/plot_reservoir.py`` draws the
reservoir figure with these. Both take an ``ax`` to draw into (its figure is returned) or
make a headless figure, and write it atomically when ``path`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.nn.activity import as_spikes_tbn
from eegsnn.visualization._figure import new_figure, save_figure

__all__ = ["raster_plot", "rate_histogram_plot"]


def raster_plot(
    spikes: Any,
    excitatory: Any = None,
    *,
    trial: int = 0,
    dt_s: float | None = None,
    ax: Any = None,
    path: str | Path | None = None,
    title: str | None = None,
    max_neurons: int | None = None,
) -> Any:
    """Raster of reservoir spikes (excitatory neurons below, inhibitory above, in red).

    Args:
        spikes: ``[T, B, N]`` (plots ``trial``) or ``[T, N]``.
        excitatory: Optional boolean ``[N]`` mask (e.g. ``reservoir.excitatory``).
        dt_s: Step length; the x-axis is in seconds if given, else in steps.
        ax: Axes to draw into (default: a new figure).
        path: Save the figure there (PNG, written atomically).
        max_neurons: Plot only the first neurons of each population (proportionally).

    Returns:
        The matplotlib ``Figure``.
    """
    arr = as_spikes_tbn(spikes, "raster_plot")
    if not 0 <= trial < arr.shape[1]:
        raise ConfigError(f"raster_plot: trial {trial} out of range (B={arr.shape[1]})")
    s = arr[:, trial, :]
    n = s.shape[1]
    exc = np.ones(n, bool) if excitatory is None else np.asarray(excitatory, dtype=bool)
    if exc.shape != (n,):
        raise ConfigError(f"raster_plot: excitatory must be [N]={n}, got {exc.shape}")
    e_idx, i_idx = np.flatnonzero(exc), np.flatnonzero(~exc)
    if max_neurons is not None and max_neurons < n:
        n_e = max(1, round(max_neurons * e_idx.size / n)) if e_idx.size else 0
        e_idx, i_idx = e_idx[:n_e], i_idx[: max(0, max_neurons - n_e)]
    if ax is None:
        fig, ax = new_figure(figsize=(9, 4.5))
    else:
        fig = ax.figure
    scale = dt_s if dt_s else 1.0
    for rows, color, label, offset in ((e_idx, "#1f4e9a", "excitatory", 0),
                                       (i_idx, "#c0392b", "inhibitory", e_idx.size)):
        if rows.size == 0:
            continue
        t, j = np.nonzero(s[:, rows])
        ax.scatter(t * scale, j + offset, s=1.5, c=color, marker="|", linewidths=0.6,
                   label=f"{label} ({rows.size})")
    ax.set_xlim(0, s.shape[0] * scale)
    ax.set_ylim(-0.5, e_idx.size + i_idx.size - 0.5)
    ax.set_xlabel("time (s)" if dt_s else "time step")
    ax.set_ylabel("neuron (E first, then I)")
    rate = float(s.mean())
    ax.set_title(title or f"reservoir raster (mean rate {rate:.3f} spikes/neuron/step)")
    if excitatory is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=6, fontsize=8,
                  frameon=False)
    if path is not None:
        save_figure(fig, path)
    return fig


def rate_histogram_plot(
    rates: Any, *, bins: int = 30, unit: str = "spikes/step", ax: Any = None,
    path: str | Path | None = None, title: str | None = None,
) -> Any:
    """Histogram of per-neuron firing rates; returns the ``Figure`` (saved if ``path``)."""
    r = np.asarray(rates, dtype=np.float64)
    if ax is None:
        fig, ax = new_figure(figsize=(5, 3.5))
    else:
        fig = ax.figure
    ax.hist(r, bins=bins, color="#1f4e9a", edgecolor="white")
    ax.set_xlabel(f"firing rate ({unit})")
    ax.set_ylabel("neurons")
    ax.set_title(title or f"rates: mean {r.mean():.3g}, silent {np.mean(r == 0):.0%}")
    if path is not None:
        save_figure(fig, path)
    return fig
