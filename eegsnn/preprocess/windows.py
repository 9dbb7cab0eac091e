"""Windows and labels: event-locked epochs, sliding windows, and the :class:`WindowSet`.

The pure functions here work on NumPy arrays (``data`` ``[C, N]`` samples, onsets in
seconds from the first sample) so they are easy to test by hand:

- :func:`event_window_starts`: one window per mapped event, starting ``tmin_s`` after
  its onset (EEGMMIDB T1/T2: ``tmin_s=0``, ``window_s=4``).
- :func:`sliding_window_starts`: fixed-length windows every ``step_s`` seconds.
- :func:`span_labels`: the label of each sliding window from labelled spans (sleep stages,
  seizures): a window takes the label of the span that contains it entirely; a window
  that only partly overlaps a labelled span is dropped (ambiguous); a window that touches
  no labelled span gets ``default`` (or is dropped when ``default`` is ``None``).
- :func:`plan_windows`: the one window planner (eager :func:`~eegsnn.preprocess.load_windows`,
  lazy :func:`~eegsnn.preprocess.lazy.lazy_windows` and MNE ``windows_from_raw`` all call
  it): recording length, sampling rate, events and the window/label settings -> a
  :class:`WindowPlan` (starts, class names, onsets).
- :func:`extract_windows`: ``[W, C, n]`` float32 copies of the windows.

Window ``k`` covers samples ``starts[k] : starts[k] + n`` (``n = round(window_s * sfreq)``).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.files import atomic_open
from eegsnn.io.labels import EventTable, public_event_counts

__all__ = [
    "WindowPlan",
    "WindowSet",
    "event_window_starts",
    "extract_windows",
    "plan_windows",
    "sliding_window_starts",
    "span_labels",
    "window_samples",
]


def window_samples(window_s: float, sfreq_hz: float) -> int:
    """Number of samples in a window: ``round(window_s * sfreq_hz)`` (at least 1)."""
    if not window_s > 0:
        raise ConfigError(f"window_s must be positive, got {window_s!r}")
    n = round(window_s * sfreq_hz)
    if n < 1:
        raise ConfigError(f"window_s={window_s} s is shorter than one sample at {sfreq_hz} Hz")
    return int(n)


def event_window_starts(
    events: EventTable, mapping: Mapping[str, str], *, sfreq_hz: float, n_times: int,
    n_samples: int, tmin_s: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Start samples and class names of event-locked windows.

    Args:
        events: the recording's events.
        mapping: event description -> class name; other events are ignored.
        sfreq_hz: sampling rate of the data the windows are cut from.
        n_times: number of samples in the recording.
        n_samples: window length in samples.
        tmin_s: window start relative to the event onset (may be negative).

    Returns:
        ``(starts int64 [W], labels str [W], n_out_of_bounds)``: windows that would run
        past either end of the recording are dropped and counted.
    """
    keep = np.isin(events.description, list(mapping))
    onsets = events.onset_s[keep]
    labels = np.array([mapping[d] for d in events.description[keep]], dtype=str)
    starts = np.rint((onsets + tmin_s) * sfreq_hz).astype(np.int64)
    inside = (starts >= 0) & (starts + n_samples <= n_times)
    return starts[inside], labels[inside], int((~inside).sum())


def sliding_window_starts(n_times: int, n_samples: int, step_samples: int) -> np.ndarray:
    """Starts ``0, step, 2*step, ...`` of every window that fits in ``n_times`` samples."""
    if step_samples < 1:
        raise ConfigError(f"window step must be at least one sample, got {step_samples}")
    if n_times < n_samples:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_times - n_samples + 1, step_samples, dtype=np.int64)


