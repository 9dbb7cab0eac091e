"""Figures of an eegsnn liquid state machine driven by real EEG (Bonn epilepsy data).

Writes to ``docs/figures/``:

* ``reservoir_raster.png`` — reservoir spikes for one healthy (set Z) and one seizure (set S)
  segment, excitatory neurons in blue, inhibitory in red;
* ``reservoir_rates.png`` — distribution of per-neuron firing rates over 20 segments;
* ``reservoir_memory.png`` — memory curve r^2(k) of the same reservoir at three spectral radii.

The EEG (173.61 Hz, first 1024 samples, every 2nd sample kept: 512 steps at 86.8 Hz) is
z-scored and delta-modulated into two spike channels (up / down crossings of 0.3 SD).

Usage::

    python scripts/plot_reservoir.py [--data ../shared/data] [--out docs/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlx.core as mx
import numpy as np

import eegsnn  # noqa: F401  (optimised BLAS before mlx.core)
from eegsnn.errors import DataError
from eegsnn.evaluate.reservoir import delta_modulation, firing_rates, memory_capacity
from eegsnn.nn.reservoir import Reservoir
from eegsnn.visualization import raster_plot, rate_histogram_plot, save_figure

SFREQ_HZ = 173.61
DECIMATE = 2


def load_bonn(data: Path, folder: str, n: int, samples: int = 1024) -> np.ndarray:
    files = sorted(p for p in (data / "bonn" / folder).iterdir() if p.suffix.lower() == ".txt")
    if len(files) < n:
        raise DataError(f"{data / 'bonn' / folder}: expected at least {n} segment files, "
                        f"found {len(files)}")
    return np.stack([np.loadtxt(f)[:samples] for f in files[:n]])


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=repo.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=repo / "docs" / "figures")
    ap.add_argument("--neurons", type=int, default=400)
    args = ap.parse_args()

    z = load_bonn(args.data, "Z", 10)
    s = load_bonn(args.data, "S", 10)
    x = delta_modulation(np.concatenate([z, s])[:, ::DECIMATE])
    dt_s = DECIMATE / SFREQ_HZ
    res = Reservoir(2, args.neurons, topology={"kind": "random", "p": 0.05}, input_gain=2.0,
                    input_connectivity=0.5, spectral_radius=1.0, seed=0)
    spikes, _ = res(mx.array(x))
    spikes = np.asarray(spikes)

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    raster_plot(spikes, res.excitatory, trial=0, dt_s=dt_s, ax=axes[0],
                title=f"healthy EEG (Bonn Z001): mean rate "
                      f"{spikes[:, 0].mean():.3f} spikes/neuron/step")
    raster_plot(spikes, res.excitatory, trial=10, dt_s=dt_s, ax=axes[1],
                title=f"seizure EEG (Bonn S001): mean rate "
                      f"{spikes[:, 10].mean():.3f} spikes/neuron/step")
    axes[0].set_xlabel("")
    fig.suptitle(f"LSM reservoir, {args.neurons} LIF neurons (80% E / 20% I, p=0.05, "
                 "spectral radius 1.0), delta-encoded EEG input")
    save_figure(fig, args.out / "reservoir_raster.png")

    rates = firing_rates(spikes, dt_s=dt_s)
    rate_histogram_plot(rates, unit="Hz", path=args.out / "reservoir_rates.png",
                        title=f"per-neuron rates, 20 Bonn segments (mean {rates.mean():.1f} Hz)")

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for radius in (0.5, 1.0, 1.5):
        r = Reservoir(1, args.neurons, topology={"kind": "random", "p": 0.05}, input_gain=2.0,
                      spectral_radius=radius, seed=0)
        mc = memory_capacity(r, n_steps=2000, max_delay=15)
        ax.plot(mc["delays"], mc["r2"], marker="o", ms=3,
                label=f"spectral radius {radius}: MC = {mc['capacity']:.2f}")
    ax.set_xlabel("delay k (steps)")
    ax.set_ylabel("r² of u[t-k] from spikes at t")
    ax.set_title("fading memory (i.i.d. U(0,1) input, ridge readout)")
    ax.legend(fontsize=8)
    save_figure(fig, args.out / "reservoir_memory.png")
    print(f"wrote {args.out}/reservoir_raster.png, reservoir_rates.png, reservoir_memory.png")


if __name__ == "__main__":
    main()
