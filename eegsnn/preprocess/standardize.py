"""Per-channel standardisation fitted on training windows only.

.. math::  \\hat x_{w,c,t} = (x_{w,c,t} - \\mu_c) / \\sigma_c

with :math:`\\mu_c`, :math:`\\sigma_c` the mean and (population) standard deviation of
channel :math:`c` over all training windows and samples. Fit on the training split, then
transform train, validation and test with the same statistics: fitting on all windows
leaks test information into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegsnn.errors import ConfigError, DataError

__all__ = ["ChannelStandardizer"]


@dataclass
class ChannelStandardizer:
    """Fit/transform per-channel z-scoring of ``[W, C, n]`` windows.

    Attributes:
        mean: float64 ``[C]`` (``None`` until fitted).
        std: float64 ``[C]``; channels flat in the training data (std below ``min_std``)
            get 1.0, so they are centred but not blown up, and are listed in ``flat``.
        min_std: threshold below which a channel counts as flat.
    """

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    flat: tuple[int, ...] = ()
    min_std: float = 1e-12

    def fit(self, X: np.ndarray) -> ChannelStandardizer:
        """Fit on training windows ``X`` ``[W, C, n]``; returns ``self``."""
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[0] == 0:
            raise ConfigError(f"fit needs windows [W, C, n] with W > 0, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise DataError("training windows hold NaN or infinite values")
        mean = X.mean(axis=(0, 2), dtype=np.float64)
        var = np.square(X - mean[None, :, None].astype(X.dtype), dtype=np.float64).mean(
            axis=(0, 2))
        std = np.sqrt(var)
        flat = np.flatnonzero(std < self.min_std)
        std[flat] = 1.0
        self.mean, self.std, self.flat = mean, std, tuple(int(i) for i in flat)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of ``X`` ``[W, C, n]`` (or ``[C, n]``)."""
        if self.mean is None or self.std is None:
            raise ConfigError("ChannelStandardizer.transform called before fit")
        X = np.asarray(X)
        c = X.shape[-2] if X.ndim >= 2 else -1
        if c != self.mean.size:
            raise ConfigError(f"fitted on {self.mean.size} channels, got data with shape {X.shape}")
        shape = (1,) * (X.ndim - 2) + (c, 1)
        mean = self.mean.reshape(shape).astype(np.float32)
        inv = (1.0 / self.std).reshape(shape).astype(np.float32)
        return ((X.astype(np.float32) - mean) * inv).astype(np.float32)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def state_dict(self) -> dict:
        """JSON-serialisable state (for configs and checkpoints)."""
        if self.mean is None or self.std is None:
            raise ConfigError("ChannelStandardizer is not fitted")
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "flat": list(self.flat),
                "min_std": self.min_std}

    @staticmethod
    def from_state_dict(state: dict) -> ChannelStandardizer:
        return ChannelStandardizer(
            mean=np.asarray(state["mean"], dtype=np.float64),
            std=np.asarray(state["std"], dtype=np.float64),
            flat=tuple(state.get("flat", ())), min_std=float(state.get("min_std", 1e-12)),
        )
