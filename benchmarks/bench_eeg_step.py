#!/usr/bin/env python
"""EEG training step: eegsnn (``eegsnn.train.fit``'s step) vs snnTorch 1.0 vs mlx-snn 0.5.

Network (every implementation): ``N`` input lines -> Linear(H) -> Leaky(beta 0.9, fast
sigmoid slope 25, subtract reset) -> Linear(C) -> Leaky(reset none); loss: cross-entropy of
the time-mean output membrane; Adam lr 1e-3. Input: pre-encoded binary spike trains
``[T, B, N]``, 5 % ones (random, fixed seed), random labels; two batches of data, held
once per process (on the MLX device for eegsnn and mlx-snn, a torch tensor for snnTorch;
eegsnn holds them bit-packed, ``ArrayDataset(packed=True)``, the others as float32, each
framework's usual form), so the peak RSS counts the data too. A *step*: forward over ``T``,
backward, optimizer update, wait for the result. Shapes ``(T, batch, N, H, C)``:

* ``bonn``  (200, 64, 10, 128, 3): Bonn-like (one channel, delta/threshold code);
* ``mi``    (160, 32, 84, 32, 2): motor-imagery-like;
* ``large`` (500, 32, 640, 256, 5): 64 channels x 5 bands x ON/OFF, 10 s at 50 steps/s.

Implementations, each in its own subprocess (peak RSS = the child's ``ru_maxrss``):

* ``eegsnn``: the step ``eegsnn.train.fit`` builds (``engine="auto"``: on a CPU the fused
  step of ``eegsnn.train.fused``, event-driven projection + C Leaky recurrences);
* ``eegsnn-mlx``: the MLX step (``engine="mlx"``), for reference;
* ``eegsnn-float`` (not run by default: ``--impls``): ``eegsnn`` with the dataset held as
  float32 spikes instead of bit-packed (``ArrayDataset(packed=True)``, which ``eegsnn`` and
  ``eegsnn-mlx`` use: 1/32 of the memory, the same results);
* ``snntorch``: snnTorch 1.0 tutorial loop (per-step ``fc -> Leaky``), ``.venv-peers``;
* ``mlxsnn``: mlx-snn 0.5 per-step loop (its paper's Listing 2 pattern), ``.venv-peers``
  (``import eegsnn`` first, so MLX gets the same pip OpenBLAS as eegsnn);
* ``floor`` (large shape only): the two dense GEMMs a dense first layer needs per step,
  ``[T B, N] x [N, H]`` forward and the weight gradient, in MLX.

The **model families** of the multichannel-decoding issue (``FAMILY_SHAPES``:
``spiking_eegnet``, ``spiking_shallow``, ``recurrent``, ``band_power`` with their defaults at
80 steps/s, 160 steps x batch 32 of direct input, 21 channels or 8 CSP ON/OFF lines, 2
classes, cross-entropy of the time-mean output membrane, Adam): eegsnn's ``fit`` step
against the same network in torch + snnTorch 1.0 (``torch.nn.Conv2d``/``Conv1d``,
``BatchNorm``, ``avg_pool1d``, ``Linear`` and ``Dropout`` over the whole sequence, the
neurons ``snn.Leaky`` / ``snn.RLeaky`` stepped over time; sizes read from eegsnn's
``family_config``). Each child also reports its CPU time per step.

Plus, on the reference MNIST network (784-256-10, T = 25, batch 128, rate-coded):

* the **per-step API**: ``eegsnn.nn.Leaky`` called once per step in a Python loop
  (Listing 2), against the same loop in snnTorch and mlx-snn (``perstep-*``); each loop
  rate-codes its batch with its own library's encoder (``eegsnn.encode.rate``,
  ``snntorch.spikegen.rate``, ``mlxsnn.rate_encode``); ``perstep-eegsnn-compiled`` is the
  same loop with the gradient and optimizer step wrapped in ``mx.compile`` (tutorial 01);
* **inference** (``infer-*``): the evaluation forward of the trained-model code path
  (``fit``'s evaluation step, fused and MLX) in windows per second and peak RSS.

The implementations run alternately: ``--rounds`` rounds, each running every (shape,
implementation) child once, in a rotated order; the table shows the median over rounds of
each child's median step time. On a shared machine prefer more rounds.

Usage::

    python benchmarks/bench_eeg_step.py            # the full table: 3 alternating rounds
    python benchmarks/bench_eeg_step.py --quick    # one round, 4 steps each (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    MAIN_PY,
    PEERS_PY,
    ROOT,
    mlxsnn_mlp,
    mnist_train_batches,
    peak_rss_mib,
    preload_blas,
    snntorch_mlp,
    time_steps,
)

SHAPES = {  # T, batch, inputs, hidden, classes
    "bonn": (200, 64, 10, 128, 3),
    "mi": (160, 32, 84, 32, 2),
    "large": (500, 32, 640, 256, 5),
}
BETA, SLOPE, LR, DENSITY, N_BATCHES = 0.9, 25.0, 1e-3, 0.05, 2
TRAIN_IMPLS = ("eegsnn", "eegsnn-mlx", "snntorch", "mlxsnn")
PERSTEP_IMPLS = ("perstep-eegsnn", "perstep-eegsnn-compiled", "perstep-snntorch",
                 "perstep-mlxsnn")
INFER_IMPLS = ("infer-eegsnn", "infer-eegsnn-mlx")
PEERS = {"snntorch", "mlxsnn", "perstep-snntorch", "perstep-mlxsnn"}
MNIST_T, MNIST_B, MNIST_H = 25, 128, 256
#: The model families of the multichannel-decoding issue (``eegsnn.model.families``, their
#: defaults at 80 steps/s) on motor-imagery-like *direct* input (2 s windows, 2 classes):
#: name -> (family, (T, batch, input lines, classes)). Input: standardised EEG, N(0, 1)
#: (``band_power``: the ON/OFF half-waves of 4 CSP components, ``max(+-x, 0)``).
FAMILY_SHAPES = {
    "eegnet": ("spiking_eegnet", (160, 32, 21, 2)),
    "shallow": ("spiking_shallow", (160, 32, 21, 2)),
    "recurrent": ("recurrent", (160, 32, 21, 2)),
    "bandpower": ("band_power", (160, 32, 8, 2)),
}
FAMILY_IMPLS = ("eegsnn", "snntorch")
FAMILY_RATE = 80.0  # steps per second: kernel and pool lengths of the family defaults


# ----------------------------------------------------------------------------- children

def _spike_data(shape: tuple[int, ...], seed: int = 0, packed: bool = False):
    """``N_BATCHES`` batches of binary spikes ``[T, n, N]`` (5 % ones) and labels;
    ``packed``: the same spikes as :func:`numpy.packbits` bytes ``[T, n, ceil(N / 8)]``,
    made a few steps at a time (the float32 array never exists)."""
    import numpy as np

    steps, batch, inputs, _, classes = shape
    rng = np.random.default_rng(seed)
    n = N_BATCHES * batch
    if packed:  # same random stream, drawn in chunks of steps
        x = np.empty((steps, n, (inputs + 7) // 8), np.uint8)
        for a in range(0, steps, 50):
            chunk = rng.random((min(50, steps - a), n, inputs), dtype=np.float32) < DENSITY
            x[a:a + chunk.shape[0]] = np.packbits(chunk, axis=-1)
    else:
        x = (rng.random((steps, n, inputs), dtype=np.float32) < DENSITY).astype(np.float32)
    return x, rng.integers(0, classes, n).astype(np.int32)


def _family_data(name: str, seed: int = 0):
    """``N_BATCHES`` batches of direct input ``[T, n, N]`` float32 and labels (module doc)."""
    import numpy as np

    family, (steps, batch, inputs, classes) = FAMILY_SHAPES[name]
    rng = np.random.default_rng(seed)
    n = N_BATCHES * batch
    if family == "band_power":  # ON and OFF half-waves of inputs // 2 components
        half = rng.standard_normal((steps, n, inputs // 2), dtype=np.float32)
        x = np.concatenate([np.maximum(half, 0), np.maximum(-half, 0)], axis=-1)
    else:
        x = rng.standard_normal((steps, n, inputs), dtype=np.float32)
    return np.ascontiguousarray(x), rng.integers(0, classes, n).astype(np.int32)


def _family_config(name: str) -> dict:
    from eegsnn.model.families import family_config

    family, (_, _, inputs, classes) = FAMILY_SHAPES[name]
    return family_config({"family": family}, inputs, classes, FAMILY_RATE)


def _eegsnn_config(shape: tuple[int, ...]) -> dict:
    _, _, inputs, hidden, classes = shape
    surrogate = {"type": "fast_sigmoid", "slope": SLOPE}
    return {"input_shape": [inputs], "readout": "mean", "layers": [
        {"type": "linear", "out_features": hidden},
        {"type": "leaky", "beta": BETA, "surrogate": surrogate},
        {"type": "linear", "out_features": classes},
        {"type": "leaky", "beta": BETA, "reset_mechanism": "none", "surrogate": surrogate}]}


def build_eegsnn(impl: str, shape_name: str) -> tuple[Callable[[int], None], dict]:
    """The step ``eegsnn.train.fit`` builds for this model and data (same selection)."""
    preload_blas()
    import mlx.core as mx

    from eegsnn.model import build_model
    from eegsnn.train import ArrayDataset
    from eegsnn.train.fused import FusedTrainStep, select_engine
    from eegsnn.train.losses import get_loss
    from eegsnn.train.step import build_optimizer, make_train_step

    packed = False
    if shape_name in FAMILY_SHAPES:
        x, y = _family_data(shape_name)
        batch = FAMILY_SHAPES[shape_name][1][1]
        config = _family_config(shape_name)
    else:  # the dataset holds the spikes bit-packed (ArrayDataset(packed=True))
        packed = impl != "eegsnn-float"
        x, y = _spike_data(SHAPES[shape_name], packed=packed)
        batch = SHAPES[shape_name][1]
        config = _eegsnn_config(SHAPES[shape_name])
    mx.random.seed(0)
    model = build_model(config)
    optimizer = build_optimizer({"type": "adam", "learning_rate": LR})
    optimizer.init(model.trainable_parameters())
    loss_fn, _ = get_loss({"type": "ce_membrane", "reduce": "mean"})
    engine, reason, prefix = select_engine("mlx" if impl == "eegsnn-mlx" else "auto",
                                           model, None)
    if engine == "fused":
        step_fn: Callable = FusedTrainStep(model, optimizer, loss_fn, prefix)
    else:
        step_fn = make_train_step(model, optimizer, loss_fn)
    if shape_name in FAMILY_SHAPES or not packed:
        data = ArrayDataset(mx.array(x), y, time_major=True)  # on device, as fit holds it
    else:
        data = ArrayDataset(mx.array(x), y, time_major=True, packed=True,
                            features=int(config["input_shape"][0]))
    del x
    order = [mx.arange(b * batch, (b + 1) * batch) for b in range(N_BATCHES)]
    state = [model.state, optimizer.state, mx.random.state]

    def step(i: int) -> None:
        bx, by = data.batch(order[i % N_BATCHES])  # gathered in the step, as fit does
        loss, correct = step_fn(bx, by, mx.random.key(i))
        mx.eval(state, loss, correct)

    return step, {"engine": engine, "reason": reason}


def build_snntorch(shape: tuple[int, ...]) -> tuple[Callable[[int], None], dict]:
    import snntorch as snn
    import torch

    _, batch, inputs, hidden, classes = shape
    x, y = _spike_data(shape)
    torch.manual_seed(0)
    net = snntorch_mlp(inputs, hidden, classes, beta=BETA, slope=SLOPE)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    data_x, data_y = torch.from_numpy(x), torch.from_numpy(y.astype("int64"))

    def step(i: int) -> None:
        b = i % N_BATCHES
        mem = net(data_x[:, b * batch:(b + 1) * batch])
        loss = loss_fn(mem.mean(0), data_y[b * batch:(b + 1) * batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, {"torch_threads": torch.get_num_threads(),
                  "versions": {"torch": torch.__version__, "snntorch": snn.__version__}}


def build_snntorch_family(name: str) -> tuple[Callable[[int], None], dict]:
    """The family's model in torch + snnTorch 1.0, built to the same sizes as
    :func:`eegsnn.model.families.family_config`'s: the stateless layers (convolutions,
    batch norm, pooling, linear maps) over the whole sequence at once, the neurons
    (``snn.Leaky`` / ``snn.RLeaky``) stepped over time, as an snnTorch user writes it."""
    import snntorch as snn
    import torch
    import torch.nn.functional as tf
    from snntorch import surrogate

    x_np, y_np = _family_data(name)
    # the layer sizes from eegsnn's own family_config, computed in a separate process so
    # that this child's peak RSS counts torch only (importing eegsnn loads MLX)
    config = json.loads(subprocess.run(
        [str(MAIN_PY), str(Path(__file__).resolve()), "--family-config", name],
        capture_output=True, text=True, check=True).stdout)
    layers = config["layers"]
    family, (_, batch, inputs, classes) = FAMILY_SHAPES[name]
    torch.manual_seed(0)
    grad = surrogate.fast_sigmoid(slope=SLOPE)

    def leaky_seq(lif, cur):
        """``snn.Leaky`` stepped over ``cur [T, B, ...]``: spikes and membranes."""
        mem = lif.init_leaky()
        spikes, mems = [], []
        for t in range(cur.shape[0]):
            spk, mem = lif(cur[t], mem)
            spikes.append(spk)
            mems.append(mem)
        return torch.stack(spikes), torch.stack(mems)

    def conv_layer(spec: dict) -> int:
        return int(spec["kernel_size"])

    def causal(x, kernel):  # left zero padding along the last axis (time)
        return tf.pad(x, (kernel - 1, 0))

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.out = snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="none")
            if family in ("spiking_eegnet", "spiking_shallow"):
                f1 = layers[0]["out_channels"]
                depth = layers[2]["depth_multiplier"]
                self.k1 = conv_layer(layers[0])
                self.conv1 = torch.nn.Conv2d(1, f1, (1, self.k1), bias=False)
                self.bn1 = torch.nn.BatchNorm2d(f1)
                self.spatial = torch.nn.Conv2d(f1, f1 * depth, (inputs, 1), groups=f1,
                                               bias=False)
                self.bn2 = torch.nn.BatchNorm2d(f1 * depth)
                self.lif1 = snn.Leaky(beta=BETA, spike_grad=grad)
                pool = layers[5]
                self.pool1 = (pool["kernel_size"], pool.get("stride", pool["kernel_size"]))
                self.drop = torch.nn.Dropout(layers[6]["p"])
                if family == "spiking_eegnet":
                    self.k2 = conv_layer(layers[7])
                    f2 = layers[8]["out_features"]
                    self.depthwise = torch.nn.Conv1d(f1 * depth, f1 * depth, self.k2,
                                                     groups=f1 * depth, bias=False)
                    self.pointwise = torch.nn.Conv1d(f1 * depth, f2, 1, bias=False)
                    self.bn3 = torch.nn.BatchNorm1d(f2)
                    self.lif2 = snn.Leaky(beta=BETA, spike_grad=grad)
                    self.pool2 = layers[11]["kernel_size"]
                    self.fc = torch.nn.Linear(f2, classes)
                else:
                    self.fc = torch.nn.Linear(f1 * depth, classes)
            elif family == "recurrent":
                hidden = layers[0]["out_features"]
                self.fc1 = torch.nn.Linear(inputs, hidden)
                self.bn = torch.nn.BatchNorm1d(hidden)
                self.rlif = snn.RLeaky(beta=BETA, linear_features=hidden, spike_grad=grad)
                self.drop = torch.nn.Dropout(layers[3]["p"])
                self.fc = torch.nn.Linear(hidden, classes)
            else:  # band_power: one neuron per input line, no input weights
                self.lif1 = snn.Leaky(beta=BETA, threshold=1.0, spike_grad=grad)
                self.fc = torch.nn.Linear(inputs, classes)

        def forward(self, x):  # x [T, B, N] -> output membranes [T', B, classes]
            if family in ("spiking_eegnet", "spiking_shallow"):
                h = x.permute(1, 2, 0).unsqueeze(1)  # [B, 1, C, T]
                h = self.bn1(self.conv1(causal(h, self.k1)))
                h = self.bn2(self.spatial(h))  # [B, f1 D, 1, T]
                spk, _ = leaky_seq(self.lif1, h[:, :, 0].permute(2, 0, 1))  # [T, B, f1 D]
                kernel, stride = self.pool1
                h = tf.avg_pool1d(spk.permute(1, 2, 0), kernel, stride)  # [B, f1 D, T']
                h = self.drop(h)
                if family == "spiking_eegnet":
                    h = self.bn3(self.pointwise(self.depthwise(causal(h, self.k2))))
                    spk, _ = leaky_seq(self.lif2, h.permute(2, 0, 1))
                    h = self.drop(tf.avg_pool1d(spk.permute(1, 2, 0), self.pool2))
                cur = self.fc(h.permute(2, 0, 1))  # [T'', B, classes]
            elif family == "recurrent":
                h = self.fc1(x)
                h = self.bn(h.reshape(-1, h.shape[-1])).reshape(h.shape)
                spk, mem = self.rlif.init_rleaky()
                spikes = []
                for t in range(h.shape[0]):
                    spk, mem = self.rlif(h[t], spk, mem)
                    spikes.append(spk)
                cur = self.fc(self.drop(torch.stack(spikes)))
            else:
                spk, _ = leaky_seq(self.lif1, x)
                cur = self.fc(spk)
            return leaky_seq(self.out, cur)[1]

    net = Net()
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    data_x, data_y = torch.from_numpy(x_np), torch.from_numpy(y_np.astype("int64"))

    def step(i: int) -> None:
        b = i % N_BATCHES
        mem = net(data_x[:, b * batch:(b + 1) * batch])
        loss = tf.cross_entropy(mem.mean(0), data_y[b * batch:(b + 1) * batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, {"torch_threads": torch.get_num_threads(),
                  "versions": {"torch": torch.__version__, "snntorch": snn.__version__}}


def build_mlxsnn(shape: tuple[int, ...]) -> tuple[Callable[[int], None], dict]:
    preload_blas()
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    import mlxsnn

    _, batch, inputs, hidden, classes = shape
    x, y = _spike_data(shape)
    mx.random.seed(0)
    model = mlxsnn_mlp(inputs, hidden, classes, beta=BETA, slope=SLOPE)
    optimizer = optim.Adam(learning_rate=LR)

    def loss_fn(model, s, targets):
        return mx.mean(nn.losses.cross_entropy(model(s).mean(0), targets))

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    data_x, data_y = mx.array(x), mx.array(y)
    del x

    def step(i: int) -> None:
        b = i % N_BATCHES
        loss, grads = loss_and_grad(model, data_x[:, b * batch:(b + 1) * batch],
                                    data_y[b * batch:(b + 1) * batch])
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)

    return step, {"versions": {"mlx-snn": mlxsnn.__version__, "mlx": mx.__version__}}


def build_floor(shape: tuple[int, ...]) -> tuple[Callable[[int], None], dict]:
    """The two dense GEMMs of a dense first layer: ``X W`` and ``X^T G`` (MLX, pip BLAS)."""
    preload_blas()
    import mlx.core as mx

    steps, batch, inputs, hidden, _ = shape
    x, _ = _spike_data(shape)
    xs = mx.array(x[:, :batch].reshape(steps * batch, inputs))
    w = mx.random.normal((inputs, hidden))
    g = mx.random.normal((steps * batch, hidden))
    mx.eval(xs, w, g)

    def step(i: int) -> None:
        mx.eval(xs @ w, xs.T @ g)

    from eegsnn._blas import effective_blas

    return step, {"blas": effective_blas()}


def _mnist_batches():
    data_dir = os.environ.get("EEGSNN_MNIST", str(ROOT.parent / "shared" / "data" / "mnist"))
    x, y = mnist_train_batches(data_dir, 10 * MNIST_B)
    return x, y.astype("int32")


def build_perstep(impl: str) -> tuple[Callable[[int], None], dict]:
    """Listing 2 of the mlx-snn paper: a per-step loop over the neuron's step call."""
    if impl == "perstep-snntorch":
        import snntorch as snn
        import torch
        from snntorch import spikegen, surrogate

        x_np, y_np = _mnist_batches()
        torch.manual_seed(0)
        grad = surrogate.fast_sigmoid(slope=SLOPE)
        fc1, fc2 = torch.nn.Linear(784, MNIST_H), torch.nn.Linear(MNIST_H, 10)
        lif1 = snn.Leaky(beta=0.85, spike_grad=grad)
        lif2 = snn.Leaky(beta=0.85, spike_grad=grad, reset_mechanism="none")
        params = [*fc1.parameters(), *fc2.parameters()]
        optimizer = torch.optim.Adam(params, lr=LR)
        data_x, data_y = torch.from_numpy(x_np), torch.from_numpy(y_np.astype("int64"))

        def step(i: int) -> None:
            b = i % 10
            spikes = spikegen.rate(data_x[b * MNIST_B:(b + 1) * MNIST_B].float() / 255.0,
                                   num_steps=MNIST_T)
            mem1, mem2 = lif1.init_leaky(), lif2.init_leaky()
            for t in range(MNIST_T):
                spk1, mem1 = lif1(fc1(spikes[t]), mem1)
                _, mem2 = lif2(fc2(spk1), mem2)
            loss = torch.nn.functional.cross_entropy(mem2, data_y[b * MNIST_B:(b + 1) * MNIST_B])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step, {"torch_threads": torch.get_num_threads()}

    preload_blas()
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    if impl == "perstep-mlxsnn":
        import mlxsnn

        def neuron(reset: str):
            return mlxsnn.Leaky(beta=0.85, surrogate_fn="fast_sigmoid", surrogate_scale=SLOPE,
                                reset_mechanism=reset)
    else:
        from eegsnn import surrogate
        from eegsnn.nn import Leaky

        def neuron(reset: str):
            return Leaky(beta=0.85, surrogate=surrogate.fast_sigmoid(slope=SLOPE),
                         reset_mechanism=reset)

    x_np, y_np = _mnist_batches()
    mx.random.seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, MNIST_H), nn.Linear(MNIST_H, 10)
            self.lif1, self.lif2 = neuron("subtract"), neuron("none")

        def __call__(self, s):
            s1 = self.lif1.init_state(s.shape[1], MNIST_H)
            s2 = self.lif2.init_state(s.shape[1], 10)
            for t in range(s.shape[0]):
                spk, s1 = self.lif1(self.fc1(s[t]), s1)
                _, s2 = self.lif2(self.fc2(spk), s2)
            return s2["mem"]

    model = Net()
    optimizer = optim.Adam(learning_rate=LR)

    def loss_fn(model, s, targets):
        return mx.mean(nn.losses.cross_entropy(model(s), targets))

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    data_x, data_y = mx.array(x_np), mx.array(y_np)

    if impl == "perstep-mlxsnn":
        def encode(xb, i):
            return mlxsnn.rate_encode(xb, MNIST_T, key=mx.random.key(i))
    else:
        from eegsnn.encode import rate

        def encode(xb, i):
            return rate(xb, MNIST_T, key=i, check=False)

    def update(spikes, targets):
        loss, grads = loss_and_grad(model, spikes, targets)
        optimizer.update(model, grads)
        return loss

    if impl == "perstep-eegsnn-compiled":  # the same loop traced once by mx.compile
        from functools import partial

        state = [model.state, optimizer.state]
        update = partial(mx.compile, inputs=state, outputs=state)(update)

    def step(i: int) -> None:
        b = i % 10
        xb = data_x[b * MNIST_B:(b + 1) * MNIST_B].astype(mx.float32) / 255.0
        spikes = encode(xb, i)  # each library's own rate encoder, as snnTorch's spikegen.rate
        loss = update(spikes, data_y[b * MNIST_B:(b + 1) * MNIST_B])
        mx.eval(model.parameters(), optimizer.state, loss)

    return step, {}


