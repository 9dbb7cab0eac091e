"""Scaling out: data-parallel training over :mod:`mlx.core.distributed`.

Launch any training script on several processes with MLX's launcher; eegsnn joins the
group, shards each global batch, averages gradients with one all-reduce, and lets only
rank 0 write::

    mlx.launch --backend ring -n 2 my_train.py          # two processes on this machine
    mlx.launch --hostfile hosts.json my_train.py         # a cluster (ring, MPI or NCCL)

    # my_train.py
    import eegsnn
    from eegsnn.train import fit
    fit(model_config, train_set, train_config, run_dir="runs/a")  # distributed="auto":
    # joins the launcher's group; alone when run as plain `python my_train.py`

    eegsnn mnist --data-dir ... --distributed            # the CLI, under mlx.launch

See ``docs/scaling.md`` for clusters, streaming shards and the 1 TB plan.

This package is the one import for scaling out. It sits above the training engine: the
process group and sharding it re-exports live in :mod:`eegsnn.comm` (a bottom layer, so that
:mod:`eegsnn.train` and :mod:`eegsnn.encode.shards` can use them), the data-parallel step in
:mod:`eegsnn.train.parallel`, the one epoch loop (in memory or streamed from shards) in
:func:`eegsnn.train.fit`; here are ``fit_data_parallel`` (:mod:`.loop`, a wrapper of
``fit``), rank-0 I/O (:mod:`.io`), the local launcher (:mod:`.launch`) and the self-check
(:mod:`.selfcheck`).
"""

from eegsnn.comm import *  # noqa: F403  (the process group and sharding, re-exported)
from eegsnn.comm import __all__ as _comm_all
from eegsnn.distributed.io import main_only, rank_log_path, save_checkpoint_main
from eegsnn.distributed.launch import free_port_block, launch_local
from eegsnn.distributed.loop import DPResult, array_batches, fit_data_parallel, global_mean
from eegsnn.train.parallel import make_data_parallel_step

__all__ = [
    *_comm_all,
    "DPResult",
    "array_batches",
    "fit_data_parallel",
    "free_port_block",
    "global_mean",
    "launch_local",
    "main_only",
    "make_data_parallel_step",
    "rank_log_path",
    "save_checkpoint_main",
]
