"""Seizure detection on long recordings (CHB-MIT layout: EDF files + chbNN-summary.txt).

Sliding windows over whole recordings, labelled ``seizure`` inside the summary's seizure
spans and ``background`` elsewhere (windows straddling an onset or offset are dropped);
split by recording; scored per window (sensitivity, specificity, ROC-AUC) and per event
(event sensitivity, false alarms per hour, detection latency).
"""

from eegsnn.pipeline.spec import STAGES, PipelineSpec

PIPELINE = PipelineSpec(
    name="seizure_long_recordings",
    stages=STAGES,
    description=__doc__,
    defaults={
        "dataset": {
            "ids": {"pattern": r"chb(?P<subject>\d+)[a-z]?_(?P<run>\d+)"},
            "preprocess": [{"step": "bandpass", "l_freq": 0.5, "h_freq": 40.0}],
            "windows": {"mode": "sliding", "window_s": 4.0, "step_s": 2.0},
            "labels": {"source": "seizures", "summary": "chb01-summary.txt",
                       "mapping": {"seizure": "seizure"}, "default": "background"},
        },
        "split": {"method": "holdout", "by": "recording", "test_fraction": 0.3},
        "balance": "oversample",
        "encoder": {"method": "delta", "threshold": 0.5, "bands": "default",
                    "spikes_per_s": 16},
        "model": {"hidden": [64], "readout": "mean"},
        "train": {"epochs": 20, "batch_size": 64,
                  "optimizer": {"type": "adam", "learning_rate": 2e-3}},
        "baseline": {"type": "spectral"},
        "evaluate": {"positive_class": "seizure", "aggregate": False,
                     "events": {"min_windows": 2}},
        "report": {"format": "html"},
    },
)
