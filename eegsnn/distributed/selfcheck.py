"""Self-check and throughput probe for data-parallel training (run under ``mlx.launch``).

``python -m eegsnn.distributed.selfcheck --out DIR --reference`` trains the engine's step
(:func:`eegsnn.train.step.make_train_step`) in one process on a fixed synthetic spike
dataset; ``mlx.launch -n 2 .../selfcheck.py --out DIR`` trains the same model with the
engine's :func:`eegsnn.train.loop.fit`, which joins the group and trains data-parallel.
Each writes its final parameters (``reference.safetensors`` / ``rank<r>.safetensors``)
and losses (``*.json``); rank 0 also writes the run folder ``run/`` (checkpoint included).
``tests/acceptance/test_distributed.py`` compares them.

``--bench-steps K`` instead times ``K`` data-parallel steps (after warm-up) and prints one
JSON line from rank 0: ``{"world_size", "global_batch", "steps", "seconds",
"samples_per_s"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# isort: off
import eegsnn  # noqa: F401  (loads BLAS before mlx.core)
import mlx.core as mx
from mlx.utils import tree_flatten

# isort: on
from eegsnn.comm.group import init_distributed
from eegsnn.comm.sharding import shard_range
from eegsnn.model import build_model
from eegsnn.train.data import ArrayDataset, epoch_order, step_seed
from eegsnn.train.loop import fit
from eegsnn.train.losses import get_loss
from eegsnn.train.parallel import make_data_parallel_step
from eegsnn.train.step import build_optimizer, make_train_step

MODEL: dict[str, Any] = {
    "input_shape": [32],
    "layers": [
        {"type": "linear", "out_features": 48},
        {"type": "leaky", "beta": 0.9, "surrogate": {"type": "fast_sigmoid", "slope": 25}},
        {"type": "linear", "out_features": 4},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none",
         "surrogate": {"type": "fast_sigmoid", "slope": 25}},
    ],
    "readout": "final",
}


def synthetic(num: int, steps: int = 20, lines: int = 32, seed: int = 0) -> ArrayDataset:
    """Class-dependent Bernoulli spikes ``[T, N, L]`` with 4 classes (deterministic)."""
    rng = np.random.default_rng(seed)
    y = np.arange(num) % 4
    p = 0.05 + 0.3 * (np.arange(lines)[None, :] % 4 == y[:, None])  # [N, L]
    x = (rng.random((steps, num, lines)) < p[None]).astype(np.float32)
    return ArrayDataset(mx.array(x), mx.array(y), time_major=True)


def _params(model) -> dict[str, mx.array]:
    return dict(tree_flatten(model.parameters()))


def reference(out: Path, cfg: dict, data: ArrayDataset) -> None:
    """The engine's single-process loop (what :func:`eegsnn.train.loop.fit` does)."""
    mx.random.seed(cfg["seed"])
    model = build_model(MODEL)
    model.train()
    opt = build_optimizer(cfg["optimizer"])
    opt.init(model.trainable_parameters())
    loss_fn, _ = get_loss(cfg["loss"])
    step = make_train_step(model, opt, loss_fn, compile=cfg["compile"])
    losses = []
    for epoch in range(cfg["epochs"]):
        order = epoch_order(len(data), cfg["seed"], epoch)
        for s in range(len(data) // cfg["batch_size"]):
            idx = order[s * cfg["batch_size"]:(s + 1) * cfg["batch_size"]]
            x, y = data.batch(mx.array(idx.astype(np.int32)))
            seed_s = step_seed(cfg["seed"], epoch, s)
            mx.random.seed(seed_s)
            loss, _ = step(x, y, mx.random.key(seed_s ^ 0x5EED))
            mx.eval(model.state, opt.state)
            losses.append(float(loss))
    mx.save_safetensors(str(out / "reference.safetensors"), _params(model))
    (out / "reference.json").write_text(json.dumps({"losses": losses}))


def distributed(out: Path, cfg: dict, data: ArrayDataset) -> None:
    ctx = init_distributed(strict=True)
    # Deliberately different initial weights on every rank but 0: fit must start all
    # replicas from rank 0's weights (the reference's, same seed). A built model (not a
    # config) also exercises fit's nn.Module check.
    mx.random.seed(cfg["seed"] + 7919 * ctx.rank)
    model = build_model(MODEL)
    res = fit(model, data, cfg, run_dir=out / "run", progress=False)  # distributed="auto"
    mx.save_safetensors(str(out / f"rank{ctx.rank}.safetensors"), _params(res.model))
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(
        {"rank": ctx.rank, "size": ctx.size, "backend": ctx.backend,
         "world_size": res.world_size,
         "history": [{"epoch": h["epoch"], "loss": h["train_loss"]} for h in res.history]}))


def bench(steps: int, global_batch: int, cfg: dict) -> None:
    ctx = init_distributed()
    a, b = shard_range(global_batch, ctx.rank, ctx.size)
    data = synthetic(global_batch, steps=cfg["num_steps"], lines=MODEL["input_shape"][0])
    x, y = data.batch(mx.arange(a, b))
    mx.random.seed(0)
    model = build_model(MODEL)
    opt = build_optimizer(cfg["optimizer"])
    opt.init(model.trainable_parameters())
    loss_fn, _ = get_loss(cfg["loss"])
    step = make_data_parallel_step(model, opt, loss_fn, ctx, compile=cfg["compile"])
    w = mx.array(ctx.size * (b - a) / global_batch)
    key = mx.random.key(0)
    for _ in range(3):
        mx.eval(step(x, y, key, w), model.state, opt.state)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss, _c = step(x, y, key, w)
        mx.eval(loss, model.state, opt.state)
    dt = time.perf_counter() - t0
    if ctx.is_main:
        print(json.dumps({"world_size": ctx.size, "global_batch": global_batch,
                          "steps": steps, "seconds": dt,
                          "samples_per_s": steps * global_batch / dt}), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--samples", type=int, default=99)
    ap.add_argument("--batch", type=int, default=33)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--bench-steps", type=int, default=0)
    ap.add_argument("--num-steps", type=int, default=20)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args(argv)
    cfg = {"epochs": args.epochs, "batch_size": args.batch, "seed": 3,
           "optimizer": {"type": "adam", "learning_rate": 5e-3},
           "loss": {"type": "ce_membrane", "reduce": "final"}, "drop_last": True,
           "checkpoint_every": 0, "num_steps": args.num_steps,
           "compile": not args.no_compile}
    if args.bench_steps:
        bench(args.bench_steps, args.batch, cfg)
        return 0
    cfg.pop("num_steps")
    args.out.mkdir(parents=True, exist_ok=True)
    data = synthetic(args.samples)
    if args.reference:
        reference(args.out, cfg, data)
    else:
        distributed(args.out, cfg, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
