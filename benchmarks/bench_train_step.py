#!/usr/bin/env python
"""One training step of the reference MNIST SNN: eegsnn vs snnTorch 1.0 vs mlx-snn 0.5.

Network (all implementations): 784-256-10, Leaky beta 0.85, fast-sigmoid surrogate slope 25,
output layer without reset, T = 25 rate-coded steps, batch 128, cross-entropy on the final
output membrane, Adam lr 1e-3. A *step* is: rate-encode the batch, forward over T, backward,
optimizer update, and wait for the result. Batches come from the real MNIST training images
(``--data-dir``; uint8, cycling through the first 50 batches).

Each implementation runs in its own subprocess, one after another: eegsnn in ``.venv``,
snnTorch and mlx-snn in ``.venv-peers`` (peers are never eegsnn dependencies). The child
times every step (``time.perf_counter`` around step + synchronisation), drops the warm-up
steps, and reports the median, the interquartile range and its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``: native allocations included).

Implementations (``--impls``, default ``eegsnn,snntorch,mlxsnn``):

* ``eegsnn``: the engine as users run it (``engine="auto"``): on a CPU the fused step
  (``eegsnn.train.fused.FusedTrainStep``: C kernels for rate coding, the event-driven first
  Linear layer and the first Leaky layer, compiled MLX for the rest).
* ``eegsnn-mlx`` (an ablation): the MLX step (``eegsnn.train.make_train_step``: compiled step,
  time-batched Linear layers, one-matmul backward of the Leaky recurrence, data on device,
  16-bit rate coding inside the step); the other ``eegsnn-*`` MLX ablations start from it.
* ``snntorch``: snnTorch tutorial-style loop (per-step ``fc -> Leaky``, ``spikegen.rate``,
  ``loss.backward()``, ``optimizer.step()``), PyTorch CPU with its default threads.
* ``snntorch-1t``: the same with ``torch.set_num_threads(1)`` (can beat the default threads
  when other processes load the cores); ratios are taken against the faster snnTorch run.
* ``mlxsnn``: mlx-snn paper's Listing 2 (per-step loop over ``mlxsnn.Leaky``,
  ``mlxsnn.rate_encode``, ``membrane_loss``, ``nn.value_and_grad``, ``optimizer.update``,
  ``mx.eval``), with OpenBLAS preloaded (``import eegsnn`` first).
* ``mlxsnn-refblas``: the same with the reference BLAS that the ``mlx[cpu]`` wheel bundles
  (``EEGSNN_BLAS=off``; slow: use ``--include-refblas`` or name it).
* ``mlx-minimal``: a minimal hand-written MLX network (per-step loop, autodiff through
  the recurrence, ``mx.compile``d step), OpenBLAS.
* ``--ablations`` adds eegsnn variants, each with one choice undone (see README).

Usage (the command behind the table in ``benchmarks/README.md``)::

    python benchmarks/bench_train_step.py --impls eegsnn,snntorch,snntorch-1t,mlxsnn,mlx-minimal \
        --include-refblas --ablations --steps 30 --warmup 5 --interleaved 30
    python benchmarks/bench_train_step.py                      # eegsnn, snnTorch, mlx-snn only

``--interleaved STEPS`` adds a paired run: every implementation except ``mlxsnn-refblas`` in one
process (``.venv-peers``), stepped in turn, so all share the machine's load at each moment;
prefer its ratios on a shared machine. Each table row also shows the process CPU time per step
(all threads): CPU ~ wall means the process effectively had one core.
"""

from __future__ import annotations

import argparse
import json
import os
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

T, B, HIDDEN, BETA, SLOPE, LR = 25, 128, 256, 0.85, 25.0, 1e-3
N_BATCHES = 50

