"""Long recordings: windows from a multi-hour EDF/BDF without loading it all at once.

:func:`lazy_windows` opens the file with MNE's lazy reader (``preload=False``), computes
every window start from the header and annotations, and then works through the recording
in chunks of ``chunk_s`` seconds: read the chunk plus ``pad`` samples of context on each
side (``raw.get_data(start=, stop=)``), run the preprocessing chain on that piece, drop
the context, cut the windows, and stream them to disk (or collect them). Peak memory is
one chunk (``C x (chunk + 2 pad)`` float64 samples) plus MNE's per-file overhead,
whatever the recording length; ``results/scaling/long_recording_memory.json`` has the
measured numbers.

Exactness: the chain is the same :func:`~eegsnn.preprocess.steps.apply_steps` the eager
path runs. Steps that act sample by sample (``pick``, ``reref``) are exact. FIR filters
(``bandpass``/``notch`` with ``method: fir``, the default) have finite support: with a
context of at least one filter length (:func:`filter_pad_samples`) each kept sample sees
exactly the input the whole-recording filter sees, and at the true ends of the recording
both paths apply MNE's same edge padding, so the windows equal the eager ones up to float
rounding of the FFT convolution (tested: max difference < 1e-3 uV on uV-scale EEG).
IIR filters (infinite response), ``resample`` and ``crop`` are refused with a
:class:`~eegsnn.errors.ConfigError` (crop: use ``start_s``/``stop_s``).

Windows come out in time order (event windows sorted by onset).
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eegsnn.errors import ConfigError, DataError
from eegsnn.io.channels import standardize_channels
from eegsnn.io.edf import inspect_edf_header
from eegsnn.io.files import atomic_path, parse_recording_ids
from eegsnn.io.labels import EventTable, label_from_path
from eegsnn.io.readers import anonymize, detect_format, events_from_annotations
from eegsnn.preprocess.dataset import (
    labelled_events,
    plan_recording,
    recording_relpath,
    validate_config,
)
from eegsnn.preprocess.steps import apply_steps
from eegsnn.preprocess.windows import WindowPlan, WindowSet, extract_windows

__all__ = ["LAZY_STEPS", "filter_pad_samples", "iter_lazy_windows", "lazy_windows",
           "write_tiled_edf"]

LAZY_STEPS = ("bandpass", "notch", "reref", "pick")


def _check_steps(steps: list[dict[str, Any]]) -> None:
    for i, step in enumerate(steps):
        name = step["step"]
        if name not in LAZY_STEPS:
            raise ConfigError(f"preprocess[{i}] ({name}): not supported for lazy windowing "
                              f"(supported: {', '.join(LAZY_STEPS)}); "
                              + ("pass start_s/stop_s instead of crop" if name == "crop"
                                 else "resample the corpus beforehand"))
        if name in ("bandpass", "notch") and step.get("method", "fir") != "fir":
            raise ConfigError(f"preprocess[{i}] ({name}): method 'iir' has an infinite "
                              "impulse response, so chunked filtering is not exact; use "
                              "method 'fir' for lazy windowing")


def filter_pad_samples(steps: list[dict[str, Any]], sfreq_hz: float) -> int:
    """Context samples each side of a chunk so FIR filtering equals whole-recording
    filtering: the longest filter of the chain (MNE's ``filter_length="auto"`` design)."""
    import mne

    pad = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in steps:
            if step["step"] == "bandpass":
                h = mne.filter.create_filter(None, sfreq_hz, step["l_freq"], step["h_freq"],
                                             method="fir", fir_design="firwin",
                                             verbose="error")
                pad = max(pad, len(h))
            elif step["step"] == "notch":
                for f in step["freqs"]:
                    # MNE's notch design: width f/200, 1 Hz transitions split in halves
                    w = f / 200.0
                    h = mne.filter.create_filter(
                        None, sfreq_hz, f + w / 2.0 + 0.5, f - w / 2.0 - 0.5,
                        l_trans_bandwidth=0.5,
                        h_trans_bandwidth=0.5, method="fir", fir_design="firwin",
                        verbose="error")
                    pad = max(pad, len(h))
    return int(pad)


def _open(path: Path, keep_identity: bool = False):
    """(lazy Raw, EventTable) with identity stripped and channel names standardised."""
    import mne

    fmt = detect_format(path)
    if fmt not in ("edf", "bdf"):
        raise ConfigError(f"{path}: lazy windowing reads EDF/BDF files, not {fmt}")
    inspect_edf_header(path)  # truncated or corrupt files fail here, naming the file
    reader = mne.io.read_raw_edf if fmt == "edf" else mne.io.read_raw_bdf
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = reader(str(path), preload=False, verbose="error")
    except Exception as exc:
        raise DataError(f"{path}: MNE cannot read this {fmt.upper()} file "
                        f"({type(exc).__name__}: {exc})") from exc
    events = events_from_annotations(raw)
    if not keep_identity:
        anonymize(raw)
    standardize_channels(raw, montage=False)
    return raw, events


def _plan(path: Path, rel: str, raw, annotations: EventTable, cfg: dict, root: Path,
          start_s: float, stop_s: float | None) -> WindowPlan:
    """The windows of the whole recording (or the span), in time order."""
    lab = cfg["labels"]
    label = None
    if lab["source"] == "path":
        raw_label = label_from_path(rel, lab["pattern"])
        if raw_label not in lab["mapping"]:
            raise DataError(f"{path}: path label {raw_label!r} is not in labels.mapping")
        label, events = lab["mapping"][raw_label], EventTable.empty()
    else:
        events = labelled_events(path, annotations, cfg, root, {},
                                 raw.n_times / float(raw.info["sfreq"]))
    plan = plan_recording(cfg, n_times=raw.n_times, sfreq_hz=float(raw.info["sfreq"]),
                          events=events, label=label, start_s=start_s, stop_s=stop_s,
                          source=str(path))
    return plan.in_time_order()


def iter_lazy_windows(
    path: str | os.PathLike, config: Mapping[str, Any], *, chunk_s: float = 300.0,
    root: str | os.PathLike | None = None, start_s: float = 0.0,
    stop_s: float | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the windows of one recording chunk by chunk.

    Args:
        path: EDF/BDF recording.
        config: dataset config (see :mod:`eegsnn.preprocess.dataset`); its steps must be
            in :data:`LAZY_STEPS` (FIR filters).
        chunk_s: seconds of recording per chunk (memory ~ ``C x chunk x 8`` bytes).
        root: dataset root (for ``path``/``events_file``/``seizures`` labels).
        start_s, stop_s: only windows inside this span of the recording.

    Yields:
        the first item is ``{"header": {...}}`` (``ch_names``, ``sfreq_hz``, ``n_windows``,
        ``n_samples``, ``class_names``, ``pad``); then ``{"X": float32 [w, C, n] (uV for
        voltage channels), "y": int64 [w], "onset_s": float64 [w]}`` per chunk.
    """
    import mne

    path = Path(path)
    cfg = validate_config(config)
    _check_steps(cfg["preprocess"])
    if not chunk_s > 0:
        raise ConfigError(f"chunk_s must be > 0, got {chunk_s!r}")
    root_path = Path(root) if root is not None else path.parent
    rel = recording_relpath(path, root_path)
    raw, events = _open(path)
    sfreq = float(raw.info["sfreq"])
    plan = _plan(path, rel, raw, events, cfg, root_path, start_s, stop_s)
    starts, n = plan.starts.astype(np.int64), plan.n_samples
    y = plan.class_indices(cfg["labels"]["class_names"])
    pad = filter_pad_samples(cfg["preprocess"], sfreq)
    chunk = max(n, round(chunk_s * sfreq))
    # channel names/units after the chain: run it on a short dummy piece
    probe = mne.io.RawArray(np.zeros((len(raw.ch_names), max(4 * n, 2 * pad + n))),
                            raw.info.copy(), verbose="error")
    apply_steps(probe, cfg["preprocess"], source=str(path))
    scale = np.array([1e6 if (ch["unit"] == 107 and cfg["unit"] == "uV") else 1.0
                      for ch in probe.info["chs"]], dtype=np.float32)  # 107 = FIFF_UNIT_V
    yield {"header": {"ch_names": list(probe.ch_names), "sfreq_hz": sfreq,
                      "n_windows": int(starts.size), "n_samples": int(n),
                      "class_names": list(cfg["labels"]["class_names"]), "pad": pad,
                      "recording": rel, "unit": cfg["unit"]}}
    edges = np.arange(starts[0], starts[-1] + 1 + chunk, chunk)
    groups = np.searchsorted(starts, edges)
    for a, b in itertools.pairwise(groups):
        if a == b:
            continue
        lo = max(0, int(starts[a]) - pad)
        hi = min(raw.n_times, int(starts[b - 1]) + n + pad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = raw.get_data(start=lo, stop=hi)
        if not np.isfinite(data).all():
            raise DataError(f"{path}: NaN or infinite samples between "
                            f"{lo / sfreq:.1f} s and {hi / sfreq:.1f} s")
        piece = mne.io.RawArray(data, raw.info.copy(), verbose="error")
        del data
        apply_steps(piece, cfg["preprocess"], source=str(path))
        X = extract_windows(piece.get_data(), starts[a:b] - lo, n, scale)
        del piece
        yield {"X": X, "y": y[a:b], "onset_s": starts[a:b] / sfreq}


class _NpyStream:
    """Write a ``.npy`` array of known shape sequentially (atomically on close)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.writing")
        self.fh = open(self.tmp, "wb")  # closed in close() / abort()
        np.lib.format.write_array_header_1_0(self.fh, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
            "shape": shape})
        self.expected = math.prod(shape) * np.dtype(dtype).itemsize
        self.written = 0

    def write(self, arr: np.ndarray) -> None:
        b = np.ascontiguousarray(arr).tobytes()
        self.fh.write(b)
        self.written += len(b)

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        if self.written != self.expected:
            self.tmp.unlink(missing_ok=True)
            raise DataError(f"{self.path}: wrote {self.written} of {self.expected} bytes")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def lazy_windows(
    path: str | os.PathLike, config: Mapping[str, Any], out: str | os.PathLike | None = None,
    *, chunk_s: float = 300.0, root: str | os.PathLike | None = None,
    start_s: float = 0.0, stop_s: float | None = None,
):
    """Window one long recording with bounded memory (see the module docstring).

    Args:
        path, config, chunk_s, root, start_s, stop_s: see :func:`iter_lazy_windows`.
        out: ``.npy`` file to stream the windows ``X`` into; the returned set's ``X`` is a
            read-only memory map of it (not resident until read). ``None``: keep ``X`` in
            memory (its size is the output itself).

    Returns:
        a :class:`~eegsnn.preprocess.WindowSet` (subject/session/run from the file name
        as :func:`~eegsnn.preprocess.load_windows` parses them).
    """
    cfg = validate_config(config)
    it = iter_lazy_windows(path, config, chunk_s=chunk_s, root=root, start_s=start_s,
                           stop_s=stop_s)
    head = next(it)["header"]
    shape = (head["n_windows"], len(head["ch_names"]), head["n_samples"])
    ys, onsets, parts = [], [], []
    stream = _NpyStream(Path(out), shape, np.float32) if out is not None else None
    try:
        for part in it:
            if stream is not None:
                stream.write(part["X"])
            else:
                parts.append(part["X"])
            ys.append(part["y"])
            onsets.append(part["onset_s"])
        if stream is not None:
            stream.close()
    except BaseException:
        if stream is not None:
            stream.abort()
        raise
    X = (np.load(out, mmap_mode="r") if out is not None else np.concatenate(parts))
    w = shape[0]
    ids = parse_recording_ids(head["recording"], cfg["ids"]["pattern"])
    return WindowSet(
        X=X, y=np.concatenate(ys), class_names=head["class_names"], ch_names=head["ch_names"],
        sfreq_hz=head["sfreq_hz"], subject=np.array([ids["subject"]] * w, dtype=str),
        session=np.array([ids["session"]] * w, dtype=str),
        run=np.array([ids["run"]] * w, dtype=str),
        recording=np.array([head["recording"]] * w, dtype=str),
        onset_s=np.concatenate(onsets), unit=cfg["unit"],
        provenance={"config": cfg, "lazy": {"chunk_s": chunk_s, "pad_samples": head["pad"]}},
    )


def write_tiled_edf(src: str | os.PathLike, dst: str | os.PathLike, repeats: int) -> Path:
    """Write ``dst``: the EDF ``src`` repeated ``repeats`` times end to end (digital samples
    copied exactly, annotations shifted), one copy in memory at a time. For building
    multi-hour test recordings from a real one; no identity fields are copied."""
    import pyedflib

    src, dst = Path(src), Path(dst)
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    r = pyedflib.EdfReader(str(src))
    try:
        ns = r.signals_in_file
        headers = r.getSignalHeaders()
        digital = [r.readSignal(i, digital=True) for i in range(ns)]
        onsets, durations, descs = r.readAnnotations()
        dur = r.getFileDuration()
    finally:
        r.close()
    for h in headers:
        h.pop("sample_rate", None)  # pyedflib >= 0.1.38 uses sample_frequency
    with atomic_path(dst) as tmp:
        w = pyedflib.EdfWriter(str(tmp), ns, file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            # pyedflib types the reader's headers wider than the writer accepts (same dicts)
            w.setSignalHeaders(headers)  # type: ignore[arg-type]
            for _ in range(repeats):
                w.writeSamples([d.astype(np.int32) for d in digital], digital=True)
            for k in range(repeats):
                for o, d, s in zip(onsets, durations, descs, strict=True):
                    w.writeAnnotation(float(o) + k * dur, float(d) if d > 0 else -1, str(s))
        finally:
            w.close()
    return dst
