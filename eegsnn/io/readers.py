"""Read any supported recording into an anonymised MNE ``Raw`` plus its events.

=====================  ===========================================  ====================
format                 suffixes                                     reader
=====================  ===========================================  ====================
EDF / EDF+             ``.edf``                                     MNE or pyedflib
BDF                    ``.bdf``                                     MNE or pyedflib
FIF                    ``.fif``, ``.fif.gz``                        MNE
BrainVision            ``.vhdr``                                    MNE
EEGLAB                 ``.set``                                     MNE
GDF                    ``.gdf``                                     MNE
text segment (Bonn)    ``.txt`` (any case)                          eegsnn (``sfreq_hz``)
MATLAB array           ``.mat`` (one signal array per file)         eegsnn (:mod:`.mat`)
=====================  ===========================================  ====================

Identity: unless ``keep_identity=True``, the returned ``Raw`` carries no patient name,
birth date, patient code or recording id: MNE's ``anonymize`` is applied (the measurement
date becomes 2000-01-01) and ``subject_info`` is removed. Event onsets are taken before
that, relative to the first sample, so anonymising never moves a label.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.channels import channel_type, normalize_channel_name, standardize_channels
from eegsnn.io.edf import EdfHeader, inspect_edf_header, read_pyedflib_arrays
from eegsnn.io.labels import EventTable
from eegsnn.io.mat import read_mat_signal
from eegsnn.io.text import read_text_segment

__all__ = ["READERS", "Recording", "anonymize", "detect_format", "events_from_annotations",
           "read_recording"]

log = logging.getLogger(__name__)

READERS = ("auto", "mne", "pyedflib")
_FORMATS = {
    ".edf": "edf", ".bdf": "bdf", ".fif": "fif", ".vhdr": "brainvision", ".set": "eeglab",
    ".gdf": "gdf", ".txt": "text", ".mat": "mat",
}


@dataclass
class Recording:
    """One recording as read: an MNE ``Raw`` and its events.

    Attributes:
        raw: MNE ``Raw`` (data loaded, channels normalised, identity removed unless asked).
        events: annotations of the file as an :class:`EventTable` (onsets from the first
            sample).
        path: the file read.
        format: ``"edf"``, ``"bdf"``, ``"fif"``, ``"brainvision"``, ``"eeglab"``, ``"gdf"``
            ``"text"`` or ``"mat"``.
        reader: ``"mne"``, ``"pyedflib"``, ``"text"`` or ``"scipy"`` (``.mat``).
        identity: header identity fields, only filled when ``keep_identity=True``.
    """

    raw: object
    events: EventTable
    path: Path
    format: str
    reader: str
    identity: dict = field(default_factory=dict)


def detect_format(path: str | os.PathLike) -> str:
    """The format of a recording from its suffix (see the table in this module)."""
    name = Path(path).name.lower()
    if name.endswith(".fif.gz"):
        return "fif"
    fmt = _FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise DataError(f"{path}: unknown recording format {Path(name).suffix!r} (supported: "
                        f"{', '.join(sorted(set(_FORMATS) | {'.fif.gz'}))})")
    return fmt


def events_from_annotations(raw) -> EventTable:
    """The annotations of an MNE ``Raw`` as an :class:`EventTable` (onsets in seconds from
    the first sample)."""
    ann = raw.annotations
    if len(ann) == 0:
        return EventTable.empty()
    onset = np.asarray(ann.onset, dtype=np.float64)
    if ann.orig_time is not None:
        # Onsets are relative to meas_date; the data starts first_time seconds after it.
        onset = onset - raw.first_time
    return EventTable.from_lists(onset, ann.duration, ann.description)


def anonymize(raw) -> None:
    """Strip patient and recording identity from an MNE ``Raw`` in place (MNE's
    ``anonymize`` plus subject, experimenter, description, device and file ids)."""
    raw.anonymize(verbose="error")
    with raw.info._unlock():
        raw.info["subject_info"] = None
        raw.info["experimenter"] = None
        raw.info["description"] = None
        for key in ("device_info", "helium_info", "proj_name", "proj_id", "file_id", "meas_id"):
            if key in raw.info:
                raw.info[key] = None


def _read_mne(path: Path, fmt: str):
    import mne

    readers = {
        "edf": mne.io.read_raw_edf, "bdf": mne.io.read_raw_bdf, "fif": mne.io.read_raw_fif,
        "brainvision": mne.io.read_raw_brainvision, "eeglab": mne.io.read_raw_eeglab,
        "gdf": mne.io.read_raw_gdf,
    }
    kwargs = {"preload": True, "verbose": "error"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return readers[fmt](str(path), **kwargs)
        except DataError:
            raise
        except ImportError as exc:  # e.g. EEGLAB needs pymatreader
            name = getattr(exc, "name", None) or str(exc)
            raise DataError(f"{path}: reading {fmt.upper()} files needs the optional package "
                            f"{name!r} (pip install {name})") from exc
        except Exception as exc:  # MNE raises many types for corrupt files
            raise DataError(f"{path}: MNE cannot read this {fmt.upper()} file "
                            f"({type(exc).__name__}: {exc})") from exc


def _warn_duplicate_labels(path: Path, header: EdfHeader) -> None:
    """Warn of a signal label the header gives twice (annotation channels aside): MNE reads
    them as ``C3-0`` and ``C3-1``, so a pick of ``C3`` then finds neither."""
    seen: dict[str, list[int]] = {}
    for i, label in enumerate(header.labels):
        if not header.is_annotation(i):
            seen.setdefault(label, []).append(i + 1)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    if twice:
        log.warning("%s: signal label(s) given more than once in the header: %s; they are "
                    "read as LABEL-0, LABEL-1, ... (a pick of LABEL finds none of them)",
                    path.name, "; ".join(f"{k} (signals {', '.join(map(str, v))})"
                                         for k, v in twice.items()))


def _identity_from_mne(raw) -> dict:
    info = raw.info.get("subject_info") or {}
    return {k: str(v) for k, v in dict(info).items()}


def read_recording(
    path: str | os.PathLike,
    *,
    reader: str = "auto",
    sfreq_hz: float | None = None,
    expected_samples: int | None = None,
    text_unit: str = "uV",
    keep_identity: bool = False,
    standardize: bool = True,
    montage: bool = True,
    mat_variable: str | None = None,
) -> Recording:
    """Read a recording, check it, normalise its channels and strip identity.

    Args:
        path: recording file (see the format table in this module).
        reader: ``"auto"`` (MNE for everything except text), ``"mne"`` or ``"pyedflib"``
            (EDF/EDF+/BDF only).
        sfreq_hz: sampling rate of a text segment (required for text; Bonn: 173.61).
        expected_samples: number of samples a text segment must hold (Bonn: 4097).
        text_unit: unit of the text values: ``"uV"`` (default), ``"mV"`` or ``"V"``.
        keep_identity: keep the patient/recording identification of the header
            (default ``False``: anonymised, see the module docstring).
        standardize: normalise channel names and set channel types.
        montage: with ``standardize``, also apply the 10-05 template positions (for
            topographic plots; window extraction does not need them).
        mat_variable: the array of a ``.mat`` file (see :mod:`eegsnn.io.mat`; its rate is
            ``sfreq_hz`` and its unit ``text_unit`` unless a JSON sidecar says otherwise).

    Returns:
        a :class:`Recording`; ``raw`` data are in volts (MNE convention).

    Raises:
        DataError: naming the file: unreadable, not the format its suffix says,
            truncated, NaN/inf samples, or no samples.
        ConfigError: an unknown reader, pyedflib for a non-EDF format, text without
            ``sfreq_hz``.
    """
    import mne

    path = Path(path)
    if reader not in READERS:
        raise ConfigError(f"reader must be one of {', '.join(READERS)}, got {reader!r}")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    fmt = detect_format(path)
    identity: dict = {}
    if fmt == "text":
        if sfreq_hz is None or not sfreq_hz > 0:
            raise ConfigError(f"{path}: a text segment carries no sampling rate: give it "
                              f"(dataset.sfreq_hz, or --sfreq; Bonn: 173.61), got "
                              f"{sfreq_hz!r}")
        factors = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}
        if text_unit not in factors:
            raise ConfigError(f"text_unit must be one of uV, mV, V; got {text_unit!r}")
        values = read_text_segment(path, expected_samples=expected_samples,
                                   uv_per_unit=factors[text_unit] * 1e6)
        info = mne.create_info(["EEG"], float(sfreq_hz), ["eeg"])
        raw = mne.io.RawArray(values[None, :] * factors[text_unit], info, verbose="error")
        events = EventTable.empty()
        used = "text"
    elif fmt == "mat":
        sig = read_mat_signal(path, variable=mat_variable, sfreq_hz=sfreq_hz,
                              unit=text_unit)
        info = mne.create_info(sig.ch_names, sig.sfreq_hz, ["eeg"] * len(sig.ch_names))
        raw = mne.io.RawArray(sig.data, info, verbose="error")
        events = EventTable.empty()
        used = "scipy"
    else:
        if fmt in ("edf", "bdf"):
            header = inspect_edf_header(path)
            is_bdf = header.kind == "BDF"
            if is_bdf != (fmt == "bdf"):  # a 24-bit file read as 16-bit, or the reverse
                raise DataError(f"{path}: the header says {header.kind}, the suffix "
                                f".{path.suffix.lstrip('.').lower()}; rename it to "
                                f"{path.stem}.{'bdf' if is_bdf else 'edf'}")
            _warn_duplicate_labels(path, header)
        use_pyedflib = reader == "pyedflib"
        if use_pyedflib and fmt not in ("edf", "bdf"):
            raise ConfigError(f"{path}: reader 'pyedflib' reads EDF/BDF only, not {fmt}")
        if use_pyedflib:
            arrays = read_pyedflib_arrays(path)
            names = arrays["ch_names"]
            types = [channel_type(n) for n in names]
            info = mne.create_info(names, arrays["sfreq_hz"], types)
            raw = mne.io.RawArray(arrays["data"], info, verbose="error")
            onset, duration, desc = arrays["annotations"]
            events = EventTable.from_lists(onset, duration, desc)
            if keep_identity:
                identity = {k: str(v) for k, v in arrays["identity"].items()}
                if arrays["start"] is not None:
                    import datetime

                    raw.set_meas_date(arrays["start"].replace(tzinfo=datetime.timezone.utc))
            used = "pyedflib"
        else:
            raw = _read_mne(path, fmt)
            events = events_from_annotations(raw)
            if keep_identity:
                identity = _identity_from_mne(raw)
            used = "mne"
    if raw.n_times == 0:
        raise DataError(f"{path}: recording holds no samples")
    if raw.info["bads"]:  # (FIF, BrainVision...): read as they are, said so
        log.warning("%s: channel(s) %s are marked bad in the file; eegsnn does not drop "
                    "them (a preprocess pick step that names the channels to use leaves "
                    "them out)", path.name, ", ".join(raw.info["bads"]))
    data = raw._data
    finite = np.isfinite(data)
    if not finite.all():
        bad_ch = np.flatnonzero(~finite.all(axis=1))
        first = int(np.argmax(~finite[bad_ch[0]]))
        names = ", ".join(raw.ch_names[i] for i in bad_ch[:5])
        raise DataError(f"{path}: NaN or infinite samples in {bad_ch.size} channel(s) "
                        f"({names}{'...' if bad_ch.size > 5 else ''}); first at sample {first} "
                        f"({first / raw.info['sfreq']:.3f} s)")
    if not keep_identity:
        anonymize(raw)
    if standardize:
        standardize_channels(raw, montage=montage)
    log.debug("read %s (%s via %s): %d channels, %.1f s at %g Hz", path.name, fmt, used,
              len(raw.ch_names), raw.n_times / raw.info["sfreq"], raw.info["sfreq"])
    return Recording(raw=raw, events=events, path=path, format=fmt, reader=used,
                     identity=identity)


def normalized_names(names: list[str]) -> list[str]:
    """:func:`normalize_channel_name` applied to a list (helper for config validation)."""
    return [normalize_channel_name(n) for n in names]
