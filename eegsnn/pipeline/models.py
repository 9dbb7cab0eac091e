"""The models a study config can train, by ``model.type`` (see
:class:`~eegsnn.pipeline.contract.PipelineModel`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eegsnn.errors import ConfigError
from eegsnn.pipeline.contract import PipelineModel
from eegsnn.pipeline.lsm import LSMPipelineModel
from eegsnn.pipeline.snn import SNNPipelineModel

__all__ = ["MODEL_TYPES", "model_class", "pipeline_model"]

#: ``model.type`` -> the class implementing it.
MODEL_TYPES: dict[str, type[PipelineModel]] = {
    SNNPipelineModel.type: SNNPipelineModel,
    LSMPipelineModel.type: LSMPipelineModel,
}


def model_class(model_config: Mapping[str, Any]) -> type[PipelineModel]:
    """The class of a ``model`` section or a saved ``model_config.json`` (no ``type``:
    ``snn``)."""
    kind = model_config.get("type") or "snn"
    if kind not in MODEL_TYPES:
        raise ConfigError(f"model.type must be one of {', '.join(MODEL_TYPES)}, got {kind!r}")
    return MODEL_TYPES[kind]


def pipeline_model(cfg: Mapping[str, Any]) -> PipelineModel:
    """An unfitted model of a resolved study config (its ``model.type``)."""
    return model_class(cfg["model"]).from_config(cfg)
