"""The summary ``eegsnn train`` and ``eegsnn evaluate`` print: one printer for both.

SNN (or LSM) and baseline scores side by side on the same windows: window-level accuracy
with its interval, balanced accuracy, kappa, macro-F1; the positive class against the
rest; whole recordings (mean probability of their windows) with their interval; recall
per class. Not a CLI group (no ``register``): a helper of the ``train`` and ``evaluate``
commands. It reads the metrics dictionaries only (``metrics.json``), nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["intervals_lines", "print_decision_and_comparison", "print_energy", "print_scores",
           "print_summary", "trained_on_line"]


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None or ci[0] != ci[0]:  # None or nan
        return ""
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def _num(v: Any, fmt: str = ".4f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _windows(n: Any) -> str:
    """``"1 window"``, ``"3 windows"``."""
    return f"{n} window{'' if int(n) == 1 else 's'}"


def _boot(boot: dict[str, Any] | None, metric: str) -> str:
    """`` [lo, hi]`` of ``metric`` from a recording-level (cluster) ``bootstrap`` record;
    `` (interval not estimable: every resample gives 1.000)`` where the resamples of a
    score all agree; ``""`` without an interval (the intervals note says why)."""
    rec = ((boot or {}).get("metrics") or {}).get(metric) or {}
    ci = _ci(rec.get("ci95"))
    method = str(rec.get("method") or "")
    if not ci and method.startswith("interval not estimable"):
        return f" ({method})"
    return ci


def _acc_ci(rep: dict[str, Any]) -> str:
    """Accuracy's interval: the recording-level one, else the window-level Wilson interval
    named as such (windows taken as independent)."""
    rec_ci = _boot(rep.get("bootstrap"), "accuracy")
    if rec_ci:
        return rec_ci
    wilson = _ci(rep.get("accuracy_ci"))
    return f"{wilson} (window Wilson)" if wilson else ""


def intervals_lines(boot: dict[str, Any] | None, shown: tuple[str, ...] | None = None,
                    header: bool = True) -> list[str]:
    """The lines saying which intervals a ``bootstrap`` record gives: ``95 % cluster
    bootstrap over N recordings`` where any metric has one (``header``), and every other
    method (exact fallback, not estimated with too few recordings, not estimable), of the
    metrics ``shown`` (default: all)."""
    if not boot:
        return []
    from eegsnn.evaluate.stats import BOOTSTRAP_METHOD, interval_note

    lines = []
    metrics = {k: v for k, v in (boot.get("metrics") or {}).items()
               if shown is None or k in shown}
    boot = dict(boot, metrics=metrics)
    methods = [(r or {}).get("method") for r in metrics.values()]
    resampled = int(boot.get("n_clusters") or 0) >= int(boot.get("min_clusters", 2))
    if header and (resampled or BOOTSTRAP_METHOD in methods):  # exceptions: the note
        lines.append(f"intervals: 95 % cluster bootstrap over {boot.get('n_clusters')} "
                     f"{boot.get('cluster', 'recording')}s")
    note = interval_note(boot)
    if note:
        lines.append(note)
    return lines


def _block(name: str, rep: dict[str, Any], scope: str) -> None:
    """Lines of one model's report ``rep`` (a :func:`~eegsnn.pipeline.metrics.full_report`
    with ``recording_level``, ``events`` and ``bootstrap`` where scored). Intervals are the
    95 % recording-level bootstrap (windows of one recording resampled together) when the
    report has one; the accuracy falls back to the window-level Wilson interval, labelled
    ``(window Wilson)``; a line names every interval that is not the bootstrap's."""
    boot = rep.get("bootstrap")
    typer.echo(f"{name} {scope}accuracy {rep['accuracy']:.4f}{_acc_ci(rep)}  "
               f"balanced {rep['balanced_accuracy']:.4f}{_boot(boot, 'balanced_accuracy')}  "
               f"kappa {rep['cohen_kappa']:.3f}{_boot(boot, 'cohen_kappa')}  "
               f"macro-F1 {rep['f1_macro']:.4f}{_boot(boot, 'f1_macro')}")
    if isinstance(rep.get("positive"), dict):
        pos = rep["positive"]
        typer.echo(f"  {pos['class']} vs rest: sensitivity {_num(pos['sensitivity'])}"
                   f"{_boot(boot, 'sensitivity')}  specificity {_num(pos['specificity'])}"
                   f"{_boot(boot, 'specificity')}  ROC-AUC {_num(pos['roc_auc'])}"
                   f"{_boot(boot, 'roc_auc')}")
        fixed = _fixed_rates(pos)
        if fixed:
            typer.echo(f"  {fixed}")
    for line in intervals_lines(boot):
        typer.echo(f"  [{line}]")
    rec = rep.get("recording_level")
    if rec and "accuracy" in rec:
        typer.echo(f"  whole recordings ({rec['n_recordings']}): accuracy "
                   f"{rec['accuracy']:.4f}{_ci(rec.get('accuracy_ci'))}  balanced "
                   f"{rec['balanced_accuracy']:.4f}")
    if "events" in rep:
        ev = rep["events"]
        fa = ev["false_alarms_per_hour"]
        typer.echo(f"  events: {ev['detected']}/{ev['events']} detected, "
                   f"{'n/a' if fa is None else f'{fa:.2f}'} false alarms per hour")


