"""The ``encode`` stage on its own: recordings + config -> a packed spike dataset on disk.

.. code-block:: python

    from eegsnn.pipeline.encode import encode_dataset
    ds = encode_dataset("configs/bonn_example.yaml", "bonn.spikes")   # fits the encoder
    ds = encode_dataset(None, "new.spikes", source=["rec.edf"], encoder_from="runs/x")

The encoder is fitted on every window it encodes (a dataset for exploration or for
training elsewhere); to encode held-out recordings leak-free, reuse the encoder fitted by a
training run (``encoder_from=RUN_DIR``), which also applies that run's preprocessing and
checks that channels and sampling rate fit.

Before anything is read, the output and the inputs are checked: ``out`` must be a new
folder or (with ``overwrite``) an existing spike dataset, never an input or the current
folder; the inputs must be one folder, one data manifest or recording files, none given
twice. Recordings with the same content under two names are encoded (as ``eegsnn train``
reads them) with a warning naming them, and listed in ``meta["identical_recordings"]``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.encode import load_spikes, save_spikes
from eegsnn.encode.storage import MAX_COUNT, check_target
from eegsnn.errors import ConfigError
from eegsnn.io.files import canonical_path
from eegsnn.manifest import is_manifest_path, load_manifest
from eegsnn.pipeline.apply import check_compatible, data_source, default_root, load_run_model
from eegsnn.pipeline.config import apply_overrides, load_study_config, resolve_study_config
from eegsnn.pipeline.folds import encode_windows, fit_encoder
from eegsnn.pipeline.metrics import class_counts
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.dataset import unused_labels
from eegsnn.preprocess.splits import identical_recordings

__all__ = ["encode_dataset"]

log = logging.getLogger(__name__)

_FORMS = ("DATA takes one folder, one data manifest (.yaml) or one or more recording "
          "files")


def check_inputs(source: Any) -> None:
    """Refuse input forms that :func:`eegsnn.preprocess.load_windows` does not read:
    several items of which one is a folder or a data manifest, and a file given twice
    (the same path, however spelt). ``source``: a path or a list of paths (other objects,
    e.g. MNE recordings, are left alone).

    Raises:
        ConfigError: one line naming the input and what DATA can be.
    """
    if not isinstance(source, (list, tuple)) or len(source) < 2:
        return
    seen: dict[Path, str] = {}
    for item in source:
        if not isinstance(item, (str, os.PathLike)):
            continue
        p = Path(item)
        if p.is_dir() or is_manifest_path(p):
            what = "a folder" if p.is_dir() else "a data manifest"
            raise ConfigError(f"{p}: {what} cannot be combined with other inputs; {_FORMS} "
                              "(encode each folder on its own, or list the files)")
        key = canonical_path(p)
        if key in seen:
            also = "" if seen[key] == str(item) else f" (also as {seen[key]})"
            raise ConfigError(f"{p}: given twice{also}; each recording is encoded once: "
                              "give it once")
        seen[key] = str(item)


def _input_paths(source: Any, root: Any) -> list[Path]:
    """The paths a source reads: its files, folders and manifests, a manifest's root
    folder and an explicit ``root``."""
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    out = [Path(p) for p in items if isinstance(p, (str, os.PathLike))]
    for p in list(out):
        if is_manifest_path(p) and Path(p).is_file():
            try:
                out.append(Path(root) if root is not None else load_manifest(p).default_root())
            except Exception:  # (a bad manifest: load_windows names its problem)
                continue
    if root is not None:
        out.append(Path(root))
    return out


def check_out_is_not_input(out: str | os.PathLike, source: Any, root: Any) -> None:
    """Refuse an ``out`` that is, or is a folder holding, an input (a recording, a data
    folder, a manifest or the dataset root): writing there would replace the data.

    Raises:
        ConfigError: naming ``out`` and the input.
    """
    target = Path(os.path.realpath(out))
    for p in _input_paths(source, root):
        full = Path(os.path.realpath(p))
        if target == full or target in full.parents:
            what = "the input" if target == full else "a folder holding the input"
            raise ConfigError(f"{out}: is {what} {p}; --out must name a new folder for the "
                              "spike dataset (e.g. out.spikes)")


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
        overwrite: replace an existing spike dataset at ``out`` (never anything else).
        use_cache: read and write the window cache (``~/.cache/eegsnn/windows``);
            ``None`` (default): on with ``config``, off with ``encoder_from`` (new
            recordings leave no windows in the home folder unless asked, as ``evaluate``).

    Returns:
        the written :class:`eegsnn.encode.SpikeDataset`.

    Raises:
        ConfigError: ``config`` and ``encoder_from`` both given; ``out`` exists (without
            ``overwrite``), is not a spike dataset, is an input or the current folder, or
            its folder is missing or not writable (all checked before any recording is
            read);
            inputs in a form DATA does not take or given twice.
    """
    record = None
    if encoder_from is not None and config is not None:
        raise ConfigError("--config and --encoder-from cannot be combined: --encoder-from "
                          "applies the run's own config (preprocessing, encoder) unchanged; "
                          "give one of them")
    if encoder_from is None and config is None:
        raise ConfigError("encode needs --config (dataset + encoder) or --encoder-from RUN_DIR")
    check_inputs(source)
    if encoder_from is not None:
        cfg, record, encoder, _ = load_run_model(encoder_from)
        if overrides:
            raise ConfigError("--set cannot change a run's preprocessing or encoder "
                              "(--encoder-from): they must stay as trained")
    else:
        assert config is not None  # (checked above)
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
    check_inputs(source)  # (the config's data.source)
    check_out_is_not_input(out, source, root)
    check_target(out, overwrite=overwrite)  # before any recording is read
    root = default_root(source, root, cfg["dataset"])
    if use_cache is None:
        use_cache = encoder_from is None
    ws = load_windows(source, cfg["dataset"], root=root, cache_dir=cfg.get("cache_dir"),
                      use_cache=use_cache)
    unused = None if encoder_from is not None else unused_labels(ws, cfg["dataset"])
    if unused:  # mapping entries that label nothing (as `eegsnn train` warns; new
        log.warning("encode: %s", unused)  # recordings for a run's encoder need not)
    if record is not None:
        assert encoder is not None and encoder_from is not None  # set with record
        check_compatible(ws, record, str(source), Path(encoder_from))
    else:
        encoder = fit_encoder(cfg, ws)  # a flat-channel error names the channel and files
    same = identical_recordings(ws.provenance.get("files", []), np.unique(ws.recording).tolist())
    if same:  # as `eegsnn train` reads them: all encoded, named in a warning
        log.warning("encode: recordings with identical content (copies under another name?), "
                    "each encoded: %s", "; ".join(" = ".join(s) for s in same))
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    peak = float(spikes.max().item())
    if peak > MAX_COUNT:
        if encoder_from is not None:
            raise ConfigError(f"{Path(encoder_from) / 'config.yaml'}: the run's encoder puts "
                              f"up to {peak:.0f} events in one time step; a spike dataset "
                              f"stores at most {MAX_COUNT}, and a run's encoder cannot be "
                              "changed here: train a run with a higher encoder.threshold or "
                              "encoder.spikes_per_s and encode with its encoder")
        where = str(config) if isinstance(config, (str, os.PathLike)) else "the config"
        raise ConfigError(f"{where}: the encoder puts up to {peak:.0f} events in one time "
                          f"step; a spike dataset stores at most {MAX_COUNT}: raise "
                          "encoder.spikes_per_s or encoder.threshold (e.g. --set "
                          "encoder.threshold=0.5)")
    meta = {
        "ch_names": list(ws.ch_names), "sfreq_hz": ws.sfreq_hz,
        "class_names": list(ws.class_names), "class_counts": class_counts(ws.y, ws.class_names),
        "encoder": encoder.to_config(), "layout": encoder.layout,
        "dataset": cfg["dataset"], "files": ws.provenance.get("files", []),
        "recording": ws.recording.tolist(), "onset_s": np.round(ws.onset_s, 6).tolist(),
        "encoder_from": None if encoder_from is None else str(encoder_from),
        "identical_recordings": same,
    }
    path = save_spikes(out, spikes, ws.y, meta, overwrite=overwrite)
    return load_spikes(path)
