r"""General spike encoders as pure functions (rate, latency, delta, level crossing).

Every encoder returns **time-major** spikes ``[T, ...]`` (``T = num_steps``) as ``float32``
0/1 arrays, except where a function says it returns signed spikes or event counts.
Randomness is explicit: :func:`rate` takes an MLX PRNG ``key`` (or an integer seed), so the
same key always gives the same spikes.

Conventions (named because libraries differ on them):

* rate: a spike at step ``t`` when ``u_t < round(65536 p)`` with ``u_t`` a uniform 16-bit
  integer (SplitMix64, counter-based) and ``p = clip(gain * x + offset, 0, 1)``; so
  ``P(spike) = p`` to within ``2**-17`` (exactly 0 and 1 at the ends). The same spikes as the
  fused MNIST step draws for the same key (:mod:`eegsnn.kernels.rate_projection`).
* latency: larger inputs fire earlier; one spike per input at ``round(t)``.
* delta: ON when the change reaches the threshold (``Δ >= θ``), OFF when ``Δ <= -θ``
  (the snnTorch ``spikegen.delta`` convention; mlx-snn uses a strict ``>``).
* send-on-delta (:func:`send_on_delta_counts`): the tracked reference moves by ``θ`` per event,
  so several events can fall on one sample; they are *counted*, never dropped.
* level crossing (:func:`level_crossings`): level ``L`` is crossed upward at sample ``n`` when
  ``x[n-1] < L <= x[n]`` and downward when ``x[n-1] >= L > x[n]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import mlx.core as mx
import numpy as np

from eegsnn.errors import ConfigError, DataError

__all__ = [
    "bernoulli",
    "bin_counts",
    "bin_mean",
    "check_finite",
    "delta",
    "latency",
    "latency_times",
    "level_crossings",
    "make_key",
    "rate",
    "rate_from_thresholds",
    "rate_thresholds",
    "send_on_delta_counts",
    "snr_db",
    "uniform16",
]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def make_key(key: mx.array | int | None, name: str = "key") -> mx.array:
    """An MLX PRNG key from ``key`` (an ``mx.random.key`` array or an integer seed).

    ``None`` is refused: results must be reproducible, so the caller always chooses the key.
    """
    if key is None:
        raise ConfigError(
            f"{name}: an explicit PRNG key is required (mx.random.key(seed) or an int seed)"
        )
    if isinstance(key, (bool, np.bool_)):
        raise ConfigError(f"{name}: expected an mx.random.key or an int seed, got a bool")
    if isinstance(key, (int, np.integer)):
        if not 0 <= int(key) < 2**64:
            raise ConfigError(f"{name}: an int seed must be in [0, 2**64), got {int(key)}")
        return mx.random.key(int(key))
    if isinstance(key, np.ndarray):
        key = mx.array(key)
    if isinstance(key, mx.array):
        if key.dtype != mx.uint32 or key.shape != (2,):
            raise ConfigError(
                f"{name}: expected an mx.random.key (uint32, shape (2,)), "
                f"got dtype {key.dtype} shape {tuple(key.shape)}"
            )
        return key
    raise ConfigError(f"{name}: expected an mx.random.key or an int seed, got {type(key).__name__}")


def _as_float_mx(x: object, name: str) -> mx.array:
    if isinstance(x, mx.array):
        arr = x
    else:
        try:
            arr = mx.array(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name}: cannot convert to a float array ({exc})") from exc
    if not mx.issubdtype(arr.dtype, mx.floating):
        arr = arr.astype(mx.float32)
    elif arr.dtype != mx.float32:
        arr = arr.astype(mx.float32)
    return arr


def check_finite(x: mx.array | np.ndarray, name: str) -> None:
    """Raise :class:`DataError` naming ``name`` if ``x`` holds NaN or infinite values."""
    # fast path: one reduction; a NaN/inf anywhere makes the sum non-finite (a finite sum
    # that overflows falls through to the exact count below)
    if isinstance(x, np.ndarray):
        if np.isfinite(np.sum(x, dtype=np.float64)):
            return
        bad = int(x.size - np.count_nonzero(np.isfinite(x)))
    else:
        if bool(mx.isfinite(mx.sum(x)).item()):
            return
        bad = int(mx.sum(~mx.isfinite(x)))
    if bad:
        raise DataError(f"{name}: {bad} NaN or infinite value(s); clean or interpolate them first")


def _check_steps(num_steps: object, name: str = "num_steps") -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise ConfigError(f"{name} must be a positive int, got {num_steps!r}")
    if num_steps < 1:
        raise ConfigError(f"{name} must be >= 1, got {num_steps}")
    return int(num_steps)


# ---------------------------------------------------------------------------------------------
# rate
# ---------------------------------------------------------------------------------------------


def bernoulli(prob: mx.array, key: mx.array | int) -> mx.array:
    r"""One Bernoulli draw per entry: ``s = 1[u < p]``, ``u ~ U[0, 1)``; same shape as ``prob``.

    ``prob`` is used as given (callers clip it to ``[0, 1]``). Returns ``float32`` 0/1.
    """
    u = mx.random.uniform(shape=prob.shape, key=make_key(key))
    return (u < prob).astype(mx.float32)


def rate(
    data: mx.array | np.ndarray,
    num_steps: int,
    *,
    key: mx.array | int,
    gain: float = 1.0,
    offset: float = 0.0,
    check: bool = True,
) -> mx.array:
    r"""Rate (Bernoulli) code: ``num_steps`` independent draws per input value.

    .. math:: p = \mathrm{clip}(g\,x + o,\ 0,\ 1),\qquad s_t \sim \mathrm{Bernoulli}(p)

    Each draw compares a uniform 16-bit integer with ``round(65536 p)`` (see
    :func:`rate_from_thresholds`): ``P(s = 1)`` equals ``p`` to within ``2**-17``, exactly 0
    for ``p = 0`` and 1 for ``p = 1``. On the CPU device with eegsnn's C kernels built the
    draws are made there (~6x faster than ``mx.random.uniform`` on a ``[25, 128, 784]``
    MNIST batch, the largest cost of a per-step training loop after its matmuls);
    otherwise (another device, no kernels, or inside :func:`mlx.core.compile` /
    :func:`mlx.core.vmap`) by MLX operations that give the same spikes bit for bit. With
    the same key these are the spikes the fused MNIST step draws
    (:mod:`eegsnn.kernels.rate_projection`).

    Args:
        data: values of any shape ``S`` (usually ``[B, F]``); values outside ``[0, 1]`` after
            ``gain``/``offset`` are clipped. ``uint8`` data (images) are read as ``x / 255``
            (as :func:`eegsnn.train.data.rate_encoder` reads them; with ``gain=1, offset=0``
            the thresholds are the exact integers ``round(65536 x / 255)``).
        num_steps: ``T``, number of time steps.
        key: an ``mx.random.key`` or an int seed in ``[0, 2**64)`` (required: same key,
            same spikes). Under :func:`mlx.core.vmap` every mapped sample gets the same
            stream; map over keys to vary it.
        gain, offset: affine map applied before clipping.
        check: refuse NaN/inf input; the check reads the data, so pass ``check=False``
            inside :func:`mlx.core.compile` (a NaN then gives no spikes, +inf always spikes).

    Returns:
        ``float32`` spikes ``[T, *S]``; the expected count per input is ``T * p``.
    """
    t = _check_steps(num_steps)
    if isinstance(data, mx.array) and data.dtype == mx.uint8:
        x = data
    elif isinstance(data, np.ndarray) and data.dtype == np.uint8:
        x = mx.array(data)
    else:
        x = _as_float_mx(data, "rate: data")
        if check:
            check_finite(x, "rate: data")
    return rate_from_thresholds(rate_thresholds(x, gain=gain, offset=offset), t, key=key)


def rate_thresholds(x: mx.array, *, gain: float = 1.0, offset: float = 0.0) -> mx.array:
    """Spike probabilities ``p = clip(gain x + offset, 0, 1)`` in 1/65536 units:
    ``uint32 [*S]``, ``round(65536 p)`` (what :func:`rate_from_thresholds` compares with).

    ``uint8`` input is read as ``x / 255`` (with ``gain=1, offset=0`` in exact integers,
    ``round(65536 x / 255)``); a NaN gives 0. The MLX twin of
    :func:`eegsnn.kernels.rate_projection.rate_thresholds` (the same rule in NumPy for the
    fused step), used by :func:`rate` and :func:`eegsnn.train.data.rate_encoder`.
    """
    if x.dtype == mx.uint8 and gain == 1.0 and offset == 0.0:  # exact integers
        return (x.astype(mx.uint32) * 65536 + 127) // 255
    p = x.astype(mx.float32) * (1.0 / 255.0 if x.dtype == mx.uint8 else 1.0)
    p = p * gain + offset if offset else p * gain
    p = mx.clip(p, 0.0, 1.0)
    p = mx.where(mx.isnan(p), 0.0, p)  # (check=False) a NaN never fires, on every path
    return mx.round(p * 65536.0).astype(mx.uint32)


#: SplitMix64's increment and output multipliers (Steele, Lea & Flood 2014).
_SPLITMIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _uint64(value: int) -> mx.array:
    return mx.array(np.array(value, dtype=np.uint64))


def _key_uint64(key: mx.array) -> mx.array:
    """The 64-bit stream id of an MLX key ``uint32 [2]``: ``key[0] << 32 | key[1]``."""
    words = key.reshape(-1).astype(mx.uint64)
    return (words[0] << 32) | words[1]


def uniform16(key: mx.array | int, shape: Sequence[int]) -> mx.array:
    """Uniform 16-bit integers ``uint32 [*shape]``: the low 16 bits of SplitMix64 output
    number ``n`` of the stream ``key`` at flat (C-order) index ``n``.

    Counter-based, so any entry can be computed on its own: the C kernels of
    :mod:`eegsnn.kernels.rate_projection` draw exactly these numbers. ``key``: an
    ``mx.random.key`` or an int seed (as :func:`make_key`).
    """
    shape = tuple(int(n) for n in shape)
    if not shape:
        counter = mx.zeros((), dtype=mx.uint64)
    else:  # [T, S]: the flat index t S + s in uint64 (mx.arange alone stops at 2**31)
        rest = int(np.prod(shape[1:], dtype=np.int64))
        if max(shape[0], rest) >= 2**31:
            raise ConfigError(f"uniform16: shape {list(shape)} has a dimension (or a product "
                              "of the trailing ones) of 2**31 or more; draw it in parts")
        counter = (mx.arange(shape[0]).astype(mx.uint64)[:, None] * _uint64(rest)
                   + mx.arange(rest).astype(mx.uint64)[None, :])
    z = _key_uint64(make_key(key)) + counter.reshape(-1) * _uint64(_SPLITMIX[0])
    z = (z ^ (z >> 30)) * _uint64(_SPLITMIX[1])
    z = (z ^ (z >> 27)) * _uint64(_SPLITMIX[2])
    z = z ^ (z >> 31)
    return (z & 0xFFFF).astype(mx.uint32).reshape(tuple(shape))


def _host_rate_spikes(threshold: mx.array, num_steps: int, key: mx.array) -> np.ndarray | None:
    """The C kernel's spikes ``uint8 [T, *S]``, or None (no kernels, or traced arrays)."""
    from eegsnn.kernels import kernels_available, rate_projection

    if not kernels_available() or mx.default_device() != mx.cpu:
        return None
    try:  # under mx.compile / mx.vmap the arrays have no values yet: MLX ops instead
        q = np.ascontiguousarray(np.asarray(threshold, dtype=np.uint32))
        stream = rate_projection.key_to_uint64(np.asarray(key))
    except ValueError:
        return None
    shape = tuple(threshold.shape)
    rows = q.reshape(shape[0] if len(shape) >= 2 else 1, -1) if q.size else q.reshape(1, 0)
    out = rate_projection.rate_spikes(rows, stream, num_steps)
    return out.reshape((num_steps, *shape))


