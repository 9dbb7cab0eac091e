"""Motor imagery across subjects: the four task configs on every EEGMMIDB subject you have.

The shipped motor-imagery configs (``configs/eegmmidb_{imagery_lr,real_lr,imagery_ff,
real_ff}.yaml``) are written for subject S001's runs in ``../shared``, where each task has
two runs. The full PhysioNet EEG Motor Movement/Imagery Database has 109 subjects with three
runs per task (R03-R14); download it yourself (``mne.datasets.eegbci`` knows the layout).
This script runs each config, unchanged but for its recordings, on every subject found
under ROOT: leave one tested run out (``n_splits: all``), the other movement type's runs of
the same two classes on the training side only (``split.train_only``), CSP + LDA fitted on
the same training windows of every fold. It then compares the SNN with CSP + LDA *across
subjects*, the check that one subject's 30 trials per task cannot give; ``--baseline
ts_lr`` compares it with tangent space + logistic regression instead (the ``riemann``
extra; its runs go to ``TASK-seedN-ts_lr``, its summary to ``summary-ts_lr.json``).

==========  ======================  ============================
task        tested runs             training-only runs
==========  ======================  ============================
imagery_lr  R04, R08, R12           R03, R07, R11 (executed)
real_lr     R03, R07, R11           R04, R08, R12 (imagined)
imagery_ff  R06, R10, R14           R05, R09, R13 (executed)
real_ff     R05, R09, R13           R06, R10, R14 (imagined)
==========  ======================  ============================

Usage::

    python scripts/mi_subjects.py ROOT [--subjects 1-20,42] [--tasks imagery_lr,real_lr]
                                  [--seeds 0,1,2] [--out runs/mi_subjects] [--set KEY=VALUE]
                                  [--baseline csp_lda|ts_lr] [--overwrite]

ROOT is searched recursively (symbolic links followed) for ``S###R##.edf``. Each (subject,
task, seed) is one ``eegsnn train`` run in ``OUT/S###/TASK-seedN`` (no report); running
the command again skips finished runs and resumes unfinished ones, as ``eegsnn train``
does. ``--set`` overrides apply to every run and are checked once before any run (e.g.
``--set train.epochs=30``); runs already in OUT with other overrides are refused, so change
them with a new ``--out`` or ``--overwrite``. A subject with fewer than two tested runs of
a task is skipped for that task; one without the training-only runs is run without them
and counted apart (``protocols`` in the summary); a run that fails is recorded with its
error and the others go on; Ctrl-C stops after writing the summary of the runs so far.

The summary covers the subjects, tasks and seeds of this command only: to add subjects,
run it again with the whole range (finished runs are read, not trained again). Prints, per
task, the subjects' mean accuracies, the mean paired difference SNN - baseline with its
95 % t-interval, wins / ties / losses and Wilcoxon's signed-rank test (two-sided: below 6
subjects with a difference its p cannot fall below 0.05), and writes every number to
``OUT/summary.json`` (``summary-ts_lr.json`` with ``--baseline ts_lr``). Exit status: 0
when every run finished, 1 when one failed, 2 for bad arguments (or nothing to run), 130
when interrupted. A run took 17-32 s on the shared
2-core machine for a subject laid out as S001 in ``../shared`` (two tested, two
training-only runs; three of each, as in the full database, take longer); 109 subjects x 4
tasks, one seed: hours.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: task -> (tested runs, training-only runs), EEGMMIDB run numbers
TASK_RUNS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "imagery_lr": ((4, 8, 12), (3, 7, 11)),
    "real_lr": ((3, 7, 11), (4, 8, 12)),
    "imagery_ff": ((6, 10, 14), (5, 9, 13)),
    "real_ff": ((5, 9, 13), (6, 10, 14)),
}
_NAME = re.compile(r"^S(\d{3})R(\d{2})\.edf$", re.IGNORECASE)
#: the baselines the SNN can be compared with (``--baseline``), as the tables name them
BASELINE_NAMES = {"csp_lda": "CSP + LDA", "ts_lr": "tangent space + LR"}
#: the configs' own baseline: its runs and summary keep the names they had before
#: ``--baseline`` (no suffix), and it needs no override
CONFIGS_BASELINE = "csp_lda"


def find_recordings(root: Path) -> tuple[dict[int, dict[int, Path]], list[str]]:
    """``{subject: {run: path}}`` of the ``S###R##.edf`` files below ``root`` (folders
    reached through symbolic links included, each real folder once), and a note for each
    subject and run found twice (two copies: the first one found is kept; a folder's files
    are walked, in name order, before its subfolders, also in name order)."""
    found: dict[int, dict[int, Path]] = {}
    notes: list[str] = []
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back to a folder already walked (or a cycle)
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            match = _NAME.match(name)
            path = Path(folder) / name
            if not match or not path.is_file():
                continue
            runs = found.setdefault(int(match[1]), {})
            run = int(match[2])
            if run in runs:
                notes.append(f"{path}: a second copy of {runs[run].name}; "
                             f"{runs[run]} is used")
            else:
                runs[run] = path
    return found, notes


def parse_subjects(text: str) -> list[int]:
    """``"1-3,7"`` -> ``[1, 2, 3, 7]``; ``ValueError`` naming the bad part."""
    subjects: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"{part!r} is not a number or a range like 1-20") from None
        if first < 1 or last < first:
            raise ValueError(f"bad range {part!r}")
        subjects.update(range(first, last + 1))
    return sorted(subjects)


def plan(recordings: dict[int, dict[int, Path]], subjects: Sequence[int],
         tasks: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per (subject, task): its tested recordings and training-only ones, or why
    it is skipped (``"skip"``)."""
    items = []
    for subject in subjects:
        runs = recordings.get(subject, {})
        for task in tasks:
            tested_runs, extra_runs = TASK_RUNS[task]
            tested = [runs[r] for r in tested_runs if r in runs]
            train_only = [runs[r] for r in extra_runs if r in runs]
            item: dict[str, Any] = {"subject": f"S{subject:03d}", "task": task,
                                    "tested": tested, "train_only": train_only,
                                    "protocol": f"{len(tested)} tested, "
                                                f"{len(train_only)} training-only runs"}
            if len(tested) < 2:
                have = ", ".join(p.name for p in tested) or "none"
                item["skip"] = (f"fewer than two tested runs of {task} "
                                f"(R{', R'.join(f'{r:02d}' for r in tested_runs)}; found {have})")
            items.append(item)
    return items


