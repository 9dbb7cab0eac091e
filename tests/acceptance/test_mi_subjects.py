"""``scripts/mi_subjects.py``: the four motor-imagery task configs on every EEGMMIDB subject
found under a folder, and the SNN against CSP + LDA (or tangent space + LR) across
subjects.

The shared data hold subject S001 only; other subjects are made here as links to its runs
under other names (S002: the fists/feet runs; S003: one run), which also checks that
recordings given as symbolic links keep their own names (``split.train_only`` names them).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
from scipy import stats


@pytest.fixture(scope="module")
def mi_subjects(repo_root):
    spec = importlib.util.spec_from_file_location("mi_subjects",
                                                  repo_root / "scripts" / "mi_subjects.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mi_subjects"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("mi_subjects", None)


@pytest.fixture()
def dataset(shared_data, tmp_path) -> Path:
    root = tmp_path / "eegmmidb"
    s001 = shared_data / "eegmmidb" / "S001"
    (root / "S002").mkdir(parents=True)
    for run in ("05", "06", "09", "10"):
        (root / "S002" / f"S002R{run}.edf").symlink_to(s001 / f"S001R{run}.edf")
    (root / "deeper" / "S003").mkdir(parents=True)
    (root / "deeper" / "S003" / "S003R04.edf").symlink_to(s001 / "S001R04.edf")
    (root / "S002" / "notes.txt").write_text("not a recording")
    return root


def test_subjects_are_found_and_planned_per_task(mi_subjects, dataset, tmp_path):
    found, notes = mi_subjects.find_recordings(dataset)
    assert sorted(found) == [2, 3] and sorted(found[2]) == [5, 6, 9, 10]
    assert found[3][4].name == "S003R04.edf" and notes == []
    # a subject folder reached through a link, and a second copy of a run
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "S002").symlink_to(dataset / "S002", target_is_directory=True)
    (linked / "loop").symlink_to(linked, target_is_directory=True)  # a cycle: walked once
    (linked / "copy").mkdir()
    (linked / "copy" / "S002R05.edf").symlink_to(dataset / "S002" / "S002R05.edf")
    found, notes = mi_subjects.find_recordings(linked)
    assert sorted(found[2]) == [5, 6, 9, 10]
    assert found[2][5] == linked / "S002" / "S002R05.edf"
    assert len(notes) == 1 and "second copy of S002R05.edf" in notes[0]
    assert mi_subjects.parse_subjects("1-3, 7") == [1, 2, 3, 7]
    for bad in ("x", "3-1", "0"):
        with pytest.raises(ValueError, match=bad):
            mi_subjects.parse_subjects(bad)
    found, _ = mi_subjects.find_recordings(dataset)
    items = {(it["subject"], it["task"]): it
             for it in mi_subjects.plan(found, [2, 3], ["imagery_ff", "imagery_lr"])}
    ff = items[("S002", "imagery_ff")]
    assert "skip" not in ff
    assert [p.name for p in ff["tested"]] == ["S002R06.edf", "S002R10.edf"]
    assert [p.name for p in ff["train_only"]] == ["S002R05.edf", "S002R09.edf"]
    assert ff["protocol"] == "2 tested, 2 training-only runs"
    assert "found none" in items[("S002", "imagery_lr")]["skip"]
    assert "found S003R04.edf" in items[("S003", "imagery_lr")]["skip"]


def test_summary_statistics_by_hand(mi_subjects):
    rows = [  # SNN averaged over seeds first: S1 0.8, S2 0.6, S3 0.9, S4 0.7
        {"subject": "S1", "task": "t", "snn": 0.7, "baseline": 0.7},
        {"subject": "S1", "task": "t", "snn": 0.9, "baseline": 0.7},
        {"subject": "S2", "task": "t", "snn": 0.6, "baseline": 0.8},
        {"subject": "S3", "task": "t", "snn": 0.9, "baseline": 0.9},
        {"subject": "S4", "task": "t", "snn": 0.7, "baseline": 0.65},
        {"subject": "S5", "task": "t", "error": "truncated"},
    ]
    s = mi_subjects.summarize(rows, ["t", "empty"])
    diffs = [0.1, -0.2, 0.0, 0.05]
    assert s["t"]["n_subjects"] == 4
    assert s["t"]["snn_mean"] == pytest.approx(0.75)
    assert s["t"]["baseline_mean"] == pytest.approx(0.7625)
    assert s["t"]["diff_mean"] == pytest.approx(-0.0125)
    assert (s["t"]["wins"], s["t"]["ties"], s["t"]["losses"]) == (2, 1, 1)
    sd = math.sqrt(sum((d + 0.0125) ** 2 for d in diffs) / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert s["t"]["diff_ci95"] == pytest.approx([-0.0125 - half, -0.0125 + half])
    assert s["t"]["wilcoxon_p"] == pytest.approx(stats.wilcoxon([0.1, -0.2, 0.05]).pvalue)
    assert s["empty"] == {"n_subjects": 0}
    assert "protocols" not in s["t"]  # rows without a protocol, or all alike
    mixed = [{**r, "protocol": "2 tested, 0 training-only runs" if r["subject"] == "S2"
              else "3 tested, 3 training-only runs"} for r in rows]
    assert mi_subjects.summarize(mixed, ["t"])["t"]["protocols"] == {
        "2 tested, 0 training-only runs": ["S2"],
        "3 tested, 3 training-only runs": ["S1", "S3", "S4"]}


def test_runs_a_subject_and_skips_finished_runs(mi_subjects, dataset, tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.setenv("EEGSNN_CACHE_DIR", str(tmp_path / "cache"))  # not the user's cache
    out = tmp_path / "out"
    argv = [str(dataset), "--subjects", "2-3", "--tasks", "imagery_ff", "--out", str(out),
            "--set", "train.epochs=2"]
    assert mi_subjects.main(argv) == 0
    printed = capsys.readouterr().out
    assert "skipped S003 imagery_ff: fewer than two tested runs" in printed
    summary = json.loads((out / "summary.json").read_text())
    (row,) = summary["rows"]
    run = Path(row["run"])
    metrics = json.loads((run / "metrics.json").read_text())
    assert row["snn"] == metrics["accuracy"]
    assert row["baseline"] == metrics["baseline"]["pooled"]["accuracy"]
    assert metrics["baseline"]["type"] == summary["baseline"] == "csp_lda"
    assert (row["n_trials"], row["n_folds"]) == (30, 2)
    assert "EEGMMIDB S002, task imagery_ff" in (run / "config.yaml").read_text()
    # leave one tested run out; the training-only runs, named by their links, never tested
    folds = json.loads((run / "splits.json").read_text())["folds"]
    assert [f["test_groups"] for f in folds] == [["S002R06.edf"], ["S002R10.edf"]]
    assert summary["summary"]["imagery_ff"]["n_subjects"] == 1
    stamp = (run / "metrics.json").stat().st_mtime_ns
    assert mi_subjects.main(argv) == 0  # again: the finished run is not trained again
    assert (run / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "summary.json").read_text())["rows"] == [row]
    # against tangent space + LR: its own runs beside, the same SNN, the table names it
    assert mi_subjects.main([*argv, "--baseline", "ts_lr"]) == 0
    printed = capsys.readouterr().out
    assert "| SNN | tangent space + LR | SNN - tangent space + LR [95 % CI] |" in printed
    assert json.loads((out / "summary.json").read_text())["baseline"] == "csp_lda"  # kept
    summary = json.loads((out / "summary-ts_lr.json").read_text())
    (ts_row,) = summary["rows"]
    assert summary["baseline"] == "ts_lr" and ts_row["run"].endswith("imagery_ff-seed0-ts_lr")
    metrics = json.loads((Path(ts_row["run"]) / "metrics.json").read_text())
    assert metrics["baseline"]["type"] == "ts_lr"
    assert ts_row["baseline"] == metrics["baseline"]["pooled"]["accuracy"]
    assert ts_row["snn"] == row["snn"]  # the same seeded SNN on the same folds
    assert (run / "metrics.json").stat().st_mtime_ns == stamp  # the CSP + LDA run untouched


def test_bad_arguments_are_refused_before_any_run(mi_subjects, dataset, tmp_path, capsys):
    for argv in ([str(tmp_path / "missing")], [str(dataset), "--tasks", "sleep"],
                 [str(dataset), "--subjects", "50-60"], [str(dataset), "--seeds", "a"],
                 [str(dataset), "--subjects", "2-x"],
                 [str(dataset), "--set", "train.epochs=x"],
                 [str(dataset), "--set", "trian.epochs=3"],
                 # the summary calls the baseline's scores CSP + LDA's: its type is fixed
                 [str(dataset), "--set", "baseline=ts_lr"],
                 [str(dataset), "--set", "baseline=none"],
                 [str(dataset), "--baseline", "spectral"],
                 # --baseline's type is added after the user's: a type of theirs that
                 # differs would be overridden silently
                 [str(dataset), "--baseline", "ts_lr", "--set", "baseline=none"],
                 [str(dataset), "--baseline", "ts_lr", "--set", "baseline.type=csp_lda"],
                 [str(dataset), "--baseline", "ts_lr", "--set", "baseline.n_components=4"]):
        with pytest.raises(SystemExit) as exc:
            mi_subjects.main([*argv, "--out", str(tmp_path / "o")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.count("error:") == 1, argv
        if "baseline" in argv[-1] and "ts_lr" not in argv:
            assert "compares the SNN with CSP + LDA (--baseline csp_lda)" in err, err
        elif "baseline" in argv[-1] and "n_components" not in argv[-1]:
            assert "compares the SNN with tangent space + LR (--baseline ts_lr)" in err, err
    assert not (tmp_path / "o").exists()


def test_ctrl_c_stops_and_keeps_the_summary_so_far(mi_subjects, dataset, tmp_path,
                                                   monkeypatch, capsys):
    calls = []

    def fake_run(item, seed, out, sets, overwrite=False, baseline="csp_lda"):
        calls.append((item["subject"], item["task"]))
        if len(calls) == 2:
            raise KeyboardInterrupt(str(out / item["subject"]))
        return {"subject": item["subject"], "task": item["task"], "seed": seed,
                "protocol": item["protocol"], "snn": 0.9, "baseline": 0.8,
                "n_trials": 30, "n_folds": 2, "run": "r"}

    monkeypatch.setattr(mi_subjects, "run_one", fake_run)
    assert mi_subjects.main([str(dataset), "--tasks", "imagery_ff,real_ff", "--subjects",
                             "2", "--out", str(tmp_path / "o")]) == 130
    assert calls == [("S002", "imagery_ff"), ("S002", "real_ff")]  # stopped at the second
    assert "Aborted" in capsys.readouterr().err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [r["task"] for r in summary["rows"]] == ["imagery_ff"]


def test_baseline_overrides_are_checked_against_the_chosen_baseline(mi_subjects):
    """Options of the chosen baseline pass; a type given by --set must be --baseline's (the
    type --baseline adds after the user's overrides would replace theirs silently)."""
    from eegsnn.errors import ConfigError

    ok = [("ts_lr", ["baseline={C: 0.5}"]), ("ts_lr", ["baseline={type: ts_lr, C: 0.5}"]),
          ("ts_lr", ["baseline.type=ts_lr", "baseline.C=2"]),
          ("csp_lda", ["baseline={n_components: 6}"]), ("csp_lda", ["baseline.reg=0.1"])]
    for baseline, sets in ok:
        mi_subjects.check_overrides(["imagery_lr"], sets, baseline)
    refused = [("ts_lr", ["baseline=spectral"]), ("ts_lr", ["baseline=none"]),
               ("ts_lr", ["baseline={type: csp_lda}"]), ("csp_lda", ["baseline.type=ts_lr"])]
    for baseline, sets in refused:
        with pytest.raises(ConfigError, match=f"--baseline {baseline}"):
            mi_subjects.check_overrides(["imagery_lr"], sets, baseline)
