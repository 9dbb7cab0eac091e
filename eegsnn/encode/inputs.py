"""What an encoder accepts: EEG windows ``[B, C, N]`` as NumPy, MLX or MNE ``Raw``/``Epochs``.

:func:`is_mne` recognises MNE objects without importing MNE; :func:`read_windows` turns
any accepted input into a float32 ``[B, C, N]`` array (MLX input stays an ``mx.array``)
with its channel names and sampling rate, refusing bad shapes and non-finite samples with
an :mod:`eegsnn.errors` exception that names the channels.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import mlx.core as mx
import numpy as np

from eegsnn.errors import DataError

__all__ = ["check_finite", "is_mne", "read_windows"]


def is_mne(x: object) -> TypeGuard[Any]:
    """Whether ``x`` looks like an MNE ``Raw``/``Epochs`` (an ``Any``: MNE has no stubs)."""
    return hasattr(x, "info") and hasattr(x, "get_data") and hasattr(x, "ch_names")


def read_windows(X: object, what: str) -> tuple[Any, list[str] | None, float | None]:
    """``X`` -> (``[B, C, N]`` float32 numpy or mx.array, channel names, sampling rate).

    Names and rate come from MNE input (``None`` otherwise); a ``[C, N]`` window becomes
    ``[1, C, N]``. ``what`` names the calling method in errors (``EEGEncoder.{what}``).
    """
    names = None
    sfreq = None
    arr: np.ndarray | mx.array
    if is_mne(X):
        sfreq = float(X.info["sfreq"])
        names = [str(c) for c in X.ch_names]
        arr = np.asarray(X.get_data(), dtype=np.float32)
    elif isinstance(X, mx.array):
        arr = X if X.dtype == mx.float32 else X.astype(mx.float32)
    else:
        try:
            arr = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"EEGEncoder.{what}: cannot read X as a float array ({exc})"
            ) from exc
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DataError(
            f"EEGEncoder.{what}: expected EEG windows [B, C, N] (or [C, N]), got shape "
            f"{tuple(arr.shape)}"
        )
    b, c, n = arr.shape
    if b < 1 or c < 1 or n < 1:
        raise DataError(f"EEGEncoder.{what}: empty input of shape {tuple(arr.shape)}")
    return arr, names, sfreq


def check_finite(arr: Any, names: list[str] | None, what: str) -> None:
    """Refuse NaN/inf samples in ``arr [B, C, N]``, naming the channels (and how many)."""
    # fast path: one reduction (NaN/inf anywhere makes the sum non-finite)
    if isinstance(arr, mx.array):
        if bool(mx.isfinite(mx.sum(arr)).item()):
            return
        bad = np.asarray(mx.sum(~mx.isfinite(arr), axis=(0, 2)))
    else:
        if np.isfinite(np.sum(arr, dtype=np.float64)):
            return
        bad = arr.shape[0] * arr.shape[2] - np.isfinite(arr).sum(axis=(0, 2))
    if np.any(bad):
        names = names or [f"ch{i}" for i in range(arr.shape[1])]
        which = [f"{names[i]} ({int(bad[i])})" for i in np.flatnonzero(bad)]
        raise DataError(
            f"EEGEncoder.{what}: NaN or infinite samples in channel(s) "
            f"{', '.join(which[:8])}{' ...' if len(which) > 8 else ''}; "
            "interpolate or drop them before encoding"
        )
