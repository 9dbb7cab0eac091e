"""Streaming packed spike shards: train on datasets larger than memory.

A sharded dataset is a folder with ``index.json`` and a list of shards, each an ordinary
packed spike dataset (:mod:`eegsnn.encode.storage`, bit-packed along time)::

    corpus.shards/
      index.json           format, T, L, packing, [{"path": ..., "num_windows": k}, ...]
      shard-00000.spikes/  (SpikeDataset folders; or any existing .spikes folders, e.g. one
      shard-00001.spikes/   per recording from eegsnn.encode.parallel, indexed in place)

:class:`ShardWriter` cuts a stream of encoded batches into shards of ``shard_windows``;
:func:`index_shards` indexes existing spike datasets without copying them.

:class:`ShardedSpikes` streams batches for training with at most ``shards_in_memory``
shards resident (packed) at a time:

* epoch ``e`` visits shards in the order ``default_rng([seed, e]).permutation(S)``; groups of
  ``shards_in_memory`` consecutive shards are loaded together and their windows permuted
  with ``default_rng([seed, e, g])``; so the order depends only on ``(seed, epoch)``, and a
  larger ``shards_in_memory`` mixes windows across more shards;
* global batches of ``batch_size`` are cut from that stream (a batch may span a group
  boundary; the remainder carries over);
* data parallel (``world_size > 1``), ``partition="batch"``: every rank walks the same
  stream and takes its :func:`~eegsnn.comm.sharding.shard_range` slice of each
  global batch (exactly the single-process batches); ``partition="shard"``: rank ``r``
  reads only shards ``r, r + size, ...`` of the epoch order (1/size of the I/O) with local
  batches of ``batch_size // size``, and every rank stops after the same number of steps
  (no rank waits in an all-reduce for a peer that has run out).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.comm.sharding import shard_items, shard_range
from eegsnn.encode.dataset import packing_for
from eegsnn.encode.storage import SpikeDataset, SpikeWriter, load_spikes
from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_write_text
from eegsnn.preprocess.lazy import iter_lazy_windows

__all__ = ["INDEX_FORMAT", "ShardWriter", "ShardedSpikes", "encode_recordings_to_shards",
           "index_shards"]

INDEX_FORMAT = "eegsnn-spike-shards"
INDEX_VERSION = 1


def _write_index(folder: Path, shards: list[dict[str, Any]], meta: dict[str, Any] | None,
                 ) -> Path:
    if not shards:
        raise DataError(f"{folder}: no shards to index")
    first = shards[0]
    for s in shards[1:]:
        for k in ("num_steps", "num_lines", "packing", "has_labels"):
            if s[k] != first[k]:
                raise DataError(f"{folder}: shard {s['path']} has {k}={s[k]!r}, shard "
                                f"{first['path']} has {first[k]!r}")
    record = {"format": INDEX_FORMAT, "version": INDEX_VERSION,
              "num_windows": int(sum(s["num_windows"] for s in shards)),
              "num_steps": first["num_steps"], "num_lines": first["num_lines"],
              "packing": first["packing"], "has_labels": first["has_labels"],
              "shards": [{"path": s["path"], "num_windows": s["num_windows"]} for s in shards],
              "meta": meta or {}}
    path = folder / "index.json"
    atomic_write_text(path, json.dumps(record, indent=1))
    return path


def _describe(ds: SpikeDataset, rel: str) -> dict[str, Any]:
    return {"path": rel, "num_windows": ds.num_windows, "num_steps": ds.num_steps,
            "num_lines": ds.num_lines, "packing": ds.packing,
            "has_labels": ds.labels is not None}


def index_shards(folder: str | os.PathLike, datasets: Sequence[str | os.PathLike],
                 meta: dict[str, Any] | None = None) -> Path:
    """Write ``folder/index.json`` over existing spike datasets (no copy).

    Paths are stored relative to ``folder``; every dataset must share ``T``, ``L``,
    packing and labels. Returns the index path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for d in datasets:
        ds = load_spikes(d, verify=False)
        rel = os.path.relpath(Path(d).resolve(), folder.resolve())
        shards.append(_describe(ds, rel))
    return _write_index(folder, shards, meta)


