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
      method: holdout                  # holdout | kfold | leave_groups_out | none (no
                                       # held-out test: model/ trained on every window)
      by: recording                    # recording | session | subject: a group never
                                       # straddles train and test
      test_fraction: 0.2               # holdout
      n_splits: 5                      # kfold ("all": one fold per group, i.e. leave
                                       # one group out, however many groups the data has)
      test_groups: []                  # leave_groups_out
      val_fraction: 0.0                # validation groups held out of each training split
                                       # (0 with train.early_stopping: 0.2, logged)
      seed: 0
      refit: true                      # kfold: model/ is trained again on all windows
                                       # (false: model/ is the last fold's model; holdout
                                       # and leave_groups_out: always the fold's model)
    balance: oversample                # oversample | none (training windows only)
    encoder: {method: delta, ...}      # eegsnn.encode.EEGEncoder arguments
    model: {hidden: [64], ...}         # see eegsnn.pipeline.modelspec; or
                                       # {type: lsm, reservoir: ..., features: ...,
                                       # readout: ...}: see eegsnn.pipeline.lsm
    train: {epochs: 30, ...}           # eegsnn.train.TrainConfig
    baseline: {type: spectral}         # spectral | csp_lda | ts_lr | none
    evaluate:
      positive_class: null             # class for sensitivity/specificity/ROC (one vs rest)
      aggregate: true                  # also score whole recordings (mean probability)
      events: null                     # long recordings: {min_windows: 1}, event metrics
      operating_point: null            # {rule: target_sensitivity | target_specificity |
                                       # youden, value: 0.95, on: validation | training}:
                                       # positive-class threshold chosen per fold on
                                       # validation (else training) windows, recorded in
                                       # model/operating_point.json, used by evaluate
    report: {format: html}             # html | md | both | none
    cache_dir: null                    # window cache (default $EEGSNN_CACHE_DIR or
                                       # ~/.cache/eegsnn/windows; EEGSNN_CACHE=off or
                                       # eegsnn train --no-cache: no cache)

Every value is type-checked before use (:data:`_TYPES`, and the train section by
:class:`~eegsnn.train.TrainConfig`): a wrong type is one :class:`ConfigError` line naming the
key, the value and the type expected.

Relative paths in ``data`` are resolved against the config file's folder (against the
working directory for configs given as dicts). ``--set key.sub=value`` overrides are
applied before validation (:func:`apply_overrides`).

A run records how its config came about in ``RUN/overrides.json``
(:func:`write_override_record`), beside ``config.yaml`` rather than in it, so that the
resume check (:func:`eegsnn.pipeline.runstate.config_changes`) compares the configs only::

    {"config_file": "bonn_3class.yaml",       # file name only (null: direct mode / a dict)
     "overrides": ["train.epochs=10", "split.seed=1"]}   # --set and flag overrides, in order
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eegsnn.encode import EEGEncoder
from eegsnn.errors import ConfigError, refuse_unknown_options
from eegsnn.io.files import (
    DuplicateKeyError,
    atomic_write_json,
    load_config_yaml,
    read_yaml_mapping,
)
from eegsnn.model.families import family_neuron
from eegsnn.pipeline.baselines import validate_baseline
from eegsnn.pipeline.modelspec import check_neuron_layers, default_loss, validate_model_spec
from eegsnn.pipeline.spec import get_pipeline, list_pipelines
from eegsnn.preprocess import validate_config as validate_dataset
from eegsnn.preprocess.objects import is_object_description
from eegsnn.train import TrainConfig
from eegsnn.train.config import TRAIN_TYPES, check_types

__all__ = ["OVERRIDES_FILE", "SPLIT_METHODS", "apply_overrides", "deep_merge",
           "load_study_config", "override_record", "parse_override", "resolve_study_config",
           "write_override_record"]

#: Where a run records its config file's name and its ``--set`` overrides (module docstring).
OVERRIDES_FILE = "overrides.json"

SPLIT_METHODS = ("holdout", "kfold", "leave_groups_out", "none")
_TOP_KEYS = {"name", "pipeline", "description", "data", "dataset", "split", "balance",
             "encoder", "model", "train", "baseline", "evaluate", "report", "cache_dir",
             "notes"}
