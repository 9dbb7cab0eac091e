"""Compact spike storage: bit-packed along time (8 spikes per byte), unpacked per batch.

An encoded dataset is a folder (suggested suffix ``.spikes``)::

    data.spikes/
      spikes.npy   uint8 [N, L, ceil(T/8)]  numpy.packbits along time, bitorder "little"
                   (or uint8 [N, L, T] event counts when the code is not 0/1, see below)
      labels.npy   int64 [N]                (only when labels were given)
      meta.json    format, version, shapes, packing, sha256 of both arrays, and the
                   caller's metadata (channels, sfreq_hz, encoder config, layout, sources)

``N`` windows, ``L`` lines, ``T`` steps. Writing goes to a temporary folder beside the
target, then ``os.replace``: a reader never sees a half-written dataset. Loading memory-maps
``spikes.npy`` and verifies its checksum; :meth:`SpikeDataset.batch` unpacks only the
windows asked for, as ``mx.array [T, b, L]`` float32 (time-major, what the SNN layers take).

Codes that are not 0/1 (event counts from ``overflow="count"``) are stored losslessly as
one uint8 per entry (``"packing": "counts"``, up to 255 events); signed or fractional values
are refused (split signed spikes into ON/OFF lines first).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.errors import ChecksumError, ConfigError, DataError

__all__ = ["FORMAT", "VERSION", "SpikeDataset", "file_sha256", "load_spikes", "save_spikes"]

FORMAT = "eegsnn-spikes"
VERSION = 1
_BITORDER = "little"


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file (e.g. a source EDF, to record in the dataset's metadata)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as exc:
        raise DataError(f"{path}: cannot read for checksum ({exc.strerror})") from exc
    return h.hexdigest()


def _to_numpy(spikes: object) -> np.ndarray:
    if isinstance(spikes, mx.array):
        return np.asarray(spikes)
    try:
        return np.asarray(spikes)
    except (TypeError, ValueError) as exc:
        raise DataError(f"save_spikes: spikes cannot be read as an array ({exc})") from exc


def save_spikes(
    path: str | os.PathLike,
    spikes: mx.array | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    *,
    time_major: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write spikes (bit-packed along time), labels and metadata to the folder ``path``.

    Args:
        path: target folder (created; its parent must exist).
        spikes: ``[T, N, L]`` (``time_major=True``, what encoders return) or ``[N, T, L]``;
            values 0/1 (packed 8 per byte) or non-negative integer counts <= 255.
        labels: optional ``[N]`` integer labels.
        meta: JSON-serialisable metadata (channels, ``sfreq_hz``, encoder config and layout,
            source-file checksums from :func:`file_sha256`...), stored under ``"meta"``.
        overwrite: replace an existing dataset at ``path``.

    Returns:
        The dataset folder.
    """
    path = Path(path)
    arr = _to_numpy(spikes)
    if arr.ndim != 3:
        raise DataError(
            f"save_spikes: expected spikes [T, N, L] (or [N, T, L] with time_major=False), "
            f"got shape {arr.shape}"
        )
    arr = np.transpose(arr, (1, 2, 0)) if time_major else np.transpose(arr, (0, 2, 1))  # [N,L,T]
    n, n_lines, t = arr.shape
    if t < 1 or n < 1 or n_lines < 1:
        raise DataError(f"save_spikes: empty spikes array (N={n}, L={n_lines}, T={t})")
    if not np.all(np.isfinite(arr)):
        raise DataError("save_spikes: spikes hold NaN or infinite values")
    binary = bool(np.all((arr == 0) | (arr == 1)))
    if binary:
        packing = "bits"
        payload = np.packbits(arr.astype(bool), axis=-1, bitorder=_BITORDER)
    else:
        if np.any(arr < 0) or np.any(arr != np.round(arr)) or np.any(arr > 255):
            raise DataError(
                "save_spikes: spikes must be 0/1 or integer event counts in [0, 255] "
                f"(found values in [{arr.min()}, {arr.max()}]); split signed spikes into "
                "ON/OFF lines first"
            )
        packing = "counts"
        payload = arr.astype(np.uint8)
    label_arr = None
    if labels is not None:
        label_arr = np.asarray(labels)
        if label_arr.shape != (n,):
            raise DataError(f"save_spikes: {label_arr.shape} labels for {n} windows")
        if not np.issubdtype(label_arr.dtype, np.integer):
            if not np.all(np.isfinite(label_arr)) or np.any(label_arr != np.round(label_arr)):
                raise DataError("save_spikes: labels must be integers")
        label_arr = label_arr.astype(np.int64)
    try:
        user_meta = json.loads(json.dumps(meta if meta is not None else {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"save_spikes: meta is not JSON-serialisable ({exc})") from exc
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: already exists (pass overwrite=True to replace it)")
    if not path.parent.is_dir():
        raise ConfigError(f"{path.parent}: folder does not exist")

    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        sums = {"spikes.npy": _save_npy(tmp / "spikes.npy", payload)}
        if label_arr is not None:
            sums["labels.npy"] = _save_npy(tmp / "labels.npy", label_arr)
        record = {
            "format": FORMAT,
            "version": VERSION,
            "num_windows": n,
            "num_steps": t,
            "num_lines": n_lines,
            "packing": packing,
            "bitorder": _BITORDER,
            "has_labels": label_arr is not None,
            "sha256": sums,
            "meta": user_meta,
        }
        with open(tmp / "meta.json", "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            trash = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, trash)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _save_npy(path: Path, arr: np.ndarray) -> str:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return file_sha256(path)


class SpikeDataset:
    """A packed spike dataset on disk; windows are unpacked per batch.

    Attributes:
        path: the dataset folder.
        num_windows, num_steps, num_lines: ``N``, ``T``, ``L``.
        labels: ``[N]`` int64 or ``None``.
        meta: the metadata given to :func:`save_spikes`.
        packing: ``"bits"`` or ``"counts"``.
    """

    def __init__(self, path: Path, record: dict[str, Any], packed: np.ndarray, labels) -> None:
        self.path = path
        self.num_windows = int(record["num_windows"])
        self.num_steps = int(record["num_steps"])
        self.num_lines = int(record["num_lines"])
        self.packing = str(record["packing"])
        self.meta: dict[str, Any] = record.get("meta", {})
        self.labels: np.ndarray | None = labels
        self._packed = packed

    def __len__(self) -> int:
        return self.num_windows

    def __repr__(self) -> str:
        return (
            f"SpikeDataset({str(self.path)!r}, windows={self.num_windows}, "
            f"steps={self.num_steps}, lines={self.num_lines}, packing={self.packing!r})"
        )

    @property
    def layout(self) -> list[dict[str, Any]] | None:
        """The encoder's line layout if it was saved in ``meta["layout"]``."""
        return self.meta.get("layout")

    @property
    def nbytes_packed(self) -> int:
        """Bytes of the stored spike array (without the ``.npy`` header)."""
        return int(self._packed.nbytes)

    @property
    def nbytes_dense(self) -> int:
        """Bytes the same spikes take as a dense float32 ``[T, N, L]`` array."""
        return 4 * self.num_windows * self.num_steps * self.num_lines

    @property
    def compression_ratio(self) -> float:
        """``nbytes_dense / nbytes_packed`` (32x less the padding of ``T`` to bytes)."""
        return self.nbytes_dense / self.nbytes_packed

    def _indices(self, indices: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(indices, slice):
            return np.arange(self.num_windows)[indices]
        idx = np.atleast_1d(np.asarray(indices))
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ConfigError(f"{self.path}: batch indices must be 1-D integers")
        if idx.size and (idx.min() < -self.num_windows or idx.max() >= self.num_windows):
            raise ConfigError(
                f"{self.path}: batch index out of range for {self.num_windows} windows"
            )
        return idx

    def batch_numpy(self, indices: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        """Unpack the windows ``indices``: ``[T, b, L]`` uint8 (0/1 or counts)."""
        idx = self._indices(indices)
        block = np.asarray(self._packed[idx])
        if self.packing == "bits":
            block = np.unpackbits(block, axis=-1, count=self.num_steps, bitorder=_BITORDER)
        return np.ascontiguousarray(np.transpose(block, (2, 0, 1)))

    def batch(self, indices: int | slice | Sequence[int] | np.ndarray) -> mx.array:
        """Unpack the windows ``indices`` as time-major ``mx.array [T, b, L]`` float32."""
        return mx.array(self.batch_numpy(indices)).astype(mx.float32)

    def batch_labels(self, indices: int | slice | Sequence[int] | np.ndarray) -> mx.array:
        """Labels of the windows ``indices`` as ``mx.array [b]`` int32."""
        if self.labels is None:
            raise ConfigError(f"{self.path}: dataset was saved without labels")
        return mx.array(self.labels[self._indices(indices)].astype(np.int32))

    def iter_batches(
        self, batch_size: int, *, shuffle: bool = False, seed: int = 0, drop_last: bool = False
    ) -> Iterator[tuple[mx.array, mx.array | None]]:
        """Yield ``(spikes [T, b, L], labels [b] or None)`` batches (seeded shuffling)."""
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        order = np.arange(self.num_windows)
        if shuffle:
            order = np.random.default_rng(seed).permutation(self.num_windows)
        for start in range(0, self.num_windows, batch_size):
            idx = order[start : start + batch_size]
            if drop_last and idx.size < batch_size:
                break
            yield self.batch(idx), (None if self.labels is None else self.batch_labels(idx))

    def to_dense(self) -> mx.array:
        """All windows as ``[T, N, L]`` float32 (only for small datasets)."""
        return self.batch(np.arange(self.num_windows))


def load_spikes(path: str | os.PathLike, *, verify: bool = True, mmap: bool = True) -> SpikeDataset:
    """Open a dataset written by :func:`save_spikes`.

    Args:
        path: the dataset folder.
        verify: check the sha256 of the stored arrays (:class:`ChecksumError` on mismatch).
        mmap: memory-map the packed spikes instead of reading them into memory.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{path}: not a spike dataset (no meta.json)")
    try:
        with open(meta_path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta_path}: unreadable metadata ({exc})") from exc
    if record.get("format") != FORMAT:
        raise DataError(f"{meta_path}: format {record.get('format')!r}, expected {FORMAT!r}")
    if record.get("version") != VERSION:
        raise DataError(f"{meta_path}: unsupported version {record.get('version')!r}")
    files = ["spikes.npy"] + (["labels.npy"] if record.get("has_labels") else [])
    for name in files:
        fpath = path / name
        if not fpath.is_file():
            raise DataError(f"{fpath}: missing")
        if verify:
            expected = record.get("sha256", {}).get(name)
            actual = file_sha256(fpath)
            if expected != actual:
                raise ChecksumError(
                    f"{fpath}: sha256 {actual[:12]}... does not match the recorded "
                    f"{str(expected)[:12]}... (file changed or corrupt)"
                )
    try:
        packed = np.load(path / "spikes.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        labels = np.load(path / "labels.npy", allow_pickle=False) if record["has_labels"] else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read arrays ({exc})") from exc
    n, n_lines, t = record["num_windows"], record["num_lines"], record["num_steps"]
    last = (t + 7) // 8 if record["packing"] == "bits" else t
    if packed.shape != (n, n_lines, last) or packed.dtype != np.uint8:
        raise DataError(
            f"{path / 'spikes.npy'}: array {packed.shape} {packed.dtype} does not match "
            f"meta.json (expected {(n, n_lines, last)} uint8)"
        )
    if labels is not None and labels.shape != (n,):
        raise DataError(f"{path / 'labels.npy'}: {labels.shape} labels for {n} windows")
    return SpikeDataset(path, record, packed, labels)
