"""Parallel preparation of real EEGMMIDB recordings with a deliberately truncated EDF."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import eegsnn  # noqa: F401
from eegsnn.encode import EEGEncoder, load_spikes
from eegsnn.encode.parallel import (
    PrepareReport,
    load_prepared,
    prepare_one,
    prepare_recordings,
)
from eegsnn.encode.shards import ShardedSpikes, index_shards
from eegsnn.errors import ConfigError, DataError
from eegsnn.preprocess import load_windows

pytestmark = pytest.mark.filterwarnings("ignore:clipped")

CONFIG = {
    "preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30}],
    "windows": {"mode": "events", "window_s": 2.0},
    "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
}
GOOD = ("S001R03.edf", "S001R04.edf", "S001R07.edf")


@pytest.fixture
def corpus(shared_data, tmp_path):
    src = shared_data / "eegmmidb" / "S001"
    data = tmp_path / "data"
    data.mkdir()
    for name in GOOD:
        shutil.copy(src / name, data / name)
    blob = (src / "S001R08.edf").read_bytes()
    (data / "S001R99.edf").write_bytes(blob[: len(blob) * 3 // 5])  # truncated download
    return data


def test_parallel_with_broken_recording(corpus, tmp_path):
    out = tmp_path / "prepared"
    rep = prepare_recordings(corpus, CONFIG, out, max_workers=2, max_in_flight=2)
    status = {it.recording: it.status for it in rep.items}
    assert status == {"S001R03.edf": "done", "S001R04.edf": "done", "S001R07.edf": "done",
                      "S001R99.edf": "failed"}
    (bad,) = rep.failed
    assert "S001R99.edf" in bad.error and "truncated" in bad.error
    assert "\n" not in bad.error
    assert not rep.ok and "FAILED S001R99.edf" in rep.summary()
    with pytest.raises(DataError, match="S001R99"):
        rep.raise_for_failures()
    assert all(it.peak_rss_mb > 0 for it in rep.items)
    # same windows as the serial loader on the good files, in recording order
    ws = load_prepared(out)
    ref = load_windows([corpus / n for n in GOOD], CONFIG, use_cache=False)
    np.testing.assert_array_equal(ws.X, ref.X)
    np.testing.assert_array_equal(ws.y, ref.y)
    np.testing.assert_array_equal(ws.recording, ref.recording)
    assert [it.n_windows for it in rep.items[:3]] == [
        int((ref.recording == n).sum()) for n in GOOD]
    # nothing half-written, nothing left for the broken file
    names = sorted(p.name for p in out.iterdir())
    assert len([n for n in names if n.endswith(".npz")]) == 3
    assert not any(n.startswith(".") for n in names) and "prepared.json" in names
    assert PrepareReport.load(out).items == rep.items

    # second run: the three current outputs are skipped; the broken file still fails
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}
    again = prepare_recordings(corpus, CONFIG, out, max_workers=2)
    assert [it.status for it in again.items] == ["cached"] * 3 + ["failed"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")} == mtimes

    # a changed recording is prepared again (new checksum -> new output), others skipped
    shutil.copy(corpus / "S001R03.edf", corpus / "S001R07.edf")
    third = prepare_recordings(corpus, CONFIG, out, max_workers=0)
    assert [it.status for it in third.items] == ["cached", "cached", "done", "failed"]
    assert third.items[2].windows != rep.items[2].windows


def test_prepare_with_encoder_matches_direct_encoding(corpus, tmp_path):
    ws = load_windows([corpus / GOOD[0]], CONFIG, use_cache=False)
    enc = EEGEncoder("delta", threshold=0.5, overflow="clip").fit(ws.X)
    with pytest.raises(ConfigError, match="fitted"):
        prepare_recordings(corpus / GOOD[0], CONFIG, tmp_path / "x",
                           encoder=EEGEncoder("delta"))
    rep = prepare_recordings([corpus / GOOD[0]], CONFIG, tmp_path / "enc", encoder=enc,
                             max_workers=0)
    assert [it.status for it in rep.items] == ["done"]
    (ds,) = load_prepared(rep, spikes=True)
    direct = np.asarray(enc.transform(ws.X))
    np.testing.assert_array_equal(ds.batch_numpy(np.arange(len(ds))), direct)
    np.testing.assert_array_equal(ds.labels, ws.y)
    assert load_spikes(tmp_path / "enc" / rep.items[0].spikes).meta["user"]["recording"] == \
        GOOD[0]
    # a different encoder is a different output
    enc2 = EEGEncoder("delta", threshold=0.8, overflow="clip").fit(ws.X)
    task = {"path": str(corpus / GOOD[0]), "rel": GOOD[0], "root": str(corpus),
            "config": CONFIG, "out_dir": str(tmp_path / "enc"),
            "encoder": enc2.to_config(), "overwrite": False}
    item = prepare_one(task)
    assert item["status"] == "done" and item["spikes"] != rep.items[0].spikes
    # spikes only (what a terabyte corpus needs), indexed in place as streaming shards
    files = [corpus / n for n in GOOD[:2]]
    lean = prepare_recordings(files, CONFIG, tmp_path / "lean", encoder=enc,
                              keep_windows=False, max_workers=0)
    assert [it.windows for it in lean.items] == [None, None]
    assert not list((tmp_path / "lean").glob("*.npz"))
    with pytest.raises(ConfigError, match="keep_windows"):
        load_prepared(lean)
    again = prepare_recordings(files, CONFIG, tmp_path / "lean", encoder=enc,
                               keep_windows=False, max_workers=0)
    assert [it.status for it in again.items] == ["cached", "cached"]
    assert [it.n_windows for it in again.items] == [it.n_windows for it in lean.items]
    index_shards(tmp_path / "lean" / "all", [tmp_path / "lean" / it.spikes
                                             for it in lean.items])
    sh = ShardedSpikes(tmp_path / "lean" / "all")
    assert len(sh) == sum(it.n_windows for it in lean.items)
    (x, _y, _), = sh.iter_batches(len(sh), shuffle=False)
    np.testing.assert_array_equal(np.asarray(x)[:, :len(ds)], direct)


def _crash_on_r04(task):
    """Stand-in task: a recording whose processing kills the worker (as an OOM kill)."""
    import os

    if task["rel"] == "S001R04.edf":
        os._exit(9)
    return {"recording": task["rel"], "status": "done", "windows": None, "spikes": None,
            "n_windows": 1, "seconds": 0.0, "peak_rss_mb": 0.0, "error": None}


def test_dead_worker_fails_only_its_recording():
    from eegsnn.encode.parallel import _run_pool

    tasks = [{"rel": f"S001R0{i}.edf"} for i in range(3, 8)]
    results: dict = {}
    _run_pool(tasks, results, 2, 2, None, 1, fn=_crash_on_r04)
    status = {results[i]["recording"]: results[i]["status"] for i in range(len(tasks))}
    assert status == {"S001R03.edf": "done", "S001R04.edf": "failed", "S001R05.edf": "done",
                      "S001R06.edf": "done", "S001R07.edf": "done"}
    assert "worker process died" in results[1]["error"]


def test_prepared_outputs_follow_the_events_file(shared_data, tmp_path):
    """An output is current for the recording's content, its configs and the file that
    labels it: an edited events file makes it again (it was reported 'cached' with the old
    labels)."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(shared_data / "eegmmidb" / "S001" / "S001R04.edf", data / "S001R04.edf")
    events = data / "S001R04_events.tsv"
    events.write_text("onset\ttrial_type\n10\tleft\n30\tright\n")
    cfg = {"windows": {"mode": "events", "window_s": 2.0},
           "labels": {"source": "events_file", "events_file": "{stem}_events.tsv",
                      "mapping": {"left": "left", "right": "right"}}}
    out = tmp_path / "prepared"
    first = prepare_recordings(data, cfg, out, max_workers=1)
    assert [it.status for it in first.items] == ["done"]
    assert [it.status for it in prepare_recordings(data, cfg, out, max_workers=1).items] \
        == ["cached"]
    events.write_text("onset\ttrial_type\n10\tright\n30\tright\n50\tleft\n")
    again = prepare_recordings(data, cfg, out, max_workers=1)
    assert [it.status for it in again.items] == ["done"]
    assert again.items[0].n_windows == 3