def _fixed_rates(pos: dict[str, Any]) -> str:
    """``sensitivity at specificity >= 0.90: 0.950, ...; specificity at sensitivity >= ...``
    of a ``positive`` block (read off the scored windows' own ROC curve); ``""`` without."""
    parts = []
    for key, what, given in (("sensitivity_at_specificity", "sensitivity", "specificity"),
                             ("specificity_at_sensitivity", "specificity", "sensitivity")):
        values = pos.get(key) or {}
        if values:
            parts.append(f"{what} at {given} " + ", ".join(
                f">= {float(r):.2f}: {_num(v, '.3f')}" for r, v in values.items()))
    return "; ".join(parts) + (" (read off these windows' ROC curve)" if parts else "")


def print_scores(rep: dict[str, Any], baseline: dict[str, Any] | None, *, family: str,
                 scope: str, counts: str) -> None:
    """Model and baseline side by side.

    Args:
        rep: the model's report of the windows (``accuracy``, ``per_class``, ...).
        baseline: ``{"type": name, "pooled": report}`` of the same windows, or ``None``.
        family: ``"SNN"`` or ``"LSM"``.
        scope: words before "accuracy" (``"held-out "``, ``""``).
        counts: what was scored, e.g. ``"5 fold(s), 2000 windows"``.
    """
    typer.echo(f"scored: {counts}")
    _block(family, rep, scope)
    brep = None if baseline is None else baseline.get("pooled")
    if brep:
        _block(f"baseline {baseline['type']}:", brep, "")  # type: ignore[index]
    names = rep.get("class_names") or []
    per = rep.get("per_class") or {}
    if names and per.get("recall") is not None:
        width = max(12, *(len(n) + 2 for n in names))
        support = [int(s) for s in per["support"]]

        def recall(values: list[Any]) -> list[str]:  # n/a for a class with no windows
            return [_num(r if n else None, ".3f") for r, n in zip(values, support, strict=True)]

        rows = [("windows", [str(n) for n in support]), (f"{family} recall", recall(per["recall"]))]
        bper = (brep or {}).get("per_class") or {}
        if bper.get("recall") is not None:
            rows.append(("baseline recall", recall(bper["recall"])))
        label_w = max(len(r[0]) for r in rows) + 2
        typer.echo("  per class".ljust(label_w + 2) + "".join(n.rjust(width) for n in names))
        for label, cells in rows:
            typer.echo(f"  {label}".ljust(label_w + 2) + "".join(c.rjust(width)
                                                                  for c in cells))


def print_energy(synops: dict[str, Any] | None) -> None:
    """The ``energy:`` line of a model's synaptic operations and energy per prediction
    (``metrics.json``'s ``synops``, :func:`eegsnn.evaluate.energy.describe`); nothing for
    ``None`` (a run from before the count). The encoder front-end's operations, when
    counted, follow on their own line (not included in the network's number)."""
    if synops:
        from eegsnn.evaluate.energy import describe, describe_encoder

        typer.echo(f"  energy: {describe(synops)}")
        front = describe_encoder(synops)
        if front:
            typer.echo(f"  encoder front-end: {front}")


