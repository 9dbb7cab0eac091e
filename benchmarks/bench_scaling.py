"""Scaling measurements (issue 9): parallel encoding, distributed training, long recordings.

    python benchmarks/bench_scaling.py                 # all three, results/scaling/*.json
    python benchmarks/bench_scaling.py --only encode   # or train / memory
    python benchmarks/bench_scaling.py --hours 4       # length of the long recording

* encode: :func:`eegsnn.encode.parallel.prepare_recordings` on the 8 EEGMMIDB S001
  runs (read, band-pass, 4 s windows, delta encoding with a fitted EEGEncoder) with 1 and
  2 worker processes, fresh output folders; prints the speed-up.
* train: :mod:`eegsnn.distributed.selfcheck` ``--bench-steps`` alone and as 2 ring-backend
  processes on 127.0.0.1 (same global batch); prints samples/s and the speed-up.
* memory: a multi-hour EDF (S001R03 tiled, 64 ch x 160 Hz) windowed eagerly
  (``load_windows``) and lazily (``lazy_windows``), each in a fresh subprocess; peak RSS
  (``VmHWM``, see :func:`eegsnn.encode.parallel.peak_rss_mb`).

Numbers depend on the machine and on what else runs on it: record the machine with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import eegsnn  # BLAS before mlx.core (imported later, inside the benchmarks)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EEGSNN_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "results" / "scaling"
CONFIG = {
    "preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30}],
    "windows": {"mode": "events", "window_s": 4.0},
    "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
}


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "loadavg_at_start": load}


def bench_encode(tmp: Path) -> dict:
    from eegsnn.encode import EEGEncoder
    from eegsnn.encode.parallel import prepare_recordings
    from eegsnn.preprocess import load_windows

    files = sorted((DATA / "eegmmidb" / "S001").glob("S001R*.edf"))
    fit_ws = load_windows([files[0]], CONFIG, use_cache=False)
    enc = EEGEncoder("delta", threshold=0.5, overflow="count").fit(fit_ws.X)
    out: dict = {"recordings": len(files), "encoder": "delta 0.5 sd, counts"}
    for workers in (1, 2):
        dest = tmp / f"enc{workers}"
        shutil.rmtree(dest, ignore_errors=True)
        t0 = time.perf_counter()
        rep = prepare_recordings(files, CONFIG, dest, encoder=enc, max_workers=workers)
        out[f"seconds_{workers}w"] = time.perf_counter() - t0
        assert rep.ok, rep.summary()
        out[f"task_seconds_sum_{workers}w"] = sum(i.seconds for i in rep.items)
        out["windows"] = sum(i.n_windows for i in rep.items)
    out["speedup_2w"] = out["seconds_1w"] / out["seconds_2w"]
    print(f"encode {out['recordings']} recordings: 1 worker {out['seconds_1w']:.1f} s, "
          f"2 workers {out['seconds_2w']:.1f} s -> speed-up {out['speedup_2w']:.2f}x")
    return out


def bench_train(steps: int, batch: int, num_steps: int) -> dict:
    from eegsnn.distributed.launch import launch_local

    script = Path(eegsnn.__file__).parent / "distributed" / "selfcheck.py"
    args = ["--bench-steps", str(steps), "--batch", str(batch), "--num-steps", str(num_steps)]
    out: dict = {"global_batch": batch, "num_steps_T": num_steps, "timed_steps": steps,
                 "model": "32-48-4 LIF (selfcheck.MODEL)", "backend": "ring, 127.0.0.1"}
    cores = os.cpu_count() or 1
    # (processes, BLAS threads per process): the cores split between the processes, as
    # one should run ranks that share a machine (oversubscribed BLAS threads spin).
    for n, threads in ((1, cores), (1, 1), (2, max(1, cores // 2))):
        env = {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        p = launch_local(script, args, n=n, timeout_s=600, env=env)
        if p.returncode != 0:
            raise RuntimeError(p.stderr[-3000:])
        rec = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
        out[f"samples_per_s_{n}p_{threads}t"] = rec["samples_per_s"]
    one, two = out[f"samples_per_s_1p_{cores}t"], out[f"samples_per_s_2p_{max(1, cores // 2)}t"]
    out["speedup_2p_vs_1p"] = two / one
    out["speedup_2p_vs_1p_1thread"] = two / out["samples_per_s_1p_1t"]
    print(f"train: 1 process x {cores} threads {one:.0f} samples/s, 1 x 1 thread "
          f"{out['samples_per_s_1p_1t']:.0f}, 2 processes x {max(1, cores // 2)} thread(s) "
          f"{two:.0f} samples/s -> speed-up {out['speedup_2p_vs_1p']:.2f}x")
    return out


MEASURE = r"""
import json, sys, time
import eegsnn, mne  # noqa: F401
from eegsnn.encode.parallel import peak_rss_mb  # VmHWM: ru_maxrss inherits the parent's
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.lazy import lazy_windows
mode, path, out, cfg = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
base = peak_rss_mb()
t0 = time.perf_counter()
ws = (load_windows([path], cfg, use_cache=False) if mode == "eager"
      else lazy_windows(path, cfg, out, chunk_s=300))
print(json.dumps({"mode": mode, "baseline_mb": base, "windows": len(ws),
                  "peak_mb": peak_rss_mb(),
                  "seconds": time.perf_counter() - t0}))
"""


def bench_memory(tmp: Path, hours: float) -> dict:
    from eegsnn.preprocess.lazy import write_tiled_edf

    src = DATA / "eegmmidb" / "S001" / "S001R03.edf"
    repeats = max(1, round(hours * 3600 / 125.0))
    path = write_tiled_edf(src, tmp / "long.edf", repeats)
    out: dict = {"recording": f"S001R03 x {repeats} = {repeats * 125 / 3600:.2f} h, 64 ch, "
                              "160 Hz", "edf_mb": path.stat().st_size / 2**20,
                 "float64_in_memory_mb": 64 * repeats * 20000 * 8 / 2**20,
                 "config": CONFIG, "chunk_s": 300}
    for mode in ("lazy", "eager"):
        p = subprocess.run([sys.executable, "-c", MEASURE, mode, str(path),
                            str(tmp / "X.npy"), json.dumps(CONFIG)],
                           capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            out[mode] = {"error": p.stderr.strip().splitlines()[-1][:300]}
            continue
        out[mode] = json.loads(p.stdout.strip().splitlines()[-1])
    if "peak_mb" in out.get("eager", {}) and "peak_mb" in out.get("lazy", {}):
        out["eager_over_lazy"] = out["eager"]["peak_mb"] / out["lazy"]["peak_mb"]
    print(f"memory ({out['recording']}): lazy peak {out['lazy'].get('peak_mb', 'n/a')} MB, "
          f"eager peak {out['eager'].get('peak_mb', 'n/a')} MB")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["encode", "train", "memory"], action="append")
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--num-steps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    parts = args.only or ["encode", "train", "memory"]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for part in parts:
            if part == "encode":
                res = bench_encode(tmp)
            elif part == "train":
                res = bench_train(args.train_steps, args.batch, args.num_steps)
            else:
                res = bench_memory(tmp, args.hours)
            res["machine"] = machine()
            res["when_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            name = {"encode": "encode_workers", "train": "train_processes",
                    "memory": "long_recording_memory"}[part]
            (args.out / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
