"""MNE objects (``mne.io.Raw``, ``mne.Epochs``) as recordings of :func:`load_windows`.

:func:`eegsnn.preprocess.load_windows` and the pipeline (``data.source``) take in-memory
MNE objects, alone or in a list, as well as paths::

    ws = load_windows([raw_a, raw_b], config)          # Raw: labels from annotations
    ws = load_windows(epochs, config)                  # Epochs: labels from event_id

Identity of an object (its ``recording`` name, the group of grouped splits): the file
name it was read from (``raw.filenames[0]``, ``epochs.filename``: the name only, never
the folder), else ``raw-K`` / ``epochs-K`` (``K`` its position in the list); duplicates
get ``#K`` appended. Its checksum (cache key, ``data.json``) is the SHA-256 of its data,
channels, sampling rate and labels (annotations or events): nothing of
``info["subject_info"]``, ``meas_date`` or ``meas_id`` is read, and the object handed to
the preprocessing is an anonymised copy (the caller's object is never modified).

Epochs are taken epoch by epoch: ``windows.mode: events`` cuts one window per epoch at
``tmin_s`` seconds after its event (as for a Raw's annotations), ``sliding`` cuts every
``step_s`` within each epoch; ``labels.mapping`` maps event names (``event_id`` keys) to
classes and epochs of other events are skipped. Preprocessing steps run on the Epochs
through MNE's Epochs methods (``crop`` then uses epoch times).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.channels import standardize_channels
from eegsnn.io.labels import EventTable, public_event_counts
from eegsnn.io.readers import anonymize, events_from_annotations
from eegsnn.preprocess.windows import plan_windows

__all__ = ["MAX_PLAUSIBLE_V", "OBJECT_PREFIX", "check_object_config", "check_object_signal",
           "describe_objects", "epochs_windows",
           "is_epochs", "is_mne_object", "is_object_description", "is_raw", "mne_objects",
           "object_names", "object_recording", "object_sha256", "signal_sha256"]

#: ``data.source`` entries of a run made from MNE objects start with this (``config.yaml``
#: and ``data.json`` record ``mne:<kind>:<name>:sha256:<hex>``, never the data).
OBJECT_PREFIX = "mne:"

#: Largest plausible ``|sample|`` of a channel in volts (0.1 V = 1e5 µV; scalp EEG is
#: ~1e-4 V, intracranial ~1e-3 V): beyond it a unit or a header is wrong (an EDF whose
#: digital maximum equals its minimum reads as ~1e2 V through MNE).
MAX_PLAUSIBLE_V = 0.1
_FIFF_UNIT_V = 107


def is_epochs(obj: Any) -> bool:
    """Whether ``obj`` is an ``mne.Epochs``-like object (has ``events``, ``event_id``)."""
    return all(hasattr(obj, a) for a in ("info", "get_data", "events", "event_id", "ch_names"))


def is_raw(obj: Any) -> bool:
    """Whether ``obj`` is an ``mne.io.Raw``-like object (has ``annotations``, ``n_times``)."""
    return all(hasattr(obj, a) for a in ("info", "get_data", "annotations", "n_times"))


def is_mne_object(obj: Any) -> bool:
    """A ``Raw`` or an ``Epochs``."""
    return is_raw(obj) or is_epochs(obj)


def is_object_description(value: Any) -> bool:
    """Whether ``value`` is a ``data.source`` entry recorded for an MNE object."""
    return isinstance(value, str) and value.startswith(OBJECT_PREFIX)


def mne_objects(source: Any) -> list[Any] | None:
    """The MNE objects ``source`` holds (an object or a list of them), ``None`` when it
    holds none (paths).

    Raises:
        ConfigError: a list mixing objects and paths (or other things).
    """
    if is_mne_object(source):
        return [source]
    if isinstance(source, (str, bytes)) or not isinstance(source, Sequence):
        return None
    items = list(source)
    kinds = [is_mne_object(x) for x in items]
    if not any(kinds):
        return None
    if not all(kinds):
        bad = next(x for x, k in zip(items, kinds, strict=True) if not k)
        raise ConfigError(f"data source: a list of MNE objects (Raw, Epochs) holds a "
                          f"{type(bad).__name__} ({str(bad)[:60]!r}); give objects or paths, "
                          "not both")
    return items


def _kind(obj: Any) -> str:
    return "epochs" if is_epochs(obj) else "raw"


def _file_name(obj: Any) -> str | None:
    names = getattr(obj, "filenames", None)
    name = names[0] if names else getattr(obj, "filename", None)
    return Path(name).name if name else None


def object_names(objects: Sequence[Any]) -> list[str]:
    """A unique ``recording`` name per object (see the module docstring)."""
    names = [_file_name(o) or f"{_kind(o)}-{k}" for k, o in enumerate(objects)]
    seen: dict[str, int] = {}
    out = []
    for k, name in enumerate(names):
        out.append(name if seen.get(name, 0) == 0 and names.count(name) == 1 else f"{name}#{k}")
        seen[name] = seen.get(name, 0) + 1
    return out


def object_sha256(obj: Any) -> str:
    """SHA-256 of an object's content: kind, channels, sampling rate, data (float64) and
    labels (annotations of a Raw; events, ``event_id`` and ``tmin`` of Epochs)."""
    h = hashlib.sha256()
    h.update(_kind(obj).encode())
    h.update("\0".join(str(c) for c in obj.ch_names).encode())
    h.update(repr(float(obj.info["sfreq"])).encode())
    data = np.ascontiguousarray(obj.get_data(), dtype=np.float64)
    h.update(repr(data.shape).encode())
    h.update(data.tobytes())
    if is_epochs(obj):
        h.update(np.ascontiguousarray(obj.events, dtype=np.int64).tobytes())
        h.update(repr(sorted((str(k), int(v)) for k, v in obj.event_id.items())).encode())
        h.update(repr(float(obj.tmin)).encode())
    else:
        ev = events_from_annotations(obj)
        h.update(np.ascontiguousarray(ev.onset_s, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(ev.duration_s, dtype=np.float64).tobytes())
        h.update("\0".join(str(d) for d in ev.description).encode())
    return h.hexdigest()


#: Quantum (in the recording's SI unit: volts for EEG) that samples are rounded to before
#: :func:`signal_sha256` hashes them: 0.01 µV, finer than any EDF/BDF resolution in use, so
#: two files with the same digital samples hash alike whatever their headers say.
SIGNAL_QUANTUM = 1e-8


def signal_sha256(data: np.ndarray) -> str:
    """SHA-256 of a decoded signal (what a reader gives, before any preprocessing), for
    recognising the same recording under another name, header or container.

    ``data``: ``[C, N]`` (a Raw) or ``[E, C, N]`` (Epochs: each channel's epochs joined in
    order), in SI units. Each channel is rounded to :data:`SIGNAL_QUANTUM` and hashed on
    its own; the digest is over the sorted channel digests and the length, so it does not
    depend on channel names, channel order, the file's header bytes (patient fields, dates),
    its text layout (a trailing newline of a Bonn segment) or whether it came as a file or
    an MNE object. Not matched: a resampled, filtered, cropped or re-scaled copy, and an
    Epochs object cut from a Raw (its samples are a subset of the Raw's).
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 3:  # [E, C, N] -> [C, E * N]
        arr = np.transpose(arr, (1, 0, 2)).reshape(arr.shape[1], -1)
    arr = np.atleast_2d(arr)
    q = np.round(np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0) / SIGNAL_QUANTUM)
    q = np.ascontiguousarray(np.clip(q, -2.0**62, 2.0**62).astype(np.int64))
    channels = sorted(hashlib.sha256(row.tobytes()).hexdigest() for row in q)
    h = hashlib.sha256(f"eegsnn-signal-v1:{arr.shape[1]}:".encode())
    h.update("".join(channels).encode())
    return h.hexdigest()


