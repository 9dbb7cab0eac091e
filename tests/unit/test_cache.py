"""Window cache: keyed by input content (sha256, never size + mtime) + config, reused on
the second call, atomic, off with EEGSNN_CACHE=off."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import eegsnn.preprocess.dataset as dataset_mod
from eegsnn.preprocess import cache_key, load_windows
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


@pytest.mark.parametrize("damage", ["truncated", "empty", "bad_crc"])
def test_damaged_entry_is_a_miss_with_a_warning_and_is_replaced(run04, tmp_path, damage,
                                                                caplog):
    """A truncated .npz (zipfile.BadZipFile), a 0-byte one (EOFError) or one with a flipped
    byte (bad CRC) is ignored with a warning naming the file, rebuilt and replaced."""
    cache = tmp_path / "cache"
    key = load_windows([run04], CFG, cache_dir=cache).provenance["cache"]["key"]
    entry = cache / f"{key}.npz"
    data = bytearray(entry.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = bytearray()
    else:
        data[200] ^= 0xFF  # inside the first array's data
    entry.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="eegsnn.preprocess.cache"):
        again = load_windows([run04], CFG, cache_dir=cache)
    assert again.provenance["cache"]["hit"] is False and len(again) == 15
    assert "damaged window-cache entry" in caplog.text and str(entry) in caplog.text
    assert load_windows([run04], CFG, cache_dir=cache).provenance["cache"]["hit"] is True


def test_in_place_edit_with_same_size_and_mtime_is_not_served(shared_data, tmp_path):
    """A Bonn text file edited in place, size and modification time restored: the cache
    is keyed by content, so the windows are rebuilt and the provenance records the sha256
    of what was read now (issue 18)."""
    import os

    from eegsnn.io.files import sha256_file

    folder = tmp_path / "bonn"
    for s in ("Z", "S"):
        (folder / s).mkdir(parents=True)
        shutil.copy(shared_data / "bonn" / s / f"{s}001.txt", folder / s / f"{s}001.txt")
    cfg = {"sfreq_hz": 173.61, "expected_samples": 4097,
           "windows": {"mode": "sliding", "window_s": 5.0},
           "labels": {"source": "path", "mapping": {"Z": "healthy", "S": "ictal"}}}
    cache = tmp_path / "cache"
    first = load_windows(folder, cfg, cache_dir=cache)
    f = folder / "Z" / "Z001.txt"
    st = f.stat()
    lines = f.read_bytes().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]  # same bytes, other order: same size
    assert lines[0] != lines[1]
    f.write_bytes(b"".join(lines))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    second = load_windows(folder, cfg, cache_dir=cache)
    assert second.provenance["cache"]["hit"] is False
    assert second.provenance["cache"]["key"] != first.provenance["cache"]["key"]
    files = {e["path"]: e["sha256"] for e in second.provenance["files"]}
    assert files["Z/Z001.txt"] == sha256_file(f)
    assert not np.array_equal(second.X, first.X)
    # and the cached set of the new content is served, with the same hashes
    third = load_windows(folder, cfg, cache_dir=cache)
    assert third.provenance["cache"]["hit"] is True
    assert third.provenance["files"] == second.provenance["files"]


def test_cache_off_by_environment(run04, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("EEGSNN_CACHE", "off")
    ws = load_windows([run04], CFG, cache_dir=cache)
    assert ws.provenance["cache"]["hit"] is False and ws.provenance["cache"]["used"] is False
    assert not cache.exists() or not list(cache.iterdir())
    monkeypatch.setenv("EEGSNN_CACHE", "on")
    load_windows([run04], CFG, cache_dir=cache)
    assert len(_npz(cache)) == 1


def test_file_changed_while_read_is_refused(run04, tmp_path, monkeypatch):
    from eegsnn.errors import DataError

    real = dataset_mod.read_recording

    def read_then_change(path, **kwargs):
        rec = real(path, **kwargs)
        data = bytearray(path.read_bytes())
        data[-10] ^= 0x01
        path.write_bytes(bytes(data))
        return rec

    monkeypatch.setattr(dataset_mod, "read_recording", read_then_change)
    with pytest.raises(DataError, match=r"S001R04\.edf: the file changed while it was being "
                                        "read"):
        load_windows([run04], CFG, cache_dir=tmp_path / "cache")
    assert not _npz(tmp_path / "cache")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EEGSNN_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EEGSNN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "eegsnn" / "windows"