ABLATIONS = {
    # the fused CPU step (what `eegsnn train` / `eegsnn mnist` run), one choice undone
    "eegsnn-mlx": "the MLX step instead of the fused CPU step (all choices below are its own)",
    "eegsnn-fused-blas2": "fused step without limiting OpenBLAS to 1 thread in its MLX part",
    "eegsnn-fused-gompspin": "fused step with libgomp's default spin-wait (GOMP_SPINCOUNT)",
    # the MLX step (engine="mlx"), one choice undone
    "eegsnn-nocompile": "MLX step: no mx.compile",
    "eegsnn-nofast": "MLX step: autodiff through the neuron loop (no one-matmul backward)",
    "eegsnn-perstep": "MLX step: Linear applied per time step (no time batching)",
    "eegsnn-f32rng": "MLX step: rate coding with mx.random.uniform (one float32 per sample)",
    "eegsnn-hostdata": "MLX step: batch + rate coding in NumPy on the host, copied each step",
    "eegsnn-item": "MLX step: loss.item() after every step (host sync)",
}
#: libgomp's default spin count (GNU OpenMP, OMP_WAIT_POLICY unset): what eegsnn shortens
GOMP_DEFAULT_SPINCOUNT = "300000"
PEERS = {"snntorch", "snntorch-1t", "mlxsnn", "mlxsnn-refblas", "mlx-minimal"}
DEFAULT_IMPLS = "eegsnn,snntorch,mlxsnn"


# ----------------------------------------------------------------------------- children


def _load_batches(data_dir: str):
    return mnist_train_batches(data_dir, N_BATCHES * B)


def build_eegsnn(variant: str, data_dir: str) -> tuple[Callable[[int], None], dict]:
    preload_blas()
    import mlx.core as mx
    import mlx.optimizers as optim
    import numpy as np

    from eegsnn.model import build_model, reference_mnist_config
    from eegsnn.train import get_loss, make_train_step, rate_encoder
    from eegsnn.train.fused import FusedTrainStep, select_engine

    x_np, y_np = _load_batches(data_dir)
    mx.random.seed(0)
    model = build_model(reference_mnist_config(HIDDEN, BETA, SLOPE),
                        use_fast_path=variant != "eegsnn-nofast")
    optimizer = optim.Adam(learning_rate=LR)
    optimizer.init(model.trainable_parameters())
    loss_fn, _ = get_loss({"type": "ce_membrane", "reduce": "final"})
    encoder = rate_encoder(T)
    if variant in ("eegsnn", "eegsnn-fused-blas2", "eegsnn-fused-gompspin"):
        # the engine exactly as fit() picks it (engine="auto")
        engine, reason, prefix = select_engine("auto", model, encoder)
        if engine == "fused":
            fused = FusedTrainStep(model, optimizer, loss_fn, prefix,
                                   blas_single_thread=variant != "eegsnn-fused-blas2")
            state = [model.state, optimizer.state]
            data_x, data_y = mx.array(x_np), mx.array(y_np.astype(np.int32))

            def fused_step(i: int) -> None:
                b = i % N_BATCHES
                idx = mx.arange(b * B, (b + 1) * B)
                loss, correct = fused(data_x[idx], data_y[idx], mx.random.key(i))
                mx.eval(state, loss, correct)

            return fused_step, {"engine": "fused"}
        print(f"eegsnn: fused step not eligible here ({reason}); timing the MLX step",
              file=sys.stderr)
    if variant == "eegsnn-f32rng":
        def encoder(x, key):
            u = mx.random.uniform(shape=(T, *x.shape), key=key)
            return (u < x.astype(mx.float32) * (1.0 / 255.0)).astype(mx.float32)
    if variant == "eegsnn-perstep":
        import mlx.nn as nn

        class PerStep(nn.Module):
            """Same layers, but Linear -> neuron interleaved at every time step."""

            def __init__(self, inner) -> None:
                super().__init__()
                self.layers = inner.layers

            def __call__(self, x):
                s1 = {"mem": mx.zeros((x.shape[1], HIDDEN))}
                s2 = {"mem": mx.zeros((x.shape[1], 10))}
                mems = []
                for t in range(x.shape[0]):
                    spk, s1 = self.layers[1](self.layers[0](x[t]), s1)
                    _, s2 = self.layers[3](self.layers[2](spk), s2)
                    mems.append(s2["mem"])
                mem = mx.stack(mems)
                return {"spikes": None, "membrane": mem, "logits": mem[-1],
                        "layer_spikes": []}

        model = PerStep(model)
    host = variant == "eegsnn-hostdata"
    step_fn = make_train_step(model, optimizer, loss_fn, encoder=None if host else encoder,
                              compile=variant != "eegsnn-nocompile")
    state = [model.state, optimizer.state, mx.random.state]
    data_x, data_y = mx.array(x_np), mx.array(y_np.astype(np.int32))
    rng = np.random.default_rng(0)

    def step(i: int) -> None:
        b = i % N_BATCHES
        if host:
            xb = x_np[b * B:(b + 1) * B].astype(np.float32) / 255.0
            spikes = (rng.random((T, *xb.shape), dtype=np.float32) < xb).astype(np.float32)
            x, y = mx.array(spikes), mx.array(y_np[b * B:(b + 1) * B].astype(np.int32))
        else:
            idx = mx.arange(b * B, (b + 1) * B)
            x, y = data_x[idx], data_y[idx]
        loss, correct = step_fn(x, y, mx.random.key(i))
        mx.eval(state, loss, correct)
        if variant == "eegsnn-item":
            loss.item()

    return step, {"engine": "mlx"}


