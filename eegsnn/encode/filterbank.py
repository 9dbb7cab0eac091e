"""Filter bank: split each EEG channel into frequency bands before spike encoding.

Zero-phase Butterworth band-pass filters (``scipy.signal.butter`` in second-order sections,
applied forwards and backwards with ``sosfiltfilt``), so band signals stay aligned in time
with the input and with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import signal

from eegsnn.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_BANDS",
    "filter_bank",
    "filter_min_samples",
    "resolve_bands",
]

#: Classical EEG bands in Hz. ``None`` as the upper edge of gamma means
#: ``min(100, 0.9 * Nyquist)`` for the recording's sampling rate.
DEFAULT_BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("delta", 1.0, 4.0),
    ("theta", 4.0, 8.0),
    ("alpha", 8.0, 13.0),
    ("beta", 13.0, 30.0),
    ("gamma", 30.0, None),
)

Band = tuple[str, float, float]


def resolve_bands(
    bands: str | Sequence[tuple[Any, ...] | list[Any]] | None, sfreq_hz: float
) -> tuple[Band, ...]:
    """Validate ``bands`` and fill open upper edges for ``sfreq_hz``.

    Args:
        bands: ``"default"`` (:data:`DEFAULT_BANDS`), or a sequence of ``(name, low_hz,
            high_hz)``; ``high_hz=None`` means ``min(100, 0.9 * sfreq_hz / 2)``.
        sfreq_hz: sampling rate in Hz.

    Returns:
        ``((name, low_hz, high_hz), ...)`` with ``0 < low < high < sfreq/2``.
    """
    if sfreq_hz is None or not np.isfinite(sfreq_hz) or sfreq_hz <= 0:
        raise ConfigError(f"bands: a positive sampling rate sfreq_hz is required, got {sfreq_hz}")
    if bands is None:
        return ()
    if isinstance(bands, str):
        if bands != "default":
            raise ConfigError(f"bands: unknown preset {bands!r} (use 'default' or a list)")
        bands = DEFAULT_BANDS
    nyquist = sfreq_hz / 2.0
    out: list[Band] = []
    names: set[str] = set()
    for item in bands:
        try:
            name, low, high = item
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"bands: each band must be (name, low_hz, high_hz), got {item!r}"
            ) from exc
        name = str(name)
        if name in names:
            raise ConfigError(f"bands: duplicate band name {name!r}")
        names.add(name)
        high_f = min(100.0, 0.9 * nyquist) if high is None else float(high)
        low_f = float(low)
        if not (0.0 < low_f < high_f):
            raise ConfigError(f"bands: band {name!r} needs 0 < low < high, got ({low_f}, {high_f})")
        if high_f >= nyquist:
            raise ConfigError(
                f"bands: band {name!r} upper edge {high_f} Hz is not below the Nyquist "
                f"frequency {nyquist} Hz of sfreq_hz={sfreq_hz}"
            )
        out.append((name, low_f, high_f))
    if not out:
        raise ConfigError("bands: empty band list (pass None for no filter bank)")
    return tuple(out)


def _sos(band: Band, sfreq_hz: float, order: int) -> np.ndarray:
    _, low, high = band
    return signal.butter(order, [low, high], btype="bandpass", fs=sfreq_hz, output="sos")


def filter_min_samples(bands: Sequence[Band], sfreq_hz: float, order: int = 4) -> int:
    """Shortest window (samples) ``sosfiltfilt`` accepts for these bands (its edge padding)."""
    need = 1
    for band in bands:
        sos = _sos(band, sfreq_hz, order)
        ntaps = 2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
        need = max(need, 3 * int(ntaps) + 1)
    return need


def filter_bank(
    x: np.ndarray,
    sfreq_hz: float,
    bands: str | Sequence[tuple[Any, ...] | list[Any]] = "default",
    *,
    order: int = 4,
) -> np.ndarray:
    """Band-pass ``x`` into each band: ``[..., N]`` -> ``[..., K, N]`` (``K`` bands, float32).

    Zero-phase (forward-backward) Butterworth of the given ``order`` per band. Raises
    :class:`DataError` for a window shorter than the filters need
    (:func:`filter_min_samples`) and for NaN/inf samples.
    """
    resolved = resolve_bands(bands, sfreq_hz)
    if not resolved:
        raise ConfigError("filter_bank: no bands given")
    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"filter_bank: order must be a positive int, got {order!r}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 1:
        raise DataError("filter_bank: input must have a time axis (last axis)")
    n = arr.shape[-1]
    need = filter_min_samples(resolved, sfreq_hz, order)
    if n < need:
        raise DataError(
            f"filter_bank: window of {n} samples is shorter than the {need} samples the "
            f"order-{order} band-pass filters need at {sfreq_hz} Hz"
        )
    if not np.all(np.isfinite(arr)):
        raise DataError("filter_bank: input holds NaN or infinite samples")
    out = np.empty((*arr.shape[:-1], len(resolved), n), dtype=np.float32)
    for k, band in enumerate(resolved):
        out[..., k, :] = signal.sosfiltfilt(_sos(band, sfreq_hz, order), arr, axis=-1)
    return out