def span_labels(
    starts: np.ndarray, n_samples: int, sfreq_hz: float, events: EventTable,
    mapping: Mapping[str, str], default: str | None = None,
) -> np.ndarray:
    """Label of each window from labelled spans (see the module docstring for the rule).

    Events with zero duration never cover a window and are ignored here.

    Returns:
        object array ``[W]`` of class names, ``None`` where the window is dropped.
    """
    keep = np.isin(events.description, list(mapping)) & (events.duration_s > 0)
    on = np.rint(events.onset_s[keep] * sfreq_hz).astype(np.int64)
    off = np.rint((events.onset_s[keep] + events.duration_s[keep]) * sfreq_hz).astype(np.int64)
    names = np.array([mapping[d] for d in events.description[keep]], dtype=object)
    out = np.empty(starts.size, dtype=object)
    if starts.size == 0:
        return out
    ws = starts[:, None]
    we = ws + n_samples
    contains = (on[None, :] <= ws) & (we <= off[None, :])  # [W, E]
    overlaps = (on[None, :] < we) & (ws < off[None, :])
    for k in range(starts.size):
        inside = names[contains[k]]
        if inside.size:
            distinct = set(inside)
            partial = set(names[overlaps[k] & ~contains[k]])
            out[k] = inside[0] if len(distinct) == 1 and partial <= distinct else None
        elif overlaps[k].any():
            out[k] = None
        else:
            out[k] = default
    return out


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of one recording start and which class each one has.

    Attributes:
        starts: int64 ``[W]`` first sample of each window (window ``k`` covers
            ``starts[k] : starts[k] + n_samples``).
        labels: str ``[W]`` class name of each window.
        n_samples: window length in samples.
        sfreq_hz: sampling rate the samples count in.
        n_out_of_bounds: event windows dropped because they ran past either end of the
            recording (or of the selected span).
    """

    starts: np.ndarray
    labels: np.ndarray
    n_samples: int
    sfreq_hz: float
    n_out_of_bounds: int = 0

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def onset_s(self) -> np.ndarray:
        """float64 ``[W]``: each window's start in seconds from the first sample."""
        return self.starts / self.sfreq_hz

    def class_indices(self, class_names: Sequence[str]) -> np.ndarray:
        """int64 ``[W]``: each window's label as an index into ``class_names``."""
        index = {str(c): i for i, c in enumerate(class_names)}
        return np.array([index[str(c)] for c in self.labels], dtype=np.int64)

    def in_time_order(self) -> WindowPlan:
        """The same windows sorted by start (stable: equal starts keep their order)."""
        order = np.argsort(self.starts, kind="stable")
        return WindowPlan(self.starts[order], self.labels[order], self.n_samples,
                          self.sfreq_hz, self.n_out_of_bounds)


def plan_windows(
    *, n_times: int, sfreq_hz: float, window_s: float, mode: str = "events",
    events: EventTable | None = None, mapping: Mapping[str, str] | None = None,
    tmin_s: float = 0.0, step_s: float | None = None, default: str | None = None,
    label: str | None = None, start_s: float = 0.0, stop_s: float | None = None,
    source: str = "recording",
) -> WindowPlan:
    """Plan the windows of one recording (pure: no data is read).

    Args:
        n_times: samples in the recording; sfreq_hz: its sampling rate.
        window_s: window length in seconds.
        mode: ``"events"`` (one window per mapped event, from its onset + ``tmin_s``) or
            ``"sliding"`` (every ``step_s`` seconds, default ``window_s``).
        events: the recording's labelled events (onsets relative to its first sample).
        mapping: event description -> class name; other events are ignored.
        default: sliding: class of windows no labelled span touches (``None``: dropped).
        label: sliding: one class name for every window (labels from the file's path);
            ``events``/``mapping`` then do not label the windows.
        start_s, stop_s: only windows inside this span of the recording.
        source: what the errors name (the file, or the calling function).

    Returns:
        a :class:`WindowPlan` in event order (``events``) or time order (``sliding``).

    Raises:
        DataError: naming ``source`` when no window is left.
    """
    events = EventTable.empty() if events is None else events
    mapping = {} if mapping is None else mapping
    n = window_samples(window_s, sfreq_hz)
    lo = max(0, round(start_s * sfreq_hz))
    hi = n_times if stop_s is None else min(n_times, round(stop_s * sfreq_hz))
    whole = lo == 0 and hi == n_times
    span = "recording" if whole else "selected span"
    if mode == "events":
        starts, labels, n_out = event_window_starts(
            events, mapping, sfreq_hz=sfreq_hz, n_times=hi, n_samples=n, tmin_s=tmin_s)
        if lo > 0:
            inside = starts >= lo
            n_out += int((~inside).sum())
            starts, labels = starts[inside], labels[inside]
        if starts.size == 0:
            raise DataError(
                f"{source}: none of the requested events {sorted(mapping)} "
                + (f"fit in the {span} ({n_out} run past its ends)" if n_out else
                   f"found (events present: {_present(events, mapping)})")
                + ", so there is no window to cut")
        return WindowPlan(starts, labels, n, float(sfreq_hz), n_out)
    if mode != "sliding":
        raise ConfigError(f"window mode must be 'events' or 'sliding', got {mode!r}")
    step = max(1, round((window_s if step_s is None else step_s) * sfreq_hz))
    starts = lo + sliding_window_starts(max(0, hi - lo), n, step)
    if starts.size == 0:
        raise DataError(f"{source}: the {span} ({max(0, hi - lo) / sfreq_hz:.2f} s) is "
                        f"shorter than one window ({window_s} s)")
    if label is not None:
        return WindowPlan(starts, np.full(starts.size, str(label)), n, float(sfreq_hz))
    names = span_labels(starts, n, sfreq_hz, events, mapping, default)
    keep = np.array([x is not None for x in names], dtype=bool)
    if not keep.any():
        raise DataError(f"{source}: no window lies inside a span labelled {sorted(mapping)} "
                        f"(events present: {_present(events, mapping)})")
    return WindowPlan(starts[keep], names[keep].astype(str), n, float(sfreq_hz))


