"""Applying a finished run to new data: its model and baseline, and :func:`evaluate_run`.

Recordings from another site are taken to the run's own input by the run's own
preprocessing (:func:`site_dataset`, :func:`conform_channels`):

* sampling rate: a recording at another rate is resampled to the run's rate before the
  run's preprocessing chain (unless that chain resamples itself), so its filters see the
  rate they saw in training; text segments and ``.mat`` arrays, which carry no rate, get
  it from the user (``sfreq_hz``) or a ``.mat`` file's JSON sidecar;
* channels: picked and put in the run's order by name (names normalised as when reading),
  renamed first by ``channel_map`` (``{site name: run name}``); a one-channel run takes a
  one-channel recording of another name only when one name is generic (``EEG``: text
  segments) and the data's is not another type (``ECG`` ...); the mapping used is
  recorded under ``channels`` in the metrics and printed;
  a channel the run needs and the data lack is an error naming it;
* labels: the run's labels (folders, annotations ...), or a ``file,label`` table
  (:mod:`eegsnn.io.label_table`) whose labels are the run's raw labels or class names.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from eegsnn.encode import EEGEncoder, flat_summary, flat_windows, window_stats
from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.energy import window_synops
from eegsnn.evaluate.stats import mcnemar_exact
from eegsnn.io.channels import channel_type, normalize_channel_name
from eegsnn.io.files import atomic_write_json, file_in_the_way, in_the_way
from eegsnn.io.mat import mat_sidecar
from eegsnn.io.readers import detect_format
from eegsnn.manifest import is_manifest_path
from eegsnn.pipeline.baselines import load_baseline
from eegsnn.pipeline.contract import PipelineModel
from eegsnn.pipeline.folds import encode_windows, score_windows
from eegsnn.pipeline.integrity import verify_integrity
from eegsnn.pipeline.metrics import class_counts
from eegsnn.pipeline.models import model_class
from eegsnn.pipeline.records import check_overlap, write_predictions_csv
from eegsnn.pipeline.runstate import require_finished
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.objects import describe_objects, mne_objects, object_names
from eegsnn.visualization import confusion_matrix_plot, write_figure

__all__ = ["EvaluationResult", "channels_line", "check_compatible", "conform_channels",
           "data_source", "default_root", "evaluate_run", "flat_channel_warnings",
           "flat_channels_per_window", "input_line", "load_run_model", "read_about",
           "scale_warnings", "site_dataset"]

log = logging.getLogger("eegsnn.pipeline")


@dataclass
class EvaluationResult:
    """What :func:`evaluate_run` returns: metrics, probabilities and window metadata."""

    metrics: dict[str, Any]
    proba: np.ndarray
    y: np.ndarray
    recording: np.ndarray
    onset_s: np.ndarray
    class_names: tuple[str, ...]
    out_dir: Path | None = None


def load_run_model(run_dir: str | os.PathLike
                   ) -> tuple[dict[str, Any], dict[str, Any], EEGEncoder, PipelineModel]:
    """``(config, data record, encoder, model)`` of a finished run; the model is the
    :class:`~eegsnn.pipeline.contract.PipelineModel` of its ``model.type``.

    Raises:
        DataError: ``run_dir`` is not a finished eegsnn run (names the missing file).
    """
    run_dir = Path(run_dir)
    require_finished(run_dir)
    verify_integrity(run_dir)  # refuses a run whose model files changed after training
    model_dir = run_dir / "model"

    def need(paths: list[Path]) -> None:
        for p in paths:
            if not p.exists():
                raise DataError(f"{run_dir}: not a finished eegsnn run "
                                f"({p.relative_to(run_dir)} is missing)")

    need([run_dir / "config.yaml", run_dir / "data.json", model_dir / "encoder.json",
          model_dir / "model_config.json"])
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        record = json.loads((run_dir / "data.json").read_text(encoding="utf-8"))
        enc_cfg = json.loads((model_dir / "encoder.json").read_text(encoding="utf-8"))
        model_cfg = json.loads((model_dir / "model_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise DataError(f"{run_dir}: corrupt run record ({exc})") from exc
    kind = model_class(model_cfg)
    need([model_dir / name for name in kind.files])
    return cfg, record, EEGEncoder.from_config(enc_cfg), kind.load(model_dir, cfg)


def data_source(cfg: Mapping[str, Any], source: Any, root: Any) -> tuple[Any, Any]:
    """``(source, root)`` to read: the given ones, or the run config's ``data`` when
    ``source`` is ``None``; a one-item list becomes that item."""
    if source is None:
        source, root = cfg["data"]["source"], cfg["data"]["root"] if root is None else root
    if isinstance(source, (list, tuple)) and len(source) == 1:
        source = source[0]
    return source, root


def default_root(source: Any, root: Any, dataset: Mapping[str, Any]) -> Any:
    """Root for labels read from paths: a folder or files given alone are labelled by
    their parent folder's name (Bonn ``S/``), so the root is taken one level up."""
    if root is not None or (dataset.get("labels") or {}).get("source") != "path":
        return root
    paths = [Path(p) for p in (source if isinstance(source, (list, tuple)) else [source])]
    if any(is_manifest_path(p) for p in paths):
        return root  # a manifest names its own root
    # (absolute, links kept: the folders as given name the labels, see recording_relpath)
    if len(paths) == 1 and paths[0].is_dir():
        return Path(os.path.abspath(paths[0])).parent
    if paths and all(p.is_file() for p in paths):
        parents = {Path(os.path.abspath(p)).parent for p in paths}
        if len(parents) == 1:
            return parents.pop().parent
    return root


