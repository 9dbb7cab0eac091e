"""Encode a whole set of EEG windows to a packed spike dataset, batch by batch.

:func:`encode_to_file` is what the parallel preparation
(:func:`eegsnn.encode.parallel.prepare_recordings`, one dataset per recording) calls. The
``eegsnn encode`` command does not: it runs :func:`eegsnn.pipeline.encode.encode_dataset`,
which encodes the windows in memory with the study's seeds and writes them with
:func:`~eegsnn.encode.storage.save_spikes`. Both write through the one
:class:`~eegsnn.encode.storage.SpikeWriter`.

.. code-block:: python

    enc = EEGEncoder("delta", threshold=0.5, overflow="error", num_steps=4 * 320)
    enc.fit(train_epochs)                       # statistics from the training split only
    ds = encode_to_file("train.spikes", train_epochs, enc, labels=y_train,
                        sources=["S001R03.edf"], batch_size=64)
    spikes = ds.batch([0, 1, 2])                # mx.array [T, 3, L]

Windows are encoded and written batch by batch (:class:`~eegsnn.encode.storage.SpikeWriter`),
so memory stays bounded by one batch; the folder appears atomically when every window is
written. The metadata records everything needed to rebuild the code exactly: the encoder
config with its fitted statistics, the line layout, channels, sampling rate, batch size and
PRNG key (the rate code draws ``mx.random.split(key, n_batches)[i]`` for batch ``i``), and the
sha256 of each source file (file names only, never paths or EDF patient fields).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn import __version__
from eegsnn.encode.eeg import EEGEncoder
from eegsnn.encode.functional import make_key
from eegsnn.encode.inputs import is_mne
from eegsnn.encode.storage import SpikeDataset, SpikeWriter, file_sha256, load_spikes
from eegsnn.errors import ConfigError, DataError

__all__ = ["encode_to_file", "packing_for"]


def packing_for(encoder: EEGEncoder, num_samples: int) -> str:
    """``"bits"`` when the encoder can only emit 0/1 spikes for windows of ``num_samples``,
    else ``"counts"`` (``overflow="count"`` delta codes, or threshold codes with ``T < N``)."""
    if encoder.method == "rate" or encoder.overflow != "count":
        return "bits"
    if encoder.method == "threshold" and encoder.num_steps_for(num_samples) >= num_samples:
        return "bits"  # one crossing per line per sample, one bin or more per sample
    return "counts"


# Windows: numpy/mlx ``[N, C, S]`` or MNE ``Epochs`` (``Any``: MNE has no type stubs).
def _num_windows(X: Any) -> tuple[int, int]:
    if is_mne(X):
        if not hasattr(X, "events"):
            raise DataError("encode_to_file: pass MNE Epochs (windows), not a continuous Raw")
        return len(X), len(X.times)
    shape = X.shape
    if len(shape) != 3:
        raise DataError(f"encode_to_file: expected windows [N, C, S], got shape {tuple(shape)}")
    return int(shape[0]), int(shape[2])


def _batch(X: Any, start: int, stop: int) -> object:
    return X[start:stop]  # an Epochs slice loads only these windows


def encode_to_file(
    path: str | os.PathLike,
    X: object,
    encoder: EEGEncoder,
    labels: Sequence[int] | np.ndarray | None = None,
    *,
    batch_size: int = 64,
    key: mx.array | int | None = None,
    fit: bool = False,
    sources: Sequence[str | os.PathLike] = (),
    meta: dict[str, Any] | None = None,
    packing: str = "auto",
    compress: bool = False,
    overwrite: bool = False,
) -> SpikeDataset:
    """Encode windows ``X`` (``[N, C, S]`` numpy/mlx, or MNE ``Epochs``) and store them packed.

    Args:
        path: dataset folder to create.
        X: the windows.
        encoder: a fitted :class:`EEGEncoder` (or pass ``fit=True`` to fit it on ``X``; for
            a held-out split, fit on the training split instead).
        labels: ``[N]`` integer labels.
        batch_size: windows encoded per step.
        key: PRNG key or seed for the rate code (default ``encoder.seed``).
        sources: files the windows came from; their names and sha256 go into the metadata.
        meta: extra JSON metadata, stored under ``meta["user"]``.
        packing: ``"auto"`` (:func:`packing_for`), ``"bits"`` or ``"counts"``.
        compress: deflate the packed array as well (smaller on disk, read into memory).

    Returns:
        The dataset, opened with :func:`~eegsnn.encode.storage.load_spikes`.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ConfigError(f"encode_to_file: batch_size must be a positive int, got {batch_size!r}")
    if batch_size < 1:
        raise ConfigError(f"encode_to_file: batch_size must be >= 1, got {batch_size}")
    n, num_samples = _num_windows(X)
    if n < 1:
        raise DataError("encode_to_file: no windows to encode")
    if fit:
        encoder.fit(X)
    elif not encoder.is_fitted:
        raise ConfigError("encode_to_file: the encoder is not fitted (fit it, or pass fit=True)")
    if packing == "auto":
        packing = packing_for(encoder, num_samples)
    source_records = []
    for src in sources:
        source_records.append({"file": Path(src).name, "sha256": file_sha256(src)})
    base_key = make_key(encoder.seed if key is None else key)
    n_batches = -(-n // batch_size)
    keys = mx.random.split(base_key, n_batches) if n_batches > 1 else base_key[None]
    label_arr = None if labels is None else np.asarray(labels)
    if label_arr is not None and label_arr.shape != (n,):
        raise DataError(f"encode_to_file: {label_arr.shape} labels for {n} windows")
    num_steps = encoder.num_steps_for(num_samples)
    writer = SpikeWriter(
        path,
        n,
        num_steps,
        encoder.n_lines,
        packing=packing,
        labels=label_arr is not None,
        compress=compress,
        overwrite=overwrite,
    )
    with writer:
        for i in range(n_batches):
            lo, hi = i * batch_size, min(n, (i + 1) * batch_size)
            spikes = encoder.transform(_batch(X, lo, hi), key=keys[i])
            writer.append(spikes, None if label_arr is None else label_arr[lo:hi])
        assert encoder.ch_names_ is not None  # fitted (checked above)
        record = {
            "channels": list(encoder.ch_names_),
            "sfreq_hz": encoder.sfreq_hz,
            "num_samples": num_samples,
            "encoder": encoder.to_config(),
            "layout": encoder.layout,
            "batch_size": int(batch_size),
            "rate_key": np.asarray(base_key).astype(int).tolist(),
            "sources": source_records,
            "user": meta if meta is not None else {},
        }

        record["eegsnn_version"] = __version__
        writer.close(record)
    return load_spikes(path)
