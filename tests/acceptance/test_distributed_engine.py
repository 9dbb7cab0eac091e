"""The engine's data-parallel mode: ``fit`` with built models and distribution contexts,
and the ``--distributed`` CLI path (``eegsnn train`` on 2 real ranks over loopback)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from eegsnn.distributed import (
    DistContext,
    broadcast_json,
    launch_local,
    selfcheck,
    single_process,
)
from eegsnn.errors import ConfigError
from eegsnn.model import build_model
from eegsnn.train import fit
from eegsnn.train.loop import layer_names

LAUNCH_VARS = ("MLX_HOSTFILE", "MLX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "NCCL_PORT",
               "MLX_IBV_DEVICES")
CFG = {"epochs": 1, "batch_size": 10, "seed": 3, "compile": False,
       # the reference is the MLX engine step (the fused CPU step differs by float
       # rounding and is tested against it in tests/unit/test_fused_step.py)
       "engine": "mlx",
       "optimizer": {"type": "adam", "learning_rate": 5e-3},
       "loss": {"type": "ce_membrane", "reduce": "final"}, "checkpoint_every": 0}


@pytest.fixture
def no_launcher(monkeypatch):
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)


def _params(model) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in selfcheck._params(model).items()}


def test_fit_accepts_a_built_model(no_launcher):
    """A built SpikingNet (an nn.Module, hence a dict) is trained as is, not parsed as a
    config; with the same seed it trains exactly like the config it was built from."""
    data = selfcheck.synthetic(40)
    mx.random.seed(CFG["seed"])
    built = build_model(selfcheck.MODEL)
    assert built.kinds == ["linear", "leaky", "linear", "leaky"]
    assert layer_names(built) == ["layers.1.leaky", "layers.3.leaky"]
    res = fit(built, data, CFG)
    assert res.model is built and res.world_size == 1
    from_config = fit(selfcheck.MODEL, data, CFG)
    a, b = _params(res.model), _params(from_config.model)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("distributed", ["auto", None, "ctx"])
def test_single_process_fit_is_the_plain_engine(tmp_path, no_launcher, distributed):
    """Alone (any way of saying so), fit is bit for bit the engine's make_train_step loop
    and its run folder has no distributed record."""
    data = selfcheck.synthetic(40)
    selfcheck.reference(tmp_path, CFG, data)
    ref = mx.load(str(tmp_path / "reference.safetensors"))
    dist = single_process() if distributed == "ctx" else distributed
    res = fit(selfcheck.MODEL, data, CFG, run_dir=tmp_path / "run", distributed=dist)
    got = _params(res.model)
    for k in ref:
        np.testing.assert_array_equal(got[k], np.array(ref[k]))
    losses = json.loads((tmp_path / "reference.json").read_text())["losses"]
    assert res.history[0]["train_loss"] == pytest.approx(np.mean(losses), rel=1e-6)
    assert "distributed" not in json.loads((tmp_path / "run" / "config.json").read_text())
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert "world_size" not in state and state["epoch"] == 1


def test_fit_rejects_bad_distribution_settings(no_launcher):
    data = selfcheck.synthetic(40)
    with pytest.raises(ConfigError, match="'auto', None or a DistContext"):
        fit(selfcheck.MODEL, data, CFG, distributed="yes")
    with pytest.raises(ConfigError, match="'auto', None or a DistContext"):
        fit(selfcheck.MODEL, data, CFG, distributed=2)
    four = DistContext(group=None, rank=0, size=4, backend="ring")  # checks come first
    with pytest.raises(ConfigError, match="batch_size=3 is smaller than the 4 processes"):
        fit(selfcheck.MODEL, data, {**CFG, "batch_size": 3}, distributed=four)
    with pytest.raises(ConfigError, match="last batch of an epoch has 2 samples"):
        fit(selfcheck.MODEL, selfcheck.synthetic(42), {**CFG, "drop_last": False},
            distributed=four)


def test_broadcast_json_alone_is_identity():
    obj = {"epoch": 3, "history": [{"loss": 0.5}], "best": None}
    assert broadcast_json(obj, single_process()) is obj


def test_cli_distributed_without_a_group_is_an_error(no_launcher, tmp_path, capsys):
    from eegsnn.cli import main

    assert main(["mnist", "--data-dir", str(tmp_path), "--quick", "--distributed"]) == 2
    err = capsys.readouterr().err
    assert "--distributed" in err and "mlx.launch" in err and "Traceback" not in err
    assert main(["mnist", "--data-dir", str(tmp_path), "--backend", "pigeon"]) == 2
    assert "--backend must be one of" in capsys.readouterr().err


def _eegsnn_script() -> Path:
    script = Path(sys.executable).with_name("eegsnn")
    if not script.is_file():
        pytest.fail(f"the eegsnn entry point is missing beside {sys.executable}")
    return script


def _rank_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("eegsnn-rank*")}


def test_cli_train_two_ranks(repo_root, tmp_path):
    """``eegsnn train --distributed`` on 2 ring ranks over 127.0.0.1: rank 0 writes --out
    (one run, one checkpoint per fold), rank 1 writes only a temporary folder that is gone
    at the end, and the trained weights equal a single-process run's (float tolerance).

    Few steps (one epoch of 3 global batches of 150) and plain SGD: spiking training on
    real EEG is chaotic (a 1e-7 relative change of the initial weights grows to ~5e-3 in 14
    SGD steps of a single process), so the float rounding of the all-reduce must not have
    many steps to grow; Adam's first steps are ~lr * sign(g) and flip on gradients ~0.

    The tolerance is on the scale of what training did, not on each weight: per tensor,
    ||w_2ranks - w_1rank|| <= 1e-2 * ||w_1rank - w_init||. Summation order (which BLAS, how
    the all-reduce adds) flips a few spikes, and an element-wise rtol of 1e-4 failed on one
    small weight with another BLAS. Measured here (2 ranks vs 1, 3 steps, deterministic
    from run to run): the largest ratio 6.8e-4 (layers.0.weight) with scipy-openblas32 and
    4.1e-4 with the MLX wheel's reference BLAS (EEGSNN_BLAS=off), so 1e-2 leaves 15x margin;
    a computation that differs fails it: a single process with a 10 % larger learning rate
    (what a 1.1x gradient scale would do) gives ratios 0.13-0.44 per tensor, 2x (a sum
    instead of a mean over the ranks) 1.9-3.5."""
    argv = ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
            "--set", "train.epochs=1", "--set", "train.batch_size=150",
            "--set", "encoder.spikes_per_s=10",
            "--set", "model.hidden=[8]", "--set", "train.optimizer.type=sgd",
            "--set", "train.optimizer.learning_rate=0.05",
            "--set", f"cache_dir={tmp_path / 'cache'}",
            "--baseline", "none", "--report", "none", "--quiet", "--no-progress"]
    dp_out, one_out = tmp_path / "dp", tmp_path / "one"
    from eegsnn.cli import main

    assert main([*argv, "--out", str(one_out)]) == 0  # also fills the window cache
    before = _rank_temp_dirs()
    # (TMPDIR stays as is: MLX keeps its compiled-kernel cache there)
    proc = launch_local(_eegsnn_script(), [*argv, "--out", str(dp_out), "--distributed",
                                           "--backend", "ring"], n=2, timeout_s=240)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert proc.stdout.count("SNN held-out accuracy") == 1  # only rank 0 reports
    assert _rank_temp_dirs() <= before  # rank 1's temporary run folder was removed
    trained = json.loads((dp_out / "folds" / "fold-1" / "train" / "checkpoint" /
                          "state.json").read_text())  # fit's own checkpoint of the fold
    assert trained["world_size"] == 2 and trained["epoch"] == 1
    assert trained["global_step"] == 3
    checkpoints = sorted(dp_out.rglob("checkpoint/model.safetensors"))
    assert len(checkpoints) == len(list(one_out.rglob("checkpoint/model.safetensors"))) >= 2
    # the initial weights, as fit builds them (holdout: every checkpoint is fold 1's model)
    fit_config = json.loads((one_out / "folds" / "fold-1" / "train" / "config.json")
                            .read_text())
    mx.random.seed(int(fit_config["train"]["seed"]))
    init = dict(tree_flatten(build_model(fit_config["model"]).parameters()))
    for path in checkpoints:
        rel = path.relative_to(dp_out)
        assert not list(path.parent.parent.glob("*.tmp*"))  # no half-written second copy
        a, b = mx.load(str(path)), mx.load(str(one_out / rel))
        assert set(a) == set(b) and set(a) <= set(init)
        for k in a:
            two, one = np.array(a[k], np.float64), np.array(b[k], np.float64)
            update = np.linalg.norm(one - np.array(init[k], np.float64))
            assert update > 0, f"{rel}:{k} did not train"
            ratio = np.linalg.norm(two - one) / update
            assert ratio <= 1e-2, f"{rel}:{k}: 2 ranks differ by {ratio:.2e} of the update"
    m_dp = json.loads((dp_out / "metrics.json").read_text())
    m_one = json.loads((one_out / "metrics.json").read_text())
    assert m_dp["snn"]["pooled"]["n_samples"] == m_one["snn"]["pooled"]["n_samples"]


@pytest.mark.slow
def test_cli_mnist_quick_two_ranks(shared_data, tmp_path):
    """The documented command: ``eegsnn mnist --quick --distributed`` on 2 ranks reaches
    the quick run's accuracy and writes one run folder."""
    out = tmp_path / "run"
    proc = launch_local(_eegsnn_script(), ["mnist", "--data-dir", str(shared_data / "mnist"),
                                           "--quick", "--distributed", "--out", str(out)],
                        n=2, timeout_s=900)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert proc.stdout.count("test accuracy") == 1
    assert "data-parallel over 2 processes" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.90
    config = json.loads((out / "config.json").read_text())
    assert config["distributed"]["world_size"] == 2 and config["train"]["batch_size"] == 128


