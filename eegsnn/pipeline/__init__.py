"""Declared pipelines run from study configs, and their Python API.

.. code-block:: python

    from eegsnn.pipeline import run_pipeline, evaluate_run

    result = run_pipeline("configs/bonn_example.yaml", "runs/bonn_example")
    result.metrics["accuracy"], result.metrics["baseline"]["pooled"]["accuracy"]
    ev = evaluate_run("runs/bonn_example", "examples/bonn_small", out_dir="runs/eval")

A pipeline (``pipelines/<name>.py``) declares its stages and defaults; a study config
(``configs/*.yaml``) fills them in; see :mod:`eegsnn.pipeline.config`. Every model a study
trains (``model.type``: ``snn``, ``lsm``) implements :class:`PipelineModel`
(:mod:`eegsnn.pipeline.contract`); :func:`train_snn` is the one fold trainer of the SNN,
shared with :class:`~eegsnn.interop.sklearn.SNNClassifier`.
"""

from eegsnn.pipeline.apply import EvaluationResult, check_compatible, evaluate_run, load_run_model
from eegsnn.pipeline.baselines import BASELINES, run_baseline, spectral_features
from eegsnn.pipeline.config import (
    apply_overrides,
    deep_merge,
    load_study_config,
    resolve_study_config,
)
from eegsnn.pipeline.contract import FitReport, Fold, PipelineModel, Prediction
from eegsnn.pipeline.folds import encode_windows, make_folds
from eegsnn.pipeline.metrics import (
    aggregate_recordings,
    binary_metrics,
    event_metrics,
    fold_summary,
    full_report,
    softmax,
    wilson_interval,
)
from eegsnn.pipeline.models import MODEL_TYPES, pipeline_model
from eegsnn.pipeline.modelspec import build_model_config, default_loss
from eegsnn.pipeline.records import FoldResult, RunResult
from eegsnn.pipeline.run import run_pipeline
from eegsnn.pipeline.snn import train_snn
from eegsnn.pipeline.spec import STAGES, PipelineSpec, get_pipeline, list_pipelines
from eegsnn.train.data import oversample  # class balancing, shared with SNNClassifier

__all__ = [
    "BASELINES",
    "MODEL_TYPES",
    "STAGES",
    "EvaluationResult",
    "FitReport",
    "Fold",
    "FoldResult",
    "PipelineModel",
    "PipelineSpec",
    "Prediction",
    "RunResult",
    "aggregate_recordings",
    "apply_overrides",
    "binary_metrics",
    "build_model_config",
    "check_compatible",
    "deep_merge",
    "default_loss",
    "encode_windows",
    "evaluate_run",
    "event_metrics",
    "fold_summary",
    "full_report",
    "get_pipeline",
    "list_pipelines",
    "load_run_model",
    "load_study_config",
    "make_folds",
    "oversample",
    "pipeline_model",
    "resolve_study_config",
    "run_baseline",
    "run_pipeline",
    "softmax",
    "spectral_features",
    "train_snn",
    "wilson_interval",
]
