"""Streaming packed spike shards: content, reproducible order, memory bound, ranks."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # noqa: F401
from eegsnn.encode import save_spikes
from eegsnn.encode.shards import ShardedSpikes, ShardWriter, index_shards
from eegsnn.errors import ConfigError, DataError

T, L, N = 13, 5, 103


@pytest.fixture(scope="module")
def spikes():
    rng = np.random.default_rng(0)
    x = (rng.random((T, N, L)) < 0.3).astype(np.float32)
    x[0, :, 0] = np.arange(N) % 2  # make windows distinguishable
    x[1:8, :, 1] = ((np.arange(N)[None, :] >> np.arange(7)[:, None]) & 1)  # bits of the id
    y = rng.integers(0, 3, N)
    return x, y


def _ids(x):
    """Window id from the bits stored in line 1, steps 1..7."""
    bits = np.asarray(x)[1:8, :, 1].astype(int)
    return (bits << np.arange(7)[:, None]).sum(axis=0)


@pytest.fixture(scope="module")
def sharded(spikes, tmp_path_factory):
    x, y = spikes
    path = tmp_path_factory.mktemp("sh") / "c.shards"
    with ShardWriter(path, shard_windows=20, meta={"note": "test"}) as w:
        for a in range(0, N, 7):  # batches that straddle shard boundaries
            w.append(x[:, a:a + 7], y[a:a + 7])
    return ShardedSpikes(path, verify=True)


def test_writer_layout_and_content(sharded, spikes):
    x, y = spikes
    assert sharded.num_shards == 6 and list(sharded.shard_sizes) == [20] * 5 + [3]
    assert (len(sharded), sharded.num_steps, sharded.num_lines) == (N, T, L)
    assert sharded.meta == {"note": "test"} and sharded.packing == "bits"
    np.testing.assert_array_equal(sharded.labels(), y)
    got = list(sharded.iter_batches(N, shuffle=False))
    (xb, yb, n), = got
    np.testing.assert_array_equal(np.asarray(xb), x)
    np.testing.assert_array_equal(np.asarray(yb), y)
    assert xb.dtype == mx.float32 and n == N


def test_writer_packing_is_one_for_every_shard(tmp_path):
    """Shards of a count code index together even when one shard holds only 0/1."""
    x = np.zeros((T, 30, L), dtype=np.float32)
    x[2, :, 0] = 1
    x[3, :20, 1] = 2  # counts in the first shard only
    y = np.arange(30) % 3
    with pytest.raises(DataError, match="packing"):  # "auto": per shard, bits vs counts
        with ShardWriter(tmp_path / "auto", shard_windows=20) as w:
            w.append(x, y)
    with ShardWriter(tmp_path / "c", shard_windows=20, packing="counts") as w:
        w.append(x[:, :13], y[:13])
        w.append(x[:, 13:], y[13:])
    ds = ShardedSpikes(tmp_path / "c", verify=True)
    assert ds.packing == "counts" and list(ds.shard_sizes) == [20, 10]
    (xb, yb, _), = ds.iter_batches(30, shuffle=False)
    np.testing.assert_array_equal(np.asarray(xb), x)
    np.testing.assert_array_equal(np.asarray(yb), y)


def test_epoch_order_is_a_reproducible_permutation(sharded, spikes):
    _, y = spikes

    def epoch(e, seed=1, k=1):
        out = [(_ids(xb), np.asarray(yb)) for xb, yb, _ in
               sharded.iter_batches(16, epoch=e, seed=seed, shards_in_memory=k)]
        return np.concatenate([a for a, _ in out]), np.concatenate([b for _, b in out])

    ids0, lab0 = epoch(0)
    assert sorted(ids0) == list(range(N))          # every window once
    np.testing.assert_array_equal(lab0, y[ids0])   # labels travel with their windows
    np.testing.assert_array_equal(epoch(0)[0], ids0)            # same seed, same order
    assert not np.array_equal(epoch(1)[0], ids0)                # new epoch, new order
    assert not np.array_equal(epoch(0, seed=2)[0], ids0)
    assert sorted(epoch(0, k=3)[0]) == list(range(N))
    # with one shard in memory, each shard's windows stay together (shard-level mixing)
    first = ids0[:20]
    assert len({i // 20 for i in first[:16]}) == 1


def test_memory_bound(sharded):
    for k in (1, 2):
        sum(1 for _ in sharded.iter_batches(16, shards_in_memory=k))
        # k shards of 20 plus a carried remainder smaller than one batch
        assert sharded.max_resident_windows <= 20 * k + 15
    loads = sharded.shard_loads
    sum(1 for _ in sharded.iter_batches(16))
    assert sharded.shard_loads - loads == sharded.num_shards  # each shard read once


def test_rank_partitions(sharded):
    single = [(_ids(xb), n) for xb, _, n in sharded.iter_batches(10, epoch=2, drop_last=True)]
    ranks = [[(_ids(xb), n) for xb, _, n in
              sharded.iter_batches(10, epoch=2, drop_last=True, rank=r, world_size=2)]
             for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(single) == N // 10
    for s, (ids, n) in enumerate(single):  # batch partition: exactly the single batches
        np.testing.assert_array_equal(np.concatenate([ranks[0][s][0], ranks[1][s][0]]), ids)
        assert ranks[0][s][1] == n == 10
    by_shard = [[_ids(xb) for xb, _, _ in
                 sharded.iter_batches(10, epoch=2, rank=r, world_size=2, partition="shard")]
                for r in range(2)]
    assert len(by_shard[0]) == len(by_shard[1]) > 0           # same step count
    seen = [set(np.concatenate(b)) for b in by_shard]
    assert not seen[0] & seen[1]                               # disjoint shards
    assert all(len(b) == 5 for b in by_shard[0])               # local batch = 10 // 2
    with pytest.raises(ConfigError, match="partition"):
        next(sharded.iter_batches(10, partition="random"))


def test_index_existing_datasets(tmp_path, spikes):
    x, y = spikes
    a = save_spikes(tmp_path / "rec1.spikes", x[:, :40], y[:40])
    b = save_spikes(tmp_path / "rec2.spikes", x[:, 40:], y[40:])
    index_shards(tmp_path / "all", [a, b])
    ds = ShardedSpikes(tmp_path / "all")
    assert list(ds.shard_sizes) == [40, N - 40]
    (xb, _yb, _), = ds.iter_batches(N, shuffle=False)
    np.testing.assert_array_equal(np.asarray(xb), x)
    save_spikes(tmp_path / "odd.spikes", x[:5, :10], y[:10])
    with pytest.raises(DataError, match="num_steps"):
        index_shards(tmp_path / "bad", [a, tmp_path / "odd.spikes"])
    with pytest.raises(DataError, match="index"):
        ShardedSpikes(tmp_path)


def test_streamed_training_matches_in_memory(sharded, spikes):
    """fit_data_parallel over streamed shards == over the same batches held in memory."""
    from eegsnn.distributed import fit_data_parallel

    model = {"input_shape": [L], "readout": "final", "layers": [
        {"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.9},
        {"type": "linear", "out_features": 3},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]}
    cfg = {"epochs": 2, "batch_size": 16, "seed": 0, "compile": False,
           "checkpoint_every": 0}
    streamed = fit_data_parallel(model, sharded.batches(16, seed=4), cfg)

    def same_batches(epoch):
        for xb, yb, n in sharded.iter_batches(16, epoch=epoch, seed=4, drop_last=True):
            yield mx.array(np.asarray(xb)), yb, n

    held = fit_data_parallel(model, same_batches, cfg)
    for (k, a), (_, b) in zip(sorted(streamed.model.parameters()["layers"][0].items()),
                              sorted(held.model.parameters()["layers"][0].items()),
                              strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)
    assert streamed.history[-1]["samples"] == (N // 16) * 16


def _small_model():
    return {"input_shape": [L], "readout": "final", "layers": [
        {"type": "linear", "out_features": 8}, {"type": "leaky", "beta": 0.9},
        {"type": "linear", "out_features": 3},
        {"type": "leaky", "beta": 0.9, "reset_mechanism": "none"}]}


def _weights(model):
    from mlx.utils import tree_flatten

    return {k: np.asarray(v) for k, v in tree_flatten(model.parameters())}


def test_fit_streams_shards_with_evaluation_and_resume(sharded, spikes, tmp_path):
    """The engine's one loop takes the shards as a BatchSource: the same weights as the
    ``batches(epoch)`` form, an in-memory validation set with early stopping, and a run
    stopped after one epoch resumes to the weights of the uninterrupted run."""
    from eegsnn.distributed import fit_data_parallel
    from eegsnn.train import ArrayDataset, fit

    x, y = spikes
    val = ArrayDataset(mx.array(x[:, :30]), y[:30], time_major=True)
    cfg = {"epochs": 3, "batch_size": 16, "seed": 4, "compile": False,
           "checkpoint_every": 0, "early_stopping": {"patience": 5}}
    whole = fit(_small_model(), sharded, cfg, val=val, progress=False, distributed=None,
                run_dir=tmp_path / "whole")
    assert len(whole.history) == 3 and "val_accuracy" in whole.history[0]
    assert whole.metrics is not None and whole.metrics["split"] == "val"
    plain = {**cfg, "early_stopping": None}
    dp = fit_data_parallel(_small_model(), sharded.batches(16, seed=4), plain)
    ref = fit(_small_model(), sharded, plain, progress=False, distributed=None)
    for k, v in _weights(ref.model).items():
        np.testing.assert_array_equal(_weights(dp.model)[k], v, err_msg=k)
    assert [h["steps"] for h in dp.history] == [N // 16] * 3
    run = tmp_path / "resumed"
    fit(_small_model(), sharded, plain, progress=False, distributed=None, run_dir=run,
        stop_after_epochs=1)
    resumed = fit(_small_model(), sharded, plain, progress=False, distributed=None,
                  run_dir=run)
    assert resumed.resumed_from_epoch == 1
    for k, v in _weights(ref.model).items():
        np.testing.assert_array_equal(_weights(resumed.model)[k], v, err_msg=k)
    with pytest.raises(ConfigError, match="val_fraction"):
        fit(_small_model(), sharded, {**plain, "val_fraction": 0.2}, progress=False,
            distributed=None)


def test_array_dataset_batches_are_the_engine_order(spikes):
    from eegsnn.train import ArrayDataset, epoch_order

    x, y = spikes
    data = ArrayDataset(mx.array(x), y, time_major=True)
    alone = list(data.iter_batches(16, epoch=1, seed=2, drop_last=False))
    order = epoch_order(N, 2, 1)
    assert [n for _, _, n in alone] == [16] * (N // 16) + [N % 16]
    np.testing.assert_array_equal(np.concatenate([np.asarray(yb) for _, yb, _ in alone]),
                                  y[order])
    ranks = [list(data.iter_batches(16, epoch=1, seed=2, rank=r, world_size=3))
             for r in range(3)]
    for s, (xb, _, n) in enumerate(alone[:N // 16]):
        merged = np.concatenate([np.asarray(ranks[r][s][0]) for r in range(3)], axis=1)
        np.testing.assert_array_equal(merged, np.asarray(xb))
        assert all(ranks[r][s][2] == n for r in range(3))


def test_fit_refuses_a_label_beyond_the_models_outputs_in_shards(tmp_path):
    """A streamed source's labels are checked before any step, as an in-memory set's (a
    label 5 for a model of two outputs crashed the process with a double free)."""
    from eegsnn.errors import DataError
    from eegsnn.train import fit

    rng = np.random.default_rng(0)
    x = (rng.random((10, 64, 8)) < 0.3).astype(np.float32)
    y = rng.integers(0, 2, 64)
    y[::7] = 5
    with ShardWriter(tmp_path / "sh", shard_windows=32) as w:
        w.append(x, y)
    model = {"input_shape": [8], "layers": [{"type": "linear", "out_features": 2},
                                            {"type": "leaky"}]}
    with pytest.raises(DataError, match=r"train data: label 5 is out of range for a model "
                                        r"of 2 outputs"):
        fit(model, ShardedSpikes(tmp_path / "sh"), {"epochs": 1, "batch_size": 16})
