"""``eegsnn evaluate``, ``eegsnn encode`` and ``eegsnn report`` on a run of the shipped
Bonn example (real data)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from eegsnn.cli import main


@pytest.fixture(scope="module")
def run_dir(repo_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                 "--set", "train.epochs=2", "--set", "encoder.spikes_per_s=25",
                 "--set", "encoder.threshold=0.5",
                 "--set", "model.hidden=[16]", "--set", f"cache_dir={out.parent / 'cache'}",
                 "--out", str(out), "--quiet", "--no-progress"])
    assert code == 0
    return out


def test_evaluate_writes_identical_metrics_and_predictions(run_dir, repo_root, tmp_path,
                                                           capsys):
    s_folder = repo_root / "examples" / "bonn_small" / "S"
    for name in ("a", "b"):
        code = main(["evaluate", str(run_dir), str(s_folder), "--out", str(tmp_path / name),
                     "--predict", "--allow-overlap"])  # 15 of the 20 were trained on
        assert code == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "predictions.csv" in out
    a = (tmp_path / "a" / "metrics.json").read_text()
    assert a == (tmp_path / "b" / "metrics.json").read_text()
    metrics = json.loads(a)
    rows = list(csv.DictReader(open(tmp_path / "a" / "predictions.csv")))
    assert len(rows) == metrics["n_samples"] == 100  # 20 ictal segments x 5 windows
    assert {r["true"] for r in rows} == {"ictal"}
    probs = np.array([[float(r[f"p_{c}"]) for c in ("healthy", "interictal", "ictal")]
                      for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean([r["predicted"] == "ictal" for r in rows]) == pytest.approx(
        metrics["accuracy"])
    assert metrics["positive"]["sensitivity"] == pytest.approx(metrics["accuracy"])


def test_evaluate_default_output_and_refusals(run_dir, repo_root, tmp_path, capsys):
    manifest = str(repo_root / "examples" / "bonn_small.yaml")
    assert main(["evaluate", str(run_dir), manifest]) == 2  # the run's training recordings
    assert "75 recording(s) have the same content" in capsys.readouterr().err
    code = main(["evaluate", str(run_dir), manifest, "--allow-overlap"])
    assert code == 0
    assert (run_dir / "evaluations" / "bonn_small.yaml" / "metrics.json").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path), str(repo_root / "examples")]) == 3
    assert "not a finished eegsnn run" in capsys.readouterr().err
    # an EDF file (64 channels, 160 Hz) does not fit a single-channel Bonn run
    bad = tmp_path / "x.txt"
    bad.write_text("1\n2\n")
    assert main(["evaluate", str(run_dir), str(bad)]) == 3
    assert "error:" in capsys.readouterr().err


def test_encode_with_config_and_with_a_runs_encoder(run_dir, repo_root, tmp_path, capsys):
    from eegsnn.encode import load_spikes

    cfg = repo_root / "configs" / "bonn_example.yaml"
    out = tmp_path / "all.spikes"
    # the --help example: the example's fine delta step puts more than 255 events in some
    # steps; they are stored as uint16 counts, losslessly
    assert main(["encode", "--config", str(cfg), "--set", f"cache_dir={tmp_path / 'c'}",
                 "--out", str(tmp_path / "fine.spikes")]) == 0
    fine = load_spikes(tmp_path / "fine.spikes")
    assert fine.packing == "counts" and fine.dtype == np.uint16
    assert fine.batch_numpy(np.arange(fine.num_windows)).max() > 255
    from eegsnn.encode import EEGEncoder
    from eegsnn.preprocess import load_windows

    ws = load_windows(repo_root / "examples" / "bonn_small.yaml", fine.meta["dataset"],
                      cache_dir=tmp_path / "c")
    expected = np.asarray(EEGEncoder.from_config(fine.meta["encoder"]).transform(ws.X[:40]))
    np.testing.assert_array_equal(fine.batch_numpy(np.arange(40)), expected)
    assert main(["encode", "--config", str(cfg), "--set", "encoder.threshold=0.5",
                 "--set", f"cache_dir={tmp_path / 'c'}", "--out", str(out)]) == 0
    ds = load_spikes(out)
    assert ds.num_windows == 500 and ds.num_steps == 200 and ds.num_lines == 10
    assert ds.packing == "counts" and ds.dtype == np.uint8
    assert ds.meta["class_counts"] == {"healthy": 200, "interictal": 200, "ictal": 100}
    assert len(ds.meta["recording"]) == 500 and ds.layout[0]["band"] == "delta"
    # the run's encoder, applied to held-out files, equals the run's own encoding
    out2 = tmp_path / "s.spikes"
    s_folder = repo_root / "examples" / "bonn_small" / "S"
    assert main(["encode", str(s_folder), "--encoder-from", str(run_dir), "--out",
                 str(out2)]) == 0
    ds2 = load_spikes(out2)
    enc = json.loads((run_dir / "model" / "encoder.json").read_text())
    assert ds2.meta["encoder"] == enc and set(ds2.labels.tolist()) == {2}
    assert "wrote" in capsys.readouterr().out
    assert main(["encode", str(s_folder), "--encoder-from", str(run_dir), "--out",
                 str(out2)]) == 2  # exists
    assert main(["encode", "--out", str(tmp_path / "x.spikes")]) == 2
    assert "--encoder-from" in capsys.readouterr().err


def test_encode_with_a_runs_encoder_names_the_run_when_storage_overflows(
        run_dir, repo_root, tmp_path, capsys, monkeypatch):
    """More events per step than a spike dataset holds, with --encoder-from: the error
    names the run's config and does not advise --set (refused with --encoder-from)."""
    import mlx.core as mx

    import eegsnn.pipeline.encode as encode_mod

    monkeypatch.setattr(encode_mod, "encode_windows",
                        lambda enc, X, seed: mx.full((4, len(X), 2), 70000.0))
    out = tmp_path / "s.spikes"
    capsys.readouterr()
    assert main(["encode", str(repo_root / "examples" / "bonn_small" / "S"),
                 "--encoder-from", str(run_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'config.yaml'}: the run's encoder puts up to 70000 events" in err
    assert "--set" not in err and "train a run with a higher encoder.threshold" in err
    assert not out.exists()


def test_report_command_markdown_and_html(run_dir, capsys):
    assert main(["report", str(run_dir), "--format", "both"]) == 0
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    for text in ("Results on held-out data", "baseline: spectral", "Class balance",
                 "Confusion matrix", "ROC curve", "Spike raster", "Data provenance",
                 "Andrzejak", "sensitivity (ictal)"):
        assert text.lower() in md.lower(), text
    assert "data:image/png;base64," in html  # self-contained
    assert "](plots/confusion.png)" in md and (run_dir / "plots" / "raster.png").is_file()
    assert main(["report", str(run_dir), "--format", "pdf"]) == 2


def test_evaluate_scores_model_and_saved_baseline_as_the_run_did(run_dir, repo_root,
                                                                  tmp_path, capsys):
    """model/ of a holdout run is the split's model and model/baseline.* its baseline:
    ``evaluate`` on the held-out recordings reproduces the run's own predictions of both,
    and prints them side by side with what model/ was trained on."""
    split = json.loads((run_dir / "splits.json").read_text())
    held_out = [repo_root / "examples" / "bonn_small" / g
                for g in split["folds"][0]["test_groups"]]
    out = tmp_path / "ev"
    assert main(["evaluate", str(run_dir), *map(str, held_out), "--out", str(out),
                 "--predict"]) == 0
    text = capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["trained_on"]["trained_on"]["all_windows"] is False
    assert m["trained_on"]["trained_on"]["recordings"] == 100 - len(held_out)
    for line in (f"model/ trained on {m['trained_on']['trained_on']['windows']} windows",
                 "SNN accuracy", "baseline spectral: accuracy",
                 f"whole recordings ({len(held_out)})", "baseline recall",
                 "data: at the run's rate (173.61 Hz), not resampled; labels from the run's "
                 "rule (path)", "channels: the run's 1 channel(s) by name",
                 "overlap with training recordings: no identical content found"):
        assert line in text, line
    # holdout: model/ is the training side less its validation recordings (none here)
    t = m["trained_on"]["trained_on"]
    assert t["validation_windows"] == 0 and t["baseline_windows"] == t["windows"]
    assert m["data"]["resampled"] is None and m["data"]["sfreq_hz_read"] == [173.61]

    def table(path):
        rows = sorted(csv.DictReader(open(path)), key=lambda r: (r["recording"],
                                                                  float(r["onset_s"])))
        return [r["recording"] for r in rows], np.array(
            [[float(r[f"p_{c}"]) for c in ("healthy", "interictal", "ictal")] for r in rows])

    fold = run_dir / "folds" / "fold-1"
    for ours, theirs in (("predictions.csv", "predictions.csv"),
                         ("baseline_predictions.csv", "baseline_predictions.csv")):
        rec_a, p_a = table(out / ours)
        rec_b, p_b = table(fold / theirs)
        assert rec_a == rec_b
        np.testing.assert_allclose(p_a, p_b, atol=2e-6)  # CSV rounding
    fold_metrics = json.loads((run_dir / "metrics.json").read_text())
    assert m["baseline"]["pooled"]["accuracy"] == pytest.approx(
        fold_metrics["baseline"]["pooled"]["accuracy"])


def test_evaluate_help_examples_score_held_out_data(capsys):
    """The examples of ``evaluate --help`` are commands the overlap check lets through:
    none scores the data a run was trained on without --allow-overlap."""
    assert main(["evaluate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("\u2502", " ").split())  # (box lines)
    assert "../shared/data/bonn --predict" not in text
    assert "held-out recordings the run never saw" in text
    assert "eegsnn evaluate runs/bonn_3class --allow-overlap" in text


def test_evaluate_refuses_a_recording_without_signal_and_reports_evaluations(
        run_dir, shared_data, tmp_path, capsys):
    """A held-out segment whose only channel is constant (a disconnected amplifier) has
    nothing to classify: one error line naming it, exit 3. A held-out segment is scored,
    kept in RUN/evaluations/ and listed in the report with the baseline's accuracy."""
    folder = tmp_path / "S"
    folder.mkdir()
    (folder / "S080.txt").write_bytes((shared_data / "bonn" / "S" / "S080.txt").read_bytes())
    (folder / "S999.txt").write_text("17\n" * 4097)
    assert main(["evaluate", str(run_dir), str(folder), "--out", str(tmp_path / "ev")]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: S999.txt: every channel is flat (constant or below 1 pV) "
                          "in 5 of its 5 windows"), err
    assert err.count("\n") == 1 and not (tmp_path / "ev" / "metrics.json").exists()
    (folder / "S999.txt").unlink()
    assert main(["evaluate", str(run_dir), str(folder)]) == 0
    metrics = json.loads((run_dir / "evaluations" / "S" / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["report", str(run_dir), "--format", "md"]) == 0
    row = next(line for line in (run_dir / "report.md").read_text().splitlines()
               if line.startswith("| S |"))
    base = metrics["baseline"]["pooled"]["accuracy"]
    assert f"| {100 * base:.1f} % (spectral) |" in row, row


def test_outputs_never_overwrite_the_run_or_other_evaluations(run_dir, shared_data, tmp_path,
                                                               capsys):
    """evaluate --out and report --out into the run folder are refused (they overwrote
    metrics.json / config.yaml, and the run was refused for good); a report --out that
    exists needs --overwrite; a second evaluation into a folder drops the first one's
    predictions; two data sets of one name get two folders; a bad --dt-s writes nothing."""
    import json

    from eegsnn.pipeline.integrity import verify_integrity

    seg = shared_data / "bonn" / "S" / "S080.txt"
    for out in (run_dir, run_dir / "folds" / "fold-1"):
        assert main(["evaluate", str(run_dir), str(seg), "--out", str(out)]) == 2
        assert "inside the run folder" in capsys.readouterr().err
    for out in (run_dir / "config.yaml", run_dir / "notes.md"):
        assert main(["report", str(run_dir), "--format", "md", "--out", str(out)]) == 2
        assert "inside the run folder" in capsys.readouterr().err
    # an --out through a link that leads nowhere (an unmounted drive) is named as such
    (tmp_path / "drive").symlink_to(tmp_path / "unmounted")
    for out in (tmp_path / "drive", tmp_path / "drive" / "ev"):
        assert main(["evaluate", str(run_dir), str(seg), "--out", str(out)]) == 2
        assert (f"{tmp_path / 'drive'} is a link to {tmp_path / 'unmounted'}, which does not "
                "exist") in capsys.readouterr().err
    assert not (tmp_path / "unmounted").exists()
    verify_integrity(run_dir)  # untouched
    mine = tmp_path / "mine.md"
    mine.write_text("keep")
    assert main(["report", str(run_dir), "--format", "md", "--out", str(mine)]) == 2
    assert "exists; --overwrite replaces it" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--format", "md", "--out",
                 str(tmp_path / "r.html")]) == 2
    assert "--format md writes Markdown" in capsys.readouterr().err
    assert mine.read_text() == "keep"
    assert main(["report", str(run_dir), "--format", "md", "--out", str(mine),
                 "--overwrite"]) == 0
    import re

    figures = re.findall(r"\]\(([^)#][^)]*\.png)\)", mine.read_text())
    assert figures and all((mine.parent / f).is_file() for f in figures)  # from mine.md
    assert "](mine_figures/confusion.png)" in mine.read_text()  # drawn beside it
    assert main(["report", str(run_dir), "--format", "md", "--out",
                 str(tmp_path / "nowhere" / "r.md")]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "other.md").write_text("x")
    (tmp_path / "other_figures").mkdir()
    assert main(["report", str(run_dir), "--format", "md", "--out",
                 str(tmp_path / "new.md")]) == 0
    assert main(["report", str(run_dir), "--format", "md", "--out",
                 str(tmp_path / "other.md"), "--overwrite"]) == 0
    (tmp_path / "new.md").unlink()
    assert main(["report", str(run_dir), "--format", "md", "--out",
                 str(tmp_path / "new.md")]) == 2  # its figures' folder is left from before
    assert "new_figures exists; --overwrite" in capsys.readouterr().err
    # re-evaluating into one folder: the earlier --predict's rows do not stay behind
    ev = tmp_path / "ev"
    assert main(["evaluate", str(run_dir), str(seg), "--out", str(ev), "--predict"]) == 0
    assert (ev / "predictions.csv").is_file()
    assert main(["evaluate", str(run_dir), str(shared_data / "bonn" / "S" / "S079.txt"),
                 "--out", str(ev)]) == 0
    assert not (ev / "predictions.csv").exists()
    # one name, two places: the default folders differ
    for folder in ("a", "b"):
        (tmp_path / folder / "S").mkdir(parents=True)
        (tmp_path / folder / "S" / "S001.txt").write_bytes(
            (shared_data / "bonn" / "S" / ("S078.txt" if folder == "a" else "S077.txt"))
            .read_bytes())
        assert main(["evaluate", str(run_dir), str(tmp_path / folder / "S" / "S001.txt"),
                     "--root", str(tmp_path / folder)]) == 0
    capsys.readouterr()
    sources = {json.loads(p.read_text())["data"]["source"]
               for p in (run_dir / "evaluations").glob("S001.txt*/metrics.json")}
    assert sources == {str(tmp_path / "a" / "S" / "S001.txt"),
                       str(tmp_path / "b" / "S" / "S001.txt")}
    assert main(["plot", str(run_dir), "--dt-s", "-1", "--out", str(tmp_path / "pl")]) == 2
    assert "dt_s must be a positive number" in capsys.readouterr().err
    assert not (tmp_path / "pl").exists()
    # a path the system refuses: one line, exit 2 (it was 'unexpected', exit 1)
    (tmp_path / "afile").write_text("x")
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected" not in err


def test_report_out_only_reads_the_run(run_dir, tmp_path, capsys):
    """report --out leaves the run folder as it was (it drew its figures into RUN/plots
    first, so a read-only run, e.g. an archived or shared one, could not be reported):
    HTML embeds them, Markdown writes them beside itself."""
    import shutil
    import stat

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    shutil.rmtree(run / "plots", ignore_errors=True)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    modes = {p: p.stat().st_mode for p in [run, *run.rglob("*")]}
    for p in modes:  # read-only (root ignores this: the listing below checks too)
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    try:
        out = tmp_path / "out"
        out.mkdir()
        assert main(["report", str(run), "--out", str(out / "r.html")]) == 0
        assert 'src="data:image/png;base64,' in (out / "r.html").read_text()
        assert main(["report", str(run), "--format", "md", "--out", str(out / "r.md")]) == 0
        assert (out / "r_figures" / "confusion.png").is_file()
        assert "](r_figures/confusion.png)" in (out / "r.md").read_text()
    finally:
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert sorted(p.name for p in out.iterdir()) == ["r.html", "r.md", "r_figures"]
    capsys.readouterr()


def test_evaluation_folders_keep_what_is_not_theirs(run_dir, shared_data, tmp_path,
                                                     monkeypatch, capsys):
    """A user's own predictions.csv in --out is kept (only an earlier evaluation's go); one
    relative name from two working directories is two data sets, two folders; an OSError
    that is no refused path stays 'unexpected' (exit 1)."""
    import json

    own = tmp_path / "results"
    own.mkdir()
    (own / "predictions.csv").write_text("mine")
    seg = shared_data / "bonn" / "S" / "S076.txt"
    assert main(["evaluate", str(run_dir), str(seg), "--out", str(own)]) == 0
    assert (own / "predictions.csv").read_text() == "mine"
    for folder, src in (("c", "S075.txt"), ("d", "S074.txt")):
        (tmp_path / folder / "S").mkdir(parents=True)
        (tmp_path / folder / "S" / "X1.txt").write_bytes(
            (shared_data / "bonn" / "S" / src).read_bytes())
        monkeypatch.chdir(tmp_path / folder)
        assert main(["evaluate", str(run_dir), "S/X1.txt", "--root", "."]) == 0
    sources = {json.loads(p.read_text())["data"]["source"]
               for p in (run_dir / "evaluations").glob("X1.txt*/metrics.json")}
    assert sources == {str(tmp_path / f / "S" / "X1.txt") for f in ("c", "d")}
    capsys.readouterr()

    def broken(*args, **kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr("eegsnn.pipeline.evaluate_run", broken)
    assert main(["evaluate", str(run_dir), str(seg)]) == 1
    assert "unexpected" in capsys.readouterr().err


def test_a_failed_reevaluation_leaves_no_mixed_folder(run_dir, shared_data, tmp_path,
                                                      monkeypatch, capsys):
    """An evaluation into a folder of an earlier one that fails part way leaves no
    metrics.json beside the earlier one's predictions (metrics.json was replaced first,
    then predictions.csv failed: the folder paired one evaluation's metrics with another's
    predictions)."""
    import json

    import eegsnn.pipeline.apply as apply

    ev = tmp_path / "ev"
    seg = shared_data / "bonn" / "S" / "S080.txt"
    assert main(["evaluate", str(run_dir), str(seg), "--out", str(ev), "--predict"]) == 0
    assert json.loads((ev / "metrics.json").read_text())["data"]["source"] == str(seg)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(ev / "predictions.csv"))

    monkeypatch.setattr(apply, "write_predictions_csv", full_disk)
    other = shared_data / "bonn" / "S" / "S079.txt"
    assert main(["evaluate", str(run_dir), str(other), "--out", str(ev), "--predict"]) == 2
    capsys.readouterr()
    assert not (ev / "metrics.json").exists() and not (ev / "predictions.csv").exists()
    monkeypatch.undo()
    assert main(["evaluate", str(run_dir), str(other), "--out", str(ev), "--predict"]) == 0
    assert json.loads((ev / "metrics.json").read_text())["data"]["source"] == str(other)
