"""Bad input through load_windows: one clear error naming the file, and no output written."""

from __future__ import annotations

import shutil

import mne
import numpy as np
import pytest

from eegsnn.errors import ChecksumError, DataError
from eegsnn.io import write_edf
from eegsnn.manifest import create_manifest, save_manifest
from eegsnn.preprocess import load_windows

MI = {"windows": {"mode": "events", "window_s": 4.0},
      "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}


@pytest.fixture()
def runs(shared_data, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for r in ("04", "08"):
        shutil.copy(shared_data / "eegmmidb" / "S001" / f"S001R{r}.edf", d)
    return d


def _no_output(cache):
    return not cache.exists() or (not list(cache.glob("*.npz"))
                                  and not list(cache.glob("*.tmp")))


def test_truncated_edf_in_a_set(runs, tmp_path):
    f = runs / "S001R08.edf"
    f.write_bytes(f.read_bytes()[:1_000_000])
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"S001R08\.edf: truncated EDF\+C file"):
        load_windows(runs, MI, cache_dir=cache)
    assert _no_output(cache)


def test_file_that_is_not_edf(runs, tmp_path):
    (runs / "S001R05.edf").write_text("this is a text file, not an EDF\n" * 20)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"S001R05\.edf: not an EDF/BDF file"):
        load_windows(runs, MI, cache_dir=cache)
    assert _no_output(cache)


def test_manifest_checksum_mismatch(runs, tmp_path):
    manifest = save_manifest(create_manifest(runs, name="two-runs"), tmp_path / "m.yaml")
    data = bytearray((runs / "S001R04.edf").read_bytes())
    data[5000] ^= 0xFF
    (runs / "S001R04.edf").write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=r"S001R04\.edf: sha256 .* manifest says"):
        load_windows(manifest, MI, root=runs, cache_dir=cache)
    assert _no_output(cache)


def test_channels_missing_in_one_file(tmp_path):
    rng = np.random.default_rng(0)
    write_edf(tmp_path / "a.edf", rng.normal(0, 1e-5, (3, 1000)), 100, ["C3", "Cz", "C4"],
              annotations=([1.0], [1.0], ["T1"]))
    write_edf(tmp_path / "b.edf", rng.normal(0, 1e-5, (2, 1000)), 100, ["C3", "C4"],
              annotations=([1.0], [1.0], ["T1"]))
    cfg = {**MI, "windows": {"mode": "events", "window_s": 1.0}}
    with pytest.raises(DataError, match=r"b\.edf: channels differ from a\.edf: missing "
                                        r"\['Cz'\]"):
        load_windows(tmp_path, cfg, cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match=r"b\.edf: preprocess\[0\] \(pick\): channel\(s\) Cz"):
        load_windows(tmp_path, {**cfg, "preprocess": [{"step": "pick", "channels": ["Cz"]}]},
                     cache_dir=tmp_path / "cache")
    # Picking the common channels works.
    ws = load_windows(tmp_path, {**cfg, "preprocess": [{"step": "pick", "channels": ["C4",
                                                                                     "C3"]}]},
                      cache_dir=tmp_path / "cache")
    assert ws.ch_names == ("C4", "C3") and len(ws) == 2


def test_channel_order_differs_is_fixed(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1e-5, (2, 500))
    write_edf(tmp_path / "a.edf", x, 100, ["C3", "C4"], annotations=([1.0], [1.0], ["T1"]))
    write_edf(tmp_path / "b.edf", x[::-1], 100, ["C4", "C3"], annotations=([1.0], [1.0], ["T2"]))
    ws = load_windows(tmp_path, {**MI, "windows": {"mode": "events", "window_s": 1.0}},
                      cache_dir=tmp_path / "c")
    np.testing.assert_allclose(ws.X[0], ws.X[1], atol=1e-3)  # same data after reordering


def test_differing_sampling_rates(tmp_path):
    rng = np.random.default_rng(0)
    write_edf(tmp_path / "a.edf", rng.normal(0, 1e-5, (1, 1000)), 100, ["Cz"],
              annotations=([1.0], [1.0], ["T1"]))
    write_edf(tmp_path / "b.edf", rng.normal(0, 1e-5, (1, 2000)), 200, ["Cz"],
              annotations=([1.0], [1.0], ["T1"]))
    cfg = {**MI, "windows": {"mode": "events", "window_s": 1.0}}
    with pytest.raises(DataError, match=r"b\.edf: sampling rate 200 Hz differs from a\.edf "
                                        r"\(100 Hz\); add a 'resample' step"):
        load_windows(tmp_path, cfg, cache_dir=tmp_path / "cache")
    assert _no_output(tmp_path / "cache")
    ws = load_windows(tmp_path, {**cfg, "preprocess": [{"step": "resample", "sfreq": 100}]},
                      cache_dir=tmp_path / "cache")
    assert ws.sfreq_hz == 100.0 and ws.X.shape == (2, 1, 100)