# split.val_fraction used when train.early_stopping is on and none is given
AUTO_VAL_FRACTION = 0.2
_SPLIT_DEFAULTS: dict[str, Any] = {
    "method": "holdout", "by": "recording", "test_fraction": 0.2, "n_splits": 5,
    "test_groups": [], "val_fraction": 0.0, "seed": 0, "refit": True, "train_only": [],
}
_EVAL_DEFAULTS: dict[str, Any] = {"positive_class": None, "aggregate": True, "events": None,
                                  "operating_point": None}
_OP_RULES = ("target_sensitivity", "target_specificity", "youden")


#: the type of every value of a study config whose section validator does not check it
#: first (dotted key -> kinds, see :func:`eegsnn.train.config.check_types`; the train
#: section is checked by :class:`~eegsnn.train.TrainConfig` with the same helper)
_TYPES: dict[str, str] = {
    "name": "str|number", "description": "str", "cache_dir": "str|null",
    "data": "mapping", "data.source": "str|list", "data.root": "str|null",
    "dataset": "mapping", "dataset.reader": "str", "dataset.sfreq_hz": "number|null",
    "dataset.expected_samples": "int|null", "dataset.text_unit": "str", "dataset.unit": "str",
    "dataset.ids": "mapping|null", "dataset.ids.pattern": "str|null",
    "dataset.preprocess": "list|null", "dataset.windows": "mapping",
    "dataset.windows.mode": "str", "dataset.windows.window_s": "number",
    "dataset.windows.tmin_s": "number", "dataset.windows.step_s": "number|null",
    "dataset.labels": "mapping", "dataset.labels.source": "str",
    "dataset.labels.mapping": "mapping", "dataset.labels.default": "str|null",
    "dataset.labels.events_file": "str", "dataset.labels.label_column": "str|null",
    "dataset.labels.summary": "str|null", "dataset.labels.pattern": "str|null",
    "dataset.labels.seizure_label": "str", "dataset.labels.table": "str|null",
    "dataset.mat_variable": "str|null",
    "split": "mapping|null", "split.method": "str", "split.by": "str",
    "split.test_fraction": "number", "split.n_splits": "int|str", "split.test_groups": "list",
    "split.val_fraction": "number", "split.seed": "int", "split.refit": "bool",
    "split.train_only": "list", "balance": "str|null",
    "encoder": "mapping", "encoder.method": "str", "encoder.num_steps": "int|null",
    "encoder.spikes_per_s": "number|null", "encoder.bands": "str|list|null",
    "encoder.filter_order": "int", "encoder.threshold": "number",
    "encoder.threshold_mode": "str", "encoder.levels": "int|list",
    "encoder.level_range": "number", "encoder.rate_sigma": "number",
    "encoder.overflow": "str", "encoder.on_flat": "str", "encoder.seed": "int",
    "encoder.spatial_filter": "mapping|null", "encoder.gain": "number|list",
    "encoder.polarity": "str", "model": "mapping|null", "train": "mapping|null",
    "baseline": "mapping|str|null", "evaluate": "mapping|null",
    "evaluate.positive_class": "str|int|null", "evaluate.aggregate": "bool",
    "evaluate.events": "mapping|null", "evaluate.events.min_windows": "int",
    "evaluate.operating_point": "mapping|null", "report": "mapping|null",
    "report.format": "str",
}


#: model families that learn spatial/temporal filters from their input lines as channels
_CHANNEL_FAMILIES = ("spiking_eegnet", "spiking_shallow", "recurrent")


