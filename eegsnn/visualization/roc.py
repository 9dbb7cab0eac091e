"""ROC curves: from labels and scores (:func:`roc_plot`) or from points already computed
(:func:`roc_curves_plot`, the ``roc`` records of a pipeline's ``metrics.json``).

Both draw on the same axes: limits padded to -0.02 .. 1.02 and the curves drawn above the
frame (``clip_on=False``), so the curve of a perfect model, which runs along the top and
left edges, stays visible instead of hiding under the axes' spines. ROC points come from
:func:`eegsnn.evaluate.metrics.roc_curve`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError
from eegsnn.evaluate.metrics import roc_auc, roc_curve
from eegsnn.visualization._figure import as_numpy, new_figure

__all__ = ["ROC_LIMITS", "roc_curves_plot", "roc_plot"]

#: Axis limits of every ROC plot: a small margin around [0, 1] on both axes.
ROC_LIMITS = (-0.02, 1.02)


def _roc_axes(ax: Any, title: str) -> None:
    """Chance diagonal, padded limits, square axes, labels and legend."""
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", lw=0.8, zorder=1, label="chance")
    ax.set_xlim(*ROC_LIMITS)
    ax.set_ylim(*ROC_LIMITS)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate (1 - specificity)")
    ax.set_ylabel("true-positive rate (sensitivity)")
    ax.grid(alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)


def _curve(ax: Any, fpr: Any, tpr: Any, label: str, index: int, count: int) -> None:
    # above the frame (zorder > the spines' 2.5) and never clipped by it: a perfect model's
    # curve lies on the top and left edges of the unit square. The first curve (the model)
    # is drawn on top and thinnest, later ones (baselines) wider beneath it, so that where
    # the curves coincide both stay visible.
    ax.step(np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float), where="post",
            lw=1.8 if index == 0 else 3.4, alpha=1.0 if index == 0 else 0.75, label=label,
            zorder=3 + count - index, clip_on=False)


def _auc_label(name: str, auc: float | None) -> str:
    return f"{name} (AUC {auc:.3f})" if auc is not None else name


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
    for i, (label, target, score) in enumerate(curves):
        fpr, tpr, _ = roc_curve(target, score)
        _curve(ax, fpr, tpr, _auc_label(label, roc_auc(target, score)), i, len(curves))
    _roc_axes(ax, title or "ROC")
    return fig


def roc_curves_plot(curves: Mapping[str, Mapping[str, Any]], *, title: str | None = None,
                    figsize: tuple[float, float] = (4.8, 4.5)) -> Any:
    """ROC curves from points already computed, one step line per named curve.

    Args:
        curves: ``name -> {"fpr": [...], "tpr": [...], "auc": float | None}`` (the ``roc``
            records of the pipeline's ``metrics.json``); the AUC is shown in the legend.
    """
    if not curves:
        raise ConfigError("roc_curves_plot: no curves given")
    fig, ax = new_figure(figsize=figsize)
    for i, (name, c) in enumerate(curves.items()):
        if "fpr" not in c or "tpr" not in c or len(c["fpr"]) != len(c["tpr"]):
            raise ConfigError(f"roc_curves_plot: curve {name!r} needs 'fpr' and 'tpr' of "
                              "the same length")
        _curve(ax, c["fpr"], c["tpr"], _auc_label(str(name), c.get("auc")), i, len(curves))
    _roc_axes(ax, title or "ROC")
    return fig