def print_decision_and_comparison(m: dict[str, Any], op: dict[str, Any] | None) -> None:
    """The lines after the scores: the model at its operating point ``op`` (binary tasks;
    ``threshold`` is a number, or one per fold for pooled k-fold results), its energy per
    prediction, McNemar's test against the baseline on the same windows, and warnings
    (a model predicting a single class, ...) on stderr. ``m``: ``metrics.json`` of a run
    or of an evaluation (keys ``synops``, ``mcnemar``, ``warnings``)."""
    if op:
        how = "--threshold" if op.get("rule") == "given" else (
            f"{op['rule']}" + (f" {op['value']:g}" if op.get("value") is not None else "")
            + f", chosen on the {op.get('on', 'training')} windows")
        thr = op["threshold"]
        thr_text = (", ".join(f"{t:.4g}" for t in thr) + " (per fold)"
                    if isinstance(thr, list) else f"{thr:.4g}")
        ob = op.get("bootstrap")
        typer.echo(f"  at threshold {thr_text} ({how}): sensitivity "
                   f"{_num(op.get('sensitivity'))}{_boot(ob, 'sensitivity')}  specificity "
                   f"{_num(op.get('specificity'))}{_boot(ob, 'specificity')}  accuracy "
                   f"{_num(op.get('accuracy'))}{_boot(ob, 'accuracy')}")
        for line in intervals_lines(ob, ("sensitivity", "specificity", "accuracy"),
                                    header=False):
            typer.echo(f"    [at the threshold: {line}]")
    print_energy(m.get("synops") or (m.get("snn") or {}).get("synops"))
    if "mcnemar" in m:
        mc = m["mcnemar"]
        typer.echo(f"  McNemar exact, SNN vs baseline on the same windows: "
                   f"{_windows(mc['snn_only_correct'])} right only by the SNN, "
                   f"{mc['baseline_only_correct']} only by the baseline, p = {mc['p_value']:.3g}")
    for note in m.get("warnings", []):
        typer.echo(f"warning: {note}", err=True)


def trained_on_line(about: dict[str, Any] | None) -> str:
    """One line saying what a run's ``model/`` was trained on (its ``about.json``)."""
    if not about:
        return "model/: what it was trained on is not recorded (a run from an older eegsnn)"
    t = about.get("trained_on")
    if not t:
        return f"model/: {about.get('note', 'not recorded')}"
    scope = "all " if t.get("all_windows") else ""
    val = t.get("val_fraction") or 0
    if "validation_windows" in t:  # fitted on / held out for early stopping, exactly
        inner = (f" (+ {t['validation_windows']} validation windows / "
                 f"{t['validation_recordings']} recordings held out for early stopping)"
                 if t["validation_windows"] else "")
    else:
        inner = f", {val:g} of its recordings held out for validation" if val else ""
    return (f"model/ trained on {scope}{t['windows']} windows / {t['recordings']} recordings"
            f"{inner}: {about.get('note', '')}")


def print_summary(m: dict[str, Any], out: Path | None) -> None:
    """The summary of a run's ``metrics.json`` (what ``eegsnn train`` prints)."""
    if "snn" not in m:
        about = m.get("final_model")
        if (m.get("split") or {}).get("method") == "none" and about:
            t = about["trained_on"]
            run = out if out is not None else "RUN"
            scope = "all " if t.get("all_windows", True) else ""
            val = (f" (+ {t['validation_windows']} validation windows / "
                   f"{t['validation_recordings']} recordings)"
                   if t.get("validation_windows") else "")
            typer.echo(f"trained on {scope}{t['windows']} windows / {t['recordings']} "
                       f"recordings{val}; no held-out evaluation in this run — use `eegsnn "
                       f"evaluate {run} DATA`")
        else:
            typer.echo("no folds were trained")
    else:
        p = m["snn"]["pooled"]
        family = "LSM" if m.get("model_type") == "lsm" else "SNN"
        rec = p.get("recording_level") or {}
        n_rec = f", {rec['n_recordings']} recordings" if "n_recordings" in rec else ""
        print_scores(p, m.get("baseline"), family=family, scope="held-out ",
                     counts=f"{m['n_folds']} fold(s), {p['n_samples']} held-out windows"
                            f"{n_rec}")
        print_decision_and_comparison(m, p.get("operating_point"))
        if m.get("final_model"):
            typer.echo(trained_on_line(m["final_model"]))
    if out is not None:
        typer.echo(f"run folder {out}")
        for name in ("report.html", "report.md"):
            if (out / name).is_file():
                typer.echo(f"report {out / name}")
