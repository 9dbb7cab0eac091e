"""Seizure detection on short segments (Bonn layout): ictal vs rest, or three classes.

Single-channel segments labelled by their folder (Bonn sets Z/O/N/F/S = A-E), cut into
sliding windows; split by segment (each segment is an independent recording). A spectral
band-power classifier runs on the same splits. Sensitivity, specificity and ROC-AUC of the
ictal class are reported beside accuracy, per window and per segment. Published
references: conventional methods reach about 99 % on A vs E and 95-98 % on the three-class
healthy / interictal / ictal task.
"""

from eegsnn.pipeline.spec import STAGES, PipelineSpec

PIPELINE = PipelineSpec(
    name="seizure_detection",
    stages=STAGES,
    description=__doc__,
    defaults={
        "dataset": {
            "sfreq_hz": 173.61,
            "expected_samples": 4097,
            "windows": {"mode": "sliding", "window_s": 4.0},
            "labels": {"source": "path",
                       "mapping": {"Z": "healthy", "O": "healthy", "N": "interictal",
                                   "F": "interictal", "S": "ictal"}},
        },
        "split": {"method": "holdout", "by": "recording", "test_fraction": 0.2},
        "balance": "oversample",
        "encoder": {"method": "delta", "threshold": 0.2, "bands": "default",
                    "spikes_per_s": 50},
        "model": {"hidden": [128], "readout": "mean"},
        "train": {"epochs": 30, "batch_size": 32,
                  "optimizer": {"type": "adam", "learning_rate": 2e-3}},
        "baseline": {"type": "spectral"},
        "evaluate": {"positive_class": "ictal", "aggregate": True},
        "report": {"format": "html"},
    },
)
