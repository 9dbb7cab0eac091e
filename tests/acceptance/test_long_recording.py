"""Lazy windowing of long recordings: same windows as the eager loader, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import eegsnn  # noqa: F401
from eegsnn.errors import ConfigError, DataError
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.lazy import filter_pad_samples, lazy_windows, write_tiled_edf

EVENTS = {
    "preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30}],
    "windows": {"mode": "events", "window_s": 4.0},
    "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
}
SLIDING = {
    "preprocess": [{"step": "notch", "freqs": [60]}, {"step": "reref", "ref": "average"},
                   {"step": "bandpass", "l_freq": 1, "h_freq": 40},
                   {"step": "pick", "channels": ["C3", "Cz", "C4"]}],
    "windows": {"mode": "sliding", "window_s": 2.0, "step_s": 1.0},
    "labels": {"source": "annotations", "mapping": {"T0": "rest", "T1": "left", "T2": "right"}},
}


@pytest.fixture(scope="module")
def long_edf(shared_data, tmp_path_factory):
    """S001R03 repeated 4 times: an 8.3-minute EDF+ with 60 T1/T2 events."""
    path = tmp_path_factory.mktemp("long") / "S001R03x4.edf"
    return write_tiled_edf(shared_data / "eegmmidb" / "S001" / "S001R03.edf", path, 4)


def test_tiled_edf_is_exact_copy(long_edf, shared_data):
    import mne

    src = mne.io.read_raw_edf(shared_data / "eegmmidb" / "S001" / "S001R03.edf",
                              preload=True, verbose="error")
    big = mne.io.read_raw_edf(long_edf, preload=False, verbose="error")
    n = src.n_times
    assert big.n_times == 4 * n
    np.testing.assert_array_equal(big.get_data(start=2 * n, stop=3 * n), src.get_data())
    assert len(big.annotations) == 4 * len(src.annotations)


@pytest.mark.parametrize("chunk_s", [17.0, 1000.0])
def test_lazy_equals_eager_events(long_edf, tmp_path, chunk_s):
    eager = load_windows([long_edf], EVENTS, use_cache=False)
    lazy = lazy_windows(long_edf, EVENTS, tmp_path / "X.npy", chunk_s=chunk_s)
    assert isinstance(np.load(tmp_path / "X.npy", mmap_mode="r"), np.memmap)
    assert lazy.X.shape == eager.X.shape == (60, 64, 640)
    np.testing.assert_allclose(lazy.X, eager.X, rtol=0, atol=1e-3)  # uV
    np.testing.assert_array_equal(lazy.y, eager.y)
    np.testing.assert_allclose(lazy.onset_s, eager.onset_s)
    assert lazy.ch_names == eager.ch_names and lazy.class_names == eager.class_names
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_lazy_equals_eager_sliding_notch_reref(long_edf):
    eager = load_windows([long_edf], SLIDING, use_cache=False)
    lazy = lazy_windows(long_edf, SLIDING, chunk_s=25.0)
    assert lazy.ch_names == ("C3", "Cz", "C4")
    assert len(lazy) == len(eager) > 200
    np.testing.assert_allclose(lazy.X, eager.X, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(lazy.y, eager.y)
    # context needed: the longest FIR of the chain (notch, 0.5 Hz transitions at 160 Hz)
    pad = filter_pad_samples(SLIDING["preprocess"], 160.0)
    assert pad == lazy.provenance["lazy"]["pad_samples"] > 160 * 3


def test_lazy_refuses_inexact_steps_and_bad_files(long_edf, tmp_path):
    iir = {**EVENTS, "preprocess": [{"step": "bandpass", "l_freq": 8, "h_freq": 30,
                                     "method": "iir"}]}
    with pytest.raises(ConfigError, match="iir"):
        lazy_windows(long_edf, iir)
    with pytest.raises(ConfigError, match="resample"):
        lazy_windows(long_edf, {**EVENTS, "preprocess": [{"step": "resample", "sfreq": 80}]})
    blob = long_edf.read_bytes()
    bad = tmp_path / "cut.edf"
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"cut\.edf: truncated"):
        lazy_windows(bad, EVENTS)
    part = lazy_windows(long_edf, EVENTS, start_s=250.0, stop_s=375.0)
    assert len(part) == 15 and part.onset_s.min() >= 250.0


MEASURE = r"""
import json, sys
import eegsnn, mne  # noqa: F401
from eegsnn.encode.parallel import peak_rss_mb  # VmHWM: ru_maxrss inherits the parent's
from eegsnn.preprocess import load_windows
from eegsnn.preprocess.lazy import lazy_windows
mode, path, out = sys.argv[1:4]
cfg = json.loads(sys.argv[4])
base = peak_rss_mb()
ws = (load_windows([path], cfg, use_cache=False) if mode == "eager"
      else lazy_windows(path, cfg, out, chunk_s=60))
peak = peak_rss_mb()
print(json.dumps({"baseline_mb": base, "peak_mb": peak, "windows": len(ws)}))
"""


def _peak(mode, path, out):
    p = subprocess.run([sys.executable, "-c", MEASURE, mode, str(path), str(out),
                        json.dumps(EVENTS)], capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_memory_stays_bounded(shared_data, tmp_path):
    """Peak RSS: eager grows with the recording; lazy stays at one chunk."""
    src = shared_data / "eegmmidb" / "S001" / "S001R03.edf"
    short = write_tiled_edf(src, tmp_path / "short.edf", 2)    # 4 min
    long = write_tiled_edf(src, tmp_path / "long.edf", 8)      # 17 min, 82 MB as float64
    eager = _peak("eager", long, tmp_path / "e.npy")
    lazy_long = _peak("lazy", long, tmp_path / "a.npy")
    lazy_short = _peak("lazy", short, tmp_path / "b.npy")
    assert eager["windows"] == lazy_long["windows"] == 120
    grow = lazy_long["peak_mb"] - lazy_short["peak_mb"]
    assert grow < 25, (lazy_short, lazy_long)  # 4x longer recording, same footprint
    assert eager["peak_mb"] - lazy_long["peak_mb"] > 100, (eager, lazy_long)


@pytest.mark.filterwarnings("ignore:clipped")
def test_long_recordings_to_shards(long_edf, tmp_path):
    """Lazy windows -> encoder -> packed shards == eager windows encoded in memory."""
    from eegsnn.encode import EEGEncoder
    from eegsnn.encode.shards import encode_recordings_to_shards

    eager = load_windows([long_edf], EVENTS, use_cache=False)
    enc = EEGEncoder("delta", threshold=1.0, overflow="clip").fit(eager.X)
    with pytest.raises(ConfigError, match="fit"):
        encode_recordings_to_shards([long_edf], EVENTS, EEGEncoder("delta"), tmp_path / "x")
    ds = encode_recordings_to_shards([long_edf, long_edf], EVENTS, enc, tmp_path / "sh",
                                     chunk_s=40.0, shard_windows=50, batch_size=16)
    assert len(ds) == 120 and list(ds.shard_sizes) == [50, 50, 20]
    assert ds.meta["sources"] == [long_edf.name] * 2 and ds.meta["ch_names"][0] == "FC5"
    (x, y, _), = ds.iter_batches(120, shuffle=False)
    want = np.asarray(enc.transform(eager.X))
    np.testing.assert_array_equal(np.asarray(x)[:, :60], want)
    np.testing.assert_array_equal(np.asarray(x)[:, 60:], want)
    np.testing.assert_array_equal(np.asarray(y), np.tile(eager.y, 2))
