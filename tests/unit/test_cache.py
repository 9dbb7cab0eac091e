"""Window cache: keyed by input checksums + config, reused on the second call, atomic."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import eegsnn.preprocess.dataset as dataset_mod
from eegsnn.preprocess import WindowCache, cache_key, load_windows
from eegsnn.preprocess.cache import default_cache_dir

CFG = {"windows": {"mode": "events", "window_s": 4.0},
       "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
       "preprocess": [{"step": "pick", "channels": ["C3", "Cz", "C4"]}]}


@pytest.fixture()
def run04(shared_data, tmp_path):
    dst = tmp_path / "data" / "S001R04.edf"
    dst.parent.mkdir()
    shutil.copy(shared_data / "eegmmidb" / "S001" / "S001R04.edf", dst)
    return dst


def _npz(cache_dir):
    return sorted(p.name for p in cache_dir.glob("*.npz"))


def test_second_call_hits_the_cache(run04, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = load_windows([run04], CFG, cache_dir=cache)
    assert first.provenance["cache"]["hit"] is False
    assert _npz(cache) == [first.provenance["cache"]["key"] + ".npz"]
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]

    def boom(*args, **kwargs):
        raise AssertionError("the recording was read again")

    monkeypatch.setattr(dataset_mod, "read_recording", boom)
    second = load_windows([run04], CFG, cache_dir=cache)
    assert second.provenance["cache"]["hit"] is True
    assert second.provenance["cache"]["key"] == first.provenance["cache"]["key"]
    np.testing.assert_array_equal(second.X, first.X)
    np.testing.assert_array_equal(second.y, first.y)
    assert second.class_names == first.class_names and second.ch_names == first.ch_names
    np.testing.assert_array_equal(second.recording, first.recording)
    assert second.provenance["preprocess"] == first.provenance["preprocess"]
    # use_cache=False bypasses it (and so reads the file).
    with pytest.raises(AssertionError, match="read again"):
        load_windows([run04], CFG, cache_dir=cache, use_cache=False)


def test_key_changes_with_config_and_content(run04, tmp_path):
    cache = tmp_path / "cache"
    a = load_windows([run04], CFG, cache_dir=cache).provenance["cache"]["key"]
    cfg2 = {**CFG, "preprocess": [*CFG["preprocess"], {"step": "bandpass", "h_freq": 30}]}
    b = load_windows([run04], cfg2, cache_dir=cache).provenance["cache"]["key"]
    assert a != b and len(_npz(cache)) == 2
    # Flip one data byte (same size): new checksum, new key, windows recomputed.
    data = bytearray(run04.read_bytes())
    data[-100] ^= 0x01
    run04.write_bytes(bytes(data))
    c = load_windows([run04], CFG, cache_dir=cache)
    assert c.provenance["cache"]["hit"] is False and c.provenance["cache"]["key"] not in (a, b)


def test_cache_key_is_deterministic_and_sensitive():
    files = [("a.edf", "0" * 64)]
    cfg = {"x": 1, "y": [1, 2]}
    assert cache_key(files, cfg) == cache_key(files, {"y": [1, 2], "x": 1})
    assert cache_key(files, cfg) != cache_key([("a.edf", "1" * 64)], cfg)
    assert cache_key(files, cfg) != cache_key([("b.edf", "0" * 64)], cfg)
    assert cache_key(files, cfg) != cache_key(files, {"x": 2, "y": [1, 2]})


def test_corrupt_entry_is_rebuilt(run04, tmp_path):
    cache = tmp_path / "cache"
    key = load_windows([run04], CFG, cache_dir=cache).provenance["cache"]["key"]
    (cache / f"{key}.npz").write_bytes(b"half-written")
    again = load_windows([run04], CFG, cache_dir=cache)
    assert again.provenance["cache"]["hit"] is False and len(again) == 15
    assert load_windows([run04], CFG, cache_dir=cache).provenance["cache"]["hit"] is True


def test_checksum_memo_skips_rehashing(run04, tmp_path, monkeypatch):
    cache = WindowCache(tmp_path / "cache")
    digest = cache.file_sha256(run04)
    cache.flush_memo()
    import eegsnn.preprocess.cache as cache_mod

    monkeypatch.setattr(cache_mod, "sha256_file", lambda p: (_ for _ in ()).throw(
        AssertionError("re-hashed")))
    assert WindowCache(tmp_path / "cache").file_sha256(run04) == digest
    run04.write_bytes(run04.read_bytes() + b"x")  # size changes: the memo is not trusted
    with pytest.raises(AssertionError, match="re-hashed"):
        WindowCache(tmp_path / "cache").file_sha256(run04)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EEGSNN_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EEGSNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "eegsnn" / "windows"