def describe_objects(objects: Sequence[Any], names: Sequence[str] | None = None,
                     digests: Sequence[str] | None = None) -> list[str]:
    """``["mne:raw:S001R04.edf:sha256:<hex>", ...]``: what ``config.yaml`` records."""
    names = object_names(objects) if names is None else names
    digests = [object_sha256(o) for o in objects] if digests is None else digests
    return [f"{OBJECT_PREFIX}{_kind(o)}:{n}:sha256:{d}"
            for o, n, d in zip(objects, names, digests, strict=True)]


def check_object_config(cfg: Mapping[str, Any]) -> None:
    """Refuse dataset configs that need files (labels from sidecars, paths, summaries)."""
    source = cfg["labels"]["source"]
    if source != "annotations":
        raise ConfigError(f"labels.source {source!r} reads files beside each recording; MNE "
                          "objects carry their labels (Raw: annotations, Epochs: events): use "
                          "labels.source 'annotations'")


def check_object_signal(obj: Any, name: str) -> None:
    """Refuse an object whose samples no recording can hold: NaN or infinite values, or a
    channel in volts beyond :data:`MAX_PLAUSIBLE_V` (the file readers refuse the headers
    that give such values; an object opened elsewhere comes unchecked).

    Raises:
        DataError: one line naming ``name``, the channel(s) and the fix.
    """
    data = np.asarray(obj.get_data())
    if data.ndim == 3:  # Epochs [E, C, N] -> [C, E * N]
        data = np.transpose(data, (1, 0, 2)).reshape(data.shape[1], -1)
    names = list(obj.ch_names)
    finite = np.isfinite(data)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        first = int(np.argmax(~finite[bad[0]]))
        raise DataError(f"{name}: NaN or infinite samples in {bad.size} channel(s) "
                        f"({', '.join(names[i] for i in bad[:5])}"
                        f"{'...' if bad.size > 5 else ''}); first at sample {first}")
    volts = np.array([ch["unit"] == _FIFF_UNIT_V for ch in obj.info["chs"]], dtype=bool)
    peak = np.abs(data).max(axis=1) if data.size else np.zeros(len(names))
    bad = np.flatnonzero(volts & (peak > MAX_PLAUSIBLE_V))
    if bad.size:
        worst = float(peak[bad].max())
        raise DataError(
            f"{name}: channel(s) {', '.join(names[i] for i in bad[:5])}"
            f"{'...' if bad.size > 5 else ''} reach {worst:.3g} V ({worst * 1e6:.3g} µV), "
            f"more than any EEG (|x| <= {MAX_PLAUSIBLE_V:g} V); MNE holds volts: check the "
            "unit (microvolt values given as volts? multiply by 1e-6) or the header of the "
            "file the object was read from (a digital or physical range of zero), or drop "
            "the channel(s) (raw.drop_channels)")


