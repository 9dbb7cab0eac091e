"""Study configs: one YAML file that fills in a declared pipeline (see ``pipelines/``).

A study config names a pipeline and fills its stages; a new study is a new config::

    name: bonn_3class
    pipeline: seizure_detection        # a module of pipelines/ (its defaults are merged in)
    data:
      source: ../data_manifests/bonn_shared.yaml   # files, a folder or a data manifest
      root: null                       # dataset root (default: manifest root / folder)
    dataset: {...}                     # eegsnn.preprocess dataset config (read, preprocess,
                                       # windows, labels): see eegsnn.preprocess.dataset
    split:
      method: holdout                  # holdout | kfold | leave_groups_out
      by: recording                    # recording | session | subject: a group never
                                       # straddles train and test
      test_fraction: 0.2               # holdout
      n_splits: 5                      # kfold
      test_groups: []                  # leave_groups_out
      val_fraction: 0.0                # validation groups held out of each training split
      seed: 0
      refit: true                      # kfold: train a final model on all windows
    balance: oversample                # oversample | none (training windows only)
    encoder: {method: delta, ...}      # eegsnn.encode.EEGEncoder arguments
    model: {hidden: [64], ...}         # see eegsnn.pipeline.modelspec; or
                                       # {type: lsm, reservoir: ..., features: ...,
                                       # readout: ...}: see eegsnn.pipeline.lsm
    train: {epochs: 30, ...}           # eegsnn.train.TrainConfig
    baseline: {type: spectral}         # spectral | csp_lda | none
    evaluate:
      positive_class: null             # class for sensitivity/specificity/ROC (one vs rest)
      aggregate: true                  # also score whole recordings (mean probability)
      events: null                     # long recordings: {min_windows: 1}, event metrics
    report: {format: html}             # html | md | both | none

Relative paths in ``data`` are resolved against the config file's folder (against the
working directory for configs given as dicts). ``--set key.sub=value`` overrides are
applied before validation (:func:`apply_overrides`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eegsnn.encode import EEGEncoder
from eegsnn.errors import ConfigError
from eegsnn.io.files import read_yaml_mapping
from eegsnn.pipeline.baselines import validate_baseline
from eegsnn.pipeline.modelspec import default_loss, validate_model_spec
from eegsnn.pipeline.spec import get_pipeline
from eegsnn.preprocess import validate_config as validate_dataset
from eegsnn.train import TrainConfig

__all__ = ["SPLIT_METHODS", "apply_overrides", "deep_merge", "load_study_config",
           "parse_override", "resolve_study_config"]

SPLIT_METHODS = ("holdout", "kfold", "leave_groups_out")
_TOP_KEYS = {"name", "pipeline", "description", "data", "dataset", "split", "balance",
             "encoder", "model", "train", "baseline", "evaluate", "report", "cache_dir",
             "notes"}
_SPLIT_DEFAULTS: dict[str, Any] = {
    "method": "holdout", "by": "recording", "test_fraction": 0.2, "n_splits": 5,
    "test_groups": [], "val_fraction": 0.0, "seed": 0, "refit": True, "train_only": [],
}
_EVAL_DEFAULTS: dict[str, Any] = {"positive_class": None, "aggregate": True, "events": None}


#: mappings that a study replaces whole instead of merging key by key: a study's label
#: mapping defines its classes (merging would keep the pipeline's other classes).
ATOMIC_KEYS = ("mapping",)


def _model_form(model: Mapping[str, Any]) -> tuple[str, str]:
    """``(type, form)`` of a ``model`` section: form ``layers``, ``family`` or ``short``."""
    form = "layers" if "layers" in model else "family" if "family" in model else "short"
    return str(model.get("type", "snn")), form


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, recursively for nested mappings (new dict).

    Lists and scalars in ``override`` replace those of ``base``; a ``None`` value replaces
    too (so ``baseline: null`` switches a pipeline's default baseline off); mappings under
    a key in :data:`ATOMIC_KEYS` (``labels.mapping``) replace the base's whole.
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if (isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
                and key not in ATOMIC_KEYS):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.epochs=5"`` -> ``(["train", "epochs"], 5)``; the value is read as YAML.

    Raises:
        ConfigError: no ``=`` or an empty key.
    """
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key=value (e.g. train.epochs=5)")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a copy of ``config``."""
    out = copy.deepcopy(dict(config))
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value
    return out


