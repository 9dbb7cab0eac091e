"""What a spike code keeps: spike counts, firing rates and sparsity, per line or per channel.

Spikes are time-major ``[T, B, L]`` (``L`` output lines); ``layout`` is the list of line
records an encoder reports (``{"line", "channel", "band", "kind", "level"}``).
"""

from __future__ import annotations

from collections.abc import Sequence

import mlx.core as mx
import numpy as np

from eegsnn.encode.functional import snr_db
from eegsnn.errors import DataError

__all__ = [
    "firing_rate_hz",
    "group_by",
    "snr_db",
    "sparsity",
    "spike_counts",
]


def _np3(spikes: mx.array | np.ndarray, name: str = "spikes") -> np.ndarray:
    arr = np.asarray(spikes)
    if arr.ndim != 3:
        raise DataError(f"{name}: expected time-major [T, B, L], got shape {arr.shape}")
    return arr


def spike_counts(spikes: mx.array | np.ndarray) -> np.ndarray:
    """Total events per line, summed over time and batch: ``[T, B, L]`` -> ``[L]`` (float64).

    Event counts (``overflow="count"``) are summed as counts.
    """
    if isinstance(spikes, mx.array):
        if spikes.ndim != 3:
            raise DataError(f"spikes: expected time-major [T, B, L], got shape {spikes.shape}")
        return np.asarray(mx.sum(spikes, axis=(0, 1)), dtype=np.float64)
    return _np3(spikes).sum(axis=(0, 1), dtype=np.float64)


def sparsity(spikes: mx.array | np.ndarray, axis: tuple[int, ...] | None = None) -> np.ndarray:
    """Fraction of entries without a spike (``1 - mean(spikes != 0)``); ``axis=None`` -> scalar."""
    if isinstance(spikes, mx.array):
        active = mx.mean((spikes != 0).astype(mx.float32), axis=axis)
        return np.asarray(1.0 - active, dtype=np.float64)
    return 1.0 - np.mean(np.asarray(spikes) != 0, axis=axis)


def firing_rate_hz(spikes: mx.array | np.ndarray, duration_s: float) -> np.ndarray:
    """Mean events per second of signal per line: ``counts / (B * duration_s)`` -> ``[L]``."""
    if duration_s <= 0:
        raise DataError(f"firing_rate_hz: duration_s must be > 0, got {duration_s}")
    counts = spike_counts(spikes)
    batch = spikes.shape[1]
    return counts / (batch * duration_s)


def group_by(
    values: Sequence[float] | np.ndarray, layout: Sequence[dict], key: str = "channel"
) -> dict[str, float]:
    """Sum per-line ``values`` over the lines sharing ``layout[i][key]`` (order preserved)."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape != (len(layout),):
        raise DataError(f"group_by: {vals.shape[0]} values for a layout of {len(layout)} lines")
    out: dict[str, float] = {}
    for v, rec in zip(vals, layout, strict=True):
        name = str(rec[key])
        out[name] = out.get(name, 0.0) + float(v)
    return out
