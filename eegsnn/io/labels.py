"""Label sources, all turned into one :class:`EventTable` (onset, duration, description).

Sources:
- annotations inside the recording (EDF+ TAL, FIF, BrainVision markers...),
- a sidecar CSV/TSV of onsets (BIDS ``*_events.tsv``: ``onset``, ``duration``,
  ``trial_type``), :func:`read_events_table`,
- a hypnogram EDF+ (Sleep-EDF ``*-Hypnogram.edf``), :func:`read_hypnogram`,
- seizure onset/offset lists of a CHB-MIT ``chbNN-summary.txt``,
  :func:`parse_chbmit_summary` and :func:`seizure_events`,
- the file or folder name (the Bonn sets), :func:`label_from_path`.

Onsets are in seconds from the first sample of the recording.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.edf import inspect_edf_header

__all__ = [
    "FREE_TEXT",
    "EventTable",
    "find_hypnogram",
    "label_from_path",
    "parse_chbmit_summary",
    "public_event_counts",
    "read_events_table",
    "read_hypnogram",
    "seizure_events",
]


@dataclass(frozen=True)
class EventTable:
    """Labelled time spans of one recording.

    Attributes:
        onset_s: float64 ``[E]``, seconds from the recording's first sample.
        duration_s: float64 ``[E]`` (0 for instantaneous events).
        description: str ``[E]`` (the raw label, before any class mapping).
    """

    onset_s: np.ndarray
    duration_s: np.ndarray
    description: np.ndarray

    @staticmethod
    def empty() -> EventTable:
        return EventTable(np.zeros(0), np.zeros(0), np.zeros(0, dtype=str))

    @staticmethod
    def from_lists(onset_s, duration_s, description) -> EventTable:
        onset = np.asarray(onset_s, dtype=np.float64).reshape(-1)
        duration = np.asarray(duration_s, dtype=np.float64).reshape(-1)
        desc = np.asarray([str(d) for d in description], dtype=str).reshape(-1)
        if not (onset.size == duration.size == desc.size):
            raise ValueError("onset, duration and description must have the same length")
        order = np.argsort(onset, kind="stable")
        return EventTable(onset[order], duration[order], desc[order])

    def __len__(self) -> int:
        return int(self.onset_s.size)

    def shifted(self, offset_s: float) -> EventTable:
        """The same events with ``offset_s`` added to every onset."""
        return EventTable(self.onset_s + offset_s, self.duration_s, self.description)

    def concat(self, other: EventTable) -> EventTable:
        return EventTable.from_lists(
            np.concatenate([self.onset_s, other.onset_s]),
            np.concatenate([self.duration_s, other.duration_s]),
            np.concatenate([self.description, other.description]),
        )

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.description, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


#: the key under which :func:`public_event_counts` counts descriptions it does not show
FREE_TEXT = "(other annotation text, not shown)"
#: descriptions shown as they are: event codes, upper case or digits (T0, 768, W,
#: BAD_ACQ_SKIP; a word with lower-case letters may be a name: JaneDoe, Comment/Schmidt) ...
_CODE = re.compile(r"^[A-Z0-9_.:/+?#-]{1,16}$")
#: ... and the standard texts of public data sets and formats: Sleep-EDF's hypnogram,
#: BrainVision stimulus and response markers as MNE names them (Stimulus/S  1: a letter
#: and a number; a Comment/ marker is typed text, so not shown)
_STANDARD_TEXT = re.compile(r"^(Sleep stage [0-9WRN?]|Movement time|New Segment/|"
                            r"(Stimulus|Response)/[A-Za-z]? {0,3}[0-9]{1,3})$")


def public_event_counts(counts: Mapping[str, int], keep: Iterable[str] = ()
                        ) -> dict[str, int]:
    """``counts`` (event description -> occurrences) fit for error messages, logs and the
    window cache: event codes (upper case or digits, no space, at most 16 characters; a
    word with lower-case letters may be a name), the standard texts of
    Sleep-EDF and BrainVision and the descriptions named in ``keep`` (a config's
    ``labels.mapping``: the user's own words) as they are; any other text (an EDF+
    annotation is free text and may name the patient or staff) counted under
    :data:`FREE_TEXT`."""
    keep = {str(k) for k in keep}
    out: dict[str, int] = {}
    hidden = 0
    for text, n in counts.items():
        if text in keep or _CODE.match(text) or _STANDARD_TEXT.match(text):
            out[text] = out.get(text, 0) + int(n)
        else:
            hidden += int(n)
    if hidden:
        out[FREE_TEXT] = hidden
    return out


_ONSET_COLS = ("onset", "onset_s", "start", "start_s", "time")
_DURATION_COLS = ("duration", "duration_s")
_LABEL_COLS = ("trial_type", "description", "label", "value", "event", "annotation")


def read_events_table(path: str | os.PathLike, *, label_column: str | None = None) -> EventTable:
    """Read a sidecar table of events (CSV, or TSV such as BIDS ``*_events.tsv``).

    The first row names the columns. Onset column: one of ``onset``, ``onset_s``,
    ``start``, ``start_s``, ``time`` (seconds from the first sample); duration (optional):
    ``duration``/``duration_s`` (``n/a`` or empty = 0); label: ``label_column`` or the first
    of ``trial_type``, ``description``, ``label``, ``value``, ``event``, ``annotation``.

    Raises:
        DataError: naming the file and the row or column that is wrong.
    """
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read events table ({exc}); expected a text "
                        "CSV/TSV table with a header row") from exc
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: empty events table")
    header = [c.strip().lower() for c in rows[0]]

    def col(candidates: tuple[str, ...]) -> int | None:
        for c in candidates:
            if c.lower() in header:
                return header.index(c.lower())
        return None

    def required_col(candidates: tuple[str, ...], what: str) -> int:
        i = col(candidates)
        if i is None:
            raise DataError(f"{path}: no {what} column (looked for {', '.join(candidates)}; "
                            f"found {', '.join(header)})")
        return i

    i_on = required_col(_ONSET_COLS, "onset")
    i_dur = col(_DURATION_COLS)
    i_lab = required_col((label_column,) if label_column else _LABEL_COLS, "label")
    onsets, durations, labels = [], [], []
    for lineno, row in enumerate(rows[1:], start=2):
        try:
            onset = float(row[i_on])
            dur_text = row[i_dur].strip() if i_dur is not None else ""
            duration = 0.0 if dur_text.lower() in ("", "n/a", "nan") else float(dur_text)
            label = row[i_lab].strip()
        except (ValueError, IndexError) as exc:
            raise DataError(f"{path}: row {lineno} is not (onset, duration, label): "
                            f"{row!r}") from exc
        if not np.isfinite(onset) or onset < 0 or duration < 0:
            raise DataError(f"{path}: row {lineno} has a negative or non-finite onset/duration")
        onsets.append(onset)
        durations.append(duration)
        labels.append(label)
    return EventTable.from_lists(onsets, durations, labels)


# Sleep-EDF hypnogram descriptions -> AASM stage names.
SLEEP_EDF_STAGES = {
    "Sleep stage W": "W",
    "Sleep stage 1": "N1",
    "Sleep stage 2": "N2",
    "Sleep stage 3": "N3",
    "Sleep stage 4": "N3",  # R&K stage 4 merged into N3 (AASM)
    "Sleep stage R": "REM",
    "Sleep stage ?": "?",
    "Movement time": "MT",
}


def read_hypnogram(path: str | os.PathLike) -> tuple[EventTable, object]:
    """Read a hypnogram EDF+ (annotations only, e.g. Sleep-EDF ``*-Hypnogram.edf``).

    Returns:
        ``(events, start)``: the stage spans (descriptions as written, e.g.
        ``"Sleep stage W"``; map them with :data:`SLEEP_EDF_STAGES` or your own mapping),
        onsets relative to the hypnogram's own start; ``start`` is the hypnogram's start
        ``datetime`` (or ``None``), used to align it with the PSG.

    Raises:
        DataError: naming the file if it is not an EDF+ with annotations.
    """
    path = Path(path)
    inspect_edf_header(path)
    import pyedflib

    try:
        reader = pyedflib.EdfReader(str(path))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read hypnogram ({exc})") from exc
    try:
        onsets, durations, desc = reader.readAnnotations()
        start = reader.getStartdatetime()
    finally:
        reader.close()
    if len(onsets) == 0:
        raise DataError(f"{path}: hypnogram holds no annotations (no sleep stages)")
    durations = np.where(np.asarray(durations, dtype=float) < 0, 0.0, durations)
    return EventTable.from_lists(onsets, durations, desc), start


def find_hypnogram(psg_path: str | os.PathLike) -> Path:
    """The hypnogram file paired with a Sleep-EDF PSG file.

    Sleep-EDF pairs ``SC4001E0-PSG.edf`` with ``SC4001EC-Hypnogram.edf``: same folder,
    same first 7 characters, ``-Hypnogram.edf`` suffix.

    Raises:
        DataError: naming the PSG file if there is no unique hypnogram for it.
    """
    psg_path = Path(psg_path)
    prefix = psg_path.name[:7]
    matches = sorted(psg_path.parent.glob(f"{prefix}*-Hypnogram.edf"))
    if len(matches) != 1:
        found = ", ".join(m.name for m in matches) or "none"
        raise DataError(f"{psg_path}: expected one hypnogram {prefix}*-Hypnogram.edf beside "
                        f"it, found {found}")
    return matches[0]


_CHB_FILE = re.compile(r"^File Name:\s*(\S+)", re.I)
_CHB_NSEIZ = re.compile(r"^Number of Seizures in File:\s*(\d+)", re.I)
_CHB_START = re.compile(r"^Seizure(?:\s+\d+)?\s+Start Time:\s*(\d+(?:\.\d+)?)\s*sec", re.I)
_CHB_END = re.compile(r"^Seizure(?:\s+\d+)?\s+End Time:\s*(\d+(?:\.\d+)?)\s*sec", re.I)


def parse_chbmit_summary(path: str | os.PathLike) -> dict[str, list[tuple[float, float]]]:
    """Parse a CHB-MIT ``chbNN-summary.txt``: seizure (start_s, end_s) for every file.

    Understands both spellings the database uses (``Seizure Start Time: 2996 seconds`` and
    ``Seizure 1 Start Time: 2996 seconds``). Files without seizures map to ``[]``.

    Raises:
        DataError: naming the summary file and the line when the counts or times do not
        add up (a start without an end, an end before its start, a count that differs
        from the times listed).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read summary ({exc.strerror or exc})") from exc
    out: dict[str, list[tuple[float, float]]] = {}
    declared: dict[str, int] = {}
    current: str | None = None
    pending: float | None = None
    for lineno, line in enumerate(lines, start=1):
        line = line.strip()
        if m := _CHB_FILE.match(line):
            if pending is not None:
                raise DataError(f"{path}: line {lineno}: seizure start without an end in "
                                f"{current}")
            current = m.group(1)
            out[current] = []
        elif m := _CHB_NSEIZ.match(line):
            if current is None:
                raise DataError(f"{path}: line {lineno}: seizure count before any File Name")
            declared[current] = int(m.group(1))
        elif m := _CHB_START.match(line):
            if current is None or pending is not None:
                raise DataError(f"{path}: line {lineno}: unexpected seizure start")
            pending = float(m.group(1))
        elif m := _CHB_END.match(line):
            if current is None or pending is None:
                raise DataError(f"{path}: line {lineno}: seizure end without a start")
            end = float(m.group(1))
            if end <= pending:
                raise DataError(f"{path}: line {lineno}: seizure in {current} ends ({end} s) "
                                f"before it starts ({pending} s)")
            out[current].append((pending, end))
            pending = None
    if pending is not None:
        raise DataError(f"{path}: seizure start without an end in {current}")
    for name, count in declared.items():
        if count != len(out[name]):
            raise DataError(f"{path}: {name} declares {count} seizures but lists "
                            f"{len(out[name])}")
    if not out:
        raise DataError(f"{path}: no 'File Name:' entries (not a CHB-MIT summary?)")
    return out


