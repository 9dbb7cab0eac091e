"""Rate of the band_power detectors against input amplitude: the amplitude code they make.

On z-scored 8-30 Hz noise (400 s at 80 steps/s, a 4th-order Butterworth band-pass run
forwards and backwards over Gaussian noise, fixed seed) the +I and -I half-waves drive
detectors at gains 0.5, 1 and 2 (the motor-imagery pipeline's), at input amplitudes
0.25-8 standard deviations, all in one batch of ``eegsnn.nn`` neurons. Prints, for each
neuron kind, the rate of one detector at gain 1 and the mean rate of the three gains
(spikes per neuron per step), the local log-log slope between neighbouring amplitudes
(the exponent of a power law through the two points) and the rate's step per octave of
amplitude (constant for a rate that grows as the logarithm of the amplitude). The numbers
behind the band_power family's docstring (eegsnn/model/families.py) and the motor-imagery
section of results/pipelines/README.md.

    python scripts/detector_rate_curve.py        # about 20 s
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
AMPLITUDES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def noise() -> np.ndarray:
    """``[T]`` z-scored 8-30 Hz noise at ``RATE_HZ``."""
    n = int(RATE_HZ * SECONDS)
    sos = butter(4, [8, 30], btype="band", fs=RATE_HZ, output="sos")
    signal = sosfiltfilt(sos, np.random.default_rng(0).standard_normal(n))
    return signal / signal.std()


def rates(neuron, signal: np.ndarray) -> np.ndarray:
    """``[len(AMPLITUDES), len(GAINS)]`` spikes per neuron per step, +I and -I averaged."""
    import mlx.core as mx  # (after eegsnn: the optimised BLAS first)

    drive = signal[:, None, None] * np.multiply.outer(AMPLITUDES, GAINS)  # [T, A, G]
    lines = np.stack([np.maximum(drive, 0), np.maximum(-drive, 0)], -1)  # [T, A, G, 2]
    current = mx.array(lines.reshape(len(signal), 1, -1).astype(np.float32))  # [T, 1, L]
    state = neuron.init_state(1, current.shape[-1])
    count = mx.zeros((current.shape[-1],))
    for t in range(current.shape[0]):
        spikes, state = neuron(current[t], state)
        count = count + spikes[0]
        if t % 1000 == 999:
            mx.eval(count, state)
    per_line = np.array(count, dtype=np.float64) / len(signal)
    per_line = per_line.reshape(len(AMPLITUDES), len(GAINS), 2)
    return per_line.mean(-1)


def main() -> int:
    signal = noise()
    slope25 = surrogate.fast_sigmoid(slope=25.0)
    neurons = {
        "Leaky beta 0.8 (the motor-imagery pipeline)": Leaky(beta=0.8, surrogate=slope25),
        "Leaky beta 0.9 (the band_power family default)": Leaky(beta=0.9, surrogate=slope25),
        "ALIF beta 0.8, rho 0.98, b 0.2": ALIF(beta=0.8, rho=0.98, b=0.2, surrogate=slope25),
        "ALIF beta 0.8, rho 0.98, b 1.0": ALIF(beta=0.8, rho=0.98, b=1.0, surrogate=slope25),
    }
    amps = np.array(AMPLITUDES)
    print(f"amplitudes (standard deviations): {list(AMPLITUDES)}; gains {list(GAINS)}")
    for name, neuron in neurons.items():
        r = rates(neuron, signal)
        one, bank = r[:, GAINS.index(1.0)], r.mean(1)
        print(name)
        for label, curve in (("  one detector, gain 1", one), ("  three gains, mean  ", bank)):
            with np.errstate(divide="ignore"):
                slopes = np.diff(np.log(curve)) / np.diff(np.log(amps))
            print(f"{label}: rates {np.round(curve, 3).tolist()}  "
                  f"log-log slopes {np.round(slopes, 2).tolist()}  "
                  f"steps per octave {np.round(np.diff(curve), 3).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