class ShardWriter:
    """Cut a stream of encoded batches into shards (memory: one batch).

    .. code-block:: python

        with ShardWriter("corpus.shards", shard_windows=2048) as w:
            for X, y in windows_in_chunks:               # e.g. iter_lazy_windows
                w.append(encoder.transform(X), y)        # [T, b, L]
        ds = ShardedSpikes("corpus.shards")

    Every shard is written by a :class:`~eegsnn.encode.storage.SpikeWriter` as the
    batches arrive (the spike writer every path uses); the index is written on close.

    Args:
        path: the folder (created; must not hold an index unless ``overwrite``).
        shard_windows: windows per shard (the last may be smaller). Choose so that a
            packed shard (``shard_windows * L * T / 8`` bytes) is tens of MB.
        meta: JSON metadata stored in the index (encoder config, channels, sources).
        packing: of every shard: ``"bits"``, ``"counts"`` or ``"auto"`` (each shard bits
            when all its entries are 0/1; shards that differ cannot be indexed together,
            so pass :func:`eegsnn.encode.packing_for` of the encoder when it is known).
    """

    def __init__(self, path: str | os.PathLike, *, shard_windows: int = 4096,
                 meta: dict[str, Any] | None = None, overwrite: bool = False,
                 packing: str = "auto") -> None:
        if isinstance(shard_windows, bool) or not isinstance(shard_windows, int) \
                or shard_windows < 1:
            raise ConfigError(f"shard_windows must be a positive int, got {shard_windows!r}")
        if packing not in ("bits", "counts", "auto"):
            raise ConfigError(f"ShardWriter: packing must be 'bits', 'counts' or 'auto', got "
                              f"{packing!r}")
        self.path = Path(path)
        if (self.path / "index.json").exists() and not overwrite:
            raise ConfigError(f"{self.path}: already holds a sharded dataset "
                              "(pass overwrite=True)")
        self.path.mkdir(parents=True, exist_ok=True)
        self.shard_windows = shard_windows
        self.meta = meta
        self.packing = packing
        self._writer: SpikeWriter | None = None  # the shard being written
        self._n = 0  # windows in that shard
        self._shards: list[dict[str, Any]] = []
        self._closed = False

    def append(self, spikes: mx.array | np.ndarray, labels: Sequence[int] | np.ndarray,
               ) -> None:
        """Add ``spikes [T, b, L]`` (time-major, 0/1 or counts) with ``labels [b]``."""
        if self._closed:
            raise ConfigError(f"{self.path}: writer already closed")
        arr = np.asarray(spikes)
        if arr.ndim != 3:
            raise DataError(f"{self.path}: expected spikes [T, b, L], got {arr.shape}")
        lab = np.asarray(labels)
        if lab.shape != (arr.shape[1],):
            raise DataError(f"{self.path}: {lab.shape} labels for {arr.shape[1]} windows")
        start = 0
        while start < arr.shape[1]:
            if self._writer is None:
                name = f"shard-{len(self._shards):05d}.spikes"
                self._writer = SpikeWriter(self.path / name, self.shard_windows, arr.shape[0],
                                           arr.shape[2], packing=self.packing, labels=True,
                                           overwrite=True)
            take = min(self.shard_windows - self._n, arr.shape[1] - start)
            try:
                self._writer.append(arr[:, start:start + take], lab[start:start + take])
            except BaseException:
                self.abort()
                raise
            self._n += take
            start += take
            if self._n == self.shard_windows:
                self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            return
        writer, self._writer, self._n = self._writer, None, 0
        ds = load_spikes(writer.close(partial=True), verify=False)
        self._shards.append(_describe(ds, writer.path.name))

    def close(self) -> Path:
        """Write the last shard and the index; returns the folder."""
        if self._closed:
            raise ConfigError(f"{self.path}: writer already closed")
        self._flush()
        self._closed = True
        _write_index(self.path, self._shards, self.meta)
        return self.path

    def abort(self) -> None:
        """Drop the shard being written and write no index (finished shards stay)."""
        if self._writer is not None:
            self._writer.abort()
        self._writer, self._n, self._closed = None, 0, True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self._closed:
            self.close()
        self.abort()


