"""Generic EEG classification: any recordings, any labels; no baseline by default.

Used by ``eegsnn train FILES...`` with the essentials given as flags.
"""

from eegsnn.pipeline.spec import STAGES, PipelineSpec

PIPELINE = PipelineSpec(
    name="generic",
    stages=STAGES,
    description=__doc__,
    defaults={
        "split": {"method": "holdout", "by": "recording", "test_fraction": 0.25},
        "balance": "oversample",
        "encoder": {"method": "delta", "threshold": 0.5, "spikes_per_s": 50},
        "model": {"hidden": [64], "readout": "mean"},
        "train": {"epochs": 20, "batch_size": 32,
                  "optimizer": {"type": "adam", "learning_rate": 2e-3}},
        "baseline": None,
        "report": {"format": "html"},
    },
)
