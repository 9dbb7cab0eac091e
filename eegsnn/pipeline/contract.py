"""What every model the pipeline trains provides (``model.type``: ``snn``, ``lsm``, ...).

The stage runner (:mod:`eegsnn.pipeline.run`) and :func:`~eegsnn.pipeline.evaluate_run`
know models only through :class:`PipelineModel`::

    model = pipeline_model(cfg)                  # unfitted, from the study config
    fitted = model.fit(fold, work_dir, where="fold 1")   # train; score held-out windows
    fitted.record          # the fold's training facts (keys of folds/fold-K/metrics.json)
    fitted.test            # Prediction of fold.test_idx: proba [N, K], firing rates
    model.predict_proba(spikes)                  # Prediction of encoded windows [T, W, L]
    model.raster(spikes[:, i:i + 1])             # {"layer0": [T, n], ...} of one window
    model.save(dest); type(model).load(dest, cfg)   # model/ or folds/fold-K/

A new kind is a subclass registered in :data:`eegsnn.pipeline.models.MODEL_TYPES`.
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from eegsnn.pipeline.metrics import class_counts

__all__ = ["FitReport", "Fold", "PipelineModel", "Prediction", "issue_warnings"]

log = logging.getLogger("eegsnn.pipeline")


@dataclass
class Fold:
    """The windows a model is fitted on, and the held-out ones it is scored on.

    Attributes:
        spikes: encoded windows ``[T, W, L]`` (MLX), all of them; indices select.
        y: ``[W]`` integer labels.
        class_names: names of the ``K`` classes.
        groups: ``[W]`` split groups (validation groups are split off by these).
        train_idx: windows to fit on.
        test_idx: held-out windows to score after fitting (``None``: none).
        steps_per_s: encoder time steps per second of signal.
        encoder: the fitted encoder's config (recorded beside the training).
    """

    spikes: Any
    y: np.ndarray
    class_names: Sequence[str]
    groups: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray | None = None
    steps_per_s: float | None = None
    encoder: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(self.spikes.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def counts(self, idx: np.ndarray) -> dict[str, int]:
        """Windows per class among ``idx``."""
        return class_counts(self.y[idx], self.class_names)


@dataclass
class Prediction:
    """Class probabilities ``[N, K]``, mean firing rate per neuron layer, and the texts of
    the warnings the model gave about its activity (already logged and issued)."""

    proba: np.ndarray
    rates: dict[str, float]
    warnings: list[str] = field(default_factory=list)


@dataclass
class FitReport:
    """What :meth:`PipelineModel.fit` returns.

    Attributes:
        record: the fit's facts for the fold's ``metrics.json`` (``train_windows``,
            ``train_windows_balanced``, ``val_windows``, ``train_class_counts``,
            ``train_class_counts_balanced``, ``epochs_trained``, ``stopped_early``,
            ``train_time_s``, and blocks of the kind such as ``lsm``, ``warnings``).
        test: the prediction of the fold's ``test_idx`` windows (``None`` without them).
        summary: what ``model/fit.json`` keeps about a refit on all windows (``None``
            when the work folder holds the training record).
    """

    record: dict[str, Any]
    test: Prediction | None = None
    summary: dict[str, Any] | None = None


class PipelineModel(ABC):
    """A model a study config builds (``model.type``), fits on a fold, applies and saves.

    Attributes:
        type: the ``model.type`` it implements.
        files: what a saved model folder holds besides ``encoder.json`` and
            ``model_config.json`` (``load_run_model`` names a missing one).
        splits_validation: ``fit`` holds out ``split.val_fraction`` of the training groups
            for validation (:func:`eegsnn.pipeline.snn.split_validation`); the stage runner
            then fits the encoder without those windows.
    """

    type: ClassVar[str]
    files: ClassVar[tuple[str, ...]] = ()
    splits_validation: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> PipelineModel:
        """An unfitted model of a resolved study config."""

    @classmethod
    @abstractmethod
    def load(cls, src: Path, cfg: Mapping[str, Any]) -> PipelineModel:
        """Rebuild a model saved by :meth:`save` (``cfg``: the run's study config).

        Raises:
            DataError: a file is missing or corrupt (named).
        """

    @property
    @abstractmethod
    def n_inputs(self) -> int:
        """Spike lines per step the fitted model takes."""

    @abstractmethod
    def fit(self, fold: Fold, work_dir: Path | None = None, *, progress: bool | None = None,
            where: str = "fit") -> FitReport:
        """Fit on ``fold.train_idx``; predict ``fold.test_idx`` when given.

        Args:
            work_dir: folder for the training record (``None``: nothing written).
            progress: progress bars (``None``: only on a terminal).
            where: names the fit in log lines and warnings (``"fold 2"``, ``"refit"``).
        """

    @abstractmethod
    def predict_proba(self, spikes: Any, where: str = "predict") -> Prediction:
        """Probabilities and firing rates of encoded windows ``[T, W, L]``."""

    @abstractmethod
    def raster(self, spikes: Any) -> dict[str, np.ndarray]:
        """Every neuron layer's spikes (``layer0``, ...; ``membrane``) of one window
        ``[T, 1, L]``, each ``[T, n]``."""

    @abstractmethod
    def save(self, dest: Path) -> None:
        """Write the fitted model into ``dest`` (``model_config.json`` and ``files``)."""

    @classmethod
    def summarize(cls, cfg: Mapping[str, Any], reports: list[dict[str, Any]],
                  rates: list[dict[str, float]]) -> dict[str, Any]:
        """Blocks of the kind in the run's ``metrics.json`` from the folds' reports and
        held-out firing rates (default: none)."""
        return {}


def issue_warnings(where: str, caught: list[warnings.WarningMessage]) -> list[str]:
    """Log caught warnings (prefixed with ``where``), issue them again, return the texts."""
    out = []
    for w in caught:
        text = f"{where}: {w.message}"
        log.warning(text)
        warnings.warn(text, w.category if isinstance(w.category, type) else RuntimeWarning,
                      stacklevel=3)
        out.append(text)
    return out
