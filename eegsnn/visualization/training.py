r"""Plots of training and evaluation: loss/accuracy curves, confusion matrix, ROC.

The plots take the engine's records directly (``history.json`` entries, ``metrics.json``'s
``confusion_matrix``, the pipeline's ``roc`` points); ROC points come from
:func:`eegsnn.evaluate.metrics.roc_curve`. The loss/accuracy figure is drawn by
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
from eegsnn.evaluate.metrics import roc_auc, roc_curve
from eegsnn.train.history import history_figure
from eegsnn.visualization._figure import as_numpy, new_figure

__all__ = ["confusion_matrix_plot", "roc_curves_plot", "roc_plot", "training_curves"]


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


def roc_plot(y_true: Any, scores: Any, *, class_names: Sequence[str] | None = None,
             title: str | None = None, figsize: tuple[float, float] = (4.8, 4.5)) -> Any:
    """ROC curve(s) with their AUC.

    Args:
        y_true: ``[N]`` integer labels.
        scores: ``[N]`` class-1 scores (two classes) or ``[N, K]`` per-class scores
            (logits or probabilities): one curve per class, one-vs-rest (for ``K = 2``
            only the positive class, scored by ``s[:, 1] - s[:, 0]``).
    """
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = as_numpy(scores, "scores", (1, 2), "roc_plot")
    curves: list[tuple[str, np.ndarray, np.ndarray]] = []
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1] - s[:, 0]
    if s.ndim == 1:
        names = class_names or ("0", "1")
        curves.append((str(names[1]), (y == 1).astype(int), s))
    else:
        names = class_names or [str(i) for i in range(s.shape[1])]
        if len(names) != s.shape[1]:
            raise ConfigError(f"roc_plot: {len(names)} class names for {s.shape[1]} classes")
        for c in range(s.shape[1]):
            if 0 < int((y == c).sum()) < y.size:
                curves.append((f"{names[c]} vs rest", (y == c).astype(int), s[:, c]))
    if not curves:
        raise ConfigError("roc_plot: no class has both positive and negative samples")
    fig, ax = new_figure(figsize=figsize)
    for label, target, score in curves:
        fpr, tpr, _ = roc_curve(target, score)
        ax.plot(fpr, tpr, lw=1.5, label=f"{label} (AUC {roc_auc(target, score):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
           ylim=(0, 1.01), title=title or "ROC")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_aspect("equal")
    return fig


def roc_curves_plot(curves: Mapping[str, Mapping[str, Any]], *, title: str | None = None,
                    figsize: tuple[float, float] = (4.5, 4.2)) -> Any:
    """ROC curves from points already computed, one step line per named curve.

    Args:
        curves: ``name -> {"fpr": [...], "tpr": [...], "auc": float | None}`` (the ``roc``
            records of the pipeline's ``metrics.json``); the AUC is shown in the legend.
    """
    if not curves:
        raise ConfigError("roc_curves_plot: no curves given")
    fig, ax = new_figure(figsize=figsize)
    for name, c in curves.items():
        label = f"{name} (AUC {c['auc']:.3f})" if c.get("auc") is not None else name
        ax.step(c["fpr"], c["tpr"], where="post", label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false-positive rate (1 - specificity)")
    ax.set_ylabel("true-positive rate (sensitivity)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "ROC")
    return fig
