"""Data-parallel training: sharding arithmetic, single-process identity, and two real
processes over loopback (mlx.launch, ring backend) against the engine's single process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import eegsnn
from eegsnn.distributed import (
    DistContext,
    average_gradients,
    fit_data_parallel,
    global_mean,
    init_distributed,
    launch_local,
    launched_rank,
    local_batches,
    main_only,
    rank_log_path,
    shard_items,
    shard_range,
    shard_weight,
    single_process,
)
from eegsnn.errors import ConfigError

SELFCHECK = Path(eegsnn.__file__).parent / "distributed" / "selfcheck.py"
LAUNCH_VARS = ("MLX_HOSTFILE", "MLX_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "NCCL_PORT",
               "MLX_IBV_DEVICES")


@pytest.mark.parametrize("n", [0, 1, 5, 32, 33, 101])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_shard_range_matches_array_split(n, size):
    parts = np.array_split(np.arange(n), size)
    for rank in range(size):
        a, b = shard_range(n, rank, size)
        np.testing.assert_array_equal(np.arange(n)[a:b], parts[rank])


def test_shard_weights_give_the_global_mean():
    # per-rank mean gradients g_r of per-sample values v_i; weighted average == global mean
    v = np.random.default_rng(0).normal(size=33)
    size = 2
    total = 0.0
    for rank in range(size):
        a, b = shard_range(v.size, rank, size)
        total += shard_weight(b - a, v.size, size) * v[a:b].mean() / size
    assert total == pytest.approx(v.mean(), rel=1e-12)


def test_local_batches_cover_each_global_batch_once():
    order = np.random.default_rng(1).permutation(50)
    got = [[idx for idx, _ in local_batches(order, 16, r, 3, drop_last=True)]
           for r in range(3)]
    assert len(got[0]) == 3  # 50 // 16, last partial batch dropped
    for s in range(3):
        merged = np.concatenate([got[r][s] for r in range(3)])
        np.testing.assert_array_equal(merged, order[16 * s:16 * (s + 1)])
    with pytest.raises(ConfigError, match="cannot feed 4 processes"):
        list(local_batches(np.arange(3), 3, 0, 4))
    with pytest.raises(ConfigError, match="rank"):
        shard_range(10, 2, 2)


def test_shard_items_round_robin():
    files = [f"f{i}" for i in range(7)]
    parts = [shard_items(files, r, 3) for r in range(3)]
    assert parts[0] == ["f0", "f3", "f6"]
    assert sorted(f for part in parts for f in part) == sorted(files)


def test_single_process_context(monkeypatch):
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    ctx = init_distributed()
    assert (ctx.rank, ctx.size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    g = {"w": mx.array([1.0, 2.0])}
    assert average_gradients(g, ctx, 0.5) is g
    with pytest.raises(ConfigError, match="backend"):
        init_distributed("carrier-pigeon")


def test_launcher_environment(monkeypatch, tmp_path):
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "hosts.json"
    empty.write_text("\n")  # what `mlx.launch -n 1` writes: one process, no group
    monkeypatch.setenv("MLX_HOSTFILE", str(empty))
    monkeypatch.setenv("MLX_RANK", "0")
    assert init_distributed().size == 1
    broken = tmp_path / "broken.json"
    broken.write_text("[[not json")
    monkeypatch.setenv("MLX_HOSTFILE", str(broken))
    assert launched_rank() == (0, "ring")
    # launched but no group can be formed: an error, never a silent single process
    with pytest.raises(ConfigError, match="could not join"):
        init_distributed("ring")


def test_main_only_and_rank_log_path(tmp_path):
    calls = []
    main = single_process()
    other = DistContext(group=None, rank=3, size=1, backend="none")  # size 1: no barrier

    @main_only(main)
    def write():
        calls.append(1)
        return "done"

    assert write() == "done" and calls == [1]
    assert main_only(other)(lambda: calls.append(2))() is None and calls == [1]
    assert rank_log_path(tmp_path / "train.log", main) == tmp_path / "train.log"
    assert rank_log_path(tmp_path / "train.log", other) == tmp_path / "train.rank3.log"


def test_single_process_fit_matches_engine_step(tmp_path):
    """fit_data_parallel alone == the engine's make_train_step loop, bit for bit."""
    from eegsnn.distributed import selfcheck

    data = selfcheck.synthetic(40)
    cfg = {"epochs": 1, "batch_size": 10, "seed": 3, "compile": False,
           # the reference is the MLX engine step (the fused CPU step differs by float
           # rounding and is tested against it in tests/unit/test_fused_step.py)
           "engine": "mlx",
           "optimizer": {"type": "adam", "learning_rate": 5e-3},
           "loss": {"type": "ce_membrane", "reduce": "final"}, "checkpoint_every": 0}
    selfcheck.reference(tmp_path, cfg, data)
    ref = mx.load(str(tmp_path / "reference.safetensors"))
    res = fit_data_parallel(selfcheck.MODEL, data, cfg, run_dir=tmp_path / "run")
    got = dict(selfcheck._params(res.model))
    for k in ref:
        np.testing.assert_array_equal(np.array(got[k]), np.array(ref[k]))
    ref_losses = json.loads((tmp_path / "reference.json").read_text())["losses"]
    assert res.history[0]["loss"] == pytest.approx(np.mean(ref_losses), rel=1e-6)
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").is_file()
    assert global_mean(2.0, 3.0, single_process()) == 2.0
    with pytest.raises(ConfigError, match="smaller than the"):
        fit_data_parallel(selfcheck.MODEL, data, {**cfg, "batch_size": 1},
                          ctx=DistContext(None, 0, 2, "ring"))