def _check_values(cfg: Mapping[str, Any], where: str) -> None:
    """Ranges and regular expressions of values whose type :data:`_TYPES` checked."""
    ds = cfg.get("dataset") or {}
    sfreq = ds.get("sfreq_hz")
    if sfreq is not None and not float(sfreq) > 0:
        raise ConfigError(f"{where}: dataset.sfreq_hz must be > 0 (Hz), got {sfreq!r}")
    if ds.get("text_unit", "uV") not in ("uV", "mV", "V"):
        raise ConfigError(f"{where}: dataset.text_unit must be uV, mV or V, got "
                          f"{ds['text_unit']!r}")
    n = ds.get("expected_samples")
    if n is not None and n < 1:
        raise ConfigError(f"{where}: dataset.expected_samples must be >= 1, got {n!r}")
    for key, pattern in (("dataset.ids.pattern", (ds.get("ids") or {}).get("pattern")),
                         ("dataset.labels.pattern", (ds.get("labels") or {}).get("pattern"))):
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{where}: {key} {pattern!r} is not a regular expression "
                                  f"({exc})") from None
    split = cfg.get("split") or {}
    n_splits = split.get("n_splits")
    if isinstance(n_splits, str) and n_splits != "all":
        raise ConfigError(f"{where}: split.n_splits must be an int >= 2 or 'all' (one fold "
                          f"per group), got {n_splits!r}")
    if isinstance(n_splits, int) and n_splits < 2 and split.get("method") == "kfold":
        raise ConfigError(f"{where}: split.n_splits must be >= 2 for kfold, got "
                          f"{split['n_splits']}")
    if "seed" in split and split["seed"] < 0:
        raise ConfigError(f"{where}: split.seed must be >= 0, got {split['seed']}")


#: mappings that a study replaces whole instead of merging key by key: a study's label
#: mapping defines its classes (merging would keep the pipeline's other classes).
ATOMIC_KEYS = ("mapping",)


def _model_form(model: Mapping[str, Any]) -> tuple[str, str]:
    """``(type, form)`` of a ``model`` section: type lower-cased, form ``layers``,
    ``family`` or ``short``."""
    form = "layers" if "layers" in model else "family" if "family" in model else "short"
    return str(model.get("type", "snn")).lower(), form


def _model_label(model: Mapping[str, Any]) -> str:
    """``family band_power``, ``type lsm``, ``layers`` or ``short form`` (for the log)."""
    if _model_form(model)[0] != "snn":
        return f"type {model['type']}"
    if "family" in model:
        return f"family {model['family']}"
    return "layers" if "layers" in model else "short form"


class _Patch(dict):
    """A mapping that ``--set`` overrides created (the config had none there): merged into
    the pipeline's mapping even under a key of :data:`ATOMIC_KEYS`, so that
    ``--set dataset.labels.mapping.T1=x`` changes one entry of the pipeline's mapping
    instead of replacing it whole."""


class _Append(list):
    """Items that ``--set key+=value`` adds to a list the config itself does not hold:
    :func:`deep_merge` adds them to the pipeline default's list (:func:`_add_items`).
    ``key`` is the dotted key, for messages."""

    def __init__(self, items: Sequence[Any], key: str) -> None:
        super().__init__(items)
        self.key = key

    def refuse(self, found: Any) -> ConfigError:
        return ConfigError(f"--set {self.key}+=...: += adds to a list, but neither the "
                           f"config nor the pipeline's defaults have a list at {self.key}"
                           f"{'' if found is None else f' (there: {found!r})'}; give the "
                           f"whole value with {self.key}=...")


def _add_items(current: list[Any], items: Sequence[Any]) -> list[Any]:
    """``current`` plus ``items`` in order: a name or path (a string) that is there already
    is not added twice (``data.source``, ``split.train_only``...); other items are added
    as given (``model.hidden+=128`` adds a layer of 128 to ``[128]``)."""
    out = list(current)
    for item in items:
        if not (isinstance(item, str) and item in out):
            out.append(item)
    return out