class ShardedSpikes:
    """A sharded packed spike dataset streamed from disk (see the module docstring).

    Attributes:
        path: the folder; num_windows, num_steps, num_lines: ``N``, ``T``, ``L``;
        shard_sizes: windows per shard; meta: the index metadata.
        max_resident_windows: most windows held in memory at once by the last iteration
            (packed shards + carried-over remainder), for checking the memory bound.
    """

    def __init__(self, path: str | os.PathLike, *, verify: bool = False,
                 packed_batches: bool = False) -> None:
        self.path = Path(path)
        #: yield batches as bits packed along the lines (``uint8 [T, b, ceil(L / 8)]``,
        #: :func:`eegsnn.train.data.pack_spikes`' layout, which the training steps take:
        #: the fused CPU step indexes the bits without unpacking) instead of float32
        #: ``[T, b, L]``; only for ``packing: bits`` shards of 2 or more lines
        self.packed_batches = bool(packed_batches)
        index = self.path / "index.json"
        try:
            record = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{index}: not a readable shard index ({exc})") from exc
        if record.get("format") != INDEX_FORMAT or record.get("version") != INDEX_VERSION:
            raise DataError(f"{index}: not an eegsnn shard index (format "
                            f"{record.get('format')!r} v{record.get('version')!r})")
        self.num_windows = int(record["num_windows"])
        self.num_steps = int(record["num_steps"])
        self.num_lines = int(record["num_lines"])
        self.packing = str(record["packing"])
        self.has_labels = bool(record["has_labels"])
        self.meta: dict[str, Any] = record.get("meta", {})
        self.shard_paths = [self.path / s["path"] for s in record["shards"]]
        self.shard_sizes = np.array([int(s["num_windows"]) for s in record["shards"]])
        self.verify = verify
        self.max_resident_windows = 0
        self.shard_loads = 0
        for p in self.shard_paths:
            if not (p / "meta.json").is_file():
                raise DataError(f"{p}: shard listed in {index} is missing")
        if self.packed_batches and (self.packing != "bits" or self.num_lines < 2):
            raise ConfigError(f"{index}: packed_batches needs 0/1 spikes stored as bits on 2 "
                              f"or more lines (packing {self.packing!r}, {self.num_lines} "
                              f"lines)")

    def __len__(self) -> int:
        return self.num_windows

    def __repr__(self) -> str:
        return (f"ShardedSpikes({str(self.path)!r}, windows={self.num_windows}, "
                f"shards={len(self.shard_paths)}, steps={self.num_steps}, "
                f"lines={self.num_lines})")

    @property
    def num_shards(self) -> int:
        return len(self.shard_paths)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        ds = load_spikes(self.shard_paths[i], verify=self.verify)
        if (ds.num_windows, ds.num_steps, ds.num_lines) != \
                (int(self.shard_sizes[i]), self.num_steps, self.num_lines):
            raise DataError(f"{self.shard_paths[i]}: shape differs from the index")
        self.shard_loads += 1
        packed = np.array(ds._packed)  # read the packed shard into memory, once
        labels = (ds.labels if ds.labels is not None
                  else np.full(ds.num_windows, -1, dtype=np.int64))
        return packed, labels

    def _unpack(self, packed: np.ndarray) -> mx.array:
        """Stored ``[b, L, T/8]`` (bits along time) -> ``[T, b, L]`` float32, or with
        ``packed_batches`` the bits repacked along the lines, ``uint8 [T, b, ceil(L/8)]``."""
        if self.packing == "bits":
            packed = np.unpackbits(packed, axis=-1, count=self.num_steps, bitorder="little")
        steps_first = np.transpose(packed, (2, 0, 1))
        if self.packed_batches:
            return mx.array(np.packbits(steps_first, axis=-1))
        return mx.array(np.ascontiguousarray(steps_first)).astype(mx.float32)

    def shard_order(self, epoch: int, seed: int, shuffle: bool = True) -> np.ndarray:
        if not shuffle:
            return np.arange(self.num_shards)
        return np.random.default_rng([seed, epoch]).permutation(self.num_shards)

    def _stream(self, shards: np.ndarray, epoch: int, seed: int, shuffle: bool,
                group: int, batch: int, drop_last: bool,
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Packed batches ``([b, L, T/8], labels [b])`` of ``batch`` windows."""
        carry_p: np.ndarray | None = None
        carry_y: np.ndarray | None = None
        self.max_resident_windows = 0
        for g, lo in enumerate(range(0, len(shards), group)):
            loaded = [self._load(int(i)) for i in shards[lo:lo + group]]
            packed = np.concatenate([p for p, _ in loaded])
            labels = np.concatenate([y for _, y in loaded])
            del loaded
            if shuffle:
                perm = np.random.default_rng([seed, epoch, g]).permutation(len(labels))
                packed, labels = packed[perm], labels[perm]
            if carry_p is not None:
                packed = np.concatenate([carry_p, packed])
                labels = np.concatenate([carry_y, labels])
            self.max_resident_windows = max(self.max_resident_windows, len(labels))
            full = len(labels) // batch * batch
            for a in range(0, full, batch):
                yield packed[a:a + batch], labels[a:a + batch]
            carry_p, carry_y = packed[full:], labels[full:]
        if carry_p is not None and carry_y is not None and len(carry_y) and not drop_last:
            yield carry_p, carry_y

    def iter_batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0,
                     shuffle: bool = True, drop_last: bool = False, rank: int = 0,
                     world_size: int = 1, partition: str = "batch",
                     shards_in_memory: int = 1,
                     ) -> Iterator[tuple[mx.array, mx.array, int]]:
        """Yield ``(spikes [T, b, L] float32, labels [b] int32, global batch size)``
        (``packed_batches``: ``uint8 [T, b, ceil(L / 8)]`` spikes).

        Args:
            batch_size: the global batch (``partition="shard"``: split evenly over ranks).
            epoch, seed, shuffle: the reproducible order (module docstring).
            drop_last: drop a final incomplete batch.
            rank, world_size: this process in the group (defaults: alone).
            partition: ``"batch"`` (exact single-process batches) or ``"shard"``.
            shards_in_memory: shards loaded and mixed together (memory bound).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        if shards_in_memory < 1:
            raise ConfigError(f"shards_in_memory must be >= 1, got {shards_in_memory}")
        if partition not in ("batch", "shard"):
            raise ConfigError(f"partition must be 'batch' or 'shard', got {partition!r}")
        order = self.shard_order(epoch, seed, shuffle)
        if partition == "batch" or world_size == 1:
            if world_size > 1 and batch_size < world_size:
                raise ConfigError(f"batch_size {batch_size} < {world_size} processes")
            for p, y in self._stream(order, epoch, seed, shuffle, shards_in_memory,
                                     batch_size, drop_last):
                a, b = shard_range(len(y), rank, world_size)
                yield self._unpack(p[a:b]), mx.array(y[a:b].astype(np.int32)), len(y)
            return
        local = batch_size // world_size
        if local < 1:
            raise ConfigError(f"batch_size {batch_size} < {world_size} processes")
        mine = np.array(shard_items(list(order), rank, world_size), dtype=np.int64)
        per_rank = [int(self.shard_sizes[shard_items(list(order), r, world_size)].sum())
                    for r in range(world_size)]
        steps = min(per_rank) // local  # same step count on every rank
        for s, (p, y) in enumerate(self._stream(mine, epoch, seed + 1000003 * rank, shuffle,
                                                shards_in_memory, local, True)):
            if s >= steps:
                return
            yield self._unpack(p), mx.array(y.astype(np.int32)), local * world_size

    def batches(self, batch_size: int, *, seed: int = 0, ctx: Any = None,
                shuffle: bool = True, drop_last: bool = True, partition: str = "batch",
                shards_in_memory: int = 1):
        """``batches(epoch)`` with these options fixed, for
        :class:`eegsnn.train.data.StreamedBatches` (``fit``) or
        :func:`eegsnn.distributed.fit_data_parallel`. (``ShardedSpikes`` itself is a
        ``BatchSource`` of :func:`eegsnn.train.fit`, with ``partition="batch"``.)"""
        rank, size = (0, 1) if ctx is None else (ctx.rank, ctx.size)

        def fn(epoch: int) -> Iterator[tuple[mx.array, mx.array, int]]:
            return self.iter_batches(batch_size, epoch=epoch, seed=seed, shuffle=shuffle,
                                     drop_last=drop_last, rank=rank, world_size=size,
                                     partition=partition, shards_in_memory=shards_in_memory)

        return fn

    def labels(self) -> np.ndarray:
        """All labels in shard order (reads only the small label files)."""
        out = []
        for p in self.shard_paths:
            out.append(np.load(p / "labels.npy", allow_pickle=False)
                       if self.has_labels else np.full(0, -1))
        return np.concatenate(out)


def encode_recordings_to_shards(
    paths: Sequence[str | os.PathLike], config: dict[str, Any], encoder: Any,
    out: str | os.PathLike, *, chunk_s: float = 300.0, shard_windows: int = 4096,
    batch_size: int = 64, seed: int = 0, root: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> ShardedSpikes:
    """Long recordings -> packed spike shards, never holding a whole recording.

    Each recording is windowed lazily (:func:`eegsnn.preprocess.lazy.iter_lazy_windows`,
    one ``chunk_s`` chunk at a time), each chunk is encoded in batches of ``batch_size``
    by the *fitted* ``encoder`` (:class:`~eegsnn.encode.EEGEncoder`; the rate code draws
    batch ``i`` with seed ``seed + i``) and appended to a :class:`ShardWriter` whose
    shards all have the packing the encoder can emit (:func:`eegsnn.encode.packing_for`).
    Memory: one chunk of signal + one encoded batch.

    Raises:
        ConfigError: an unfitted encoder. DataError: recordings with different channels.
    """
    if not getattr(encoder, "is_fitted", False):
        raise ConfigError("encode_recordings_to_shards: fit the encoder on training windows "
                          "first")
    names = [Path(p).name for p in paths]
    meta = {"encoder": encoder.to_config(), "config": config, "sources": names,
            "chunk_s": chunk_s, "seed": seed}
    first: list[str] | None = None
    counter = 0
    w: ShardWriter | None = None
    try:
        for path in paths:
            it = iter_lazy_windows(path, config, chunk_s=chunk_s, root=root)
            head = next(it)["header"]
            if first is None:
                first = head["ch_names"]
                meta["ch_names"], meta["sfreq_hz"] = first, head["sfreq_hz"]
                meta["class_names"] = head["class_names"]
                # one packing for every shard (what the encoder can emit), so the shards
                # index together whatever each one happens to hold
                w = ShardWriter(out, shard_windows=shard_windows, meta=meta,
                                overwrite=overwrite,
                                packing=packing_for(encoder, head["n_samples"]))
            elif head["ch_names"] != first:
                raise DataError(f"{path}: channels {head['ch_names'][:5]}... differ from "
                                f"{names[0]} ({first[:5]}...); add a 'pick' step")
            assert w is not None  # (opened with the first recording)
            for part in it:
                for a in range(0, len(part["y"]), batch_size):
                    spikes = encoder.transform(part["X"][a:a + batch_size], key=seed + counter)
                    counter += 1
                    w.append(spikes, part["y"][a:a + batch_size])
        if w is None:
            raise DataError(f"{Path(out)}: no recordings to encode into shards")
        w.close()
    except BaseException:
        if w is not None:
            w.abort()
        raise
    return ShardedSpikes(out)
