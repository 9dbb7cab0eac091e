"""From recordings (files, a folder or a data manifest) + a dataset config to a WindowSet.

A dataset config (a dict, usually a YAML block) says how to read, preprocess, cut and
label the recordings::

    reader: auto                    # auto | mne | pyedflib
    sfreq_hz: null                  # text segments and .mat files (Bonn: 173.61)
    mat_variable: null              # .mat files: the signal array (see eegsnn.io.mat)
    expected_samples: null          # text segments only (Bonn: 4097)
    unit: uV                        # unit of voltage channels in the windows: uV | V
    ids: {pattern: null}            # regex with named groups subject/session/run
    bids: null                      # {task: x, subject: [...], ...}: the source is a BIDS
                                    # root read by mne-bids (see eegsnn.io.bids)
    preprocess:                     # see eegsnn.preprocess.steps
      - {step: bandpass, l_freq: 8, h_freq: 30}
    windows:
      mode: events                  # events | sliding
      window_s: 4.0
      tmin_s: 0.0                   # events: window start relative to the event onset
      step_s: null                  # sliding: hop between windows (default window_s)
    labels:
      source: annotations           # annotations | events_file | hypnogram | seizures |
                                    # path | table
      mapping: {T1: left, T2: right}
      default: null                 # sliding: class of windows no labelled span touches
      events_file: "{stem}_events.tsv"   # events_file: sidecar beside each recording
      label_column: null            # events_file: column holding the labels
      summary: null                 # seizures: CHB-MIT summary (relative to the root)
      pattern: null                 # path: regex with one capture group (default: folder)
      table: null                   # table: file,label CSV/TSV (relative to the root; a
                                    # label is a mapping key or a class name), see
                                    # eegsnn.io.label_table

``class_names`` are the distinct values of ``mapping`` in the order written (then
``default``), so label indices never depend on which files were loaded.

:func:`load_windows` checks that every file ends up with the same channels (reordered to
the first file's order when only the order differs) and the same sampling rate, that every
recording yields windows, and caches the result (see :mod:`eegsnn.preprocess.cache`).
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ChecksumError, ConfigError, DataError
from eegsnn.io.bids import (
    bids_ids,
    bids_sidecars,
    check_bids_labels,
    find_bids_recordings,
    read_bids_recording,
    validate_bids_filters,
)
from eegsnn.io.files import (
    canonical_path,
    parse_recording_ids,
    read_yaml_mapping,
    sha256_file,
)
from eegsnn.io.label_table import read_label_table
from eegsnn.io.labels import (
    EventTable,
    find_hypnogram,
    label_from_path,
    parse_chbmit_summary,
    public_event_counts,
    read_events_table,
    read_hypnogram,
    seizure_events,
)
from eegsnn.io.mat import mat_sidecar
from eegsnn.io.readers import READERS, detect_format, read_recording
from eegsnn.manifest import is_manifest_path, load_manifest, verify_manifest
from eegsnn.preprocess.cache import WindowCache, cache_enabled, cache_key, windowing_versions
from eegsnn.preprocess.objects import (
    check_object_config,
    epochs_windows,
    is_epochs,
    is_mne_object,
    mne_objects,
    object_names,
    object_recording,
    object_sha256,
    signal_sha256,
)
from eegsnn.preprocess.steps import apply_steps, validate_steps
from eegsnn.preprocess.windows import WindowPlan, WindowSet, extract_windows, plan_windows

__all__ = ["LABEL_SOURCES", "RECORDING_SUFFIXES", "label_files", "labelled_events",
           "list_recordings", "load_config", "load_windows", "plan_recording",
           "recording_relpath", "resolve_source", "unused_labels", "validate_config"]

log = logging.getLogger(__name__)

LABEL_SOURCES = ("annotations", "events_file", "hypnogram", "seizures", "path", "table")
RECORDING_SUFFIXES = (".edf", ".bdf", ".fif", ".vhdr", ".set", ".gdf", ".txt", ".mat")
_TOP_KEYS = {"reader", "sfreq_hz", "expected_samples", "text_unit", "unit", "ids",
             "preprocess", "windows", "labels", "mat_variable", "bids"}
_WINDOW_KEYS = {"mode", "window_s", "tmin_s", "step_s"}
_LABEL_KEYS = {"source", "mapping", "default", "events_file", "label_column", "summary",
               "pattern", "seizure_label", "table"}


def _check_keys(d: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(d) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(sorted(allowed))})")


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a dataset config and return it with defaults filled in (a new dict).

    Raises:
        ConfigError: naming the key that is wrong and what was expected.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"dataset config must be a mapping, got {type(config).__name__}")
    _check_keys(config, _TOP_KEYS, "dataset config")
    ids = config.get("ids") or {}
    if not isinstance(ids, Mapping) or set(ids) - {"pattern"}:
        raise ConfigError("ids must be a mapping with one key, pattern (a regular expression "
                          f"with named groups subject, session, run), got {ids!r}")
    cfg: dict[str, Any] = {
        "reader": config.get("reader", "auto"),
        "sfreq_hz": config.get("sfreq_hz"),
        "expected_samples": config.get("expected_samples"),
        "mat_variable": config.get("mat_variable"),
        "text_unit": config.get("text_unit", "uV"),
        "unit": config.get("unit", "uV"),
        "ids": {"pattern": ids.get("pattern")},
        "preprocess": validate_steps(config.get("preprocess")),
    }
    if config.get("bids") is not None:  # data.source is a BIDS root (eegsnn.io.bids)
        cfg["bids"] = validate_bids_filters(config["bids"])
    if cfg["reader"] not in READERS:
        raise ConfigError(f"reader must be one of {', '.join(READERS)}, got {cfg['reader']!r}")
    if cfg["unit"] not in ("uV", "V"):
        raise ConfigError(f"unit must be 'uV' or 'V', got {cfg['unit']!r}")
    win = config.get("windows")
    if not isinstance(win, Mapping):
        raise ConfigError("dataset config needs a 'windows' mapping (mode, window_s, ...)")
    _check_keys(win, _WINDOW_KEYS, "windows")
    mode = win.get("mode", "events")
    if mode not in ("events", "sliding"):
        raise ConfigError(f"windows.mode must be 'events' or 'sliding', got {mode!r}")
    window_s = win.get("window_s")
    if isinstance(window_s, bool) or not isinstance(window_s, (int, float)) or window_s <= 0:
        raise ConfigError(f"windows.window_s must be a positive number of seconds, got "
                          f"{window_s!r}")
    tmin_s = win.get("tmin_s", 0.0)
    if isinstance(tmin_s, bool) or not isinstance(tmin_s, (int, float)) or \
            not math.isfinite(tmin_s):
        raise ConfigError(f"windows.tmin_s must be a number of seconds, got {tmin_s!r}")
    tmin_s = float(tmin_s)
    if mode == "sliding" and tmin_s != 0.0:  # (it was ignored)
        raise ConfigError("windows.tmin_s (the start of a window after its event) applies "
                          "to mode 'events' only; sliding windows start at the recording's "
                          "start (crop it with a preprocess 'crop' step)")
    step_s = win.get("step_s")
    if mode == "sliding":
        step_s = window_s if step_s is None else step_s
        if isinstance(step_s, bool) or not isinstance(step_s, (int, float)) or step_s <= 0:
            raise ConfigError(f"windows.step_s must be a positive number of seconds, got "
                              f"{step_s!r}")
        step_s = float(step_s)
    elif step_s is not None:
        raise ConfigError("windows.step_s applies to mode 'sliding' only")
    cfg["windows"] = {"mode": mode, "window_s": float(window_s), "tmin_s": tmin_s,
                      "step_s": step_s}
    lab = config.get("labels")
    if not isinstance(lab, Mapping):
        raise ConfigError("dataset config needs a 'labels' mapping (source, mapping, ...)")
    _check_keys(lab, _LABEL_KEYS, "labels")
    source = lab.get("source", "annotations")
    if source not in LABEL_SOURCES:
        raise ConfigError(f"labels.source must be one of {', '.join(LABEL_SOURCES)}, got "
                          f"{source!r}")
    if cfg.get("bids") is not None:
        check_bids_labels(source)
    mapping = lab.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise ConfigError("labels.mapping must be a non-empty mapping {raw label: class name}")
    booleans = [f"{k!r}: {v!r}" for k, v in mapping.items()
                if isinstance(k, bool) or isinstance(v, bool)]
    if booleans:  # `Z: no` in a YAML file: the class would be named "False"
        raise ConfigError(f"labels.mapping: {', '.join(booleans)}: a boolean, where a label "
                          "or class name belongs (YAML reads yes/no/on/off/true/false "
                          "without quotes as booleans); quote it, e.g. Z: 'no'")
    mapping = {str(k): str(v) for k, v in mapping.items()}
    default = lab.get("default")
    if default is not None and mode != "sliding":
        raise ConfigError("labels.default applies to windows.mode 'sliding' only")
    if source in ("path", "table") and mode == "events":
        raise ConfigError(f"labels.source {source!r} labels whole recordings: use "
                          "windows.mode 'sliding' (window_s = the recording length for one "
                          "window each)")
    if source == "table" and not lab.get("table"):
        raise ConfigError("labels.source 'table' needs labels.table (a file,label CSV/TSV, "
                          "relative to the dataset root)")
    if source == "seizures" and not lab.get("summary"):
        raise ConfigError("labels.source 'seizures' needs labels.summary (a CHB-MIT "
                          "chbNN-summary.txt, relative to the dataset root)")
    class_names = list(dict.fromkeys(mapping.values()))
    if default is not None and str(default) not in class_names:
        class_names.append(str(default))
    cfg["labels"] = {
        "source": source, "mapping": mapping,
        "default": None if default is None else str(default),
        "events_file": lab.get("events_file", "{stem}_events.tsv"),
        "label_column": lab.get("label_column"),
        "summary": lab.get("summary"),
        "pattern": lab.get("pattern"),
        "table": lab.get("table"),
        "seizure_label": str(lab.get("seizure_label", "seizure")),
        "class_names": class_names,
    }
    return cfg


def _is_recording(name: str, text: bool) -> bool:
    low = name.lower()
    if low.endswith(("-hypnogram.edf", "-summary.txt")):  # label files
        return False
    if low.endswith(".txt"):
        return text
    return low.endswith(RECORDING_SUFFIXES) or low.endswith(".fif.gz")


def list_recordings(folder: str | os.PathLike, *, text: bool = True) -> list[Path]:
    """Recording files under ``folder`` (recursive, sorted).

    Skips hidden files and label files (Sleep-EDF ``*-Hypnogram.edf``, CHB-MIT
    ``*-summary.txt``); ``.txt`` segments only when ``text`` is true.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if _is_recording(p.name, text):
            out.append(p)
    if not out:
        raise DataError(f"{folder}: no recordings found (suffixes "
                        f"{', '.join(RECORDING_SUFFIXES)})")
    return out


