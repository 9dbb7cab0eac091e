"""On-device datasets, batch order and in-step encoders for the training engine.

A :class:`ArrayDataset` holds the whole dataset as MLX arrays (on the device, built once);
batches are gathered with MLX indexing, so an epoch needs no host copies.

Two input layouts:

* ``time_major=True``: ``inputs [T, N, ...]`` are already spike trains (e.g. the EEG
  encoder's output); a batch is ``inputs[:, idx]`` -> ``[T, B, ...]``.
* ``time_major=False``: ``inputs [N, ...]`` are static samples (e.g. MNIST pixels, uint8 or
  float); an *encoder* ``(x [B, ...], key) -> [T, B, ...]`` turns a batch into spikes inside
  the training step, with an explicit PRNG key.

What :func:`eegsnn.train.loop.fit` trains on is a :class:`BatchSource`: anything with
``__len__`` and ``iter_batches(batch_size, *, epoch, seed, drop_last, rank, world_size)``
yielding this rank's ``(x, y, n_global)`` of every global batch of an epoch.
:class:`ArrayDataset` is one (the engine's order below), so is
:class:`eegsnn.encode.shards.ShardedSpikes` (packed spike shards streamed from disk), and
:class:`StreamedBatches` makes one of a ``batches(epoch)`` callable that fixed its batches.

Packed spike trains: ``ArrayDataset(..., packed=True)`` stores binary spike trains ``[T, N,
F]`` as :func:`numpy.packbits` bytes along the features (``uint8 [T, N, ceil(F / 8)]``, big
bit order: 1/32 of float32) and its batches stay packed: the fused CPU step projects their
bits directly (:mod:`eegsnn.kernels.sparse_projection` reads packed rows) and the MLX step
unpacks them inside the step (:func:`unpack_spikes`); the results are those of the float
batches. :func:`is_packed_batch` tells a packed batch from a plain one.

Reproducibility: the sample order of epoch ``e`` is a permutation drawn from
``numpy.random.default_rng([seed, e])`` and the PRNG key of step ``s`` of epoch ``e`` from
``SeedSequence([seed, e, s])``; both depend only on ``(seed, epoch, step)``, so a resumed run
sees exactly the batches and spikes an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, cast

import mlx.core as mx
import numpy as np

from eegsnn.comm.sharding import shard_range
from eegsnn.encode import rate_thresholds
from eegsnn.errors import ConfigError

Encoder = Callable[[mx.array, mx.array], mx.array]

#: one step's data on this rank: ``(x local, y local, size of the global batch)``
Batch = tuple[mx.array, mx.array, int]


class BatchSource(Protocol):
    """Training data of :func:`eegsnn.train.loop.fit` (see the module docstring).

    ``iter_batches`` yields, for epoch ``epoch``, this rank's slice ``(x, y)`` of each
    global batch of ``batch_size`` and the global batch's size; the order must depend only
    on ``(seed, epoch)`` so that every rank (and a resumed run) sees the same batches, and
    every rank must yield the same number of batches (each step is an all-reduce).
    ``len()`` is the number of samples (0 when a stream does not know it).
    """

    def __len__(self) -> int: ...

    def iter_batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0,
                     drop_last: bool = True, rank: int = 0, world_size: int = 1,
                     ) -> Iterator[Batch]: ...


class RateEncoder(Protocol):
    """What :func:`rate_encoder` returns: an :data:`Encoder` carrying its parameters
    (``kind == "rate"``; ``eegsnn.train.fused`` reads ``num_steps`` and ``scale``)."""

    num_steps: int
    scale: float
    kind: str

    def __call__(self, x: mx.array, key: mx.array, /) -> mx.array: ...


#: Time steps packed per chunk by :func:`pack_spikes` (bounds its temporary memory).
_PACK_CHUNK_STEPS = 64


def pack_spikes(x: mx.array | np.ndarray, where: str = "inputs") -> mx.array:
    """Binary spike trains ``[T, N, F]`` (any dtype, values 0 or 1) -> ``uint8 [T, N,
    ceil(F / 8)]`` :func:`numpy.packbits` bytes along the features (big bit order).

    Raises:
        ConfigError: not 3-d, or a value other than 0 and 1.
    """
    host = np.asarray(x)
    if host.ndim != 3:
        raise ConfigError(f"{where}: packed spikes must be [T, N, F], got {list(host.shape)}")
    out = np.empty((*host.shape[:2], (host.shape[2] + 7) // 8), np.uint8)
    for a in range(0, host.shape[0], _PACK_CHUNK_STEPS):  # bounded temporaries
        chunk = host[a:a + _PACK_CHUNK_STEPS]
        ones = chunk == 1
        if not np.all(ones | (chunk == 0)):
            raise ConfigError(f"{where}: packed=True needs binary spike trains (values 0 "
                              f"and 1); steps {a}-{a + chunk.shape[0] - 1} hold others")
        out[a:a + chunk.shape[0]] = np.packbits(ones, axis=-1)
    return mx.array(out)


def unpack_spikes(x: mx.array, features: int, dtype: mx.Dtype = mx.float32) -> mx.array:
    """``uint8 [..., ceil(F / 8)]`` packed bytes (:func:`pack_spikes`) -> ``[..., F]`` 0/1
    of ``dtype`` (lazy MLX ops: usable inside a compiled step)."""
    shifts = mx.array([7, 6, 5, 4, 3, 2, 1, 0], dtype=mx.uint8)
    bits = mx.right_shift(x[..., None], shifts) & 1
    return bits.reshape(*x.shape[:-1], -1)[..., :features].astype(dtype)


def is_packed_batch(x: mx.array | np.ndarray, features: int) -> bool:
    """Whether ``x`` is a packed batch (:func:`pack_spikes`) of a model input with
    ``features`` lines per step: ``uint8`` with ``ceil(features / 8)`` bytes in the last
    axis. Unambiguous for ``features >= 2`` (an unpacked input has ``features`` there);
    one input line is never packed."""
    return (features >= 2 and x.dtype in (mx.uint8, np.uint8) and x.ndim == 3
            and x.shape[-1] == (features + 7) // 8)


@dataclass
class ArrayDataset:
    """Inputs and integer labels held as MLX arrays.

    Attributes:
        inputs: ``[N, ...]`` (``time_major=False``) or ``[T, N, ...]`` (``time_major=True``);
            with ``packed``: ``uint8 [T, N, ceil(F / 8)]``.
        labels: ``[N]`` integer class labels (stored as int32).
        time_major: see module docstring.
        packed: store binary spike trains ``[T, N, F]`` bit-packed along the features
            (:func:`pack_spikes`; given float/bool/int spikes are packed here) and hand out
            packed batches (module docstring); time-major only.
        features: ``F`` of a packed dataset (set when packing; ``None`` otherwise).
    """

    inputs: mx.array
    labels: mx.array
    time_major: bool = False
    packed: bool = False
    features: int | None = None

    def __post_init__(self) -> None:
        if self.packed:
            if not self.time_major:
                raise ConfigError("packed=True needs time-major spike trains [T, N, F]")
            if self.features is None:  # given unpacked: pack them here
                self.features = int(self.inputs.shape[-1]) if self.inputs.ndim == 3 else None
                self.inputs = pack_spikes(self.inputs)
            if self.features is None or not is_packed_batch(self.inputs, self.features):
                raise ConfigError(f"packed inputs: expected uint8 [T, N, ceil(F / 8)] with "
                                  f"F >= 2, got {list(self.inputs.shape)} "
                                  f"{self.inputs.dtype} for F = {self.features}")
        self.inputs = mx.array(self.inputs) if not isinstance(self.inputs, mx.array) \
            else self.inputs
        labels = np.asarray(self.labels) if not isinstance(self.labels, mx.array) \
            else np.array(self.labels)
        if labels.ndim != 1:
            raise ConfigError(f"labels: expected shape [N], got {list(labels.shape)}")
        if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
            raise ConfigError("labels: expected non-negative integer class labels")
        n_axis = 1 if self.time_major else 0
        if self.inputs.ndim <= n_axis or self.inputs.shape[n_axis] != labels.shape[0]:
            layout = "[T, N, ...]" if self.time_major else "[N, ...]"
            raise ConfigError(f"inputs {layout} have shape {list(self.inputs.shape)} but there "
                              f"are {labels.shape[0]} labels")
        self.labels = mx.array(labels.astype(np.int32))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return int(np.array(self.labels).max()) + 1 if len(self) else 0

    def batch(self, index: mx.array) -> tuple[mx.array, mx.array]:
        """Gather samples ``index [B]`` (lazy MLX ops): ``(x, y)``."""
        x = self.inputs[:, index] if self.time_major else self.inputs[index]
        return x, self.labels[index]

    def iter_batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0,
                     drop_last: bool = True, rank: int = 0, world_size: int = 1,
                     ) -> Iterator[Batch]:
        """The engine's batches of one epoch (:class:`BatchSource`): consecutive
        ``batch_size`` samples of :func:`epoch_order`, each cut into ``world_size``
        contiguous slices (:func:`~eegsnn.comm.sharding.shard_range`) of which this rank
        gathers its own."""
        n = len(self)
        steps = n // batch_size if drop_last else -(-n // batch_size)
        order = mx.array(epoch_order(n, seed, epoch).astype(np.int32))
        for s in range(steps):
            idx = order[s * batch_size:(s + 1) * batch_size]
            n_global = int(idx.shape[0])
            if world_size > 1:
                a, b = shard_range(n_global, rank, world_size)
                idx = idx[a:b]
            x, y = self.batch(idx)
            yield x, y, n_global

    def subset(self, index: np.ndarray) -> ArrayDataset:
        """A new dataset holding only the samples ``index`` (host indices)."""
        idx = mx.array(np.asarray(index, dtype=np.int32))
        x = self.inputs[:, idx] if self.time_major else self.inputs[idx]
        return ArrayDataset(x, np.array(self.labels)[np.asarray(index)], self.time_major,
                            self.packed, self.features)


@dataclass
class StreamedBatches:
    """A ``batches(epoch) -> iterable of (x, y, n_global)`` callable as a
    :class:`BatchSource`, e.g. :meth:`eegsnn.encode.shards.ShardedSpikes.batches` with
    ``partition="shard"``. The callable has fixed batch size, seed, rank and partition
    already: ``iter_batches`` passes only the epoch on.

    Attributes:
        batches: the callable.
        num_samples: samples per epoch when known (``len()``; 0: unknown).
    """

    batches: Callable[[int], Iterable[Batch]]
    num_samples: int = 0

    def __len__(self) -> int:
        return self.num_samples

    def iter_batches(self, batch_size: int, *, epoch: int = 0, seed: int = 0,
                     drop_last: bool = True, rank: int = 0, world_size: int = 1,
                     ) -> Iterator[Batch]:
        return iter(self.batches(epoch))


def epoch_order(num_samples: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """Sample order of one epoch: a permutation that depends only on ``(seed, epoch)``."""
    if not shuffle:
        return np.arange(num_samples)
    return np.random.default_rng([seed, epoch]).permutation(num_samples)


def step_seed(seed: int, epoch: int, step: int) -> int:
    """64-bit PRNG seed of one training step, a function of ``(seed, epoch, step)`` only."""
    state = np.random.SeedSequence([seed, epoch, step]).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 32 | int(state[1])


def oversample(y: np.ndarray, seed: int) -> np.ndarray:
    """Indices into ``y`` with every class repeated up to the largest class's count
    (class balancing of a training set; the pipeline and ``SNNClassifier`` both use it).

    Each class keeps all its windows, then draws the missing ones (without replacement
    while possible) with ``numpy.random.default_rng([seed, 17])``; sorted result.
    """
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng([seed, 17])
    classes, counts = np.unique(y, return_counts=True)
    target = counts.max()
    out = []
    for c, n in zip(classes, counts, strict=True):
        members = np.flatnonzero(y == c)
        out.append(members)
        extra = target - n
        while extra > 0:
            take = min(extra, n)
            out.append(rng.choice(members, size=take, replace=False))
            extra -= take
    return np.sort(np.concatenate(out))


def split_indices(num_samples: int, fraction: float, seed: int,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(num_samples)`` into (train, validation) with ``fraction`` for validation.

    Stratified by ``labels`` when given (each class split in the same proportion).
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng([seed, 7919])
    if labels is None:
        order = rng.permutation(num_samples)
        n_val = max(1, round(num_samples * fraction))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    labels = np.asarray(labels)
    val = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        val.append(members[: max(1, round(members.size * fraction))])
    val_idx = np.sort(np.concatenate(val))
    train_idx = np.setdiff1d(np.arange(num_samples), val_idx)
    return train_idx, val_idx


def rate_encoder(num_steps: int, scale: float = 1.0) -> RateEncoder:
    r"""Bernoulli rate coding: ``x [B, ...]`` in ``[0, 1]`` (or uint8 ``0-255``, read as
    ``x / 255``) -> spikes ``[T, B, ...]`` float32 with :math:`P(S_t = 1) = \min(1,
    \text{scale}\cdot x)`, independent over time, batch and features.

    Implementation: each sample compares a 16-bit uniform integer :math:`u` with the
    threshold :math:`\mathrm{round}(65536\,p)`, so :math:`P(S = 1)` equals :math:`p` to
    within :math:`2^{-17}` (exactly 0 for :math:`p = 0` and 1 for :math:`p = 1`). The 16-bit
    integers are the raw Threefry words of :func:`mlx.core.random.split` (two 32-bit words
    per key, viewed as four uint16): half the random-word generation of
    ``mx.random.uniform``, which makes one float per 32-bit word and was the largest cost of
    a training step after the two dense matmuls. The key makes the spikes reproducible.
    """
    if int(num_steps) < 1:
        raise ConfigError(f"num_steps must be >= 1, got {num_steps}")
    if not scale > 0:
        raise ConfigError(f"scale must be > 0, got {scale}")

    def encode(x: mx.array, key: mx.array) -> mx.array:
        threshold = rate_thresholds(x, gain=scale)
        shape = (num_steps, *x.shape)
        size = int(np.prod(shape))
        words = mx.random.split(key, (size + 3) // 4)            # [size/4, 2] uint32
        u = mx.view(words, mx.uint16).reshape(-1)
        if u.shape[0] != size:
            u = u[:size]
        u = u.reshape(shape).astype(mx.uint32)
        return (u < threshold).astype(mx.float32)

    rate = cast(RateEncoder, encode)
    rate.num_steps = num_steps
    rate.scale = float(scale)
    rate.kind = "rate"
    return rate
