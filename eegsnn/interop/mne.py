"""MNE objects in and out of eegsnn's data layer, keeping channel names and sampling rate.

* :func:`windows_from_epochs`: ``mne.Epochs`` -> :class:`~eegsnn.preprocess.WindowSet`
  (classes from ``event_id``; voltages converted from volts to the WindowSet's ``unit``);
* :func:`windows_to_epochs`: a WindowSet -> ``mne.EpochsArray`` (events at the window
  onsets, ``event_id`` from ``class_names``); the two round-trip exactly (float32 data);
* :func:`windows_from_raw`: an ``mne.io.Raw`` -> WindowSet, event-locked on its
  annotations or sliding, planned by the same :func:`eegsnn.preprocess.plan_windows` as
  :func:`eegsnn.preprocess.load_windows`;
* :func:`epochs_data`: ``(X [B, C, N], y, class_names, ch_names, sfreq_hz)`` from Epochs,
  for estimators (:class:`eegsnn.interop.sklearn.SNNClassifier`);
* :func:`spikes_to_raw` / :func:`spikes_from_raw`: an encoded spike code ``[T, L]`` as an
  MNE ``RawArray`` of ``misc`` channels named after the encoder's lines (``"C3/on"``), to
  browse it beside the EEG with ``raw.plot()``; exact round trip.

:class:`eegsnn.encode.EEGEncoder` takes ``Raw``/``Epochs`` directly (``fit(epochs)``,
``transform(epochs)``), reading ``info["sfreq"]`` and ``ch_names``.

Identity: nothing here copies ``subject_info``, ``meas_date`` or any other identifying
field into the WindowSet; :func:`windows_to_epochs` writes a fresh ``info`` with channel
names, types and sampling rate only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.labels import EventTable
from eegsnn.preprocess.objects import is_epochs, is_raw
from eegsnn.preprocess.windows import WindowSet, extract_windows, plan_windows

__all__ = ["epochs_data", "is_epochs", "is_raw", "spikes_from_raw", "spikes_to_raw",
           "windows_from_epochs", "windows_from_raw", "windows_to_epochs"]

_FIFF_UNIT_V = 107


def _scale(info: Any, unit: str) -> np.ndarray:
    """Per-channel factor from MNE's SI units to the WindowSet's (1e6 for volts -> µV)."""
    if unit not in ("uV", "V"):
        raise ConfigError(f"unit must be 'uV' or 'V', got {unit!r}")
    return np.array([1e6 if (ch["unit"] == _FIFF_UNIT_V and unit == "uV") else 1.0
                     for ch in info["chs"]], dtype=np.float64)


def _class_names_from_event_id(event_id: Mapping[str, int], codes: np.ndarray,
                               class_names: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    inverse = {int(v): str(k) for k, v in event_id.items()}
    missing = sorted({int(c) for c in codes} - set(inverse))
    if missing:
        raise DataError(f"Epochs: event codes {missing} are not in event_id {dict(event_id)}")
    labels = [inverse[int(c)] for c in codes]
    if class_names is None:
        # event_id order (by code), restricted to the classes present in event_id
        class_names = [k for k, _ in sorted(event_id.items(), key=lambda kv: kv[1])]
    names = [str(c) for c in class_names]
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ConfigError(f"Epochs: events {unknown} are not in class_names {names}")
    index = {c: i for i, c in enumerate(names)}
    return names, np.array([index[lab] for lab in labels], dtype=np.int64)


def epochs_data(epochs: Any, *, class_names: Sequence[str] | None = None, unit: str = "uV"
                ) -> tuple[np.ndarray, np.ndarray, list[str], list[str], float]:
    """``(X float32 [B, C, N], y int64 [B], class_names, ch_names, sfreq_hz)`` of Epochs.

    Args:
        epochs: ``mne.Epochs`` / ``EpochsArray`` (data is loaded if needed).
        class_names: class order (default: ``event_id`` keys ordered by event code).
        unit: ``"uV"`` (voltage channels in microvolts, eegsnn's default) or ``"V"``.
    """
    if not is_epochs(epochs):
        raise ConfigError(f"expected mne.Epochs, got {type(epochs).__name__}")
    if len(epochs) == 0:
        raise DataError("Epochs: no epochs (all dropped?)")
    scale = _scale(epochs.info, unit)
    data = epochs.get_data(copy=True) if "copy" in _params(epochs.get_data) else \
        epochs.get_data()
    X = (np.asarray(data, dtype=np.float64) * scale[None, :, None]).astype(np.float32)
    names, y = _class_names_from_event_id(epochs.event_id, np.asarray(epochs.events)[:, 2],
                                          class_names)
    return X, y, names, [str(c) for c in epochs.ch_names], float(epochs.info["sfreq"])


def _params(fn: Any) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def windows_from_epochs(epochs: Any, *, class_names: Sequence[str] | None = None,
                        unit: str = "uV", recording: str = "epochs", subject: str = "",
                        session: str = "", run: str = "") -> Any:
    """An ``mne.Epochs`` as a :class:`~eegsnn.preprocess.WindowSet`.

    ``onset_s`` is each epoch's first sample in seconds from the recording's first sample
    (``(event sample - first_samp) / sfreq + tmin``); ``recording`` / ``subject`` /
    ``session`` / ``run`` label every window (for grouped splits).
    """
    X, y, names, ch_names, sfreq = epochs_data(epochs, class_names=class_names, unit=unit)
    raw = getattr(epochs, "_raw", None)
    first = int(raw.first_samp) if raw is not None else 0
    onset = (np.asarray(epochs.events)[:, 0] - first) / sfreq + float(epochs.tmin)
    w = X.shape[0]
    return WindowSet(X=X, y=y, class_names=tuple(names), ch_names=tuple(ch_names),
                     sfreq_hz=sfreq, subject=np.array([subject] * w, dtype=str),
                     session=np.array([session] * w, dtype=str),
                     run=np.array([run] * w, dtype=str),
                     recording=np.array([recording] * w, dtype=str), onset_s=onset, unit=unit,
                     provenance={"source": "mne.Epochs", "tmin_s": float(epochs.tmin)})


def windows_to_epochs(windows: Any, *, ch_types: str | Sequence[str] = "eeg") -> Any:
    """A :class:`~eegsnn.preprocess.WindowSet` as an ``mne.EpochsArray``.

    Data go back to SI units (µV -> V for ``ch_types`` ``"eeg"``/``"eog"``/``"emg"``/
    ``"ecg"``/``"seeg"``/``"ecog"`` when ``windows.unit == "uV"``); events sit at
    ``round(onset_s * sfreq)`` with codes ``1..K`` in ``class_names`` order; ``tmin = 0``.
    Windows from several recordings may share onsets: the events are then made unique by
    their order (MNE requires distinct event samples); with pandas installed,
    ``epochs.metadata`` keeps each window's recording, subject, session, run and onset.
    """
    import mne

    ws = windows
    names = list(ws.ch_names)
    types = [ch_types] * len(names) if isinstance(ch_types, str) else list(ch_types)
    if len(types) != len(names):
        raise ConfigError(f"windows_to_epochs: {len(types)} ch_types for {len(names)} channels")
    info = mne.create_info(names, ws.sfreq_hz, types)
    voltage = {"eeg", "eog", "emg", "ecg", "seeg", "ecog"}
    factor = np.array([1e-6 if (t in voltage and ws.unit == "uV") else 1.0 for t in types])
    data = ws.X.astype(np.float64) * factor[None, :, None]
    samples = np.rint(ws.onset_s * ws.sfreq_hz).astype(np.int64)
    if len(np.unique(samples)) != samples.size:
        samples = np.arange(samples.size, dtype=np.int64) * (ws.n_samples + 1)
    events = np.column_stack([samples, np.zeros_like(samples), ws.y + 1]).astype(np.int64)
    event_id = {c: i + 1 for i, c in enumerate(ws.class_names) if np.any(ws.y == i)}
    metadata = None
    try:  # MNE's epoch metadata needs pandas (not an eegsnn dependency)
        import pandas as pd

        metadata = pd.DataFrame({"recording": ws.recording, "subject": ws.subject,
                                 "session": ws.session, "run": ws.run, "onset_s": ws.onset_s})
    except ImportError:
        pass
    return mne.EpochsArray(data, info, events=events, tmin=0.0, event_id=event_id,
                           metadata=metadata, verbose="error")


def windows_from_raw(raw: Any, *, window_s: float, mapping: Mapping[str, str] | None = None,
                     mode: str = "events", tmin_s: float = 0.0, step_s: float | None = None,
                     default: str | None = None, unit: str = "uV",
                     recording: str = "raw") -> Any:
    """Cut an ``mne.io.Raw`` into a :class:`~eegsnn.preprocess.WindowSet`.

    Args:
        raw: the recording (its annotations label the windows).
        window_s: window length in seconds.
        mapping: annotation description -> class name (required; other annotations ignored).
        mode: ``"events"`` (one window per mapped annotation, from its onset + ``tmin_s``)
            or ``"sliding"`` (every ``step_s``; labelled by the annotation span containing
            it, else ``default``; ambiguous windows dropped).
        unit: voltage unit of the windows (``"uV"`` or ``"V"``).

    Class names are the distinct ``mapping`` values in order (then ``default``), as in
    :func:`eegsnn.preprocess.load_windows`.
    """
    if not is_raw(raw):
        raise ConfigError(f"windows_from_raw: expected mne.io.Raw, got {type(raw).__name__}")
    if not mapping:
        raise ConfigError("windows_from_raw: mapping {annotation: class name} is required")
    if mode not in ("events", "sliding"):
        raise ConfigError(f"windows_from_raw: mode must be 'events' or 'sliding', got {mode!r}")
    mapping = {str(k): str(v) for k, v in mapping.items()}
    class_names = list(dict.fromkeys(mapping.values()))
    if default is not None and str(default) not in class_names:
        class_names.append(str(default))
    sfreq = float(raw.info["sfreq"])
    ann = raw.annotations
    onset = np.asarray(ann.onset, dtype=np.float64)
    if ann.orig_time is not None:
        onset = onset - raw.first_time
    events = EventTable.from_lists(onset, ann.duration, ann.description) if len(ann) else \
        EventTable.empty()
    plan = plan_windows(n_times=raw.n_times, sfreq_hz=sfreq, window_s=window_s, mode=mode,
                        events=events, mapping=mapping, tmin_s=tmin_s, step_s=step_s or None,
                        default=default, source="windows_from_raw")
    X = extract_windows(raw.get_data(), plan.starts, plan.n_samples,
                        _scale(raw.info, unit).astype(np.float32))
    w = len(plan)
    return WindowSet(X=X, y=plan.class_indices(class_names),
                     class_names=tuple(class_names), ch_names=tuple(raw.ch_names),
                     sfreq_hz=sfreq, subject=np.array([""] * w, dtype=str),
                     session=np.array([""] * w, dtype=str), run=np.array([""] * w, dtype=str),
                     recording=np.array([recording] * w, dtype=str), onset_s=plan.onset_s,
                     unit=unit,
                     provenance={"source": "mne.io.Raw", "mode": mode, "window_s": window_s})


def _line_names(layout: Sequence[Any] | None, n_lines: int) -> list[str]:
    if layout is None:
        return [f"line{i}" for i in range(n_lines)]
    names = []
    for rec in layout:
        if isinstance(rec, Mapping):
            parts = [str(rec.get("channel", "")), str(rec.get("band", "broadband")),
                     str(rec.get("kind", ""))]
            if rec.get("level") is not None:
                parts.append(f"{float(rec['level']):g}")
            parts = [p for p in parts if p and p != "broadband"]
            names.append("/".join(parts))
        else:
            names.append(str(rec))
    if len(names) != n_lines:
        raise ConfigError(f"spikes_to_raw: {len(names)} line names for {n_lines} lines")
    if len(set(names)) != len(names):
        raise ConfigError("spikes_to_raw: line names are not unique")
    return names


def spikes_to_raw(spikes: Any, *, step_s: float, layout: Sequence[Any] | None = None) -> Any:
    """A spike code as an ``mne.io.RawArray`` (one ``misc`` channel per line).

    Args:
        spikes: ``[T, L]`` (one window) or ``[T, B, L]`` (windows laid end to end in time).
        step_s: duration of one time step in seconds (window length / ``T``); the Raw's
            sampling rate is ``1 / step_s``.
        layout: ``EEGEncoder.layout`` (names ``"C3/on"``, ``"Cz/alpha/up/0.5"``) or a
            list of ``L`` names; default ``line0, line1, ...``.
    """
    import mne

    arr = np.asarray(spikes, dtype=np.float64)
    if arr.ndim == 3:
        arr = np.transpose(arr, (1, 0, 2)).reshape(-1, arr.shape[2])
    if arr.ndim != 2 or arr.size == 0:
        raise ConfigError(f"spikes_to_raw: spikes must be [T, L] or [T, B, L], got "
                          f"{np.shape(spikes)}")
    if not step_s > 0:
        raise ConfigError(f"spikes_to_raw: step_s must be > 0, got {step_s}")
    names = _line_names(layout, arr.shape[1])
    info = mne.create_info(names, 1.0 / float(step_s), "misc")
    return mne.io.RawArray(arr.T, info, verbose="error")


def spikes_from_raw(raw: Any) -> np.ndarray:
    """The ``[T, L]`` float32 spike code held by a Raw from :func:`spikes_to_raw`."""
    if not is_raw(raw):
        raise ConfigError(f"spikes_from_raw: expected mne.io.Raw, got {type(raw).__name__}")
    return np.ascontiguousarray(np.asarray(raw.get_data(), dtype=np.float32).T)
