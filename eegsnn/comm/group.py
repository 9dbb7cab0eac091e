"""Process group: who am I (rank), how many are we (size), and small collectives.

eegsnn uses MLX's own distributed layer (:mod:`mlx.core.distributed`): the processes are
started by ``mlx.launch`` (ring/TCP backend on CPUs and Macs, MPI where installed, NCCL on
NVIDIA GPUs), which tells each process its rank through the environment
(``MLX_RANK`` + ``MLX_HOSTFILE`` for ring, ``OMPI_COMM_WORLD_RANK`` for MPI,
``MLX_WORLD_SIZE`` for NCCL). :func:`init_distributed` joins that group; run as a plain
``python`` process it returns a one-process context (``size == 1``) on which every helper
here is the identity, so the same script runs alone or under ``mlx.launch``.

All collectives are lazy MLX ops; :func:`barrier` and :func:`all_sum_host` evaluate.
:func:`average_gradients` (the data-parallel step's all-reduce) and :func:`sync_parameters`
(rank 0's weights to every replica) work on model/gradient trees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from eegsnn.errors import ConfigError

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
    "init_distributed",
    "launched_rank",
    "single_process",
    "sync_parameters",
]

BACKENDS = ("any", "ring", "mpi", "nccl", "jaccl")

# Environment variables that mark a process started by a launcher, with the backend.
_LAUNCH_ENV = (
    ("MLX_HOSTFILE", "ring"),
    ("MLX_IBV_DEVICES", "jaccl"),
    ("OMPI_COMM_WORLD_RANK", "mpi"),
    ("PMI_RANK", "mpi"),
    ("NCCL_PORT", "nccl"),
)


@dataclass(frozen=True)
class DistContext:
    """One process's view of the process group.

    Attributes:
        group: the :class:`mlx.core.distributed.Group` (``None`` for a single process).
        rank: this process's index, ``0 <= rank < size``.
        size: number of processes (world size).
        backend: backend name (``"ring"``, ``"mpi"``, ``"nccl"``, ...; ``"none"`` alone).
    """

    group: Any
    rank: int
    size: int
    backend: str

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints, logs and reports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def single_process() -> DistContext:
    """The context of a process running alone (rank 0 of 1)."""
    return DistContext(group=None, rank=0, size=1, backend="none")


def _empty_file(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            return not fh.read(4096).strip()
    except OSError:
        return False


def launched_rank() -> tuple[int | None, str | None]:
    """``(rank, backend)`` announced by a launcher in the environment, or ``(None, None)``."""
    for var, backend in _LAUNCH_ENV:
        if var == "MLX_HOSTFILE" and os.environ.get(var) and _empty_file(os.environ[var]):
            continue  # `mlx.launch -n 1` writes an empty hostfile: a single process
        if os.environ.get(var):
            rank = os.environ.get("MLX_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") \
                or os.environ.get("PMI_RANK")
            return (int(rank) if rank is not None and rank.isdigit() else None), backend
    return None, None


def init_distributed(backend: str = "any", *, strict: bool | None = None) -> DistContext:
    """Join the process group that ``mlx.launch`` (or ``mpirun``) started.

    Args:
        backend: ``"any"`` (the launcher's: try each available backend), ``"ring"``,
            ``"mpi"``, ``"nccl"`` or ``"jaccl"``.
        strict: raise if no group can be formed. Default: strict when the environment says
            a launcher started this process (a misconfigured cluster must not silently
            train ``size`` independent copies), lenient otherwise (plain ``python`` runs
            alone with ``size == 1``).

    Returns:
        the :class:`DistContext`.

    Raises:
        ConfigError: unknown backend, or (strict) the group could not be formed.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"distributed backend must be one of {', '.join(BACKENDS)}, got "
                          f"{backend!r}")
    env_rank, env_backend = launched_rank()
    if strict is None:
        strict = env_backend is not None
    if env_backend is None and not strict:
        return single_process()
    if not mx.distributed.is_available(backend):
        if strict:
            raise ConfigError(f"MLX distributed backend {backend!r} is not available in this "
                              "MLX build (Linux CPU wheels ship 'ring'; MPI needs an MPI "
                              "library, NCCL the mlx[cuda] wheels)")
        return single_process()
    try:
        group = mx.distributed.init(strict=bool(strict), backend=backend)
    except RuntimeError as exc:
        raise ConfigError(f"could not join the distributed group (backend {backend!r}, "
                          f"launcher backend {env_backend!r}): {exc}") from exc
    size, rank = int(group.size()), int(group.rank())
    if size == 1:
        return single_process()
    if env_rank is not None and env_rank != rank:
        raise ConfigError(f"launcher says rank {env_rank} but the group says rank {rank}")
    return DistContext(group=group, rank=rank, size=size,
                       backend=env_backend or backend)


