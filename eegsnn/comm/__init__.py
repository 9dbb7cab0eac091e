"""Processes working together: the process group, collectives and work sharding.

The communication layer under eegsnn's data parallelism, on :mod:`mlx.core.distributed`:
:mod:`eegsnn.comm.group` (who am I, how many are we; all-reduce, broadcast, barrier,
gradient averaging, parameter sync) and :mod:`eegsnn.comm.sharding` (which slice of a batch,
a sample range or a file list is this process's). It imports nothing of eegsnn but
:mod:`eegsnn.errors`, so every layer may use it: the training engine
(:func:`eegsnn.train.fit` under ``mlx.launch``), spike shards
(:mod:`eegsnn.encode.shards`) and the user-facing :mod:`eegsnn.distributed`, which
re-exports all of it.
"""

from eegsnn.comm.group import (
    BACKENDS,
    DistContext,
    all_sum,
    all_sum_host,
    average_gradients,
    barrier,
    broadcast_from_main,
    broadcast_json,
    broadcast_state,
    init_distributed,
    launched_rank,
    single_process,
    sync_parameters,
)
from eegsnn.comm.sharding import (
    global_batches,
    local_batches,
    shard_items,
    shard_range,
    shard_weight,
)

__all__ = [
    "BACKENDS",
    "DistContext",
    "all_sum",
    "all_sum_host",
    "average_gradients",
    "barrier",
    "broadcast_from_main",
    "broadcast_json",
    "broadcast_state",
    "global_batches",
    "init_distributed",
    "launched_rank",
    "local_batches",
    "shard_items",
    "shard_range",
    "shard_weight",
    "single_process",
    "sync_parameters",
]
