"""Training curves of a run (``curves.png``): loss and accuracy per epoch.

:func:`history_figure` draws the curves on a headless :class:`matplotlib.figure.Figure`
(no pyplot); :func:`plot_history` writes it next to ``history.json`` (what
:func:`eegsnn.train.fit` does with ``run_dir``). The figure lives here, below
:mod:`eegsnn.visualization`, because the training loop writes it;
:func:`eegsnn.visualization.training_curves` draws through the same function.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eegsnn.errors import ConfigError
from eegsnn.extras import require
from eegsnn.train.checkpoint import publish_mode

__all__ = ["CURVE_LABELS", "history_figure", "history_value", "plot_history"]

#: what each history prefix is, as the curves name it
CURVE_LABELS = {"train": "training", "val": "validation",
                "heldout": "held-out monitoring (not used for model selection)"}


def history_value(entry: Mapping[str, Any], key: str) -> Any:
    """``entry[key]``; a ``heldout_*`` key falls back to the ``test_*`` key that
    histories used before (same meaning: monitored, never used for model selection)."""
    if key in entry or not key.startswith("heldout_"):
        return entry.get(key)
    return entry.get("test_" + key[len("heldout_"):])


def history_figure(history: Sequence[Mapping[str, Any]], *, title: str | None = None,
                   figsize: tuple[float, float] = (10, 4)) -> Any:
    """Loss and accuracy per epoch for training / validation / held-out monitoring
    (whatever the history holds; :data:`CURVE_LABELS` names them).

    Args:
        history: per-epoch dicts (``epoch``, ``train_loss``, ``train_accuracy``,
            ``val_loss``, ``heldout_loss``, ...; the ``test_*`` keys of older histories are
            read as ``heldout_*``); an entry without a value leaves that point out.

    Raises:
        ConfigError: an empty history, or one without any ``*_loss``/``*_accuracy`` value.
        MissingExtraError: matplotlib is not installed.
    """
    entries = list(history)
    if not entries:
        raise ConfigError("training_curves: the history is empty (no epoch finished)")
    require("matplotlib", "plot", "Plotting")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [h.get("epoch", i + 1) for i, h in enumerate(entries)]
    fig = Figure(figsize=figsize, layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    drawn = 0
    for split, style in (("train", "-o"), ("val", "-s"), ("heldout", "-^")):
        for ax, key, scale in ((ax_loss, "loss", 1.0), (ax_acc, "accuracy", 100.0)):
            values = [history_value(h, f"{split}_{key}") for h in entries]
            pts = [(e, v * scale) for e, v in zip(epochs, values, strict=True) if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=CURVE_LABELS[split])
                drawn += 1
    if not drawn:
        raise ConfigError("training_curves: the history has no *_loss or *_accuracy values")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs: no 2.5 tick
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_history(history: Sequence[Mapping[str, Any]], path: str | os.PathLike,
                 title: str | None = None) -> Path | None:
    """Write :func:`history_figure` to a PNG (atomically, with the run's file mode).

    Returns the path written, or ``None`` (with a one-line message on stderr) when matplotlib
    is not installed (``pip install "eegsnn[plot]"``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        print("curves.png skipped: matplotlib not installed (pip install 'eegsnn[plot]')",
              file=sys.stderr)
        return None
    path = Path(path)
    fig = history_figure(history, title=title)
    FigureCanvasAgg(fig)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