def build_snntorch(variant: str, data_dir: str) -> tuple[Callable[[int], None], dict]:
    import numpy as np
    import snntorch as snn
    import torch
    from snntorch import spikegen

    if variant == "snntorch-1t":
        torch.set_num_threads(1)

    x_np, y_np = _load_batches(data_dir)
    torch.manual_seed(0)
    net = snntorch_mlp(784, HIDDEN, 10, beta=BETA, slope=SLOPE)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    data_x = torch.from_numpy(x_np)
    data_y = torch.from_numpy(y_np)

    def step(i: int) -> None:
        b = i % N_BATCHES
        xb = data_x[b * B:(b + 1) * B].float() / 255.0
        spikes = spikegen.rate(xb, num_steps=T)
        mem = net(spikes)
        loss = loss_fn(mem[-1], data_y[b * B:(b + 1) * B])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, {"torch_threads": torch.get_num_threads(),
            "versions": {"torch": torch.__version__, "snntorch": snn.__version__,
                         "numpy": np.__version__}}


def build_mlxsnn(variant: str, data_dir: str) -> tuple[Callable[[int], None], dict]:
    if variant == "mlxsnn-refblas":
        os.environ["EEGSNN_BLAS"] = "off"
    preload_blas()  # OpenBLAS unless EEGSNN_BLAS=off
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    import mlxsnn

    x_np, y_np = _load_batches(data_dir)
    mx.random.seed(0)
    model = mlxsnn_mlp(784, HIDDEN, 10, beta=BETA, slope=SLOPE)
    optimizer = optim.Adam(learning_rate=LR)

    def loss_fn(model, spikes, targets):
        return mlxsnn.membrane_loss(model(spikes), targets)

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    data_x = mx.array(x_np)
    data_y = mx.array(y_np.astype("int32"))

    def step(i: int) -> None:
        b = i % N_BATCHES
        xb = data_x[b * B:(b + 1) * B].astype(mx.float32) / 255.0
        spikes = mlxsnn.rate_encode(xb, num_steps=T)
        loss, grads = loss_and_grad(model, spikes, data_y[b * B:(b + 1) * B])
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)

    return step, {"versions": {"mlx-snn": mlxsnn.__version__}}