def summary_name(baseline: str) -> str:
    """``summary.json`` for CSP + LDA, ``summary-ts_lr.json`` for another baseline: the two
    comparisons, made into one OUT, keep their own summaries (as their runs keep their own
    folders)."""
    return "summary.json" if baseline == CONFIGS_BASELINE else f"summary-{baseline}.json"


def run_overrides(sets: Sequence[str], baseline: str) -> list[str]:
    """The ``--set`` overrides of every run: the user's, then the baseline's type (the
    configs' own, CSP + LDA, needs none)."""
    return [*sets, *([] if baseline == CONFIGS_BASELINE else [f"baseline.type={baseline}"])]


def run_one(item: dict[str, Any], seed: int, out: Path, sets: Sequence[str],
            overwrite: bool = False, baseline: str = CONFIGS_BASELINE) -> dict[str, Any]:
    """``eegsnn train`` on one (subject, task, seed); its accuracies, or its error.

    Raises:
        KeyboardInterrupt: the run was interrupted (Ctrl-C); it stays unfinished in its
            folder, and the same command resumes it.
    """
    from eegsnn.cli import main as eegsnn_main

    run_dir = out / item["subject"] / (f"{item['task']}-seed{seed}"
                                       + ("" if baseline == CONFIGS_BASELINE else f"-{baseline}"))
    config = ROOT / "configs" / f"eegmmidb_{item['task']}.yaml"
    names = [p.name for p in item["train_only"]]
    description = (f"EEGMMIDB {item['subject']}, task {item['task']} ({item['protocol']}; "
                   "scripts/mi_subjects.py)")
    argv = ["train", *[str(p) for p in [*item["tested"], *item["train_only"]]],
            "--config", str(config), "--set", f"split.train_only={json.dumps(names)}",
            "--set", f"train.seed={seed}", "--set", f"description={json.dumps(description)}",
            *[a for s in run_overrides(sets, baseline) for a in ("--set", s)],
            "--report", "none", "--out", str(run_dir), "--quiet", "--no-progress",
            *(["--overwrite"] if overwrite else [])]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = eegsnn_main(argv)
    if code == 130:
        raise KeyboardInterrupt(str(run_dir))
    row: dict[str, Any] = {"subject": item["subject"], "task": item["task"], "seed": seed,
                           "protocol": item["protocol"], "run": str(run_dir)}
    if code != 0:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        message = lines[-1] if lines else f"exit code {code}"
        row["error"] = message.removeprefix("error: ")
        return row
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    row.update(snn=float(metrics["accuracy"]),
               baseline=float(metrics["baseline"]["pooled"]["accuracy"]),
               n_trials=int(metrics["snn"]["pooled"]["n_samples"]),
               n_folds=int(metrics["n_folds"]))
    return row


