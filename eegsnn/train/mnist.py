"""MNIST sanity check: train the reference spiking network on MNIST with the eegsnn engine.

Reference network (the mlx-snn paper's best configuration, C1): 784-256-10, Leaky
``beta=0.85``, output layer without reset, ``T=25`` rate-coded steps, batch 128, Adam
``lr=1e-3``, fast-sigmoid surrogate (slope 25), cross-entropy on the final output membrane,
25 epochs. Published: snnTorch 98.00 %, mlx-snn 97.28 % (best test accuracy over epochs).

The whole training set stays on the device as uint8 ``[60000, 784]`` (47 MB); batches are
gathered by MLX indexing and rate-encoded inside the step: on a CPU by the fused step's
kernels (``engine="auto"``, :mod:`eegsnn.train.fused`), elsewhere inside the compiled MLX
step. The test set is evaluated after every epoch for the curve only (no model selection);
``metrics.json`` holds the metrics of the *final* model on the test set.

``quick=True``: the first ``QUICK_TRAIN`` training images, one epoch, full test set
(a CI smoke test that must reach >= 90 %).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlx.core as mx

from eegsnn.comm.group import barrier
from eegsnn.errors import ConfigError
from eegsnn.io.mnist import download_mnist, load_mnist
from eegsnn.model.network import reference_mnist_config
from eegsnn.train.config import TrainConfig
from eegsnn.train.data import ArrayDataset, rate_encoder
from eegsnn.train.loop import FitResult, fit, resolve_distributed

NUM_STEPS = 25
BATCH_SIZE = 128
QUICK_TRAIN = 20000


SCHEDULES = ("constant", "cosine")


def reference_train_config(epochs: int = 25, seed: int = 0, schedule: str = "constant",
                           steps_per_epoch: int = 60000 // BATCH_SIZE,
                           engine: str = "auto") -> dict[str, Any]:
    """Train config of the reference run (Adam 1e-3, batch 128, CE on final membrane).

    ``schedule="cosine"`` decays the learning rate from 1e-3 to 0 over the whole run
    (:func:`mlx.optimizers.cosine_decay`); ``"constant"`` is the published configuration.
    ``engine`` picks the training step (:class:`~eegsnn.train.config.TrainConfig`).
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    config: dict[str, Any] = {
        "epochs": epochs, "batch_size": BATCH_SIZE, "seed": seed,
        "optimizer": {"type": "adam", "learning_rate": 1e-3},
        "loss": {"type": "ce_membrane", "reduce": "final"},
        "engine": engine,
    }
    if schedule == "cosine":
        config["schedule"] = {"type": "cosine_decay",
                              "decay_steps": max(1, epochs * steps_per_epoch), "end": 0.0}
    return config


def run_mnist(data_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
              epochs: int | None = None, quick: bool = False, seed: int = 0,
              download: bool = False, progress: bool | None = None,
              resume: bool = True, schedule: str = "constant", engine: str = "auto",
              distributed: Any = "auto") -> FitResult:
    """Train and evaluate the reference network; write the run folder ``out_dir``.

    Args:
        data_dir: folder with the four standard IDX files (``.gz`` or not).
        out_dir: run folder (config, history, checkpoint, metrics.json, curves.png);
            ``None`` keeps nothing on disk.
        epochs: number of epochs (default 25, or 1 with ``quick``).
        quick: subset of ``QUICK_TRAIN`` training images and one epoch (unless ``epochs``).
        seed: seeds init, data order and spike encodings.
        download: fetch the IDX files into ``data_dir`` first if missing.
        progress: progress bars (``None``: only on a terminal).
        resume: continue from ``out_dir/checkpoint`` when present.
        schedule: ``"constant"`` learning rate (the published configuration) or
            ``"cosine"`` decay to 0 over the run.
        engine: ``"auto"`` | ``"fused"`` | ``"mlx"`` training step (see
            :mod:`eegsnn.train.fused`).
        distributed: as :func:`eegsnn.train.loop.fit` (``"auto"``: data-parallel when
            started by ``mlx.launch``); only rank 0 downloads and writes ``out_dir``.
    """
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    if download:
        distributed = resolve_distributed(distributed)
        if distributed.is_main:
            download_mnist(data_dir)
        barrier(distributed)  # the others read the files once rank 0 has them
    x_train, y_train = load_mnist(data_dir, "train")
    x_test, y_test = load_mnist(data_dir, "test")
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
    n_epochs = epochs if epochs is not None else (1 if quick else 25)
    train = ArrayDataset(mx.array(x_train.reshape(len(x_train), -1)), mx.array(y_train))
    test = ArrayDataset(mx.array(x_test.reshape(len(x_test), -1)), mx.array(y_test))
    config = TrainConfig.from_dict(reference_train_config(
        n_epochs, seed, schedule, steps_per_epoch=len(train) // BATCH_SIZE, engine=engine))
    return fit(reference_mnist_config(), train, config, test=test,
               encoder=rate_encoder(NUM_STEPS), run_dir=out_dir, progress=progress,
               resume=resume, distributed=distributed,
               extra_config={"dataset": {"name": "mnist", "data_dir": str(Path(data_dir)),
                                         "train": len(train), "test": len(test),
                                         "quick": quick},
                             "encoding": {"type": "rate", "num_steps": NUM_STEPS}})
