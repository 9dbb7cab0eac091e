"""Declared pipelines: a named sequence of stages plus the config defaults a study fills in.

The declarations live in the top-level ``pipelines`` package (one small module per
pipeline, each defining ``PIPELINE = PipelineSpec(...)``); :func:`get_pipeline` finds them
by name. Stages are run by :mod:`eegsnn.pipeline.run`:

=============  ===========================================================================
``load``       read -> preprocess -> window/label (:func:`eegsnn.preprocess.load_windows`,
               cached), data provenance
``split``      leak-free folds over recordings/sessions/subjects
``encode``     fit the spike encoder on each fold's training windows, encode every window
``train``      train the spiking network (class-balanced), checkpoint
``evaluate``   held-out metrics (clinical metrics for a positive class, recording-level
               and event-level scores), predictions with probabilities
``baseline``   a non-spiking classifier on the same splits (CSP+LDA, spectral features)
``report``     HTML/Markdown report of the run
=============  ===========================================================================
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from eegsnn.errors import ConfigError

__all__ = ["STAGES", "PipelineSpec", "get_pipeline", "list_pipelines"]

STAGES = ("load", "split", "encode", "train", "evaluate", "baseline", "report")
_BUILTIN = ("generic", "motor_imagery", "seizure_detection", "sleep_staging",
            "seizure_long_recordings")


@dataclass(frozen=True)
class PipelineSpec:
    """A declared pipeline.

    Attributes:
        name: the name configs use (``pipeline: motor_imagery``).
        stages: stage names, in order, from :data:`STAGES`.
        defaults: config sections a study inherits (deep-merged under the study config).
        description: what the pipeline is for (first line: a one-line summary).
    """

    name: str
    stages: tuple[str, ...] = STAGES
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"pipeline {self.name!r}: unknown stage(s) {unknown} (known: "
                              f"{', '.join(STAGES)})")
        order = [STAGES.index(s) for s in self.stages]
        if order != sorted(order) or "load" not in self.stages:
            raise ConfigError(f"pipeline {self.name!r}: stages must start with 'load' and "
                              f"follow the order {' -> '.join(STAGES)}")


def get_pipeline(name: str) -> PipelineSpec:
    """The :class:`PipelineSpec` declared in ``pipelines/<name>.py``.

    Raises:
        ConfigError: no such pipeline (lists the known ones).
    """
    if not name.isidentifier():
        raise ConfigError(f"pipeline name {name!r} is not a valid module name")
    try:
        module = importlib.import_module(f"pipelines.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"pipelines.{name}", "pipelines"):
            raise ConfigError(f"unknown pipeline {name!r} (known: {', '.join(list_pipelines())})"
                              ) from None
        raise
    spec = getattr(module, "PIPELINE", None)
    if not isinstance(spec, PipelineSpec):
        raise ConfigError(f"pipelines/{name}.py does not define PIPELINE = PipelineSpec(...)")
    return spec


def list_pipelines() -> list[str]:
    """Names of the declared pipelines."""
    try:
        import pkgutil

        import pipelines

        return sorted(m.name for m in pkgutil.iter_modules(pipelines.__path__)
                      if not m.name.startswith("_"))
    except ImportError:
        return list(_BUILTIN)