def summarize(rows: Sequence[dict[str, Any]], tasks: Sequence[str]) -> dict[str, Any]:
    """Per task, over the subjects with a result: mean accuracies (the SNN's averaged over
    seeds first), the paired differences SNN - baseline (mean, 95 % t-interval, wins /
    ties / losses) and Wilcoxon's signed-rank test of them (two-sided; zero differences
    dropped; ``None`` when every difference is zero)."""
    from scipy import stats

    out: dict[str, Any] = {}
    for task in tasks:
        per_subject: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["task"] == task and "error" not in row:
                entry = per_subject.setdefault(row["subject"], {"snn": [], "baseline": None})
                entry["snn"].append(row["snn"])
                entry["baseline"] = row["baseline"]
        snn = [sum(e["snn"]) / len(e["snn"]) for e in per_subject.values()]
        base = [e["baseline"] for e in per_subject.values()]
        diffs = [a - b for a, b in zip(snn, base, strict=True)]
        n = len(diffs)
        summary: dict[str, Any] = {"n_subjects": n}
        protocols = sorted({r["protocol"] for r in rows
                            if r["task"] == task and "error" not in r and "protocol" in r})
        if len(protocols) > 1:  # subjects with fewer runs pooled with the others
            summary["protocols"] = {
                p: sorted({r["subject"] for r in rows if r["task"] == task
                           and "error" not in r and r.get("protocol") == p})
                for p in protocols}
        if n:
            mean = sum(diffs) / n
            summary.update(snn_mean=sum(snn) / n, baseline_mean=sum(base) / n,
                           diff_mean=mean, wins=sum(d > 1e-12 for d in diffs),
                           ties=sum(abs(d) <= 1e-12 for d in diffs),
                           losses=sum(d < -1e-12 for d in diffs))
            if n >= 2:
                sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
                half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
                summary["diff_ci95"] = [mean - half, mean + half]
            nonzero = [d for d in diffs if abs(d) > 1e-12]
            summary["wilcoxon_p"] = (float(stats.wilcoxon(nonzero).pvalue) if nonzero
                                     else None)
        out[task] = summary
    return out


