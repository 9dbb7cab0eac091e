"""Folds and scoring: splits that keep groups apart, the encoding of a fold's windows,
the scores of held-out windows and the run's ``metrics.json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import mlx.core as mx
import numpy as np

from eegsnn.encode import EEGEncoder
from eegsnn.errors import ConfigError, DataError
from eegsnn.evaluate.metrics import predict_with_threshold
from eegsnn.evaluate.stats import mcnemar_exact
from eegsnn.pipeline.metrics import (
    aggregate_recordings,
    class_counts,
    event_metrics,
    fold_summary,
    full_report,
    window_statistics,
)
from eegsnn.pipeline.models import model_class
from eegsnn.pipeline.records import FoldResult
from eegsnn.preprocess import (
    check_disjoint,
    group_kfold,
    group_train_test_split,
    leave_groups_out,
)
from eegsnn.preprocess.splits import identical_recordings, merge_identical_groups

__all__ = ["ENCODE_CHUNK", "SUMMARY_METRICS", "aggregate_metrics", "encode_windows",
           "encoder_params", "fit_encoder", "make_folds", "score_windows", "split_groups"]


log = logging.getLogger(__name__)
ENCODE_CHUNK = 256  # windows encoded at once (bounds memory on long recordings)
SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro",
                   "roc_auc_ovr_macro")


def _pure_groups(groups: np.ndarray, y: np.ndarray) -> dict[str, int] | None:
    """``{group: class}`` when every group holds windows of one class only, else ``None``."""
    out: dict[str, int] = {}
    for g, c in zip(groups.tolist(), np.asarray(y).tolist(), strict=True):
        if out.setdefault(g, c) != c:
            return None
    return out


def split_groups(groups: np.ndarray, split: Mapping[str, Any], *,
                 recording: np.ndarray | None = None,
                 files: Sequence[Mapping[str, Any]] | None = None
                 ) -> tuple[np.ndarray, dict[str, Any], list[list[str]]]:
    """The groups every split of a run uses: ``groups [W]`` with recordings of identical
    content in one group.

    Given ``recording`` (of every window) and ``files`` (``provenance["files"]``), the groups
    holding a copy of the same recording (file or decoded-signal sha256) are merged
    (:func:`~eegsnn.preprocess.splits.merge_identical_groups`; a name that
    ``split.test_groups``/``train_only`` lists stands for the merged group). The outer folds
    (:func:`make_folds`) and the SNN's inner validation split both use these groups, so
    neither tests or validates on a copy of what it trained on.

    Returns:
        ``(groups [W] as str, split with train_only/test_groups renamed to the merged
        names, the sets of identical recordings found)``.
    """
    groups = np.asarray(groups).astype(str)
    if split.get("by", "recording") == "recording":
        groups = _listed_names(groups, split)
    same = (identical_recordings(files or [], np.unique(np.asarray(recording).astype(str)))
            if recording is not None else [])
    if not same or recording is None:
        return groups, dict(split), []
    listed = [str(g) for g in [*(split.get("train_only") or []),
                               *(split.get("test_groups") or [])]]
    groups, rename = merge_identical_groups(groups, recording, same, keep=listed)
    renamed = {k: list(dict.fromkeys(rename.get(str(g), str(g)) for g in split[k]))
               for k in ("train_only", "test_groups") if split.get(k)}
    return groups, {**split, **renamed}, [list(s) for s in same]


def _label_conflicts(same: Sequence[Sequence[str]], recording: np.ndarray,
                     y: np.ndarray) -> list[str]:
    """The sets of identical recordings (``same``) whose members hold one label each, but
    not the same one (``"S/S001.txt = Z/Z999.txt"``)."""
    out = []
    for members in same:
        labels = [np.unique(y[recording == r]) for r in members]
        if all(lab.size == 1 for lab in labels) and len({int(lab[0]) for lab in labels}) > 1:
            out.append(" = ".join(members))
    return out


def _copies_of_train_only(same: Sequence[Sequence[str]], train_only: Sequence[str],
                          group_of: Mapping[str, str]) -> str:
    """What ``same`` (sets of recordings with identical content) says of recordings that
    were to be tested but copy a ``train_only`` one, e.g. ``"S002R10.edf has the same
    content as training-only S002R09.edf"`` (``""``: none). ``group_of``: each recording's
    own group before copies are merged (a subject with ``split.by: subject``)."""
    listed = set(train_only)

    def name(rec: str) -> str:
        group = group_of.get(rec, rec)
        return rec if group == rec else f"{rec} (of {group})"

    parts = []
    for members in same:
        trained = [r for r in members if group_of.get(r, r) in listed]
        others = [r for r in members if group_of.get(r, r) not in listed]
        if trained and others:
            verb = "has" if len(others) == 1 else "have"
            parts.append(f"{', '.join(map(name, others))} {verb} the same content as "
                         f"training-only {', '.join(map(name, trained))}")
            whole = sorted({group_of[r] for r in others if group_of.get(r, r) != r})
            if whole:  # a group of several recordings goes with its copy
                parts[-1] += (f", so all of {', '.join(whole)} is trained on with it")
    return "; ".join(parts)


def _listed_names(groups: np.ndarray, split: Mapping[str, Any]) -> np.ndarray:
    """``groups`` with each group that ``split.train_only``/``test_groups`` names by its
    file name only (``S001R03.edf``) relabelled to that name. Recordings are named relative
    to the folder they share, so a run added from another folder turns
    ``S001R03.edf`` into ``data/S001/S001R03.edf``; the config's names still mean it. A name
    that ends two groups' paths is refused as ambiguous."""
    listed = [str(g) for g in [*(split.get("train_only") or []),
                               *(split.get("test_groups") or [])]]
    present = set(groups.tolist())
    out = groups
    for name in dict.fromkeys(listed):
        if name in present:
            continue
        ends = sorted(g for g in present if g.endswith("/" + name.lstrip("/")))
        if len(ends) > 1:
            raise ConfigError(f"split: {name} names more than one recording group "
                              f"({', '.join(ends)}); write enough of the path to tell them "
                              "apart")
        if ends:
            out = np.where(out == ends[0], name, out)
    return out


