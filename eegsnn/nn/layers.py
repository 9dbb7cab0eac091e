r"""Stateless layers over time-major sequences for multichannel EEG: temporal convolution,
depthwise spatial filters, average pooling over time and batch norm through time.

Every layer takes and returns a whole sequence ``[T, B, ...]`` (time first, as everywhere in
eegsnn) and keeps no state between calls; the math is in the pure functions
(:func:`conv_time`, :func:`spatial_filter`, :func:`avgpool_time`, :func:`batchnorm_time`)
and the modules only hold parameters. Shapes use ``T`` steps, ``B`` batch, ``C`` EEG
channels (or CSP components) and ``F`` features per channel.

These are the building blocks of a spiking EEGNet (Lawhern et al. 2018, *J. Neural Eng.*
15:056013): a temporal filter bank applied to every channel, ``D`` spatial filters per
temporal filter, pooling over time and a separable (depthwise + pointwise) temporal
convolution, with spiking neurons in place of EEGNet's ELUs
(:func:`eegsnn.model.families.spiking_eegnet`).
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from eegsnn.errors import ConfigError

__all__ = [
    "AvgPoolTime",
    "BatchNormTime",
    "ConvTime",
    "SpatialFilter",
    "avgpool_time",
    "batchnorm_time",
    "conv_time",
    "conv_time_padding",
    "spatial_filter",
]


# ----------------------------------------------------------------------------- conv_time


def conv_time_padding(kernel_size: int, dilation: int, causal: bool) -> tuple[int, int]:
    """``(left, right)`` zero padding along time that keeps ``T`` unchanged.

    The receptive field spans ``(kernel_size - 1) * dilation + 1`` steps. Causal: all of the
    padding on the left (step ``t`` sees steps ``t - (K-1) d ... t``); otherwise centred
    (``left = total // 2``, the rest on the right, PyTorch's ``padding="same"``).
    """
    total = (kernel_size - 1) * dilation
    return (total, 0) if causal else (total // 2, total - total // 2)


def conv_time(x: mx.array, weight: mx.array, bias: mx.array | None = None, *,
              dilation: int = 1, groups: int = 1, causal: bool = True) -> mx.array:
    r"""Convolution along the time axis of ``x [T, B, F_in]`` or ``x [T, B, C, F_in]``.

    With ``weight [F_out, K, F_in / groups]``, dilation :math:`d`, and the input zero-padded
    so that the output keeps ``T`` steps (:func:`conv_time_padding`), the causal output is

    .. math::

        Y[t, b, (c,)\, o] = \mathrm{bias}[o] + \sum_{k=0}^{K-1} \sum_{i \in g(o)}
            W[o, k, i]\; X[t - (K-1-k)\,d,\ b, (c,)\, i]

    (:math:`X[s] = 0` for :math:`s < 0`), i.e. step ``t`` depends only on steps ``<= t``;
    ``weight[:, K-1]`` multiplies the current step. Non-causal: the window is centred,
    :math:`X[t + k d - \lfloor (K-1) d / 2 \rfloor]`. This is a cross-correlation (as in
    PyTorch/MLX), so a kernel ``h`` applied as a filter is ``weight[..., ::-1]``. Groups:
    input features are split into ``groups`` equal blocks and output ``o`` sees only block
    ``g(o) = o // (F_out / groups)``; ``groups = F_in`` is a depthwise convolution. With a
    channel axis ``C`` the same filters are applied to every channel separately.

    Returns:
        ``[T, B, F_out]`` or ``[T, B, C, F_out]``.
    """
    if x.ndim not in (3, 4):
        raise ConfigError(f"conv_time: expected [T, B, F] or [T, B, C, F], got {list(x.shape)}")
    num_steps = x.shape[0]
    if weight.shape[2] == 1 and groups == 1 and num_steps <= _TOEPLITZ_MAX_STEPS:
        out = _conv_time_toeplitz(x[..., 0], weight[:, :, 0], dilation, causal)
        return out + bias if bias is not None else out
    lead = x.shape[1:-1]
    # [T, B, (C,) F] -> [B (*C), T, F]: time becomes the convolved length axis.
    seq = mx.moveaxis(x, 0, -2).reshape(-1, num_steps, x.shape[-1])
    left, right = conv_time_padding(int(weight.shape[1]), dilation, causal)
    if left or right:
        seq = mx.pad(seq, [(0, 0), (left, right), (0, 0)])
    out = mx.conv1d(seq, weight, stride=1, padding=0, dilation=dilation, groups=groups)
    if bias is not None:
        out = out + bias
    out = out.reshape(*lead, num_steps, out.shape[-1])
    return mx.moveaxis(out, -2, 0)


#: Longest sequence for which a one-input-feature convolution (``per_channel``) runs as one
#: matmul with a ``[F_out T, T]`` banded Toeplitz matrix instead of :func:`mlx.core.conv1d`
#: (whose weight gradient with one input channel is slow on the CPU).
_TOEPLITZ_MAX_STEPS = 1024
_TOEPLITZ_INDEX: dict[tuple[int, int, int, bool], mx.array] = {}


def _toeplitz_index(num_steps: int, kernel_size: int, dilation: int, causal: bool,
                    ) -> mx.array:
    """``[T, T]`` int32: the tap ``k`` that links output step ``t`` to input step ``s``
    (``s = t - left + k d``), or ``kernel_size`` (a zero tap) where none does."""
    key = (num_steps, kernel_size, dilation, causal)
    if key not in _TOEPLITZ_INDEX:
        left, _ = conv_time_padding(kernel_size, dilation, causal)
        offset = np.arange(num_steps)[None, :] - np.arange(num_steps)[:, None] + left  # k d
        tap = offset // dilation
        valid = (offset >= 0) & (offset % dilation == 0) & (tap < kernel_size)
        _TOEPLITZ_INDEX[key] = mx.array(np.where(valid, tap, kernel_size).astype(np.int32))
    return _TOEPLITZ_INDEX[key]


def _conv_time_toeplitz(x: mx.array, weight: mx.array, dilation: int, causal: bool,
                        ) -> mx.array:
    """:func:`conv_time` of ``x [T, ...]`` with one input feature and ``weight [F_out, K]``
    as ``M [F_out, T, T] @ x``: ``[T, ..., F_out]``."""
    num_steps, out_ch, kernel = x.shape[0], weight.shape[0], weight.shape[1]
    taps = mx.concatenate([weight, mx.zeros((out_ch, 1), dtype=weight.dtype)], axis=1)
    matrix = mx.take(taps, _toeplitz_index(num_steps, kernel, dilation, causal), axis=1)
    out = matrix.reshape(out_ch * num_steps, num_steps) @ x.reshape(num_steps, -1)
    return mx.moveaxis(out.reshape(out_ch, *x.shape), 0, -1)


class ConvTime(nn.Module):
    """Module form of :func:`conv_time` (config layer ``conv_time``).

    Args:
        in_features: ``F_in``, the last axis of the input (1 with ``per_channel``).
        out_channels: ``F_out``.
        kernel_size: ``K`` taps (steps).
        dilation: spacing of the taps (steps).
        depthwise: one group per input feature (``groups = F_in``; ``F_out`` must be a
            multiple of ``F_in``: ``F_out / F_in`` filters per feature).
        causal: left padding only (default); ``False`` centres the window.
        per_channel: input ``[T, B, C]`` (raw multichannel EEG): the same ``F_out``
            temporal filters are applied to each channel, giving ``[T, B, C, F_out]``
            (EEGNet's first layer).
        bias: add a learned bias per output feature.

    Weights are initialised as :class:`mlx.nn.Conv1d`'s: uniform in
    :math:`\\pm 1/\\sqrt{K\\,F_\\mathrm{in}/\\mathrm{groups}}`.
    """

    def __init__(self, in_features: int, out_channels: int, kernel_size: int,
                 dilation: int = 1, depthwise: bool = False, causal: bool = True,
                 per_channel: bool = False, bias: bool = True) -> None:
        super().__init__()
        groups = in_features if depthwise else 1
        if out_channels % groups:
            raise ConfigError(f"conv_time: depthwise needs out_channels a multiple of the "
                              f"{in_features} input features, got {out_channels}")
        scale = math.sqrt(1.0 / (kernel_size * in_features // groups))
        self.weight = mx.random.uniform(-scale, scale,
                                        (out_channels, kernel_size, in_features // groups))
        if bias:
            self.bias = mx.zeros((out_channels,))
        self.dilation = int(dilation)
        self.groups = int(groups)
        self.causal = bool(causal)
        self.per_channel = bool(per_channel)

    def __call__(self, x: mx.array) -> mx.array:
        if self.per_channel:
            x = x[..., None]  # [T, B, C] -> [T, B, C, 1]
        return conv_time(x, self.weight, self["bias"] if "bias" in self else None,
                         dilation=self.dilation, groups=self.groups, causal=self.causal)


# ----------------------------------------------------------------------------- spatial


def spatial_filter(x: mx.array, weight: mx.array, bias: mx.array | None = None) -> mx.array:
    r"""Depthwise spatial filters: ``x [T, B, C, F] -> [T, B, F * D]``.

    With ``weight [F, D, C]`` (``D`` filters over the ``C`` channels for each feature map):

    .. math::

        Y[t, b, f D + d] = \mathrm{bias}[f D + d] + \sum_{c} W[f, d, c]\; X[t, b, c, f]

    (EEGNet's ``DepthwiseConv2D((C, 1), depth_multiplier=D)``; outputs ordered feature-map
    major as PyTorch's grouped convolution). A ``[T, B, C]`` input is read as ``F = 1``.
    """
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ConfigError(f"spatial: expected [T, B, C, F] or [T, B, C], got {list(x.shape)}")
    out = mx.einsum("tbcf,fdc->tbfd", x, weight)
    out = out.reshape(*out.shape[:2], -1)
    return out + bias if bias is not None else out


class SpatialFilter(nn.Module):
    """Module form of :func:`spatial_filter` (config layer ``spatial``).

    Args:
        in_channels: ``C`` (EEG channels).
        feature_maps: ``F`` (temporal filters per channel; 1 for a ``[T, B, C]`` input).
        depth_multiplier: ``D`` spatial filters per feature map.
        bias: add a learned bias per output.

    Initialised uniform in :math:`\\pm 1/\\sqrt{C}` (a convolution with ``C`` inputs).
    """

    def __init__(self, in_channels: int, feature_maps: int = 1, depth_multiplier: int = 2,
                 bias: bool = True) -> None:
        super().__init__()
        scale = math.sqrt(1.0 / in_channels)
        self.weight = mx.random.uniform(-scale, scale,
                                        (feature_maps, depth_multiplier, in_channels))
        if bias:
            self.bias = mx.zeros((feature_maps * depth_multiplier,))

    def __call__(self, x: mx.array) -> mx.array:
        return spatial_filter(x, self.weight, self["bias"] if "bias" in self else None)


# ----------------------------------------------------------------------------- pooling


def avgpool_time(x: mx.array, kernel_size: int, stride: int | None = None) -> mx.array:
    r"""Average pooling over time: ``[T, B, ...] -> [T', B, ...]``.

    .. math::

        Y[j] = \frac{1}{K} \sum_{k=0}^{K-1} X[j s + k], \qquad
        T' = \lfloor (T - K) / s \rfloor + 1

    with stride :math:`s` (default ``K``: non-overlapping windows). Trailing steps that do
    not fill a window are dropped (no padding). When :math:`s` divides :math:`K` the sums
    are taken over blocks of :math:`s` steps first (:math:`K/s` slices instead of
    :math:`K`).

    Raises:
        ConfigError: ``T < K``.
    """
    stride = kernel_size if stride is None else stride
    num_steps = x.shape[0]
    if num_steps < kernel_size:
        raise ConfigError(f"avgpool_time: the sequence has {num_steps} steps, fewer than the "
                          f"kernel_size {kernel_size}")
    out_steps = (num_steps - kernel_size) // stride + 1
    if stride == kernel_size:
        used = x[: out_steps * kernel_size]
        return used.reshape(out_steps, kernel_size, *x.shape[1:]).mean(axis=1)
    if kernel_size % stride == 0:  # a window is m whole blocks of `stride` steps
        m = kernel_size // stride
        blocks = x[: (out_steps + m - 1) * stride]
        blocks = blocks.reshape(out_steps + m - 1, stride, *x.shape[1:]).sum(axis=1)
        total = blocks[:out_steps]
        for i in range(1, m):
            total = total + blocks[i:i + out_steps]
        return total / kernel_size
    stop = stride * (out_steps - 1) + 1
    total = x[0:stop:stride]
    for k in range(1, kernel_size):
        total = total + x[k:k + stop:stride]
    return total / kernel_size


class AvgPoolTime(nn.Module):
    """Module form of :func:`avgpool_time` (config layer ``avgpool_time``)."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = int(stride if stride is not None else kernel_size)

    def __call__(self, x: mx.array) -> mx.array:
        return avgpool_time(x, self.kernel_size, self.stride)


# ----------------------------------------------------------------------------- batch norm


def batchnorm_time(x: mx.array, mean: mx.array, var: mx.array, weight: mx.array | None,
                   bias: mx.array | None, eps: float = 1e-5) -> mx.array:
    r"""Normalise ``x [T, B, ..., F]`` per feature (last axis) with given statistics.

    .. math::

        Y = \gamma \, \frac{X - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta_\mathrm{bn}

    (``weight`` :math:`\gamma`, ``bias`` :math:`\beta_\mathrm{bn}`, both ``[F]`` or ``None``).
    """
    out = (x - mean) * mx.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


class BatchNormTime(nn.Module):
    r"""Batch normalisation through time (config layer ``batchnorm``).

    In training mode the statistics of each feature (the last axis) are taken over every
    other axis, i.e. over all ``T`` steps, the batch and (for ``[T, B, C, F]``) the
    channels together, :math:`\mu = \mathrm{mean}(X)`, :math:`\sigma^2 = \mathrm{var}(X)`
    (biased), and :func:`batchnorm_time` is applied with them. The running statistics are
    updated as PyTorch's ``BatchNorm``:

    .. math::

        \hat\mu \leftarrow (1 - m)\,\hat\mu + m\,\mu, \qquad
        \hat\sigma^2 \leftarrow (1 - m)\,\hat\sigma^2 + m\,\frac{n}{n - 1}\sigma^2

    (momentum :math:`m`, :math:`n` values per feature). In eval mode (``model.eval()``) the
    running statistics are used and nothing is updated. One set of statistics for all steps
    (unlike BNTT's per-step ones) keeps the layer valid for any sequence length; placed
    before a spiking layer it sets the input current's scale relative to the threshold
    (``weight_init`` :math:`\gamma_0`, as tdBN's :math:`\alpha V_\mathrm{thr}`).

    The running statistics are frozen arrays of the module (saved in checkpoints, carried
    as state by the compiled training step, never trained).

    Args:
        num_features: ``F``.
        momentum: :math:`m \in (0, 1]` (default 0.1).
        eps: :math:`\epsilon` (default 1e-5).
        affine: learn :math:`\gamma, \beta_\mathrm{bn}` (default ``True``).
        weight_init: initial :math:`\gamma` (default 1.0).
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 affine: bool = True, weight_init: float = 1.0) -> None:
        super().__init__()
        if not 0.0 < momentum <= 1.0:
            raise ConfigError(f"batchnorm: momentum must be in (0, 1], got {momentum}")
        if not eps > 0:
            raise ConfigError(f"batchnorm: eps must be > 0, got {eps}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        if affine:
            self.weight = mx.full((num_features,), float(weight_init))
            self.bias = mx.zeros((num_features,))
        self.running_mean = mx.zeros((num_features,))
        self.running_var = mx.ones((num_features,))
        self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def __call__(self, x: mx.array) -> mx.array:
        weight = self["weight"] if "weight" in self else None
        bias = self["bias"] if "bias" in self else None
        if not self.training:
            return batchnorm_time(x, self.running_mean, self.running_var, weight, bias,
                                  self.eps)
        axes = tuple(range(x.ndim - 1))
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        n = x.size // x.shape[-1]
        m = self.momentum
        unbiased = var * (n / max(n - 1, 1))
        self.running_mean = (1.0 - m) * self.running_mean + m * mx.stop_gradient(mean)
        self.running_var = (1.0 - m) * self.running_var + m * mx.stop_gradient(unbiased)
        return batchnorm_time(x, mean, var, weight, bias, self.eps)
