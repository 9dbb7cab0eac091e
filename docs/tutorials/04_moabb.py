"""Tutorial 4: SNNClassifier in a MOABB benchmark, beside CSP + LDA and tangent space + LR.

What it teaches:
  * writing a 20-line MOABB dataset class that reads EDF files already on disk (here
    EEGMMIDB subject S001, imagined left vs right fist, runs R04 and R08; no download);
  * putting :class:`eegsnn.interop.sklearn.SNNClassifier` in a MOABB pipeline exactly like
    any scikit-learn classifier (MOABB hands it ``[n_trials, channels, times]`` arrays);
  * MOABB's ``WithinSessionEvaluation`` scoring it beside CSP + LDA and tangent space +
    logistic regression (pyriemann, which MOABB installs) on the same folds.

Needs the extras ``moabb`` and ``sklearn``: ``pip install 'eegsnn[moabb,sklearn]'``.
Run: ``python docs/tutorials/04_moabb.py [DATA_DIR]`` (default ``../shared/data``; about
20 s on 2 cores). See docs/moabb.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import eegsnn  # noqa: F401  (import eegsnn first: it loads a fast BLAS for MLX)

# isort: split
import mne
from mne.decoding import CSP
from moabb.datasets.base import BaseDataset
from moabb.evaluations import WithinSessionEvaluation
from moabb.paradigms import LeftRightImagery
from pyriemann.estimation import Covariances  # (MOABB depends on pyriemann)
from pyriemann.tangentspace import TangentSpace
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from eegsnn.interop.sklearn import SNNClassifier

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else
            Path(__file__).resolve().parents[3] / "shared" / "data")


class LocalEEGMMIDB(BaseDataset):
    """EEGMMIDB S001 imagery runs read from ``DATA/eegmmidb/S001`` (no download)."""

    def __init__(self) -> None:
        super().__init__(subjects=[1], sessions_per_subject=1,
                         events={"left_hand": 2, "right_hand": 3}, code="LocalEEGMMIDB",
                         interval=[0, 3], paradigm="imagery")

    def _get_single_subject_data(self, subject):
        runs = {}
        for run in ("04", "08"):  # imagined left (T1) vs right (T2) fist
            raw = mne.io.read_raw_edf(DATA / "eegmmidb" / "S001" / f"S001R{run}.edf",
                                      preload=True, verbose="error")
            raw.annotations.rename({"T1": "left_hand", "T2": "right_hand"})
            mne.datasets.eegbci.standardize(raw)  # "Fc5." -> "FC5"
            runs[run] = raw.pick(["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "C1", "C2"])
        return {"0": runs}

    def data_path(self, subject, path=None, force_update=False, update_path=None,
                  verbose=None):
        return [str(DATA / "eegmmidb" / "S001")]


def main():
    mne.set_log_level("ERROR")
    paradigm = LeftRightImagery(fmin=8, fmax=30, resample=80)
    pipelines = {
        "CSP+LDA": make_pipeline(CSP(n_components=4), LinearDiscriminantAnalysis()),
        # MOABB's "Tangent Space LR" pipeline (eegsnn's baseline ts_lr)
        "TS+LR": make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                               LogisticRegression(C=1.0)),
        # the motor-imagery pipeline's SNN: CSP spatial filters fitted inside the encoder
        # (on each training fold only), each filtered component injected as current into
        # spiking band-power detectors (+I and -I lines at gains 0.5, 1 and 2; membrane
        # decay 0.8), a linear readout; one step per sample (3 s at 80 Hz: fewer steps
        # would average the 8-30 Hz rhythm away, and the encoder warns when they do).
        "CSP+SNN": make_pipeline(SNNClassifier(
            encoder={"method": "direct", "polarity": "on_off", "gain": [0.5, 1.0, 2.0],
                     "spatial_filter": {"type": "csp", "n_components": 4}},
            num_steps=240, model={"family": "band_power", "neuron": {"beta": 0.8}},
            epochs=60, batch_size=8,
            lr=1e-2, balance="oversample", random_state=0)),
    }
    with tempfile.TemporaryDirectory() as tmp:  # MOABB's result cache, thrown away
        evaluation = WithinSessionEvaluation(paradigm=paradigm, datasets=[LocalEEGMMIDB()],
                                             overwrite=True, hdf5_path=tmp, random_state=0)
        results = evaluation.process(pipelines)
    print(results[["pipeline", "score", "samples", "time"]].to_string(index=False))
    return results


if __name__ == "__main__":
    main()