def seizure_events(spans: list[tuple[float, float]], label: str = "seizure") -> EventTable:
    """Seizure (start_s, end_s) spans as an :class:`EventTable` labelled ``label``."""
    return EventTable.from_lists([s for s, _ in spans], [e - s for s, e in spans],
                                 [label] * len(spans))


def label_from_path(relpath: str | os.PathLike, pattern: str | None = None) -> str:
    """A recording's label read from its path.

    Args:
        relpath: path relative to the dataset root (POSIX separators are used for matching).
        pattern: regular expression with one capture group, matched (``re.search``)
            against the POSIX relative path. ``None``: the name of the file's parent
            folder (Bonn: ``Z/Z001.txt`` -> ``"Z"``).

    Raises:
        ConfigError: bad pattern. DataError: the pattern does not match the path.
    """
    posix = Path(relpath).as_posix()
    if pattern is None:
        parent = Path(relpath).parent.name
        if not parent:
            raise DataError(f"{relpath}: no parent folder to take the label from")
        return parent
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"label pattern {pattern!r} is not a valid regular expression: "
                          f"{exc}") from exc
    if regex.groups < 1:
        raise ConfigError(f"label pattern {pattern!r} needs one capture group")
    m = regex.search(posix)
    if not m:
        raise DataError(f"{relpath}: label pattern {pattern!r} does not match the path")
    return m.group(1)