def load_study_config(path: str | os.PathLike, overrides: Sequence[str] = ()
                      ) -> dict[str, Any]:
    """Read a study config YAML, apply overrides, resolve paths and pipeline defaults.

    Raises:
        DataError: the file cannot be read or is not YAML. ConfigError: a bad config.
    """
    path = Path(path)
    data = apply_overrides(read_yaml_mapping(path, "config"), overrides)
    data.setdefault("name", path.stem)
    return resolve_study_config(data, base_dir=path.resolve().parent, source=str(path))


def _resolve_path(value: Any, base_dir: Path) -> str:
    p = Path(os.path.expanduser(str(value)))
    return os.path.normpath(p if p.is_absolute() else (base_dir / p))


def resolve_study_config(config: Mapping[str, Any], *, base_dir: str | os.PathLike | None = None,
                         source: str | None = None) -> dict[str, Any]:
    """Validate a study config and return it complete (a new dict).

    Merges the named pipeline's defaults under the config, fills every section's
    defaults, resolves relative data paths against ``base_dir`` and checks the dataset,
    encoder and train sections with their own validators.

    Raises:
        ConfigError: naming the key that is wrong.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"study config must be a mapping, got {type(config).__name__}")
    where = source or "study config"
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: "
                          f"{', '.join(sorted(_TOP_KEYS))})")
    spec = get_pipeline(str(config.get("pipeline", "generic")))
    defaults = spec.defaults
    model = config.get("model")
    default_model = defaults.get("model") or {}
    if isinstance(model, Mapping) and _model_form(model) != _model_form(default_model):
        # another model type or form (layer list, named family): the pipeline's model
        # defaults do not apply
        defaults = {k: v for k, v in defaults.items() if k != "model"}
    cfg = deep_merge(defaults, config)
    cfg["pipeline"] = spec.name
    cfg.setdefault("name", spec.name)
    cfg.setdefault("description", spec.description.strip().splitlines()[0])
    base = Path(base_dir) if base_dir is not None else Path.cwd()

    data = cfg.get("data")
    if not isinstance(data, Mapping) or not data.get("source"):
        raise ConfigError(f"{where}: data.source is required (recording files, a folder or a "
                          "data manifest .yaml)")
    src = data["source"]
    if isinstance(src, (list, tuple)):
        if not src:
            raise ConfigError(f"{where}: data.source is an empty list")
        resolved_src: Any = [_resolve_path(s, base) for s in src]
    else:
        resolved_src = _resolve_path(src, base)
    unknown = set(data) - {"source", "root"}
    if unknown:
        raise ConfigError(f"{where}: data: unknown key(s) {sorted(unknown)} (known: root, "
                          "source)")
    cfg["data"] = {"source": resolved_src,
                   "root": None if data.get("root") is None else _resolve_path(data["root"],
                                                                               base)}
    if cfg.get("cache_dir") is not None:
        cfg["cache_dir"] = _resolve_path(cfg["cache_dir"], base)

    if not isinstance(cfg.get("dataset"), Mapping):
        raise ConfigError(f"{where}: a 'dataset' section is required (windows, labels, ...)")
    validate_dataset(cfg["dataset"])  # raises ConfigError naming the key

    split = cfg.get("split") or {}
    if not isinstance(split, Mapping):
        raise ConfigError(f"{where}: split must be a mapping")
    unknown = set(split) - set(_SPLIT_DEFAULTS)
    if unknown:
        raise ConfigError(f"{where}: split: unknown key(s) {sorted(unknown)} (known: "
                          f"{', '.join(sorted(_SPLIT_DEFAULTS))})")
    split = {**_SPLIT_DEFAULTS, **split}
    if split["method"] not in SPLIT_METHODS:
        raise ConfigError(f"{where}: split.method must be one of {', '.join(SPLIT_METHODS)}, "
                          f"got {split['method']!r}")
    if split["by"] not in ("recording", "session", "subject"):
        raise ConfigError(f"{where}: split.by must be recording, session or subject, got "
                          f"{split['by']!r}")
    if not 0.0 <= float(split["val_fraction"]) < 1.0:
        raise ConfigError(f"{where}: split.val_fraction must be in [0, 1)")
    train_only = split["train_only"]
    if not isinstance(train_only, list | tuple) or not all(isinstance(g, str)
                                                           for g in train_only):
        raise ConfigError(f"{where}: split.train_only must be a list of group names "
                          f"(recordings, sessions or subjects), got {train_only!r}")
    split["train_only"] = list(train_only)
    if split["method"] == "leave_groups_out" and not split["test_groups"]:
        raise ConfigError(f"{where}: split.method leave_groups_out needs split.test_groups")
    cfg["split"] = split

    balance = cfg.get("balance", "oversample")
    if balance not in ("oversample", "none", None):
        raise ConfigError(f"{where}: balance must be 'oversample' or 'none', got {balance!r}")
    cfg["balance"] = balance or "none"

    enc = cfg.get("encoder")
    if not isinstance(enc, Mapping) or "method" not in enc:
        raise ConfigError(f"{where}: an 'encoder' section with a method is required")

    try:
        EEGEncoder(**{k: v for k, v in enc.items() if k != "sfreq_hz"})
    except TypeError as exc:
        raise ConfigError(f"{where}: encoder: {exc}") from exc

    cfg["model"] = validate_model_spec(cfg.get("model") or {})

    train = dict(cfg.get("train") or {})
    if cfg["model"].get("type") != "lsm":
        train.setdefault("loss", default_loss(cfg["model"]["readout"]))
    if float(train.pop("val_fraction", 0.0) or 0.0) > 0:
        raise ConfigError(f"{where}: set split.val_fraction (validation recordings), not "
                          "train.val_fraction (which would split windows of one recording)")
    cfg["train"] = TrainConfig.from_dict(train).to_dict()

    baseline = cfg.get("baseline")
    if baseline in (None, "none") or (isinstance(baseline, Mapping)
                                      and baseline.get("type") in (None, "none")):
        cfg["baseline"] = None
    else:
        cfg["baseline"] = validate_baseline(baseline)

    ev = cfg.get("evaluate") or {}
    unknown = set(ev) - set(_EVAL_DEFAULTS)
    if unknown:
        raise ConfigError(f"{where}: evaluate: unknown key(s) {sorted(unknown)}")
    ev = {**_EVAL_DEFAULTS, **ev}
    classes = _class_names(cfg["dataset"])
    if ev["positive_class"] is not None and str(ev["positive_class"]) not in classes:
        raise ConfigError(f"{where}: evaluate.positive_class {ev['positive_class']!r} is not "
                          f"a class ({', '.join(classes)})")
    if ev["events"] is not None:
        if ev["positive_class"] is None:
            raise ConfigError(f"{where}: evaluate.events needs evaluate.positive_class")
        if cfg["dataset"]["windows"].get("mode") != "sliding":
            raise ConfigError(f"{where}: evaluate.events needs sliding windows")
        ev["events"] = {"min_windows": 1, **dict(ev["events"])}
    cfg["evaluate"] = ev

    rep = cfg.get("report") or {}
    fmt = rep.get("format", "html")
    if fmt not in ("html", "md", "both", "none"):
        raise ConfigError(f"{where}: report.format must be html, md, both or none")
    cfg["report"] = {"format": fmt}
    return cfg


def _class_names(dataset: Mapping[str, Any]) -> list[str]:
    labels = dataset.get("labels") or {}
    names = list(dict.fromkeys(str(v) for v in (labels.get("mapping") or {}).values()))
    if labels.get("default") is not None and str(labels["default"]) not in names:
        names.append(str(labels["default"]))
    return names
