"""Encoding throughput: eegsnn.encode.EEGEncoder vs mlx-snn 0.5's EEGEncoder, same run.

Input: the real EEGMMIDB recording S001 R03 (64 channels, 160 Hz, 125 s = 20,000 samples per
channel), as one ``[1, 64, 20000]`` float32 ``mx.array``. For each method both encoders are
timed interleaved (alternating order, medians of ``--repeats`` runs after a warm-up), at the
native resolution (T = 20000) and at a coarser ``--coarse-steps`` (default 500).

Run in the peer environment (it has mlx-snn and eegsnn editable)::

    .venv-peers/bin/python benchmarks/bench_encode.py [--repeats 15] [--json out.json]

What the two encoders compute is not the same, and the script prints what each one keeps:

* rate: mlx-snn min-max normalises each channel, then averages it over the *whole window*
  into one probability per channel, so its spike train is stationary noise that carries no
  temporal structure; eegsnn's probability follows the z-scored signal sample by sample
  (averaged within each output bin). Column ``corr``: correlation over 1-s bins between the
  spike rate and the signal.
* delta: mlx-snn emits one unsigned spike where |x[n] - x[n-1]| > threshold (no polarity,
  at most one event per sample) and then resamples by nearest neighbour, dropping spikes
  when T < N; eegsnn runs a send-on-delta modulator with ON/OFF lines that decodes back to
  the signal (SNR reported) and keeps every event (counts) when binning.
* threshold: mlx-snn z-scores each window by its own statistics and emits +1/-1 on one
  line for crossings of +θ/-θ, then resamples (dropping crossings); eegsnn emits UP/DOWN
  lines per level (here the same two levels ±θ, and its default five levels) with frozen
  training statistics and lossless binning.

Spikes kept: events in the output / events at the native rate (mlx-snn's own native-rate
output is the reference for its coarse run).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

# isort: off
import eegsnn  # noqa: F401  (optimised BLAS before mlx.core)
import mlx.core as mx

# isort: on

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EDF = REPO.parent / "shared" / "data" / "eegmmidb" / "S001" / "S001R03.edf"


def _time(fn, out_list: list[float]) -> mx.array:
    t0 = time.perf_counter()
    out = fn()
    mx.eval(out)
    out_list.append(time.perf_counter() - t0)
    return out


def _corr_1s(spikes: np.ndarray, x: np.ndarray, sfreq: float) -> float:
    """Median over channels of corr(spike rate, signal mean) over 1-s bins."""
    t = spikes.shape[0]
    n = x.shape[-1]
    secs = int(n // sfreq)
    rows = []
    for c in range(x.shape[0]):
        sig = x[c, : int(secs * sfreq)].reshape(secs, -1).mean(axis=1)
        sp = spikes[: int(secs * sfreq * t / n), c].reshape(secs, -1).mean(axis=1)
        if sp.std() == 0 or sig.std() == 0:
            rows.append(0.0)
        else:
            rows.append(float(np.corrcoef(sp, sig)[0, 1]))
    return float(np.median(rows))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="eegsnn vs mlx-snn EEG encoding throughput")
    ap.add_argument("--edf", type=Path, default=DEFAULT_EDF)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--coarse-steps", type=int, default=500)
    ap.add_argument("--threshold", type=float, default=0.5, help="in standard deviations")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    import mne
    from mlxsnn.encoding import EEGEncoder as PeerEncoder

    from eegsnn.encode import EEGEncoder

    raw = mne.io.read_raw_edf(args.edf, preload=True, verbose="error")
    sfreq = float(raw.info["sfreq"])
    xn = raw.get_data().astype(np.float32)[None]  # [1, 64, 20000]
    x = mx.array(xn)
    mx.eval(x)
    n = xn.shape[-1]
    thr_volts = float(args.threshold * np.median(xn[0].std(axis=1)))

    cases = []
    for steps in (n, args.coarse_steps):
        cases += [
            ("rate", steps, dict(method="rate"), dict(method="rate")),
            (
                "delta",
                steps,
                dict(method="delta", threshold=args.threshold),
                dict(method="delta", threshold=thr_volts),
            ),
            (
                "threshold ±θ",
                steps,
                dict(method="threshold", levels=[-args.threshold, args.threshold]),
                dict(method="threshold_crossing", threshold=args.threshold),
            ),
            (
                "threshold 5 lv",
                steps,
                dict(method="threshold"),
                dict(method="threshold_crossing", threshold=args.threshold),
            ),
        ]

    print(
        f"input: {args.edf.name} [1, 64, {n}] at {sfreq:g} Hz; mlx {mx.__version__}; "
        f"{platform.processor() or platform.machine()}; repeats={args.repeats}"
    )
    header = (
        f"{'method':15s} {'T':>6s} {'eegsnn ms':>10s} {'mlx-snn ms':>11s} {'speedup':>8s} "
        f"{'+bin ms':>9s} {'speedup':>7s} "
        f"{'eegsnn out':>18s} {'mlx-snn out':>16s} {'kept e/m':>11s} {'corr e/m':>11s}"
        f" {'SNR dB':>7s}"
    )
    print(header)
    rows = []
    native_peer_events: dict[str, float] = {}
    for name, steps, ekw, pkw in cases:
        t_fit = time.perf_counter()
        enc = EEGEncoder(num_steps=steps, sfreq_hz=sfreq, **ekw).fit(x)
        fit_s = time.perf_counter() - t_fit
        peer = PeerEncoder(num_steps=steps, **pkw)
        key = mx.random.key(0)

        def run_ours(enc=enc, key=key):
            return enc.transform(x, key=key)

        def run_peer(peer=peer):
            return peer(x)

        # the lossless alternative with mlx-snn: encode at the native rate, then count the
        # events of each output bin by hand (what a user must add to keep every event)
        glue = None
        if name != "rate" and steps < n and n % steps == 0:
            peer_native = PeerEncoder(num_steps=n, **pkw)

            def glue(peer_native=peer_native, steps=steps):
                spikes = mx.abs(peer_native(x))
                return spikes.reshape(steps, n // steps, *spikes.shape[1:]).sum(axis=1)

        ours, theirs, glued = [], [], []
        mx.eval(run_ours(), run_peer())  # warm-up (compilation, allocation)
        for r in range(args.repeats):
            order = [(run_ours, ours), (run_peer, theirs)]
            if glue is not None:
                order.append((glue, glued))
            if r % 2:
                order.reverse()
            for fn, sink in order:
                out = _time(fn, sink)
                if fn is run_ours:
                    a = out
                elif fn is run_peer:
                    b = out
        an, bn = np.asarray(a), np.abs(np.asarray(b))
        ours_ms, theirs_ms = 1e3 * np.median(ours), 1e3 * np.median(theirs)
        row = {
            "method": name,
            "num_steps": steps,
            "eegsnn_ms": ours_ms,
            "mlxsnn_ms": theirs_ms,
            "speedup": theirs_ms / ours_ms,
            "eegsnn_fit_s": fit_s,
            "eegsnn_shape": list(a.shape),
            "mlxsnn_shape": list(b.shape),
            "eegsnn_events": float(an.sum()),
            "mlxsnn_events": float(bn.sum()),
            "channel_samples_per_s_eegsnn": 64 * n / (ours_ms / 1e3),
        }
        if glued:
            row["mlxsnn_native_plus_binning_ms"] = 1e3 * np.median(glued)
            row["speedup_vs_lossless_mlxsnn"] = row["mlxsnn_native_plus_binning_ms"] / ours_ms
        if name != "rate":
            if steps == n:
                native_peer_events[name] = row["mlxsnn_events"]
            ev_native = float(
                np.asarray(EEGEncoder(sfreq_hz=sfreq, **ekw).fit(x).transform(x)).sum()
            )
            row["eegsnn_kept"] = row["eegsnn_events"] / ev_native
            row["mlxsnn_kept"] = row["mlxsnn_events"] / native_peer_events[name]
            row["eegsnn_snr_db"] = enc.report(x, a)["snr_db"]
        else:
            row["eegsnn_corr_1s"] = _corr_1s(an[:, 0], xn[0], sfreq)
            row["mlxsnn_corr_1s"] = _corr_1s(bn[:, 0], xn[0], sfreq)
        rows.append(row)
        kept = f"{row['eegsnn_kept']:.3f}/{row['mlxsnn_kept']:.3f}" if "eegsnn_kept" in row else "-"
        corr = (
            f"{row['eegsnn_corr_1s']:.2f}/{row['mlxsnn_corr_1s']:.2f}"
            if "eegsnn_corr_1s" in row
            else "-"
        )
        snr = f"{row['eegsnn_snr_db']:.1f}" if "eegsnn_snr_db" in row else "-"
        lossless = (
            f"{row['mlxsnn_native_plus_binning_ms']:9.2f} {row['speedup_vs_lossless_mlxsnn']:6.2f}x"
            if glued
            else f"{'-':>9s} {'-':>7s}"
        )
        print(
            f"{name:15s} {steps:6d} {ours_ms:10.2f} {theirs_ms:11.2f} {row['speedup']:7.2f}x "
            f"{lossless} "
            f"{tuple(a.shape)!s:>18s} {tuple(b.shape)!s:>16s} {kept:>11s} {corr:>11s}"
            f" {snr:>7s}"
        )
    print("speedup = mlx-snn median / eegsnn median (> 1: eegsnn faster); timings interleaved.")
    print("kept: output events / native-rate events; corr: 1-s spike rate vs signal (rate).")
    print("+bin: mlx-snn at the native rate plus per-bin event counting (lossless like eegsnn).")
    result = {
        "input": str(args.edf.name),
        "num_samples": n,
        "sfreq_hz": sfreq,
        "repeats": args.repeats,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
