"""BIDS datasets (EEG, iEEG, MEG) read through ``mne-bids`` (extra ``bids``).

A dataset config with a ``bids`` section reads ``data.source`` as a BIDS root::

    data: {source: /data/ds004362}
    dataset:
      bids: {task: motorimagery, subject: ["001", "002"], datatype: eeg}
      windows: {mode: events, window_s: 4.0}
      labels: {source: annotations, mapping: {left_hand: left, right_hand: right}}

* recordings: every file of the root matching the entity filters (``subject``,
  ``session``, ``task``, ``run``, ``acquisition``, ``datatype``; each a label or a list;
  absent: all) with a raw-data extension (``.edf``, ``.bdf``, ``.vhdr``, ``.set``,
  ``.fif``), found by ``mne_bids.find_matching_paths``;
* subjects: ``participants.tsv`` lists the dataset's subjects when present (a ``subject``
  filter naming another one is refused); each window's ``subject``/``session``/``run``
  come from the BIDS entities of its file, so ``split.by: subject`` keeps subjects apart;
* labels: ``mne_bids.read_raw_bids`` turns ``*_events.tsv`` (``trial_type``) into the
  Raw's annotations, which ``labels.source: annotations`` maps to classes;
* identity: ``read_raw_bids`` copies ``participants.tsv`` columns (age, sex, hand) into
  ``info["subject_info"]``; :func:`read_bids_recording` strips them (and every other
  identifying field) like every reader of :mod:`eegsnn.io.readers`.

The sidecars that decide labels (``*_events.tsv``, ``participants.tsv``) are hashed with
the recordings (:func:`bids_sidecars`), so editing them invalidates cached windows.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.extras import require
from eegsnn.io.channels import standardize_channels
from eegsnn.io.readers import Recording, anonymize, events_from_annotations

__all__ = ["BIDS_ENTITIES", "BIDS_EXTENSIONS", "bids_ids", "bids_participants", "bids_sidecars",
           "check_bids_labels", "find_bids_recordings", "read_bids_recording",
           "validate_bids_filters"]

log = logging.getLogger(__name__)

#: filter key -> ``mne_bids.find_matching_paths`` argument.
BIDS_ENTITIES = {"subject": "subjects", "session": "sessions", "task": "tasks",
                 "run": "runs", "acquisition": "acquisitions", "datatype": "datatypes"}
#: raw-data files a BIDS EEG/iEEG/MEG dataset holds (``.fdt``, ``.eeg``, ``.vmrk`` are
#: read through their header file).
BIDS_EXTENSIONS = (".edf", ".bdf", ".vhdr", ".set", ".fif")


def _mne_bids() -> Any:
    return require("mne_bids", "bids", "reading a BIDS dataset")


def check_bids_labels(source: str) -> None:
    """Refuse a ``labels.source`` that cannot read a BIDS dataset's labels.

    Raises:
        ConfigError: ``events_file`` (it looks for ``<stem>_events.tsv`` beside each
            recording, which BIDS names otherwise); the fix is ``annotations``, which
            reads ``*_events.tsv`` through mne-bids.
    """
    if source == "events_file":
        raise ConfigError("labels.source 'events_file' with a BIDS root (dataset.bids): "
                          "mne-bids reads each recording's *_events.tsv (trial_type) into "
                          "its annotations; use labels.source: annotations (--labels "
                          "annotations) and map the trial_type values in labels.mapping")


def validate_bids_filters(filters: Any) -> dict[str, list[str] | None]:
    """The ``bids`` section of a dataset config with every entity filled in (``None``: any).

    Raises:
        ConfigError: not a mapping, an unknown entity or a value that is not a label.
    """
    if filters is None:
        filters = {}
    if not isinstance(filters, Mapping):
        raise ConfigError(f"dataset.bids must be a mapping of BIDS entity filters "
                          f"({', '.join(BIDS_ENTITIES)}), got {type(filters).__name__}")
    unknown = set(filters) - set(BIDS_ENTITIES)
    if unknown:
        raise ConfigError(f"dataset.bids: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(BIDS_ENTITIES)})")
    out: dict[str, list[str] | None] = {}
    for key in BIDS_ENTITIES:
        value = filters.get(key)
        if value is None:
            out[key] = None
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        labels = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int)) or not str(v).strip():
                raise ConfigError(f"dataset.bids.{key}: expected a label or a list of labels, "
                                  f"got {value!r}")
            text = str(v)
            labels.append(text[4:] if key == "subject" and text.startswith("sub-") else text)
        out[key] = labels
    return out


def bids_participants(root: str | os.PathLike) -> list[str] | None:
    """Subject labels (without ``sub-``) listed in ``participants.tsv`` (``None``: no file).

    Only the ``participant_id`` column is read.
    """
    path = Path(root) / "participants.tsv"
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if rows and "participant_id" not in rows[0]:
        raise DataError(f"{path}: no participant_id column")
    ids = [str(r["participant_id"]).strip() for r in rows if r.get("participant_id")]
    return [i[4:] if i.startswith("sub-") else i for i in ids]


def find_bids_recordings(root: str | os.PathLike, filters: Mapping[str, Any]) -> list[Path]:
    """Recording files of a BIDS root that match the entity ``filters`` (sorted).

    Raises:
        DataError: ``root`` is not a BIDS root (no ``dataset_description.json``), or no
            recording matches (naming the filters). ConfigError: a ``subject`` filter
            names a subject ``participants.tsv`` does not list.
    """
    root = Path(root)
    if not (root / "dataset_description.json").is_file():
        raise DataError(f"{root}: not a BIDS root (no dataset_description.json); drop "
                        "dataset.bids to read it as a folder of recordings")
    filters = validate_bids_filters(filters)
    participants = bids_participants(root)
    subjects = filters["subject"]
    if participants is not None:
        if subjects is not None:
            missing = [s for s in subjects if s not in participants]
            if missing:
                raise ConfigError(f"dataset.bids.subject: {missing} not in {root}/"
                                  f"participants.tsv (it lists {participants[:10]})")
        else:
            subjects = participants
    mne_bids = _mne_bids()
    kwargs = {BIDS_ENTITIES[k]: v for k, v in filters.items() if k != "subject"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = mne_bids.find_matching_paths(root, subjects=subjects, extensions=list(
            BIDS_EXTENSIONS), ignore_json=True, **kwargs)
    files = sorted({Path(p.fpath) for p in paths
                    if p.suffix in ("eeg", "ieeg", "meg") and Path(p.fpath).is_file()})
    if not files:
        given = {k: v for k, v in filters.items() if v is not None}
        raise DataError(f"{root}: no BIDS recording matches {given or 'the dataset'} "
                        f"(extensions {', '.join(BIDS_EXTENSIONS)})")
    return files


def _bids_path(path: Path, root: Path) -> Any:
    mne_bids = _mne_bids()
    try:
        return mne_bids.get_bids_path_from_fname(path).update(root=root)
    except Exception as exc:  # mne-bids raises several types for odd names
        raise DataError(f"{path}: not a BIDS file name ({exc})") from exc


def bids_ids(path: str | os.PathLike) -> dict[str, str]:
    """``{"subject", "session", "run"}`` of a BIDS file from its entities (``""`` when
    absent): what groups its windows, whatever ``ids.pattern`` says."""
    bp = _bids_path(Path(path), Path(path).parent)
    return {"subject": bp.subject or "", "session": bp.session or "",
            "run": "" if bp.run is None else str(bp.run)}


def bids_sidecars(path: str | os.PathLike, root: str | os.PathLike) -> list[Path]:
    """The files besides ``path`` that decide its labels and subject: its
    ``*_events.tsv`` (when present) and the root's ``participants.tsv``."""
    path, root = Path(path), Path(root)
    out = []
    bp = _bids_path(path, root)
    events = Path(bp.copy().update(suffix="events", extension=".tsv").fpath)
    if events.is_file():
        out.append(events)
    if (root / "participants.tsv").is_file():
        out.append(root / "participants.tsv")
    return out


