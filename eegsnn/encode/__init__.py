"""Spike encoders: signals -> time-major spike tensors ``[T, B, ...]``.

* general encoders (pure functions): :func:`rate`, :func:`latency`, :func:`delta`, plus the
  native-rate building blocks :func:`send_on_delta_counts` and :func:`level_crossings`;
* :class:`EEGEncoder`: multi-channel EEG ``[B, C, N]`` (or MNE ``Raw``/``Epochs``) -> spikes
  ``[T, B, L]`` with a line ``layout``, fitted statistics, decoders and reports;
* :func:`filter_bank`: band-splitting before encoding;
* packed storage (8 spikes per byte): :class:`SpikeWriter` writes every spike dataset;
  :func:`save_spikes` (an array), :func:`encode_to_file` (windows -> encoded dataset on
  disk, batch by batch) and :class:`eegsnn.encode.shards.ShardWriter` build on it;
  :func:`load_spikes` reads one;
* :mod:`eegsnn.encode.codes`: the per-method codes of :class:`EEGEncoder`.
"""

from __future__ import annotations

from eegsnn.encode.dataset import encode_to_file, packing_for
from eegsnn.encode.eeg import METHODS, EEGEncoder, flat_summary, flat_windows, window_stats
from eegsnn.encode.filterbank import DEFAULT_BANDS, filter_bank, resolve_bands
from eegsnn.encode.functional import (
    bernoulli,
    bin_counts,
    bin_mean,
    delta,
    latency,
    latency_times,
    level_crossings,
    rate,
    rate_from_thresholds,
    rate_thresholds,
    send_on_delta_counts,
    snr_db,
    uniform16,
)
from eegsnn.encode.metrics import firing_rate_hz, group_by, sparsity, spike_counts
from eegsnn.encode.storage import (
    SpikeDataset,
    SpikeWriter,
    file_sha256,
    load_spikes,
    save_spikes,
)

__all__ = [
    "DEFAULT_BANDS",
    "METHODS",
    "EEGEncoder",
    "SpikeDataset",
    "SpikeWriter",
    "bernoulli",
    "bin_counts",
    "bin_mean",
    "delta",
    "encode_to_file",
    "file_sha256",
    "filter_bank",
    "firing_rate_hz",
    "flat_summary",
    "flat_windows",
    "group_by",
    "latency",
    "latency_times",
    "level_crossings",
    "load_spikes",
    "packing_for",
    "rate",
    "rate_from_thresholds",
    "rate_thresholds",
    "resolve_bands",
    "save_spikes",
    "send_on_delta_counts",
    "snr_db",
    "sparsity",
    "spike_counts",
    "uniform16",
    "window_stats",
]
