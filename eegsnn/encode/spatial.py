r"""Spatial filters fitted on training windows: EEG channels -> a few virtual channels.

Motor imagery lives in event-related (de)synchronisation: band-power changes over
sensorimotor cortex that spatial filters separate. Common spatial patterns (CSP; Ramoser et
al. 2000, Blankertz et al. 2008) finds filters :math:`w` that maximise the variance of
:math:`w^\top x` for one class while minimising it for the other (generalised eigenvectors of
the class covariance matrices). Fitted on a fold's *training* windows only and stored with
the encoder, so a run applies exactly the filters it learned.

The filters come from :class:`mne.decoding.CSP` (the reference implementation, multi-class
by mutual information); this module only keeps the filter matrix, applies it, and names the
components. Shapes:

* ``fit_spatial_filter(X [W, C, N], y [W], spec) -> filters [K, C]``
* ``apply_spatial_filter(filters [K, C], X [B, C, N]) -> [B, K, N]``
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, overload

import numpy as np

from eegsnn.errors import ConfigError, DataError

__all__ = [
    "SPATIAL_FILTERS",
    "apply_spatial_filter",
    "component_names",
    "fit_spatial_filter",
    "validate_spatial_filter",
]

SPATIAL_FILTERS = ("csp",)
#: covariance estimators mne.decoding.CSP accepts by name for ``reg``
_SHRINKAGE = ("empirical", "diagonal_fixed", "ledoit_wolf", "oas", "shrunk", "pca",
              "factor_analysis", "shrinkage")
_KEYS = {"type", "n_components", "reg", "component_order"}
#: how mne.decoding.CSP picks its components: by mutual information with the class
#: (MNE's default), or, for two classes, the classical alternation of the largest and
#: smallest eigenvalues (Ramoser et al. 2000; Blankertz et al. 2008)
_ORDERS = ("mutual_info", "alternate")


@overload
def validate_spatial_filter(spec: None) -> None: ...
@overload
def validate_spatial_filter(spec: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def validate_spatial_filter(spec: Mapping[str, Any] | None) -> dict[str, Any] | None: ...


def validate_spatial_filter(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Check a ``spatial_filter`` spec and fill defaults: ``{"type": "csp",
    "n_components": 6, "reg": None}`` (``reg``: covariance shrinkage, a float in [0, 1],
    ``"ledoit_wolf"``/``"oas"`` or ``None``; ``component_order``: ``"mutual_info"``, the
    default, left out of the returned spec, or ``"alternate"``, two classes only)."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(f"spatial_filter: expected a mapping like {{type: csp, "
                          f"n_components: 6}}, got {spec!r}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigError(f"spatial_filter: unknown key(s) {sorted(unknown)}; allowed: "
                          f"{sorted(_KEYS)}")
    kind = spec.get("type", "csp")
    if kind not in SPATIAL_FILTERS:
        raise ConfigError(f"spatial_filter: type must be one of {SPATIAL_FILTERS}, got "
                          f"{kind!r}")
    n = spec.get("n_components", 6)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"spatial_filter: n_components must be an integer >= 1, got {n!r}")
    reg = spec.get("reg")
    if reg is not None and not ((isinstance(reg, str) and reg in _SHRINKAGE) or (
            isinstance(reg, int | float) and not isinstance(reg, bool)
            and 0.0 <= float(reg) <= 1.0)):
        raise ConfigError(f"spatial_filter: reg must be None, a float in [0, 1] or one of "
                          f"{', '.join(_SHRINKAGE)}, got {reg!r}")
    order = spec.get("component_order", "mutual_info")
    if order not in _ORDERS:
        raise ConfigError(f"spatial_filter: component_order must be one of "
                          f"{', '.join(_ORDERS)}, got {order!r}")
    out: dict[str, Any] = {"type": kind, "n_components": n, "reg": reg}
    if order != "mutual_info":  # (the default is not written: earlier specs stay as they were)
        out["component_order"] = order
    return out


def fit_spatial_filter(X: np.ndarray, y: np.ndarray | None, spec: Mapping[str, Any]
                       ) -> np.ndarray:
    """Fit the spatial filter ``spec`` on training windows ``X [W, C, N]`` with labels ``y``.

    Returns the filters ``[K, C]`` (float64), most discriminative first; ``K`` is
    ``n_components`` capped at the number of channels (as the CSP + LDA baseline does).

    Raises:
        ConfigError: no labels.
        DataError: fewer than two classes, or a covariance MNE cannot decompose.
    """
    spec = validate_spatial_filter(spec)
    if y is None:
        raise ConfigError("spatial_filter: CSP is fitted on labelled windows; call "
                          "fit(X, y) with the training labels")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 3 or len(y) != X.shape[0]:
        raise DataError(f"spatial_filter: expected X [W, C, N] and y [W], got {X.shape} and "
                        f"{y.shape}")
    k = min(spec["n_components"], X.shape[1])
    if np.unique(y).size < 2:
        raise DataError("spatial_filter: CSP needs training windows of at least two classes")
    order = spec.get("component_order", "mutual_info")
    if order == "alternate" and np.unique(y).size != 2:
        raise DataError(f"spatial_filter: component_order alternate is for two classes; the "
                        f"training windows have {np.unique(y).size} (use mutual_info)")
    from mne.decoding import CSP
    from mne.utils import use_log_level

    csp = CSP(n_components=k, reg=spec["reg"], log=None, transform_into="csp_space",
              component_order=order)
    try:
        with warnings.catch_warnings(), use_log_level("error"):
            warnings.simplefilter("ignore")  # MNE's rank/logging chatter
            csp.fit(X, y)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise DataError(f"spatial_filter: CSP could not be fitted on the training windows "
                        f"({exc}); try reg: ledoit_wolf or fewer components") from None
    return np.asarray(csp.filters_[:k], dtype=np.float64)


def apply_spatial_filter(filters: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Project ``X [B, C, N]`` (or ``[B, C, ..., N]``) on ``filters [K, C]`` ->
    ``[B, K, ..., N]`` (float32)."""
    X = np.asarray(X, dtype=np.float32)
    out = np.tensordot(np.asarray(filters, dtype=np.float32), X, axes=([1], [1]))
    return np.ascontiguousarray(np.moveaxis(out, 0, 1))


def component_names(spec: Mapping[str, Any], n: int) -> list[str]:
    """Names of the virtual channels: ``csp1``, ``csp2``, ..."""
    return [f"{spec['type']}{i + 1}" for i in range(n)]