def rate_from_thresholds(threshold: mx.array, num_steps: int, *, key: mx.array | int) -> mx.array:
    """Spikes ``float32 [T, *S]`` with ``s[t, i] = 1[u[t, i] < threshold[i]]``.

    Args:
        threshold: spike probabilities in 1/65536 units, an integer array ``[*S]`` (MLX or
            NumPy; 0: never, 65536 or more: always; negative values count as 0). Float
            probabilities are refused: :func:`rate` takes those.
        num_steps: ``T``.
        key: an ``mx.random.key`` or an int seed; ``u = uniform16(key, [T, *S])``.
    """
    t = _check_steps(num_steps)
    if not isinstance(threshold, mx.array):
        threshold = mx.array(np.asarray(threshold))
    if not mx.issubdtype(threshold.dtype, mx.integer):
        raise ConfigError(f"rate_from_thresholds: threshold must be integers in 1/65536 units "
                          f"(got {threshold.dtype}); rate() takes probabilities")
    if mx.issubdtype(threshold.dtype, mx.signedinteger):
        threshold = mx.clip(threshold, 0, 65536)
    threshold = mx.minimum(threshold.astype(mx.uint32), 65536)
    mkey = make_key(key, "rate: key")
    host = _host_rate_spikes(threshold, t, mkey)
    if host is not None:
        return mx.array(host).astype(mx.float32)
    u = uniform16(mkey, (t, *threshold.shape))
    return (u < threshold).astype(mx.float32)


