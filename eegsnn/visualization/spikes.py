"""Plots of spiking activity: rasters, membrane traces, firing-rate histograms, reservoirs.

All take time-major arrays (``[T, N]`` for one sample or ``[T, B, N]`` with ``sample=``
choosing the trial), NumPy or MLX, and return a headless :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.visualization._figure import as_numpy, blank_figure, new_figure, time_axis

__all__ = ["firing_rate_histogram", "layer_rasters", "layer_rates_bar", "membrane_traces",
           "reservoir_activity", "spike_raster"]


def _trial(arr: np.ndarray, sample: int, name: str, where: str) -> np.ndarray:
    """``[T, N]`` from ``[T, N]`` or ``[T, B, N]`` (trial ``sample``)."""
    if arr.ndim == 3:
        if not -arr.shape[1] <= sample < arr.shape[1]:
            raise ConfigError(f"{where}: sample={sample} but {name} holds {arr.shape[1]} "
                              "trials ([T, B, N])")
        return arr[:, sample, :]
    return arr


def _raster(ax: Any, spikes: np.ndarray, times: np.ndarray, colors: Any = None,
            size: float = 4.0) -> int:
    t_idx, n_idx = np.nonzero(spikes > 0)
    if t_idx.size:
        c = "k" if colors is None else np.asarray(colors)[n_idx]
        ax.scatter(times[t_idx], n_idx, s=size, c=c, marker="|", linewidths=0.8)
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_xlim(times[0], times[-1] + (times[1] - times[0] if times.size > 1 else 1.0))
    return int(t_idx.size)


def spike_raster(spikes: Any, *, sample: int = 0, dt_s: float | None = None,
                 line_names: Sequence[str] | None = None, colors: Sequence[Any] | None = None,
                 title: str | None = None, figsize: tuple[float, float] = (8, 4)) -> Any:
    """Spike raster: one row per neuron/line, a tick at each step where it spikes.

    Args:
        spikes: ``[T, N]`` or ``[T, B, N]`` (0/1, or event counts: any value > 0 is a spike).
        sample: trial to show for ``[T, B, N]`` input.
        dt_s: step length; the x axis is in seconds when given, in steps otherwise.
        line_names: ``N`` labels for the y axis (shown when ``N <= 40``).
        colors: ``N`` colours (e.g. by channel or ON/OFF kind).
        title: figure title (default: the number of spikes shown).
    """
    where = "spike_raster"
    arr = _trial(as_numpy(spikes, "spikes", (2, 3), where), sample, "spikes", where)
    times, xlabel = time_axis(arr.shape[0], dt_s)
    fig, ax = new_figure(figsize=figsize)
    if colors is not None and len(colors) != arr.shape[1]:
        raise ConfigError(f"{where}: {len(colors)} colors for {arr.shape[1]} lines")
    count = _raster(ax, arr, times, colors)
    ax.set(xlabel=xlabel, ylabel="neuron / line")
    if line_names is not None:
        if len(line_names) != arr.shape[1]:
            raise ConfigError(f"{where}: {len(line_names)} line_names for {arr.shape[1]} lines")
        if arr.shape[1] <= 40:
            ax.set_yticks(range(arr.shape[1]), [str(n) for n in line_names], fontsize=7)
    ax.set_title(title or f"spike raster ({count} spikes, {arr.shape[1]} lines)")
    return fig


def membrane_traces(membrane: Any, *, spikes: Any | None = None,
                    threshold: float | None = None, neurons: Sequence[int] | None = None,
                    sample: int = 0, dt_s: float | None = None, title: str | None = None,
                    figsize: tuple[float, float] = (8, 4)) -> Any:
    """Membrane potential of a few neurons over time, with threshold and spike markers.

    Args:
        membrane: ``[T, N]`` or ``[T, B, N]`` (e.g. the ``membrane`` a neuron's ``unroll``
            returns).
        spikes: optional spikes of the same shape, marked with dots on the traces.
        threshold: optional firing threshold, drawn as a dashed line.
        neurons: indices to show (default: the first ``min(N, 5)``).
    """
    where = "membrane_traces"
    mem = _trial(as_numpy(membrane, "membrane", (2, 3), where), sample, "membrane", where)
    spk = None
    if spikes is not None:
        spk_all = as_numpy(spikes, "spikes", (2, 3), where)
        if spk_all.shape != np.shape(np.asarray(membrane)):
            raise ConfigError(f"{where}: spikes shape {spk_all.shape} differs from membrane "
                              f"shape {np.shape(np.asarray(membrane))}")
        spk = _trial(spk_all, sample, "spikes", where)
    idx = list(range(min(mem.shape[1], 5))) if neurons is None else [int(i) for i in neurons]
    bad = [i for i in idx if not 0 <= i < mem.shape[1]]
    if bad:
        raise ConfigError(f"{where}: neurons {bad} out of range (N = {mem.shape[1]})")
    times, xlabel = time_axis(mem.shape[0], dt_s)
    fig, ax = new_figure(figsize=figsize)
    for i in idx:
        (line,) = ax.plot(times, mem[:, i], lw=1.0, label=f"neuron {i}")
        if spk is not None:
            hit = spk[:, i] > 0
            ax.plot(times[hit], mem[hit, i], "o", ms=3, color=line.get_color())
    if threshold is not None:
        ax.axhline(float(threshold), ls="--", color="0.4", lw=0.8, label="threshold")
    ax.set(xlabel=xlabel, ylabel="membrane potential", title=title or "membrane traces")
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    return fig


def _rates(spikes: Any, name: str, dt_s: float | None) -> np.ndarray:
    arr = as_numpy(spikes, name, (1, 2, 3), "firing_rate_histogram")
    if arr.ndim == 1:  # already per-neuron rates
        return arr
    rates = arr.reshape(arr.shape[0], -1, arr.shape[-1]).mean(axis=(0, 1))
    return rates / dt_s if dt_s else rates


def firing_rate_histogram(spikes: Any | Mapping[str, Any], *, dt_s: float | None = None,
                          bins: int = 20, title: str | None = None,
                          figsize: tuple[float, float] | None = None) -> Any:
    """Histogram of per-neuron firing rates, one panel per layer.

    Args:
        spikes: ``[T, N]`` / ``[T, B, N]`` spikes, ``[N]`` rates, or a dict ``layer name ->``
            either of those (one panel each).
        dt_s: step length: rates in Hz when given, else spikes per step.
        bins: histogram bins.
    """
    layers = dict(spikes) if isinstance(spikes, Mapping) else {"spikes": spikes}
    if not layers:
        raise ConfigError("firing_rate_histogram: no layers given")
    if dt_s is not None and not dt_s > 0:
        raise ConfigError(f"firing_rate_histogram: dt_s must be > 0, got {dt_s}")
    n = len(layers)
    fig, axes = new_figure(1, n, figsize=figsize or (4 * n, 3.5), squeeze=False)
    unit = "Hz" if dt_s else "spikes / step"
    for ax, (name, value) in zip(axes[0], layers.items(), strict=True):
        rates = _rates(value, str(name), dt_s)
        ax.hist(rates, bins=bins, color="tab:blue", edgecolor="white")
        silent = float(np.mean(rates == 0))
        ax.set(xlabel=f"firing rate ({unit})", ylabel="neurons",
               title=f"{name}: mean {rates.mean():.3g}, silent {100 * silent:.0f}%")
        ax.title.set_fontsize(9)
    if title:
        fig.suptitle(title)
    return fig


def reservoir_activity(spikes: Any, *, excitatory: Any | None = None, sample: int = 0,
                       dt_s: float | None = None, max_neurons: int = 400,
                       title: str | None = None, figsize: tuple[float, float] = (9, 6)) -> Any:
    """Reservoir (liquid) activity: raster by population, population rate, rate histogram.

    Args:
        spikes: reservoir spikes ``[T, N]`` or ``[T, B, N]``.
        excitatory: boolean ``[N]`` mask of excitatory neurons (e.g. from
            :class:`eegsnn.nn.reservoir.Reservoir`), or an int: the first ``k`` neurons are
            excitatory. Excitatory rows are drawn red and first, inhibitory blue.
        max_neurons: rows shown in the raster (evenly subsampled beyond that).
    """
    where = "reservoir_activity"
    arr = _trial(as_numpy(spikes, "spikes", (2, 3), where), sample, "spikes", where)
    n = arr.shape[1]
    if excitatory is None:
        exc = np.ones(n, dtype=bool)
    elif isinstance(excitatory, (int, np.integer)):
        exc = np.arange(n) < int(excitatory)
    else:
        exc = np.asarray(excitatory, dtype=bool).reshape(-1)
        if exc.size != n:
            raise ConfigError(f"{where}: excitatory mask has {exc.size} entries for {n} neurons")
    order = np.concatenate([np.flatnonzero(exc), np.flatnonzero(~exc)])
    if order.size > max_neurons:
        order = order[np.linspace(0, order.size - 1, max_neurons).astype(int)]
    colors = np.where(exc[order], "tab:red", "tab:blue")
    times, xlabel = time_axis(arr.shape[0], dt_s)
    fig = blank_figure(figsize)
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 1.4), width_ratios=(3, 1.2))
    ax_r = fig.add_subplot(grid[0, :])
    ax_p = fig.add_subplot(grid[1, 0], sharex=ax_r)
    ax_h = fig.add_subplot(grid[1, 1])
    _raster(ax_r, arr[:, order], times, colors, size=2.0)
    ax_r.set(ylabel="neuron (E red, I blue)",
             title=title or f"reservoir activity ({n} neurons, {int(exc.sum())} E)")
    scale = 1.0 / dt_s if dt_s else 1.0
    unit = "Hz" if dt_s else "spikes / step"
    for mask, color, label in ((exc, "tab:red", "E"), (~exc, "tab:blue", "I")):
        if mask.any():
            ax_p.plot(times, arr[:, mask].mean(axis=1) * scale, color=color, lw=1, label=label)
    ax_p.set(xlabel=xlabel, ylabel=f"rate ({unit})")
    ax_p.legend(fontsize=7)
    rates = arr.mean(axis=0) * scale
    ax_h.hist(rates, bins=20, color="0.4", edgecolor="white")
    ax_h.set(xlabel=f"rate ({unit})", ylabel="neurons")
    return fig


def layer_rasters(arrays: Mapping[str, Any], *, title: str | None = None,
                  window_s: float | None = None, labels: Mapping[str, str] | None = None,
                  membrane_output: str | None = None,
                  class_names: Sequence[str] | None = None) -> Any:
    """Input spikes and each layer's spikes ``[T, N]`` of one window, stacked panels.

    Args:
        arrays: ``name -> [T, N]`` spikes; ``input`` and the ``layer*`` entries are drawn
            (in that order; other entries, e.g. ``membrane`` or ``class``, are ignored), as
            in a run's ``raster.npz``. An ``input`` that is not event counts (the analog
            current of the ``direct`` encoder: negative or non-integer values) is drawn as
            a heat map of the current per line instead of a raster.
        window_s: length of the window in seconds: each panel's ``T`` steps span it (a
            layer that pools over time has fewer, longer steps), and the time axis is in
            seconds; ``None``: in steps.
        labels: ``name -> label`` for the panels (e.g. ``"layer0" -> "hidden 1 (Leaky,
            128)"``); default the array names.
        membrane_output: the name of a layer whose spikes are not the output (a leaky
            integrator read out from its membrane): drawn as the membrane traces of
            ``arrays["membrane"]`` ``[T, C]``, one line per output named by
            ``class_names``, instead of a raster.
    """
    layers = sorted((k for k in arrays if k.startswith("layer")),
                    key=lambda k: (len(k), k))  # layer2 before layer10
    names = [n for n in ["input", *layers] if n in arrays]
    if not names:
        raise ConfigError("layer_rasters: no 'input' or 'layer*' arrays given")
    if membrane_output is not None and membrane_output in names and "membrane" not in arrays:
        raise ConfigError(f"layer_rasters: membrane_output={membrane_output!r} needs a "
                          "'membrane' array")
    if window_s is not None and not window_s > 0:
        raise ConfigError(f"layer_rasters: window_s must be > 0, got {window_s}")
    labels = dict(labels or {})
    fig, axes = new_figure(len(names), 1, figsize=(8, 1.6 + 1.6 * len(names)), sharex=True,
                           squeeze=False)
    xlabel = "time step"
    for ax, name in zip(axes[:, 0], names, strict=True):
        if name == membrane_output:
            label = labels.get(name, f"{name} ({np.shape(arrays['membrane'])[-1]} outputs)")
            xlabel = _membrane_panel(ax, arrays["membrane"], label, window_s, class_names)
            continue
        s = as_numpy(arrays[name], name, (2,), "layer_rasters")
        label = labels.get(name, f"{name} ({s.shape[1]} lines)")
        dt_s = window_s / s.shape[0] if window_s is not None else None
        times, xlabel = time_axis(s.shape[0], dt_s)
        step = dt_s if dt_s is not None else 1.0
        ax.set_ylabel(_wrap(label), fontsize=8)
        if name == "input" and (np.any(s < 0) or np.any(s != np.round(s))):
            limit = float(np.abs(s).max()) or 1.0
            ax.imshow(s.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                      origin="lower", interpolation="nearest",
                      extent=(0.0, s.shape[0] * step, -0.5, s.shape[1] - 0.5))
            ax.set_title(f"{label}: analog input current (direct encoder), |I| <= "
                         f"{limit:.2f}", fontsize=8, loc="left")
            continue
        t, n = np.nonzero(s > 0)
        ax.scatter(times[t], n, s=2, marker="|", color="black", linewidths=0.6)
        ax.set_ylim(-0.5, s.shape[1] - 0.5)
        ax.set_xlim(0.0, s.shape[0] * step)
        ax.set_title(f"{label}: {100 * float((s > 0).mean()):.1f} % of (neuron, step) "
                     f"entries active, {float(s.sum()):.0f} spikes", fontsize=8, loc="left")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title or "Spike raster of one window", fontsize=10)
    return fig


def _wrap(label: str) -> str:
    """A panel label on two lines, broken before its parenthesis."""
    head, sep, tail = label.partition(" (")
    return f"{head}\n({tail}" if sep else label


def _membrane_panel(ax: Any, membrane: Any, label: str, window_s: float | None,
                    class_names: Sequence[str] | None) -> str:
    """Membrane traces ``[T, C]`` of a non-spiking output layer; returns the x label."""
    mem = as_numpy(membrane, "membrane", (2,), "layer_rasters")
    dt_s = window_s / mem.shape[0] if window_s is not None else None
    times, xlabel = time_axis(mem.shape[0], dt_s)
    names = list(class_names) if class_names is not None else []
    if names and len(names) != mem.shape[1]:
        raise ConfigError(f"layer_rasters: {len(names)} class names for {mem.shape[1]} "
                          "output membranes")
    for c in range(mem.shape[1]):
        ax.plot(times, mem[:, c], lw=1.0, label=names[c] if names else f"output {c}")
    ax.set_ylabel(_wrap(label), fontsize=8)
    ax.legend(fontsize=7, loc="upper left", ncol=min(mem.shape[1], 4))
    ax.set_title(f"{label}: membrane potential (the class scores are read from it; "
                 "this layer does not spike)",
                 fontsize=8, loc="left")
    return xlabel


def layer_rates_bar(rates: Mapping[str, float], *, title: str | None = None,
                    unit: str = "spikes / neuron / step") -> Any:
    """Bar chart of the mean firing rate of each layer (``name -> rate`` in ``unit``)."""
    if not rates:
        raise ConfigError("layer_rates_bar: no layers given")
    names = list(rates)
    values = [float(rates[n]) for n in names]
    fig, ax = new_figure(figsize=(1.6 * len(names) + 2.5, 3))
    bars = ax.bar(range(len(names)), values, width=0.55, color="tab:blue")
    ax.bar_label(bars, [f"{v:.3g}" for v in values], fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 2 else 0,
                  ha="right" if len(names) > 2 else "center", fontsize=8)
    ax.set_ylabel(f"mean firing rate ({unit})")
    ax.margins(y=0.15)
    ax.set_title(title or "Mean firing rate per layer (test windows)")
    return fig
