"""Tutorial 3: export a trained network to NIR and read its energy estimate.

What it teaches:
  * training a small SNN with the scikit-learn estimator (``SNNClassifier``) on Bonn
    segments (healthy eyes open Z vs seizure S);
  * writing the network as a NIR file (``eegsnn.interop.nir.save_nir``: the portable form
    snnTorch and Norse import) and reading it back (``load_nir``): the same predictions;
  * synaptic operations and energy per prediction (``eegsnn.evaluate.energy.synops``):
    accumulates (ACs) triggered by spikes, MACs for analog input, beside the same network
    run as a non-spiking ANN (45 nm costs, Horowitz ISSCC 2014).

Needs the extras ``nir`` and ``sklearn``. Run:
``python docs/tutorials/03_export_nir_and_energy.py [DATA_DIR]`` (about 15 s).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import eegsnn  # noqa: F401  (import eegsnn first: it loads a fast BLAS for MLX)

# isort: split
import mlx.core as mx
import numpy as np

from eegsnn.evaluate.energy import describe, synops
from eegsnn.interop.nir import load_nir, save_nir
from eegsnn.interop.sklearn import SNNClassifier
from eegsnn.preprocess import load_windows

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else
            Path(__file__).resolve().parents[3] / "shared" / "data")


def main() -> dict:
    files = sorted((DATA / "bonn" / "Z").glob("*.txt"))[:15] + \
        sorted((DATA / "bonn" / "S").glob("*.txt"))[:15]
    ws = load_windows(files, {"sfreq_hz": 173.61, "expected_samples": 4097,
                              "windows": {"mode": "sliding", "window_s": 4.0},
                              "labels": {"source": "path",
                                         "mapping": {"Z": "healthy", "S": "seizure"}}},
                      root=DATA / "bonn", use_cache=False)
    clf = SNNClassifier(encoder="delta", num_steps=50, hidden=32, epochs=15, lr=5e-3,
                        random_state=0).fit(ws.X, ws.y)
    spikes = clf.encoder_.transform(ws.X)  # [T, B, L], what the network sees

    with tempfile.TemporaryDirectory() as tmp:
        path = save_nir(clf.model_, Path(tmp) / "model.nir")
        print(f"NIR file: {path.name}, {path.stat().st_size} bytes")
        back = load_nir(path)
    a = np.array(clf.model_(spikes)["logits"]).argmax(axis=1)
    b = np.array(back(spikes)["logits"]).argmax(axis=1)
    print(f"same predictions after the NIR round trip: {np.mean(a == b):.3f}")

    report = synops(clf.model_, spikes)
    print(describe(report))
    for layer in report["per_layer"]:
        print(f"  layer {layer['layer']} ({layer['type']}, {layer['input']} input): "
              f"{layer['ac']:.3g} ACs, {layer['mac']:.3g} MACs, "
              f"input sparsity {layer['input_sparsity']:.3f}")
    mx.eval(spikes)
    return {"agreement": float(np.mean(a == b)), "report": report}


if __name__ == "__main__":
    main()