def _check_manifest_labels(manifest: Any, manifest_path: str | os.PathLike,
                           pattern: str | None, text: bool) -> None:
    """Refuse recordings whose label in the data manifest differs from their path label
    (``labels.source: path`` labels by the path; a manifest that says otherwise was
    ignored without a word)."""
    labelled = [(e.path, e.label, label_from_path(e.path, pattern)) for e in manifest.files
                if e.label is not None and _is_recording(e.path, text)]
    wrong = [(rel, m, p) for rel, m, p in labelled if m != p]
    if wrong:
        shown = "; ".join(f"{rel}: {m!r} in the manifest, {p!r} by its path"
                          for rel, m, p in wrong[:3])
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise DataError(f"{manifest_path}: {len(wrong)} recording(s) labelled otherwise than "
                        f"their path ({shown}{more}); the run labels by path (labels.source: "
                        "path): correct the manifest's labels or move the files")


def resolve_source(source, root, text: bool, *, by_path: bool = False,
                   pattern: str | None = None) -> tuple[list[Path], Path, dict[str, str]]:
    """The recordings ``source`` names (files, a folder or a data manifest, verified):
    ``(files, root, {relpath: sha256 from a manifest})``; ``text``: Bonn-style text files
    count as recordings; ``by_path``: the recordings are labelled by their path (with
    ``pattern``), which a manifest's per-file labels must not contradict."""
    if is_manifest_path(source):
        manifest = load_manifest(source)
        if by_path:
            _check_manifest_labels(manifest, source, pattern, text)
        root_path = Path(root) if root is not None else manifest.default_root()
        report = verify_manifest(manifest, root_path)
        report.raise_for_problems()
        files = [root_path / e.path for e in manifest.files if _is_recording(e.path, text)]
        if not files:
            raise DataError(f"{source}: the manifest lists no recordings")
        return files, root_path, {e.path: e.sha256 for e in manifest.files if e.sha256}
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        root_path = Path(root) if root is not None else Path(source)
        return list_recordings(source, text=text), root_path, {}
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    files = [Path(p) for p in source]
    if not files:
        raise ConfigError("no input files given")
    for p in files:
        if not p.is_file():
            raise DataError(f"{p}: file not found")
    if root is None:
        root_path = Path(os.path.commonpath([os.path.dirname(os.path.abspath(p))
                                             for p in files]))
    else:
        root_path = Path(root)
    return files, root_path, {}


