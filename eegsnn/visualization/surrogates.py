"""Surrogate gradients: the Heaviside forward pass and each surrogate's backward pass."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from eegsnn import surrogate
from eegsnn.errors import ConfigError
from eegsnn.visualization._figure import new_figure

__all__ = ["surrogate_curves", "surrogate_values"]


def surrogate_values(spike_fn: Callable[[Any], Any], x: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(forward, backward)`` of a spike function at ``x``: ``H(x)`` and the gradient its
    backward pass really returns (through :func:`mlx.core.grad`, custom VJP included)."""
    import mlx.core as mx

    xs = mx.array(np.asarray(x, dtype=np.float32))
    forward = np.array(spike_fn(xs), dtype=np.float64)
    backward = np.array(mx.grad(lambda v: spike_fn(v).sum())(xs), dtype=np.float64)
    return forward, backward


def surrogate_curves(surrogates: Mapping[str, Any] | Sequence[Any] | None = None, *,
                     x_range: tuple[float, float] = (-1.0, 1.0), num: int = 801,
                     title: str | None = None,
                     figsize: tuple[float, float] = (9, 3.6)) -> Any:
    """Forward (spike) and backward (surrogate derivative) of spike functions over
    :math:`x = U - U_\\mathrm{thr}`.

    Args:
        surrogates: ``{label: spike_fn or name}`` or a list of spike functions / names
            (:func:`eegsnn.surrogate.get`); default: every named surrogate with its default
            hyperparameters.
        x_range: plotted range of :math:`x`.
        num: points per curve.
    """
    if surrogates is None:
        surrogates = ["fast_sigmoid", "atan", "sigmoid", "triangular", "straight_through"]
    if isinstance(surrogates, Mapping):
        items = [(str(k), surrogate.get(v) if isinstance(v, str) else v)
                 for k, v in surrogates.items()]
    else:
        items = []
        for spec in surrogates:
            fn = surrogate.get(spec) if isinstance(spec, str) else spec
            items.append((repr(fn).removeprefix("surrogate."), fn))
    if not items:
        raise ConfigError("surrogate_curves: no surrogates given")
    lo, hi = float(x_range[0]), float(x_range[1])
    if not lo < hi:
        raise ConfigError(f"surrogate_curves: x_range must be increasing, got {x_range}")
    x = np.linspace(lo, hi, int(num))
    fig, (ax_f, ax_b) = new_figure(1, 2, figsize=figsize)
    for label, fn in items:
        if not callable(fn):
            raise ConfigError(f"surrogate_curves: {label!r} is not a spike function")
        forward, backward = surrogate_values(fn, x)
        ax_f.plot(x, forward, lw=1.2, label=label)
        ax_b.plot(x, backward, lw=1.2, label=label)
    ax_f.set(xlabel="x = U - threshold", ylabel="spike S", title="forward: S = H(x)")
    ax_b.set(xlabel="x = U - threshold", ylabel="dS/dx", title="backward: surrogate dS/dx")
    for ax in (ax_f, ax_b):
        ax.grid(alpha=0.3)
        ax.axvline(0, color="0.6", lw=0.6)
    ax_b.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