def all_sum(tree: Any, ctx: DistContext) -> Any:
    """Sum every array of a tree (dict/list/array) over all processes (lazy)."""
    if not ctx.distributed:
        return tree
    return tree_map(lambda a: mx.distributed.all_sum(a, group=ctx.group), tree)


def all_sum_host(values: np.ndarray | float | list[float], ctx: DistContext) -> np.ndarray:
    """Sum host numbers over all processes; returns float64.

    The values travel as float32: exact for counts below 2**24, fine for metrics.
    """
    arr = np.asarray(values, dtype=np.float32)
    if not ctx.distributed:
        return arr.astype(np.float64)
    out = mx.distributed.all_sum(mx.array(arr), group=ctx.group)
    mx.eval(out)
    return np.asarray(out).astype(np.float64)


def barrier(ctx: DistContext) -> None:
    """Wait until every process reaches this point (an evaluated all_sum of one number)."""
    if ctx.distributed:
        mx.eval(mx.distributed.all_sum(mx.array(1.0), group=ctx.group))


def broadcast_from_main(tree: Any, ctx: DistContext) -> Any:
    """Rank 0's copy of every array in ``tree`` on every process.

    Implemented as ``all_sum`` of rank 0's values and zeros elsewhere (exact: ``x + 0``).
    Used to start all replicas from identical parameters.
    """
    if not ctx.distributed:
        return tree
    keep = ctx.rank == 0

    def bcast(a: mx.array) -> mx.array:
        return mx.distributed.all_sum(a if keep else mx.zeros_like(a), group=ctx.group)

    return tree_map(bcast, tree)


def broadcast_json(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's JSON-able ``obj`` on every process (other ranks' ``obj`` is ignored).

    Used to share what only rank 0 read from disk (a checkpoint's epoch, history and
    early-stopping state). Two collectives: the byte count, then the UTF-8 bytes.
    """
    if not ctx.distributed:
        return obj
    data = json.dumps(obj).encode("utf-8") if ctx.is_main else b""
    n = int(all_sum_host([float(len(data))], ctx)[0])
    buf = np.zeros(n, dtype=np.int32)
    if ctx.is_main:
        buf[:] = np.frombuffer(data, dtype=np.uint8)
    out = mx.distributed.all_sum(mx.array(buf), group=ctx.group)
    mx.eval(out)
    return json.loads(np.asarray(out).astype(np.uint8).tobytes().decode("utf-8"))


def broadcast_state(tree: Any, ctx: DistContext) -> Any:
    """Rank 0's tree of arrays on every process, whatever the others hold.

    Unlike :func:`broadcast_from_main` the other ranks' trees may differ in structure (an
    optimizer state that rank 0 loaded from a checkpoint, the others freshly initialised):
    rank 0 announces keys, shapes and dtypes, then every array travels in sorted key
    order. Integer arrays (an optimizer's step count) travel as int32: exact below 2**31.
    """
    if not ctx.distributed:
        return tree
    flat = dict(tree_flatten(tree)) if ctx.is_main else {}
    spec = broadcast_json({k: [list(v.shape), str(v.dtype).split(".")[-1]]
                           for k, v in flat.items()} if ctx.is_main else None, ctx)
    out = []
    for key in sorted(spec):
        shape, dtype_name = spec[key]
        dtype = getattr(mx, dtype_name)
        wire = dtype if mx.issubdtype(dtype, mx.floating) else mx.int32
        a = flat[key].astype(wire) if ctx.is_main else mx.zeros(shape, dtype=wire)
        out.append((key, mx.distributed.all_sum(a, group=ctx.group).astype(dtype)))
    mx.eval([v for _, v in out])
    return tree_unflatten(out)


def average_gradients(grads: Any, ctx: DistContext, weight: mx.array | float | None = None,
                      ) -> Any:
    """Global-batch gradient from this rank's mean gradient (lazy).

    Args:
        grads: this rank's gradient tree (mean over its ``n_r`` samples).
        ctx: the process group.
        weight: ``size * n_r / N`` (see :func:`eegsnn.comm.sharding.shard_weight`);
            ``None`` for equal slices.

    Returns:
        ``sum_r weight_r * grads_r / size`` on every rank (``grads`` itself when alone).
    """
    if not ctx.distributed:
        return grads
    if weight is not None:
        grads = tree_map(lambda g: g * weight, grads)
    return nn.average_gradients(grads, group=ctx.group)


def sync_parameters(model: Any, ctx: DistContext) -> None:
    """Give every replica rank 0's parameters (exact copy), evaluated."""
    if ctx.distributed:
        model.update(broadcast_from_main(model.parameters(), ctx))
        mx.eval(model.parameters())
