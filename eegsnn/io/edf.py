"""EDF / EDF+ / BDF header checks and the pyedflib reader.

The EDF header (256 bytes plus 256 per signal, fixed-width ASCII) is parsed and checked here
before any reader sees the file, so that a file that is not EDF, a truncated one, or one whose
header is physically impossible (a digital or physical range of zero, a sampling rate
<= 0, a record duration <= 0) gets a one-line :class:`~eegsnn.errors.DataError` naming the
file, the channel and the problem, whichever backend (MNE or pyedflib) reads it afterwards
(MNE would otherwise read a truncated file silently, and a zero digital range as a channel
of ~1e7 uV).

:func:`inspect_edf_header` deliberately never returns the patient or recording
identification fields (bytes 8-168): they carry names, birth dates and hospital codes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import DataError
from eegsnn.io.files import atomic_path

__all__ = ["EdfHeader", "check_edf_header", "inspect_edf_header", "read_pyedflib_arrays",
           "write_edf"]

log = logging.getLogger(__name__)

# Physical-dimension strings -> factor to volts (as MNE's EDF reader does).
_VOLT_FACTORS = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9}


@dataclass(frozen=True)
class EdfHeader:
    """Structural fields of an EDF/BDF header (no identity fields).

    Attributes:
        kind: ``"EDF"``, ``"EDF+C"``, ``"EDF+D"`` or ``"BDF"``.
        n_signals: number of signals, the EDF+ annotation signal included.
        n_records: number of data records (``-1``: unknown, still recording).
        record_s: duration of one data record in seconds.
        header_bytes: size of the header in bytes (``256 * (n_signals + 1)``).
        labels: signal labels as written in the header (stripped).
        samples_per_record: samples of each signal in one data record.
        bytes_per_sample: 2 (EDF) or 3 (BDF).
        file_size: size of the file on disk in bytes.
        physical_min, physical_max: ``[n_signals]`` physical range of each signal (in its
            physical dimension, e.g. uV).
        digital_min, digital_max: ``[n_signals]`` digital (integer) range of each signal.
        units: ``[n_signals]`` physical dimension strings (e.g. ``"uV"``).
    """

    kind: str
    n_signals: int
    n_records: int
    record_s: float
    header_bytes: int
    labels: tuple[str, ...]
    samples_per_record: tuple[int, ...]
    bytes_per_sample: int
    file_size: int
    physical_min: tuple[float, ...] = ()
    physical_max: tuple[float, ...] = ()
    digital_min: tuple[int, ...] = ()
    digital_max: tuple[int, ...] = ()
    units: tuple[str, ...] = ()

    def is_annotation(self, i: int) -> bool:
        """Whether signal ``i`` is the EDF+/BDF+ annotation channel (no samples)."""
        return self.labels[i] in _ANNOTATION_LABELS

    def sfreq_hz(self, i: int) -> float:
        """Sampling rate of signal ``i`` in Hz (samples per record / record duration)."""
        return self.samples_per_record[i] / self.record_s if self.record_s > 0 else 0.0

    @property
    def record_bytes(self) -> int:
        return sum(self.samples_per_record) * self.bytes_per_sample

    @property
    def expected_size(self) -> int | None:
        if self.n_records < 0:
            return None
        return self.header_bytes + self.n_records * self.record_bytes


_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")


def _field(raw: bytes, path: Path, what: str) -> str:
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not an EDF/BDF file (non-ASCII {what} field in header)") from exc


def _int(raw: bytes, path: Path, what: str) -> int:
    text = _field(raw, path, what)
    try:
        return int(text)
    except ValueError as exc:
        raise DataError(f"{path}: not an EDF/BDF file ({what} is {text!r}, not a number)") from exc


def _number(raw: bytes, path: Path, what: str, label: str) -> float:
    text = _field(raw, path, what)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise DataError(f"{path}: corrupt EDF header: channel {label!r} has {what} {text!r}, "
                        "not a number")
    return value


def _signal_fields(sig: bytes, ns: int, width: int, start: int) -> list[bytes]:
    """The ``ns`` fixed-width fields of one per-signal header column (``start``: offset of
    the column in units of ``ns`` bytes, e.g. 104 for the physical minima)."""
    off = start * ns
    return [sig[off + width * i:off + width * (i + 1)] for i in range(ns)]


def check_edf_header(header: EdfHeader, path: str | os.PathLike) -> None:
    """Refuse a header that no real recording can have, naming the file, the channel (its
    label as written in the header) and the problem.

    Checked for every ordinary signal (the EDF+ annotation channel is exempt): samples per
    record > 0 (a sampling rate > 0), digital maximum != digital minimum and physical
    maximum != physical minimum (a range of zero: every sample would scale to one value, or
    divide by zero), and a record duration > 0 (0 only in annotation-only EDF+ files).

    Raises:
        DataError: naming the file, the channel and what is wrong.
    """
    fix = "; the file is corrupt or was written wrongly: export it again"
    signals = [i for i in range(header.n_signals) if not header.is_annotation(i)]
    if header.record_s < 0 or (header.record_s == 0 and signals):
        raise DataError(f"{path}: impossible {header.kind} header: data record duration "
                        f"{header.record_s:g} s (must be > 0){fix}")
    for i in signals:
        label = header.labels[i] or f"signal {i + 1}"
        spr = header.samples_per_record[i]
        if spr <= 0:
            raise DataError(f"{path}: impossible {header.kind} header: channel {label!r} has "
                            f"{spr} samples per data record (a sampling rate of "
                            f"{header.sfreq_hz(i):g} Hz; must be > 0){fix}")
        if header.digital_min and header.digital_max[i] == header.digital_min[i]:
            raise DataError(f"{path}: impossible {header.kind} header: channel {label!r} has "
                            f"digital maximum = digital minimum = {header.digital_max[i]} (a "
                            f"range of zero: its samples cannot be scaled){fix}")
        if header.physical_min and header.physical_max[i] == header.physical_min[i]:
            raise DataError(f"{path}: impossible {header.kind} header: channel {label!r} has "
                            f"physical maximum = physical minimum = "
                            f"{header.physical_max[i]:g} {header.units[i]} (a range of zero)"
                            f"{fix}")


def inspect_edf_header(path: str | os.PathLike) -> EdfHeader:
    """Read and validate the header of an EDF, EDF+ or BDF file.

    Checks the version field, the numeric fields, that the header is physically possible
    (:func:`check_edf_header`), and that the file holds every data record the header
    announces (a truncated download or copy fails here).

    Raises:
        DataError: naming the file: not an EDF/BDF file, a corrupt or impossible header
        (naming the channel), or truncated.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(256)
            if len(head) < 256:
                raise DataError(f"{path}: not an EDF/BDF file (only {len(head)} bytes, "
                                "an EDF header is at least 256)")
            version = head[:8]
            if version == b"\xffBIOSEMI":
                kind, bps = "BDF", 3
            elif version == b"0       ":
                reserved = head[192:236].decode("ascii", "replace").strip()
                kind = reserved if reserved in ("EDF+C", "EDF+D") else "EDF"
                bps = 2
            else:
                raise DataError(f"{path}: not an EDF/BDF file (version field {version[:8]!r}; "
                                "EDF starts with '0' and 7 spaces, BDF with 0xFF 'BIOSEMI')")
            header_bytes = _int(head[184:192], path, "header size")
            n_records = _int(head[236:244], path, "number of data records")
            record_text = _field(head[244:252], path, "record duration")
            try:
                record_s = float(record_text)
            except ValueError as exc:
                raise DataError(f"{path}: corrupt EDF header (record duration "
                                f"{record_text!r})") from exc
            ns = _int(head[252:256], path, "number of signals")
            if ns <= 0 or header_bytes != 256 * (ns + 1):
                raise DataError(f"{path}: corrupt EDF header ({ns} signals but header size "
                                f"{header_bytes}, expected {256 * (ns + 1)})")
            sig = fh.read(256 * ns)
            if len(sig) < 256 * ns:
                raise DataError(f"{path}: truncated EDF/BDF file (header ends after "
                                f"{256 + len(sig)} of {header_bytes} bytes)")
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    labels = tuple(_field(f, path, "signal label") for f in _signal_fields(sig, ns, 16, 0))
    units = tuple(_field(f, path, "physical dimension")
                  for f in _signal_fields(sig, ns, 8, 96))
    ranges = []
    for start, what in ((104, "physical minimum"), (112, "physical maximum"),
                        (120, "digital minimum"), (128, "digital maximum")):
        fields = _signal_fields(sig, ns, 8, start)
        ranges.append(tuple(
            0.0 if labels[i] in _ANNOTATION_LABELS and not fields[i].strip()
            else _number(fields[i], path, what, labels[i]) for i in range(ns)))
    spr = tuple(_int(f, path, "samples per record") for f in _signal_fields(sig, ns, 8, 216))
    header = EdfHeader(kind, ns, n_records, record_s, header_bytes, labels, spr, bps, size,
                       physical_min=ranges[0], physical_max=ranges[1],
                       digital_min=tuple(int(v) for v in ranges[2]),
                       digital_max=tuple(int(v) for v in ranges[3]), units=units)
    check_edf_header(header, path)
    expected = header.expected_size
    if expected is not None and size < expected:
        missing = expected - size
        have = (size - header_bytes) / header.record_bytes if header.record_bytes else 0
        raise DataError(
            f"{path}: truncated {kind} file ({size} bytes, the header announces {n_records} "
            f"data records = {expected} bytes; {missing} bytes missing, "
            f"{max(have, 0):.1f} records present)"
        )
    if expected is not None and size > expected:  # (readers ignore them: said so)
        log.warning("%s: %d bytes after the last of the %d data records the header announces "
                    "(ignored; a file appended to, or a header that undercounts its records?)",
                    path.name, size - expected, n_records)
    return header