def make_folds(groups: np.ndarray, split: Mapping[str, Any], y: np.ndarray | None = None,
               *, recording: np.ndarray | None = None,
               files: Sequence[Mapping[str, Any]] | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs from a ``split`` config; groups never straddle a split.

    When ``y`` is given and every group holds one class (Bonn segments, one-label
    recordings), holdout and k-fold splits are stratified: each class's groups are split
    on their own (holdout: ``test_fraction`` of each class's groups, at least one; k-fold:
    each class's shuffled groups dealt round-robin to the folds), so every test side holds
    every class in about the data's proportions (not with ``n_splits: all``: each fold then
    tests one group, so one class, and a warning says so). Otherwise the group splitters of
    :mod:`eegsnn.preprocess.splits` are used as they are.

    ``split.train_only`` names groups that are never tested: the folds are made from the
    other groups, and every fold's training side also gets all windows of these (transfer
    from related recordings, e.g. executed movement runs when imagined ones are tested).

    ``split.method: none`` has no held-out test: no folds (``[]``); the stage runner
    trains ``model/`` on every window instead.

    Given ``recording`` (of every window) and ``files`` (``provenance["files"]``),
    recordings with the same content (file or decoded-signal sha256: a copy under another
    name, ``[raw, raw.copy()]``) are kept on one side of every split: their groups are
    merged (:func:`split_groups`) and a warning names them (``data.json`` lists them under
    ``identical_recordings``).
    """
    if split["method"] == "none":
        return []
    own_groups = np.asarray(groups).astype(str)  # (before copies are merged)
    if split.get("by", "recording") == "recording":
        own_groups = _listed_names(own_groups, split)
    group_of = ({} if recording is None else
                dict(zip(np.asarray(recording).astype(str).tolist(), own_groups.tolist(),
                         strict=True)))
    groups, split, same = split_groups(groups, split, recording=recording, files=files)
    if same:
        log.warning("split: recordings with identical content kept on one side of every "
                    "split: %s", "; ".join(" = ".join(s) for s in same))
        if y is not None and recording is not None:
            conflicts = _label_conflicts(same, np.asarray(recording).astype(str),
                                         np.asarray(y))
            if conflicts:
                log.warning("split: %s: the same content with different labels (a "
                            "mislabelled or misfiled copy?)", "; ".join(conflicts))
    train_only = [str(g) for g in split.get("train_only") or []]
    if train_only:
        missing = sorted(set(train_only) - set(groups.tolist()))
        if missing:
            raise ConfigError(f"split.train_only: no windows of {', '.join(missing)} (the "
                              f"groups are {', '.join(sorted(set(groups.tolist())))})")
        # a copy of a training-only recording joins it (never tested on what it trained on)
        absorbed = _copies_of_train_only(same, train_only, group_of)
        both = sorted(set(train_only) & {str(g) for g in split.get("test_groups") or []})
        if both:
            if absorbed:
                raise DataError(f"split: {absorbed}, so it cannot be tested "
                                "(split.test_groups); remove the duplicate recording")
            raise ConfigError(f"split: {', '.join(both)} listed in both split.test_groups and "
                              "split.train_only (a recording is tested or only trained on)")
        if absorbed:
            log.warning("split: %s: trained on, never tested", absorbed)
        always = np.isin(groups, train_only)
        tested = np.flatnonzero(~always)
        if tested.size == 0:
            if absorbed:
                raise DataError(f"split: {absorbed}, so nothing is left to test; remove the "
                                "duplicate recording or give another one to test")
            raise ConfigError("split.train_only lists every group; nothing is left to test")
        inner = {**split, "train_only": []}
        try:
            sub = make_folds(groups[tested], inner,
                             None if y is None else np.asarray(y)[tested])
        except ConfigError as exc:
            if not absorbed:
                raise
            if split.get("n_splits") == "all":  # the copy took the recording(s) it needed
                raise DataError(f"split: {absorbed}, and then {exc}") from exc
            raise ConfigError(f"{exc} ({absorbed}: trained on, never tested)") from exc
        extra = np.flatnonzero(always)
        return [(np.sort(np.concatenate([tested[tr], extra])), tested[te]) for tr, te in sub]

    method = split["method"]
    seed = int(split["seed"])
    pure = _pure_groups(groups, y) if y is not None and method != "leave_groups_out" else None
    if method == "kfold" and split.get("n_splits") == "all":  # leave one group out
        n_groups = int(np.unique(groups).size)
        if n_groups < 2:
            raise ConfigError(f"split.n_splits: all needs two or more groups to test, there "
                              f"is {n_groups} ({', '.join(np.unique(groups).tolist())})")
        if pure is not None:
            log.warning("split: n_splits: all with recordings of one label each: each of the "
                        "%d folds tests one group of one class (per-fold scores are "
                        "degenerate; read the pooled scores) and trains its own model",
                        n_groups)
        split = {**split, "n_splits": n_groups}
    if pure is not None:
        rng = np.random.default_rng([seed, 31])
        by_class: dict[int, list[str]] = {}
        for g in sorted(pure):
            by_class.setdefault(pure[g], []).append(g)
        if method == "holdout":
            frac = float(split["test_fraction"])
            test_groups = []
            for members in by_class.values():
                order = rng.permutation(len(members))
                n_test = min(len(members) - 1, max(1, round(frac * len(members))))
                test_groups += [members[i] for i in order[:n_test]]
            if not test_groups:
                raise ConfigError("holdout split: no class has two groups to split")
            folds = [leave_groups_out(groups, test_groups)]
        else:
            k = int(split["n_splits"])
            n_groups = len(pure)
            if k < 2 or k > n_groups:
                raise ConfigError(f"split.n_splits must be in [2, {n_groups}] (the number of "
                                  f"groups), got {k}")
            fold_of: dict[str, int] = {}
            offset = 0
            for members in by_class.values():
                order = rng.permutation(len(members))
                for j, i in enumerate(order):
                    fold_of[members[i]] = (offset + j) % k
                offset += len(members)
            wf = np.array([fold_of[g] for g in groups.tolist()])
            folds = [(np.flatnonzero(wf != f), np.flatnonzero(wf == f)) for f in range(k)]
            if any(te.size == 0 or tr.size == 0 for tr, te in folds):
                raise ConfigError(f"split.n_splits={k} leaves a fold without test groups")
    elif method == "holdout":
        folds = [group_train_test_split(groups, float(split["test_fraction"]), seed=seed)]
    elif method == "kfold":
        folds = group_kfold(groups, int(split["n_splits"]), seed=seed)
    else:
        folds = [leave_groups_out(groups, [str(g) for g in split["test_groups"]])]
    for train, test in folds:
        check_disjoint(groups, train, test)
    return folds


def encode_windows(encoder: Any, X: np.ndarray, seed: int = 0) -> Any:
    """Encode ``X [W, C, n]`` in chunks of :data:`ENCODE_CHUNK`: ``mx.array [T, W, L]``.

    Chunk ``i`` of a ``rate`` code uses the PRNG key ``seed + i``, so the spikes of a
    window depend only on the seed and its position.
    """
    parts = []
    for i, start in enumerate(range(0, len(X), ENCODE_CHUNK)):
        chunk = encoder.transform(X[start:start + ENCODE_CHUNK], key=seed + i)
        mx.eval(chunk)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else mx.concatenate(parts, axis=1)


def fit_encoder(cfg: Mapping[str, Any], ws: Any, fit_idx: np.ndarray | None = None
                ) -> EEGEncoder:
    """The encoder of a resolved study config fitted on the windows ``fit_idx`` of ``ws``
    (all: ``None``), with the channel names and recordings that a flat-channel error
    names (``rec1.edf: zero-variance (flat) signal in channel(s) Cz ...``)."""
    X, y = (ws.X, ws.y) if fit_idx is None else (ws.X[fit_idx], ws.y[fit_idx])
    groups = ws.recording if fit_idx is None else ws.recording[fit_idx]
    recs = list(dict.fromkeys(groups.tolist()))
    source = ", ".join(recs[:3]) + (f" (and {len(recs) - 3} more recordings)"
                                     if len(recs) > 3 else "")
    return EEGEncoder(**encoder_params(cfg, ws.sfreq_hz)).fit(
        X, y, ch_names=list(ws.ch_names), source=source, groups=groups)


def encoder_params(cfg: Mapping[str, Any], sfreq_hz: float) -> dict[str, Any]:
    """:class:`~eegsnn.encode.EEGEncoder` arguments of a resolved study config (its
    ``encoder`` section, the data's rate, the training seed unless the section sets one)."""
    params = {k: v for k, v in cfg["encoder"].items()}
    params["sfreq_hz"] = float(sfreq_hz)
    params.setdefault("seed", int(cfg["train"]["seed"]))
    return params


def score_windows(cfg: Mapping[str, Any], ws: Any, idx: np.ndarray, proba: np.ndarray,
                  *, operating_point: Mapping[str, Any] | None = None,
                  threshold: float | np.ndarray | None = None, who: str | None = None,
                  log_warnings: bool = True) -> dict[str, Any]:
    """Window-level report plus recording-level and event-level scores where configured,
    with recording-level bootstrap intervals and single-class warnings
    (:func:`~eegsnn.pipeline.metrics.window_statistics`). ``operating_point`` (the fold's
    choice) or ``threshold`` (a scalar or one per window of ``idx``) adds the metrics at
    the operating threshold, and event metrics then use the thresholded predictions."""
    ev = cfg["evaluate"]
    y = ws.y[idx]
    rep = full_report(y, proba, ws.class_names, ev["positive_class"])
    positive = None if ev["positive_class"] is None else \
        list(ws.class_names).index(str(ev["positive_class"]))
    if threshold is None and operating_point is not None:
        threshold = operating_point.get("threshold")
    rep.update(window_statistics(
        y, proba, ws.class_names, positive, ws.recording[idx], threshold=threshold,
        operating_point=operating_point,
        who=who or str(cfg["model"].get("type", "snn")).upper(), log_warnings=log_warnings))
    if operating_point is not None and "operating_point" not in rep:
        rep["operating_point_skipped"] = dict(operating_point)  # no threshold: arg-max
    if ev["aggregate"]:
        try:
            names, ry, rp = aggregate_recordings(ws.recording[idx], y, proba)
            rec = full_report(ry, rp, ws.class_names, ev["positive_class"])
            rec["n_recordings"] = int(names.size)
            rep["recording_level"] = rec
        except ConfigError as exc:
            rep["recording_level"] = {"skipped": str(exc)}
    if ev["events"] is not None:
        win = cfg["dataset"]["windows"]
        positive = list(ws.class_names).index(str(ev["positive_class"]))
        pred = proba.argmax(axis=1) if "operating_point" not in rep else \
            predict_with_threshold(proba, positive, np.asarray(threshold, dtype=np.float64))
        rep["events"] = event_metrics(
            ws.recording[idx], ws.onset_s[idx], y, pred, positive,
            float(win["window_s"]), float(win.get("step_s") or win["window_s"]),
            int(ev["events"]["min_windows"]))
        rep["events"]["decision"] = "operating threshold" if "operating_point" in rep \
            else "arg-max"
    return rep


def _pooled_thresholds(folds: list[FoldResult]) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Each pooled window's fold threshold ``[N]`` (``None`` unless every fold chose one)
    and the choice shared by the folds (rule, value, on, each fold's threshold)."""
    ops = [f.metrics.get("operating_point") or {} for f in folds]
    if not ops or any(op.get("threshold") is None for op in ops):
        return None, {}
    per_window = np.concatenate([np.full(len(f.test_idx), float(op["threshold"]))
                                 for f, op in zip(folds, ops, strict=True)])
    choice = {k: ops[0].get(k) for k in ("rule", "value", "on", "positive_class")}
    choice["fold_thresholds"] = [float(op["threshold"]) for op in ops]
    return per_window, choice


def _summaries(reports: list[dict[str, Any]]) -> dict[str, Any]:
    out = {m: fold_summary([r.get(m) for r in reports]) for m in SUMMARY_METRICS}
    if reports and "positive" in reports[0]:
        for m in ("sensitivity", "specificity", "roc_auc"):
            out[m] = fold_summary([r["positive"].get(m) for r in reports])
    return out


def aggregate_metrics(cfg: Mapping[str, Any], ws: Any, folds: list[FoldResult]
                      ) -> dict[str, Any]:
    """metrics.json: pooled (every window once, by its fold's model), per fold, summaries."""
    out: dict[str, Any] = {
        "study": cfg["name"], "pipeline": cfg["pipeline"],
        "split": {k: cfg["split"][k] for k in ("method", "by", "train_only")},
        "n_folds": len(folds),
        "class_names": list(ws.class_names), "balance": cfg["balance"],
        "class_counts": class_counts(ws.y, ws.class_names), "seed": int(cfg["train"]["seed"]),
        "model_type": cfg["model"].get("type", "snn"),
    }
    if not folds:
        return out
    test = np.concatenate([f.test_idx for f in folds])
    proba = np.concatenate([f.proba for f in folds])
    thresholds, choice = _pooled_thresholds(folds)
    pooled = score_windows(cfg, ws, test, proba, threshold=thresholds,
                           operating_point=choice or None,
                           log_warnings=len(folds) > 1)  # (one fold: logged as the fold's)
    rates = {name: float(np.mean([f.firing_rates[name] for f in folds]))
             for name in folds[0].firing_rates}
    out["snn"] = {"pooled": pooled, "folds": [f.metrics for f in folds],
                  "summary": _summaries([f.metrics for f in folds]), "firing_rates": rates}
    out.update(model_class(cfg["model"]).summarize(cfg, [f.metrics for f in folds],
                                                   [f.firing_rates for f in folds]))
    raw = [w for f in folds for w in f.metrics.get("warnings", [])]
    notes = list(dict.fromkeys([f"fold {f.index}: {w}" for f in folds  # name the fold
                                for w in f.metrics.get("warnings", [])]
                               + [w for w in pooled.get("warnings", []) if w not in raw]))
    for key in ("accuracy", "balanced_accuracy", "cohen_kappa", "f1_macro"):
        out[key] = pooled[key]
    if "positive" in pooled:
        out["sensitivity"] = pooled["positive"]["sensitivity"]
        out["specificity"] = pooled["positive"]["specificity"]
        out["roc_auc"] = pooled["positive"]["roc_auc"]
    out["bootstrap"] = pooled["bootstrap"]
    if "operating_point" in pooled:
        out["operating_point"] = pooled["operating_point"]
    if folds[0].baseline_proba is not None:
        bproba = np.concatenate([f.baseline_proba for f in folds])
        bpooled = score_windows(cfg, ws, test, bproba, who=f"baseline {cfg['baseline']['type']}",
                                log_warnings=len(folds) > 1)
        notes += [w for w in bpooled.get("warnings", []) if w not in notes]
        out["baseline"] = {"type": cfg["baseline"]["type"], "config": cfg["baseline"],
                           "pooled": bpooled,
                           "folds": [f.baseline_metrics for f in folds],
                           "summary": _summaries([f.baseline_metrics or {} for f in folds])}
        out["mcnemar"] = mcnemar_exact(ws.y[test], proba.argmax(axis=1), bproba.argmax(axis=1),
                                       names=("snn", "baseline"))
    if notes:
        out["warnings"] = notes
    return out

