r"""Data augmentation inside the training step, for training from tens of trials.

Applied to each training batch ``x [T, B, L]`` inside the (compiled) step with the step's
explicit PRNG key, so a run is reproducible; never applied at evaluation. Options (all off
by default)::

    augment:
      crop_steps: 160        # random crop of this many steps per sample (cropped decoding)
      scale: 0.2             # amplitude scaling: each sample's input times U(1 - s, 1 + s)
      noise: 0.1             # additive Gaussian noise, in input units (z units for `direct`)
      channel_dropout: 0.1   # each input line of each sample zeroed with this probability

* **Cropped training** (Schirrmeister et al. 2017): every sample contributes a random window
  of ``crop_steps`` consecutive steps, a different one in every epoch: many overlapping crops
  per trial. At evaluation the model sees the whole window; with a ``mean`` readout its
  output is the time-average of the per-step readout over the whole trial, i.e. the crops'
  evidence averaged over the trial.
* ``scale``, ``noise`` and ``channel_dropout`` are meant for analog input (``direct``
  encoder); on binary spike input use ``crop_steps`` (noise would make non-binary input).
  ``channel_dropout`` rescales kept lines by ``1 / (1 - p)`` (as dropout does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import mlx.core as mx

from eegsnn.errors import ConfigError

__all__ = ["AUGMENT_KEYS", "augment_batch", "make_augment", "validate_augment"]

AUGMENT_KEYS = ("crop_steps", "scale", "noise", "channel_dropout")


def validate_augment(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Check an ``augment`` spec; returns a complete dict, or ``None`` when nothing is on."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(f"train config: augment must be a mapping, got {spec!r}")
    unknown = set(spec) - set(AUGMENT_KEYS)
    if unknown:
        raise ConfigError(f"train config: augment has unknown option(s) {sorted(unknown)}; "
                          f"allowed: {list(AUGMENT_KEYS)}")
    crop = spec.get("crop_steps")
    if crop is not None and (not isinstance(crop, int) or isinstance(crop, bool) or crop < 1):
        raise ConfigError(f"train config: augment.crop_steps must be an integer >= 1, got "
                          f"{crop!r}")
    out: dict[str, Any] = {"crop_steps": crop}
    for key, upper in (("scale", 1.0), ("noise", float("inf")), ("channel_dropout", 1.0)):
        value = spec.get(key, 0.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or \
                not 0.0 <= float(value) < upper:
            raise ConfigError(f"train config: augment.{key} must be a number in [0, {upper}), "
                              f"got {value!r}")
        out[key] = float(value)
    if crop is None and not any(out[k] for k in ("scale", "noise", "channel_dropout")):
        return None
    return out


def augment_batch(x: mx.array, key: mx.array, *, crop_steps: int | None = None,
                  scale: float = 0.0, noise: float = 0.0, channel_dropout: float = 0.0
                  ) -> mx.array:
    """Augment one batch ``x [T, B, ...]`` with PRNG ``key`` (see the module docstring).

    Returns ``[T', B, ...]`` with ``T' = crop_steps`` when cropping, else ``T``.

    Raises:
        ConfigError: ``crop_steps`` longer than the sequence.
    """
    k_crop, k_scale, k_noise, k_drop = mx.random.split(key, 4)
    num_steps, batch = x.shape[0], x.shape[1]
    feature_shape = x.shape[2:]
    if crop_steps is not None and crop_steps != num_steps:
        if crop_steps > num_steps:
            raise ConfigError(f"augment.crop_steps={crop_steps} is longer than the input "
                              f"({num_steps} steps)")
        start = mx.random.randint(0, num_steps - crop_steps + 1, (batch,), key=k_crop)
        index = start[None, :] + mx.arange(crop_steps)[:, None]  # [T', B]
        index = index.reshape(crop_steps, batch, *(1,) * len(feature_shape))
        x = mx.take_along_axis(x, mx.broadcast_to(index, (crop_steps, batch, *feature_shape)),
                               axis=0)
    if scale > 0:
        factor = mx.random.uniform(1.0 - scale, 1.0 + scale, (batch,), key=k_scale)
        x = x * factor.reshape(1, batch, *(1,) * len(feature_shape))
    if noise > 0:
        x = x + noise * mx.random.normal(x.shape, key=k_noise)
    if channel_dropout > 0:
        keep = mx.random.bernoulli(1.0 - channel_dropout, (1, batch, *feature_shape),
                                   key=k_drop)
        x = mx.where(keep, x / (1.0 - channel_dropout), mx.zeros_like(x))
    return x


def make_augment(spec: Mapping[str, Any] | None) -> Callable[[mx.array, mx.array], mx.array] | None:
    """``augment(x [T, B, ...], key) -> x'`` for a validated spec, or ``None``."""
    spec = validate_augment(spec)
    if spec is None:
        return None

    def augment(x: mx.array, key: mx.array) -> mx.array:
        return augment_batch(x, key, **spec)

    return augment
