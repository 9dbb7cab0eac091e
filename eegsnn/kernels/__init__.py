"""Fused CPU kernels for the parts of a training step MLX's CPU backend has no fast op for.

MLX on the GPU lets a project write its own kernels (``mx.fast.metal_kernel``,
``mx.fast.cuda_kernel``); its CPU backend does not, and it has no sparse products. Two
hot spots of a spiking network's training step suffer from that on a CPU:

* the **projection of binary spikes** ``X W`` (``X [T*B, F]`` with 1-20 % ones):
  a dense GEMM does ``F`` multiply-adds per output where only the active inputs matter;
* the **neuron recurrence** over ``T`` steps: a few elementwise ops per step, each an MLX
  dispatch on a ``[B, H]`` slice, so a 25-step Leaky layer costs more in overheads than in
  arithmetic.

:mod:`eegsnn.kernels.rate_projection` (spikes rate-coded on the fly),
:mod:`eegsnn.kernels.sparse_projection` (given spike trains, e.g. pre-encoded EEG, and the
spikes of hidden layers) and :mod:`eegsnn.kernels.leaky` are those computations as C loops
(``_ckernels.c``, OpenMP threads, built by ``setup.py`` when eegsnn is installed; a machine
without a C compiler gets no kernels and trains with the MLX step).
:mod:`eegsnn.train.fused` builds a training step from them and MLX for everything else.
The MLX implementations stay the reference: tests check the kernels against them.

Why C and not Numba: the same loops as Numba kernels ran at the same speed, but importing
Numba/LLVM added ~160 MiB to the process (measured), more than the rest of a training run.
"""

from __future__ import annotations

import os

from eegsnn.kernels import _native

__all__ = ["get_num_threads", "kernels_available", "set_num_threads", "unavailable_reason"]

# The kernels' OpenMP threads (GNU libgomp) spin-wait ~300,000 iterations after each
# parallel loop before sleeping, holding both cores while MLX runs the next part of the step.
# A short spin keeps them responsive without starving MLX (measured on a 2-core machine, fused
# MNIST step: 25.7 ms wall / 39 ms CPU vs 26.7 / 54 with the default; benchmarks/README.md).
# libgomp reads it when it is loaded with the kernels, i.e. after this import; a value set by
# the user wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")


def kernels_available() -> bool:
    """Whether the C kernels are built and load."""
    return _native.library() is not None


def unavailable_reason() -> str:
    """Why :func:`kernels_available` is false (empty when it is true)."""
    return _native.unavailable_reason()


def get_num_threads() -> int:
    """Threads the kernels use (OpenMP; 1 without OpenMP). Needs the kernels built."""
    return _native.get_num_threads()


def set_num_threads(num_threads: int) -> None:
    """Set the kernels' thread count (results do not depend on it). Needs the kernels
    built."""
    _native.set_num_threads(num_threads)