def _present(events: EventTable, mapping: Any) -> Any:
    """The events of a recording for an error message: codes and the mapping's own words,
    free text counted, not shown (:func:`eegsnn.io.labels.public_event_counts`)."""
    return public_event_counts(events.counts(), keep=mapping) or "none"


def extract_windows(data: np.ndarray, starts: np.ndarray, n_samples: int,
                    scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Copy windows ``data[:, s:s+n]`` into a float32 ``[W, C, n]`` array (times ``scale``).

    Args:
        data: ``[C, N]`` samples.
        starts: ``[W]`` start samples (each window must fit in ``N``).
        n_samples: window length ``n``.
        scale: scalar or per-channel ``[C]`` factor (e.g. 1e6 for volts -> microvolts).
    """
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size and (starts.min() < 0 or starts.max() + n_samples > data.shape[1]):
        raise ValueError("a window runs past the end of the data")
    idx = starts[:, None] + np.arange(n_samples)[None, :]  # [W, n]
    out = data[:, idx]  # [C, W, n]
    out = np.ascontiguousarray(np.transpose(out, (1, 0, 2)), dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    if scale.ndim == 1:
        out *= scale[None, :, None]
    elif scale != 1:
        out *= scale
    return out


_META_FIELDS = ("subject", "session", "run", "recording")


@dataclass
class WindowSet:
    """Windows ready for encoding: data, labels and where every window came from.

    Attributes:
        X: float32 ``[W, C, n]`` (windows, channels, samples); voltage channels in
            ``unit`` (default microvolts), other channels in SI units.
        y: int64 ``[W]``, indices into ``class_names``.
        class_names: class of each label index (fixed by the config, not the data).
        ch_names: ``[C]`` channel names.
        sfreq_hz: sampling rate of the windows.
        subject, session, run: str ``[W]`` ids of each window's recording.
        recording: str ``[W]`` path of the source file relative to the dataset root.
        onset_s: float64 ``[W]`` start of each window in seconds from the first sample
            of its recording (before any crop step).
        unit: unit of voltage channels in ``X``.
        provenance: config, preprocessing steps, versions, input checksums, cache key.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    ch_names: tuple[str, ...]
    sfreq_hz: float
    subject: np.ndarray
    session: np.ndarray
    run: np.ndarray
    recording: np.ndarray
    onset_s: np.ndarray
    unit: str = "uV"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.class_names = tuple(str(c) for c in self.class_names)
        self.ch_names = tuple(str(c) for c in self.ch_names)
        self.sfreq_hz = float(self.sfreq_hz)
        for name in _META_FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=str).reshape(-1))
        self.onset_s = np.asarray(self.onset_s, dtype=np.float64).reshape(-1)
        w = self.X.shape[0]
        if self.X.ndim != 3:
            raise ValueError(f"X must be [W, C, n], got shape {self.X.shape}")
        if self.X.shape[1] != len(self.ch_names):
            raise ValueError(f"X has {self.X.shape[1]} channels but ch_names has "
                             f"{len(self.ch_names)}")
        for name in ("y", *_META_FIELDS, "onset_s"):
            if getattr(self, name).shape[0] != w:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} entries, X has {w}")
        if w and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise ValueError("y holds an index outside class_names")

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[2])

    def groups(self, by: str = "subject") -> np.ndarray:
        """Group id of every window, for leak-free splits.

        Args:
            by: ``"subject"`` (all recordings of a person together), ``"session"``
                (subject + session) or ``"recording"`` (the source file).
        """
        if by == "subject":
            return self.subject.copy()
        if by == "session":
            return np.char.add(np.char.add(self.subject, "/"), self.session)
        if by == "recording":
            return self.recording.copy()
        raise ConfigError(f"groups(by=...) must be 'subject', 'session' or 'recording', "
                          f"got {by!r}")

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(self.class_names))
        return {c: int(n) for c, n in zip(self.class_names, counts, strict=True)}

    def subset(self, index: Sequence[int] | np.ndarray) -> WindowSet:
        """The windows at ``index`` (integer indices or a boolean mask), same metadata."""
        idx = np.asarray(index)
        return WindowSet(
            X=self.X[idx], y=self.y[idx], class_names=self.class_names,
            ch_names=self.ch_names, sfreq_hz=self.sfreq_hz, subject=self.subject[idx],
            session=self.session[idx], run=self.run[idx], recording=self.recording[idx],
            onset_s=self.onset_s[idx], unit=self.unit, provenance=dict(self.provenance),
        )

    @staticmethod
    def concat(sets: Sequence[WindowSet]) -> WindowSet:
        """Windows of several sets (same classes, channels, rate, window length, unit)."""
        if not sets:
            raise ValueError("concat needs at least one WindowSet")
        first = sets[0]
        for s in sets[1:]:
            for attr in ("class_names", "ch_names", "sfreq_hz", "unit"):
                if getattr(s, attr) != getattr(first, attr):
                    raise DataError(f"cannot concatenate window sets with different {attr}: "
                                    f"{getattr(first, attr)} vs {getattr(s, attr)}")
            if s.n_samples != first.n_samples:
                raise DataError("cannot concatenate window sets with different window lengths")
        return WindowSet(
            X=np.concatenate([s.X for s in sets]), y=np.concatenate([s.y for s in sets]),
            class_names=first.class_names, ch_names=first.ch_names, sfreq_hz=first.sfreq_hz,
            **{k: np.concatenate([getattr(s, k) for s in sets]) for k in _META_FIELDS},
            onset_s=np.concatenate([s.onset_s for s in sets]), unit=first.unit,
            provenance=dict(first.provenance),
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write to a ``.npz`` file atomically (readable without pickle)."""
        meta = {
            "class_names": list(self.class_names), "ch_names": list(self.ch_names),
            "sfreq_hz": self.sfreq_hz, "unit": self.unit, "provenance": self.provenance,
        }
        with atomic_open(path) as fh:
            np.savez(fh, X=self.X, y=self.y, onset_s=self.onset_s,
                     meta=np.array(json.dumps(meta, sort_keys=True, default=str)),
                     **{k: getattr(self, k) for k in _META_FIELDS})

    @staticmethod
    def load(path: str | os.PathLike) -> WindowSet:
        """Read a set written by :meth:`save`.

        Raises:
            DataError: naming the file if it is not a readable window set.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                return WindowSet(
                    X=z["X"], y=z["y"], class_names=meta["class_names"],
                    ch_names=meta["ch_names"], sfreq_hz=meta["sfreq_hz"],
                    **{k: z[k] for k in _META_FIELDS}, onset_s=z["onset_s"],
                    unit=meta["unit"], provenance=meta["provenance"],
                )
        except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile,
                zlib.error) as exc:  # a damaged file: truncated, empty, bad CRC, bad JSON
            raise DataError(f"{path}: not a readable window set "
                            f"({type(exc).__name__}: {exc})") from exc