# ---------------------------------------------------------------------------------------------
# latency
# ---------------------------------------------------------------------------------------------


def latency_times(
    data: mx.array | np.ndarray,
    num_steps: int,
    *,
    tau: float = 1.0,
    threshold: float = 0.01,
    linear: bool = False,
    normalize: bool = False,
    first_spike_time: int = 0,
    epsilon: float = 1e-7,
) -> mx.array:
    r"""Spike times (in steps, float) of the latency code; larger inputs fire earlier.

    Inputs must lie in ``[0, 1]``. Two mappings, both monotone decreasing in ``x``:

    * logarithmic (RC neuron charged by a constant current ``x`` up to ``threshold``):
      :math:`t(x) = \tau \ln\frac{x}{x-\theta}` for ``x > θ``;
    * linear: :math:`t(x) = \tau (1 - x)`.

    Inputs ``x <= θ`` never reach the threshold and get ``t = num_steps - 1`` (the last step;
    :func:`latency` can drop them with ``clip=True``). ``first_spike_time`` is added to all
    times.

    ``normalize=True`` stretches the code over the window **independently of the data**
    (unlike snnTorch, whose logarithmic normalisation divides by the batch maximum, so one
    sample's code depends on the others): linear uses ``τ = T - 1 - first_spike_time`` (so
    ``x = 1`` fires at ``first_spike_time`` and ``x = θ`` at ``first + (1-θ)τ``); logarithmic
    scales so that ``x = θ + ε`` fires at ``T - 1``.
    """
    t = _check_steps(num_steps)
    x = _as_float_mx(data, "latency: data")
    check_finite(x, "latency: data")
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"latency: threshold must be in (0, 1), got {threshold}")
    if tau <= 0:
        raise ConfigError(f"latency: tau must be > 0, got {tau}")
    if not 0 <= first_spike_time <= t - 1:
        raise ConfigError(
            f"latency: first_spike_time must be in [0, num_steps-1={t - 1}], got {first_spike_time}"
        )
    lo, hi = float(mx.min(x)), float(mx.max(x))
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"latency: data must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    below = x <= threshold
    span = t - 1 - first_spike_time
    if linear:
        tau_eff = float(span) if normalize else tau
        times = tau_eff * (1.0 - x)
    else:
        xc = mx.maximum(x, threshold + epsilon)
        times = tau * mx.log(xc / (xc - threshold))
        if normalize:
            t_max = tau * np.log((threshold + epsilon) / epsilon)
            times = times * (span / t_max)
    times = times + first_spike_time
    return mx.where(below, mx.array(float(t - 1)), times)


