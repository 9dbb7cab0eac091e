"""EEG beside its spike code: what the encoder kept of each channel, on one time axis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.visualization._figure import as_numpy, blank_figure

__all__ = ["KIND_COLORS", "eeg_and_spikes"]

#: Colours of encoder line kinds (see :attr:`eegsnn.encode.EEGEncoder.layout`).
KIND_COLORS = {"on": "tab:red", "off": "tab:blue", "up": "tab:red", "down": "tab:blue",
               "rate": "black"}


def eeg_and_spikes(signal: Any, spikes: Any, *, sfreq_hz: float | None = None,
                   encoder: Any | None = None,
                   layout: Sequence[dict[str, Any]] | None = None,
                   ch_names: Sequence[str] | None = None,
                   channels: Sequence[str | int] | None = None, sample: int = 0,
                   unit: str = "µV", title: str | None = None,
                   figsize: tuple[float, float] = (9, 6)) -> Any:
    """EEG traces (top) and the spike lines that encode them (bottom), time-aligned.

    Args:
        signal: one window ``[C, N]`` or windows ``[B, C, N]`` (``sample`` picks one).
        spikes: its code ``[T, L]`` or ``[T, B, L]`` (e.g. ``EEGEncoder.transform``); step
            ``t`` covers ``[t, t + 1) * N / (T * sfreq_hz)`` seconds.
        sfreq_hz: sampling rate of ``signal`` (default: the encoder's).
        encoder: the fitted :class:`~eegsnn.encode.EEGEncoder` that made ``spikes``; gives
            ``layout``, ``ch_names`` and ``sfreq_hz`` unless they are passed.
        layout: ``EEGEncoder.layout`` (one dict per line with ``channel`` and ``kind``);
            without it the ``L`` lines are split evenly over the ``C`` channels in order.
        ch_names: channel names (default ``layout``'s, else ``ch0, ch1, ...``).
        channels: channels to show, by name or index (default: the first 4).
        unit: unit of the signal, for the axis label.
    """
    where = "eeg_and_spikes"
    if encoder is not None:
        layout = layout if layout is not None else encoder.layout
        ch_names = ch_names if ch_names is not None else encoder.ch_names_
        sfreq_hz = sfreq_hz if sfreq_hz is not None else encoder.sfreq_hz
    if sfreq_hz is None:
        raise ConfigError(f"{where}: pass sfreq_hz (or the encoder, with its sfreq_hz set)")
    sig = as_numpy(signal, "signal", (2, 3), where)
    spk = as_numpy(spikes, "spikes", (2, 3), where)
    if sig.ndim == 3:
        if not 0 <= sample < sig.shape[0]:
            raise ConfigError(f"{where}: sample={sample} but signal holds {sig.shape[0]} windows")
        sig = sig[sample]
    if spk.ndim == 3:
        if not 0 <= sample < spk.shape[1]:
            raise ConfigError(f"{where}: sample={sample} but spikes hold {spk.shape[1]} windows")
        spk = spk[:, sample]
    if not sfreq_hz > 0:
        raise ConfigError(f"{where}: sfreq_hz must be > 0, got {sfreq_hz}")
    c, n = sig.shape
    t_steps, n_lines = spk.shape
    if layout is not None:
        layout = list(layout)
        if len(layout) != n_lines:
            raise ConfigError(f"{where}: layout has {len(layout)} lines, spikes have {n_lines}")
        names = list(dict.fromkeys(str(rec["channel"]) for rec in layout))
        line_channel = [names.index(str(rec["channel"])) for rec in layout]
        kinds = [str(rec.get("kind", "")) for rec in layout]
    else:
        if n_lines % c:
            raise ConfigError(f"{where}: {n_lines} spike lines do not split over {c} channels; "
                              "pass the encoder's layout")
        per = n_lines // c
        line_channel = [i // per for i in range(n_lines)]
        kinds = ["on", "off"] * (n_lines // 2) if per % 2 == 0 else ["rate"] * n_lines
        names = None
    names = [str(x) for x in (ch_names or names or [f"ch{i}" for i in range(c)])]
    if len(names) != c:
        raise ConfigError(f"{where}: {len(names)} channel names for {c} channels")
    if channels is None:
        show = list(range(min(c, 4)))
    else:
        show = []
        for ch in channels:
            if isinstance(ch, (int, np.integer)) and 0 <= ch < c:
                show.append(int(ch))
            elif str(ch) in names:
                show.append(names.index(str(ch)))
            else:
                raise ConfigError(f"{where}: unknown channel {ch!r} (have {names[:8]}...)")
    duration = n / sfreq_hz
    t_sig = np.arange(n) / sfreq_hz
    t_spk = np.arange(t_steps) * duration / t_steps

    fig = blank_figure(figsize)
    grid = fig.add_gridspec(2, 1, height_ratios=(1, 1.2))
    ax_s = fig.add_subplot(grid[0])
    ax_k = fig.add_subplot(grid[1], sharex=ax_s)
    spread = [np.std(sig[i]) or 1.0 for i in show]
    step = 4.0 * float(np.median(spread))
    for row, i in enumerate(show):
        ax_s.plot(t_sig, sig[i] - np.mean(sig[i]) - row * step, lw=0.7, color="0.15")
    ax_s.set_yticks([-row * step for row in range(len(show))], [names[i] for i in show])
    ax_s.set(ylabel=f"EEG (offset, {unit})",
             title=title or f"EEG and its spike code ({t_steps} steps, {n_lines} lines)")
    rows, ticks, labels = 0, [], []
    for i in show:
        lines = [k for k in range(n_lines) if line_channel[k] == i]
        for k in lines:
            hit = np.flatnonzero(spk[:, k] > 0)
            if hit.size:
                ax_k.scatter(t_spk[hit], np.full(hit.size, rows), s=6, marker="|",
                             c=KIND_COLORS.get(kinds[k], "black"), linewidths=0.8)
            rows += 1
        ticks.append(rows - len(lines) / 2 - 0.5)
        labels.append(names[i])
        ax_k.axhline(rows - 0.5, color="0.85", lw=0.5)
    ax_k.set_ylim(rows - 0.5, -0.5)
    ax_k.set_yticks(ticks, labels)
    present = sorted({kinds[k] for k in range(n_lines) if line_channel[k] in show})
    legend = ", ".join(f"{kd} ({KIND_COLORS.get(kd, 'black').removeprefix('tab:')})"
                       for kd in present)
    ax_k.set(xlabel="time (s)", ylabel="spike lines", title=f"lines: {legend}")
    ax_k.title.set_fontsize(8)
    ax_s.set_xlim(0, duration)
    return fig