def _plain(value: Any) -> Any:
    """``value`` with every mapping a plain ``dict`` (no :class:`_Patch` left)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, _Append):  # nothing to add to: no default list there
        raise value.refuse(None)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, recursively for nested mappings (new dict).

    Lists and scalars in ``override`` replace those of ``base``; a ``None`` value replaces
    too (so ``baseline: null`` switches a pipeline's default baseline off); mappings under
    a key in :data:`ATOMIC_KEYS` (``labels.mapping``) replace the base's whole, unless
    ``--set`` overrides made them (:func:`apply_overrides`: those entries are merged in).
    """
    out = _plain(copy.deepcopy(dict(base)))
    for key, value in override.items():
        if isinstance(value, _Append):
            if not isinstance(out.get(key), list):
                raise value.refuse(out.get(key))
            out[key] = _add_items(out[key], _plain(list(value)))
            continue
        if (isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
                and (key not in ATOMIC_KEYS or isinstance(value, _Patch))):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _plain(copy.deepcopy(value))
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
    if not key.strip() or any(not p.rstrip("+").strip() for p in parts):
        raise ConfigError(f"--set {text!r}: empty key")
    if key.rstrip().endswith("-"):
        raise ConfigError(f"--set {text!r}: -= (removing items) is not supported; give the "
                          f"whole list, {key.rstrip()[:-1].rstrip()}=[...]")
    try:
        value = load_config_yaml(raw) if raw.strip() else ""
    except DuplicateKeyError as exc:  # a key given twice
        raise ConfigError(f"--set {text!r}: {exc.problem}") from None
    except yaml.YAMLError:  # not YAML: the text itself (a path, a name)
        value = raw
    return parts, value


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a copy of ``config``.

    An override below a mapping the config does not have (e.g.
    ``dataset.labels.mapping.T1=x`` where the pipeline's defaults hold the mapping) makes
    a patch that :func:`deep_merge` merges into the defaults' mapping, key by key.
    ``key.sub+=value`` adds ``value`` (or each item of a list ``value``) to the list at
    ``key.sub`` (the config's, else the pipeline default's when :func:`deep_merge` merges
    them): a name or path already there is not added twice (one more recording:
    ``data.source+=/data/S001R12.edf``; applied twice it changes nothing), other items
    (numbers: ``model.hidden+=128``) are added as given. An override below an empty mapping
    of the config, or one that names only a type (``model: {}``, ``model: {type: snn}``),
    patches too: such a section stands for the pipeline's. A baseline given by its name
    (``baseline: ts_lr``) is ``{type: ts_lr}`` to an override below it (``baseline.C=0.5``).

    Raises:
        ConfigError: ``+=`` on a key whose value in the config is not a list (a single
        path as ``data.source``: a folder or manifest, to which a file cannot be added).
    """
    out = copy.deepcopy(dict(config))
    for text in overrides:
        parts, value = parse_override(text)
        add = parts[-1].endswith("+")
        if add:
            parts[-1] = parts[-1][:-1].rstrip()
        node = out
        for p in parts[:-1]:
            if node is out and p == "baseline" and isinstance(node.get(p), str):
                # baseline: ts_lr is {type: ts_lr}: baseline.C=0.5 sets its option (a patch
                # would bring the pipeline's default baseline back)
                node[p] = {"type": node[p]}
            if not isinstance(node.get(p), dict):
                node[p] = _Patch()
            elif set(node[p]) <= {"type"} and not isinstance(node[p], _Patch):
                # an empty mapping, or one naming only a type (model: {}, model: {type:
                # snn}), stands for the pipeline's: the override patches that
                node[p] = _Patch(node[p])
            node = node[p]
        if add:
            current = node.get(parts[-1])
            items = value if isinstance(value, list) else [value]
            if current is None or isinstance(current, _Append):  # the default's list
                node[parts[-1]] = _Append(_add_items(current or [], items), ".".join(parts))
            elif isinstance(current, list):
                node[parts[-1]] = _add_items(current, items)
            else:
                raise ConfigError(
                    f"--set {text!r}: += adds to a list, but the config has {current!r} "
                    f"there; give the whole value with {'.'.join(parts)}=..."
                    + (" (a folder or manifest source cannot be added to: list the "
                       "recordings, data.source=[...])" if parts == ["data", "source"]
                       else ""))
        else:
            node[parts[-1]] = value
    return out


def override_record(config_file: str | os.PathLike | None, overrides: Sequence[str],
                    previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What ``RUN/overrides.json`` holds (see the module docstring).

    Args:
        config_file: the study config file (only its name is kept: no absolute path of the
            user's machine), ``None`` for a config built in memory (``train FILES...``).
        overrides: the ``key.sub=value`` strings applied to it, in order.
        previous: the record of the run being resumed: its config file is kept (a resume
            names the run's own ``config.yaml``) and the new overrides not in it yet are
            appended after its own (applied in order, later ones win).
    """
    name = None if config_file is None else Path(config_file).name
    items = [str(o) for o in overrides]
    if previous:
        old = [str(o) for o in previous.get("overrides") or []]
        items = old + [o for o in items if o not in old]
        name = previous.get("config_file", name)
    return {"config_file": name, "overrides": items}


def write_override_record(run_dir: str | os.PathLike, config_file: str | os.PathLike | None,
                          overrides: Sequence[str], *, resume: bool = False) -> dict[str, Any]:
    """Write ``run_dir/overrides.json`` atomically (:func:`override_record`); with
    ``resume`` an existing record is extended instead of replaced. Returns the record."""
    path = Path(run_dir) / OVERRIDES_FILE
    previous = None
    if resume and path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        previous = previous if isinstance(previous, dict) else None
    record = override_record(config_file, overrides, previous)
    atomic_write_json(path, record)
    return record


def load_study_config(path: str | os.PathLike, overrides: Sequence[str] = ()
                      ) -> dict[str, Any]:
    """Read a study config YAML, apply overrides, resolve paths and pipeline defaults.

    Raises:
        DataError: the file cannot be read or is not YAML. ConfigError: a bad config.
    """
    path = Path(path)
    raw = read_yaml_mapping(path, "config")

    def resolve(changes: Sequence[str]) -> dict[str, Any]:
        data = apply_overrides(raw, changes)
        data.setdefault("name", path.stem)
        return resolve_study_config(data, base_dir=path.resolve().parent, source=str(path))

    try:  # every config error names the file (the validators below name the key only)
        return resolve(overrides)
    except ConfigError as exc:
        text = str(exc)
        if not (str(path) in text or path.name in text):
            text = f"{path}: {text}"
        if overrides and text.startswith(f"{path}: "):
            try:  # the file alone is valid: say that an override made the error
                resolve(())
            except ConfigError:
                pass
            else:
                text = (f"{path} with its overrides (--set; the file alone is valid): "
                        f"{text[len(str(path)) + 2:]}")
        exc.args = (text, *exc.args[1:])
        raise


def _resolve_path(value: Any, base_dir: Path) -> str:
    if is_object_description(value):  # an MNE object given in memory (run_pipeline)
        return str(value)
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
    where = source or (f"study config {config['name']}" if isinstance(config.get("name"), str)
                       else "study config")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: "
                          f"{', '.join(sorted(_TOP_KEYS))})")
    name = config.get("pipeline", "generic")
    if not isinstance(name, str):  # `pipeline:` left empty reads as null
        raise ConfigError(f"{where}: pipeline must be a pipeline's name (known: "
                          f"{', '.join(list_pipelines())}), got {name!r}")
    spec = get_pipeline(name)
    defaults = spec.defaults
    model = config.get("model")
    default_model = defaults.get("model") or {}
    same_type = isinstance(model, Mapping) and \
        _model_form(model)[0] == _model_form(default_model)[0]
    if "model" in config and (model is None or (
            same_type and not isinstance(model, _Patch) and set(model) <= {"type"})):
        # an empty section (``model:`` or ``model: {}``, ``--set model=null``) or one that
        # names only the type the pipeline's model has: the pipeline's model, as without
        # the key (null cannot mean "no model")
        config = {k: v for k, v in config.items() if k != "model"}
        model = None
    # --set overrides naming no other form and no other type (model.neuron.beta=0.7,
    # model.type=snn) change the pipeline's model
    patched = same_type and isinstance(model, _Patch) and not {"family", "layers"} & set(model)
    if isinstance(model, Mapping) and not patched and (
            _model_form(model) != _model_form(default_model)
            or model.get("family", default_model.get("family"))
            != default_model.get("family")):
        # another model type, form (layer list, named family) or family: the pipeline's
        # model defaults (options of its own family) do not apply. ``--set
        # model.neuron.beta=...`` on a config without a model section (a patch naming no
        # form) changes the pipeline's model instead.
        defaults = {k: v for k, v in defaults.items() if k != "model"}
        if default_model:
            logging.getLogger("eegsnn.pipeline").info(
                "%s: the config's model (%s) replaces the %s pipeline's (%s)", where,
                _model_label(model), spec.name, _model_label(default_model))
    elif (isinstance(model, Mapping) and isinstance(model.get("neuron"), Mapping)
          and isinstance(default_model.get("neuron"), Mapping)):
        # the pipeline's neuron options (e.g. beta 0.8) are for its neuron type: a neuron
        # of another type (model.neuron.type=if) takes none of them
        base_type = default_model["neuron"].get("type") or (
            family_neuron(default_model.get("family")) or {}).get("type")
        given = model["neuron"].get("type")
        if given is not None and str(given).lower() != str(base_type).lower():
            defaults = {**defaults, "model": {k: v for k, v in default_model.items()
                                              if k != "neuron"}}
    baseline, default_baseline = config.get("baseline"), defaults.get("baseline")
    if (isinstance(baseline, Mapping) and isinstance(default_baseline, Mapping)
            and baseline.get("type", default_baseline.get("type"))
            != default_baseline.get("type")):
        # another baseline (baseline: {type: ts_lr}, --set baseline.type=ts_lr): the
        # pipeline's baseline options (csp_lda's n_components) are for its own type
        defaults = {k: v for k, v in defaults.items() if k != "baseline"}
    cfg = deep_merge(defaults, config)
    check_types(cfg, _TYPES, f"{where}: ")  # one line naming the key, value and type
    _check_values(cfg, where)
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
        twice = sorted({s for s in resolved_src if resolved_src.count(s) > 1})
        if twice:
            raise ConfigError(f"{where}: data.source lists {', '.join(twice)} more than once "
                              "(after resolving relative paths); each recording once")
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
    if split["method"] == "holdout" and not 0 < float(split["test_fraction"]) < 1:
        raise ConfigError(f"{where}: split.test_fraction must be in (0, 1) for a holdout "
                          f"split, got {split['test_fraction']!r}; to train on every window "
                          "without a held-out test use split.method: none")
    cfg["split"] = split

    balance = cfg.get("balance", "oversample")
    if balance not in ("oversample", "none", None):
        raise ConfigError(f"{where}: balance must be 'oversample' or 'none', got {balance!r}")
    cfg["balance"] = balance or "none"

    enc = cfg.get("encoder")
    if not isinstance(enc, Mapping) or "method" not in enc:
        raise ConfigError(f"{where}: an 'encoder' section with a method is required")

    refuse_unknown_options(f"{where}: encoder", enc, EEGEncoder)
    try:
        EEGEncoder(**{k: v for k, v in enc.items() if k != "sfreq_hz"})
    except TypeError as exc:
        raise ConfigError(f"{where}: encoder: {exc}") from exc

    cfg["model"] = validate_model_spec(cfg.get("model") or {})
    check_neuron_layers(cfg["model"])  # before, not after, the data are loaded and encoded

    train = dict(cfg.get("train") or {})
    check_types(train, TRAIN_TYPES, f"{where}: train.")
    if cfg["model"].get("type") != "lsm":
        train.setdefault("loss", default_loss(cfg["model"]["readout"]))
    if float(train.pop("val_fraction", 0.0) or 0.0) > 0:
        raise ConfigError(f"{where}: set split.val_fraction (validation recordings), not "
                          "train.val_fraction (which would split windows of one recording)")
    cfg["train"] = TrainConfig.from_dict(train).to_dict()
    if (cfg["train"].get("early_stopping") is not None and cfg["model"].get("type") != "lsm"
            and float(split["val_fraction"]) <= 0):
        # early stopping watches validation recordings: hold some out rather than fail
        # after loading and encoding (the resolved config.yaml records the value used)
        split["val_fraction"] = AUTO_VAL_FRACTION
        logging.getLogger("eegsnn.pipeline").warning(
            "%s: train.early_stopping needs validation recordings and split.val_fraction is "
            "0: holding out %g of the training recordings for validation (set "
            "split.val_fraction to choose)", where, AUTO_VAL_FRACTION)

    baseline = cfg.get("baseline")
    if baseline in (None, "none") or (isinstance(baseline, Mapping)
                                      and baseline.get("type") in (None, "none")):
        cfg["baseline"] = None
    else:
        cfg["baseline"] = validate_baseline(baseline)

    ev = cfg.get("evaluate") or {}
    unknown = set(ev) - set(_EVAL_DEFAULTS)
    if unknown:
        raise ConfigError(f"{where}: evaluate: unknown key(s) {sorted(unknown)} (known: "
                          f"{', '.join(_EVAL_DEFAULTS)})")
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
        unknown = set(ev["events"]) - {"min_windows"}
        if unknown:
            raise ConfigError(f"{where}: evaluate.events: unknown key(s) {sorted(unknown)} "
                              "(known: min_windows)")
        ev["events"] = {"min_windows": 1, **dict(ev["events"])}
    if ev["operating_point"] is not None:
        ev["operating_point"] = _operating_point(ev["operating_point"], ev, where)
    cfg["evaluate"] = ev

    rep = cfg.get("report") or {}
    if set(rep) - {"format"}:
        raise ConfigError(f"{where}: report: unknown key(s) {sorted(set(rep) - {'format'})} "
                          "(known: format)")
    fmt = rep.get("format", "html")
    if fmt not in ("html", "md", "both", "none"):
        raise ConfigError(f"{where}: report.format must be html, md, both or none")
    cfg["report"] = {"format": fmt}
    enc = cfg.get("encoder") or {}
    family = (cfg.get("model") or {}).get("family")
    gains = enc.get("gain")
    if (enc.get("method") == "direct" and isinstance(gains, list) and len(gains) > 1
            and family in _CHANNEL_FAMILIES):
        # (the motor-imagery pipeline's default gains are for its band-power detectors)
        logging.getLogger("eegsnn.pipeline").warning(
            "%s: encoder.gain is a list (%s): every input line arrives %d times, and the "
            "%s family learns its filters from the lines as channels; for one line per "
            "channel set encoder.gain=1.0", where, ", ".join(f"{g:g}" for g in gains),
            len(gains), family)
    return cfg


