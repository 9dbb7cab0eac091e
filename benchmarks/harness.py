"""What the training-step benchmarks share: the BLAS preload, step timing, peak memory, the
MNIST batches and the peers' reference network.

``bench_train_step.py`` and ``bench_eeg_step.py`` time each implementation in a child
process. The children use this module, so both benchmarks' training-step rows time the same
peer network: the two-layer Leaky network of snnTorch's tutorials and of mlx-snn's paper
(Listing 2), ``Linear -> Leaky -> Linear -> Leaky (no reset)`` stepped once per time step in
Python, returning the output membrane of every step. (``bench_eeg_step.py``'s per-step API
rows keep their own loop: it scores the last membrane only, and swaps in each library's
neuron, eegsnn's included.)

Imported by the scripts as ``harness`` (Python puts the script's folder, ``benchmarks/``,
first on ``sys.path``). Peer packages (``torch``, ``snntorch``, ``mlxsnn``) are imported
inside the functions that need them, so the eegsnn children never import them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Python of the environment eegsnn runs in, and of the peers' (never eegsnn dependencies)
MAIN_PY = ROOT / ".venv" / "bin" / "python"
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"


def preload_blas() -> None:
    """``import eegsnn`` first: it loads the pip OpenBLAS before ``mlx.core`` (unless
    ``EEGSNN_BLAS=off``), so MLX peers get the same BLAS as eegsnn."""
    sys.path.insert(0, str(ROOT))
    import eegsnn  # noqa: F401


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (``ru_maxrss``: native allocations too)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_steps(step: Callable[[int], None], steps: int, warmup: int
               ) -> tuple[list[float], list[float]]:
    """Run ``step(i)`` for ``warmup + steps`` values of ``i``; the wall-clock and process
    CPU seconds (all threads) of each of the last ``steps`` calls."""
    times, cpu = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step(i)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times[warmup:], cpu[warmup:]


def mnist_train_batches(data_dir: str, n_images: int) -> tuple[Any, Any]:
    """The first ``n_images`` MNIST training images, ``uint8 [n_images, 784]``, and their
    labels, ``int64 [n_images]`` (read with eegsnn's own MNIST reader)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from eegsnn.io.mnist import load_mnist

    x, y = load_mnist(data_dir, "train")
    return x[:n_images].reshape(n_images, 784), y[:n_images].astype(np.int64)


def snntorch_mlp(n_inputs: int, n_hidden: int, n_classes: int, *, beta: float,
                 slope: float) -> Any:
    """snnTorch 1.0 tutorial network: ``Linear -> snn.Leaky -> Linear -> snn.Leaky(reset
    none)``, fast-sigmoid surrogate of ``slope``. ``forward(spikes [T, B, n_inputs])``
    returns the output membrane ``[T, B, n_classes]``."""
    import snntorch as snn
    import torch
    from snntorch import surrogate

    grad = surrogate.fast_sigmoid(slope=slope)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(n_inputs, n_hidden)
            self.lif1 = snn.Leaky(beta=beta, spike_grad=grad)
            self.fc2 = torch.nn.Linear(n_hidden, n_classes)
            self.lif2 = snn.Leaky(beta=beta, spike_grad=grad, reset_mechanism="none")

        def forward(self, spikes):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            rec = []
            for t in range(spikes.shape[0]):
                spk1, mem1 = self.lif1(self.fc1(spikes[t]), mem1)
                _, mem2 = self.lif2(self.fc2(spk1), mem2)
                rec.append(mem2)
            return torch.stack(rec)

    return Net()


def mlxsnn_mlp(n_inputs: int, n_hidden: int, n_classes: int, *, beta: float,
               slope: float) -> Any:
    """mlx-snn 0.5 network (its paper's Listing 2): ``nn.Linear -> mlxsnn.Leaky ->
    nn.Linear -> mlxsnn.Leaky(reset none)``, fast-sigmoid surrogate of scale ``slope``.
    ``__call__(spikes [T, B, n_inputs])`` returns the output membrane ``[T, B, n_classes]``.
    Call :func:`preload_blas` before it (it imports ``mlx.core``)."""
    import mlx.core as mx
    import mlx.nn as nn
    import mlxsnn

    class SpikingMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(n_inputs, n_hidden)
            self.lif1 = mlxsnn.Leaky(beta=beta, surrogate_fn="fast_sigmoid",
                                     surrogate_scale=slope)
            self.fc2 = nn.Linear(n_hidden, n_classes)
            self.lif2 = mlxsnn.Leaky(beta=beta, surrogate_fn="fast_sigmoid",
                                     surrogate_scale=slope, reset_mechanism="none")

        def __call__(self, spikes):
            s1 = self.lif1.init_state(spikes.shape[1], n_hidden)
            s2 = self.lif2.init_state(spikes.shape[1], n_classes)
            mems = []
            for t in range(spikes.shape[0]):
                spk, s1 = self.lif1(self.fc1(spikes[t]), s1)
                _, s2 = self.lif2(self.fc2(spk), s2)
                mems.append(s2["mem"])
            return mx.stack(mems)

    return SpikingMLP()