def object_recording(obj: Any, *, keep_identity: bool = False, name: str | None = None
                     ) -> tuple[Any, EventTable]:
    """An anonymised copy of ``obj`` with normalised channel names (what the reader gives
    for a file) and its labelled events (a Raw's annotations; empty for Epochs), its
    samples checked (:func:`check_object_signal`, errors naming ``name``)."""
    obj = obj.copy()
    if not getattr(obj, "preload", True):
        obj.load_data(verbose="error")
    check_object_signal(obj, name or object_names([obj])[0])
    if not keep_identity:
        anonymize(obj)
    standardize_channels(obj, montage=False)
    events = events_from_annotations(obj) if is_raw(obj) else EventTable.empty()
    return obj, events


def epochs_windows(epochs: Any, cfg: Mapping[str, Any], scale: np.ndarray, *,
                   source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Windows of Epochs: ``(X float32 [W, C, n], labels str [W], onset_s [W], skipped)``.

    ``onset_s`` is the window start in seconds from the recording's first sample
    (``(event sample - first_samp) / sfreq + tmin``; ``first_samp`` 0 once preloaded
    Epochs no longer know their Raw); ``skipped`` counts epochs whose event is not in
    ``labels.mapping``; ``scale`` multiplies each channel (V -> µV).

    Raises:
        DataError: naming ``source``: no epoch of a mapped event, or windows that do not
            fit inside the epochs (with the epochs' span).
    """
    win, lab = cfg["windows"], cfg["labels"]
    sfreq = float(epochs.info["sfreq"])
    data = np.asarray(epochs.get_data(), dtype=np.float64)  # [E, C, N]
    e, _, n_times = data.shape
    inverse = {int(v): str(k) for k, v in epochs.event_id.items()}
    names = [inverse.get(int(c), str(int(c))) for c in np.asarray(epochs.events)[:, 2]]
    keep = np.array([nm in lab["mapping"] for nm in names], dtype=bool)
    if not keep.any():
        held = public_event_counts(dict(Counter(names)),
                                   keep=lab["mapping"])  # (EDF+ annotation text: free)
        raise DataError(f"{source}: no epoch of the events {sorted(lab['mapping'])} "
                        f"(the Epochs hold {dict(sorted(held.items()))})")
    tmin = float(epochs.tmin)
    mode = win["mode"]
    # one plan serves every epoch: the event sits at -tmin seconds into each of them
    plan = plan_windows(
        n_times=n_times, sfreq_hz=sfreq, window_s=win["window_s"], mode=mode,
        events=EventTable.from_lists([-tmin], [0.0], ["epoch"]),
        mapping={"epoch": "epoch"}, tmin_s=win["tmin_s"], step_s=win["step_s"],
        label="epoch" if mode == "sliding" else None,
        source=f"{source} (epochs from {tmin:g} s to {float(epochs.tmax):g} s around "
               "their events)")
    idx = np.flatnonzero(keep)
    k = len(plan)
    cols = plan.starts[:, None] + np.arange(plan.n_samples)[None, :]  # [k, n]
    X = data[idx][:, :, cols]  # [E', C, k, n]
    X = np.transpose(X, (0, 2, 1, 3)).reshape(idx.size * k, data.shape[1], plan.n_samples)
    X = (X * scale[None, :, None]).astype(np.float32)
    labels = np.repeat(np.array([lab["mapping"][names[i]] for i in idx]), k)
    first = getattr(getattr(epochs, "_raw", None), "first_samp", None)
    ev0 = np.asarray(epochs.events)[idx, 0].astype(np.float64)
    ev0 = ev0 - (first or 0)
    onset = (ev0[:, None] / sfreq + tmin + plan.onset_s[None, :]).reshape(-1)
    return X, labels, onset, int(e - idx.size)