def build_mlx_minimal(data_dir: str) -> tuple[Callable[[int], None], dict]:
    from functools import partial

    preload_blas()
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    x_np, y_np = _load_batches(data_dir)
    mx.random.seed(0)

    @mx.custom_function
    def spike(v):
        return (v > 0).astype(v.dtype)

    @spike.vjp
    def _spike_vjp(v, cot, out):
        return cot / mx.square(1.0 + SLOPE * mx.abs(v))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, HIDDEN)
            self.fc2 = nn.Linear(HIDDEN, 10)

        def __call__(self, x):
            m1 = mx.zeros((x.shape[1], HIDDEN))
            m2 = mx.zeros((x.shape[1], 10))
            s1 = mx.zeros_like(m1)
            for t in range(x.shape[0]):
                m1 = BETA * m1 + self.fc1(x[t]) - mx.stop_gradient(s1)
                s1 = spike(m1 - 1.0)
                m2 = BETA * m2 + self.fc2(s1)
            return m2

    model = Net()
    optimizer = optim.Adam(learning_rate=LR)
    loss_and_grad = nn.value_and_grad(
        model, lambda m, x, y: nn.losses.cross_entropy(m(x), y, reduction="mean"))
    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def train_step(xb, y, key):
        p = xb.astype(mx.float32) / 255.0
        spikes = (mx.random.uniform(shape=(T, *p.shape), key=key) < p).astype(mx.float32)
        loss, grads = loss_and_grad(model, spikes, y)
        optimizer.update(model, grads)
        return loss

    data_x = mx.array(x_np)
    data_y = mx.array(y_np.astype("int32"))

    def step(i: int) -> None:
        b = i % N_BATCHES
        loss = train_step(data_x[b * B:(b + 1) * B], data_y[b * B:(b + 1) * B],
                          mx.random.key(i))
        mx.eval(state, loss)

    return step, {}


def build(impl: str, data_dir: str) -> tuple[Callable[[int], None], dict]:
    """The step function ``step(i)`` of one implementation (and facts about it)."""
    if impl.startswith("snntorch"):
        return build_snntorch(impl, data_dir)
    if impl.startswith("mlxsnn"):
        return build_mlxsnn(impl, data_dir)
    if impl == "mlx-minimal":
        return build_mlx_minimal(data_dir)
    return build_eegsnn(impl, data_dir)


def run_interleaved(args: argparse.Namespace) -> None:
    """All implementations in this one process, stepped round-robin: step i of each runs
    back to back, so every implementation sees the same machine load (for a busy machine)."""
    preload_blas()
    impls = [s for s in args.impls.split(",") if s and s != "mlxsnn-refblas"]
    built = {impl: build(impl, args.data_dir) for impl in impls}
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    cpu: dict[str, list[float]] = {impl: [] for impl in impls}
    for i in range(args.warmup + args.steps):
        for impl, (step, _) in built.items():
            t0, c0 = time.perf_counter(), time.process_time()
            step(i)
            if i >= args.warmup:
                times[impl].append(time.perf_counter() - t0)
                cpu[impl].append(time.process_time() - c0)
    out = {impl: {"times": times[impl], "cpu": cpu[impl], **built[impl][1]} for impl in impls}
    print("RESULT " + json.dumps(out))


def run_child(args: argparse.Namespace) -> None:
    impl = args.child
    if impl == "interleaved":
        run_interleaved(args)
        return
    step, out = build(impl, args.data_dir)
    out["times"], out["cpu"] = time_steps(step, args.steps, args.warmup)
    out["peak_rss_mib"] = peak_rss_mib()
    if not impl.startswith("snntorch"):
        import eegsnn

        out["blas"] = eegsnn.BLAS_STATUS.vendor if eegsnn.BLAS_STATUS.loaded else "bundled"
    print("RESULT " + json.dumps(out))


# ----------------------------------------------------------------------------- parent


