"""How much the optimised-BLAS preload (``eegsnn._blas``) speeds up MLX on the Linux CPU.

Runs itself in a fresh subprocess per ``EEGSNN_BLAS`` value, by default ``off`` (MLX uses
the reference BLAS bundled with the ``mlx[cpu]`` wheel) and ``auto`` (eegsnn preloads the
``scipy-openblas32`` wheel's OpenBLAS through its shim, else Debian OpenBLAS/MKL), plus any
library paths given with ``--modes`` (e.g. the ``mkl`` wheel's ``libmkl_rt.so.3``), and
measures in each:

* one 1024x1024 float32 matmul (``a @ b``, evaluated);
* one training step of a 784-256-10 spiking network built from :class:`eegsnn.nn.Leaky`
  (``Linear -> Leaky -> Linear -> Leaky(reset_mechanism="none")`` readout), time-major
  input ``[T=25, B=128, 784]`` of Poisson spikes, cross-entropy on the summed readout
  membrane, forward + backward (BPTT) + Adam update, evaluated.

It prints the median times and the speed-up of each mode over ``off``. Medians of
``--repeats`` runs after ``--warmup`` runs. The timings only mean something on a quiet machine.

Usage::

    python benchmarks/bench_blas.py                 # off and auto, table + ratios
    python benchmarks/bench_blas.py --modes off,auto,/venv/lib/libmkl_rt.so.3   # + MKL
    python benchmarks/bench_blas.py --compile       # also time an mx.compile'd train step
    python benchmarks/bench_blas.py --json out.json # also write the numbers as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _time(fn, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def worker(args: argparse.Namespace) -> dict:
    """Measure in this process (BLAS mode chosen by the environment)."""
    import eegsnn  # noqa: F401  (must come before mlx.core: it preloads the BLAS)

    # isort: split
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    from eegsnn import _blas, surrogate
    from eegsnn.nn import Leaky

    mx.random.seed(0)
    a = mx.random.normal((1024, 1024))
    b = mx.random.normal((1024, 1024))
    matmul = _time(lambda: mx.eval(a @ b), args.warmup, args.repeats)

    steps, batch, n_in, n_hidden, n_out = 25, 128, 784, 256, 10

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            spike_fn = surrogate.fast_sigmoid(slope=25.0)
            self.fc1 = nn.Linear(n_in, n_hidden)
            self.lif1 = Leaky(beta=0.9, surrogate=spike_fn)
            self.fc2 = nn.Linear(n_hidden, n_out)
            self.lif2 = Leaky(beta=0.9, surrogate=spike_fn, reset_mechanism="none")

        def __call__(self, x: mx.array) -> mx.array:
            spikes, _, _ = self.lif1.unroll(self.fc1(x))
            _, membrane, _ = self.lif2.unroll(self.fc2(spikes))
            return membrane

    rates = mx.random.uniform(shape=(batch, n_in))
    x = (mx.random.uniform(shape=(steps, batch, n_in)) < rates).astype(mx.float32)
    y = mx.random.randint(0, n_out, (batch,))

    def loss_fn(model: Net, xb: mx.array, yb: mx.array) -> mx.array:
        return nn.losses.cross_entropy(model(xb).sum(axis=0), yb, reduction="mean")

    results = {"matmul_1024_s": matmul}
    variants = [("train_step_s", False)] + ([("train_step_compiled_s", True)] if args.compile
                                              else [])
    for key, compiled in variants:
        net = Net()
        opt = optim.Adam(learning_rate=1e-3)
        grad_fn = nn.value_and_grad(net, loss_fn)

        def step(xb: mx.array, yb: mx.array, net=net, opt=opt, grad_fn=grad_fn) -> mx.array:
            loss, grads = grad_fn(net, xb, yb)
            opt.update(net, grads)
            return loss

        if compiled:
            state = [net.state, opt.state]
            step = mx.compile(step, inputs=state, outputs=state)

        def run(step=step, net=net, opt=opt) -> None:
            mx.eval(step(x, y), net.parameters(), opt.state)

        results[key] = _time(run, args.warmup, args.train_repeats)
    return {
        "blas_mode": _blas.STATUS.mode,
        "blas": _blas.effective_blas(),
        "mlx_device": str(mx.default_device()),
        "times": results,
    }


def run_mode(mode: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "EEGSNN_BLAS": mode}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker",
           "--warmup", str(args.warmup), "--repeats", str(args.repeats),
           "--train-repeats", str(args.train_repeats)] + (["--compile"] if args.compile else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"worker with EEGSNN_BLAS={mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="matmul repeats")
    parser.add_argument("--train-repeats", type=int, default=5, help="training-step repeats")
    parser.add_argument("--compile", action="store_true", help="also time mx.compile'd step")
    parser.add_argument("--modes", default="off,auto",
                        help="comma-separated EEGSNN_BLAS values, one subprocess each "
                             "(off is always included: the speed-ups are against it)")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "off" not in modes:
        modes.insert(0, "off")
    runs = {mode: run_mode(mode, args) for mode in modes}
    keys = list(runs["off"]["times"])
    print(f"MLX {runs['off']['mlx_device']}; medians of {args.repeats} (matmul) / "
          f"{args.train_repeats} (train step) runs after {args.warmup} warm-up runs")
    labels = {mode: ("auto" if mode == "auto" else "off" if mode == "off" else f"path{i}")
              for i, mode in enumerate(modes)}
    for mode, run in runs.items():
        print(f"  {labels[mode]:<6} EEGSNN_BLAS={mode} -> {run['blas']}")
    header = f"{'measurement':<24}" + "".join(
        f"{labels[m] + ' ms':>12}{'speed-up':>10}" for m in modes)
    print(header)
    print("-" * len(header))
    summary: dict = {}
    for key in keys:
        off = _median(runs["off"]["times"][key]) * 1e3
        row = f"{key.removesuffix('_s'):<24}"
        for mode in modes:
            ms = _median(runs[mode]["times"][key]) * 1e3
            summary.setdefault(key, {})[mode] = {"ms": ms, "speedup_vs_off": off / ms}
            row += f"{ms:>12.1f}{off / ms:>9.1f}x"
        print(row)
    if "auto" in runs and runs["auto"]["blas"].startswith("reference"):
        print("note: no optimised BLAS was found in auto mode (reference BLAS in both runs)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "runs": runs}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
