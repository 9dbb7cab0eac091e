"""Rate of the band_power detectors against input amplitude, Leaky against ALIF.

On z-scored 8-30 Hz noise (400 s at 80 steps/s, fixed seed), each detector pair (+I and -I
lines, gains 0.5, 1 and 2) is run at input amplitudes 0.25-8 standard deviations; prints the
mean rate (spikes per neuron per step) and the local log-log slope between amplitudes. The
numbers behind the ALIF paragraph of results/pipelines/README.md (motor imagery).

    python scripts/detector_rate_curve.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import eegsnn  # noqa: F401  (BLAS before mlx.core)
from eegsnn import surrogate
from eegsnn.nn import Leaky
from eegsnn.nn.neurons import ALIF

RATE_HZ, SECONDS, GAINS = 80.0, 400, (0.5, 1.0, 2.0)
AMPLITUDES = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])


def mean_rate(make_neuron, signal: np.ndarray, amplitude: float) -> float:
    """Mean spikes per neuron per step over the gains and the +I / -I lines."""
    import mlx.core as mx  # (after eegsnn: the optimised BLAS first)

    total = 0.0
    for gain in GAINS:
        drive = amplitude * gain * signal
        current = mx.array(np.stack([np.maximum(drive, 0), np.maximum(-drive, 0)], 1)
                           .astype(np.float32))[:, None, :]  # [T, 1, 2]
        neuron = make_neuron()
        state = neuron.init_state(1, 2)
        count, chunk = 0.0, []
        for t in range(current.shape[0]):
            spikes, state = neuron(current[t], state)
            chunk.append(spikes)
            if len(chunk) == 2000:
                count += float(mx.stack(chunk).sum())
                chunk = []
        if chunk:
            count += float(mx.stack(chunk).sum())
        total += count / (2 * current.shape[0])
    return total / len(GAINS)


def main() -> int:
    n = int(RATE_HZ * SECONDS)
    sos = butter(4, [8, 30], btype="band", fs=RATE_HZ, output="sos")
    signal = sosfiltfilt(sos, np.random.default_rng(0).standard_normal(n))
    signal /= signal.std()
    slope = surrogate.fast_sigmoid(slope=25.0)
    neurons = {"Leaky beta 0.8": lambda: Leaky(beta=0.8, surrogate=slope),
               "ALIF beta 0.8, rho 0.98, b 0.2": lambda: ALIF(beta=0.8, rho=0.98, b=0.2,
                                                              surrogate=slope)}
    print("amplitudes (standard deviations):", AMPLITUDES.tolist())
    for name, make in neurons.items():
        rates = np.array([mean_rate(make, signal, a) for a in AMPLITUDES])
        slopes = np.diff(np.log(rates)) / np.diff(np.log(AMPLITUDES))
        print(f"{name}: rates {np.round(rates, 3).tolist()}  "
              f"log-log slopes {np.round(slopes, 2).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