RESUME_SCRIPT = '''
import sys
from pathlib import Path
import eegsnn
import mlx.core as mx
import numpy as np
from eegsnn.distributed import init_distributed, selfcheck as sc
from eegsnn.train import fit
out = Path(sys.argv[1])
ctx = init_distributed(strict=True)
cfg = {"epochs": 3, "batch_size": 33, "seed": 3, "compile": False, "checkpoint_every": 0,
       "optimizer": {"type": "adam", "learning_rate": 5e-3},
       "loss": {"type": "ce_membrane", "reduce": "final"}}
data = sc.synthetic(99)
full = fit(sc.MODEL, data, cfg, run_dir=out / "full", progress=False)
part = fit(sc.MODEL, data, cfg, run_dir=out / "part", progress=False, stop_after_epochs=1)
res = fit(sc.MODEL, data, cfg, run_dir=out / "part", progress=False)
a, b = sc._params(full.model), sc._params(res.model)
flat = lambda p: np.concatenate([np.array(p[k]).ravel() for k in sorted(p)])  # noqa: E731
np.savez(out / f"rank{ctx.rank}.npz", full=flat(a), resumed=flat(b),
         epochs=[len(part.history), res.resumed_from_epoch, len(res.history), res.world_size])
'''


def test_two_ranks_resume_an_interrupted_run(tmp_path):
    """2 ranks: stop after epoch 1, resume (rank 0 reads the checkpoint and broadcasts
    weights, Adam state and history), finish: bit-identical to an uninterrupted run."""
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    proc = launch_local(script, [str(tmp_path)], n=2, timeout_s=180)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    got = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    for g in got:
        assert list(g["epochs"]) == [1, 1, 3, 2]
        np.testing.assert_array_equal(g["full"], g["resumed"])
        np.testing.assert_array_equal(g["resumed"], got[0]["resumed"])
    assert not (tmp_path / "part" / "rank1").exists()
    state = json.loads((tmp_path / "part" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 3 and len(state["history"]) == 3


def test_broadcast_state_alone_is_identity():
    from eegsnn.distributed import broadcast_state

    tree = {"step": mx.array(3, dtype=mx.uint64), "w": {"m": mx.ones((2, 3))}}
    assert broadcast_state(tree, single_process()) is tree