def recording_relpath(path: Path, root: Path) -> str:
    """``path`` relative to the dataset ``root`` (POSIX), or its file name outside it.

    Compared as written first (absolute, symbolic links kept): a recording is named by the
    folders and file it is given under, so a DataLad / git-annex dataset (files that link
    to hashed names) or a subject folder that links elsewhere keeps its layout in the
    names, the labels read from folders and ``split.train_only``. Then, when ``root`` and
    ``path`` are spelt through different links, as
    :func:`~eegsnn.io.files.canonical_path` gives them (folders resolved)."""
    tries = ((os.path.abspath(path), os.path.abspath(root)),
             (canonical_path(path), os.path.realpath(root)))
    for full, base in tries:
        try:
            return Path(full).relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name


def label_files(path: Path, cfg: Mapping[str, Any], root: Path) -> list[Path]:
    """The files beside the recording at ``path`` that decide its labels (a seizure
    summary, a label table, a hypnogram or an events file; ``cfg``: a validated dataset
    config), which anything keyed on the recording's content must cover too."""
    lab = cfg["labels"]
    if lab["source"] == "seizures":
        return [root / lab["summary"]]
    if lab["source"] == "table":
        return [root / lab["table"]]
    own = _label_file(path, lab)
    return [] if own is None else [own]