def latency(
    data: mx.array | np.ndarray,
    num_steps: int,
    *,
    tau: float = 1.0,
    threshold: float = 0.01,
    linear: bool = False,
    normalize: bool = False,
    first_spike_time: int = 0,
    clip: bool = False,
    overflow: Literal["error", "drop"] = "error",
    epsilon: float = 1e-7,
) -> mx.array:
    """Time-to-first-spike code: one spike per input at ``round(latency_times(...))``.

    Args:
        data: values in ``[0, 1]``, any shape ``S``.
        num_steps: ``T``.
        tau, threshold, linear, normalize, first_spike_time, epsilon: see
            :func:`latency_times`.
        clip: inputs ``<= threshold`` emit no spike (instead of one at the last step).
        overflow: what to do when a rounded spike time exceeds ``T - 1`` (only possible with
            ``normalize=False``): ``"error"`` (default, names the latest time) or ``"drop"``
            (that input emits no spike, documented like snnTorch's ``bypass``).

    Returns:
        ``float32`` spikes ``[T, *S]`` with at most one spike per input.
    """
    t = _check_steps(num_steps)
    times = latency_times(
        data,
        t,
        tau=tau,
        threshold=threshold,
        linear=linear,
        normalize=normalize,
        first_spike_time=first_spike_time,
        epsilon=epsilon,
    )
    idx = mx.round(times).astype(mx.int32)
    late = idx > t - 1
    if overflow not in ("error", "drop"):
        raise ConfigError(f"latency: overflow must be 'error' or 'drop', got {overflow!r}")
    if overflow == "error" and bool(mx.any(late).item()):
        latest = int(mx.max(idx))
        raise ConfigError(
            f"latency: spike time {latest} exceeds num_steps-1={t - 1}; use normalize=True, a "
            "smaller tau, more num_steps, or overflow='drop'"
        )
    steps = mx.arange(t, dtype=mx.int32).reshape((t,) + (1,) * idx.ndim)
    spikes = steps == idx[None]
    if clip:
        x = _as_float_mx(data, "latency: data")
        spikes = spikes & ~(x <= threshold)[None]
    return spikes.astype(mx.float32)


