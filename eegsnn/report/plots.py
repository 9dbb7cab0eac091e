"""Figures of a run (matplotlib, imported lazily; the ``plot`` extra).

Every function writes one PNG and returns its path, or ``None`` when matplotlib is not
installed (the report then says so instead of showing the figure).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["have_matplotlib", "plot_confusion", "plot_firing_rates", "plot_raster",
           "plot_roc"]


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], path: str | os.PathLike,
                   title: str = "Confusion matrix") -> Path | None:
    """Counts with row-normalised colour (recall per true class)."""
    if not have_matplotlib():
        return None
    plt = _plt()
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2.5, 1.1 * k + 2))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{cm[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_roc(curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | os.PathLike,
             title: str = "ROC") -> Path | None:
    """One line per named curve ``{"fpr": [...], "tpr": [...], "auc": float}``."""
    if not have_matplotlib() or not curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, c in curves.items():
        label = f"{name} (AUC {c['auc']:.3f})" if c.get("auc") is not None else name
        ax.step(c["fpr"], c["tpr"], where="post", label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false-positive rate (1 - specificity)")
    ax.set_ylabel("true-positive rate (sensitivity)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_raster(arrays: Mapping[str, np.ndarray], path: str | os.PathLike,
                title: str = "Spike raster of one window") -> Path | None:
    """Input spikes and each layer's spikes ``[T, N]`` of one window, stacked panels."""
    if not have_matplotlib():
        return None
    plt = _plt()
    names = ["input", *sorted(k for k in arrays if k.startswith("layer"))]
    names = [n for n in names if n in arrays]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 1.6 + 1.6 * len(names)), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        s = np.asarray(arrays[name])
        t, n = np.nonzero(s > 0)
        ax.scatter(t, n, s=2, marker="|", color="black", linewidths=0.6)
        ax.set_ylabel(f"{name}\n({s.shape[1]} lines)", fontsize=8)
        ax.set_ylim(-0.5, s.shape[1] - 0.5)
        ax.set_title(f"{name}: {float((s > 0).mean()):.3f} of entries active, "
                     f"{float(s.sum()):.0f} spikes", fontsize=8, loc="left")
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle(title, fontsize=10)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_firing_rates(rates: Mapping[str, float], path: str | os.PathLike) -> Path | None:
    """Bar chart of mean firing rate (spikes per neuron per step) per layer."""
    if not have_matplotlib() or not rates:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.4 * len(rates) + 2.5, 3))
    names = list(rates)
    ax.bar(range(len(names)), [rates[n] for n in names], color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("spikes / neuron / step")
    ax.set_title("Mean firing rate per layer (test windows)")
    out = _save(fig, path)
    plt.close(fig)
    return out