def _write_json(path: Path, data: Any) -> None:
    """Write through a temporary file and a rename: never a half-written summary."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _names_baseline_type(override: str) -> bool:
    """Whether a ``--set`` override gives the baseline's type: ``baseline.type=...``,
    ``baseline=NAME`` or ``baseline=null``, ``baseline={type: ...}`` (not
    ``baseline={C: 0.5}`` or ``baseline.C=0.5``: options of whichever type)."""
    from eegsnn.pipeline.config import parse_override

    parts, value = parse_override(override)
    if [p.strip() for p in parts] == ["baseline", "type"]:
        return True
    return [p.strip() for p in parts] == ["baseline"] and (
        not isinstance(value, dict) or "type" in value)


def check_overrides(tasks: Sequence[str], sets: Sequence[str],
                    baseline: str = CONFIGS_BASELINE) -> None:
    """Resolve each task's config with the ``--set`` overrides once, before any run: a bad
    override is one error, not one per run. The comparison is with ``baseline``, so an
    override that changes the baseline's type (or removes it) is refused: its scores would
    be summarised as that baseline's (``--baseline`` chooses it). Raises ConfigError."""
    from eegsnn.errors import ConfigError
    from eegsnn.pipeline import load_study_config

    # a type the user's own overrides give must be --baseline's: the type --baseline adds
    # after them would override theirs silently
    names_type = any(_names_baseline_type(o) for o in sets)
    checks = [list(sets)] if baseline == CONFIGS_BASELINE or names_type else []
    if baseline != CONFIGS_BASELINE:
        checks.append(run_overrides(sets, baseline))
    for task in tasks:
        path = ROOT / "configs" / f"eegmmidb_{task}.yaml"
        for given in checks:
            cfg = load_study_config(path, given)
            kind = (cfg.get("baseline") or {}).get("type")
            if kind != baseline:
                options = (" (its options, e.g. baseline.n_components, may be changed)"
                           if baseline == CONFIGS_BASELINE else "")
                raise ConfigError(f"this script compares the SNN with "
                                  f"{BASELINE_NAMES[baseline]} (--baseline {baseline}); the "
                                  f"overrides make the baseline {kind or 'none'}; --baseline "
                                  f"chooses it{options}")


