"""Membrane traces of the six eegsnn neuron models under constant input current.

One panel per model (LIF, IF, Izhikevich, ALIF, Synaptic, Alpha): membrane potential over
200 time steps, threshold dashed, spikes as red vertical lines (the style of Fig. 2 of the
mlx-snn paper). Everything is computed with the models' ``unroll`` (time-major input
``[T, 1, 1]``), so the figure shows exactly what the package computes.

Usage::

    python scripts/plot_neuron_traces.py                      # docs/figures/neuron_traces.png
    python scripts/plot_neuron_traces.py --out /tmp/traces.png --steps 300
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import eegsnn  # noqa: F401  (BLAS before mlx.core)

# isort: split
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlx.core as mx
import numpy as np

from eegsnn.nn import ALIF, IF, Alpha, Izhikevich, Leaky, Synaptic

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "figures" / "neuron_traces.png"


def panels() -> list[tuple[str, object, float, str]]:
    """(title, neuron, constant input, y-axis label) for each model."""
    return [
        ("LIF  (Leaky, β=0.9, X=0.15)", Leaky(beta=0.9), 0.15, "U"),
        ("IF  (β=1, X=0.08)", IF(), 0.08, "U"),
        ("Izhikevich  (RS, I=10, dt=1 ms)", Izhikevich("RS"), 10.0, "v (mV)"),
        ("ALIF  (β=0.9, ρ=0.97, b=0.4, X=0.3)", ALIF(beta=0.9, rho=0.97, b=0.4), 0.3, "U"),
        ("Synaptic  (α=0.9, β=0.9, X=0.015)", Synaptic(alpha=0.9, beta=0.9), 0.015, "U"),
        ("Alpha  (α=0.95, β=0.85, X=0.07, reset to zero)", Alpha(alpha=0.95, beta=0.85), 0.07,
         "U"),
    ]


def simulate(neuron, value: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    spikes, membrane, _ = neuron.unroll(mx.full((steps, 1, 1), value, dtype=mx.float32))
    return np.array(spikes)[:, 0, 0], np.array(membrane)[:, 0, 0]


def alif_threshold(neuron: ALIF, value: float, steps: int) -> np.ndarray:
    """Effective threshold U_thr + b A[t] of an ALIF neuron, stepping it one step at a time."""
    state = neuron.init_state(1, 1)
    x = mx.full((1, 1), value, dtype=mx.float32)
    out = []
    for _ in range(steps):
        _, state = neuron(x, state)
        out.append(float(neuron.threshold + neuron.b * state["adapt"][0, 0]))
    return np.array(out)


def plot(out: Path, steps: int = 200) -> Path:
    fig, axes = plt.subplots(3, 2, figsize=(11, 8.5), sharex=True)
    for ax, (title, neuron, value, ylabel) in zip(axes.ravel(), panels(), strict=True):
        spk, mem = simulate(neuron, value, steps)
        thr = float(neuron.threshold)
        if isinstance(neuron, Izhikevich):
            mem = np.minimum(mem, thr)  # display convention: spikes cut at v_peak
        t = np.arange(steps)
        for ts in np.flatnonzero(spk):
            ax.axvline(ts, color="tab:red", lw=0.8, alpha=0.6)
        ax.plot(t, mem, color="tab:blue", lw=1.2)
        if isinstance(neuron, ALIF):
            ax.plot(t, alif_threshold(neuron, value, steps), color="0.4", ls="--", lw=0.8)
        else:
            ax.axhline(thr, color="0.4", ls="--", lw=0.8)
        ax.set_title(f"{title}: {int(spk.sum())} spikes", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.25)
    for ax in axes[-1]:
        ax.set_xlabel("time step")
    fig.suptitle(
        "eegsnn neuron models under constant input (blue: membrane; dashed: threshold, "
        "adaptive for ALIF; red: spikes)",
        fontsize=11,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    fig.savefig(tmp, dpi=130)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PNG to write")
    parser.add_argument("--steps", type=int, default=200, help="time steps to simulate")
    args = parser.parse_args(argv)
    path = plot(args.out, args.steps)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
