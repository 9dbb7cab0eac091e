r"""The spike codes of :class:`~eegsnn.encode.EEGEncoder`, one small object per method.

Every code turns time-major standardisable sources ``x [N, B, S]`` (``S`` = channels x
bands, before z-scoring) plus their fitted statistics (:class:`SourceStats`) into the
encoder's output ``[T, B, S * lines]``; the decodable ones (``delta``, ``threshold``) also
turn their spikes back into the signal. The equations are in :mod:`eegsnn.encode.eeg`.

==============  ===============================  =====================  =========
method          code                             lines per source       decodes
==============  ===============================  =====================  =========
``rate``        :class:`RateCode`                ``rate``               no
``delta``       :class:`DeltaCode`               ``on``, ``off``        yes
``threshold``   :class:`ThresholdCode`           ``up``, ``down`` x K   yes
``direct``      :class:`DirectCode`              ``analog`` or ±        no
==============  ===============================  =====================  =========

A new method is one class here with ``encode`` (and ``decode`` if it has a decoder) and
its entry in :data:`CODES`; :class:`~eegsnn.encode.EEGEncoder` takes it from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import mlx.core as mx
import numpy as np

from eegsnn.encode import functional as F
from eegsnn.errors import ConfigError

__all__ = ["CODES", "METHODS", "Code", "DeltaCode", "DirectCode", "RateCode", "SourceStats",
           "ThresholdCode", "make_code"]

Overflow = Literal["count", "error", "clip"]


@dataclass(frozen=True)
class SourceStats:
    """Fitted statistics of the ``S`` sources, flattened source-major (channel, then band).

    Attributes:
        mean: float32 ``[S]``; std: float32 ``[S]`` (1 where flat); flat: bool ``[S]``.
    """

    mean: np.ndarray
    std: np.ndarray
    flat: np.ndarray

    @property
    def inv_std(self) -> np.ndarray:
        """float64 ``[S]``: ``1 / std``."""
        return 1.0 / self.std.astype(np.float64)

    def to_signal(self, z: np.ndarray) -> np.ndarray:
        """z units ``[..., S]`` -> signal units (flat sources: their mean)."""
        x = z * self.std + self.mean
        return np.where(self.flat, self.mean, x)


class Code:
    """One spike code: ``encode`` (and ``decode`` where the code has a decoder)."""

    method: ClassVar[str]
    kinds: tuple[str, ...] = ()
    decodable: ClassVar[bool] = False

    @property
    def n_levels(self) -> int:
        """Levels per source (``threshold``); 1 for the other codes."""
        return 1

    def layout_levels(self) -> list[float | None]:
        """The level of each group of lines of a source (``[None]``: no levels)."""
        return [None]

    def encode(self, x: mx.array, t: int, stats: SourceStats,
               key: mx.array | int | None = None) -> mx.array:
        """Sources ``x [N, B, S]`` -> ``[T, B, S * n_levels * len(kinds)]``."""
        raise NotImplementedError

    def require_decoder(self) -> None:
        """Raise :class:`ConfigError` when the code has no spike decoder."""
        if not self.decodable:
            raise ConfigError(f"EEGEncoder.decode: the {self.method} code has no spike "
                              "decoder (rate: stochastic; direct: the input is the signal "
                              "itself)")

    def decode(self, spikes: np.ndarray, stats: SourceStats) -> np.ndarray:
        """Spikes ``[T, B, L]`` float64 -> the represented signal ``[T, B, S]`` (z units)."""
        self.require_decoder()
        raise NotImplementedError


class RateCode(Code):
    """Bernoulli draws per time bin with probability ``clip(1/2 + z / (2 rate_sigma))``."""

    method = "rate"
    kinds = ("rate",)

    def __init__(self, rate_sigma: float = 3.0, seed: int = 0) -> None:
        self.rate_sigma = float(rate_sigma)
        self.seed = int(seed)

    def encode(self, x: mx.array, t: int, stats: SourceStats,
               key: mx.array | int | None = None) -> mx.array:
        n, bsz, s = x.shape
        mean = mx.array(stats.mean)
        scale = stats.inv_std * (0.5 / self.rate_sigma) * ~stats.flat
        offset = 0.5 * ~stats.flat
        scale_mx = mx.array(scale.astype(np.float32))
        offset_mx = mx.array(offset.astype(np.float32))
        if t < n and n % t == 0:
            # bin on the contiguous [B, S, N] layout, transpose only the small result
            xc = mx.transpose(x, (1, 2, 0))  # the input's own layout: no copy
            p = _rate_probability(xc, mean[:, None], scale_mx[:, None], offset_mx[:, None])
            p = mx.transpose(mx.mean(p.reshape(bsz, s, t, n // t), axis=-1), (2, 0, 1))
        else:
            p = F.bin_mean(_rate_probability(x, mean, scale_mx, offset_mx), t)
        return F.bernoulli(p, self.seed if key is None else key)


class DeltaCode(Code):
    """Send-on-delta ON/OFF events with step ``threshold`` (relative: in standard
    deviations; absolute: in signal units), binned to ``t`` steps."""

    method = "delta"
    kinds = ("on", "off")
    decodable = True

    def __init__(self, threshold: float = 0.5, threshold_mode: str = "relative",
                 overflow: Overflow = "count") -> None:
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.overflow = overflow

    def thresholds_z(self, stats: SourceStats) -> np.ndarray:
        """Delta step per source in z units ``[S]`` (float32)."""
        thr = np.full(stats.std.shape, self.threshold, dtype=np.float64)
        if self.threshold_mode == "absolute":
            thr = thr / stats.std
        return thr.astype(np.float32)

    def encode(self, x: mx.array, t: int, stats: SourceStats,
               key: mx.array | int | None = None) -> mx.array:
        n, bsz, s = x.shape
        inv_step = mx.array((stats.inv_std / self.thresholds_z(stats)).astype(np.float32))
        events = _delta_events(x, mx.array(stats.mean), inv_step).reshape(n, bsz, s * 2)
        return F.bin_counts(events, t, overflow=self.overflow, what=f"{self.method} events")

    def decode(self, spikes: np.ndarray, stats: SourceStats) -> np.ndarray:
        t, b, _ = spikes.shape
        ev = spikes.reshape(t, b, stats.std.size, 2)
        return np.cumsum(ev[..., 0] - ev[..., 1], axis=0) * self.thresholds_z(stats)


class ThresholdCode(Code):
    """Level crossings (UP/DOWN per level); decoding tracks the band between levels."""

    method = "threshold"
    kinds = ("up", "down")
    decodable = True

    def __init__(self, levels: int | Sequence[float] = 5, level_range: float = 2.0,
                 threshold_mode: str = "relative", overflow: Overflow = "count") -> None:
        self.levels = levels
        self.level_range = float(level_range)
        self.threshold_mode = threshold_mode
        self.overflow = overflow

    @property
    def n_levels(self) -> int:
        return self.levels if isinstance(self.levels, int) else len(self.levels)

    def level_values(self) -> np.ndarray:
        """The crossing levels (standard deviations, or signal units for absolute lists)."""
        if isinstance(self.levels, int):
            if self.levels == 1:
                return np.zeros(1)
            return np.linspace(-self.level_range, self.level_range, self.levels)
        return np.asarray(self.levels, dtype=np.float64)

    def layout_levels(self) -> list[float | None]:
        return [float(v) for v in self.level_values()]

    def levels_z(self, stats: SourceStats) -> np.ndarray:
        """Crossing levels per source in z units ``[S, K]`` (float32)."""
        lv = self.level_values()
        s = stats.std.size
        if self.threshold_mode == "absolute" and not isinstance(self.levels, int):
            mean = stats.mean.reshape(s, 1).astype(np.float64)
            std = stats.std.reshape(s, 1).astype(np.float64)
            return ((lv[None, :] - mean) / std).astype(np.float32)
        return np.broadcast_to(lv[None, :], (s, lv.size)).astype(np.float32)

    def encode(self, x: mx.array, t: int, stats: SourceStats,
               key: mx.array | int | None = None) -> mx.array:
        n, bsz, s = x.shape
        mean = mx.array(stats.mean)
        inv_std = mx.array(stats.inv_std.astype(np.float32))
        levels = mx.array(self.levels_z(stats))
        what = f"{self.method} events"
        if t < n and n % t == 0:
            # coarse bins: count crossings on the contiguous [B, S, K, N] layout in
            # int8/16, sum each bin, and transpose only the small [B, S, K, T, 2] result
            sums = _threshold_bin_counts(mx.transpose(x, (1, 2, 0)), mean, inv_std, levels, t)
            return F._apply_overflow(sums, 1.0, n, self.overflow, what)
        events = _threshold_events(x, mean, inv_std, levels).reshape(
            n, bsz, s * self.n_levels * 2)
        return F.bin_counts(events, t, overflow=self.overflow, what=what)

    def decode(self, spikes: np.ndarray, stats: SourceStats) -> np.ndarray:
        t, b, _ = spikes.shape
        kl = self.n_levels
        ev = spikes.reshape(t, b, stats.std.size, kl, 2)
        levels = self.levels_z(stats).astype(np.float64)  # [S, K]
        region0 = (levels <= 0.0).sum(axis=1)  # initial reference 0 (fitted mean)
        region = region0 + np.cumsum((ev[..., 0] - ev[..., 1]).sum(axis=-1), axis=0)
        region = np.clip(region, 0, kl).astype(np.int64)  # [T, B, S]
        reps = _region_values(levels)  # [S, K+1]
        return np.take_along_axis(
            np.broadcast_to(reps[None, None], (t, b, *reps.shape)), region[..., None], axis=-1
        )[..., 0]


class DirectCode(Code):
    """No spike code: the z-scored signal times ``gain`` as input current, bin-averaged
    (``polarity="on_off"``: ``+I`` and ``-I`` lines).

    ``gain`` a sequence ``[g_1, ..., g_K]``: every source gives ``K`` copies of its current,
    one per gain (the code's levels, ``layout_levels``), so the neurons they drive respond
    to amplitudes in the steps the gains set: a neuron with threshold :math:`\vartheta` on
    the copy of gain :math:`g` fires exactly as one on :math:`I_t` with threshold
    :math:`\vartheta / g`.
    """

    method = "direct"

    def __init__(self, gain: float | Sequence[float] = 1.0, polarity: str = "signed") -> None:
        self.gains: tuple[float, ...] | None = (
            None if np.ndim(gain) == 0 else tuple(float(g) for g in np.ravel(gain)))
        self.gain = 1.0 if self.gains is not None else float(np.asarray(gain))
        self.polarity = polarity
        self.kinds = ("pos", "neg") if polarity == "on_off" else ("analog",)

    @property
    def n_levels(self) -> int:
        return 1 if self.gains is None else len(self.gains)

    def layout_levels(self) -> list[float | None]:
        """The gain of each copy of a source (``[None]``: one scalar ``gain``)."""
        return [None] if self.gains is None else list(self.gains)

    def encode(self, x: mx.array, t: int, stats: SourceStats,
               key: mx.array | int | None = None) -> mx.array:
        _, bsz, s = x.shape
        gain = stats.inv_std * self.gain * ~stats.flat
        current = F.bin_mean((x - mx.array(stats.mean)) * mx.array(gain.astype(np.float32)), t)
        if self.gains is not None:  # [T, B, S, K]: one copy per gain (level-major in a source)
            current = current[..., None] * mx.array(np.asarray(self.gains, np.float32))
        if self.polarity == "on_off":
            current = mx.stack([current, -current], axis=-1)
        return current.reshape(t, bsz, s * self.n_levels * len(self.kinds))


#: method name -> code class (the order is :data:`METHODS`).
CODES: dict[str, type[Code]] = {"rate": RateCode, "delta": DeltaCode,
                                "threshold": ThresholdCode, "direct": DirectCode}
METHODS = tuple(CODES)

_CODE_PARAMS = {"rate": ("rate_sigma", "seed"),
                "delta": ("threshold", "threshold_mode", "overflow"),
                "threshold": ("levels", "level_range", "threshold_mode", "overflow"),
                "direct": ("gain", "polarity")}


def make_code(method: str, params: Mapping[str, Any]) -> Code:
    """The code of ``method`` built from the encoder's (validated) ``params``."""
    if method not in CODES:
        raise ConfigError(f"EEGEncoder: method must be one of {METHODS}, got {method!r}")
    return CODES[method](**{k: params[k] for k in _CODE_PARAMS[method] if k in params})


@mx.compile
def _rate_probability(x: mx.array, mean: mx.array, scale: mx.array, offset: mx.array):
    """``p = clip(offset + (x - mean) * scale, 0, 1)`` (one fused kernel)."""
    return mx.clip(offset + (x - mean) * scale, 0.0, 1.0)


@mx.compile
def _delta_events(x: mx.array, mean: mx.array, inv_step: mx.array) -> mx.array:
    """Send-on-delta (ON, OFF) counts of ``(x - mean) * inv_step`` -> ``[N, B, S, 2]``."""
    x_pad = mx.concatenate([mx.broadcast_to(mean, x[:1].shape), x], axis=0)  # reference row
    return F._send_on_delta_events_impl((x_pad - mean) * inv_step)


@mx.compile
def _threshold_events(x: mx.array, mean: mx.array, inv_std: mx.array, levels: mx.array):
    """Level-crossing (UP, DOWN) events of the z-scored ``x`` -> ``[N, B, S, K, 2]``."""
    x_pad = mx.concatenate([mx.broadcast_to(mean, x[:1].shape), x], axis=0)  # reference row
    return F._level_events_impl((x_pad - mean) * inv_std, levels)


def _threshold_bin_counts(
    x: mx.array, mean: mx.array, inv_std: mx.array, levels: mx.array, t: int
) -> mx.array:
    """Level crossings of ``x [B, S, N]`` summed over ``t`` equal bins -> ``[T, B, S*K*2]``.

    Same events as :func:`_threshold_events` followed by binning (tested equal), computed
    along the contiguous time axis with small integer types.
    """
    b, s, n = x.shape
    k = levels.shape[-1]
    z = (x - mean[:, None]) * inv_std[:, None]
    z_pad = mx.concatenate([mx.zeros((b, s, 1), dtype=z.dtype), z], axis=-1)
    above = (z_pad[:, :, None, :] >= levels[:, :, None]).astype(mx.int8)  # [B, S, K, N+1]
    step = above[..., 1:] - above[..., :-1]  # +1 up, -1 down
    w = n // t
    if w > 127:  # a bin can hold up to w events per line
        step = step.astype(mx.int16 if w < 32767 else mx.int32)
    up = mx.maximum(step, 0).reshape(b, s, k, t, w).sum(axis=-1)
    down = mx.maximum(-step, 0).reshape(b, s, k, t, w).sum(axis=-1)
    ev = mx.stack([up, down], axis=-1)  # [B, S, K, T, 2]
    return mx.transpose(ev, (3, 0, 1, 2, 4)).reshape(t, b, s * k * 2).astype(mx.float32)


def _region_values(levels: np.ndarray) -> np.ndarray:
    """Value decoded for each band between levels ``[S, K]`` -> ``[S, K+1]``.

    Interior bands: midpoint of their two levels. Outer bands: half a neighbouring gap beyond
    the outermost level (one standard deviation / 2 each side for a single level).
    """
    s, k = levels.shape
    out = np.empty((s, k + 1))
    if k == 1:
        out[:, 0] = levels[:, 0] - 0.5
        out[:, 1] = levels[:, 0] + 0.5
        return out
    out[:, 1:k] = 0.5 * (levels[:, 1:] + levels[:, :-1])
    out[:, 0] = levels[:, 0] - 0.5 * (levels[:, 1] - levels[:, 0])
    out[:, k] = levels[:, -1] + 0.5 * (levels[:, -1] - levels[:, -2])
    return out