def read_pyedflib_arrays(path: str | os.PathLike) -> dict:
    """Read an EDF/EDF+/BDF file with pyedflib (the alternative to MNE's reader).

    Returns:
        ``{"data": float64 [C, N] in volts for voltage channels (SI otherwise),
        "ch_names": list[str], "units": list[str], "sfreq_hz": float,
        "annotations": (onset_s, duration_s, description) arrays,
        "start": datetime | None, "identity": dict}``. ``identity`` holds the patient and
        recording fields; callers drop it unless the user asked to keep identity.

    Raises:
        DataError: naming the file, if pyedflib cannot read it or the signals have
        different sampling rates (use the MNE reader, which resamples them).
    """
    import pyedflib

    path = Path(path)
    try:
        reader = pyedflib.EdfReader(str(path))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: pyedflib cannot read this file ({exc})") from exc
    try:
        n = reader.signals_in_file
        labels = list(reader.getSignalLabels())
        rates = np.asarray(reader.getSampleFrequencies(), dtype=float)
        if n == 0:
            raise DataError(f"{path}: the file holds no signals")
        if not np.allclose(rates, rates[0]):
            detail = ", ".join(f"{lab}={r:g} Hz" for lab, r in zip(labels, rates, strict=True))
            raise DataError(f"{path}: signals have different sampling rates ({detail}); "
                            "use reader='mne', which resamples them to the highest rate")
        units = [reader.getPhysicalDimension(i).strip() for i in range(n)]
        data = np.empty((n, reader.getNSamples()[0]), dtype=np.float64)
        for i in range(n):
            data[i] = reader.readSignal(i, digital=False)
            data[i] *= _VOLT_FACTORS.get(units[i].lower(), 1.0)
        onsets, durations, descriptions = reader.readAnnotations()
        try:
            start = reader.getStartdatetime()
        except (ValueError, OSError):
            start = None
        identity = {
            "patient_name": reader.getPatientName(),
            "patient_code": reader.getPatientCode(),
            "birthdate": reader.getBirthdate(),
            "sex": reader.getSex() if hasattr(reader, "getSex") else "",
            "recording_additional": reader.getRecordingAdditional(),
            "admincode": reader.getAdmincode(),
            "technician": reader.getTechnician(),
            "equipment": reader.getEquipment(),
        }
    finally:
        reader.close()
    durations = np.asarray(durations, dtype=float)
    durations = np.where(durations < 0, 0.0, durations)  # pyedflib: -1 = no duration
    return {
        "data": data,
        "ch_names": labels,
        "units": units,
        "sfreq_hz": float(rates[0]),
        "annotations": (np.asarray(onsets, dtype=float), durations,
                        np.asarray(descriptions, dtype=str)),
        "start": start,
        "identity": identity,
    }