def build_infer(impl: str, shape: tuple[int, ...]) -> tuple[Callable[[int], None], dict]:
    """``fit``'s evaluation forward (no gradient) over one batch of windows."""
    preload_blas()
    import mlx.core as mx

    from eegsnn.model import build_model
    from eegsnn.train import ArrayDataset
    from eegsnn.train.fused import FusedEvalStep, select_engine
    from eegsnn.train.losses import get_loss
    from eegsnn.train.step import make_eval_step

    x, y = _spike_data(shape, packed=True)  # held bit-packed, as in the training rows
    mx.random.seed(0)
    model = build_model(_eegsnn_config(shape))
    model.eval()
    loss_fn, _ = get_loss({"type": "ce_membrane", "reduce": "mean"})
    engine, _, prefix = select_engine("mlx" if impl == "infer-eegsnn-mlx" else "auto",
                                      model, None)
    eval_fn = FusedEvalStep(model, loss_fn, prefix) if engine == "fused" else \
        make_eval_step(model, loss_fn)
    batch = shape[1]
    data = ArrayDataset(mx.array(x), y, time_major=True, packed=True, features=shape[2])
    del x

    def step(i: int) -> None:
        b = i % N_BATCHES
        bx, by = data.batch(mx.arange(b * batch, (b + 1) * batch))
        mx.eval(eval_fn(bx, by, mx.random.key(0)))

    return step, {"engine": engine, "windows_per_step": batch}