def _operating_point(op: Any, ev: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validated ``evaluate.operating_point`` (see the module docstring)."""
    if not isinstance(op, Mapping):
        raise ConfigError(f"{where}: evaluate.operating_point must be a mapping such as "
                          "{rule: target_sensitivity, value: 0.95, on: validation}")
    # YAML 1.1 reads a bare ``on:`` key as the boolean true
    op = {("on" if k is True else k): v for k, v in op.items()}
    unknown = set(op) - {"rule", "value", "on"}
    if unknown:
        raise ConfigError(f"{where}: evaluate.operating_point: unknown key(s) "
                          f"{sorted(unknown)} (known: on, rule, value)")
    if ev["positive_class"] is None:
        raise ConfigError(f"{where}: evaluate.operating_point needs evaluate.positive_class")
    out = {"rule": op.get("rule"), "value": op.get("value"), "on": op.get("on", "validation")}
    if out["rule"] not in _OP_RULES:
        raise ConfigError(f"{where}: evaluate.operating_point.rule must be one of "
                          f"{', '.join(_OP_RULES)}, got {out['rule']!r}")
    if out["rule"] != "youden":
        v = out["value"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < float(v) <= 1:
            raise ConfigError(f"{where}: evaluate.operating_point.value must be a number in "
                              f"(0, 1] for {out['rule']}, got {v!r}")
        out["value"] = float(v)
    if out["on"] not in ("validation", "training"):
        raise ConfigError(f"{where}: evaluate.operating_point.on must be validation or "
                          f"training, got {out['on']!r}")
    return out


def _class_names(dataset: Mapping[str, Any]) -> list[str]:
    labels = dataset.get("labels") or {}
    names = list(dict.fromkeys(str(v) for v in (labels.get("mapping") or {}).values()))
    if labels.get("default") is not None and str(labels["default"]) not in names:
        names.append(str(labels["default"]))
    return names
