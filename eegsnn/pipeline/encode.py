"""The ``encode`` stage on its own: recordings + config -> a packed spike dataset on disk.

.. code-block:: python

    from eegsnn.pipeline.encode import encode_dataset
    ds = encode_dataset("configs/bonn_example.yaml", "bonn.spikes")   # fits the encoder
    ds = encode_dataset(None, "new.spikes", source=["rec.edf"], encoder_from="runs/x")

The encoder is fitted on every window it encodes (a dataset for exploration or for
training elsewhere); to encode held-out recordings leak-free, reuse the encoder fitted by a
training run (``encoder_from=RUN_DIR``), which also applies that run's preprocessing and
checks that channels and sampling rate fit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.encode import load_spikes, save_spikes
from eegsnn.errors import ConfigError
from eegsnn.pipeline.apply import check_compatible, data_source, default_root, load_run_model
from eegsnn.pipeline.config import apply_overrides, load_study_config, resolve_study_config
from eegsnn.pipeline.folds import encode_windows, fit_encoder
from eegsnn.pipeline.metrics import class_counts
from eegsnn.preprocess import load_windows

__all__ = ["encode_dataset"]


def encode_dataset(config: Mapping[str, Any] | str | os.PathLike | None,
                   out: str | os.PathLike, *, source: Any = None,
                   root: str | os.PathLike | None = None, overrides: Sequence[str] = (),
                   encoder_from: str | os.PathLike | None = None,
                   overwrite: bool = False, use_cache: bool | None = None) -> Any:
    """Encode recordings into a packed spike dataset (:func:`eegsnn.encode.save_spikes`).

    Args:
        config: study config (file or dict) giving ``dataset`` and ``encoder``; may be
            ``None`` with ``encoder_from``.
        out: dataset folder to write (suffix ``.spikes`` suggested).
        source: recordings (files, folder, manifest) overriding ``data.source``.
        root: dataset root for ``source``.
        encoder_from: a training run whose preprocessing and fitted encoder to apply.
        overwrite: replace an existing dataset at ``out``.
        use_cache: read and write the window cache (``~/.cache/eegsnn/windows``);
            ``None`` (default): on with ``config``, off with ``encoder_from`` (new
            recordings leave no windows in the home folder unless asked, as ``evaluate``).

    Returns:
        the written :class:`eegsnn.encode.SpikeDataset`.
    """
    record = None
    if encoder_from is not None:
        cfg, record, encoder, _ = load_run_model(encoder_from)
        if overrides:
            raise ConfigError("--set cannot change a run's preprocessing or encoder "
                              "(--encoder-from): they must stay as trained")
    elif config is None:
        raise ConfigError("encode needs --config (dataset + encoder) or --encoder-from RUN_DIR")
    else:
        if isinstance(config, (str, os.PathLike)):
            if source is not None:
                overrides = [*overrides, "data.source=_cli_"]
            cfg = load_study_config(config, overrides)
        else:
            base = apply_overrides(config, overrides)
            if source is not None:
                base.setdefault("data", {})["source"] = "_cli_"
            cfg = resolve_study_config(base)
        encoder = None
    enc_cfg = cfg.get("encoder") or {}
    if encoder is None and enc_cfg.get("spatial_filter") is not None:
        raise ConfigError("encoder.spatial_filter (CSP) is fitted with the labels of the "
                          "windows it encodes; a stored dataset encoded that way leaks them "
                          "into any cross-validation run on it. Train a run (the pipeline "
                          "fits the filters on each fold's training windows) and encode new "
                          "data with --encoder-from RUN_DIR, or --set encoder.spatial_filter="
                          "null")
    method = enc_cfg.get("method")
    if method == "direct":
        raise ConfigError("encoder.method 'direct' gives the network the band-passed signal "
                          "as an analog current, not spikes, so there is no spike dataset "
                          "to store; `eegsnn train` computes it from the windows (use a "
                          "spike code, e.g. --set encoder.method=delta, to store spikes)")
    source, root = data_source(cfg, source, root)
    root = default_root(source, root, cfg["dataset"])
    if use_cache is None:
        use_cache = encoder_from is None
    ws = load_windows(source, cfg["dataset"], root=root, cache_dir=cfg.get("cache_dir"),
                      use_cache=use_cache)
    if record is not None:
        assert encoder is not None and encoder_from is not None  # set with record
        check_compatible(ws, record, str(source), Path(encoder_from))
    else:
        encoder = fit_encoder(cfg, ws)  # a flat-channel error names the channel and files
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    peak = float(spikes.max().item())
    if peak > 255:
        raise ConfigError(f"the encoder puts up to {peak:.0f} events in one time step; a "
                          "spike dataset stores at most 255: raise encoder.spikes_per_s or "
                          "encoder.threshold (e.g. --set encoder.threshold=0.5)")
    meta = {
        "ch_names": list(ws.ch_names), "sfreq_hz": ws.sfreq_hz,
        "class_names": list(ws.class_names), "class_counts": class_counts(ws.y, ws.class_names),
        "encoder": encoder.to_config(), "layout": encoder.layout,
        "dataset": cfg["dataset"], "files": ws.provenance.get("files", []),
        "recording": ws.recording.tolist(), "onset_s": np.round(ws.onset_s, 6).tolist(),
        "encoder_from": None if encoder_from is None else str(encoder_from),
    }
    path = save_spikes(out, spikes, ws.y, meta, overwrite=overwrite)
    return load_spikes(path)
