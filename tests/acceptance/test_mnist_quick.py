"""``eegsnn mnist --quick`` end to end on the real MNIST files (the CI smoke test)."""

from __future__ import annotations

import json

from eegsnn.cli import main


def test_mnist_quick_reaches_90_percent(shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["mnist", "--data-dir", str(shared_data / "mnist"), "--quick", "--out",
                 str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.90
    assert metrics["n_samples"] == 10000 and metrics["split"] == "test"
    for key in ("balanced_accuracy", "cohen_kappa", "f1_macro", "confusion_matrix",
                "firing_rates"):
        assert key in metrics
    assert sum(map(sum, metrics["confusion_matrix"])) == 10000
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["quick"] and config["train"]["batch_size"] == 128
    assert config["model"]["layers"][1]["beta"] == 0.85
    for name in ("history.json", "environment.json", "train.log", "checkpoint/state.json"):
        assert (out / name).is_file()
    assert "test accuracy" in capsys.readouterr().out


def test_mnist_missing_files_is_a_clear_error(tmp_path, capsys):
    assert main(["mnist", "--data-dir", str(tmp_path), "--quick"]) == 3
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "Traceback" not in err
