"""Sleep staging (Sleep-EDF layout: ``*-PSG.edf`` + ``*-Hypnogram.edf``), 30 s epochs.

Windows of 30 s labelled by the hypnogram span that contains them (AASM stages; R&K stages
3 and 4 merged into N3; movement and unscored epochs dropped), EEG Fpz-Cz and Pz-Oz,
split by subject; spectral baseline on the same splits.
"""

from eegsnn.pipeline.spec import STAGES, PipelineSpec

PIPELINE = PipelineSpec(
    name="sleep_staging",
    stages=STAGES,
    description=__doc__,
    defaults={
        "dataset": {
            "preprocess": [{"step": "pick", "channels": ["EEG Fpz-Cz", "EEG Pz-Oz"]},
                           {"step": "bandpass", "l_freq": 0.3, "h_freq": 35.0}],
            "windows": {"mode": "sliding", "window_s": 30.0},
            "labels": {"source": "hypnogram",
                       "mapping": {"Sleep stage W": "W", "Sleep stage 1": "N1",
                                   "Sleep stage 2": "N2", "Sleep stage 3": "N3",
                                   "Sleep stage 4": "N3", "Sleep stage R": "REM"}},
        },
        "split": {"method": "holdout", "by": "subject", "test_fraction": 0.25},
        "balance": "oversample",
        "encoder": {"method": "delta", "threshold": 0.5, "bands": "default",
                    "spikes_per_s": 4},
        "model": {"hidden": [64], "readout": "mean"},
        "train": {"epochs": 20, "batch_size": 32,
                  "optimizer": {"type": "adam", "learning_rate": 2e-3}},
        "baseline": {"type": "spectral"},
        "evaluate": {"aggregate": False},
        "report": {"format": "html"},
    },
)
