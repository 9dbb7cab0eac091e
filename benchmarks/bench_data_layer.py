"""Data layer speed: eegsnn.load_windows (cold, cached) vs hand-written MNE glue.

Task: the 8 shared EEGMMIDB S001 runs (R03-R10), 8-30 Hz band-pass, T1/T2 epochs of 4 s
(640 samples), float32 [W, 64, 640] + labels. Prints seconds and ratios (glue / eegsnn).
Run: python bench_data_layer.py [--shared ../shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mne
import numpy as np

import eegsnn  # noqa: F401
from eegsnn.preprocess import load_windows

CFG = {"preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30}],
       "windows": {"mode": "events", "window_s": 4.0},
       "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}


def glue(files):
    xs, ys = [], []
    for f in files:
        raw = mne.io.read_raw_edf(f, preload=True, verbose="error")
        raw.filter(8.0, 30.0, verbose="error")
        events, _ids = mne.events_from_annotations(raw, event_id={"T1": 0, "T2": 1},
                                                  verbose="error")
        ep = mne.Epochs(raw, events, tmin=0.0, tmax=4.0 - 1 / 160, baseline=None,
                        preload=True, verbose="error")
        xs.append((ep.get_data() * 1e6).astype(np.float32))
        ys.append(ep.events[:, 2])
    return np.concatenate(xs), np.concatenate(ys)


def best(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"
                                            / "data"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    files = sorted((Path(args.shared) / "eegmmidb" / "S001").glob("*.edf"))
    t_glue, (xg, yg) = best(lambda: glue(files), args.repeats)

    def cold():
        with tempfile.TemporaryDirectory() as d:
            return load_windows(files, CFG, cache_dir=d)

    t_cold, ws = best(cold, args.repeats)
    with tempfile.TemporaryDirectory() as d:
        load_windows(files, CFG, cache_dir=d)
        t_hit, ws2 = best(lambda: load_windows(files, CFG, cache_dir=d), args.repeats)
    assert ws2.provenance["cache"]["hit"]
    assert ws.X.shape == xg.shape, (ws.X.shape, xg.shape)
    np.testing.assert_allclose(ws.X, xg, rtol=1e-5, atol=1e-3)
    assert (ws.y == yg).all()
    print(f"windows {ws.X.shape}, identical to the MNE glue (max |diff| "
          f"{np.abs(ws.X - xg).max():.2e} uV)")
    print(f"MNE glue          {t_glue:7.3f} s")
    print(f"eegsnn cold       {t_cold:7.3f} s   ratio glue/eegsnn {t_glue / t_cold:5.2f}x")
    print(f"eegsnn cache hit  {t_hit:7.3f} s   ratio glue/eegsnn {t_glue / t_hit:5.2f}x")


if __name__ == "__main__":
    main()