def _label_file(path: Path, lab: Mapping[str, Any]) -> Path | None:
    """The file beside the recording at ``path`` that holds its labels (``labels.source``
    hypnogram or events_file), which the window cache key must cover; ``None`` for the
    other sources (their files are hashed by the caller) or an events file that is not
    there (the error comes when the labels are read)."""
    if lab["source"] == "hypnogram":
        return find_hypnogram(path)
    if lab["source"] == "events_file":
        sidecar = _events_file(path, lab)
        return sidecar if sidecar.is_file() else None
    return None


def _events_file(path: Path, lab: Mapping[str, Any]) -> Path:
    return path.parent / lab["events_file"].format(stem=path.name.split(".")[0],
                                                   name=path.name)


def labelled_events(path: Path, annotations: EventTable, cfg: dict, root: Path,
                    summaries: dict, duration_s: float | None = None) -> EventTable:
    """The labelled events of the recording at ``path`` (whose own annotations are
    ``annotations``), from the source the dataset config's ``labels`` section names
    (annotations, events file, hypnogram or seizure summary; ``summaries`` caches parsed
    seizure summaries across recordings). ``duration_s``: the recording's length; a
    seizure of the summary that starts after it is refused (a summary of another file?),
    one that runs past it is cut there with a warning."""
    lab = cfg["labels"]
    source = lab["source"]
    if source == "annotations":
        return annotations
    if source == "events_file":
        sidecar = _events_file(path, lab)
        if not sidecar.is_file():
            raise DataError(f"{path}: events file {sidecar.name} not found beside it")
        return read_events_table(sidecar, label_column=lab["label_column"])
    if source == "hypnogram":
        hyp = find_hypnogram(path)
        events, hyp_start = read_hypnogram(hyp)
        psg_start = _edf_start(path)
        if psg_start is not None and hyp_start is not None:
            events = events.shifted((hyp_start - psg_start).total_seconds())
        return events
    if source == "seizures":
        summary = root / lab["summary"]
        if summary not in summaries:
            summaries[summary] = parse_chbmit_summary(summary)
        table = summaries[summary]
        if path.name not in table:
            raise DataError(f"{path}: not listed in the seizure summary {summary}")
        if duration_s is not None:
            _check_seizure_spans(table[path.name], duration_s, path, summary)
        return seizure_events(table[path.name], lab["seizure_label"])
    raise ConfigError(f"labels.source {source!r} not handled here")  # path: handled by caller


def _check_seizure_spans(spans: Sequence[tuple[float, float]], duration_s: float,
                         path: Path, summary: Path) -> None:
    """Refuse a seizure that starts after the recording ends; warn of one that ends after,
    and of seizures that overlap (a summary's typo? they are labelled as one)."""
    ordered = sorted(spans)
    for (s0, e0), (s1, e1) in itertools.pairwise(ordered):
        if s1 < e0:
            log.warning("%s: the seizure summary %s's seizures at %g-%g s and %g-%g s "
                        "overlap; labelled as one", path, summary.name, s0, e0, s1, e1)
    for start, end in spans:
        if start >= duration_s:
            raise DataError(f"{path}: the seizure summary {summary.name} puts a seizure at "
                            f"{start:g}-{end:g} s, after the recording's end "
                            f"({duration_s:.1f} s): a summary of another file, or of a longer "
                            "version of this one?")
        if end > duration_s:
            log.warning("%s: the seizure summary %s's seizure at %g-%g s runs past the "
                        "recording's end (%.1f s); labelled up to the end", path,
                        summary.name, start, end, duration_s)


