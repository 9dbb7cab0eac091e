r"""Plots of training and evaluation: loss/accuracy curves, confusion matrix (ROC curves
are in :mod:`eegsnn.visualization.roc`).

The plots take the engine's records directly (``history.json`` entries, ``metrics.json``'s
``confusion_matrix``). The loss/accuracy figure is drawn by
:func:`eegsnn.train.history.history_figure` (the training loop writes ``curves.png`` with
it, and ``train`` sits below this package).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.train.history import history_figure
from eegsnn.visualization._figure import as_numpy, new_figure

__all__ = ["confusion_matrix_plot", "training_curves"]


def _history(history: Sequence[Mapping[str, Any]] | str | os.PathLike) -> list[dict[str, Any]]:
    if isinstance(history, (str, os.PathLike)):
        path = Path(history)
        try:
            history = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: cannot read a training history ({exc})") from exc
        if not isinstance(history, list):
            raise DataError(f"{path}: a history is a JSON list of per-epoch records")
    entries = [dict(h) for h in history]
    if not entries:
        raise ConfigError("training_curves: the history is empty (no epoch finished)")
    return entries


def training_curves(history: Sequence[Mapping[str, Any]] | str | os.PathLike, *,
                    title: str | None = None, figsize: tuple[float, float] = (10, 4)) -> Any:
    """Loss and accuracy per epoch, curves named for what they are: ``training``,
    ``validation`` (early stopping, best epoch) and ``held-out monitoring (not used for
    model selection)`` (whatever the history holds).

    Args:
        history: the list of per-epoch dicts :func:`eegsnn.train.fit` returns and writes
            to ``history.json`` (``epoch``, ``train_loss``, ``train_accuracy``,
            ``val_loss``, ``heldout_loss``, ...; older histories' ``test_*`` keys are read
            as ``heldout_*``), or the path of that file.
    """
    return history_figure(_history(history), title=title, figsize=figsize)


def confusion_matrix_plot(confusion: Any, *, class_names: Sequence[str] | None = None,
                          normalize: bool = False, title: str | None = None,
                          figsize: tuple[float, float] = (5, 4.5)) -> Any:
    """Confusion matrix heat map with counts (and row percentages when ``normalize``).

    Args:
        confusion: ``[K, K]`` counts, ``C[i, j]`` = true class ``i`` predicted ``j`` (as in
            ``metrics.json``).
        class_names: ``K`` names (default ``0 .. K-1``).
        normalize: colour by the fraction of each true class (recall per row).
    """
    cm = as_numpy(confusion, "confusion", (2,), "confusion_matrix_plot")
    k = cm.shape[0]
    if cm.shape != (k, k) or np.any(cm < 0):
        raise ConfigError(f"confusion_matrix_plot: expected a square matrix of counts, got "
                          f"shape {cm.shape}")
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ConfigError(f"confusion_matrix_plot: {len(names)} class names for {k} classes")
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    shown = frac if normalize else cm
    fig, ax = new_figure(figsize=figsize)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(cm.max(), 1))
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class" if normalize
                 else "windows")
    for i in range(k):
        for j in range(k):
            text = f"{int(cm[i, j])}" + (f"\n{100 * frac[i, j]:.0f}%" if normalize else "")
            dark = shown[i, j] > 0.6 * (1 if normalize else max(cm.max(), 1))
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0)
    ax.set_yticks(range(k), names)
    acc = np.trace(cm) / cm.sum() if cm.sum() else float("nan")
    ax.set(xlabel="predicted", ylabel="true",
           title=title or f"confusion matrix (accuracy {100 * acc:.1f}%)")
    return fig

