r"""Event-driven input projection of rate-coded spikes: ``I = S W + b`` without a dense GEMM.

Rate coding turns a sample ``x [B, F]`` into spikes ``S[t, b, i] = 1[u(t, b, i) < q(b, i)]``
with ``u`` a uniform 16-bit integer and ``q = round(65536 p)`` the spike probability ``p``
in 1/65536 units (exactly the :func:`eegsnn.train.data.rate_encoder` rule). The first layer
of the network then needs ``I[t, b] = b_0 + sum_i S[t, b, i] W[i]`` (``W [F, H]``) and, in
the backward pass, ``dW[i] = sum_{t, b} S[t, b, i] G[t, b]``. A dense GEMM spends ``F``
multiply-adds on every output; here the spikes are never materialised and each output costs
one vector add per *event*, with one more saving:

**Complement trick.** Inputs with ``p > 1/2`` are usually on. For them the kernel starts from
``sum_i W[i]`` over all such inputs (once per sample) and *subtracts* the rows of the ones
that stay silent at step ``t``; inputs with ``p <= 1/2`` add the rows of the ones that fire.
The work per output is the number of exceptions, ``sum_i min(p_i, 1 - p_i)`` in
expectation: for MNIST 21 rows instead of the 102 spikes (and 784 for a dense GEMM). The
weight gradient uses the same split with ``sum_t G[t, b]``.

**Random numbers.** ``u(t, b, i)`` is the low 16 bits of SplitMix64 (Steele, Lea & Flood
2014) at counter ``(t B + b) F + i`` of the stream ``key``: a counter-based generator, so any
thread computes any spike on demand, forward and backward agree without storing ``S``, and
the result does not depend on the number of threads. :func:`rate_spikes` materialises the
same spikes (for tests and inspection).

The loops are C (``_ckernels.c``); these functions check the arrays and call them. All
arrays are NumPy (C-contiguous; float32 for weights and gradients, uint32 thresholds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegsnn.kernels._native import pointer, require

#: ``q`` above this (``p > 1/2``) uses the complement (start on, subtract the silent steps).
HALF = np.uint32(32768)
#: ``q`` of an input that always fires (``p = 1``).
ALWAYS = np.uint32(65536)



@dataclass(frozen=True, eq=False)
class RatePlan:
    """Index lists of one batch of thresholds, made by :func:`plan` (see there).

    The kernels trust these indices, so a plan is only accepted together with the very
    ``threshold`` array it was made from (``source``).
    """

    source: np.ndarray
    low_count: np.ndarray
    low_index: np.ndarray
    high_count: np.ndarray
    high_index: np.ndarray


def key_to_uint64(key: object) -> np.uint64:
    """A 64-bit stream id from an MLX PRNG key (``uint32 [2]``), an int or a NumPy integer."""
    if isinstance(key, int | np.integer):
        return np.uint64(int(key) & 0xFFFFFFFFFFFFFFFF)
    words = np.asarray(key).astype(np.uint64).reshape(-1)
    if words.size != 2:
        raise ValueError(f"expected a PRNG key of two uint32 words, got shape {words.shape}")
    return np.uint64((int(words[0]) << 32) | int(words[1]))


def rate_thresholds(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Spike probabilities of a batch ``x [B, ...]`` in 1/65536 units: ``uint32 [B, F]``.

    Same rule as :func:`eegsnn.train.data.rate_encoder`: uint8 input is read as ``x / 255``
    (``round(65536 x / 255)`` in exact integers when ``scale == 1``), float input as ``x``;
    ``p = min(1, scale * x)`` clipped at 0.
    """
    x = np.asarray(x)
    flat = x.reshape(x.shape[0], -1)
    if flat.dtype == np.uint8 and scale == 1.0:
        return ((flat.astype(np.uint32) * 65536 + 127) // 255).astype(np.uint32)
    p = flat.astype(np.float32) * np.float32(1.0 / 255.0 if flat.dtype == np.uint8 else 1.0)
    p = np.clip(p * np.float32(scale), 0.0, 1.0)
    return np.round(p * np.float32(65536.0)).astype(np.uint32)


def _shape2(threshold: np.ndarray) -> tuple[int, int]:
    if threshold.ndim != 2:
        raise ValueError(f"threshold: expected [B, F], got shape {list(threshold.shape)}")
    return int(threshold.shape[0]), int(threshold.shape[1])


def plan(threshold: np.ndarray) -> RatePlan:
    """Index lists of one batch ``threshold [B, F]`` (cheap, once per batch).

    Returns:
        A :class:`RatePlan`: per sample the inputs with ``0 < q <= HALF``
        (``low_index[b, :low_count[b]]``, ascending) and with ``q > HALF`` (``high_*``).
    """
    num_samples, num_inputs = _shape2(threshold)
    if num_inputs >= 2**31 or num_samples * num_inputs >= 2**31:
        raise ValueError(f"threshold [{num_samples}, {num_inputs}]: too large for the "
                         "kernels' 32-bit indices")
    low_count = np.zeros(num_samples, np.int32)
    high_count = np.zeros(num_samples, np.int32)
    low_index = np.empty((num_samples, num_inputs), np.int32)
    high_index = np.empty((num_samples, num_inputs), np.int32)
    require().eegsnn_plan(
        pointer(threshold, np.uint32, "threshold"), num_samples, num_inputs,
        low_count.ctypes.data, low_index.ctypes.data, high_count.ctypes.data,
        high_index.ctypes.data)
    return RatePlan(threshold, low_count, low_index, high_count, high_index)


def _plan_pointers(plan_arrays: RatePlan, threshold: np.ndarray) -> list[int]:
    """Addresses of the plan's arrays, after checking it belongs to ``threshold``."""
    if not isinstance(plan_arrays, RatePlan) or plan_arrays.source is not threshold:
        raise ValueError("plan: not the plan of this threshold array; call plan(threshold)")
    return [pointer(plan_arrays.low_count, np.int32, "plan.low_count"),
            pointer(plan_arrays.low_index, np.int32, "plan.low_index"),
            pointer(plan_arrays.high_count, np.int32, "plan.high_count"),
            pointer(plan_arrays.high_index, np.int32, "plan.high_index")]


def rate_spikes(threshold: np.ndarray, key: np.uint64 | int, num_steps: int) -> np.ndarray:
    """The spikes the kernels use, materialised: ``uint8 [T, B, F]`` (for tests/inspection)."""
    num_samples, num_inputs = _shape2(threshold)
    out = np.empty((int(num_steps), num_samples, num_inputs), np.uint8)
    require().eegsnn_rate_spikes(pointer(threshold, np.uint32, "threshold"), num_samples,
                                 num_inputs, int(key), int(num_steps), out.ctypes.data)
    return out


def project_forward(threshold: np.ndarray, plan_arrays: RatePlan, key: np.uint64 | int,
                    num_steps: int, weight: np.ndarray, bias: np.ndarray,
                    out: np.ndarray) -> None:
    """``out[t, b] = bias + sum_i S[t, b, i] weight[i]`` for the spikes of ``key``.

    Args:
        threshold: ``uint32 [B, F]`` from :func:`rate_thresholds`.
        plan_arrays: :func:`plan` of ``threshold``.
        key: stream id (:func:`key_to_uint64`).
        num_steps: ``T``.
        weight: ``float32 [F, H]`` (input-major: row ``i`` is input ``i``'s weights).
        bias: ``float32 [H]`` (zeros for a layer without bias).
        out: ``float32 [T, B, H]``, written.
    """
    num_samples, num_inputs = _shape2(threshold)
    plan_pointers = _plan_pointers(plan_arrays, threshold)
    hidden = int(weight.shape[1]) if weight.ndim == 2 else -1
    if weight.shape != (num_inputs, hidden) or bias.shape != (hidden,) or \
            out.shape != (int(num_steps), num_samples, hidden):
        raise ValueError(f"project_forward: weight {list(weight.shape)}, bias "
                         f"{list(bias.shape)}, out {list(out.shape)} do not fit threshold "
                         f"[{num_samples}, {num_inputs}] and T={num_steps}")
    failed = require().eegsnn_project_forward(
        pointer(threshold, np.uint32, "threshold"), num_samples, num_inputs,
        *plan_pointers, int(key), int(num_steps), pointer(weight, np.float32, "weight"),
        hidden, pointer(bias, np.float32, "bias"), pointer(out, np.float32, "out", True))
    if failed:
        raise MemoryError("project_forward: out of memory")


def project_weight_grad(threshold: np.ndarray, key: np.uint64 | int, grad: np.ndarray,
                        grad_time_sum: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_{t, b} S[t, b, i] grad[t, b]`` (the weight gradient, input-major).

    Args:
        threshold, key: as in :func:`project_forward` (the same spikes).
        grad: ``float32 [T, B, H]``, the gradient of the loss with respect to the projection.
        grad_time_sum: ``float32 [B, H]``, ``grad.sum(axis=0)``.
        out: ``float32 [F, H]``, written. One thread owns each input row: no atomics and the
            same sums in the same order whatever the thread count.
    """
    num_samples, num_inputs = _shape2(threshold)
    if grad.ndim != 3 or grad.shape[1] != num_samples:
        raise ValueError(f"project_weight_grad: grad {list(grad.shape)} is not [T, "
                         f"{num_samples}, H]")
    num_steps, _, hidden = (int(n) for n in grad.shape)
    if grad_time_sum.shape != (num_samples, hidden) or out.shape != (num_inputs, hidden):
        raise ValueError(f"project_weight_grad: grad_time_sum {list(grad_time_sum.shape)} or "
                         f"out {list(out.shape)} do not fit grad {list(grad.shape)}")
    require().eegsnn_project_weight_grad(
        pointer(threshold, np.uint32, "threshold"), num_samples, num_inputs,
        int(key), num_steps,
        pointer(grad, np.float32, "grad"), pointer(grad_time_sum, np.float32, "grad_time_sum"),
        hidden, pointer(out, np.float32, "out", True))
