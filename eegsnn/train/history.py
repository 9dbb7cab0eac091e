"""Training curves from a run's ``history.json`` (matplotlib, imported lazily)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from eegsnn.train.checkpoint import publish_mode


def plot_history(history: list[dict[str, Any]], path: str | os.PathLike,
                 title: str | None = None) -> Path | None:
    """Plot loss and accuracy per epoch (train, and val/test when present) to a PNG.

    Returns the path written, or ``None`` (with a one-line message on stderr) when matplotlib
    is not installed (``pip install "eegsnn[plot]"``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("curves.png skipped: matplotlib not installed (pip install 'eegsnn[plot]')",
              file=sys.stderr)
        return None
    path = Path(path)
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-o"), ("val", "-s"), ("test", "-^")):
        if f"{split}_loss" in history[0]:
            ax_loss.plot(epochs, [h[f"{split}_loss"] for h in history], style, ms=3,
                         label=split)
        if f"{split}_accuracy" in history[0]:
            ax_acc.plot(epochs, [100 * h[f"{split}_accuracy"] for h in history], style, ms=3,
                        label=split)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    publish_mode(tmp)
    os.replace(tmp, path)
    return path
