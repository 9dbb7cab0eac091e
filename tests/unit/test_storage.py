"""Packed spike storage: lossless round trip, metadata, checksums, atomic writes, real EEG."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import eegsnn  # (BLAS before mlx.core; eegsnn.__version__ below)
from eegsnn.encode import (
    EEGEncoder,
    SpikeWriter,
    encode_to_file,
    file_sha256,
    load_spikes,
    save_spikes,
)
from eegsnn.errors import ChecksumError, ConfigError, DataError


def _random_spikes(t: int, b: int, lines: int, p: float = 0.2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((t, b, lines)) < p).astype(np.float32)


@pytest.mark.parametrize("t", [1, 7, 8, 13, 64, 101])
def test_round_trip_lossless_for_any_num_steps(tmp_path, t):
    spikes = _random_spikes(t, 5, 6, seed=t)
    labels = np.arange(5) % 2
    ds = load_spikes(save_spikes(tmp_path / "a.spikes", mx.array(spikes), labels, {"k": t}))
    assert (len(ds), ds.num_steps, ds.num_lines, ds.packing) == (5, t, 6, "bits")
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), spikes)
    idx = [4, 0, 2]
    batch = ds.batch(idx)
    assert batch.dtype == mx.float32 and batch.shape == (t, 3, 6)
    np.testing.assert_array_equal(np.asarray(batch), spikes[:, idx])
    np.testing.assert_array_equal(np.asarray(ds.batch_labels(idx)), labels[idx])
    assert ds.meta == {"k": t}
    assert ds._packed.shape == (5, 6, (t + 7) // 8)  # 8 spikes per byte along time


def test_batch_major_input_and_counts(tmp_path):
    spikes = _random_spikes(20, 3, 4).transpose(1, 0, 2)  # [N, T, L]
    ds = load_spikes(save_spikes(tmp_path / "b", spikes, time_major=False))
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), spikes.transpose(1, 0, 2))
    assert ds.labels is None
    with pytest.raises(ConfigError, match="without labels"):
        ds.batch_labels([0])
    counts = np.random.default_rng(1).integers(0, 6, size=(9, 2, 3)).astype(np.float32)
    dc = load_spikes(save_spikes(tmp_path / "c", counts))
    assert dc.packing == "counts"
    np.testing.assert_array_equal(np.asarray(dc.to_dense()), counts)


def test_iter_batches_covers_every_window_once(tmp_path):
    spikes = _random_spikes(10, 7, 3)
    ds = load_spikes(save_spikes(tmp_path / "d", spikes, np.arange(7)))
    seen = []
    for x, y in ds.iter_batches(3, shuffle=True, seed=1):
        yi = np.asarray(y)
        np.testing.assert_array_equal(np.asarray(x), spikes[:, yi])
        seen.extend(yi.tolist())
    assert sorted(seen) == list(range(7)) and seen != list(range(7))
    assert sum(1 for _ in ds.iter_batches(3, drop_last=True)) == 2


def test_bad_input_and_integrity(tmp_path):
    with pytest.raises(DataError, match="ON/OFF"):
        save_spikes(tmp_path / "e", np.array([[[1.0, -1.0]]]))
    with pytest.raises(DataError, match="shape"):
        save_spikes(tmp_path / "e", np.zeros((3, 4)))
    with pytest.raises(DataError, match="labels for 2 windows"):
        save_spikes(tmp_path / "e", np.zeros((3, 2, 1)), labels=[1, 2, 3])
    with pytest.raises(ConfigError, match="JSON"):
        save_spikes(tmp_path / "e", np.zeros((3, 2, 1)), meta={"x": object()})
    path = save_spikes(tmp_path / "f", _random_spikes(16, 2, 2))
    with pytest.raises(ConfigError, match="already exists"):
        save_spikes(path, _random_spikes(16, 2, 2))
    save_spikes(path, _random_spikes(9, 1, 2, seed=3), overwrite=True)
    assert load_spikes(path).num_steps == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temp folders left behind
    raw = bytearray((path / "spikes.npy").read_bytes())
    raw[-1] ^= 0xFF
    (path / "spikes.npy").write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match=r"spikes\.npy"):
        load_spikes(path)
    assert load_spikes(path, verify=False).num_steps == 9
    with pytest.raises(DataError, match="not a spike dataset"):
        load_spikes(tmp_path)


def test_real_eeg_round_trip_and_compression(tmp_path, shared_data):
    mne = pytest.importorskip("mne")
    edf = shared_data / "eegmmidb" / "S001" / "S001R03.edf"
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    events = mne.make_fixed_length_events(raw, duration=2.0)[:12]
    epochs = mne.Epochs(
        raw, events, tmin=0, tmax=2.0 - 1 / 160, baseline=None, preload=True, verbose="error"
    )
    enc = EEGEncoder("threshold", levels=3).fit(epochs)
    spikes = enc.transform(epochs)  # [320, 12, 384]
    meta = {
        "channels": enc.ch_names_,
        "sfreq_hz": enc.sfreq_hz,
        "encoder": enc.to_config(),
        "layout": enc.layout,
        "sources": [{"file": edf.name, "sha256": file_sha256(edf)}],
    }
    path = save_spikes(tmp_path / "r03.spikes", spikes, np.arange(12) % 3, meta)
    ds = load_spikes(path)
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), np.asarray(spikes))
    assert ds.layout == enc.layout
    rebuilt = EEGEncoder.from_config(ds.meta["encoder"])
    np.testing.assert_array_equal(np.asarray(rebuilt.transform(epochs)), np.asarray(spikes))
    # file_sha256 agrees with the PhysioNet checksum list that MNE ships
    sums = Path(mne.__file__).parent / "data" / "eegbci_checksums.txt"
    listed = dict(line.split() for line in sums.read_text().splitlines() if line.strip())
    assert ds.meta["sources"][0]["sha256"] == listed["S001/S001R03.edf"]
    assert ds.compression_ratio == pytest.approx(32.0)  # T = 320 is a multiple of 8
    on_disk = (path / "spikes.npy").stat().st_size
    assert on_disk < ds.nbytes_dense / 31
    assert json.loads((path / "meta.json").read_text())["packing"] == "bits"


def test_spike_writer_batches_and_abort(tmp_path):
    spikes = _random_spikes(12, 7, 3)
    with SpikeWriter(tmp_path / "w", 7, 12, 3) as w:
        w.append(spikes[:, :4], [0, 1, 0, 1])
        w.append(spikes[:, 4:], [1, 1, 0])
        w.close({"note": "two batches"})
    ds = load_spikes(tmp_path / "w")
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), spikes)
    np.testing.assert_array_equal(ds.labels, [0, 1, 0, 1, 1, 1, 0])
    with pytest.raises(DataError, match="not 0/1"):
        with SpikeWriter(tmp_path / "x", 2, 12, 3, labels=False) as w:
            w.append(spikes[:, :2] * 2)
    with pytest.raises(DataError, match="only 1 of 2"):
        with SpikeWriter(tmp_path / "y", 2, 12, 3, labels=False) as w:
            w.append(spikes[:, :1])
            w.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # failed writes left nothing


def test_spike_writer_auto_packing_and_partial_close(tmp_path):
    """The writer every path uses: "auto" packs to bits only when all entries are 0/1, and
    close(partial=True) keeps just the windows written (the last shard of a stream)."""
    spikes = _random_spikes(11, 9, 4)
    with SpikeWriter(tmp_path / "bits", 20, 11, 4, packing="auto") as w:
        w.append(spikes[:, :5], np.arange(5))
        w.append(spikes[:, 5:], np.arange(5, 9))
        w.close({"note": "partial"}, partial=True)
    ds = load_spikes(tmp_path / "bits")
    assert (ds.packing, len(ds), ds.meta) == ("bits", 9, {"note": "partial"})
    assert ds.nbytes_packed == 9 * 4 * 2  # ceil(11 / 8) bytes per line: packed on close
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), spikes)
    np.testing.assert_array_equal(ds.labels, np.arange(9))
    # the same windows as save_spikes writes them, byte for byte
    ref = save_spikes(tmp_path / "ref", spikes, np.arange(9), {"note": "partial"})
    assert (ref / "spikes.npy").read_bytes() == (tmp_path / "bits" / "spikes.npy").read_bytes()
    counts = spikes.copy()
    counts[3, 2, 1] = 3
    with SpikeWriter(tmp_path / "counts", 9, 11, 4, packing="auto", labels=False,
                     compress=True) as w:
        w.append(counts)
        w.close()
    dc = load_spikes(tmp_path / "counts")
    assert dc.packing == "counts"
    np.testing.assert_array_equal(np.asarray(dc.to_dense()), counts)
    with pytest.raises(DataError, match="only 0 of 3"):
        SpikeWriter(tmp_path / "empty", 3, 11, 4, labels=False).close(partial=True)
    with pytest.raises(ConfigError, match="packing"):
        SpikeWriter(tmp_path / "bad", 3, 11, 4, packing="zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bits", "counts", "ref"]


def test_compressed_round_trip_smaller_for_sparse_codes(tmp_path):
    spikes = _random_spikes(203, 6, 40, p=0.02, seed=5)
    plain = save_spikes(tmp_path / "plain", spikes)
    packed = save_spikes(tmp_path / "z", spikes, np.arange(6), compress=True)
    ds = load_spikes(packed)
    assert ds.meta == {} and (packed / "spikes.npz").is_file()
    assert not (packed / "spikes.npy").exists()
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), spikes)
    np.testing.assert_array_equal(np.asarray(ds.batch([5, 1])), spikes[:, [5, 1]])
    assert (packed / "spikes.npz").stat().st_size < 0.6 * (plain / "spikes.npy").stat().st_size


def test_encode_to_file_real_epochs(tmp_path, shared_data):
    mne = pytest.importorskip("mne")
    edf = shared_data / "eegmmidb" / "S001" / "S001R04.edf"
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    events, ids = mne.events_from_annotations(raw, verbose="error")
    epochs = mne.Epochs(
        raw,
        events,
        event_id=ids,
        tmin=0,
        tmax=1.0 - 1 / 160,
        baseline=None,
        preload=True,
        verbose="error",
    )[:11]
    labels = epochs.events[:, 2]
    enc = EEGEncoder("delta", threshold=0.5).fit(epochs)
    ds = encode_to_file(tmp_path / "r04.spikes", epochs, enc, labels, batch_size=4, sources=[edf])
    assert ds.packing == "counts" and ds.meta["sources"][0]["file"] == "S001R04.edf"
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), np.asarray(enc.transform(epochs)))
    np.testing.assert_array_equal(ds.labels, labels)
    # 0/1 codes pack 8 per byte; the rate code draws one key per batch, as recorded
    rate = EEGEncoder("rate", num_steps=80, seed=4).fit(epochs)
    dr = encode_to_file(tmp_path / "rate.spikes", epochs, rate, labels, batch_size=4)
    assert dr.packing == "bits" and dr.compression_ratio == pytest.approx(32.0)
    keys = mx.random.split(mx.random.key(4), 3)
    expected = np.concatenate(
        [np.asarray(rate.transform(epochs[i * 4 : (i + 1) * 4], key=keys[i])) for i in range(3)],
        axis=1,
    )
    np.testing.assert_array_equal(np.asarray(dr.to_dense()), expected)
    rebuilt = EEGEncoder.from_config(dr.meta["encoder"])
    np.testing.assert_array_equal(
        np.asarray(rebuilt.transform(epochs[:4], key=keys[0])), expected[:, :4]
    )
    with pytest.raises(ConfigError, match="not fitted"):
        encode_to_file(tmp_path / "z", epochs, EEGEncoder("rate"))


def test_counts_above_255_are_stored_as_uint16_and_read_back(tmp_path):
    """A step holding more than 255 events (a fine delta code) is stored losslessly as
    uint16, recorded in meta.json (dtype, format version 2); uint8 datasets stay version 1."""
    counts = np.random.default_rng(2).integers(0, 300, size=(13, 4, 3)).astype(np.float32)
    counts[5, 1, 2] = 65535
    path = save_spikes(tmp_path / "wide", counts, np.arange(4))
    record = json.loads((path / "meta.json").read_text())
    assert (record["packing"], record["dtype"], record["version"]) == ("counts", "uint16", 2)
    ds = load_spikes(path)
    assert ds.dtype == np.uint16 and ds.batch_numpy([1]).dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(ds.to_dense()), counts)
    narrow = save_spikes(tmp_path / "narrow", np.minimum(counts, 255))
    record = json.loads((narrow / "meta.json").read_text())
    assert (record["dtype"], record["version"]) == ("uint8", 1)
    assert load_spikes(narrow).dtype == np.uint8
    with pytest.raises(DataError, match=r"\[0, 65535\]"):
        save_spikes(tmp_path / "over", counts + 1)


def test_spike_writer_widens_to_uint16_mid_stream(tmp_path):
    """Batches of small counts, then one above 255: the windows already written are kept
    (copied into uint16 storage), also through a partial close and compression."""
    rng = np.random.default_rng(3)
    small = rng.integers(0, 4, size=(9, 5, 2)).astype(np.float32)
    big = rng.integers(0, 1000, size=(9, 3, 2)).astype(np.float32)
    for compress in (False, True):
        out = tmp_path / f"w{int(compress)}"
        with SpikeWriter(out, 10, 9, 2, packing="auto", compress=compress) as w:
            w.append(small, np.zeros(5))
            w.append(big, np.ones(3))
            w.close(partial=True)
        ds = load_spikes(out)
        assert (len(ds), ds.packing, ds.dtype) == (8, "counts", np.uint16)
        np.testing.assert_array_equal(np.asarray(ds.to_dense()),
                                      np.concatenate([small, big], axis=1))
        np.testing.assert_array_equal(ds.labels, [0] * 5 + [1] * 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w0", "w1"]


def test_version_1_dataset_without_dtype_still_loads(tmp_path):
    """Datasets written before uint16 counts (no "dtype" in meta.json) still read; a
    version-1 record claiming uint16 is refused by name."""
    counts = np.random.default_rng(4).integers(0, 9, size=(6, 2, 3)).astype(np.float32)
    path = save_spikes(tmp_path / "old", counts)
    meta_path = path / "meta.json"
    record = json.loads(meta_path.read_text())
    del record["dtype"], record["versions"]
    meta_path.write_text(json.dumps(record))
    np.testing.assert_array_equal(np.asarray(load_spikes(path).to_dense()), counts)
    record["dtype"] = "uint16"
    meta_path.write_text(json.dumps(record))
    with pytest.raises(DataError, match=r"meta\.json: dtype 'uint16'.*version 1"):
        load_spikes(path)


def test_meta_json_records_the_versions_that_wrote_it(tmp_path):
    import importlib.metadata

    path = save_spikes(tmp_path / "v", _random_spikes(8, 2, 2))
    versions = json.loads((path / "meta.json").read_text())["versions"]
    assert versions["eegsnn"] == eegsnn.__version__
    assert versions["mlx"] == importlib.metadata.version("mlx")


def test_overwrite_replaces_only_a_spike_dataset(tmp_path, monkeypatch):
    """overwrite=True never replaces a folder or file that is not a spike dataset, nor the
    current folder; the 'already exists' message names the CLI flag and the argument."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "NOTES.md").write_text("keep me")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me too")
    for target, kind in ((data, "a folder"), (notes, "a file")):
        with pytest.raises(ConfigError, match=f"{kind} that is not an eegsnn spike dataset"):
            save_spikes(target, _random_spikes(8, 2, 2), overwrite=True)
    assert (data / "NOTES.md").read_text() == "keep me" and notes.read_text() == "keep me too"
    # a folder whose meta.json is some other format is not a spike dataset either
    (data / "meta.json").write_text('{"format": "something-else"}')
    with pytest.raises(ConfigError, match="not an eegsnn spike dataset"):
        SpikeWriter(data, 2, 8, 2, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "notes.txt"]  # no temp
    ds_path = save_spikes(tmp_path / "a.spikes", _random_spikes(8, 2, 2))
    with pytest.raises(ConfigError, match=r"already exists.*--overwrite.*overwrite=True"):
        save_spikes(ds_path, _random_spikes(8, 2, 2))
    save_spikes(ds_path, _random_spikes(5, 1, 2), overwrite=True)  # a dataset: replaced
    assert load_spikes(ds_path).num_steps == 5
    monkeypatch.chdir(ds_path)
    for here in (".", "..", str(ds_path)):
        with pytest.raises(ConfigError, match="is the current folder"):
            save_spikes(here, _random_spikes(8, 2, 2), overwrite=True)
    assert load_spikes(ds_path).num_steps == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.spikes", "data", "notes.txt"]