# ---------------------------------------------------------------------------------------------
# delta (consecutive difference)
# ---------------------------------------------------------------------------------------------


def delta(
    data: mx.array | np.ndarray,
    threshold: float | mx.array = 0.1,
    *,
    output: Literal["split", "signed", "on"] = "split",
    initial: Literal["first", "zero"] = "first",
) -> mx.array:
    r"""Delta code of a time-major sequence: spikes where consecutive samples differ enough.

    .. math:: \Delta_t = x_t - x_{t-1},\quad \mathrm{ON}_t = 1[\Delta_t \ge \theta],\quad
              \mathrm{OFF}_t = 1[\Delta_t \le -\theta]

    Args:
        data: ``[T, ...]`` time-major.
        threshold: ``θ > 0`` (scalar or broadcastable to ``data.shape[1:]``).
        output: ``"split"`` -> ``[T, ..., 2]`` with ``[..., 0]`` = ON and ``[..., 1]`` = OFF;
            ``"signed"`` -> ``[T, ...]`` with ``+1``/``-1``; ``"on"`` -> ON only ``[T, ...]``.
        initial: reference for ``t = 0``: ``"first"`` (``x_{-1} = x_0``, no spike at step 0;
            snnTorch ``padding=True``) or ``"zero"`` (``x_{-1} = 0``; snnTorch's default).

    Each step carries at most one event per line; large jumps are *not* counted more than once
    (use :func:`send_on_delta_counts` for a code that can be decoded back to the signal).
    """
    x = _as_float_mx(data, "delta: data")
    check_finite(x, "delta: data")
    if x.ndim < 1 or x.shape[0] < 1:
        raise DataError(f"delta: data must be time-major [T, ...] with T >= 1, got {x.shape}")
    thr = _as_float_mx(threshold, "delta: threshold")
    if bool(mx.any(thr <= 0).item()):
        raise ConfigError("delta: threshold must be > 0")
    if initial == "first":
        prev = mx.concatenate([x[:1], x[:-1]], axis=0)
    elif initial == "zero":
        prev = mx.concatenate([mx.zeros_like(x[:1]), x[:-1]], axis=0)
    else:
        raise ConfigError(f"delta: initial must be 'first' or 'zero', got {initial!r}")
    d = x - prev
    on = (d >= thr).astype(mx.float32)
    if output == "on":
        return on
    off = (d <= -thr).astype(mx.float32)
    if output == "signed":
        return on - off
    if output == "split":
        return mx.stack([on, off], axis=-1)
    raise ConfigError(f"delta: output must be 'split', 'signed' or 'on', got {output!r}")


# ---------------------------------------------------------------------------------------------
# send-on-delta (tracking delta modulator) and level crossing, at the native sample rate
# ---------------------------------------------------------------------------------------------


def send_on_delta_counts(
    data: mx.array | np.ndarray,
    threshold: float | mx.array,
    *,
    initial: float | mx.array = 0.0,
) -> tuple[mx.array, mx.array]:
    r"""Send-on-delta (step-forward) modulator: ON/OFF event counts per sample.

    A reference ``r`` starts at ``initial`` and follows the signal in steps of ``θ``:

    .. math:: k_n = \mathrm{trunc}\!\left(\frac{x_n - r_{n-1}}{\theta}\right),\quad
              r_n = r_{n-1} + k_n\theta,\quad \mathrm{ON}_n = \max(k_n, 0),\
              \mathrm{OFF}_n = \max(-k_n, 0)

    so an event is sent when the signal has moved by at least ``θ`` since the last event, and
    ``|x_n - r_n| < θ`` always: decoding is ``r_n = initial + θ (cumsum ON - cumsum OFF)``.
    Jumps larger than ``θ`` give several events on one sample (counts, never dropped). The
    recursion is computed exactly and fully vectorised (see ``_send_on_delta_events_impl``).

    Args:
        data: ``[N, ...]`` time-major samples.
        threshold: ``θ > 0``, scalar or broadcastable to ``data.shape[1:]``.
        initial: starting reference (default 0, e.g. the fitted channel mean of z-scored data).

    Returns:
        ``(on, off)``: ``float32`` counts, each ``[N, ...]``.
    """
    x = _as_float_mx(data, "send_on_delta: data")
    check_finite(x, "send_on_delta: data")
    thr = _as_float_mx(threshold, "send_on_delta: threshold")
    if bool(mx.any(thr <= 0).item()):
        raise ConfigError("send_on_delta: threshold must be > 0")
    u = (x - initial) / thr
    ev = _send_on_delta_events(mx.concatenate([mx.zeros_like(u[:1]), u], axis=0))
    return ev[..., 0], ev[..., 1]


