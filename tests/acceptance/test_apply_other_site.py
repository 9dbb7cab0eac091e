"""A final Bonn model (``split.method: none``, one command) applied with one command to
recordings from "another site": Bonn segments it never saw, resampled to 256 Hz and stored
as MATLAB ``.mat`` arrays and as EDF, labelled by a ``file,label`` table. ``evaluate``
scores the SNN and the saved baseline on the same windows, with recording-level
intervals.

The fast run trains on the shipped example (segments 001-020 of each set, 2 epochs); the
site's segments are 041-048 of sets S (ictal) and Z (healthy) from ../shared. The slow
test trains configs/bonn_final.yaml as shipped (all 400 shared segments).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from eegsnn.cli import main
from eegsnn.errors import ConfigError
from eegsnn.io import write_edf

SITE_RATE = 256.0
BONN_RATE = 173.61
SMALL = ["--set", "train.epochs=2", "--set", "encoder.spikes_per_s=25",
         "--set", "encoder.threshold=0.5", "--set", "model.hidden=[16]"]


def _resampled(path: Path) -> np.ndarray:
    """A Bonn text segment (microvolts, 173.61 Hz) resampled to 256 Hz (FFT)."""
    from scipy.signal import resample

    x = np.loadtxt(path)
    return resample(x, round(x.size * SITE_RATE / BONN_RATE))


def _write_edf(path: Path, x_uv: np.ndarray, ch_name: str) -> None:
    write_edf(path, x_uv[None, :] * 1e-6, SITE_RATE, [ch_name])


def make_site(bonn: Path, dest: Path, numbers: range, *, edf_channel: str = "EEG") -> Path:
    """Another site's folder: S/Z segments at 256 Hz, half as .mat (variable ``sig``
    beside a second array, so the name must be given), half as EDF; ``labels.csv``
    names each file's class with the site's own words for the run's raw labels."""
    from scipy.io import savemat

    dest.mkdir(parents=True)
    rows = []
    for k, n in enumerate(numbers):
        for folder, label in (("S", "S"), ("Z", "Z")):
            x = _resampled(bonn / folder / f"{folder}{n:03d}.txt")
            name = f"case{n:03d}{label.lower()}"
            if k % 2 == 0:
                savemat(dest / f"{name}.mat", {"sig": x.astype(np.float32),
                                              "gain": np.array([1.0, 2.0])})
                rows.append((f"{name}.mat", label))
            else:  # EDF stores whole 1 s data records: the last partial second is cut
                _write_edf(dest / f"{name}.edf", x[:int(SITE_RATE) * (x.size // int(SITE_RATE))],
                           edf_channel)
                rows.append((f"{name}.edf", label))
    with open(dest / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return dest


_ARGS: list[str] = []


def final_run_args() -> list[str]:
    return list(_ARGS)


@pytest.fixture(scope="module")
def final_run(repo_root, tmp_path_factory):
    """One command: the final-model config on the shipped example subset."""
    out = tmp_path_factory.mktemp("final") / "run"
    args = ["train", "--config", str(repo_root / "configs" / "bonn_final.yaml"),
            "--set", f"data.source={repo_root / 'examples' / 'bonn_small.yaml'}",
            *SMALL, "--set", f"cache_dir={out.parent / 'cache'}",
            "--out", str(out), "--quiet", "--no-progress"]
    assert main(args) == 0
    _ARGS[:] = args
    return out


def test_final_model_has_no_held_out_score(final_run, capsys):
    metrics = json.loads((final_run / "metrics.json").read_text())
    assert metrics["split"]["method"] == "none" and metrics["n_folds"] == 0
    assert metrics["held_out"] is None
    assert "snn" not in metrics and "accuracy" not in metrics  # no made-up numbers
    about = json.loads((final_run / "model" / "about.json").read_text())
    assert about == metrics["final_model"]
    assert about["trained_on"] == {
        "windows": 500, "recordings": 100, "all_windows": True,
        "validation_windows": 0, "validation_recordings": 0,
        "class_counts": {"healthy": 200, "interictal": 200, "ictal": 100},
        "val_fraction": 0.0, "baseline_windows": 500}
    assert about["baseline"] == "spectral"
    assert (final_run / "model" / "baseline.npz").is_file()
    # the same command again shows the finished run's summary, without training
    capsys.readouterr()
    assert main(final_run_args()) == 0
    out = capsys.readouterr().out
    assert ("trained on all 500 windows / 100 recordings; no held-out evaluation in this "
            f"run — use `eegsnn evaluate {final_run} DATA`") in out
    assert "accuracy" not in out


def test_split_none_with_early_stopping_holds_out_validation_and_says_so(repo_root, tmp_path,
                                                                         capsys, caplog):
    """``split.method: none`` + early stopping with no val_fraction: 0.2 of the recordings
    are held out for validation (not a failure after encoding); about.json and the printed
    line count the windows fitted on and the validation windows exactly."""
    out = tmp_path / "run"
    args = ["train", "--config", str(repo_root / "configs" / "bonn_final.yaml"),
            "--set", f"data.source={repo_root / 'examples' / 'bonn_small.yaml'}", *SMALL,
            "--set", "train.early_stopping={patience: 1}",
            "--set", f"cache_dir={tmp_path / 'cache'}", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    captured = capsys.readouterr()
    t = json.loads((out / "model" / "about.json").read_text())["trained_on"]
    assert t["val_fraction"] == 0.2 and t["all_windows"] is False
    assert t["validation_recordings"] == 20 and t["recordings"] == 80
    assert t["windows"] + t["validation_windows"] == 500 == t["baseline_windows"]
    assert t["validation_windows"] == 100 and sum(t["class_counts"].values()) == 400
    assert ("trained on 400 windows / 80 recordings (+ 100 validation windows / 20 "
            "recordings)") in captured.out
    assert ("training the final model on 400 windows (100 more from 0.2 of the recordings "
            "held out for early stopping)") in captured.err
    assert "holding out 0.2 of the training recordings" in caplog.text
    assert (out / "refit" / "train" / "curves.png").is_file()
    report = (out / "report.html").read_text()
    assert "Training curves (model/)" in report
    assert "100 validation windows / 20 recordings held out for early stopping" in report


def test_apply_to_another_site_one_command(final_run, shared_data, tmp_path, capsys):
    bonn = shared_data / "bonn"
    site = make_site(bonn, tmp_path / "site2", range(41, 49))
    ev = tmp_path / "ev"
    code = main(["evaluate", str(final_run), str(site), "--labels-table",
                 str(site / "labels.csv"), "--sfreq", "256", "--mat-var", "sig",
                 "--out", str(ev), "--predict"])
    out, err = capsys.readouterr()
    assert code == 0, err
    m = json.loads((ev / "metrics.json").read_text())
    # 16 recordings x 5 windows of 4 s (23.6 s segments, resampled back to 173.61 Hz)
    assert m["n_samples"] == 80
    assert m["data"]["class_counts"] == {"healthy": 40, "interictal": 0, "ictal": 40}
    rec, brec = m["recording_level"], m["baseline"]["pooled"]["recording_level"]
    assert rec["n_recordings"] == brec["n_recordings"] == 16
    for r in (rec, brec):  # recording-level intervals around the recording-level accuracy
        lo, hi = r["accuracy_ci"]
        assert 0.0 <= lo <= r["accuracy"] <= hi <= 1.0 and hi - lo > 0.05
    for r in (m, m["baseline"]["pooled"]):  # window scores: bootstrap over recordings
        boot = r["bootstrap"]
        assert boot["cluster"] == "recording" and boot["n_clusters"] == 16
        lo, hi = boot["metrics"]["accuracy"]["ci95"]
        assert lo <= r["accuracy"] <= hi
    assert m["baseline"]["type"] == "spectral"
    assert m["baseline"]["pooled"]["accuracy"] >= 0.85  # spectral features survive resampling
    assert m["trained_on"]["trained_on"]["all_windows"] is True
    assert m["channels"] == {"EEG": "EEG"}
    for text in ("model/ trained on all 500 windows / 100 recordings", "SNN accuracy",
                 "baseline spectral: accuracy", "whole recordings (16)", "per class",
                 "baseline recall", "bootstrap over 16 recordings",
                 "data: resampled 256 -> 173.61 Hz (--sfreq 256); labels from table labels.csv",
                 "channels: the run's 1 channel(s) by name",
                 "overlap with training recordings: no identical content found (file or "
                 "decoded-signal hash; resampled, filtered, cropped, noisy, re-exported or "
                 "channel-subset copies cannot be detected)"):
        assert text in out, text
    assert m["data"]["resampled"] == {"from_hz": [256.0], "to_hz": 173.61}
    assert m["data"]["sfreq_hz_read"] == [256.0] and m["data"]["labels"] == "table labels.csv"
    assert "8 recording(s) such as" in m["data"]["sfreq_note"]  # the EDFs: header rate
    rows = list(csv.DictReader(open(ev / "baseline_predictions.csv")))
    assert len(rows) == 80 and {r["true"] for r in rows} == {"ictal", "healthy"}

    # the same recordings at the run's own rate (Bonn text): resampling 173.61 -> 256 ->
    # 173.61 Hz must give (nearly) the same predictions of both models
    same = tmp_path / "same"
    for n in range(41, 49):
        for folder in ("S", "Z"):
            (same / folder).mkdir(parents=True, exist_ok=True)
            src = bonn / folder / f"{folder}{n:03d}.txt"
            (same / folder / src.name).write_bytes(src.read_bytes())
    ev2 = tmp_path / "ev2"
    assert main(["evaluate", str(final_run), str(same), "--out", str(ev2), "--predict"]) == 0
    capsys.readouterr()

    def probs(folder: Path, name: str) -> np.ndarray:
        rows = sorted(csv.DictReader(open(folder / name)),
                      key=lambda r: (r["true"], re.search(r"\d{3}", r["recording"]).group(),
                                     float(r["onset_s"])))
        return np.array([[float(r[f"p_{c}"]) for c in ("healthy", "interictal", "ictal")]
                         for r in rows])

    for name, tol in (("baseline_predictions.csv", 0.005), ("predictions.csv", 0.03)):
        a, b = probs(ev, name), probs(ev2, name)
        assert a.shape == b.shape == (80, 3)
        assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.95, name
        assert np.mean(np.abs(a - b)) < tol, name


def test_what_does_not_fit_is_named(final_run, shared_data, tmp_path, capsys):
    bonn = shared_data / "bonn"
    site = make_site(bonn, tmp_path / "site3", range(51, 53), edf_channel="T7-T8")
    # a .mat file without its rate, and without the name of its array
    code = main(["evaluate", str(final_run), str(site / "case051s.mat"), "--labels-table",
                 str(site / "labels.csv"), "--out", str(tmp_path / "e1")])
    assert code == 3 and "sampling rate of a .mat file is not known" in capsys.readouterr().err
    code = main(["evaluate", str(final_run), str(site / "case051s.mat"), "--labels-table",
                 str(site / "labels.csv"), "--sfreq", "256", "--out", str(tmp_path / "e1")])
    err = capsys.readouterr().err
    assert code == 3 and "2 numeric signal arrays" in err and "gain, sig" in err
    # a sidecar says both
    (site / "case051s.json").write_text(json.dumps({"variable": "sig", "sfreq_hz": 256}))
    assert main(["evaluate", str(final_run), str(site / "case051s.mat"), "--labels-table",
                 str(site / "labels.csv"), "--out", str(tmp_path / "e2")]) == 0
    assert json.loads((tmp_path / "e2" / "metrics.json").read_text())["n_samples"] == 5
    capsys.readouterr()
    # a file the table does not list; a label the run does not know
    (site / "labels.csv").write_text("file,label\ncase051s.mat,S\n")
    assert main(["evaluate", str(final_run), str(site), "--labels-table",
                 str(site / "labels.csv"), "--sfreq", "256", "--mat-var", "sig",
                 "--out", str(tmp_path / "e3")]) == 3
    assert "no row in the label table" in capsys.readouterr().err
    (site / "labels.csv").write_text("file,label\ncase052z.edf,artefact\n")
    assert main(["evaluate", str(final_run), str(site / "case052z.edf"), "--labels-table",
                 str(site / "labels.csv"), "--out", str(tmp_path / "e4")]) == 3
    assert "label 'artefact' of case052z.edf" in capsys.readouterr().err
    # the EDF's channel is T7-T8: a one-channel run takes it; --channel maps it by name
    (site / "labels.csv").write_text("file,label\ncase052z.edf,healthy\n")
    assert main(["evaluate", str(final_run), str(site / "case052z.edf"), "--labels-table",
                 str(site / "labels.csv"), "--channel", "T7-T8=EEG",
                 "--out", str(tmp_path / "e5")]) == 0
    m = json.loads((tmp_path / "e5" / "metrics.json").read_text())
    assert m["channels"] == {"EEG": "T7-T8"} and m["data"]["class_counts"]["healthy"] == 5
    assert "channels (run <- data): EEG <- T7-T8" in capsys.readouterr().out
    assert main(["evaluate", str(final_run), str(site / "case052z.edf"), "--labels-table",
                 str(site / "labels.csv"), "--channel", "Cz=EEG",
                 "--out", str(tmp_path / "e6")]) == 3
    assert "--channel names Cz, which the data do not hold" in capsys.readouterr().err
    # a one-channel EDF of another type is not the run's EEG channel
    ecg = tmp_path / "ecg"
    ecg.mkdir()
    _write_edf(ecg / "case052z.edf", _resampled(bonn / "Z" / "Z052.txt")[:256 * 23], "ECG")
    assert main(["evaluate", str(final_run), str(ecg / "case052z.edf"), "--labels-table",
                 str(site / "labels.csv"), "--out", str(tmp_path / "e6b")]) == 3
    assert ("only channel ECG is not the run's channel EEG; if it is the same signal, map it "
            "with --channel ECG=EEG") in capsys.readouterr().err
    # --sfreq on EDF only: its header rate is used, so --sfreq is refused
    assert main(["evaluate", str(final_run), str(site / "case052z.edf"), "--labels-table",
                 str(site / "labels.csv"), "--sfreq", "100", "--out", str(tmp_path / "e6c")]) == 2
    assert "carries its own sampling rate" in capsys.readouterr().err
    # Bonn-style text at 256 Hz: --sfreq gives its rate (the run's 173.61 Hz is not assumed
    # to be the site's), the segment length check of the Bonn files no longer applies
    txt = tmp_path / "txt"
    txt.mkdir()
    np.savetxt(txt / "seg051.txt", _resampled(bonn / "S" / "S051.txt"), fmt="%.3f")
    (txt / "labels.tsv").write_text("file\tlabel\nseg051.txt\tictal\n")
    assert main(["evaluate", str(final_run), str(txt / "seg051.txt"), "--labels-table",
                 str(txt / "labels.tsv"), "--sfreq", "256", "--out", str(tmp_path / "e7")]) == 0
    m = json.loads((tmp_path / "e7" / "metrics.json").read_text())
    assert m["n_samples"] == 5 and m["data"]["class_counts"]["ictal"] == 5
    capsys.readouterr()
    # no label table and a folder name that is no label of the run: say --labels-table
    assert main(["evaluate", str(final_run), str(txt / "seg051.txt"), "--sfreq", "256",
                 "--out", str(tmp_path / "e8")]) == 3
    err = capsys.readouterr().err
    assert "label (its folder name such as 'txt')" in err and "--labels-table" in err
    # a text segment at another rate without --sfreq: the length error says --sfreq
    assert main(["evaluate", str(final_run), str(txt / "seg051.txt"), "--labels-table",
                 str(txt / "labels.tsv"), "--out", str(tmp_path / "e9")]) == 3
    err = capsys.readouterr().err
    assert "samples, expected 4097 (a text segment carries no sampling rate" in err
    assert "--sfreq" in err


def test_split_none_and_holdout_without_test(repo_root):
    from eegsnn.pipeline import run_pipeline
    from eegsnn.pipeline.config import load_study_config

    cfg = repo_root / "configs" / "bonn_example.yaml"
    with pytest.raises(ConfigError, match=r"use split\.method: none"):
        load_study_config(cfg, ["split.test_fraction=0"])
    with pytest.raises(ConfigError, match="give an output folder"):
        run_pipeline(cfg, None, overrides=["split.method=none"])
    assert load_study_config(cfg, ["split.method=none"])["split"]["method"] == "none"


@pytest.mark.slow
def test_bonn_final_on_all_400_segments_applied_to_256_hz_copies(repo_root, shared_data,
                                                                 tmp_path, capsys):
    """configs/bonn_final.yaml as shipped (all 400 segments, 30 epochs), then applied to
    256 Hz .mat/EDF copies of segments 041-048 of S and Z. These were in its training
    set, so the scores are not held-out: what is tested is that the other-site path
    (resampling, containers, label table) gives the predictions of the run's own path."""
    run = tmp_path / "bonn_final"
    assert main(["train", "--config", str(repo_root / "configs" / "bonn_final.yaml"),
                 "--set", f"cache_dir={tmp_path / 'cache'}", "--out", str(run), "--quiet",
                 "--no-progress"]) == 0
    about = json.loads((run / "model" / "about.json").read_text())
    assert about["trained_on"]["windows"] == 2000 and about["trained_on"]["recordings"] == 400
    site = make_site(shared_data / "bonn", tmp_path / "site", range(41, 49))
    ev = tmp_path / "ev"
    assert main(["evaluate", str(run), str(site), "--labels-table", str(site / "labels.csv"),
                 "--sfreq", "256", "--mat-var", "sig", "--out", str(ev)]) == 0
    m = json.loads((ev / "metrics.json").read_text())
    assert m["recording_level"]["n_recordings"] == 16 and "baseline" in m
    assert m["accuracy"] >= 0.9 and m["baseline"]["pooled"]["accuracy"] >= 0.9
    capsys.readouterr()


def test_every_shipped_config_says_what_model_is_trained_on(repo_root):
    for path in sorted((repo_root / "configs").glob("*.yaml")):
        assert "model/" in path.read_text(), f"{path.name}: say what model/ is trained on"
