"""Is a spiking population silent or saturated? The activity check of reservoirs.

:func:`warn_activity` / :func:`check_activity` warn (``RuntimeWarning``) when the mean rate
(spikes per neuron per step) is below ``low`` (the states carry little information) or above
``high`` (neurons fire nearly every step), and say which knob to turn. Used by
:meth:`eegsnn.nn.reservoir.Reservoir.check_activity`,
:func:`eegsnn.nn.readout.extract_features` and the reservoir analysis helpers of
:mod:`eegsnn.evaluate.reservoir` (which re-exports them).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError

__all__ = ["as_spikes_tbn", "check_activity", "warn_activity"]


def as_spikes_tbn(spikes: Any, where: str) -> np.ndarray:
    """``spikes`` ``[T, B, N]`` (or a single trial ``[T, N]``, given a batch axis) as float32
    NumPy; :class:`ConfigError` naming ``where`` for any other rank."""
    arr = np.asarray(spikes, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3:
        raise ConfigError(f"{where}: spikes must be [T, B, N] or [T, N], got shape {arr.shape}")
    return arr


def warn_activity(mean_rate: float, low: float = 1e-3, high: float = 0.5) -> float:
    """Warn (``RuntimeWarning``) if ``mean_rate`` (spikes per neuron per step) is below
    ``low`` (silent) or above ``high`` (saturated); returns ``mean_rate``."""
    if not 0 <= low < high:
        raise ConfigError(f"activity bounds must satisfy 0 <= low < high, got {low}, {high}")
    if mean_rate < low:
        warnings.warn(
            f"reservoir is nearly silent on this input: mean rate {mean_rate:.2e} spikes per "
            f"neuron per step (< {low:g}); its states carry little information. Raise "
            "input_gain or input_connectivity, raise spectral_radius, or lower the neuron "
            "threshold.", RuntimeWarning, stacklevel=3)
    elif mean_rate > high:
        warnings.warn(
            f"reservoir is saturated on this input: mean rate {mean_rate:.3f} spikes per neuron "
            f"per step (> {high:g}); neurons fire nearly every step and states stop "
            "separating inputs. Lower input_gain or spectral_radius, use more inhibition "
            "(weight_scale), or raise the neuron threshold.", RuntimeWarning, stacklevel=3)
    return float(mean_rate)


def check_activity(spikes: Any, low: float = 1e-3, high: float = 0.5) -> float:
    """Mean rate of ``spikes`` (``[T, B, N]``); warns if silent/saturated (see
    :func:`warn_activity`)."""
    arr = as_spikes_tbn(spikes, "check_activity")
    return warn_activity(float(arr.mean(dtype=np.float64)), low=low, high=high)