def _floor_ceil(u: mx.array) -> tuple[mx.array, mx.array]:
    """``(floor(u), ceil(u))`` as int32, via truncation (faster than ``mx.floor`` on CPU)."""
    u = mx.clip(u, -(2.0**30), 2.0**30)
    t = u.astype(mx.int32)  # rounds toward zero
    tf = t.astype(mx.float32)
    return t - (u < tf).astype(mx.int32), t + (u > tf).astype(mx.int32)


def _split_polarity(k: mx.array) -> mx.array:
    """Signed integer counts ``[...]`` -> float32 ``[..., 2]`` = (max(k, 0), max(-k, 0)).

    Written as one broadcast multiply (not ``stack``/``where``, which are several times
    slower than plain arithmetic on MLX's CPU backend).
    """
    sign = mx.array([1, -1], dtype=k.dtype)
    return mx.maximum(k[..., None] * sign, 0).astype(mx.float32)


def _send_on_delta_events_impl(u_pad: mx.array) -> mx.array:
    r"""Send-on-delta (ON, OFF) counts ``[N, ..., 2]`` of ``u_pad [N+1, ...]`` (row 0 = 0).

    ``u = (x - initial) / θ``; row 0 is the starting reference. The recursion
    ``m_n = m_{n-1} + trunc(u_n - m_{n-1})`` equals ``clip(m_{n-1}, floor(u_n), ceil(u_n))``,
    so ``m_n`` is ``floor(u_n)`` or ``ceil(u_n)``. Which one is decided by the last
    *decisive* sample ``j <= n``: one whose cell left the previous one downwards
    (``floor(u_{j-1}) > floor(u_j)`` -> ``ceil``) or upwards/onto an integer
    (``ceil(u_{j-1}) <= floor(u_j)`` -> ``floor``); samples that stay in the same cell hold
    the previous choice. A running maximum over ``2j + 1 + down_j`` (0 for non-decisive
    samples) finds that sample for every ``n`` at once: no sequential loop and no gather.
    Everything else is elementwise on shifted views, so ``mx.compile`` fuses it; the events
    are ``k_n = m_n - m_{n-1}``. Tested against the plain loop.
    """
    # floor/ceil once for all N+1 rows; cur/prev are shifted views of them
    lo_all, hi_all = _floor_ceil(u_pad)
    lo, lo_prev, hi_prev = lo_all[1:], lo_all[:-1], hi_all[:-1]
    n = lo.shape[0]
    down = lo_prev > lo
    decisive = (down | (hi_prev <= lo)).astype(mx.int32)
    step2 = mx.arange(1, 2 * n + 1, 2, dtype=mx.int32).reshape((n,) + (1,) * (lo.ndim - 1))
    code = decisive * (step2 + down.astype(mx.int32))
    code = mx.cummax(mx.concatenate([mx.zeros_like(code[:1]), code], axis=0), axis=0)
    # reference level m = floor(u) or ceil(u) by the parity of the running code
    level = lo_all + ((code + 1) & 1) * (hi_all - lo_all)
    return _split_polarity(level[1:] - level[:-1])


#: ``u_pad [N+1, ...] -> [N, ..., 2]`` (ON, OFF) counts, see :func:`_send_on_delta_events_impl`.
_send_on_delta_events = mx.compile(_send_on_delta_events_impl)