def _stats(times: list[float]) -> dict[str, float]:
    import statistics

    ms = sorted(t * 1e3 for t in times)
    q = statistics.quantiles(ms, n=4) if len(ms) >= 4 else [ms[0], ms[len(ms) // 2], ms[-1]]
    return {"median_ms": statistics.median(ms), "q1_ms": q[0], "q3_ms": q[2],
            "min_ms": ms[0]}


def run_parent(args: argparse.Namespace) -> int:
    impls = [s.strip() for s in args.impls.split(",") if s.strip()]
    if args.include_refblas and "mlxsnn-refblas" not in impls:
        impls.append("mlxsnn-refblas")
    if args.ablations:
        impls += [a for a in ABLATIONS if a not in impls]
    raw: dict[str, dict] = {}
    load_before = os.getloadavg()
    for rnd in range(args.rounds):
        for impl in impls:
            python = Path(args.peers_python) if impl in PEERS else Path(args.main_python)
            if not python.exists():
                print(f"skip {impl}: {python} not found", file=sys.stderr)
                continue
            steps = args.refblas_steps if impl == "mlxsnn-refblas" else args.steps
            cmd = [str(python), str(Path(__file__).resolve()), "--child", impl,
                   "--data-dir", args.data_dir, "--steps", str(steps), "--warmup",
                   str(args.warmup)]
            env = {k: v for k, v in os.environ.items() if k != "EEGSNN_BLAS"}
            if impl == "eegsnn-fused-gompspin":
                env["GOMP_SPINCOUNT"] = GOMP_DEFAULT_SPINCOUNT
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                print(f"{impl}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}",
                      file=sys.stderr)
                continue
            res = json.loads(lines[-1][len("RESULT "):])
            entry = raw.setdefault(impl, {"times": [], "cpu": [], "peak_rss_mib": 0.0,
                                          "round_medians": []})
            entry["times"] += res.pop("times")
            entry["cpu"] += res.pop("cpu")
            entry["round_medians"].append(_stats(entry["times"][-steps:])["median_ms"])
            entry["peak_rss_mib"] = max(entry["peak_rss_mib"], res.pop("peak_rss_mib"))
            entry.update(res)
            print(f"  round {rnd + 1}: {impl:18s} median {entry['round_medians'][-1]:8.1f} "
                  f"ms/step  peak RSS {entry['peak_rss_mib']:7.1f} MiB", file=sys.stderr)
    if not raw:  # every implementation skipped or failed: no table to print, no ratio
        print("nothing was measured (see the lines above); eegsnn runs from --main-python, "
              "the peers from --peers-python (benchmarks/README.md: the peers' environment)",
              file=sys.stderr)
        return 1
    results: dict[str, dict] = {}
    for impl, entry in raw.items():
        times = entry.pop("times")
        cpu = sorted(entry.pop("cpu"))
        results[impl] = {**entry, **_stats(times), "steps": len(times),
                         "cpu_median_ms": 1e3 * cpu[len(cpu) // 2]}

    memory = {impl: r["peak_rss_mib"] for impl, r in results.items()}
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    print("\n### Each implementation in its own process, one after another\n")
    _table(results, memory)
    inter: dict[str, dict] = {}
    if args.interleaved:
        # (the libgomp spin ablation needs its own process: the setting is per process)
        inter_impls = [i for i in impls if i not in ("mlxsnn-refblas", "eegsnn-fused-gompspin")]
        cmd = [str(args.peers_python), str(Path(__file__).resolve()), "--child", "interleaved",
               "--impls", ",".join(inter_impls), "--data-dir", args.data_dir,
               "--steps", str(args.interleaved), "--warmup", str(args.warmup)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={k: v for k, v in os.environ.items() if k != "EEGSNN_BLAS"})
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"interleaved run failed (exit {proc.returncode})\n{proc.stderr[-2000:]}",
                  file=sys.stderr)
        else:
            for impl, res in json.loads(lines[-1][len("RESULT "):]).items():
                cpu = sorted(res.pop("cpu"))
                inter[impl] = {**res, **_stats(res.pop("times")),
                               "cpu_median_ms": 1e3 * cpu[len(cpu) // 2],
                               "steps": len(cpu)}
            print(f"\n### Interleaved in one process (step i of every implementation back to "
                  f"back; peak RSS from the separate runs), {args.interleaved} steps\n")
            _table(inter, memory)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "separate": results, "interleaved": inter, "T": T, "B": B, "hidden": HIDDEN,
            "rounds": args.rounds, "load_average_before": load_before,
            "load_average_after": os.getloadavg()}, indent=2) + "\n")
    return 0


def _table(results: dict[str, dict], memory: dict[str, float]) -> None:
    """Print a Markdown table with speed-ups vs the faster snnTorch run and vs mlx-snn."""
    torch_runs = [k for k in ("snntorch", "snntorch-1t") if k in results]
    best_torch = min(torch_runs, key=lambda k: results[k]["median_ms"]) if torch_runs else None
    base_t = results[best_torch]["median_ms"] if best_torch else None
    base_m = memory.get(best_torch) if best_torch else None
    mlxsnn_t = results.get("mlxsnn", {}).get("median_ms")
    print("| implementation | median ms/step (IQR) | CPU ms/step | peak RSS MiB | "
          "speed-up vs snnTorch | speed-up vs mlx-snn | memory vs snnTorch |")
    print("|---|---|---|---|---|---|---|")
    for impl, r in results.items():
        vs_t = f"{base_t / r['median_ms']:.2f}x" if base_t else "-"
        vs_m = f"{mlxsnn_t / r['median_ms']:.2f}x" if mlxsnn_t else "-"
        mib = memory.get(impl)
        mem = f"{mib / base_m:.2f}" if base_m and mib else "-"
        label = impl + (f" ({ABLATIONS[impl]})" if impl in ABLATIONS else "")
        print(f"| {label} | {r['median_ms']:.1f} ({r['q1_ms']:.1f}-{r['q3_ms']:.1f}) | "
              f"{r['cpu_median_ms']:.1f} | {f'{mib:.0f}' if mib else '-'} | {vs_t} | {vs_m} | "
              f"{mem} |")
    if "eegsnn" in results and base_t and mlxsnn_t:
        e = results["eegsnn"]
        ok_t = base_t / e["median_ms"] >= 3.0
        ok_m = mlxsnn_t / e["median_ms"] >= 2.0
        ok_mem = bool(base_m) and memory.get("eegsnn", 1e9) <= 0.5 * base_m
        print(f"\ntargets (vs {best_torch}): >=3x snnTorch {'PASS' if ok_t else 'FAIL'}; "
              f">=2x mlx-snn {'PASS' if ok_m else 'FAIL'}; <=0.5x snnTorch peak memory "
              f"{'PASS' if ok_mem else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--impls", default=DEFAULT_IMPLS,
                        help="comma list: eegsnn, snntorch, snntorch-1t, mlxsnn, mlxsnn-refblas, "
                             "mlx-minimal, " + ", ".join(ABLATIONS))
    parser.add_argument("--steps", type=int, default=60, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=10, help="untimed warm-up steps")
    parser.add_argument("--include-refblas", action="store_true",
                        help="also time mlx-snn on the wheel's reference BLAS (slow)")
    parser.add_argument("--refblas-steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every implementation this many times, interleaved "
                             "(pools the steps; evens out a machine whose load changes)")
    parser.add_argument("--ablations", action="store_true",
                        help="also time eegsnn with each speed choice undone")
    parser.add_argument("--interleaved", type=int, default=0, metavar="STEPS",
                        help="also time all implementations (but mlxsnn-refblas) in one process "
                             "(.venv-peers), step by step in turn, for STEPS steps: paired "
                             "timings that share the machine's load")
    parser.add_argument("--json", help="write all results to this JSON file")
    parser.add_argument("--main-python", default=str(MAIN_PY),
                        help="Python of the environment eegsnn runs in (default .venv; e.g. a "
                             "fresh `pip install` venv to measure what a new user gets)")
    parser.add_argument("--peers-python", default=str(PEERS_PY),
                        help="Python of the peers' environment (default .venv-peers)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return 0
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