def _report(rows: list[dict[str, Any]], skipped: list[dict[str, Any]], notes: list[str],
            tasks: Sequence[str], subjects: Sequence[int], seeds: Sequence[int],
            args: argparse.Namespace) -> dict[str, Any]:
    """Write ``OUT/summary.json`` (:func:`summary_name`) and print the per-task table; the
    summary."""
    summary = summarize(rows, tasks)
    _write_json(args.out / summary_name(args.baseline),
                {"root": str(args.root), "subjects": [f"S{s:03d}" for s in subjects],
                 "tasks": list(tasks), "seeds": list(seeds), "overrides": args.sets,
                 "baseline": args.baseline,
                 "rows": rows, "skipped": skipped, "notes": notes, "summary": summary})
    name = BASELINE_NAMES[args.baseline]
    print(f"\n| task | subjects | SNN | {name} | SNN - {name} [95 % CI] "
          "| wins / ties / losses | Wilcoxon p |")
    print("|---|---|---|---|---|---|---|")
    for task, s in summary.items():
        if not s["n_subjects"]:
            print(f"| {task} | 0 | - | - | - | - | - |")
            continue
        ci = s.get("diff_ci95")
        ci_text = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""
        p = s["wilcoxon_p"]
        print(f"| {task} | {s['n_subjects']} | {_pct(s['snn_mean'])} | "
              f"{_pct(s['baseline_mean'])} | {100 * s['diff_mean']:+.1f} points{ci_text} | "
              f"{s['wins']} / {s['ties']} / {s['losses']} | "
              f"{'-' if p is None else f'{p:.3g}'} |")
    for task, s in summary.items():
        for protocol, who in s.get("protocols", {}).items():
            print(f"{task}: {protocol}: {', '.join(who)}")
    for item in skipped:
        print(f"skipped {item['subject']} {item['task']}: {item['skip']}")
    for note in notes:
        print(f"note: {note}")
    for row in rows:
        if "error" in row:
            print(f"failed {row['subject']} {row['task']} seed {row['seed']}: "
                  f"{row['error']}")
    print(f"\n{args.out / summary_name(args.baseline)}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path,
                        help="folder holding S###R##.edf files (any depth, links followed)")
    parser.add_argument("--subjects", default="1-109", help="e.g. 1-20,42 (default 1-109)")
    parser.add_argument("--tasks", default=",".join(TASK_RUNS),
                        help=f"comma list of {', '.join(TASK_RUNS)} (default: all)")
    parser.add_argument("--seeds", default="0", help="comma list of training seeds (0)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "mi_subjects")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run")
    parser.add_argument("--baseline", choices=list(BASELINE_NAMES), default=CONFIGS_BASELINE,
                        help="the baseline the SNN is compared with (default csp_lda, the "
                             "configs'; ts_lr: tangent space + logistic regression)")
    parser.add_argument("--overwrite", action="store_true",
                        help="train every run again, replacing the runs in OUT")
    args = parser.parse_args(argv)
    tasks = list(dict.fromkeys(t.strip() for t in args.tasks.split(",") if t.strip()))
    unknown = [t for t in tasks if t not in TASK_RUNS]
    if unknown:
        parser.error(f"--tasks: unknown {unknown}; known: {', '.join(TASK_RUNS)}")
    try:
        seeds = list(dict.fromkeys(int(s) for s in args.seeds.split(",") if s.strip()))
        wanted = parse_subjects(args.subjects)
    except ValueError as exc:
        parser.error(f"--seeds / --subjects: {exc}")
    if not args.root.is_dir():
        parser.error(f"{args.root}: not a folder")
    from eegsnn.errors import ConfigError

    try:
        check_overrides(tasks, args.sets, args.baseline)
    except ConfigError as exc:
        parser.error(f"--set: {exc}")
    recordings, notes = find_recordings(args.root)
    subjects = [s for s in wanted if s in recordings]
    if not subjects:
        parser.error(f"{args.root}: no S###R##.edf recordings of subjects {args.subjects}")
    items = plan(recordings, subjects, tasks)
    if all("skip" in it for it in items):
        for it in items:
            print(f"skipped {it['subject']} {it['task']}: {it['skip']}", file=sys.stderr)
        parser.error("nothing to run: every subject was skipped for every task")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--out {args.out}: cannot create it ({exc.strerror})")
    rows: list[dict[str, Any]] = []
    skipped = [{k: it[k] for k in ("subject", "task", "skip")} for it in items if "skip" in it]
    try:
        for item in (it for it in items if "skip" not in it):
            for seed in seeds:
                row = run_one(item, seed, args.out, args.sets, args.overwrite, args.baseline)
                rows.append(row)
                result = (f"error: {row['error']}" if "error" in row else
                          f"SNN {_pct(row['snn'])}, {BASELINE_NAMES[args.baseline]} "
                          f"{_pct(row['baseline'])} "
                          f"({row['n_trials']} trials, {row['n_folds']} folds; "
                          f"{row['protocol']})")
                print(f"{item['subject']} {item['task']:10s} seed {seed}: {result}",
                      flush=True)
    except KeyboardInterrupt as exc:
        resumes = ("the same command without --overwrite resumes it" if args.overwrite
                   else "the same command resumes it")
        unfinished = f": {exc} holds an unfinished run ({resumes})" if str(exc) else ""
        print(f"Aborted{unfinished}; the summary covers the runs before it",
              file=sys.stderr)
        _report(rows, skipped, notes, tasks, subjects, seeds, args)
        return 130
    _report(rows, skipped, notes, tasks, subjects, seeds, args)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # outside the runs (searching ROOT, checking --set): one line
        print("Aborted", file=sys.stderr)
        raise SystemExit(130) from None
