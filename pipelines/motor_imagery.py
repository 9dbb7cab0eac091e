"""Motor imagery / execution (EEGMMIDB layout): left vs right fist, CSP + LDA beside the SNN.

Event-locked 4 s windows after each T1/T2 cue, the 21 sensorimotor channels, mu/beta band
(8-30 Hz); within-subject cross-validation over runs (``split.by: recording``), or
leave-subjects-out (``split.by: subject``) when more subjects are available. Published
reference: EEGNet reaches about 82 % on two-class EEGMMIDB across subjects.
"""

from eegsnn.pipeline.spec import STAGES, PipelineSpec

#: the 21 electrodes over the sensorimotor cortex (10-10 names, any spelling in the files)
SENSORIMOTOR = ["FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "C5", "C3", "C1", "Cz", "C2",
                "C4", "C6", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6"]

PIPELINE = PipelineSpec(
    name="motor_imagery",
    stages=STAGES,
    description=__doc__,
    defaults={
        "dataset": {
            "ids": {"pattern": r"S(?P<subject>\d{3})R(?P<run>\d{2})"},
            "preprocess": [
                {"step": "pick", "channels": SENSORIMOTOR},
                {"step": "bandpass", "l_freq": 8.0, "h_freq": 30.0},
            ],
            "windows": {"mode": "events", "window_s": 4.0, "tmin_s": 0.0},
            "labels": {"source": "annotations",
                       "mapping": {"T1": "left_fist", "T2": "right_fist"}},
        },
        "split": {"method": "kfold", "by": "recording", "n_splits": 4, "refit": True},
        "balance": "oversample",
        # sparse delta code: a step of 2 standard deviations keeps mu/beta event counts low
        # (a finer step floods the 84 lines with multi-event bins and the SNN stops learning)
        "encoder": {"method": "delta", "threshold": 2.0, "bands": [["mu", 8, 13],
                                                                     ["beta", 13, 30]],
                    "spikes_per_s": 40},
        "model": {"hidden": [32], "readout": "mean", "dropout": 0.1},
        "train": {"epochs": 80, "batch_size": 8,
                  "optimizer": {"type": "adam", "learning_rate": 2e-3}},
        "baseline": {"type": "csp_lda", "n_components": 4},
        "evaluate": {"aggregate": False},
        "report": {"format": "html"},
    },
)
