"""Compact spike storage: bit-packed along time (8 spikes per byte), unpacked per batch.

An encoded dataset is a folder (suggested suffix ``.spikes``)::

    data.spikes/
      spikes.npy   uint8 [N, L, ceil(T/8)]  numpy.packbits along time, bitorder "little"
                   (or uint8/uint16 [N, L, T] event counts when the code is not 0/1, below)
      labels.npy   int64 [N]                (only when labels were given)
      meta.json    format, version, shapes, packing, dtype, sha256 of both arrays, the
                   eegsnn/MLX/NumPy versions that wrote it, and the caller's metadata
                   (channels, sfreq_hz, encoder config, layout, sources)

``N`` windows, ``L`` lines, ``T`` steps. Writing goes to a temporary folder beside the
target, then ``os.replace``: a reader never sees a half-written dataset. Loading memory-maps
``spikes.npy`` and verifies its checksum; :meth:`SpikeDataset.batch` unpacks only the
windows asked for, as ``mx.array [T, b, L]`` float32 (time-major, what the SNN layers take).

Codes that are not 0/1 (event counts from ``overflow="count"``) are stored losslessly as
one integer per entry (``"packing": "counts"``): uint8 while every count is at most 255,
uint16 (``"dtype": "uint16"`` in ``meta.json``, format version 2) when a step holds more
events, up to 65535; signed or fractional values are refused (split signed spikes into
ON/OFF lines first). ``"version"`` is the oldest format version that reads the dataset: 1
for every dataset with uint8 storage (what eegsnn releases before uint16 counts read), 2
for uint16 counts.

Replacing: with ``overwrite`` a writer replaces only an existing eegsnn spike dataset (a
folder whose ``meta.json`` says ``"format": "eegsnn-spikes"``), never another file or
folder, nor the current folder (:func:`check_target`).

One writer: :class:`SpikeWriter` is the only code that writes a spike dataset. The other
ways to write one build on it: :func:`save_spikes` (an array in memory, one append),
:func:`eegsnn.encode.encode_to_file` (windows encoded batch by batch) and
:class:`eegsnn.encode.shards.ShardWriter` (a stream cut into datasets of ``shard_windows``).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import mlx.core as mx
import numpy as np

from eegsnn.env import package_versions
from eegsnn.errors import ChecksumError, ConfigError, DataError
from eegsnn.io.files import file_in_the_way, holds_cwd, in_the_way, sha256_file

__all__ = [
    "FORMAT",
    "VERSION",
    "SpikeDataset",
    "SpikeWriter",
    "check_target",
    "file_sha256",
    "is_spike_dataset",
    "load_spikes",
    "save_spikes",
]

FORMAT = "eegsnn-spikes"
#: newest format version (2: event counts may be stored as uint16); load_spikes reads 1 and 2
VERSION = 2
_BITORDER: Final = "little"
#: dtypes of stored event counts, narrowest first (``"packing": "counts"``)
_COUNT_DTYPES: Final = (np.dtype(np.uint8), np.dtype(np.uint16))
#: the most events one entry can hold (uint16)
MAX_COUNT: Final = int(np.iinfo(np.uint16).max)
_CHUNK = 1024  # windows per chunk when a writer repacks its payload on close


#: Hex sha256 of a file (e.g. a source EDF, to record in the dataset's metadata): the one
#: file-hash function of eegsnn, :func:`eegsnn.io.files.sha256_file`, under this module's name.
file_sha256 = sha256_file


def _to_numpy(spikes: object) -> np.ndarray:
    if isinstance(spikes, mx.array):
        return np.asarray(spikes)
    try:
        return np.asarray(spikes)
    except (TypeError, ValueError) as exc:
        raise DataError(f"save_spikes: spikes cannot be read as an array ({exc})") from exc


def _pack(arr: np.ndarray, packing: str, what: str) -> np.ndarray:
    """``[N, L, T]`` spikes -> stored payload for ``packing`` ("bits" or "counts")."""
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: spikes hold NaN or infinite values")
    if packing == "bits":
        if not np.all((arr == 0) | (arr == 1)):
            raise DataError(
                f"{what}: spikes are not 0/1 (found values in [{arr.min()}, {arr.max()}]); "
                "store event counts with packing='counts', or encode with overflow='error' "
                "or 'clip' for 0/1 spikes"
            )
        return np.packbits(arr.astype(bool), axis=-1, bitorder=_BITORDER)
    if np.any(arr < 0) or np.any(arr != np.round(arr)) or np.any(arr > MAX_COUNT):
        raise DataError(
            f"{what}: spikes must be 0/1 or integer event counts in [0, {MAX_COUNT}] "
            f"(found values in [{arr.min()}, {arr.max()}]); split signed spikes into "
            "ON/OFF lines first"
        )
    return arr.astype(_count_dtype(arr))


def _count_dtype(arr: np.ndarray) -> np.dtype:
    """The narrowest of :data:`_COUNT_DTYPES` holding the counts ``arr`` (checked <= 65535)."""
    peak = int(arr.max(initial=0))
    return next(d for d in _COUNT_DTYPES if peak <= np.iinfo(d).max)


def is_spike_dataset(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding an eegsnn spike dataset: its ``meta.json`` reads
    as JSON with ``"format": "eegsnn-spikes"`` (the marker every writer records)."""
    meta_path = Path(path) / "meta.json"
    if not Path(path).is_dir() or not meta_path.is_file():
        return False
    try:
        with open(meta_path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("format") == FORMAT


def check_target(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that a spike dataset may be written at ``path``, before any work is done.

    ``path`` must not be the current folder or one above it; if it exists, ``overwrite``
    must be given and it must be an eegsnn spike dataset (:func:`is_spike_dataset`), the
    only thing a writer replaces; its folder must exist and be writable.

    Raises:
        ConfigError: one line naming the path and the problem.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    full = Path(os.path.abspath(path))
    here = holds_cwd(path)
    if here is not None:
        raise ConfigError(f"{path}: is {here}; name a new folder for the spike dataset (e.g. "
                          "out.spikes)")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ConfigError(f"{path}: already exists; choose another name, or pass "
                              "--overwrite (Python: overwrite=True) to replace it")
        if not is_spike_dataset(path):
            what = ("a folder" if path.is_dir() else "a link to nothing"
                    if not path.exists() else "a file")
            raise ConfigError(f"{path}: {what} that is not an eegsnn spike dataset (no "
                              f"meta.json with format {FORMAT!r}); --overwrite only replaces "
                              "a spike dataset: choose another name")
    parent = full.parent
    blocking = file_in_the_way(parent)
    if blocking is not None:
        raise ConfigError(f"{path}: {in_the_way(blocking)}")
    if not parent.is_dir():
        raise ConfigError(f"{path.parent}: folder does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{path.parent}: folder is not writable (cannot write {path.name})")
    return path


def _labels(labels: object, n: int, what: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise DataError(f"{what}: {arr.shape} labels for {n} windows")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise DataError(f"{what}: labels must be integers")
        if np.any(arr != np.round(arr)):
            raise DataError(f"{what}: labels must be integers")
    return arr.astype(np.int64)


def _json_meta(meta: dict[str, Any] | None, what: str) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(meta if meta is not None else {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}: meta is not JSON-serialisable ({exc})") from exc


class SpikeWriter:
    """Write a spike dataset batch by batch (bounded memory), published atomically on close.

    .. code-block:: python

        with SpikeWriter(path, num_windows=N, num_steps=T, num_lines=L) as w:
            for xb, yb in batches:
                w.append(encoder.transform(xb), yb)     # [T, b, L] time-major
            w.close(meta={...})

    Windows go to a memory-mapped ``spikes.npy`` in a temporary folder beside ``path``; on
    :meth:`close` the checksums and ``meta.json`` are written and the folder is moved into
    place with ``os.replace``. An exception inside the ``with`` block removes the temporary
    folder and leaves any existing dataset at ``path`` untouched.

    Args:
        num_windows: windows the dataset holds (with ``close(partial=True)``: at most).
        packing: ``"bits"`` (0/1 spikes, 8 per byte; a batch that is not 0/1 raises),
            ``"counts"`` (one event count per entry: uint8, widened to uint16 as soon as a
            batch holds a count above 255) or ``"auto"`` (counts while writing; packed to
            bits on :meth:`close` when every entry is 0/1).
        labels: whether every batch comes with labels.
        compress: also deflate the packed array (``spikes.npz``; sparse codes shrink several
            times more). A compressed dataset is read into memory (still packed) when
            opened instead of being memory-mapped.
        overwrite: replace an existing spike dataset at ``path`` on :meth:`close` (never
            anything else; :func:`check_target` checks ``path`` when the writer opens and
            again before the move).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        num_windows: int,
        num_steps: int,
        num_lines: int,
        *,
        packing: str = "bits",
        labels: bool = True,
        compress: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.compress = bool(compress)
        for name, value in (
            ("num_windows", num_windows),
            ("num_steps", num_steps),
            ("num_lines", num_lines),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"SpikeWriter: {name} must be a positive int, got {value!r}")
        if packing not in ("bits", "counts", "auto"):
            raise ConfigError(f"SpikeWriter: packing must be 'bits', 'counts' or 'auto', got "
                              f"{packing!r}")
        check_target(self.path, overwrite=overwrite)
        self.overwrite = bool(overwrite)
        self.num_windows, self.num_steps, self.num_lines = (
            int(num_windows),
            int(num_steps),
            int(num_lines),
        )
        self.packing = packing
        self._pos = 0
        self._closed = False
        self._tmp = self.path.parent / f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}"
        self._tmp.mkdir()
        last = (self.num_steps + 7) // 8 if packing == "bits" else self.num_steps
        self._spikes: np.memmap | None = np.lib.format.open_memmap(  # None once aborted
            self._tmp / "spikes.npy",
            mode="w+",
            dtype=np.uint8,
            shape=(self.num_windows, self.num_lines, last),
        )
        self._labels = np.zeros(self.num_windows, dtype=np.int64) if labels else None

    def append(
        self,
        spikes: mx.array | np.ndarray,
        labels: Sequence[int] | np.ndarray | None = None,
        *,
        time_major: bool = True,
    ) -> None:
        """Add ``spikes [T, b, L]`` (or ``[b, T, L]`` with ``time_major=False``) and labels."""
        if self._closed:
            raise ConfigError(f"{self.path}: writer already closed")
        arr = _to_numpy(spikes)
        if arr.ndim != 3:
            raise DataError(f"{self.path}: expected spikes [T, b, L], got shape {arr.shape}")
        arr = np.transpose(arr, (1, 2, 0)) if time_major else np.transpose(arr, (0, 2, 1))
        b, n_lines, t = arr.shape
        if (t, n_lines) != (self.num_steps, self.num_lines):
            raise DataError(
                f"{self.path}: batch has T={t}, L={n_lines}; the dataset has "
                f"T={self.num_steps}, L={self.num_lines}"
            )
        if self._pos + b > self.num_windows:
            raise DataError(
                f"{self.path}: {self._pos + b} windows written, dataset declared {self.num_windows}"
            )
        payload = _pack(arr, "counts" if self.packing == "auto" else self.packing,
                        str(self.path))
        assert self._spikes is not None  # open until closed (checked above)
        if payload.dtype.itemsize > self._spikes.dtype.itemsize:
            self._widen(payload.dtype)
        if self._labels is not None:
            if labels is None:
                raise DataError(f"{self.path}: this dataset needs labels for every batch")
            self._labels[self._pos : self._pos + b] = _labels(labels, b, str(self.path))
        elif labels is not None:
            raise DataError(f"{self.path}: writer was opened with labels=False")
        assert self._spikes is not None  # (open; _widen keeps it open)
        self._spikes[self._pos : self._pos + b] = payload
        self._pos += b

    def _widen(self, dtype: np.dtype) -> None:
        """Store counts as ``dtype`` (uint16) from now on: the windows written so far are
        copied chunk by chunk into a wider ``spikes.npy`` (bounded memory)."""
        old = self._spikes
        assert old is not None  # (open)
        wide = np.lib.format.open_memmap(self._tmp / "wide.npy", mode="w+", dtype=dtype,
                                         shape=old.shape)
        for a in range(0, self._pos, _CHUNK):
            wide[a:min(self._pos, a + _CHUNK)] = old[a:min(self._pos, a + _CHUNK)]
        wide.flush()
        del old, wide
        self._spikes = None
        os.replace(self._tmp / "wide.npy", self._tmp / "spikes.npy")
        self._spikes = np.lib.format.open_memmap(self._tmp / "spikes.npy", mode="r+")

    def close(self, meta: dict[str, Any] | None = None, *, partial: bool = False) -> Path:
        """Finish: checksums, ``meta.json``, atomic move into place. Returns the folder.

        ``partial``: the dataset holds the windows written so far (at least one), fewer
        than ``num_windows`` allowed (the last shard of a stream).
        """
        if self._closed:
            raise ConfigError(f"{self.path}: writer already closed")
        user_meta = _json_meta(meta, str(self.path))
        if self._pos != self.num_windows and not (partial and self._pos > 0):
            self.abort()
            raise DataError(
                f"{self.path}: only {self._pos} of {self.num_windows} windows were written"
            )
        assert self._spikes is not None  # open until closed (checked above)
        try:
            self._spikes.flush()
            dtype = self._spikes.dtype
            self._finish_payload()
            if self.compress:
                spikes_name = "spikes.npz"
                stored = np.load(self._tmp / "spikes.npy", mmap_mode="r")
                with open(self._tmp / spikes_name, "wb") as f:
                    np.savez_compressed(f, spikes=np.asarray(stored))
                    f.flush()
                    os.fsync(f.fileno())
                del stored
                os.remove(self._tmp / "spikes.npy")
            else:
                spikes_name = "spikes.npy"
                with open(self._tmp / spikes_name, "rb+") as f:
                    os.fsync(f.fileno())
            sums = {spikes_name: file_sha256(self._tmp / spikes_name)}
            if self._labels is not None:
                sums["labels.npy"] = _save_npy(self._tmp / "labels.npy",
                                               self._labels[:self.num_windows])
            if self.packing == "bits":
                dtype = np.dtype(np.uint8)
            record = {
                "format": FORMAT,
                # the oldest version that reads it: 1 unless counts need uint16
                "version": 1 if dtype == np.uint8 else VERSION,
                "num_windows": self.num_windows,
                "num_steps": self.num_steps,
                "num_lines": self.num_lines,
                "packing": self.packing,
                "dtype": dtype.name,
                "bitorder": _BITORDER,
                "has_labels": self._labels is not None,
                "compressed": self.compress,
                "sha256": sums,
                "versions": {k: v for k, v in package_versions().items()
                             if k in ("eegsnn", "mlx", "numpy")},
                "meta": user_meta,
            }
            with open(self._tmp / "meta.json", "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            check_target(self.path, overwrite=self.overwrite)  # (again: it may have changed)
            if self.path.exists():
                trash = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
                os.replace(self.path, trash)
                os.replace(self._tmp, self.path)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _finish_payload(self) -> None:
        """Resolve ``"auto"`` packing and drop unwritten windows: rewrite ``spikes.npy``
        chunk by chunk when either changes what is stored (bounded memory)."""
        raw = self._spikes
        assert raw is not None  # (open)
        n = self._pos
        packing = self.packing
        if packing == "auto":
            packing = "bits" if all(
                int(raw[a:a + _CHUNK].max(initial=0)) <= 1 for a in range(0, n, _CHUNK)
            ) else "counts"
        repack = packing != self.packing and packing == "bits"
        if repack or n < self.num_windows:
            last = (self.num_steps + 7) // 8 if packing == "bits" else self.num_steps
            final = np.lib.format.open_memmap(
                self._tmp / "final.npy", mode="w+",
                dtype=np.uint8 if packing == "bits" else raw.dtype,
                shape=(n, self.num_lines, last))
            for a in range(0, n, _CHUNK):
                part = np.asarray(raw[a:min(n, a + _CHUNK)])
                final[a:a + part.shape[0]] = (
                    np.packbits(part.astype(bool), axis=-1, bitorder=_BITORDER) if repack
                    else part)
            final.flush()
            del final, raw
            os.replace(self._tmp / "final.npy", self._tmp / "spikes.npy")
        self._spikes = None
        self.packing, self.num_windows = packing, n

    def abort(self) -> None:
        """Discard everything written (the temporary folder); ``path`` is left untouched."""
        self._closed = True
        self._spikes = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> SpikeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()


def save_spikes(
    path: str | os.PathLike,
    spikes: mx.array | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    *,
    time_major: bool = True,
    compress: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write spikes (bit-packed along time), labels and metadata to the folder ``path``.

    Args:
        path: target folder (created; its parent must exist).
        spikes: ``[T, N, L]`` (``time_major=True``, what encoders return) or ``[N, T, L]``;
            values 0/1 (packed 8 per byte) or non-negative integer counts <= 65535 (stored
            as uint8, or uint16 when a count exceeds 255).
        labels: optional ``[N]`` integer labels.
        meta: JSON-serialisable metadata (channels, ``sfreq_hz``, encoder config and layout,
            source-file checksums from :func:`file_sha256`...), stored under ``"meta"``.
        compress: deflate the packed array too (see :class:`SpikeWriter`).
        overwrite: replace an existing spike dataset at ``path`` (never anything else:
            :func:`check_target`).

    Returns:
        The dataset folder. For datasets too large for memory use :class:`SpikeWriter`.
    """
    arr = _to_numpy(spikes)
    if arr.ndim != 3:
        raise DataError(
            f"save_spikes: expected spikes [T, N, L] (or [N, T, L] with time_major=False), "
            f"got shape {arr.shape}"
        )
    n = arr.shape[1] if time_major else arr.shape[0]
    t = arr.shape[0] if time_major else arr.shape[1]
    if min(arr.shape) < 1:
        raise DataError(f"save_spikes: empty spikes array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError("save_spikes: spikes hold NaN or infinite values")
    packing = "bits" if np.all((arr == 0) | (arr == 1)) else "counts"
    label_arr = None if labels is None else _labels(labels, n, "save_spikes")
    user_meta = _json_meta(meta, "save_spikes")
    writer = SpikeWriter(
        path,
        n,
        t,
        arr.shape[2],
        packing=packing,
        labels=label_arr is not None,
        compress=compress,
        overwrite=overwrite,
    )
    with writer:
        writer.append(arr, label_arr, time_major=time_major)
        return writer.close(user_meta)


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
        dtype: the stored array's dtype (uint8; uint16 for counts above 255).
    """

    def __init__(self, path: Path, record: dict[str, Any], packed: np.ndarray, labels) -> None:
        self.path = path
        self.num_windows = int(record["num_windows"])
        self.num_steps = int(record["num_steps"])
        self.num_lines = int(record["num_lines"])
        self.packing = str(record["packing"])
        self.dtype = packed.dtype
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
        """Unpack the windows ``indices``: ``[T, b, L]`` uint8 (0/1 or counts), uint16 for
        a dataset whose counts exceed 255."""
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
        mmap: memory-map the packed spikes instead of reading them into memory (not for
            ``compress=True`` datasets, which are read, still packed, into memory).
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
    version = record.get("version")
    if version not in (1, VERSION):
        raise DataError(f"{meta_path}: unsupported version {version!r} (this eegsnn reads "
                        f"versions 1 to {VERSION})")
    dtype_name = record.get("dtype", "uint8")  # (version 1 from older eegsnn: no "dtype")
    allowed = ["uint8"] if version == 1 or record.get("packing") == "bits" else [
        d.name for d in _COUNT_DTYPES]
    if dtype_name not in allowed:
        raise DataError(f"{meta_path}: dtype {dtype_name!r} for packing "
                        f"{record.get('packing')!r} in version {version} (expected "
                        f"{' or '.join(allowed)})")
    spikes_name = "spikes.npz" if record.get("compressed") else "spikes.npy"
    files = [spikes_name] + (["labels.npy"] if record.get("has_labels") else [])
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
        if record.get("compressed"):
            with np.load(path / spikes_name, allow_pickle=False) as archive:
                packed = archive["spikes"]
        else:
            packed = np.load(
                path / spikes_name, mmap_mode="r" if mmap else None, allow_pickle=False
            )
        labels = np.load(path / "labels.npy", allow_pickle=False) if record["has_labels"] else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read arrays ({exc})") from exc
    n, n_lines, t = record["num_windows"], record["num_lines"], record["num_steps"]
    last = (t + 7) // 8 if record["packing"] == "bits" else t
    if packed.shape != (n, n_lines, last) or packed.dtype != np.dtype(dtype_name):
        raise DataError(
            f"{path / spikes_name}: array {packed.shape} {packed.dtype} does not match "
            f"meta.json (expected {(n, n_lines, last)} {dtype_name})"
        )
    if labels is not None and labels.shape != (n,):
        raise DataError(f"{path / 'labels.npy'}: {labels.shape} labels for {n} windows")
    return SpikeDataset(path, record, packed, labels)
