r"""EEGEncoder: multi-channel EEG windows ``[B, C, N]`` -> time-major spikes ``[T, B, L]``.

Follows the fit/transform shape EEG users know from scikit-learn and MNE:

.. code-block:: python

    enc = EEGEncoder("delta", threshold=0.5, bands="default", sfreq_hz=160.0)
    enc.fit(X_train)                  # per-line-source mean/std, then frozen
    spikes = enc.transform(X)         # mx.array [T, B, L]
    enc.layout                        # which line is which channel / band / polarity
    x_hat = enc.decode(spikes)        # [B, C, K, T] in signal units (delta, threshold)
    enc.report(X)                     # spike counts, sparsity, SNR (dB) per channel
    EEGEncoder.from_config(enc.to_config())   # exact rebuild, fitted statistics included

Pipeline for each window (all steps vectorised over batch, channels and time):

1. optional filter bank (zero-phase Butterworth bands, :mod:`eegsnn.encode.filterbank`):
   ``[B, C, N] -> [B, C, K, N]``; each (channel, band) pair is a *source*;
   optionally a spatial filter fitted on the labelled training windows (``spatial_filter``,
   CSP per band, :mod:`eegsnn.encode.spatial`) turns the ``C`` channels into ``K_s``
   virtual channels (``csp1``...) before anything else;
2. per-source standardisation with statistics fitted on training data:
   :math:`z = (x - \mu_s) / \sigma_s`;
3. the code, computed at the native sample rate:

   * ``"rate"``: :math:`p_n = \mathrm{clip}(1/2 + z_n / (2\,\text{rate\_sigma}), 0, 1)`,
     averaged over the samples of each time bin, then one Bernoulli draw per bin. The rate
     follows the signal over time (one line per source). It is *not* one average per
     channel over the whole window (what mlx-snn 0.5's ``EEGEncoder`` does), which would throw
     away the temporal structure EEG classification needs.
   * ``"delta"``: send-on-delta modulator (:func:`~eegsnn.encode.functional.send_on_delta_counts`)
     with threshold :math:`\theta_s` (``threshold`` in units of each source's fitted standard
     deviation, or in signal units with ``threshold_mode="absolute"``); ON and OFF lines per
     source. The reference starts at the fitted mean, so the code decodes on its own:
     :math:`\hat z_t = \theta_s(\sum ON - \sum OFF)`, error :math:`< \theta_s` per sample.
   * ``"threshold"``: level crossing (:func:`~eegsnn.encode.functional.level_crossings`) at
     ``levels`` (default 5 levels evenly spread over ``±level_range`` standard deviations);
     every level has an UP and a DOWN line. Decoding tracks the band between levels and
     returns its midpoint.
   * ``"direct"``: no spike code. The standardised signal itself, times ``gain``, is the
     input current of the first layer, :math:`I_t = g\,z_t` averaged over each time bin
     (one ``analog`` line per source); spikes start in the network's first neuron layer
     (current injection, as in snnTorch's and Norse's "direct" input). This keeps the
     amplitude and the cross-channel covariance that band-power decoding needs. With
     ``polarity="on_off"`` each source gives two lines, :math:`+I_t` (``pos``) and
     :math:`-I_t` (``neg``): a Leaky neuron on each then fires on the positive and on the
     negative half-waves, so its rate grows with the source's amplitude (a spiking
     band-power detector). A list ``gain=[g_1, ..., g_K]`` gives ``K`` copies of every
     line, one per gain (the code's levels): neurons of one threshold on them act as
     detectors with thresholds in the gains' ratios, a population that grades amplitudes
     over a wider range than one neuron (whose rate rises steeply over the lowest octave
     of amplitude and saturates at one spike per step).

4. time resolution: ``T = num_steps`` if given, else ``round(N * spikes_per_s / sfreq_hz)``
   if given, else ``T = N`` (one step per sample). Events are always computed at the native
   rate and then binned (:func:`~eegsnn.encode.functional.bin_counts`): with ``T < N`` a bin
   sums the events of its samples; with ``T >= N`` a sample's events go to its own bins, one
   per bin. Nothing is lost silently: ``overflow="count"`` (default) returns event counts
   where a bin holds more than one event (0/1 elsewhere), ``"error"`` refuses with the
   ``num_steps`` needed for 0/1 spikes, ``"clip"`` keeps 0/1 and warns with the number lost.

Output lines are ordered source-major: channel, then band, then level (``threshold``:
the crossing level; ``direct`` with a list of gains: the gain), then
kind (``rate``; ``on``, ``off``; ``up``, ``down``): line
``((c * n_bands + b) * n_levels + level) * n_kinds + kind``; :attr:`EEGEncoder.layout`
lists every line as a record.

Where things live: the four codes (step 3), each with its encoder and decoder, are small
objects in :mod:`eegsnn.encode.codes` (a new method is one class there); input reading
and checks in :mod:`eegsnn.encode.inputs`; the numbers of :meth:`EEGEncoder.report` in
:mod:`eegsnn.encode.report`. This module holds the encoder: parameters, config, line
layout, filter bank + spatial filter + statistics (``fit``), and the calls into the code.

Bad input gets an :mod:`eegsnn.errors` exception: wrong shape or channel count/names,
NaN/inf samples (naming the channels), windows shorter than the filter bank needs or too
short for ``spikes_per_s`` to give one step, and zero-variance sources at ``fit`` (or, with
``on_flat="silence"``, those sources emit no spikes at all: documented and tested).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import mlx.core as mx
import numpy as np

from eegsnn.encode import functional as F
from eegsnn.encode.codes import METHODS, Code, SourceStats, make_code
from eegsnn.encode.filterbank import DEFAULT_BANDS, filter_bank, filter_min_samples, resolve_bands
from eegsnn.encode.inputs import check_finite, read_windows
from eegsnn.encode.report import at_steps, code_report
from eegsnn.encode.spatial import (
    apply_spatial_filter,
    component_names,
    fit_spatial_filter,
    validate_spatial_filter,
)
from eegsnn.errors import ConfigError, DataError

__all__ = ["METHODS", "EEGEncoder", "flat_summary", "flat_windows", "window_stats"]

_CONFIG_VERSION = 1
_FIT_CHUNK = 64  # windows per chunk when fitting statistics
#: A channel whose standard deviation is below this fraction of the median channel's is
#: dead (flat): a band-passed disconnected electrode keeps ~1e-10 of the others' amplitude.
_DEAD_RATIO = 1e-4
#: A standard deviation below this (1 pV in volts, eegsnn's unit) is no recorded signal: the
#: band-pass residue of a zeroed window (~1e-15 V), also when every channel is zero there.
_NO_SIGNAL_STD = 1e-12


class EEGEncoder:
    """Encode EEG windows ``[B, C, N]`` (or an MNE ``Raw``/``Epochs``) into spikes ``[T, B, L]``.

    Args:
        method: ``"rate"``, ``"delta"``, ``"threshold"`` or ``"direct"`` (see the module
            docstring and :mod:`eegsnn.encode.codes`).
        num_steps: output steps ``T`` per window (exclusive with ``spikes_per_s``).
        spikes_per_s: output steps per second of signal (needs ``sfreq_hz``); ``T =
            round(N * spikes_per_s / sfreq_hz)``.
        sfreq_hz: sampling rate in Hz; taken from ``info["sfreq"]`` for MNE input.
        bands: ``None`` (broadband), ``"default"`` (delta, theta, alpha, beta, gamma) or a
            list of ``(name, low_hz, high_hz)``; needs ``sfreq_hz``.
        filter_order: Butterworth order of each band-pass.
        threshold: delta step ``θ`` (relative: in fitted standard deviations; absolute: in
            signal units, e.g. volts for MNE data).
        threshold_mode: ``"relative"`` or ``"absolute"``; applies to ``threshold`` and to
            explicit ``levels``.
        levels: threshold method: an int ``K`` (``K`` levels evenly spaced over
            ``±level_range`` standard deviations) or an increasing sequence of levels.
        level_range: half-width in standard deviations for ``levels=K``.
        rate_sigma: rate method: ``z = ±rate_sigma`` maps to probability 1 / 0.
        overflow: ``"count"``, ``"error"`` or ``"clip"`` (several events in one bin).
        on_flat: ``"error"`` (``fit`` refuses zero-variance sources) or ``"silence"``.
        seed: seed of the default PRNG key for ``"rate"`` (``transform(X, key=...)``
            overrides it).
        spatial_filter: ``None`` or ``{"type": "csp", "n_components": K, "reg": ...,
            "component_order": "mutual_info" | "alternate"}``: filters fitted on the
            labelled training windows (``fit(X, y)``), one set per band
            (:mod:`eegsnn.encode.spatial`).
        gain: ``"direct"`` only: input current per standard deviation of the signal; a
            strictly increasing list gives one copy of every line per gain.
        polarity: ``"direct"`` only: ``"signed"`` (one line per source) or ``"on_off"``
            (``+I`` and ``-I`` lines).
    """

    def __init__(
        self,
        method: Literal["rate", "delta", "threshold", "direct"] = "rate",
        *,
        num_steps: int | None = None,
        spikes_per_s: float | None = None,
        sfreq_hz: float | None = None,
        bands: str | Sequence[Sequence[object]] | None = None,
        filter_order: int = 4,
        threshold: float = 0.5,
        threshold_mode: Literal["relative", "absolute"] = "relative",
        levels: int | Sequence[float] = 5,
        level_range: float = 2.0,
        rate_sigma: float = 3.0,
        overflow: Literal["count", "error", "clip"] = "count",
        on_flat: Literal["error", "silence"] = "error",
        seed: int = 0,
        spatial_filter: dict[str, Any] | None = None,
        gain: float | Sequence[float] = 1.0,
        polarity: Literal["signed", "on_off"] = "signed",
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"EEGEncoder: method must be one of {METHODS}, got {method!r}")
        if num_steps is not None and spikes_per_s is not None:
            raise ConfigError("EEGEncoder: give num_steps or spikes_per_s, not both")
        if num_steps is not None:
            F._check_steps(num_steps)
            num_steps = int(num_steps)
        if spikes_per_s is not None and not (np.isfinite(spikes_per_s) and spikes_per_s > 0):
            raise ConfigError(f"EEGEncoder: spikes_per_s must be > 0, got {spikes_per_s}")
        if sfreq_hz is not None and not (np.isfinite(sfreq_hz) and sfreq_hz > 0):
            raise ConfigError(f"EEGEncoder: sfreq_hz must be > 0, got {sfreq_hz}")
        if threshold_mode not in ("relative", "absolute"):
            raise ConfigError(
                "EEGEncoder: threshold_mode must be 'relative' or 'absolute', "
                f"got {threshold_mode!r}"
            )
        if not (np.isfinite(threshold) and threshold > 0):
            raise ConfigError(f"EEGEncoder: threshold must be > 0, got {threshold}")
        if overflow not in ("count", "error", "clip"):
            raise ConfigError(f"EEGEncoder: overflow must be count/error/clip, got {overflow!r}")
        if on_flat not in ("error", "silence"):
            raise ConfigError(f"EEGEncoder: on_flat must be 'error' or 'silence', got {on_flat!r}")
        scalar_gain = (isinstance(gain, int | float | np.floating | np.integer | np.ndarray)
                       and np.ndim(gain) == 0 and not isinstance(gain, bool | np.bool_))
        gains: Any = [float(np.asarray(gain))] if scalar_gain else gain
        if (isinstance(gains, str | bytes | bool) or not isinstance(gains, Sequence | np.ndarray)
                or len(gains) == 0 or not all(
                    isinstance(g, int | float | np.floating | np.integer)
                    and not isinstance(g, bool | np.bool_) and np.isfinite(g) and g > 0
                    for g in gains)):
            raise ConfigError(f"EEGEncoder: gain must be > 0 (a number, or a non-empty list "
                              f"of numbers), got {gain!r}")
        if len(gains) > 1 and np.any(np.diff(np.asarray(gains, np.float64)) <= 0):
            raise ConfigError(f"EEGEncoder: a list of gains must be strictly increasing, got "
                              f"{list(gains)!r}")
        if polarity not in ("signed", "on_off"):
            raise ConfigError(f"EEGEncoder: polarity must be 'signed' or 'on_off', got "
                              f"{polarity!r}")
        if not (np.isfinite(rate_sigma) and rate_sigma > 0):
            raise ConfigError(f"EEGEncoder: rate_sigma must be > 0, got {rate_sigma}")
        if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
            if levels < 1:
                raise ConfigError(f"EEGEncoder: levels must be >= 1, got {levels}")
            if not (np.isfinite(level_range) and level_range > 0):
                raise ConfigError(f"EEGEncoder: level_range must be > 0, got {level_range}")
            levels = int(levels)
        else:
            lv = np.asarray(levels, dtype=np.float64)
            if lv.ndim != 1 or lv.size < 1 or not np.all(np.isfinite(lv)):
                raise ConfigError(
                    f"EEGEncoder: levels must be an int or 1-D finite list, got {levels!r}"
                )
            if np.any(np.diff(lv) <= 0):
                raise ConfigError("EEGEncoder: levels must be strictly increasing")
            levels = [float(v) for v in lv]
        self.method = method
        self.num_steps = num_steps
        self.spikes_per_s = None if spikes_per_s is None else float(spikes_per_s)
        self.sfreq_hz = None if sfreq_hz is None else float(sfreq_hz)
        self.bands = bands if bands is None or isinstance(bands, str) else [list(b) for b in bands]
        self.filter_order = int(filter_order)
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.levels = levels
        self.level_range = float(level_range)
        self.rate_sigma = float(rate_sigma)
        self.overflow = overflow
        self.on_flat = on_flat
        self.seed = int(seed)
        self.spatial_filter = validate_spatial_filter(spatial_filter)
        self.gain: float | list[float] = (
            gains[0] if scalar_gain else [float(g) for g in gains])
        self.polarity = polarity
        if self.bands is not None and self.sfreq_hz is not None:
            resolve_bands(self.bands, self.sfreq_hz)
        # fitted state
        self.ch_names_: list[str] | None = None
        self.mean_: np.ndarray | None = None  # [C, K] float32
        self.std_: np.ndarray | None = None  # [C, K] float32 (1 where flat)
        self.flat_: np.ndarray | None = None  # [C, K] bool
        self.filters_: np.ndarray | None = None  # [K, K_s, C] spatial filters per band
        self.n_samples_: int | None = None  # window length fitted on (None: on a Raw)
        #: [C] median over the training windows of each input channel's standard deviation
        #: (before bands and spatial filters; :meth:`scale_mismatch`)
        self.channel_scale_: np.ndarray | None = None
        #: direct code with ``T < N``: median fraction of a source's variance its
        #: bin-averaged current keeps (set by ``fit``, a diagnostic of the training data,
        #: saved with the encoder since 2026-12-07; ``None`` otherwise)
        self.variance_kept_: float | None = None

    # ------------------------------------------------------------------ params / config

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable) that rebuild this encoder unfitted
        (``deep`` is accepted for scikit-learn and changes nothing: no nested estimators)."""
        return {
            "method": self.method,
            "num_steps": self.num_steps,
            "spikes_per_s": self.spikes_per_s,
            "sfreq_hz": self.sfreq_hz,
            "bands": copy.deepcopy(self.bands),
            "filter_order": self.filter_order,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "levels": copy.deepcopy(self.levels),
            "level_range": self.level_range,
            "rate_sigma": self.rate_sigma,
            "overflow": self.overflow,
            "on_flat": self.on_flat,
            "seed": self.seed,
            "spatial_filter": copy.deepcopy(self.spatial_filter),
            "gain": copy.deepcopy(self.gain),
            "polarity": self.polarity,
        }

    def set_params(self, **params: Any) -> EEGEncoder:
        """Change constructor arguments (checked as the constructor checks them); the
        encoder is unfitted afterwards. For scikit-learn's ``set_params(encoder__gain=...)``.
        """
        unknown = sorted(set(params) - set(self.get_params()))
        if unknown:
            raise ConfigError(f"EEGEncoder.set_params: unknown parameter(s) {unknown}")
        rebuilt = type(self)(**{**self.get_params(), **params})
        self.__dict__.update(rebuilt.__dict__)
        return self

    def __sklearn_clone__(self) -> EEGEncoder:
        """An unfitted copy with the same parameters (``sklearn.base.clone``)."""
        return type(self)(**self.get_params())

    def to_config(self) -> dict[str, Any]:
        """Parameters plus fitted statistics; ``from_config`` rebuilds the encoder exactly."""
        state = None
        if self.is_fitted:
            assert self.ch_names_ is not None and self.mean_ is not None \
                and self.std_ is not None and self.flat_ is not None  # set together by fit
            state = {
                "ch_names": list(self.ch_names_),
                "mean": self.mean_.astype(np.float64).tolist(),
                "std": self.std_.astype(np.float64).tolist(),
                "flat": self.flat_.tolist(),
            }
            if self.filters_ is not None:
                state["filters"] = self.filters_.tolist()
            if self.n_samples_ is not None:
                state["n_samples"] = self.n_samples_
            if self.channel_scale_ is not None:
                state["channel_scale"] = self.channel_scale_.astype(np.float64).tolist()
            if self.variance_kept_ is not None:
                state["variance_kept"] = self.variance_kept_
        return {
            "name": "EEGEncoder",
            "version": _CONFIG_VERSION,
            "params": self.get_params(),
            "state": state,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EEGEncoder:
        """Rebuild an encoder from :meth:`to_config` output."""
        if not isinstance(config, dict) or config.get("name") != "EEGEncoder":
            raise ConfigError("EEGEncoder.from_config: not an EEGEncoder config")
        if config.get("version") != _CONFIG_VERSION:
            raise ConfigError(
                f"EEGEncoder.from_config: unsupported version {config.get('version')}"
            )
        try:
            enc = cls(**config["params"])
        except TypeError as exc:
            raise ConfigError(f"EEGEncoder.from_config: bad params ({exc})") from exc
        state = config.get("state")
        if state is not None:
            enc.ch_names_ = [str(c) for c in state["ch_names"]]
            enc.mean_ = np.asarray(state["mean"], dtype=np.float32)
            enc.std_ = np.asarray(state["std"], dtype=np.float32)
            enc.flat_ = np.asarray(state["flat"], dtype=bool)
            enc.n_samples_ = None if state.get("n_samples") is None else int(state["n_samples"])
            kept = state.get("variance_kept")  # (absent before 2026-12-07: not recorded)
            enc.variance_kept_ = None if kept is None else float(kept)
            scale = state.get("channel_scale")  # (absent in encoders saved before 2026-12-06)
            enc.channel_scale_ = None if scale is None else np.asarray(scale, np.float64)
            if enc.channel_scale_ is not None and enc.channel_scale_.shape != (
                    len(enc.ch_names_),):
                raise ConfigError(f"EEGEncoder.from_config: state channel_scale has shape "
                                  f"{enc.channel_scale_.shape}, expected "
                                  f"({len(enc.ch_names_)},)")
            if enc.spatial_filter is not None:
                if "filters" not in state:
                    raise ConfigError("EEGEncoder.from_config: a spatial_filter encoder's "
                                      "state has no fitted filters")
                enc.filters_ = np.asarray(state["filters"], dtype=np.float64)
            shape = (len(enc.source_names), enc.n_bands)
            for name, arr in (("mean", enc.mean_), ("std", enc.std_), ("flat", enc.flat_)):
                if arr.shape != shape:
                    raise ConfigError(
                        f"EEGEncoder.from_config: state {name} has shape {arr.shape}, "
                        f"expected {shape}"
                    )
        return enc

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"EEGEncoder({args})"

    # ------------------------------------------------------------------ shapes and layout

    @property
    def is_fitted(self) -> bool:
        return self.mean_ is not None

    @property
    def source_names(self) -> list[str]:
        """Names of the encoded channels: the input channels, or the spatial filter's
        components (``csp1``...)."""
        self._require_fitted("source_names")
        assert self.ch_names_ is not None  # (fitted)
        if self.filters_ is None:
            return list(self.ch_names_)
        assert self.spatial_filter is not None  # filters_ come from a spatial_filter spec
        return component_names(self.spatial_filter, self.filters_.shape[1])

    @property
    def band_names(self) -> list[str]:
        """Band names (``["broadband"]`` without a filter bank)."""
        if self.bands is None:
            return ["broadband"]
        if self.bands == "default":
            return [b[0] for b in DEFAULT_BANDS]
        return [str(b[0]) for b in self.bands]

    @property
    def n_bands(self) -> int:
        return len(self.band_names)

    @property
    def code(self) -> Code:
        """The method's code (:mod:`eegsnn.encode.codes`) with this encoder's parameters."""
        return make_code(self.method, self.get_params())

    @property
    def kinds(self) -> tuple[str, ...]:
        """Line kinds per (channel, band) source, per level for ``"threshold"``."""
        return self.code.kinds

    @property
    def n_levels(self) -> int:
        return self.code.n_levels

    @property
    def lines_per_source(self) -> int:
        return self.n_levels * len(self.kinds)

    @property
    def layout(self) -> list[dict[str, Any]]:
        """One record per output line: ``line``, ``channel``, ``band``, ``kind``, ``level``.

        ``level`` is the crossing level of a ``"threshold"`` line (in standard deviations,
        or signal units with ``threshold_mode="absolute"``), else ``None``.
        """
        self._require_fitted("layout")
        out: list[dict[str, Any]] = []
        code = self.code
        levels = code.layout_levels()
        for ch in self.source_names:
            for band in self.band_names:
                for level in levels:
                    for kind in code.kinds:
                        out.append(
                            {
                                "line": len(out),
                                "channel": ch,
                                "band": band,
                                "kind": kind,
                                "level": None if level is None else float(level),
                            }
                        )
        return out

    @property
    def n_lines(self) -> int:
        self._require_fitted("n_lines")
        return len(self.source_names) * self.n_bands * self.lines_per_source

    def num_steps_for(self, n_samples: int) -> int:
        """Output steps ``T`` for a window of ``n_samples`` samples."""
        if self.num_steps is not None:
            return self.num_steps
        if self.spikes_per_s is not None:
            if self.sfreq_hz is None:
                raise ConfigError("EEGEncoder: spikes_per_s needs sfreq_hz (or MNE input)")
            t = round(n_samples * self.spikes_per_s / self.sfreq_hz)
            if t < 1:
                raise DataError(
                    f"EEGEncoder: a window of {n_samples} samples at {self.sfreq_hz} Hz gives "
                    f"no time step at spikes_per_s={self.spikes_per_s}"
                )
            return int(t)
        return int(n_samples)

    # ------------------------------------------------------------------ input handling

    def _require_fitted(self, what: str) -> None:
        if not self.is_fitted:
            raise ConfigError(f"EEGEncoder.{what}: call fit(X_train) first")

    def _read_input(self, X: object, what: str, *, finite_check: bool = True
                    ) -> tuple[Any, list[str] | None]:
        """``X`` -> (array ``[B, C, N]`` as mx.array or float32 numpy, channel names or None).

        ``finite_check=False`` skips the pass over the values that refuses NaN/inf (for a
        caller that has read them already)."""
        arr, names, sfreq = read_windows(X, what)
        if sfreq is not None:  # MNE input
            if self.sfreq_hz is None:
                self.sfreq_hz = sfreq
            elif abs(self.sfreq_hz - sfreq) > 1e-6 * sfreq:
                raise DataError(
                    f"EEGEncoder.{what}: MNE data sampled at {sfreq} Hz, encoder set to "
                    f"{self.sfreq_hz} Hz"
                )
        n = arr.shape[2]
        if self.bands is not None:
            if self.sfreq_hz is None:
                raise ConfigError(f"EEGEncoder.{what}: bands need sfreq_hz (or MNE input)")
            bands = resolve_bands(self.bands, self.sfreq_hz)
            need = filter_min_samples(bands, self.sfreq_hz, self.filter_order)
            if n < need:
                raise DataError(
                    f"EEGEncoder.{what}: window of {n} samples is shorter than the {need} "
                    f"samples the filter bank needs at {self.sfreq_hz} Hz"
                )
        if finite_check:
            check_finite(arr, names or self.ch_names_, what)
        return arr, names

    def _bands(self, arr: Any) -> Any:
        """``[B, C, N]`` -> ``[B, C, K, N]`` band signals (numpy) or ``[B, C, 1, N]``."""
        if self.bands is None:
            return arr[:, :, None, :]
        assert self.sfreq_hz is not None  # _read_input refuses bands without a rate
        return filter_bank(np.asarray(arr), self.sfreq_hz, self.bands, order=self.filter_order)

    def _sources(self, arr: Any) -> Any:
        """``[B, C, N]`` -> ``[B, C_s, K, N]``: band signals, spatially filtered when the
        encoder has fitted filters (``C_s`` components), else ``C_s = C``."""
        src = self._bands(arr)
        if self.filters_ is None:
            return src
        src = np.asarray(src)
        return np.stack([apply_spatial_filter(self.filters_[b], src[:, :, b, :])
                         for b in range(src.shape[2])], axis=2)

    # ------------------------------------------------------------------ fit / transform

    def fit(self, X: object, y: object = None, *, ch_names: Sequence[str] | None = None,
            source: str | None = None, groups: Sequence[str] | None = None) -> EEGEncoder:
        """Learn per-(channel, band) mean and standard deviation from training windows.

        Statistics are pooled over windows and samples, then frozen. Zero-variance sources
        raise :class:`DataError` (``on_flat="error"``) or are silenced (``"silence"``).
        With ``groups`` (the recording of each window), a channel flat over all the
        windows of one recording but alive in others (which pooled statistics miss) gets
        the same policy: an error naming that recording and channel, or, with
        ``"silence"``, the channel's lines stay silent in every recording (no spatial
        filter; with one, the check only refuses).

        Args:
            X: training windows ``[B, C, N]`` (array or MNE object).
            y: ``[B]`` labels (needed by a spatial filter).
            ch_names: ``[C]`` channel names of an array ``X`` (MNE input carries its own),
                named in errors and stored with the fit.
            source: what the windows come from (e.g. the recordings), named in errors.
            groups: ``[B]`` recording of each window (named in a per-recording flat
                channel error).
        """
        arr, names = self._read_input(X, "fit")
        if groups is not None and len(groups) != arr.shape[0]:
            raise ConfigError(f"EEGEncoder.fit: {len(groups)} groups for {arr.shape[0]} "
                              "windows")
        if names is None and ch_names is not None:
            if len(ch_names) != arr.shape[1]:
                raise ConfigError(f"EEGEncoder.fit: {len(ch_names)} ch_names for "
                                  f"{arr.shape[1]} channels")
            names = [str(c) for c in ch_names]
        self.filters_ = None
        if self.spatial_filter is not None:
            if y is None:
                raise ConfigError("EEGEncoder.fit: spatial_filter needs the training labels: "
                                  "fit(X, y)")
            bands = np.asarray(self._bands(arr))
            per_band = [fit_spatial_filter(bands[:, :, b, :], np.asarray(y),
                                           self.spatial_filter)
                        for b in range(bands.shape[2])]
            # MNE drops components of rank-deficient data: keep as many in every band
            k = min(f.shape[0] for f in per_band)
            self.filters_ = np.stack([f[:k] for f in per_band])
        b = arr.shape[0]
        c = arr.shape[1] if self.filters_ is None else self.filters_.shape[1]
        # chunked statistics (bounded memory), combined with Chan et al.'s parallel update
        count = 0
        mean = np.zeros((c, self.n_bands))
        m2 = np.zeros((c, self.n_bands))
        peak = np.zeros((c, self.n_bands))
        n = arr.shape[2]
        # the direct code averages the samples of each time bin: how much of each source's
        # variance the bins keep (a rhythm faster than the step rate is averaged away); a
        # continuous Raw is binned whole, as transform does
        t_bins = self.num_steps_for(n) if self.method == "direct" else n
        edges = F._bin_edges(n, t_bins) if t_bins < n else None
        binned = np.zeros((2, c, self.n_bands))  # (sum, sum of squares) of the bin means
        for start in range(0, b, _FIT_CHUNK):
            src = np.asarray(self._sources(arr[start : start + _FIT_CHUNK]), dtype=np.float64)
            k = src.shape[0] * src.shape[3]
            m_k = src.mean(axis=(0, 3))
            m2_k = ((src - m_k[None, :, :, None]) ** 2).sum(axis=(0, 3))
            delta = m_k - mean
            total = count + k
            mean = mean + delta * (k / total)
            m2 = m2 + m2_k + delta**2 * (count * k / total)
            count = total
            peak = np.maximum(peak, np.abs(src).max(axis=(0, 3)))
            if edges is not None:
                bins = np.add.reduceat(src, edges[:-1], axis=3) / np.diff(edges)
                binned += [bins.sum(axis=(0, 3)), (bins**2).sum(axis=(0, 3))]
        std = np.sqrt(m2 / count)
        flat = ~(std > 1e-7 * np.maximum(np.abs(mean), peak)) | (std == 0)
        if c >= 2 and self.filters_ is None:  # dead next to the others (a disconnected
            # electrode after a band-pass keeps filter residue only)
            flat |= std < _DEAD_RATIO * np.median(std, axis=0, keepdims=True)
        names = names or [f"ch{i}" for i in range(arr.shape[1])]
        src_names = names if self.spatial_filter is None else component_names(
            self.spatial_filter, c)  # (filters_ is set exactly when spatial_filter is)
        if np.any(flat) and self.on_flat == "error":
            which = sorted({src_names[i] for i in np.flatnonzero(flat.any(axis=1))})
            where = f"{source}: " if source else "EEGEncoder.fit: "
            raise DataError(
                f"{where}zero-variance (flat) signal in channel(s) {', '.join(which)} over "
                f"all {b} training windows; drop the channel(s) (a 'pick' step, --channels) "
                "or let their lines stay silent: --set encoder.on_flat=silence "
                "(EEGEncoder(on_flat='silence'))"
            )
        win_flat, win_std = window_stats(arr)  # [B, C]: per-window flatness and std
        if groups is not None:
            flat_in = _flat_per_group(win_flat, np.asarray(groups))  # [G, C] bool, names [G]
            if self.filters_ is None:
                flat_in[1][:, flat.all(axis=1)] = False  # flat when pooled: handled above
            if self.filters_ is None and self.on_flat == "silence":
                flat = flat | np.asarray(flat_in[1].any(axis=0))[:, None]
            elif flat_in[1].any():
                everywhere = [names[i] for i in np.flatnonzero(flat_in[1].all(axis=0))]
                if everywhere:  # (a spatial filter: the pooled check saw its components)
                    raise DataError(
                        f"{source + ': ' if source else 'EEGEncoder.fit: '}zero-variance "
                        f"(flat) signal in channel(s) {', '.join(everywhere)} in every "
                        "training recording (a reference or unused channel?); drop the "
                        "channel(s) from the 'pick' step of dataset.preprocess (a spatial "
                        "filter cannot use them)")
                g = int(np.flatnonzero(flat_in[1].any(axis=1))[0])
                n_flat = int(flat_in[1].any(axis=1).sum())
                which = [names[i] for i in np.flatnonzero(flat_in[1][g])]
                more = (f" (and {n_flat - 1} more recording(s))" if n_flat > 1 else "")
                silence = (", or silence the channel(s) in every recording: --set "
                           "encoder.on_flat=silence (EEGEncoder(on_flat='silence'))"
                           if self.filters_ is None else
                           " (encoder.on_flat=silence does not apply with a spatial filter)")
                raise DataError(
                    f"{flat_in[0][g]}: zero-variance (flat) signal in channel(s) "
                    f"{', '.join(which)} over all its windows{more}, though the channel(s) "
                    "vary in other training recordings (a disconnected electrode?); drop "
                    "the recording, or the channel(s) (a 'pick' step, --channels)"
                    f"{silence}")
        self.variance_kept_ = None
        if edges is not None and not flat.all():
            m = b * t_bins
            kept = (binned[1] / m - (binned[0] / m) ** 2) / np.where(flat, 1.0, std**2)
            self.variance_kept_ = float(np.median(kept[~flat]))
        self.ch_names_ = list(names)
        self.mean_ = mean.astype(np.float32)
        self.std_ = np.where(flat, 1.0, std).astype(np.float32)
        self.flat_ = flat
        self.n_samples_ = None if _is_continuous(X) else int(arr.shape[2])
        # the training scale: median over the windows with signal only (0: not checked)
        self.channel_scale_ = np.nan_to_num(_signal_median(win_flat, win_std), nan=0.0)
        if self.variance_kept_ is not None and self.variance_kept_ < 0.5:  # (fit complete)
            rate = f" ({t_bins / n * self.sfreq_hz:.4g} steps/s)" if self.sfreq_hz else ""
            warnings.warn(
                f"{source + ': ' if source else ''}EEGEncoder (direct): averaging "
                f"{n / t_bins:.3g} samples per time step keeps only "
                f"{100 * self.variance_kept_:.0f} % of the signal's variance (median over "
                f"sources): most of it lies at frequencies the step rate{rate} cannot carry; "
                "raise spikes_per_s (or num_steps) towards the sampling rate",
                UserWarning, stacklevel=2)
        return self

    def scale_mismatch(self, X: object, groups: Sequence[str], *, factor: float = 100.0,
                       relative_factor: float = 10.0,
                       stats: tuple[np.ndarray, np.ndarray] | None = None,
                       ch_names: Sequence[str] | None = None
                       ) -> dict[str, dict[str, Any]]:
        """Channels whose amplitude in a recording is off from training: a unit or gain
        error at another site (millivolts read as volts, one amplifier channel's gain),
        which the encoder's standardisation with the training statistics turns into a
        silent or saturated input.

        A channel's ratio is the median over the recording's windows of its standard
        deviation (windows where it is flat left out: :meth:`flat_channels` reports those)
        over the same median in training (:attr:`channel_scale_`, flat training windows
        left out too). A channel is reported when its ratio is beyond ``factor`` either
        way, or, with three or more channels, beyond ``relative_factor`` either way of the
        recording's median channel ratio (one channel off while the others are not).
        ``factor`` (100) is above what EEG itself does: Bonn's ictal segments reach 11
        times the median of all five sets' windows, and a seizure raises all channels
        together; unit errors are 1000 times or more. Channels the fit silenced, or
        without signal in training, are skipped; an encoder saved before this check
        existed has no training scale and reports nothing (``channel_scale_`` is None).

        Args:
            X: windows ``[B, C, N]`` (array or MNE object) with the fit's channels.
            groups: ``[B]`` recording of each window.
            factor: the ratio (> 1) to training beyond which a channel is reported.
            relative_factor: the ratio (> 1) to the recording's median channel ratio
                beyond which a channel is reported.
            stats: :func:`window_stats` of ``X`` when the caller already has it (its values
                are then not checked again for NaN/inf: the caller has read them).
            ch_names: ``[C]`` names to report (default: those of ``X``, else the fit's).

        Returns:
            ``{recording: {"ratios": {channel: ratio}, "median_ratio": m}}`` for the
            recordings with such a channel.
        """
        self._require_fitted("scale_mismatch")
        for name, value in (("factor", factor), ("relative_factor", relative_factor)):
            if not (np.isfinite(value) and value > 1):
                raise ConfigError(f"EEGEncoder.scale_mismatch: {name} must be > 1, got "
                                  f"{value}")
        if self.channel_scale_ is None:
            return {}
        # with the caller's window statistics, the values were read already: no second pass
        arr, names = self._read_input(X, "scale_mismatch", finite_check=stats is None)
        self._check_channels(arr, names, "scale_mismatch")
        if len(groups) != arr.shape[0]:
            raise ConfigError(f"EEGEncoder.scale_mismatch: {len(groups)} groups for "
                              f"{arr.shape[0]} windows")
        if stats is not None and not (np.shape(stats[0]) == np.shape(stats[1])
                                      == tuple(arr.shape[:2])):
            raise ConfigError(f"EEGEncoder.scale_mismatch: stats of shape "
                              f"{np.shape(stats[0])} for windows {tuple(arr.shape[:2])}")
        names = ([str(c) for c in ch_names] if ch_names is not None else
                 names or list(self.ch_names_ or []))
        flat, std = window_stats(arr) if stats is None else stats
        scale = np.asarray(self.channel_scale_, dtype=np.float64)
        checked = (scale > 0) & ~self._silenced(arr.shape[1])
        out: dict[str, dict[str, Any]] = {}
        rec = np.asarray([str(g) for g in groups])
        for group in dict.fromkeys(rec.tolist()):
            here = rec == group
            ratio = np.where(checked, _signal_median(flat[here], std[here])
                             / np.where(checked, scale, 1.0), np.nan)
            valid = np.isfinite(ratio)
            if not valid.any():
                continue
            median = float(np.median(ratio[valid]))
            off = valid & ((ratio > factor) | (ratio < 1.0 / factor))
            if valid.sum() >= 3:
                off |= valid & ((ratio > relative_factor * median)
                                | (ratio < median / relative_factor))
            if off.any():
                out[group] = {"ratios": {names[c]: float(ratio[c]) for c in np.flatnonzero(off)},
                              "median_ratio": median}
        return out

    def _check_channels(self, arr: Any, names: list[str] | None, what: str) -> None:
        assert self.ch_names_ is not None  # (fitted: checked by the caller)
        c = arr.shape[1]
        if c != len(self.ch_names_):
            raise DataError(
                f"EEGEncoder.{what}: X has {c} channels, the encoder was fitted on "
                f"{len(self.ch_names_)}"
            )
        auto = [f"ch{i}" for i in range(c)]
        if names is not None and self.ch_names_ != auto and names != self.ch_names_:
            first = next(a for a, b in zip(names, self.ch_names_, strict=True) if a != b)
            raise DataError(
                f"EEGEncoder.{what}: channel names differ from those fitted "
                f"(first mismatch: {first!r}); reorder or pick the fitted channels"
            )

    def _raw_windows(self, X: object, what: str) -> object:
        """A continuous ``mne.io.Raw`` cut into consecutive windows of the fitted length
        (``n_samples_``; the tail shorter than a window is dropped); other input as is.

        An encoder fitted on a Raw (no window length) encodes a Raw as one long window
        when its time resolution does not depend on the length (``num_steps`` unset: one
        step per sample, or ``spikes_per_s``).

        Raises:
            ConfigError: a Raw, no window length known, and a fixed ``num_steps`` (it would
                squeeze the whole recording into ``num_steps`` steps).
            DataError: the recording is shorter than one window.
        """
        if not _is_continuous(X):
            return X
        raw: Any = X
        n = self.n_samples_
        if n is None and self.num_steps is None:
            return X
        if n is None:
            raise ConfigError(
                f"EEGEncoder.{what}: X is a continuous recording (mne.io.Raw, {raw.n_times} "
                f"samples): num_steps={self.num_steps} would squeeze all of it into one "
                "window, and the encoder knows no window length (it was fitted on a Raw); "
                "fit it on windows, or cut the recording first: "
                "mne.make_fixed_length_epochs(raw, duration=...) or "
                "eegsnn.interop.mne.windows_from_raw(raw, window_s=..., mapping=...)")
        data = np.asarray(raw.get_data(), dtype=np.float32)
        k = data.shape[1] // n
        if k == 0:
            raise DataError(f"EEGEncoder.{what}: the recording has {data.shape[1]} samples, "
                            f"fewer than one window of {n} (the length fitted on)")
        windows = data[:, :k * n].reshape(data.shape[0], k, n).transpose(1, 0, 2)
        return _Windows(np.ascontiguousarray(windows), raw.ch_names, raw.info["sfreq"])

    def _time_major_sources(self, X: object, what: str) -> tuple[mx.array, int]:
        """``X`` -> time-major (lazy, strided) sources ``[N, B, S]`` (``S = C * K``) and ``N``."""
        self._require_fitted(what)
        arr, names = self._read_input(self._raw_windows(X, what), what)
        self._check_channels(arr, names, what)
        b, _, n = arr.shape
        src = self._sources(arr)  # [B, C_s, K, N]
        s = src.shape[1] * self.n_bands
        x = src if isinstance(src, mx.array) else mx.array(np.ascontiguousarray(src))
        x = mx.transpose(x.reshape(b, s, n), (2, 0, 1))
        assert self.flat_ is not None and self.mean_ is not None  # (fitted)
        if self.flat_.any():  # silenced sources held at their mean: no events from them
            # (flat over the training windows, or in one recording: ``fit(groups=...)``)
            x = mx.where(mx.array(self.flat_.reshape(s)), mx.array(self.mean_.reshape(s)), x)
        return x, n

    def _stats(self) -> SourceStats:
        """The fitted statistics flattened to ``[S]`` sources (channel, then band)."""
        assert self.mean_ is not None and self.std_ is not None and self.flat_ is not None
        s = self.std_.size
        return SourceStats(self.mean_.reshape(s), self.std_.reshape(s), self.flat_.reshape(s))

    def _standardised(self, X: object, what: str) -> tuple[mx.array, int]:
        """``X`` -> time-major z-scored sources ``[N, B, S]`` and ``N``."""
        x, n = self._time_major_sources(X, what)
        stats = self._stats()
        inv_std = mx.array((1.0 / stats.std).astype(np.float32))
        return (x - mx.array(stats.mean)) * inv_std, n

    def flat_mask(self, X: object, *, windows_flat: np.ndarray | None = None) -> np.ndarray:
        """``[B, C]`` bool: each channel flat in each window (:func:`flat_windows`), except
        the channels the fit silenced (``on_flat="silence"``, flat in training already).

        Args:
            X: windows ``[B, C, N]`` (array or MNE object) with the fit's channels.
            windows_flat: :func:`flat_windows` of ``X`` when the caller already has it
                (``X`` is then not read again).
        """
        self._require_fitted("flat_mask")
        if windows_flat is None:
            arr, _ = self._read_input(X, "flat_mask")
            windows_flat = flat_windows(arr)
        return np.array(windows_flat, dtype=bool) & ~self._silenced(np.shape(windows_flat)[1])

    def _silenced(self, n_channels: int) -> np.ndarray:
        """``[C]`` bool: the input channels the fit silenced (``on_flat="silence"``, flat in
        training; none with a spatial filter, whose statistics are per component)."""
        if self.filters_ is None and self.flat_ is not None \
                and self.flat_.shape[0] == n_channels:
            return np.asarray(np.asarray(self.flat_, dtype=bool).all(axis=1), dtype=bool)
        return np.zeros(n_channels, dtype=bool)

    def flat_channels(self, X: object, groups: Sequence[str],
                      ch_names: Sequence[str] | None = None
                      ) -> dict[str, dict[str, tuple[int, int]]]:
        """Channels that are flat in windows of a recording the fitted encoder is about to
        encode (e.g. another site's recordings: a disconnected electrode there gives no
        spikes, or only the spatial filter's mix of the others, and predictions that cannot
        be trusted).

        Flat in a window (:func:`flat_windows`): constant, below 1 pV, or (two or more
        channels) a standard deviation below 1e-4 of the window's median channel (a zeroed
        electrode after a band-pass). Channels the fit already silenced
        (``on_flat="silence"``, flat in training) are not listed.

        Args:
            X: windows ``[B, C, N]`` (array or MNE object).
            groups: ``[B]`` recording of each window.
            ch_names: ``[C]`` names of an array ``X`` (default: the fit's names).

        Returns:
            :func:`flat_summary` of :meth:`flat_mask`: ``{recording: {channel: (flat
            windows, windows of the recording)}}``.
        """
        self._require_fitted("flat_channels")
        arr, names = self._read_input(X, "flat_channels")
        if len(groups) != arr.shape[0]:
            raise ConfigError(f"EEGEncoder.flat_channels: {len(groups)} groups for "
                              f"{arr.shape[0]} windows")
        names = names or ([str(c) for c in ch_names] if ch_names is not None else
                          list(self.ch_names_ or [f"ch{i}" for i in range(arr.shape[1])]))
        return flat_summary(self.flat_mask(arr), groups, names)

    def transform(self, X: object, key: mx.array | int | None = None) -> mx.array:
        """Encode windows ``[B, C, N]`` (numpy, mlx or MNE) into spikes ``[T, B, L]``.

        A continuous ``mne.io.Raw`` is cut into consecutive windows of the length the
        encoder was fitted on (``n_samples_``; ``B`` = whole windows in the recording); an
        encoder fitted on a Raw encodes it as one window when ``num_steps`` is unset and
        refuses it otherwise (see ``_raw_windows``).

        ``key`` (``"rate"`` only): PRNG key or int seed; default ``mx.random.key(seed)``.
        Windows encoded with the same key share their random draws; pass a different key
        per batch (e.g. from ``mx.random.split``) for independent noise.
        """
        x, n = self._time_major_sources(X, "transform")
        return self.code.encode(x, self.num_steps_for(n), self._stats(), key)

    def fit_transform(
        self, X: object, y: object = None, key: mx.array | int | None = None
    ) -> mx.array:
        return self.fit(X, y).transform(X, key=key)

    __call__ = transform

    # ------------------------------------------------------------------ decoding / report

    def decode(self, spikes: mx.array | np.ndarray) -> np.ndarray:
        """Reconstruct the encoded signal from ``"delta"`` or ``"threshold"`` spikes.

        Returns ``[B, C, K, T]`` (``K`` bands) float64 in signal units at the spike
        resolution: the value represented after each time bin. Exact up to the code's
        resolution (``< θ`` for delta, half a level gap inside the levels for threshold)
        unless events were dropped with ``overflow="clip"``.
        """
        self._require_fitted("decode")
        code = self.code
        code.require_decoder()
        sp = np.asarray(spikes, dtype=np.float64)
        if sp.ndim != 3 or sp.shape[2] != self.n_lines:
            raise DataError(
                f"EEGEncoder.decode: expected spikes [T, B, {self.n_lines}], got {sp.shape}"
            )
        assert self.std_ is not None  # (fitted)
        stats = self._stats()
        x = stats.to_signal(code.decode(sp, stats))  # [T, B, S]
        t, b, _ = sp.shape
        c, k = self.std_.shape
        return np.transpose(x.reshape(t, b, c, k), (1, 2, 3, 0))

    def reference(self, X: object) -> np.ndarray:
        """The signal a code represents at spike resolution: ``[B, C, K, T]`` signal units.

        Band-filtered when there is a filter bank; per time bin the value of the bin's last
        sample (``T < N``) or of the sample the bin lies in (``T >= N``). Compare it with
        :meth:`decode`.
        """
        z, n = self._standardised(X, "reference")
        t = self.num_steps_for(n)
        zn = at_steps(np.asarray(z, dtype=np.float64), t)  # [T, B, S]
        assert self.mean_ is not None and self.std_ is not None  # (fitted: checked above)
        s = zn.shape[2]
        x = zn * self.std_.reshape(s) + self.mean_.reshape(s)
        c, k = self.std_.shape
        return np.transpose(x.reshape(t, zn.shape[1], c, k), (1, 2, 3, 0))

    def report(
        self,
        X: object,
        spikes: mx.array | np.ndarray | None = None,
        key: mx.array | int | None = None,
    ) -> dict[str, Any]:
        """What the code keeps on ``X``: counts, rates, sparsity and SNR (dB) per channel.

        Returns a JSON-serialisable dict with ``method``, ``num_steps``, ``n_lines``,
        ``sparsity`` (fraction of zero entries), ``max_count`` (> 1 means event counts),
        ``spikes_per_channel`` and ``sparsity_per_channel`` (over that channel's lines;
        the ``direct`` code, an analog current, reports ``current_rms``,
        ``max_abs_current`` and ``current_rms_per_channel`` instead of these, over all of
        a channel's lines: with a list of gains, its copies at every gain),
        ``rate_hz_per_line`` (mean events per second of signal, when ``sfreq_hz`` is known),
        and for ``"delta"``/``"threshold"`` the reconstruction ``snr_db`` overall and
        ``snr_db_per_channel`` (signal power about the fitted mean over error power, all
        bands of a channel together; ``None`` for a silenced flat channel).
        """
        if spikes is None:
            spikes = self.transform(X, key=key)
        sp = np.asarray(spikes)
        layout = self.layout
        arr, _ = self._read_input(X, "report")
        ref = est = None
        if self.code.decodable:
            ref, est = self.reference(X), self.decode(sp)
        return code_report(sp, method=self.method, layout=layout,
                           source_names=self.source_names, n_samples=arr.shape[2],
                           sfreq_hz=self.sfreq_hz, reference=ref, decoded=est, mean=self.mean_)


def flat_windows(arr: Any) -> np.ndarray:
    """``[B, C]``: whether each channel is flat in each window of ``arr [B, C, N]`` (an
    array, or anything sliced along its first axis into arrays, e.g. lazy windows).

    Flat: constant (its range at most 1e-7 of its magnitude, the tolerance of the pooled
    check), a standard deviation below :data:`_NO_SIGNAL_STD`, or, with two or more
    channels, below :data:`_DEAD_RATIO` of the window's median channel: after a band-pass a
    disconnected or zeroed electrode is not constant but filter residue ~1e-10 of the
    others.
    """
    return window_stats(arr)[0]


def window_stats(arr: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(flat, std)``, both ``[B, C]``, in one pass over ``arr [B, C, N]``: whether each
    channel is flat in each window (:func:`flat_windows`) and its standard deviation."""
    flat_out = np.zeros(arr.shape[:2], dtype=bool)
    std_out = np.zeros(arr.shape[:2], dtype=np.float64)
    for start in range(0, arr.shape[0], _FIT_CHUNK):
        chunk = np.asarray(arr[start : start + _FIT_CHUNK], dtype=np.float64)
        lo, hi = chunk.min(axis=2), chunk.max(axis=2)
        std = chunk.std(axis=2)
        flat = ~(hi - lo > 1e-7 * np.maximum(np.abs(lo), np.abs(hi))) | (hi == lo) \
            | (std < _NO_SIGNAL_STD)
        if chunk.shape[1] >= 2:
            flat |= std < _DEAD_RATIO * np.median(std, axis=1, keepdims=True)
        flat_out[start : start + chunk.shape[0]] = flat
        std_out[start : start + chunk.shape[0]] = std
    return flat_out, std_out


def _signal_median(flat: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``[C]``: the median over windows of each channel's standard deviation ``std [B, C]``,
    leaving out the windows where it is ``flat [B, C]``; NaN for a channel flat in all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (an all-flat channel: NaN)
        return np.nanmedian(np.where(flat, np.nan, std), axis=0)


def flat_summary(mask: np.ndarray, groups: Sequence[str], names: Sequence[str]
                 ) -> dict[str, dict[str, tuple[int, int]]]:
    """``{recording: {channel: (flat windows, windows of the recording)}}`` from a ``[B, C]``
    flat mask (:func:`flat_windows`, :meth:`EEGEncoder.flat_mask`), ``groups [B]`` (the
    recording of each window) and channel ``names [C]``; recordings without a flat channel
    are left out."""
    recordings, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for g, rec in enumerate(recordings.tolist()):
        rows = mask[inverse == g]
        counts = rows.sum(axis=0)
        if counts.any():
            out[rec] = {str(names[int(c)]): (int(counts[c]), int(rows.shape[0]))
                        for c in np.flatnonzero(counts)}
    return out


def _flat_per_group(per_window: np.ndarray, groups: np.ndarray
                    ) -> tuple[list[str], np.ndarray]:
    """The groups (recordings) of ``[B]`` windows and, ``[G, C]``, whether each channel is
    flat in every window of each group, from ``per_window [B, C]`` (:func:`flat_windows`)."""
    names, inverse = np.unique(groups.astype(str), return_inverse=True)
    flat = np.zeros((names.size, per_window.shape[1]), dtype=bool)
    for g in range(names.size):
        flat[g] = per_window[inverse == g].all(axis=0)
    return [str(n) for n in names], flat


def _is_continuous(X: object) -> bool:
    """Whether ``X`` is a continuous ``mne.io.Raw`` (not windows: no ``events``)."""
    return all(hasattr(X, a) for a in ("annotations", "n_times", "get_data", "info")) \
        and not hasattr(X, "events")


class _Windows:
    """Windows ``[B, C, N]`` of a Raw with its channel names and rate (read like MNE)."""

    def __init__(self, data: np.ndarray, names: Sequence[str], sfreq: float) -> None:
        self._data = data
        self.ch_names = [str(c) for c in names]
        self.info = {"sfreq": float(sfreq)}

    def get_data(self) -> np.ndarray:
        return self._data