def write_edf(
    path: str | os.PathLike,
    data_v: np.ndarray,
    sfreq_hz: float,
    ch_names: list[str],
    *,
    annotations: tuple | None = None,
    bdf: bool = False,
    identity: dict | None = None,
    start=None,
) -> None:
    """Write an EDF+ (or BDF+) file with pyedflib, atomically.

    Used to export anonymised recordings and to build small test files. Without
    ``identity`` the header's patient and recording fields are left as ``X`` (EDF+'s
    "unknown").

    Args:
        path: destination file.
        data_v: ``[C, N]`` samples in volts (written in microvolts, 16-bit EDF or 24-bit
            BDF, physical range the channel's min/max).
        sfreq_hz: sampling rate; must be an integer number of samples per 1 s record.
        ch_names: ``[C]`` labels (at most 16 characters).
        annotations: optional ``(onset_s, duration_s, description)`` sequences.
        bdf: write BDF+ (24-bit) instead of EDF+.
        identity: optional header fields: ``patient_name``, ``patient_code``,
            ``birthdate`` (``datetime.date``), ``sex`` (0/1), ``recording_additional``,
            ``admincode``, ``technician``, ``equipment``.
        start: recording start ``datetime`` (default 2000-01-01 00:00:00).
    """
    import datetime

    import pyedflib

    data_uv = np.asarray(data_v, dtype=np.float64) * 1e6
    if data_uv.ndim != 2 or data_uv.shape[0] != len(ch_names):
        raise ValueError(f"data must be [C, N] with C = len(ch_names), got {data_uv.shape}")
    if abs(sfreq_hz - round(sfreq_hz)) > 1e-9:
        raise ValueError("write_edf needs an integer sampling rate (1 s data records)")
    digital = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    # pyedflib writes by file name: write to a temp name beside the file, then replace.
    with atomic_path(path) as tmp:
        writer = pyedflib.EdfWriter(str(tmp), len(ch_names),
                                    file_type=pyedflib.FILETYPE_BDFPLUS if bdf
                                    else pyedflib.FILETYPE_EDFPLUS)
        try:
            for i, name in enumerate(ch_names):
                # Whole microvolts, rounded outward: the 8-character header field holds them.
                lo = float(np.floor(data_uv[i].min())) - 1.0
                hi = float(np.ceil(data_uv[i].max())) + 1.0
                writer.setSignalHeader(i, {
                    "label": name, "dimension": "uV", "sample_frequency": round(sfreq_hz),
                    "physical_min": lo, "physical_max": hi, "digital_min": digital[0],
                    "digital_max": digital[1], "transducer": "", "prefilter": "",
                })
            writer.setStartdatetime(start or datetime.datetime(2000, 1, 1))
            ident = identity or {}
            setters: dict[str, Callable[[Any], None]] = {
                "patient_name": writer.setPatientName, "patient_code": writer.setPatientCode,
                "birthdate": writer.setBirthdate, "sex": writer.setSex,
                "recording_additional": writer.setRecordingAdditional,
                "admincode": writer.setAdmincode, "technician": writer.setTechnician,
                "equipment": writer.setEquipment,
            }
            for key, value in ident.items():
                if key not in setters:
                    raise ValueError(f"unknown identity field {key!r}")
                setters[key](value)
            if annotations is not None:
                # one annotation per annotation signal and 1 s data record: more than one
                # per second of recording needs more signals (64 at most), else pyedflib
                # drops the excess without a word
                n_records = max(1, -(-data_uv.shape[1] // round(sfreq_hz)))
                signals = max(1, -(-len(annotations[0]) // n_records))
                if signals > 64:
                    raise ValueError(f"{len(annotations[0])} annotations do not fit an EDF+ of "
                                     f"{n_records} s (64 per second at most)")
                if signals > 1:
                    writer.set_number_of_annotation_signals(signals)
            writer.writeSamples([np.ascontiguousarray(row) for row in data_uv])
            if annotations is not None:
                for onset, duration, desc in zip(*annotations, strict=True):
                    writer.writeAnnotation(float(onset), float(duration), str(desc))
        finally:
            writer.close()
