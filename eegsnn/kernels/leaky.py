r"""Fused Leaky integrate-and-fire recurrence over a whole sequence (forward and backward).

Same model and numbers as :func:`eegsnn.nn.sequence.leaky_sequence` from a zero initial
membrane (delayed, detached reset; snnTorch's ``Leaky``):

.. math:: R[t] = H(U[t-1] - \theta), \quad
    U[t] = \beta U[t-1] + X[t] - R[t]\,\theta \;\;(\text{subtract}),\;
    \beta (1 - R[t]) U[t-1] + X[t] \;\;(\text{zero}),\;
    \beta U[t-1] + X[t] \;\;(\text{none}), \quad S[t] = H(U[t] - \theta).

Backward (the reset is detached): with :math:`D[t] = G_U[t] + G_S[t]\,\sigma'(U[t]-\theta)`,
:math:`\bar U[T-1] = D[T-1]` and :math:`\bar U[t] = D[t] + d[t+1]\,\bar U[t+1]`, where
:math:`d = \beta` (``(1 - R[t+1])\beta`` for the zero reset); :math:`\partial L/\partial X =
\bar U`. One pass over ``[T, N]`` each way, parallel over the ``N`` neurons, instead of a few
MLX dispatches per time step.

Surrogate derivatives (:mod:`eegsnn.surrogate`), selected by :data:`SURROGATES` code with
one parameter ``a``: fast sigmoid ``1 / (1 + a|x|)^2``; sigmoid ``a s(ax) s(-ax)``;
atan ``(a/2) / (1 + (pi a x / 2)^2)``; triangular ``max(0, 1 - |x|/a) / a``;
straight-through ``1``. The loops are C (``_ckernels.c``); these functions check the
arrays and call them.
"""

from __future__ import annotations

import numpy as np

from eegsnn.kernels._native import pointer, require

#: Reset mechanisms by code.
MECHANISMS = {"subtract": 0, "zero": 1, "none": 2}
#: Surrogate derivatives by code; the parameter each uses (``None``: no parameter).
SURROGATES = {"fast_sigmoid": (0, "slope"), "sigmoid": (1, "slope"), "atan": (2, "alpha"),
              "triangular": (3, "width"), "straight_through": (4, None)}


def _shape2(array: np.ndarray, name: str) -> tuple[int, int]:
    if array.ndim != 2:
        raise ValueError(f"{name}: expected [T, N], got shape {list(array.shape)}")
    return int(array.shape[0]), int(array.shape[1])


def leaky_forward(current: np.ndarray, beta: float, threshold: float, mechanism: int,
                  spikes: np.ndarray, membrane: np.ndarray) -> None:
    """Run the recurrence from ``U[-1] = 0``.

    Args:
        current: input ``X`` ``float32 [T, N]``.
        beta, threshold: scalars.
        mechanism: :data:`MECHANISMS` code.
        spikes, membrane: ``float32 [T, N]``, written (``S`` and ``U``); ``membrane`` may be
            ``current`` itself (each ``X[t, k]`` is read before ``U[t, k]`` is written).
    """
    num_steps, num_neurons = _shape2(current, "current")
    if spikes.shape != current.shape or membrane.shape != current.shape:
        raise ValueError("leaky_forward: spikes and membrane must have the shape of current")
    require().eegsnn_leaky_forward(
        pointer(current, np.float32, "current"), num_steps, num_neurons, float(beta),
        float(threshold), int(mechanism), pointer(spikes, np.float32, "spikes", True),
        pointer(membrane, np.float32, "membrane", True))


def leaky_backward(grad_spikes: np.ndarray, grad_membrane: np.ndarray | None,
                   membrane: np.ndarray, beta: float, threshold: float, mechanism: int,
                   surrogate: int, surrogate_param: float, grad_current: np.ndarray) -> None:
    """``grad_current = dL/dX`` ``float32 [T, N]`` from ``dL/dS`` and ``dL/dU`` (both
    ``[T, N]``; ``None`` for ``dL/dU`` when only spikes are used) and the forward
    ``membrane``; ``surrogate`` is a :data:`SURROGATES` code with its parameter.
    ``grad_current`` may be ``membrane`` itself (each ``U[t, k]`` is read before
    ``dL/dX[t, k]`` is written)."""
    num_steps, num_neurons = _shape2(membrane, "membrane")
    for name, array in (("grad_spikes", grad_spikes), ("grad_membrane", grad_membrane),
                        ("grad_current", grad_current)):
        if array is not None and array.shape != membrane.shape:
            raise ValueError(f"leaky_backward: {name} {list(array.shape)} is not "
                             f"{list(membrane.shape)}")
    require().eegsnn_leaky_backward(
        pointer(grad_spikes, np.float32, "grad_spikes"),
        None if grad_membrane is None else pointer(grad_membrane, np.float32, "grad_membrane"),
        pointer(membrane, np.float32, "membrane"), num_steps, num_neurons, float(beta),
        float(threshold), int(mechanism), int(surrogate), float(surrogate_param),
        pointer(grad_current, np.float32, "grad_current", True))
