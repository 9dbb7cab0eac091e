"""Tutorial 1: a custom spiking model trained in a per-step Python loop.

What it teaches:
  * turning EEG windows ``[B, C, N]`` into spikes ``[T, B, L]`` with ``EEGEncoder``
    (fitted on the training windows only);
  * writing your own ``mlx.nn.Module`` from eegsnn's neurons (``eegsnn.nn.Leaky``): one
    ``neuron(x, state)`` call per time step, a non-spiking integrator as the readout;
  * training it with ``mlx.nn.value_and_grad`` and an MLX optimizer, no eegsnn trainer,
    the update wrapped in ``mx.compile`` (traced and compiled at the first call of each
    batch shape, about a second here; then ~15 % faster per step on the MNIST network of
    ``benchmarks/bench_eeg_step.py``, more than this tiny model gains back).

Data: Bonn epilepsy segments, healthy eyes open (Z) vs seizure (S), 20 + 20 files cut
into 4 s windows (single channel, 173.61 Hz). Run:
``python docs/tutorials/01_custom_model_per_step_loop.py [DATA_DIR]`` (about 15 s).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import eegsnn  # noqa: F401  (import eegsnn first: it loads a fast BLAS for MLX)

# isort: split
import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from eegsnn.encode import EEGEncoder
from eegsnn.nn import Leaky
from eegsnn.preprocess import group_train_test_split, load_windows

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else
            Path(__file__).resolve().parents[3] / "shared" / "data")


class TinySNN(nn.Module):
    """``[T, B, L]`` spikes -> linear -> Leaky -> linear -> integrator; logits = mean
    membrane of the integrator over time."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif = Leaky(beta=0.9)  # surrogate gradient: atan (snnTorch's default)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.out = Leaky(beta=0.9, reset_mechanism="none")  # non-spiking integrator

    def __call__(self, spikes: mx.array) -> mx.array:
        batch = spikes.shape[1]
        s1 = self.lif.init_state(batch, self.fc1.weight.shape[0])
        s2 = self.out.init_state(batch, self.fc2.weight.shape[0])
        membranes = []
        for t in range(spikes.shape[0]):  # the per-step loop
            h, s1 = self.lif(self.fc1(spikes[t]), s1)
            _, s2 = self.out(self.fc2(h), s2)
            membranes.append(s2["mem"])
        return mx.mean(mx.stack(membranes), axis=0)  # [B, n_out]


def main(epochs: int = 30) -> float:
    files = sorted((DATA / "bonn" / "Z").glob("*.txt"))[:20] + \
        sorted((DATA / "bonn" / "S").glob("*.txt"))[:20]
    config = {"sfreq_hz": 173.61, "expected_samples": 4097,
              "windows": {"mode": "sliding", "window_s": 4.0},
              "labels": {"source": "path", "mapping": {"Z": "healthy", "S": "seizure"}}}
    ws = load_windows(files, config, root=DATA / "bonn", use_cache=False)
    train, test = group_train_test_split(ws.groups("recording"), test_fraction=0.25, seed=0)
    encoder = EEGEncoder("delta", num_steps=50, threshold=0.5).fit(ws.X[train])
    x_train, x_test = encoder.transform(ws.X[train]), encoder.transform(ws.X[test])
    y_train, y_test = mx.array(ws.y[train]), ws.y[test]
    print(f"{len(ws)} windows; spikes {tuple(x_train.shape)} (T, B, lines)")

    mx.random.seed(0)
    model = TinySNN(encoder.n_lines, 32, len(ws.class_names))
    optimizer = optim.Adam(learning_rate=5e-3)

    def loss_fn(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)  # the model and optimizer it updates
    def step(x: mx.array, y: mx.array) -> mx.array:
        loss, grads = loss_and_grad(model, x, y)
        optimizer.update(model, grads)
        return loss

    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        for start in range(0, len(order), 32):
            idx = mx.array(order[start:start + 32])
            loss = step(x_train[:, idx], y_train[idx])
            mx.eval(model.parameters(), optimizer.state, loss)
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    pred = np.array(mx.argmax(model(x_test), axis=1))
    accuracy = float(np.mean(pred == y_test))
    print(f"test accuracy ({len(test)} windows of unseen recordings): {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