def level_crossings(
    data: mx.array | np.ndarray,
    levels: mx.array | np.ndarray | Sequence[float],
    *,
    initial: float | mx.array = 0.0,
) -> mx.array:
    r"""Level-crossing events per sample: one UP and one DOWN line per level.

    .. math:: \mathrm{UP}_{n,k} = 1[x_{n-1} < L_k \le x_n],\quad
              \mathrm{DOWN}_{n,k} = 1[x_{n-1} \ge L_k > x_n],\quad x_{-1} = \text{initial}

    Args:
        data: ``[N, ...]`` time-major samples.
        levels: ``[K]`` increasing levels, or ``[..., K]`` broadcastable against
            ``data.shape[1:] + (K,)`` (per-channel levels).
        initial: value before the first sample (default 0).

    Returns:
        ``float32`` events ``[N, ..., K, 2]`` (``[..., 0]`` up, ``[..., 1]`` down); each line
        has at most one event per sample.
    """
    x = _as_float_mx(data, "level_crossings: data")
    check_finite(x, "level_crossings: data")
    lv = _as_float_mx(levels, "level_crossings: levels")
    if lv.ndim == 0 or lv.shape[-1] < 1:
        raise ConfigError("level_crossings: levels must hold at least one level")
    if lv.shape[-1] > 1 and bool(mx.any(lv[..., 1:] <= lv[..., :-1]).item()):
        raise ConfigError("level_crossings: levels must be strictly increasing")
    init = mx.broadcast_to(_as_float_mx(initial, "initial"), x.shape[1:])
    return _level_events(mx.concatenate([init[None], x], axis=0), lv)


def _level_events_impl(x_pad: mx.array, levels: mx.array) -> mx.array:
    """(UP, DOWN) events ``[N, ..., K, 2]`` of ``x_pad [N+1, ...]`` (row 0: initial value)."""
    # +1 crossed upward, -1 downward, 0 none; elementwise on shifted views (fused by compile)
    step = (x_pad[1:, ..., None] >= levels).astype(mx.int32) - (
        x_pad[:-1, ..., None] >= levels
    ).astype(mx.int32)
    return _split_polarity(step)


#: ``(x_pad [N+1, ...], levels [..., K]) -> [N, ..., K, 2]`` (UP, DOWN); no input checks.
_level_events = mx.compile(_level_events_impl)


# ---------------------------------------------------------------------------------------------
# time binning: native samples -> num_steps bins, never losing events silently
# ---------------------------------------------------------------------------------------------


def _bin_edges(n: int, t: int) -> np.ndarray:
    """``first[b]`` = first sample of bin ``b`` (``t < n``); sample ``i`` is in bin ``i*t//n``."""
    return (np.arange(t + 1, dtype=np.int64) * n + t - 1) // t