def read_about(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """``model/about.json`` of a run: what its model was trained on (``None``: a run made
    before it was recorded)."""
    path = Path(run_dir) / "model" / "about.json"
    try:
        about = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return about if isinstance(about, dict) else None


def site_dataset(dataset: Mapping[str, Any], record: Mapping[str, Any], *,
                 sfreq_hz: float | None = None, labels_table: str | os.PathLike | None = None,
                 mat_variable: str | None = None,
                 channel_map: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run's dataset config made fit for recordings of another site (a new dict).

    Args:
        dataset: the run's resolved ``dataset`` section; ``record``: its ``data.json``.
        sfreq_hz: sampling rate of text segments / ``.mat`` arrays (a ``.mat`` sidecar
            wins); given, the run's ``expected_samples`` (segment length) no longer applies.
        labels_table: a ``file,label`` table: labels come from it (``labels.source:
            table``) instead of the run's label source.
        mat_variable: the signal array of ``.mat`` files.
        channel_map: ``{site name: run name}``: the run's ``pick``/``reref`` steps name the
            site's channels.
    """
    out = copy.deepcopy(dict(dataset))
    if sfreq_hz is not None:
        if not float(sfreq_hz) > 0:
            raise ConfigError(f"--sfreq must be a positive rate in Hz, got {sfreq_hz!r}")
        out["sfreq_hz"] = float(sfreq_hz)
        out["expected_samples"] = None
    if mat_variable is not None:
        out["mat_variable"] = mat_variable
    if labels_table is not None:
        out["labels"] = {**out["labels"], "source": "table",
                         "table": str(Path(labels_table).resolve())}
    steps = [dict(s) for s in out.get("preprocess") or []]
    if channel_map:
        back = {normalize_channel_name(v): normalize_channel_name(k)
                for k, v in channel_map.items()}
        for st in steps:
            if st["step"] == "pick" and st.get("channels"):
                st["channels"] = [back.get(c, c) for c in st["channels"]]
            if st["step"] == "reref" and isinstance(st.get("ref"), list):
                st["ref"] = [back.get(c, c) for c in st["ref"]]
    if not any(st["step"] == "resample" for st in steps):
        # to the run's rate first, so the run's own filters see the rate of training (a
        # no-op for recordings already at that rate)
        steps.insert(0, {"step": "resample", "sfreq": float(record["sfreq_hz"])})
    out["preprocess"] = steps
    return out


def _sfreq_check(source: Any, sfreq_hz: float | None) -> str | None:
    """``--sfreq`` is for containers without a rate (text segments, ``.mat``): refused when
    every recording of ``source`` carries its own (EDF, FIF ...), a note when some do
    (their header rate is used)."""
    if sfreq_hz is None:
        return None
    with_rate: list[Path] = []
    n_without = 0
    for item in source if isinstance(source, (list, tuple)) else [source]:
        p = Path(item)
        if is_manifest_path(p):
            return None  # a manifest: its own dataset config decides
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            try:
                fmt = detect_format(f)
            except DataError:
                continue  # not a recording (a label table, a sidecar ...)
            if fmt in ("text", "mat"):
                n_without += 1
            else:
                with_rate.append(f)
    if with_rate and not n_without:
        raise ConfigError(f"--sfreq {sfreq_hz:g}: {with_rate[0]} carries its own sampling "
                          "rate in its header, which is used; --sfreq is for text segments "
                          "and .mat arrays, which carry none (drop --sfreq)")
    if with_rate:
        note = (f"--sfreq {sfreq_hz:g} applies to the text/.mat recordings only: "
                f"{len(with_rate)} recording(s) such as {with_rate[0].name} use their "
                "header's rate")
        log.warning(note)
        return note
    return None


def _mat_without_rate(source: Any) -> Path | None:
    """The first ``.mat`` file of ``source`` (files or folders) whose JSON sidecar gives no
    sampling rate: the run's own ``dataset.sfreq_hz`` (the rate of its text segments) is
    never assumed for another site's arrays."""
    for item in source if isinstance(source, (list, tuple)) else [source]:
        p = Path(item)
        files = sorted(p.rglob("*.mat")) if p.is_dir() else [p] if p.suffix.lower() == ".mat" \
            else []
        for f in files:
            side = mat_sidecar(f)
            try:
                meta = json.loads(side.read_text(encoding="utf-8")) if side else {}
            except (OSError, ValueError):
                meta = {}  # read_mat_signal names the broken sidecar
            if not isinstance(meta, dict) or meta.get("sfreq_hz") is None:
                return f
    return None


def _generic_channel(name: str) -> bool:
    """A name that says nothing about the electrode: ``EEG``, ``EEG001`` (what text
    segments and ``.mat`` arrays without names are given)."""
    return re.fullmatch(r"EEG\d*", normalize_channel_name(name).strip().upper()) is not None


def conform_channels(ws: Any, record: Mapping[str, Any], source: str, run_dir: Path,
                     channel_map: Mapping[str, str] | None = None
                     ) -> tuple[Any, dict[str, str]]:
    """Windows with the run's channels in the run's order: ``(windows, {run channel:
    data channel})``.

    Channels are renamed by ``channel_map`` (``{data name: run name}``), then picked by the
    run's names. A one-channel run takes a one-channel recording of another name only when
    one of the two names is generic (``EEG``, ``EEG001``: text segments, unnamed ``.mat``
    arrays) and the data's channel is not of another type (``ECG``, ``EOG`` ...).

    Raises:
        DataError: naming the run's channels the data lack (and what the data hold), a
        one-channel recording whose name differs from the run's, or a channel map naming a
        data channel that is not there or a run channel the run does not have.
    """
    trained = [str(c) for c in record["ch_names"]]
    held = ", ".join(list(ws.ch_names)[:12]) + (" ..." if len(ws.ch_names) > 12 else "")
    rename = {normalize_channel_name(k): normalize_channel_name(v)
              for k, v in (channel_map or {}).items()}
    unknown = sorted(set(rename) - set(ws.ch_names))
    if unknown:
        raise DataError(f"{source}: --channel names {', '.join(unknown)}, which the data do "
                        f"not hold (data channels: {held})")
    not_run = sorted({v for v in rename.values() if v not in trained})
    if not_run:
        raise DataError(f"{source}: --channel maps to {', '.join(not_run)}, which is not a "
                        f"channel of the run {run_dir} (run channels: "
                        f"{', '.join(trained[:12])}{' ...' if len(trained) > 12 else ''})")
    named = [rename.get(c, c) for c in ws.ch_names]
    if len(trained) == 1 and len(named) == 1 and named != trained:
        data_ch, run_ch = str(ws.ch_names[0]), trained[0]
        if channel_type(data_ch) != "eeg" or not (_generic_channel(data_ch)
                                                  or _generic_channel(run_ch)):
            raise DataError(f"{source}: its only channel {data_ch} is not the run's channel "
                            f"{run_ch}; if it is the same signal, map it with --channel "
                            f"{data_ch}={run_ch}")
        named = trained  # a generic name on one side: the one channel is the run's
    missing = [c for c in trained if c not in named]
    if missing:
        raise DataError(f"{source}: channel(s) {', '.join(missing[:8])} of the run {run_dir} "
                        f"are not in the data (channels: {held}); map a channel with "
                        "--channel DATA=RUN")
    used = {c: str(ws.ch_names[named.index(c)]) for c in trained}
    if list(ws.ch_names) == trained:
        return ws, used
    idx = [named.index(c) for c in trained]
    return dataclasses.replace(ws, X=np.ascontiguousarray(ws.X[:, idx]),
                               ch_names=tuple(trained)), used


def channels_line(used: Mapping[str, str]) -> str:
    """One line saying which data channel fed each run channel (``{run: data}``)."""
    moved = [f"{run} <- {data}" for run, data in used.items() if run != data]
    if not moved:
        return f"channels: the run's {len(used)} channel(s) by name"
    same = len(used) - len(moved)
    return ("channels (run <- data): " + ", ".join(moved[:12])
            + (" ..." if len(moved) > 12 else "") + (f"; {same} more by name" if same else ""))


def check_compatible(ws: Any, record: Mapping[str, Any], source: str, run_dir: Path) -> None:
    """Refuse windows whose sampling rate, channels or length differ from the run's.

    Raises:
        DataError: one line naming the data, the run and the difference.
    """
    if not np.isclose(ws.sfreq_hz, record["sfreq_hz"]):
        raise DataError(f"{source}: sampling rate {ws.sfreq_hz:g} Hz (after the run's "
                        f"preprocessing) does not fit the run {run_dir}, trained at "
                        f"{record['sfreq_hz']:g} Hz; resample the recordings first")
    trained = list(record["ch_names"])
    got = list(ws.ch_names)
    if got != trained:
        missing = [c for c in trained if c not in got]
        extra = [c for c in got if c not in trained]
        detail = (f"missing {missing[:8]}" if missing else "") + \
                 (f"{'; ' if missing else ''}extra {extra[:8]}" if extra else "")
        raise DataError(f"{source}: channels do not fit the run {run_dir} (trained on "
                        f"{len(trained)} channels; {detail or 'different order'})")
    if ws.n_samples != int(record["n_samples"]):
        raise DataError(f"{source}: windows of {ws.n_samples} samples, the run {run_dir} "
                        f"was trained on {record['n_samples']}")


def _input_record(ws: Any, record: Mapping[str, Any], dataset: Mapping[str, Any],
                  sfreq_hz: float | None, sfreq_note: str | None) -> dict[str, Any]:
    """What was done to the data to fit the run: the recordings' own rates and the
    resampling to the run's rate, the rate given (``--sfreq``), the label table."""
    rates = sorted({float(r) for r in (ws.provenance.get("sfreq_hz_read") or {}).values()})
    run_rate = float(record["sfreq_hz"])
    out: dict[str, Any] = {
        "sfreq_hz_read": rates,  # distinct rates of the recordings as read
        "resampled": None if not rates or all(np.isclose(r, run_rate) for r in rates)
        else {"from_hz": [r for r in rates if not np.isclose(r, run_rate)], "to_hz": run_rate},
        "sfreq_given_hz": None if sfreq_hz is None else float(sfreq_hz),
        "labels": (f"table {Path(dataset['labels']['table']).name}"
                   if dataset["labels"].get("source") == "table"
                   else f"the run's rule ({dataset['labels'].get('source')})")}
    if sfreq_note:
        out["sfreq_note"] = sfreq_note
    dropped = {r["path"]: int(r["out_of_bounds"]) for r in
               ws.provenance.get("recordings") or [] if r.get("out_of_bounds")}
    if dropped:  # events whose window runs past a recording's ends: not scored
        out["out_of_bounds"] = dropped
    return out


def input_line(data: Mapping[str, Any]) -> str:
    """One line from :func:`evaluate_run`'s ``metrics["data"]``: rates, resampling, labels."""
    rs = data.get("resampled")
    rates = ", ".join(f"{r:g}" for r in data.get("sfreq_hz_read") or []) or "?"
    rate = (f"resampled {', '.join(f'{r:g}' for r in rs['from_hz'])} -> {rs['to_hz']:g} Hz"
            if rs else f"at the run's rate ({rates} Hz), not resampled")
    given = (f" (--sfreq {data['sfreq_given_hz']:g})"
             if data.get("sfreq_given_hz") is not None else "")
    dropped = data.get("out_of_bounds") or {}
    cut = (f"; {sum(dropped.values())} event window(s) run past the ends of "
           f"{len(dropped)} recording(s), not scored" if dropped else "")
    return f"data: {rate}{given}; labels from {data.get('labels', '?')}{cut}"


def flat_channels_per_window(encoder: Any, ws: Any, windows_flat: np.ndarray | None = None
                             ) -> list[str] | None:
    """Per window, the channels flat in it (``"C3;Cz"``, ``""`` for none), the
    ``flat_channels`` column of ``predictions.csv``; ``None`` without an EEG encoder.
    ``windows_flat``: :func:`~eegsnn.encode.flat_windows` of ``ws.X`` if already made."""
    if not hasattr(encoder, "flat_mask"):
        return None
    mask = encoder.flat_mask(ws.X, windows_flat=windows_flat)
    names = [str(c) for c in ws.ch_names]
    return [";".join(names[c] for c in np.flatnonzero(row)) for row in mask]


def flat_channel_warnings(encoder: Any, ws: Any, windows_flat: np.ndarray | None = None
                          ) -> list[str]:
    """One warning per recording with a channel flat in some of its windows
    (:meth:`~eegsnn.encode.EEGEncoder.flat_mask`: constant, or ~0 next to the other
    channels, e.g. a disconnected electrode at another site), kept in the evaluation's
    ``warnings``; those windows are still scored. ``windows_flat``:
    :func:`~eegsnn.encode.flat_windows` of ``ws.X`` if already made (else it is read here).

    Raises:
        DataError: windows in which every channel is flat (nothing to classify), naming
        the recordings and how many of their windows.
    """
    if windows_flat is None:
        windows_flat = flat_windows(ws.X)
    dead = windows_flat.all(axis=1)  # every channel flat: nothing to classify
    if dead.any():
        recs, counts = np.unique(np.asarray(ws.recording)[dead], return_counts=True)
        totals = {r: int(np.sum(np.asarray(ws.recording) == r)) for r in recs.tolist()}
        raise DataError("; ".join(f"{Path(r).name}: every channel is flat (constant or below "
                                  f"1 pV) in {n} of its {totals[r]} windows"
                                  for r, n in zip(recs.tolist(), counts.tolist(), strict=True))
                        + " (no signal: a disconnected amplifier or a zero-filled gap); crop "
                          "those parts or drop the recording before evaluating")
    if not hasattr(encoder, "flat_mask"):  # (a run without an EEG encoder)
        return []
    found = flat_summary(encoder.flat_mask(ws.X, windows_flat=windows_flat), ws.recording,
                         list(ws.ch_names))
    notes = []
    for rec, chans in sorted(found.items()):
        parts = [f"{ch} in all its {total} windows" if n == total else
                 f"{ch} in {n} of its {total} windows" for ch, (n, total) in chans.items()]
        notes.append(f"{Path(rec).name}: flat (constant or ~0 beside the other channels) "
                     f"channel(s): {'; '.join(parts)} (a disconnected electrode?); the model "
                     "was trained with signal there, so predictions of those windows are "
                     "not reliable")
    for note in notes:
        log.info("evaluate: %s", note)
    return notes


def scale_warnings(encoder: Any, ws: Any,
                   stats: tuple[np.ndarray, np.ndarray] | None = None) -> list[str]:
    """One warning per recording with a channel whose amplitude is off from training
    (:meth:`~eegsnn.encode.EEGEncoder.scale_mismatch`: more than 100 times either way, or
    10 times off the recording's other channels: a unit or gain error at another site),
    kept in the evaluation's ``warnings``; the windows are still scored. ``stats``:
    :func:`~eegsnn.encode.window_stats` of ``ws.X`` if already made."""
    if not hasattr(encoder, "scale_mismatch"):  # (a run without an EEG encoder)
        return []
    if getattr(encoder, "channel_scale_", None) is None:
        log.info("evaluate: amplitude check against training not available (the run's "
                 "encoder was saved before it recorded the training scale)")
        return []
    found = encoder.scale_mismatch(ws.X, ws.recording, stats=stats,
                                   ch_names=list(ws.ch_names))
    notes = []
    for rec, hit in sorted(found.items()):
        ratios = hit["ratios"]
        if len(ratios) == len(ws.ch_names) and len(ratios) > 3:
            what = (f"all {len(ratios)} channels, {min(ratios.values()):.3g}x to "
                    f"{max(ratios.values()):.3g}x")
        else:
            what = "; ".join(f"{ch} {ratio:.3g}x" for ch, ratio in ratios.items())
        notes.append(f"{Path(rec).name}: channel(s) at another scale than in training "
                     f"(median window standard deviation against that of the training "
                     f"windows; the recording's median channel is at "
                     f"{hit['median_ratio']:.3g}x): "
                     f"{what} (a unit or gain error? microvolts read as volts is 1e6x); "
                     "the model standardises with the training statistics, so "
                     "predictions of this recording are not reliable")
    for note in notes:
        log.info("evaluate: %s", note)
    return notes


def check_evaluation_folder(run_dir: Path, out_dir: Path) -> None:
    """Refuse an evaluation output folder that would overwrite a run's own files (the run
    folder itself or any folder in it but ``RUN/evaluations/...``) or that is a file;
    checked before any work."""
    run, out = Path(os.path.realpath(run_dir)), Path(os.path.realpath(out_dir))
    if out == run or (run in out.parents and (run / "evaluations") not in out.parents):
        raise ConfigError(f"--out {out_dir}: inside the run folder {run_dir}, whose files "
                          "the run's integrity record covers; choose a folder outside it or "
                          f"under {run_dir / 'evaluations'} (the default)")
    blocking = file_in_the_way(out_dir) or file_in_the_way(out)  # (as given: a link that
    if blocking is not None:                                      # leads nowhere, named)
        raise ConfigError(f"--out {out_dir}: {in_the_way(blocking)}")


def evaluate_run(run_dir: str | os.PathLike, source: Any = None, *,
                 root: str | os.PathLike | None = None,
                 out_dir: str | os.PathLike | None = None, predict: bool = False,
                 cache_dir: str | os.PathLike | None = None, allow_overlap: bool = False,
                 threshold: float | None = None, use_cache: bool = False,
                 sfreq_hz: float | None = None,
                 labels_table: str | os.PathLike | None = None,
                 mat_variable: str | None = None,
                 channel_map: Mapping[str, str] | None = None) -> EvaluationResult:
    """Apply a run's preprocessing, encoder and model, and its saved baseline, to
    recordings; score both on the same windows (``metrics["baseline"]``).

    Args:
        run_dir: a finished run of :func:`~eegsnn.pipeline.run_pipeline`.
        source: recording files, a folder or a data manifest (default: the run's own data
            source, i.e. every window, training windows included).
        root: dataset root for ``source``.
        out_dir: where ``metrics.json`` (and ``predictions.csv``, ``confusion.png``) go
            (``None``: nothing is written).
        predict: write per-window predictions with class probabilities.
        use_cache: read and write the window cache (default off: evaluating new
            recordings leaves no windows of them in ``~/.cache/eegsnn``).
        threshold: positive-class decision threshold (overrides the one the run recorded
            in ``model/operating_point.json``; needs ``evaluate.positive_class``).
        allow_overlap: score recordings the run was trained on (same file or decoded-signal
            content, :func:`~eegsnn.pipeline.records.check_overlap`) instead of refusing
            them; ``metrics["overlap"]`` then names them. The run's own data
            (``source=None``) holds its training recordings: it needs this too.
        sfreq_hz, labels_table, mat_variable, channel_map: recordings of another site
            (see :func:`site_dataset` and :func:`conform_channels`): the rate of text
            segments and ``.mat`` arrays, a ``file,label`` table, the ``.mat`` variable,
            ``{data channel: run channel}``.

    Raises:
        DataError: the data do not fit the run (channels, sampling rate, window length),
        or ``run_dir`` is not a finished run.
        ConfigError: recordings the run was trained on (or no ``source``) without
        ``allow_overlap``.
    """
    run_dir = Path(run_dir)
    if out_dir is not None:
        check_evaluation_folder(run_dir, Path(out_dir))
    cfg, record, encoder, model = load_run_model(run_dir)
    if source is None and not allow_overlap:
        raise ConfigError(f"{run_dir}: no data given: the run's own data holds the "
                          "recordings it was trained on; give held-out recordings, or allow "
                          "the overlap to score its own data anyway (--allow-overlap; "
                          "allow_overlap=True in Python; the metrics then say so)")
    source, root = data_source(cfg, source, root)
    objects = mne_objects(source)  # in-memory Raw/Epochs (eegsnn.preprocess.objects)
    src_name = str(source) if not isinstance(source, (list, tuple)) else \
        f"{len(source)} files"
    if objects is not None:
        src_name = ", ".join(object_names(objects))
    no_rate = None if objects is not None or sfreq_hz is not None \
        or source == cfg["data"]["source"] else _mat_without_rate(source)
    if no_rate is not None:
        raise DataError(f"{no_rate}: the sampling rate of a .mat file is not known (the run's "
                        "rate is not assumed); give it with --sfreq (sfreq_hz) or a sidecar "
                        f"{no_rate.with_suffix('.json').name} {{\"sfreq_hz\": ...}}")
    sfreq_note = None if objects is not None else _sfreq_check(source, sfreq_hz)
    dataset = site_dataset(cfg["dataset"], record, sfreq_hz=sfreq_hz,
                           labels_table=labels_table, mat_variable=mat_variable,
                           channel_map=channel_map)
    root = default_root(source, root, dataset)
    ws = load_windows(source, dataset, root=root,
                      cache_dir=cache_dir if cache_dir is not None else cfg.get("cache_dir"),
                      use_cache=use_cache)
    ws, channels = conform_channels(ws, record, src_name, run_dir, channel_map)
    check_compatible(ws, record, src_name, run_dir)
    overlap = check_overlap(run_dir, cfg, record, ws, src_name, allow=allow_overlap)
    stats = window_stats(ws.X)  # one pass over the data for the checks below
    windows_flat = stats[0]
    input_notes = flat_channel_warnings(encoder, ws, windows_flat) \
        + scale_warnings(encoder, ws, stats)
    spikes = encode_windows(encoder, ws.X, int(cfg["train"]["seed"]))
    if spikes.shape[2] != model.n_inputs:
        raise DataError(f"{src_name}: encoder gives {spikes.shape[2]} lines, the model takes "
                        f"{model.n_inputs}")
    pred = model.predict_proba(spikes, where=f"evaluate {src_name}")
    op = getattr(model, "operating_point", None)
    if threshold is not None:
        if cfg["evaluate"].get("positive_class") is None:
            raise ConfigError(f"--threshold: the run {run_dir} has no evaluate.positive_class")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ConfigError(f"--threshold must be a probability in [0, 1], got {threshold}")
        op = {"rule": "given", "value": None, "on": "command line",
              "positive_class": cfg["evaluate"]["positive_class"],
              "recorded": None if op is None else op.get("threshold"),
              "threshold": float(threshold)}
    rep = score_windows(cfg, ws, np.arange(len(ws)), pred.proba, operating_point=op)
    rep["firing_rates"] = pred.rates
    ops = window_synops(model, spikes, encoder=encoder,  # per prediction, <= 256 windows
                        n_samples=ws.n_samples)
    if ops is not None:
        rep["synops"] = ops
    if pred.warnings or input_notes:
        rep["warnings"] = input_notes + pred.warnings + rep.get("warnings", [])
    rep["data"] = {"source": describe_objects(objects) if objects is not None else
                   str(source) if isinstance(source, (str, os.PathLike))
                   else [str(s) for s in source],
                   "files": ws.provenance.get("files", []), "n_windows": len(ws),
                   "class_counts": class_counts(ws.y, ws.class_names),
                   **_input_record(ws, record, dataset, sfreq_hz, sfreq_note)}
    rep["run"] = str(run_dir)
    rep["model_type"] = cfg["model"].get("type", "snn")
    rep["trained_on"] = read_about(run_dir)
    rep["channels"] = channels  # {run channel: data channel it was given}
    baseline = load_baseline(run_dir / "model")
    bproba = None
    if baseline is not None:  # the run's baseline on the same windows
        bproba = baseline.predict_proba(ws.X)
        rep["baseline"] = {"type": baseline.spec["type"], "config": baseline.spec,
                           "pooled": score_windows(cfg, ws, np.arange(len(ws)), bproba,
                                                   who=f"baseline {baseline.spec['type']}")}
        rep["mcnemar"] = mcnemar_exact(ws.y, pred.proba.argmax(axis=1), bproba.argmax(axis=1),
                                       names=("snn", "baseline"))
        notes = rep["baseline"]["pooled"].get("warnings", [])
        if notes:
            rep["warnings"] = rep.get("warnings", []) + notes
    if overlap is not None:  # allowed: the scores include training recordings
        rep["overlap"] = overlap
    out = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        # an earlier evaluation's files in this folder are not this one's (only over an
        # earlier evaluation: a user's own predictions.csv elsewhere is kept); its
        # metrics.json goes first and this one's is written last, so a folder never pairs
        # one evaluation's metrics with another's predictions (a failure leaves none)
        if (out / "metrics.json").is_file():
            (out / "metrics.json").unlink()
            for name in ("predictions.csv", "baseline_predictions.csv", "confusion.png"):
                (out / name).unlink(missing_ok=True)
        if predict:
            op_used = rep.get("operating_point") or {}
            write_predictions_csv(out / "predictions.csv", ws.recording, ws.onset_s, ws.y,
                                  pred.proba, ws.class_names,
                                  positive_class=cfg["evaluate"].get("positive_class"),
                                  threshold=op_used.get("threshold"),
                                  flat_channels=flat_channels_per_window(encoder, ws,
                                                                         windows_flat))
            if bproba is not None:
                write_predictions_csv(out / "baseline_predictions.csv", ws.recording,
                                      ws.onset_s, ws.y, bproba, ws.class_names)

        write_figure(out / "confusion.png", confusion_matrix_plot,
                     np.asarray(rep["confusion_matrix"]), class_names=ws.class_names,
                     normalize=True, title="Confusion matrix")
        atomic_write_json(out / "metrics.json", rep)  # last: the evaluation is complete
    return EvaluationResult(copy.deepcopy(rep), pred.proba, ws.y, ws.recording, ws.onset_s,
                            ws.class_names, out)
