"""Reservoir (LSM) speed and memory against reservoir size: eegsnn's compute modes and peers.

Measures the time per simulation step of a LIF reservoir (B trials in parallel, fixed mean
in-degree, so the number of synapses grows linearly with N) for N = 500 ... 10,000 neurons:

* eegsnn ``Reservoir`` with ``compute="dense"`` (MLX matmul, differentiable),
  ``"sparse"`` (MLX gather, differentiable, O(nnz) memory) and ``"host"`` (SciPy CSR,
  forward only), and what ``"auto"`` picks;
* peers, when importable (run with ``.venv-peers/bin/python``): no peer ships a liquid state
  machine, so the peers are what users write by hand:
  - snnTorch 1.0 ``RLeaky(all_to_all=True)`` with its recurrent ``Linear`` set to the same
    fixed weights (dense, torch CPU, ``no_grad``);
  - snnTorch ``Leaky`` + a ``torch.sparse_csr_tensor`` recurrent matmul;
  - mlx-snn 0.5 ``Leaky`` + a dense MLX recurrent matmul (mlx-snn's ``RLeaky`` only has
    one-to-one recurrence).

All variants get the same weights and input currents; the script reports the fraction of
spikes that agree with eegsnn's dense run (float summation order differs, and reservoirs are
chaotic, so late steps may diverge) and ratios ``peer time / eegsnn time``.

Usage::

    python benchmarks/bench_reservoir.py                 # default, well under 2 minutes
    .venv-peers/bin/python benchmarks/bench_reservoir.py # with the peers
    python benchmarks/bench_reservoir.py --sizes 500,1000 --steps 100 --batch 32

Timings on a shared machine are noisy: take final numbers in a quiet run.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import mlx.core as mx
import numpy as np

import eegsnn  # noqa: F401  (optimised BLAS before mlx.core)
from eegsnn.nn import Leaky
from eegsnn.nn.reservoir import Reservoir


def _mib(nbytes: float) -> float:
    return nbytes / 2**20


def _recurrent_bytes(res: Reservoir) -> int:
    if res.compute == "dense":
        return int(res._w_rec_t.nbytes)
    if res.compute == "sparse":
        return int(res._ell_idx.nbytes + res._ell_val.nbytes)
    e = res._expanded
    return int(e.data.nbytes + e.indices.nbytes + e.indptr.nbytes)


REPEATS = 2  # timed runs per variant (after a warm-up); the minimum is reported


def _best_of(run: Any, steps: int) -> tuple[float, Any]:
    """Warm up, then time ``run(steps)`` REPEATS times; (min seconds per step, last output)."""
    run(min(steps, 5))
    best, out = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = run(steps)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best, out


def _time_eegsnn(res: Reservoir, x: mx.array) -> tuple[float, np.ndarray]:
    def run(steps: int) -> mx.array:
        spikes, _ = res(x[:steps])
        mx.eval(spikes)
        return spikes

    dt, spikes = _best_of(run, x.shape[0])
    return dt, np.asarray(spikes)


def _peer_snntorch_rleaky(W: np.ndarray, cur: np.ndarray, beta: float) -> tuple[float, Any]:
    import snntorch as snn
    import torch

    n = W.shape[0]
    with torch.no_grad():
        rlif = snn.RLeaky(beta=beta, linear_features=n, all_to_all=True, learn_recurrent=False)
        rlif.recurrent.weight.copy_(torch.from_numpy(W))
        rlif.recurrent.bias.zero_()
        c = torch.from_numpy(cur)
        b = c.shape[1]

        def run(steps: int) -> torch.Tensor:
            spk = torch.zeros(b, n)
            mem = torch.zeros(b, n)
            out = []
            for t in range(steps):
                spk, mem = rlif(c[t], spk, mem)
                out.append(spk)
            return torch.stack(out)

        dt, out = _best_of(run, c.shape[0])
        return dt, out.numpy()


def _peer_snntorch_sparse(Wcsr: Any, cur: np.ndarray, beta: float) -> tuple[float, Any]:
    import warnings

    import snntorch as snn
    import torch

    warnings.filterwarnings("ignore", message="Sparse")
    n = Wcsr.shape[0]
    with torch.no_grad():
        Wt = torch.sparse_csr_tensor(torch.from_numpy(Wcsr.indptr.astype(np.int64)),
                                     torch.from_numpy(Wcsr.indices.astype(np.int64)),
                                     torch.from_numpy(Wcsr.data.astype(np.float32)),
                                     size=Wcsr.shape)
        lif = snn.Leaky(beta=beta)
        c = torch.from_numpy(cur)
        b = c.shape[1]

        def run(steps: int) -> torch.Tensor:
            spk = torch.zeros(b, n)
            mem = torch.zeros(b, n)
            out = []
            for t in range(steps):
                rec = (Wt @ spk.T).T
                spk, mem = lif(c[t] + rec, mem)
                out.append(spk)
            return torch.stack(out)

        dt, out = _best_of(run, c.shape[0])
        return dt, out.numpy()


def _peer_mlxsnn(W: np.ndarray, cur: np.ndarray, beta: float) -> tuple[float, Any]:
    import mlxsnn

    n = W.shape[0]
    lif = mlxsnn.Leaky(beta=beta)
    WT = mx.array(W.T.copy())
    c = mx.array(cur)
    b = c.shape[1]

    def run(steps: int) -> mx.array:
        state = {"mem": mx.zeros((b, n))}
        spk = mx.zeros((b, n))
        out = []
        for t in range(steps):
            spk, state = lif(c[t] + spk @ WT, state)
            out.append(spk)
        res = mx.stack(out)
        mx.eval(res)
        return res

    dt, out = _best_of(run, c.shape[0])
    return dt, np.asarray(out)


def _have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500,1000,2000,5000,10000")
    ap.add_argument("--degree", type=float, default=100.0, help="mean in-degree (p = deg/(N-1))")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--inputs", type=int, default=16)
    ap.add_argument("--modes", default="dense,sparse,host")
    ap.add_argument("--sparse-max-n", type=int, default=2000,
                    help="skip the (slow) MLX gather mode above this size")
    ap.add_argument("--dense-max-n", type=int, default=5000,
                    help="skip dense variants (eegsnn dense, dense peers) above this size "
                         "(10,000 neurons dense = 400 MiB and ~0.1-1 s per step)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeats)

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    peers = [] if args.no_peers else [
        name for name, mod in (("snntorch RLeaky dense", "snntorch"),
                               ("snntorch Leaky + torch.sparse", "snntorch"),
                               ("mlx-snn Leaky + MLX dense", "mlxsnn")) if _have(mod)]
    beta = 0.95
    print(f"LIF reservoir, beta={beta}, B={args.batch}, T={args.steps} steps, mean in-degree "
          f"{args.degree:g}, {args.inputs} inputs; times in ms per step (lower is better)")
    if not peers and not args.no_peers:
        print("(peers not importable here; run with .venv-peers/bin/python to compare)")
    header = f"{'N':>6} {'nnz':>9} {'build s':>8} " + " ".join(
        f"{m + ' ms':>10} {m + ' MiB':>10}" for m in modes) + f" {'auto':>6}"
    print(header)
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        p = min(1.0, args.degree / (n - 1))
        x_np = (rng.random((args.steps, args.batch, args.inputs)) < 0.2).astype(np.float32)
        x = mx.array(x_np)
        t0 = time.perf_counter()
        base = Reservoir(args.inputs, n, topology={"kind": "random", "p": p}, input_gain=2.0,
                         neuron=Leaky(beta=beta), compute="host", seed=0)
        build_s = time.perf_counter() - t0
        W = base.recurrent_weights
        topo_cfg = {"kind": "adjacency", "weights": W, "excitatory": base.excitatory}
        results: dict[str, tuple[float, int]] = {}
        spikes_ref = None
        for mode in modes:
            if (mode == "sparse" and n > args.sparse_max_n) or (
                    mode == "dense" and n > args.dense_max_n):
                results[mode] = (float("nan"), 0)
                continue
            res = base if mode == "host" else Reservoir(
                args.inputs, n, topology=topo_cfg, spectral_radius=None, input_gain=2.0,
                neuron=Leaky(beta=beta), compute=mode, seed=0)
            dt, spikes = _time_eegsnn(res, x)
            results[mode] = (dt * 1e3, _recurrent_bytes(res))
            if spikes_ref is None:
                spikes_ref = spikes
        auto_mode = Reservoir(args.inputs, n, topology=topo_cfg, spectral_radius=None,
                              neuron=Leaky(beta=beta), seed=0).compute
        line = f"{n:>6} {W.nnz:>9} {build_s:>8.2f} " + " ".join(
            f"{results[m][0]:>10.2f} {_mib(results[m][1]):>10.1f}" for m in modes)
        print(line + f" {auto_mode:>6}", flush=True)
        finite = [v[0] for v in results.values() if np.isfinite(v[0])]
        if not finite:
            rows.append((n, results))
            continue
        best = min(finite)
        cur = np.asarray(x_np @ np.asarray(base.w_in).T, dtype=np.float32)
        peer_line = []
        for name in peers:
            if "dense" in name and n > args.dense_max_n:
                continue
            if name.startswith("snntorch RLeaky"):
                dt, sp = _peer_snntorch_rleaky(W.toarray(), cur, beta)
            elif name.startswith("snntorch Leaky"):
                dt, sp = _peer_snntorch_sparse(W, cur, beta)
            else:
                dt, sp = _peer_mlxsnn(W.toarray(), cur, beta)
            agree = float(np.mean(sp == spikes_ref))
            peer_line.append(f"{name}: {dt * 1e3:.2f} ms ({dt * 1e3 / best:.2f}x eegsnn best, "
                             f"{agree:.1%} spikes agree)")
        for s in peer_line:
            print(f"{'':>6}   peer {s}", flush=True)
        rows.append((n, results))
    print("\nauto: host when nothing in the reservoir is trainable (as here); with trainable "
          "input weights dense up to 4096 neurons, sparse above.")


if __name__ == "__main__":
    main()
