"""Rank-0 I/O: one writer for checkpoints, logs and reports; everyone else waits.

A distributed run must not have ``size`` processes writing the same checkpoint folder or
report. :func:`main_only` runs a function on rank 0 only and, after a barrier, returns its
result on rank 0 and ``None`` elsewhere; :func:`rank_log_path` gives per-rank log names
for what every rank may write (its own progress log).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from eegsnn.comm.group import DistContext, barrier
from eegsnn.train.checkpoint import save_checkpoint

__all__ = ["main_only", "rank_log_path", "save_checkpoint_main"]

R = TypeVar("R")


def main_only(ctx: DistContext, *, wait: bool = True) -> Callable[[Callable[..., R]],
                                                                 Callable[..., R | None]]:
    """Decorator: run the function on rank 0 only (then a barrier when ``wait``).

    Exceptions on rank 0 propagate there; the other ranks would then wait at the barrier
    until the launcher stops the job (``mlx.launch`` stops all ranks when one fails).
    """

    def deco(fn: Callable[..., R]) -> Callable[..., R | None]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> R | None:
            out = fn(*args, **kwargs) if ctx.is_main else None
            if wait:
                barrier(ctx)
            return out

        return wrapper

    return deco


def save_checkpoint_main(ctx: DistContext, directory: str | os.PathLike, model: Any,
                         optimizer: Any = None, state: dict[str, Any] | None = None) -> Path:
    """:func:`eegsnn.train.checkpoint.save_checkpoint` on rank 0 only, then a barrier.

    Every rank gets the checkpoint path back; it is complete when this returns.
    """
    if ctx.is_main:
        save_checkpoint(directory, model, optimizer,
                        {**(state or {}), "world_size": ctx.size})
    barrier(ctx)
    return Path(directory)


def rank_log_path(path: str | os.PathLike, ctx: DistContext) -> Path:
    """``train.log`` on rank 0, ``train.rank3.log`` on rank 3 (per-rank files, no clashes)."""
    path = Path(path)
    if ctx.is_main:
        return path
    return path.with_name(f"{path.stem}.rank{ctx.rank}{path.suffix}")