def _run_pair(out: Path, compile: bool) -> None:
    flags = [] if compile else ["--no-compile"]
    ref = subprocess.run([sys.executable, str(SELFCHECK), "--out", str(out), "--reference",
                          *flags], capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]
    proc = launch_local(SELFCHECK, ["--out", str(out), *flags], n=2, timeout_s=300)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])


def _check_pair(out: Path) -> None:
    ref = mx.load(str(out / "reference.safetensors"))
    ranks = [mx.load(str(out / f"rank{r}.safetensors")) for r in range(2)]
    ckpt = mx.load(str(out / "run" / "checkpoint" / "model.safetensors"))
    for r in range(2):
        meta = json.loads((out / f"rank{r}.json").read_text())
        assert (meta["rank"], meta["size"], meta["backend"]) == (r, 2, "ring")
        assert meta["world_size"] == 2  # fit itself trained data-parallel
    assert set(ref) == set(ranks[0]) == set(ckpt)
    for k in ref:
        a, b, c = (np.array(t[k]) for t in (*ranks, ckpt))
        np.testing.assert_array_equal(a, b)  # replicas never drift apart
        np.testing.assert_array_equal(a, c)  # rank 0 wrote the checkpoint
        # same result as one process with the same global batch (float tolerance)
        np.testing.assert_allclose(a, np.array(ref[k]), rtol=1e-4, atol=1e-5)
        assert not np.allclose(a, 0)
    # losses: the distributed epoch mean equals the single-process per-step mean
    losses = json.loads((out / "reference.json").read_text())["losses"]
    hist = json.loads((out / "rank0.json").read_text())["history"]
    per_epoch = np.array(losses).reshape(len(hist), -1).mean(axis=1)
    np.testing.assert_allclose([h["loss"] for h in hist], per_epoch, rtol=1e-4)
    # only one writer: one checkpoint, no stray temp files from a second writer
    names = {p.name for p in (out / "run").iterdir()} - {"curves.png"}
    assert names == {"checkpoint", "config.json", "environment.json", "history.json",
                     "train.log"}
    state = json.loads((out / "run" / "checkpoint" / "state.json").read_text())
    assert state["world_size"] == 2 and state["epoch"] == 2
    config = json.loads((out / "run" / "config.json").read_text())
    assert config["distributed"] == {"world_size": 2, "backend": "ring"}
    log = (out / "run" / "train.log").read_text().splitlines()
    assert len(log) == 2 and log[0].startswith("epoch=1 ")  # one line per epoch, one writer


def test_two_processes_match_single_process(tmp_path):
    """Two ranks (ring backend over 127.0.0.1) running the engine's ``fit`` with 17 + 16
    of each 33-sample global batch end with the parameters of one process trained on the
    full batches. Rank 1 starts from different random weights: rank 0's are broadcast
    before training."""
    _run_pair(tmp_path, compile=False)
    _check_pair(tmp_path)


@pytest.mark.slow
def test_two_processes_match_single_process_compiled(tmp_path):
    _run_pair(tmp_path, compile=True)
    _check_pair(tmp_path)