def plan_recording(cfg: Mapping[str, Any], *, n_times: int, sfreq_hz: float,
                   events: EventTable, label: str | None = None, start_s: float = 0.0,
                   stop_s: float | None = None, source: str = "recording") -> WindowPlan:
    """:func:`~eegsnn.preprocess.windows.plan_windows` with the window and label settings
    of a validated dataset config ``cfg`` (``label``: the class of a path-labelled file)."""
    win, lab = cfg["windows"], cfg["labels"]
    return plan_windows(
        n_times=n_times, sfreq_hz=sfreq_hz, window_s=win["window_s"], mode=win["mode"],
        events=events, mapping=lab["mapping"], tmin_s=win["tmin_s"], step_s=win["step_s"],
        default=lab["default"], label=label, start_s=start_s, stop_s=stop_s, source=source)


def _edf_start(path: Path):
    """Start datetime in an EDF header (to align a hypnogram with its PSG), or ``None``."""
    import datetime

    with open(path, "rb") as fh:
        head = fh.read(192)
    try:
        d, t = head[168:176].decode(), head[176:184].decode()
        dd, mm, yy = (int(x) for x in d.split("."))
        hh, mi, ss = (int(x) for x in t.split("."))
    except (ValueError, UnicodeDecodeError):
        return None
    year = 1900 + yy if yy >= 85 else 2000 + yy
    return datetime.datetime(year, mm, dd, hh, mi, ss)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a dataset config from YAML: the mapping itself, or the ``dataset:`` block of a
    larger pipeline config.

    Raises:
        DataError: the file cannot be read or parsed. ConfigError: it is not a mapping.
    """
    data = read_yaml_mapping(path, "dataset config")
    if isinstance(data.get("dataset"), Mapping):
        data = data["dataset"]
    return dict(data)


def load_windows(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    config: Mapping[str, Any] | str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    keep_identity: bool = False,
) -> WindowSet:
    """Read, preprocess, cut and label recordings into a :class:`WindowSet` (cached).

    Args:
        source: a list of files, a folder (all recordings below it), or a data manifest
            (``.yaml``; every file is verified against its checksum first).
            Or in-memory MNE objects: an ``mne.io.Raw``/``mne.Epochs`` or a list of them
            (labels from annotations / events; see :mod:`eegsnn.preprocess.objects`).
        config: dataset config (see the module docstring), or a YAML file holding it
            (see :func:`load_config`).
        root: dataset root that window ``recording`` paths are relative to (default: the
            folder or manifest root, or the common parent of the files).
        cache_dir: where cached window sets live (default
            :func:`eegsnn.preprocess.cache.default_cache_dir`).
        use_cache: read and write the cache (``$EEGSNN_CACHE=off`` turns it off whatever
            this says). Inputs are hashed every call either way: the key and
            ``provenance["files"]`` hold the sha256 of the content actually read.
        keep_identity: keep EDF patient identity in the in-memory recordings (never in
            the window set or the cache).

    Returns:
        the windows; ``provenance["cache"]["hit"]`` says whether they came from the cache.

    Raises:
        ConfigError: a bad config. ChecksumError: a manifest file changed.
        DataError: naming the file: unreadable/corrupt, NaNs, channels missing compared
            with the first file, a different sampling rate, no requested events.
    """
    if isinstance(config, (str, os.PathLike)):
        config = load_config(config)
    cfg = validate_config(config)
    objects = mne_objects(source)
    known: dict[str, str]  # {relpath: sha256 from a manifest}
    if objects is not None:  # in-memory Raw/Epochs: see eegsnn.preprocess.objects
        check_object_config(cfg)
        files, root_path, known = objects, Path.cwd(), {}
    elif cfg.get("bids") is not None:  # a BIDS root, read through mne-bids
        if not isinstance(source, (str, os.PathLike)):
            raise ConfigError("dataset.bids: data source must be one BIDS root folder")
        files, root_path, known = find_bids_recordings(source, cfg["bids"]), Path(source), {}
    else:
        files, root_path, known = resolve_source(
            source, root, text=cfg["sfreq_hz"] is not None,
            by_path=cfg["labels"]["source"] == "path", pattern=cfg["labels"]["pattern"])
    lab = cfg["labels"]
    rels = (object_names(files) if objects is not None
            else [recording_relpath(p, root_path) for p in files])
    if (lab["source"] == "path" and lab["pattern"] is None and root is None and not known
            and objects is None and rels and all("/" not in r for r in rels)):
        # the files of one folder, labelled by its name (Bonn Z/): the root one level up
        root_path = Path(os.path.abspath(root_path)).parent
        rels = [recording_relpath(p, root_path) for p in files]
    path_labels: dict[str, str] = {}
    path_codes: dict[str, int] = {}  # path label (folder) -> recordings found
    if lab["source"] == "path":
        kept_files, kept_rels = [], []
        for p, rel in zip(files, rels, strict=True):
            raw_label = label_from_path(rel, lab["pattern"])
            path_codes[raw_label] = path_codes.get(raw_label, 0) + 1
            if raw_label in lab["mapping"]:
                kept_files.append(p)
                kept_rels.append(rel)
                path_labels[rel] = lab["mapping"][raw_label]
        left_out = {k: n for k, n in path_codes.items() if k not in lab["mapping"]}
        if left_out and kept_files:  # (a deliberate subset, e.g. A vs E of Bonn: info)
            log.info("%s: %d recording(s) left out: their path label%s %s %s not in "
                     "labels.mapping", root_path, sum(left_out.values()),
                     "s" if len(left_out) > 1 else "",
                     ", ".join(f"{k} ({n})" for k, n in sorted(left_out.items())),
                     "are" if len(left_out) > 1 else "is")
        if not kept_files:
            example = f" such as {label_from_path(rels[0], lab['pattern'])!r}" if rels \
                else ""
            raise DataError(f"{root_path}: no file's path label (its folder name{example}) "
                            f"is in labels.mapping ({', '.join(lab['mapping'])}); label the "
                            "recordings with a file,label table (eegsnn evaluate "
                            "--labels-table, labels.source: table)")
        files, rels = kept_files, kept_rels
    if lab["source"] == "table":
        table = read_label_table(root_path / lab["table"])
        classes = set(lab["class_names"])
        for rel in rels:
            raw_label = table.label(rel)
            if raw_label not in lab["mapping"] and raw_label not in classes:
                raise DataError(f"{table.source}: label {raw_label!r} of {rel} is neither a "
                                f"labels.mapping key ({', '.join(lab['mapping'])}) nor a "
                                f"class ({', '.join(lab['class_names'])})")
            path_labels[rel] = lab["mapping"].get(raw_label, raw_label)
    for p in files if objects is None else ():
        detect_format(p)
    cache = WindowCache(cache_dir)
    hashes = []
    hashed_files: list[Path] = []  # the file of each entry of `hashes` (files on disk only)
    for p, rel in zip(files, rels, strict=True):
        digest = sha256_file(p) if objects is None else object_sha256(p)
        if rel in known and known[rel] != digest:  # changed since verify (race)
            raise ChecksumError(f"{p}: sha256 {digest} does not match the manifest")
        hashes.append((rel, digest))
        hashed_files += [p] if objects is None else []
    extra = [cfg["labels"]["summary"]] if lab["source"] == "seizures" else []
    extra += [cfg["labels"]["table"]] if lab["source"] == "table" else []
    if cfg.get("bids") is not None:  # events.tsv, participants.tsv decide labels, subjects
        extra += list(dict.fromkeys(recording_relpath(s, root_path) for p in files
                                    for s in bids_sidecars(p, root_path)))
    for rel in extra:
        hashes.append((rel, sha256_file(root_path / rel)))
        hashed_files.append(root_path / rel)
    for p in files if objects is None else ():  # a .mat file's sidecar says how to read it
        side = mat_sidecar(p) if str(p).lower().endswith(".mat") else None
        if side is not None:
            hashes.append((f"{recording_relpath(side, root_path)} (sidecar)",
                           sha256_file(side)))
            hashed_files.append(side)
        labels_file = _label_file(p, lab)  # a hypnogram or events file decides the labels
        if labels_file is not None:
            hashes.append((f"{recording_relpath(labels_file, root_path)} (labels)",
                           sha256_file(labels_file)))
            hashed_files.append(labels_file)
    key = cache_key(hashes, cfg)
    use_cache = use_cache and cache_enabled()
    if use_cache:
        cached = cache.load(key)
        if cached is not None and "signals" in cached.provenance:  # (else: rebuilt)
            cached.provenance["files"] = _file_records(hashes, cached.provenance)
            cached.provenance["cache"] = {"key": key, "hit": True, "dir": str(cache.dir)}
            if path_codes:
                cached.provenance["path_label_codes"] = dict(sorted(path_codes.items()))
            log.info("window cache hit %s (%d windows)", key[:12], len(cached))
            return cached
    windows = _build(files, rels, cfg, root_path, path_labels, keep_identity)
    # what was read = what was hashed: recordings, and the files that label them
    hashed = hashes if objects is None else hashes[len(files):]
    for p, (_, digest) in zip(hashed_files, hashed, strict=True):
        if sha256_file(p) != digest:
            raise DataError(f"{p}: the file changed while it was being read (sha256 "
                            "before and after differ); run again once it is complete")
    windows.provenance.update({
        "config": cfg, "files": _file_records(hashes, windows.provenance),
        "versions": windowing_versions(),
    })
    if path_codes:  # the path labels of every recording found, those left out included
        windows.provenance["path_label_codes"] = dict(sorted(path_codes.items()))
    if use_cache:
        cache.save(key, windows)
    windows.provenance["cache"] = {"key": key, "hit": False, "used": use_cache,
                                   "dir": str(cache.dir)}
    return windows


def _file_records(hashes: list[tuple[str, str]], provenance: Mapping[str, Any]
                  ) -> list[dict[str, Any]]:
    """``provenance["files"]``: ``{"path", "sha256"}`` of every file read, with the
    ``signal_sha256`` of each recording's decoded samples
    (:func:`~eegsnn.preprocess.objects.signal_sha256`: the same recording under another
    name, header or text layout, or as an MNE object)."""
    signal = provenance.get("signals") or {}
    return [{"path": r, "sha256": h, **({"signal_sha256": signal[r]} if r in signal else {})}
            for r, h in hashes]


def _build(files: list[Path], rels: list[str], cfg: dict, root: Path,
           path_labels: dict[str, str], keep_identity: bool) -> WindowSet:
    lab = cfg["labels"]
    parts: list[dict[str, Any]] = []
    ref_names: list[str] | None = None
    ref_file: Path | None = None
    ref_sfreq: float | None = None
    summaries: dict = {}
    report: list[dict[str, Any]] = []
    signals: dict[str, str] = {}  # recording -> signal_sha256 of its decoded samples
    rates_read: dict[str, float] = {}  # recording -> its sampling rate as read (Hz)
    codes: dict[str, int] = {}  # every raw label the recordings hold (for error messages)
    for path, rel in zip(files, rels, strict=True):
        if is_mne_object(path):  # an in-memory Raw/Epochs (anonymised copy)
            raw, events = object_recording(path, keep_identity=keep_identity, name=rel)
        else:
            rec = read_bids_recording(path, root, keep_identity=keep_identity) \
                if cfg.get("bids") is not None else read_recording(
                path, reader=cfg["reader"], sfreq_hz=cfg["sfreq_hz"],
                expected_samples=cfg["expected_samples"], text_unit=cfg["text_unit"],
                keep_identity=keep_identity, montage=False, mat_variable=cfg["mat_variable"],
            )
            read: Any = rec.raw  # (an MNE Raw)
            events = (EventTable.empty() if lab["source"] in ("path", "table")
                      else labelled_events(path, rec.events, cfg, root, summaries,
                                           read.n_times / float(read.info["sfreq"])))
            raw = read
        for code, n in events.counts().items():
            codes[code] = codes.get(code, 0) + n
        signal = signal_sha256(raw.get_data())  # the decoded samples, before preprocessing
        sfreq_read = float(raw.info["sfreq"])  # the file's own rate, before any resampling
        t0 = getattr(raw, "first_time", 0.0)  # (Epochs have none)
        name = rel if is_mne_object(path) else str(path)  # an object by name, not repr
        apply_steps(raw, cfg["preprocess"], source=name)
        shift = getattr(raw, "first_time", 0.0) - t0  # a crop step moves the first sample
        events = events.shifted(-shift)
        sfreq = float(raw.info["sfreq"])
        names = list(raw.ch_names)
        if ref_names is None:
            ref_names, ref_sfreq = names, sfreq
            ref_file = Path(rel) if is_mne_object(path) else path
        else:
            assert ref_file is not None and ref_sfreq is not None  # set with ref_names
            if set(names) != set(ref_names):
                missing = [c for c in ref_names if c not in names]
                extra = [c for c in names if c not in ref_names]
                raise DataError(
                    f"{name}: channels differ from {ref_file.name}: missing "
                    f"{missing[:10] or 'none'}, extra {extra[:10] or 'none'}; add a 'pick' "
                    "step listing the channels every file has"
                )
            if names != ref_names:
                raw.reorder_channels(ref_names)
            if not np.isclose(sfreq, ref_sfreq):
                raise DataError(f"{name}: sampling rate {sfreq:g} Hz differs from "
                                f"{ref_file.name} ({ref_sfreq:g} Hz); add a 'resample' step")
        units = [ch["unit"] for ch in raw.info["chs"]]
        scale = np.array([1e6 if (u == 107 and cfg["unit"] == "uV") else 1.0 for u in units],
                         dtype=np.float32)  # 107 = FIFF_UNIT_V
        if is_epochs(raw):
            X, labels, onset, skipped = epochs_windows(raw, cfg, scale, source=rel)
            index = {c: i for i, c in enumerate(lab["class_names"])}
            y = np.array([index[c] for c in labels], dtype=np.int64)
        else:
            plan = plan_recording(cfg, n_times=raw.n_times, sfreq_hz=sfreq, events=events,
                                  label=path_labels.get(rel), source=name)
            X = extract_windows(raw.get_data(), plan.starts, plan.n_samples, scale)
            y, onset = plan.class_indices(lab["class_names"]), plan.onset_s + shift
            skipped = plan.n_out_of_bounds
        ids = bids_ids(path) if cfg.get("bids") is not None else \
            parse_recording_ids(rel, cfg["ids"]["pattern"])
        w = len(y)
        parts.append({
            "X": X, "y": y,
            "subject": [ids["subject"]] * w, "session": [ids["session"]] * w,
            "run": [ids["run"]] * w, "recording": [rel] * w,
            "onset_s": onset,
        })
        report.append({"path": rel, "windows": int(w),
                       "out_of_bounds": int(skipped)})
        rates_read[rel] = sfreq_read
        signals[rel] = signal
    assert ref_names is not None and ref_sfreq is not None
    ws = WindowSet(
        X=np.concatenate([p["X"] for p in parts]),
        y=np.concatenate([p["y"] for p in parts]),
        class_names=tuple(lab["class_names"]), ch_names=tuple(ref_names), sfreq_hz=ref_sfreq,
        subject=np.concatenate([p["subject"] for p in parts]),
        session=np.concatenate([p["session"] for p in parts]),
        run=np.concatenate([p["run"] for p in parts]),
        recording=np.concatenate([p["recording"] for p in parts]),
        onset_s=np.concatenate([p["onset_s"] for p in parts]),
        unit=cfg["unit"],
        provenance={"recordings": report, "signals": signals,
                    "preprocess": copy.deepcopy(cfg["preprocess"]),
                    # (codes and the mapping's words; free text counted, not kept)
                    "label_codes": dict(sorted(public_event_counts(
                        codes, keep=lab["mapping"]).items())),
                    "sfreq_hz_read": rates_read},  # each recording's own rate, as read
    )
    return ws


def unused_labels(ws: WindowSet, cfg: Mapping[str, Any]) -> str:
    """Why a class of a dataset config got no window, as one clause for an error message
    (empty when every ``labels.mapping`` code occurs in the recordings).

    E.g. ``"labels.mapping code T9 (class left) occurs in none of the 1 recording(s),
    which hold T0, T1, T2"``.
    """
    lab = cfg.get("labels") or {}  # (a dataset config, validated or as written)
    mapping = {str(k): str(v) for k, v in (lab.get("mapping") or {}).items()}
    if lab.get("source", "annotations") == "path":
        found = ws.provenance.get("path_label_codes")
        if found is None:  # (a window set from before the path labels were recorded)
            return ""
        missing = [k for k in mapping if k not in found]
        if not missing:
            return ""
        what = ", ".join(f"{k} (class {mapping[k]})" for k in missing)
        return (f"labels.mapping path label{'s' if len(missing) > 1 else ''} {what} "
                f"name{'' if len(missing) > 1 else 's'} no recording; the recordings' path "
                f"labels (folders) are {', '.join(found)}")
    codes = ws.provenance.get("label_codes")
    if codes is None:  # a window set from before the codes were recorded
        return ""
    missing = [k for k in mapping if k not in codes]
    if not missing:
        return ""
    n_rec = int(np.unique(ws.recording).size)
    held = ", ".join(list(codes)[:20]) + (" ..." if len(codes) > 20 else "") or "no labels"
    what = ", ".join(f"{k} (class {mapping[k]})" for k in missing)
    return (f"labels.mapping code{'s' if len(missing) > 1 else ''} {what} occur"
            f"{'' if len(missing) > 1 else 's'} in none of the {n_rec} recording(s), which "
            f"hold {held}")