def read_bids_recording(path: str | os.PathLike, root: str | os.PathLike, *,
                        keep_identity: bool = False) -> Recording:
    """Read one BIDS recording with ``mne_bids.read_raw_bids`` (events from
    ``*_events.tsv``), strip identity and normalise its channels.

    Raises:
        DataError: naming the file: mne-bids cannot read it, or NaN/inf samples.
    """
    path, root = Path(path), Path(root)
    mne_bids = _mne_bids()
    bp = _bids_path(path, root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            raw = mne_bids.read_raw_bids(bp, verbose="error")
            raw.load_data(verbose="error")
        except Exception as exc:  # mne-bids/MNE raise many types for bad datasets
            raise DataError(f"{path}: mne-bids cannot read this recording "
                            f"({type(exc).__name__}: {exc})") from exc
    if raw.n_times == 0:
        raise DataError(f"{path}: recording holds no samples")
    finite = np.isfinite(raw.get_data())
    if not finite.all():
        bad = [raw.ch_names[i] for i in np.flatnonzero(~finite.all(axis=1))]
        raise DataError(f"{path}: NaN or infinite samples in channel(s) {', '.join(bad[:5])}")
    if not keep_identity:
        anonymize(raw)
    standardize_channels(raw, montage=False)
    fmt = {".edf": "edf", ".bdf": "bdf", ".vhdr": "brainvision", ".set": "eeglab",
           ".fif": "fif"}.get(path.suffix.lower(), path.suffix.lower().lstrip("."))
    log.debug("read BIDS %s: %d channels, %.1f s", path.name, len(raw.ch_names),
              raw.n_times / raw.info["sfreq"])
    return Recording(raw=raw, events=events_from_annotations(raw), path=path, format=fmt,
                     reader="mne-bids")
