"""Splitting work between processes: batches, samples and files.

Data parallelism keeps the *global* batch of a single-process run and gives each of the
``size`` processes a contiguous slice of it, so that the average of the per-process
gradients (weighted by slice size) is the gradient of the global batch:

.. math::

    g = \\frac{1}{N}\\sum_{i=1}^{N} \\nabla \\ell_i
      = \\sum_{r} \\frac{n_r}{N}\\, g_r, \\qquad
    g_r = \\frac{1}{n_r}\\sum_{i \\in \\text{slice } r} \\nabla \\ell_i

(``N`` global batch, ``n_r`` the slice of rank ``r``). Slices follow
:func:`numpy.array_split`: sizes differ by at most one, the first ``N mod size`` ranks get
the larger ones. The sample order of an epoch is the engine's
(:func:`eegsnn.train.data.epoch_order`), so a distributed run visits the same global
batches as a single-process run with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np

from eegsnn.errors import ConfigError

__all__ = ["global_batches", "local_batches", "shard_items", "shard_range", "shard_weight"]

T = TypeVar("T")


def _check_rank(rank: int, size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"world size must be a positive int, got {size!r}")
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < size:
        raise ConfigError(f"rank must be an int in [0, {size}), got {rank!r}")


def shard_range(n: int, rank: int, size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous slice of ``n`` items.

    Matches :func:`numpy.array_split`: the first ``n % size`` ranks get ``n // size + 1``.
    """
    _check_rank(rank, size)
    if n < 0:
        raise ConfigError(f"number of items must be >= 0, got {n}")
    base, extra = divmod(int(n), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard_weight(n_local: int, n_global: int, size: int) -> float:
    """Factor ``size * n_local / n_global`` that makes a mean of per-rank mean gradients the
    global-batch mean gradient (1.0 when the slices are equal)."""
    if n_global <= 0:
        raise ConfigError(f"global batch must be non-empty, got {n_global}")
    return float(size) * float(n_local) / float(n_global)


def global_batches(order: np.ndarray, batch_size: int, *, drop_last: bool = False,
                   ) -> Iterator[np.ndarray]:
    """Consecutive global batches of the sample order ``order`` (host indices)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
    order = np.asarray(order)
    for start in range(0, order.size, batch_size):
        idx = order[start:start + batch_size]
        if drop_last and idx.size < batch_size:
            return
        yield idx


def local_batches(order: np.ndarray, batch_size: int, rank: int, size: int, *,
                  drop_last: bool = False) -> Iterator[tuple[np.ndarray, int]]:
    """This rank's slice of every global batch: ``(local indices, global batch size)``.

    Raises:
        ConfigError: a global batch smaller than ``size`` (some rank would get nothing).
    """
    _check_rank(rank, size)
    for idx in global_batches(order, batch_size, drop_last=drop_last):
        if idx.size < size:
            raise ConfigError(
                f"a global batch of {idx.size} samples cannot feed {size} processes; use "
                f"batch_size >= {size} and drop_last=True (or more data)")
        a, b = shard_range(idx.size, rank, size)
        yield idx[a:b], int(idx.size)


def shard_items(items: Sequence[T], rank: int, size: int) -> list[T]:
    """Round-robin share of ``items`` for rank ``rank`` (files for parallel preparation,
    shards for streaming): items ``rank, rank + size, ...``."""
    _check_rank(rank, size)
    return list(items[rank::size])