def _bin_sum(x: mx.array, first: np.ndarray) -> mx.array:
    """Sum ``x [N, ...]`` over the sample ranges ``[first[b], first[b+1])`` -> ``[T, ...]``."""
    n, t = x.shape[0], first.size - 1
    rest = x.shape[1:]
    if n % t == 0:
        return mx.sum(x.reshape(t, n // t, *rest), axis=1)
    # widths differ by at most one: gather a [T, w_max] grid of rows (a zero row pads)
    widths = np.diff(first)
    w = int(widths.max())
    grid = first[:-1, None] + np.arange(w)[None, :]
    grid = np.where(np.arange(w)[None, :] < widths[:, None], grid, n).reshape(-1)
    padded = mx.concatenate([x, mx.zeros((1, *rest), dtype=x.dtype)], axis=0)
    return mx.sum(padded[mx.array(grid.astype(np.int32))].reshape(t, w, *rest), axis=1)


def bin_mean(x: mx.array, num_steps: int) -> mx.array:
    """Resample ``[N, ...]`` to ``[T, ...]``: mean over the samples of each bin (``T < N``) or
    sample-and-hold (``T >= N``, every bin takes the value of the sample it lies in).

    Sample ``i`` covers bins ``[floor(i T / N), floor((i+1) T / N))``.
    """
    n = x.shape[0]
    t = _check_steps(num_steps)
    if t == n:
        return x
    if t > n:
        src = (np.arange(1, t + 1, dtype=np.int64) * n - 1) // t
        return x[mx.array(src.astype(np.int32))]
    first = _bin_edges(n, t)
    widths = mx.array(np.diff(first).astype(np.float32)).reshape((t,) + (1,) * (x.ndim - 1))
    return _bin_sum(x, first) / widths


def bin_counts(
    counts: mx.array,
    num_steps: int,
    *,
    overflow: Literal["error", "clip", "count"] = "error",
    what: str = "events",
) -> mx.array:
    """Place per-sample event counts ``[N, ...]`` onto ``T`` time bins ``[T, ...]``.

    * ``T < N``: a bin holds the sum of the counts of its samples.
    * ``T >= N``: sample ``i`` owns ``w_i = floor((i+1)T/N) - floor(iT/N) >= 1`` bins; its
      ``c_i`` events go to the first ``c_i`` of them (one per bin), so upsampling by ``k``
      losslessly carries up to ``k`` events per sample.

    ``overflow`` says what happens when a bin would need more than one spike:
    ``"error"`` (default) raises :class:`ConfigError` with the number of steps that would be
    needed; ``"clip"`` keeps one spike per bin and warns with the number of events lost;
    ``"count"`` returns integer event counts (``float32``) instead of 0/1 spikes.
    """
    import warnings

    if overflow not in ("error", "clip", "count"):
        raise ConfigError(f"overflow must be 'error', 'clip' or 'count', got {overflow!r}")
    n = counts.shape[0]
    t = _check_steps(num_steps)
    if t >= n:
        shape1 = (1,) * (counts.ndim - 1)
        start = (np.arange(n + 1, dtype=np.int64) * t) // n
        width_np = np.diff(start)
        width = mx.array(width_np.astype(np.float32)).reshape((n, *shape1))
        off_np: np.ndarray  # float zeros or int64 offsets
        if t == n:
            c_src, off_np, last_np = counts, np.zeros(t), np.ones(t, dtype=bool)
        else:
            src = (np.arange(1, t + 1, dtype=np.int64) * n - 1) // t
            off_np = np.arange(t, dtype=np.int64) - start[src]
            last_np = off_np == width_np[src] - 1
            c_src = counts[mx.array(src.astype(np.int32))]
        off = mx.array(off_np.astype(np.float32)).reshape((t, *shape1))
        binary = (off < c_src).astype(mx.float32)
        excess = mx.maximum(counts - width, 0.0)
        if overflow == "count":
            if t == n:
                return counts
            last = mx.array(last_np).reshape((t, *shape1))
            return binary + mx.where(last, excess[mx.array(src.astype(np.int32))], 0.0)
        lost = float(mx.sum(excess))
        if lost > 0:
            _overflow(lost, float(mx.max(counts)), t, n, overflow, what, warnings)
        return binary
    sums = _bin_sum(counts, _bin_edges(n, t))
    if overflow == "count":
        return sums
    return _apply_overflow(sums, float(mx.max(counts)), n, overflow, what)


def _apply_overflow(
    sums: mx.array, max_per_sample: float, n: int, overflow: str, what: str
) -> mx.array:
    """Binned event counts ``[T, ...]`` -> returned as counts, 0/1 (clipped, warns) or error."""
    import warnings

    if overflow == "count":
        return sums
    lost = float(mx.sum(mx.maximum(sums - 1.0, 0.0)))
    if lost > 0:
        _overflow(lost, max_per_sample, sums.shape[0], n, overflow, what, warnings)
    return mx.minimum(sums, 1.0)


def _overflow(lost, max_per_sample, t, n, overflow, what, warnings) -> None:
    need = round(max_per_sample) * n
    msg = (
        f"{int(lost)} {what} would be merged into bins that already hold a spike "
        f"(num_steps={t} for {n} samples); num_steps >= {need} keeps every event as its own "
        "spike, or raise the threshold, or pass overflow='count' (event counts) / 'clip'"
    )
    if overflow == "error":
        raise ConfigError(msg)
    warnings.warn(f"clipped: {msg}", RuntimeWarning, stacklevel=4)


# ---------------------------------------------------------------------------------------------
# reconstruction quality
# ---------------------------------------------------------------------------------------------


def snr_db(reference: np.ndarray, estimate: np.ndarray, axis=None, center=None) -> np.ndarray:
    r"""Signal-to-noise ratio of a reconstruction, in dB.

    .. math:: \mathrm{SNR} = 10 \log_{10} \frac{\sum (r - c)^2}{\sum (r - \hat r)^2}

    ``center`` (default 0) is subtracted from the reference for the signal power (e.g. the
    fitted channel mean). A perfect reconstruction gives ``+inf``.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    c = 0.0 if center is None else np.asarray(center, dtype=np.float64)
    sig = np.sum((ref - c) ** 2, axis=axis)
    err = np.sum((ref - est) ** 2, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(sig / err)
