"""Motor imagery / execution (EEGMMIDB layout): left vs right fist, CSP + LDA beside the SNN.

Event-locked 4 s windows after each T1/T2 cue, the 21 sensorimotor channels, mu/beta band
(8-30 Hz); within-subject cross-validation over runs (``split.by: recording``), or
leave-subjects-out (``split.by: subject``) when more subjects are available.

The default model decodes band power the way CSP + LDA does, with spikes: the ``direct``
encoder fits 4 CSP spatial filters on each fold's training windows and injects the
filtered signal as current (``+I`` and ``-I`` lines, each at gains 0.5, 1 and 2), one Leaky
neuron per line (membrane decay beta 0.8: a 62 ms time constant at 80 steps/s) fires at a
rate that grows with that component's amplitude (the three gains set three amplitude
thresholds an octave apart, so the population grades small amplitudes that one neuron at
threshold 1 ignores), and a linear readout into a non-spiking integrator classifies the
rates (``model.family: band_power``). The gains (over a single gain) and beta 0.8 (over
0.7, 0.9 and 0.95) were chosen by nested cross-validation inside the training runs
(``scripts/mi_inner_cv.py``; results/pipelines/README.md). Models that learn their own
filters from the channels (``spiking_eegnet``, ``spiking_shallow``, ``recurrent``, without
CSP) want one line per channel: set ``encoder.gain: 1.0`` for them (as
``scripts/motor_imagery_runs.sh`` does), or each channel arrives as three. The earlier default, a
delta spike code of 84 band-limited lines into a dense 32-neuron layer, was at chance on
S001 (results/pipelines/README.md). Published reference: EEGNet reaches about 82 % on
two-class EEGMMIDB across subjects.
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
        "encoder": {"method": "direct", "spikes_per_s": 80, "bands": None,
                    "polarity": "on_off", "gain": [0.5, 1.0, 2.0],
                    "spatial_filter": {"type": "csp", "n_components": 4}},
        "model": {"family": "band_power", "neuron": {"beta": 0.8}},
        "train": {"epochs": 60, "batch_size": 8,
                  "optimizer": {"type": "adam", "learning_rate": 1e-2}},
        "baseline": {"type": "csp_lda", "n_components": 4},
        "evaluate": {"aggregate": False},
        "report": {"format": "html"},
    },
)
