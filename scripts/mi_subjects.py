"""Motor imagery across subjects: the four task configs on every EEGMMIDB subject you have.

The shipped motor-imagery configs (``configs/eegmmidb_{imagery_lr,real_lr,imagery_ff,
real_ff}.yaml``) are written for subject S001's runs in ``../shared``, where each task has
two runs. The full PhysioNet EEG Motor Movement/Imagery Database has 109 subjects with three
runs per task (R03-R14); download it yourself (``mne.datasets.eegbci`` knows the layout).
This script runs each config, unchanged but for its recordings, on every subject found
under ROOT: leave one tested run out (``n_splits: all``), the other movement type's runs of
the same two classes on the training side only (``split.train_only``), CSP + LDA fitted on
the same training windows of every fold. It then compares the SNN with CSP + LDA *across
subjects*, the check that one subject's 30 trials per task cannot give.

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

ROOT is searched recursively for ``S###R##.edf``. Each (subject, task, seed) is one
``eegsnn train`` run in ``OUT/S###/TASK-seedN`` (no report); running the command again
skips finished runs and resumes unfinished ones, as ``eegsnn train`` does. ``--set``
overrides apply to every run (e.g. ``--set train.epochs=30``). A subject with fewer than two
tested runs of a task is skipped for that task; a run that fails is recorded with its error
and the others go on. Prints, per task, the subjects' mean accuracies, the mean paired
difference SNN - CSP + LDA with its 95 % t-interval, wins / ties / losses and Wilcoxon's
signed-rank test, and writes every number to ``OUT/summary.json``. About 15-20 s per run
on 2 cores (109 subjects x 4 tasks, one seed: about 2.5 hours).
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


def find_recordings(root: Path) -> dict[int, dict[int, Path]]:
    """``{subject: {run: path}}`` of the ``S###R##.edf`` files below ``root``; a subject
    and run found twice (two copies) keeps the first path in sorted order."""
    found: dict[int, dict[int, Path]] = {}
    for path in sorted(root.rglob("*")):
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.setdefault(int(match[1]), {}).setdefault(int(match[2]), path)
    return found


def parse_subjects(text: str) -> list[int]:
    """``"1-3,7"`` -> ``[1, 2, 3, 7]``."""
    subjects: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise SystemExit(f"--subjects: {part!r} is not a number or a range like 1-20"
                             ) from None
        if first < 1 or last < first:
            raise SystemExit(f"--subjects: bad range {part!r}")
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
                                    "tested": tested, "train_only": train_only}
            if len(tested) < 2:
                have = ", ".join(p.name for p in tested) or "none"
                item["skip"] = (f"fewer than two tested runs of {task} "
                                f"(R{', R'.join(f'{r:02d}' for r in tested_runs)}; found {have})")
            items.append(item)
    return items


def run_one(item: dict[str, Any], seed: int, out: Path, sets: Sequence[str]) -> dict[str, Any]:
    """``eegsnn train`` on one (subject, task, seed); its accuracies, or its error."""
    from eegsnn.cli import main as eegsnn_main

    run_dir = out / item["subject"] / f"{item['task']}-seed{seed}"
    config = ROOT / "configs" / f"eegmmidb_{item['task']}.yaml"
    names = [p.name for p in item["train_only"]]
    argv = ["train", *[str(p) for p in [*item["tested"], *item["train_only"]]],
            "--config", str(config), "--set", f"split.train_only={json.dumps(names)}",
            "--set", f"train.seed={seed}", *[a for s in sets for a in ("--set", s)],
            "--report", "none", "--out", str(run_dir), "--quiet", "--no-progress"]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = eegsnn_main(argv)
    row: dict[str, Any] = {"subject": item["subject"], "task": item["task"], "seed": seed,
                           "run": str(run_dir)}
    if code != 0:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        row["error"] = lines[-1] if lines else f"exit code {code}"
        return row
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    row.update(snn=float(metrics["accuracy"]),
               csp_lda=float(metrics["baseline"]["pooled"]["accuracy"]),
               n_trials=int(metrics["snn"]["pooled"]["n_samples"]),
               n_folds=int(metrics["n_folds"]))
    return row


def summarize(rows: Sequence[dict[str, Any]], tasks: Sequence[str]) -> dict[str, Any]:
    """Per task, over the subjects with a result: mean accuracies (the SNN's averaged over
    seeds first), the paired differences SNN - CSP + LDA (mean, 95 % t-interval, wins /
    ties / losses) and Wilcoxon's signed-rank test of them (two-sided; zero differences
    dropped; ``None`` when every difference is zero)."""
    from scipy import stats

    out: dict[str, Any] = {}
    for task in tasks:
        per_subject: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["task"] == task and "error" not in row:
                entry = per_subject.setdefault(row["subject"], {"snn": [], "csp_lda": None})
                entry["snn"].append(row["snn"])
                entry["csp_lda"] = row["csp_lda"]
        snn = [sum(e["snn"]) / len(e["snn"]) for e in per_subject.values()]
        lda = [e["csp_lda"] for e in per_subject.values()]
        diffs = [a - b for a, b in zip(snn, lda, strict=True)]
        n = len(diffs)
        summary: dict[str, Any] = {"n_subjects": n}
        if n:
            mean = sum(diffs) / n
            summary.update(snn_mean=sum(snn) / n, csp_lda_mean=sum(lda) / n,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder holding S###R##.edf files (any depth)")
    parser.add_argument("--subjects", default="1-109", help="e.g. 1-20,42 (default 1-109)")
    parser.add_argument("--tasks", default=",".join(TASK_RUNS),
                        help=f"comma list of {', '.join(TASK_RUNS)} (default: all)")
    parser.add_argument("--seeds", default="0", help="comma list of training seeds (0)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "mi_subjects")
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASK_RUNS]
    if unknown:
        parser.error(f"--tasks: unknown {unknown}; known: {', '.join(TASK_RUNS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma list of integers")
    if not args.root.is_dir():
        parser.error(f"{args.root}: not a folder")
    recordings = find_recordings(args.root)
    subjects = [s for s in parse_subjects(args.subjects) if s in recordings]
    if not subjects:
        parser.error(f"{args.root}: no S###R##.edf recordings of subjects {args.subjects}")
    items = plan(recordings, subjects, tasks)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    skipped = [{k: it[k] for k in ("subject", "task", "skip")} for it in items if "skip" in it]
    for item in (it for it in items if "skip" not in it):
        for seed in seeds:
            row = run_one(item, seed, args.out, args.sets)
            rows.append(row)
            result = (f"error: {row['error']}" if "error" in row else
                      f"SNN {_pct(row['snn'])}, CSP + LDA {_pct(row['csp_lda'])} "
                      f"({row['n_trials']} trials, {row['n_folds']} folds)")
            print(f"{item['subject']} {item['task']:10s} seed {seed}: {result}", flush=True)
    summary = summarize(rows, tasks)
    _write_json(args.out / "summary.json",
                {"root": str(args.root), "subjects": [f"S{s:03d}" for s in subjects],
                 "tasks": tasks, "seeds": seeds, "overrides": args.sets, "rows": rows,
                 "skipped": skipped, "summary": summary})
    print("\n| task | subjects | SNN | CSP + LDA | SNN - CSP + LDA [95 % CI] "
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
              f"{_pct(s['csp_lda_mean'])} | {100 * s['diff_mean']:+.1f} points{ci_text} | "
              f"{s['wins']} / {s['ties']} / {s['losses']} | "
              f"{'-' if p is None else f'{p:.3g}'} |")
    for item in skipped:
        print(f"skipped {item['subject']} {item['task']}: {item['skip']}")
    failed = [r for r in rows if "error" in r]
    for row in failed:
        print(f"failed {row['subject']} {row['task']} seed {row['seed']}: {row['error']}")
    print(f"\n{args.out / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