def run_child(impl: str, shape_name: str, steps: int, warmup: int) -> None:
    shape = SHAPES.get(shape_name, ())
    if impl in ("eegsnn", "eegsnn-mlx", "eegsnn-float"):
        step, info = build_eegsnn(impl, shape_name)
    elif impl == "snntorch" and shape_name in FAMILY_SHAPES:
        step, info = build_snntorch_family(shape_name)
    elif impl == "snntorch":
        step, info = build_snntorch(shape)
    elif impl == "mlxsnn":
        step, info = build_mlxsnn(shape)
    elif impl == "floor":
        step, info = build_floor(shape)
    elif impl in PERSTEP_IMPLS:
        step, info = build_perstep(impl)
    else:
        step, info = build_infer(impl, shape)
    times, cpu = time_steps(step, steps, warmup)
    print(json.dumps({"median_ms": 1e3 * statistics.median(times),
                      "min_ms": 1e3 * min(times), "cpu_ms": 1e3 * statistics.median(cpu),
                      "peak_rss_mib": peak_rss_mib(), **info}))


# ----------------------------------------------------------------------------- parent

def _child(impl: str, shape: str, steps: int, warmup: int, timeout: float) -> dict:
    python = PEERS_PY if impl in PEERS else MAIN_PY
    cmd = [str(python), str(Path(__file__).resolve()), "--child", impl, "--shape", shape,
           "--steps", str(steps), "--warmup", str(warmup)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load_note() -> str:
    try:
        load = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round and fewer steps (a smoke run of the whole table)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per child")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--impls", default=",".join((*TRAIN_IMPLS, "floor")),
                        help="training implementations (floor: large shape only)")
    parser.add_argument("--families", default=",".join(FAMILY_SHAPES),
                        help="model-family shapes (eegsnn vs torch + snnTorch); '' for none")
    parser.add_argument("--no-perstep", action="store_true")
    parser.add_argument("--no-infer", action="store_true")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="", help=argparse.SUPPRESS)
    parser.add_argument("--family-config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.family_config:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_family_config(args.family_config)))
        return 0
    if args.child:
        run_child(args.child, args.shape, args.steps, args.warmup)
        return 0
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 4, 2
    shapes = [s for s in args.shapes.split(",") if s]
    impls = [i for i in args.impls.split(",") if i]
    jobs = [(impl, shape) for shape in shapes for impl in impls
            if impl != "floor" or shape == "large"]
    families = [f for f in args.families.split(",") if f]
    jobs += [(impl, fam) for fam in families for impl in FAMILY_IMPLS]
    if not args.no_perstep:
        jobs += [(impl, "mnist") for impl in PERSTEP_IMPLS]
    if not args.no_infer:
        jobs += [(impl, shape) for shape in shapes for impl in INFER_IMPLS]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, {_load_note()} at start", flush=True)
    results: dict[tuple[str, str], list[dict]] = {job: [] for job in jobs}
    for r in range(args.rounds):
        # rotate the order every round: no implementation always runs first or last
        order = jobs[r % len(jobs):] + jobs[:r % len(jobs)]
        for impl, shape in order:
            out = _child(impl, shape, args.steps, args.warmup, timeout=900)
            results[(impl, shape)].append(out)
            print(f"round {r + 1}: {shape:6s} {impl:18s} "
                  + (f"{out['median_ms']:8.1f} ms  {out['peak_rss_mib']:6.0f} MiB"
                     if "median_ms" in out else out["error"]), flush=True)

    def median(impl: str, shape: str, key: str = "median_ms") -> float | None:
        vals = [o[key] for o in results.get((impl, shape), []) if key in o]
        return statistics.median(vals) if vals else None

    def best(impl: str, shape: str) -> float:
        """The quietest round's median (the least disturbed by other jobs)."""
        vals = [o["median_ms"] for o in results.get((impl, shape), []) if "median_ms" in o]
        return min(vals) if vals else float("nan")

    print(f"\n# {_load_note()} at the end; medians over {args.rounds} round(s) of "
          f"{args.steps} steps\n")
    print("| shape (T, B, N, H, C) | eegsnn ms/step | eegsnn-mlx | snnTorch | mlx-snn | "
          "vs snnTorch | vs mlx-snn | peak RSS eegsnn / snnTorch / mlx-snn (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    table = {}
    if not shapes:
        print("| (no spike-train shapes run) | | | | | | | |")
    for shape in shapes:
        ms = {impl: median(impl, shape) for impl in TRAIN_IMPLS}
        rss = {impl: median(impl, shape, "peak_rss_mib") for impl in TRAIN_IMPLS}
        table[shape] = {"ms": ms, "rss": rss}

        def fmt(v: float | None, spec: str = ".1f") -> str:
            return "-" if v is None else format(v, spec)

        def ratio(a: float | None, b: float | None) -> str:
            return "-" if a is None or b is None else f"{b / a:.2f}x"

        print(f"| {shape} {SHAPES[shape]} | {fmt(ms['eegsnn'])} | {fmt(ms['eegsnn-mlx'])} | "
              f"{fmt(ms['snntorch'])} | {fmt(ms['mlxsnn'])} | "
              f"{ratio(ms['eegsnn'], ms['snntorch'])} | {ratio(ms['eegsnn'], ms['mlxsnn'])} | "
              f"{fmt(rss['eegsnn'], '.0f')} / {fmt(rss['snntorch'], '.0f')} / "
              f"{fmt(rss['mlxsnn'], '.0f')} |")
    if families:
        print("\n| family shape (T, B, N, classes) | eegsnn ms/step (CPU ms) | engine | "
              "torch + snnTorch ms/step (CPU ms) | vs snnTorch | best rounds eegsnn / "
              "snnTorch | peak RSS eegsnn / snnTorch (MiB) |")
        print("|---|---|---|---|---|---|---|")
    for fam in families:
        ours, peer = median("eegsnn", fam), median("snntorch", fam)
        engines = {o.get("engine") for o in results[("eegsnn", fam)] if "engine" in o}

        def cell(impl: str, fam: str = fam) -> str:
            ms, cpu = median(impl, fam), median(impl, fam, "cpu_ms")
            return "-" if ms is None else f"{ms:.1f} ({cpu:.1f})"

        print(f"| {fam}: {FAMILY_SHAPES[fam][0]} {FAMILY_SHAPES[fam][1]} | {cell('eegsnn')} | "
              f"{'/'.join(sorted(engines)) or '-'} | {cell('snntorch')} | "
              + ("-" if ours is None or peer is None else f"{peer / ours:.2f}x")
              + f" | {best('eegsnn', fam):.1f} / {best('snntorch', fam):.1f}"
              + f" | {median('eegsnn', fam, 'peak_rss_mib') or float('nan'):.0f} / "
              f"{median('snntorch', fam, 'peak_rss_mib') or float('nan'):.0f} |")
    for shape in shapes:
        print(f"best rounds, {shape}: " + ", ".join(
            f"{impl} {best(impl, shape):.1f} ms" for impl in TRAIN_IMPLS))
    floor = median("floor", "large")
    if floor is not None:
        print(f"\ndense-GEMM floor, large shape (two [T*B, N] x [N, H]-sized products, MLX): "
              f"{floor:.1f} ms/step; eegsnn: {median('eegsnn', 'large') or float('nan'):.1f}")
    if not args.no_perstep:
        per = {impl: median(impl, "mnist") for impl in PERSTEP_IMPLS}
        print("\nper-step API, reference MNIST network (784-256-10, T=25, batch 128): "
              + ", ".join(f"{impl[8:]} {v:.1f} ms" for impl, v in per.items() if v)
              + "".join(f"; {impl[8:]} vs snnTorch {per['perstep-snntorch'] / per[impl]:.2f}x"
                        for impl in ("perstep-eegsnn", "perstep-eegsnn-compiled")
                        if per[impl] and per["perstep-snntorch"]))
    if not args.no_infer:
        print("\n| inference, shape | engine | windows/s | ms/batch | peak RSS (MiB) |")
        print("|---|---|---|---|---|")
        for shape in shapes:
            for impl in INFER_IMPLS:
                ms = median(impl, shape)
                if ms is None:
                    continue
                print(f"| {shape} | {impl[6:]} | {1e3 * SHAPES[shape][1] / ms:.0f} | "
                      f"{ms:.1f} | {median(impl, shape, 'peak_rss_mib'):.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{impl}@{shape}": runs for (impl, shape), runs in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