def test_nans_in_a_recording(tmp_path):
    x = np.zeros((2, 500)) + 1e-6
    x[0, 300] = np.nan
    raw = mne.io.RawArray(x, mne.create_info(["C3", "C4"], 100.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0], [1.0], ["T1"]))
    raw.save(tmp_path / "nan_raw.fif", verbose="error")
    with pytest.raises(DataError, match=r"nan_raw\.fif: NaN or infinite samples"):
        load_windows([tmp_path / "nan_raw.fif"], MI, cache_dir=tmp_path / "cache")
    assert _no_output(tmp_path / "cache")
    (tmp_path / "Z").mkdir()
    (tmp_path / "Z" / "seg.txt").write_text("1\n2\nNaN\n")
    with pytest.raises(DataError, match=r"seg\.txt: non-finite value \('NaN'\) at line 3"):
        load_windows([tmp_path / "Z" / "seg.txt"], {
            "sfreq_hz": 1.0, "windows": {"mode": "sliding", "window_s": 1},
            "labels": {"source": "path", "mapping": {"Z": "x"}}},
            root=tmp_path, cache_dir=tmp_path / "cache")
    assert _no_output(tmp_path / "cache")


def test_recording_without_requested_events(shared_data, tmp_path):
    # R03 has T1/T2 but we ask for events it does not have.
    f = shared_data / "eegmmidb" / "S001" / "S001R03.edf"
    cfg = {**MI, "labels": {"source": "annotations", "mapping": {"T3": "x", "T4": "y"}}}
    with pytest.raises(DataError, match=r"S001R03\.edf: none of the requested events "
                                        r"\['T3', 'T4'\] found \(events present: "):
        load_windows([f], cfg, cache_dir=tmp_path / "cache")
    assert _no_output(tmp_path / "cache")
    write_edf(tmp_path / "quiet.edf", np.zeros((1, 300)) + 1e-6, 100, ["Cz"])
    with pytest.raises(DataError, match=r"quiet\.edf: none of the requested events .* none"):
        load_windows([tmp_path / "quiet.edf"], MI, cache_dir=tmp_path / "cache")


def test_events_past_the_end(tmp_path):
    write_edf(tmp_path / "late.edf", np.zeros((1, 300)) + 1e-6, 100, ["Cz"],
              annotations=([2.5], [1.0], ["T1"]))
    with pytest.raises(DataError, match=r"late\.edf: .* fit in the recording \(1 run past"):
        load_windows([tmp_path / "late.edf"], MI, cache_dir=tmp_path / "cache")


def test_missing_file_and_missing_manifest_file(tmp_path, runs):
    with pytest.raises(DataError, match=r"nope\.edf: file not found"):
        load_windows([tmp_path / "nope.edf"], MI, cache_dir=tmp_path / "cache")
    manifest = save_manifest(create_manifest(runs, name="two"), tmp_path / "m.yaml")
    (runs / "S001R08.edf").unlink()
    with pytest.raises(DataError, match=r"S001R08\.edf: file listed in the manifest is missing"):
        load_windows(manifest, MI, root=runs, cache_dir=tmp_path / "cache")


def test_manifest_source_loads(runs, tmp_path):
    manifest = save_manifest(create_manifest(runs, name="two", root="data"), tmp_path / "m.yaml")
    ws = load_windows(manifest, MI, cache_dir=tmp_path / "cache")
    assert len(ws) == 30 and set(ws.recording) == {"S001R04.edf", "S001R08.edf"}


def test_unused_labels_names_the_absent_code_and_the_codes_present(shared_data, tmp_path):
    """``--event T9=left`` where no file has T9: the pipeline's one-class error says which
    mapping code occurs nowhere and which codes the recordings hold (issue 18)."""
    from eegsnn.preprocess.dataset import unused_labels, validate_config

    cfg = {**MI, "labels": {"source": "annotations", "mapping": {"T9": "left", "T2": "right"}}}
    ws = load_windows([shared_data / "eegmmidb" / "S001" / "S001R04.edf"], cfg,
                      cache_dir=tmp_path / "cache")
    assert set(ws.y.tolist()) == {1}
    why = unused_labels(ws, validate_config(cfg))
    assert why == ("labels.mapping code T9 (class left) occurs in none of the 1 recording(s), "
                   "which hold T0, T1, T2")
    again = load_windows([shared_data / "eegmmidb" / "S001" / "S001R04.edf"], cfg,
                         cache_dir=tmp_path / "cache")  # from the cache: the codes are kept
    assert again.provenance["cache"]["hit"] and unused_labels(again, validate_config(cfg)) == why
    assert unused_labels(ws, validate_config(MI)) == ""
