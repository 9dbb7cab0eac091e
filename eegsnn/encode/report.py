"""What a code keeps: the numbers behind :meth:`eegsnn.encode.EEGEncoder.report`, and the
signal at spike resolution that a decoded code is compared with.

Pure functions on arrays (the encoder computes the inputs): :func:`at_steps` samples a
signal at the output time steps, :func:`code_report` counts spikes, sparsity and rates per
channel and line and, given a reference and a decoded signal, the reconstruction SNR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from eegsnn.encode import functional as F
from eegsnn.encode.metrics import group_by, sparsity, spike_counts

__all__ = ["at_steps", "code_report"]


def at_steps(x: np.ndarray, num_steps: int) -> np.ndarray:
    """``x [N, ...]`` at ``T = num_steps`` steps: per time bin the value of the bin's last
    sample (``T < N``) or of the sample the bin lies in (``T >= N``)."""
    n, t = x.shape[0], num_steps
    if t < n:
        idx = F._bin_edges(n, t)[1:] - 1
    else:
        idx = (np.arange(1, t + 1, dtype=np.int64) * n - 1) // t
    return x[idx]


def code_report(
    spikes: np.ndarray, *, method: str, layout: list[dict[str, Any]],
    source_names: Sequence[str], n_samples: int, sfreq_hz: float | None,
    reference: np.ndarray | None = None, decoded: np.ndarray | None = None,
    mean: np.ndarray | None = None,
) -> dict[str, Any]:
    """The report of :meth:`~eegsnn.encode.EEGEncoder.report` (see there for the keys).

    Args:
        spikes: ``[T, B, L]`` code of windows of ``n_samples`` samples at ``sfreq_hz``.
        layout: one record per line (``EEGEncoder.layout``), source-major.
        source_names: the encoded channels, in layout order.
        reference, decoded: ``[B, C, K, T]`` signal and its reconstruction (decodable
            codes); ``mean``: fitted ``[C, K]`` mean the SNR's signal power is taken about.
    """
    sp = np.asarray(spikes)
    if method == "direct":  # an analog current, not events: no spike counts or sparsity
        rms = np.sqrt(np.mean(np.square(sp, dtype=np.float64), axis=(0, 1)))
        rms_ch = np.sqrt(np.mean(np.square(rms).reshape(len(source_names), -1), axis=1))
        analog: dict[str, Any] = {
            "method": method, "num_steps": int(sp.shape[0]), "batch": int(sp.shape[1]),
            "n_lines": int(sp.shape[2]),
            "current_rms": float(np.sqrt(np.mean(np.square(sp, dtype=np.float64)))),
            "max_abs_current": float(np.abs(sp).max()) if sp.size else 0.0,
            "current_rms_per_channel": dict(zip(source_names, map(float, rms_ch),
                                                strict=True)),
        }
        if sfreq_hz is not None:
            analog["duration_s"] = n_samples / sfreq_hz
        return analog
    counts = spike_counts(sp)
    per_channel = group_by(counts, layout, "channel")
    sparse_line = sparsity(sp, axis=(0, 1))
    sparse_ch = sparse_line.reshape(len(source_names), -1).mean(axis=1)
    out: dict[str, Any] = {
        "method": method,
        "num_steps": int(sp.shape[0]),
        "batch": int(sp.shape[1]),
        "n_lines": int(sp.shape[2]),
        "total_spikes": float(counts.sum()),
        "sparsity": float(sparsity(sp)),
        "max_count": float(sp.max()) if sp.size else 0.0,
        "spikes_per_channel": per_channel,
        "sparsity_per_channel": dict(zip(source_names, map(float, sparse_ch), strict=True)),
    }
    if sfreq_hz is not None:
        duration = n_samples / sfreq_hz
        out["duration_s"] = duration
        out["rate_hz_per_line"] = (counts / (sp.shape[1] * duration)).tolist()
    if reference is not None and decoded is not None and mean is not None:
        center = mean[None, :, :, None]
        per_ch = F.snr_db(reference, decoded, axis=(0, 2, 3), center=center)
        out["snr_db"] = float(F.snr_db(reference, decoded, center=center))
        # silenced (flat) channels carry no signal: their SNR is reported as None
        out["snr_db_per_channel"] = {
            name: (None if np.isnan(v) else float(v))
            for name, v in zip(source_names, per_ch, strict=True)
        }
    return out
