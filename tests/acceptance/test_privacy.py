"""Patient identity in EDF headers never reaches outputs, caches, manifests or logs."""

from __future__ import annotations

import datetime
import logging

import numpy as np
import pytest

from eegsnn.cli import main
from eegsnn.io import read_recording, write_edf
from eegsnn.manifest import create_manifest, save_manifest
from eegsnn.preprocess import load_windows

IDENTITY = {
    "patient_name": "Zebulon_Fakename",
    "patient_code": "PCODE-98765",
    "birthdate": datetime.date(1931, 3, 17),
    "sex": 1,
    "recording_additional": "RECID-4242",
    "admincode": "ADM-77",
    "technician": "Tech_Q",
    "equipment": "Eq_Xyz",
}
SECRETS = ["Zebulon", "Fakename", "PCODE-98765", "RECID-4242", "ADM-77", "Tech_Q", "Eq_Xyz",
           "17-MAR-1931", "1931-03-17", "17.03.1931", "09-JUL-2021", "2021-07-09"]
START = datetime.datetime(2021, 7, 9, 3, 4, 5)


@pytest.fixture()
def patient_edf(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "data"
    path = d / "sub-01_run-1_eeg.edf"
    write_edf(path, rng.normal(0, 20e-6, (3, 1000)), 100, ["C3", "Cz", "C4"],
              annotations=([1.0, 4.0, 7.0], [1.0, 1.0, 1.0], ["T1", "T2", "T1"]),
              identity=IDENTITY, start=START)
    header = path.read_bytes()[:256]
    assert b"Zebulon_Fakename" in header and b"17-MAR-1931" in header  # identity is there
    assert b"RECID-4242" in header and b"Eq_Xyz" in header
    return path


def _assert_clean(paths):
    for p in paths:
        data = p.read_bytes()
        for s in SECRETS:
            assert s.encode() not in data, f"{s!r} leaked into {p}"


def test_loader_cache_manifest_and_logs_hold_no_identity(patient_edf, tmp_path, caplog,
                                                         capsys):
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "cache"
    cfg = {"windows": {"mode": "events", "window_s": 1.0},
           "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}},
           "preprocess": [{"step": "bandpass", "l_freq": 1, "h_freq": 40}]}
    for reader in ("mne", "pyedflib"):
        ws = load_windows([patient_edf], {**cfg, "reader": reader}, cache_dir=cache)
        assert len(ws) == 3
        ws.save(tmp_path / "out" / f"windows_{reader}.npz")
        assert load_windows([patient_edf], {**cfg, "reader": reader},
                            cache_dir=cache).provenance["cache"]["hit"]
        text = repr(ws.provenance)
        assert not any(s in text for s in SECRETS)
    assert main(["manifest", "create", str(patient_edf.parent), "-o",
                 str(tmp_path / "out" / "m.yaml")]) == 0
    assert main(["manifest", "verify", str(tmp_path / "out" / "m.yaml")]) == 0
    save_manifest(create_manifest(patient_edf.parent), tmp_path / "out" / "m2.yaml")
    written = [p for p in [*cache.rglob("*"), *(tmp_path / "out").rglob("*")] if p.is_file()]
    assert len(written) >= 6  # 2 cache entries + memo + 2 window sets + 2 manifests
    _assert_clean(written)
    out = capsys.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records) + out.out + out.err
    assert not any(s in logs for s in SECRETS)


@pytest.mark.parametrize("reader", ["mne", "pyedflib"])
def test_recording_is_anonymised_unless_asked(patient_edf, reader):
    rec = read_recording(patient_edf, reader=reader)
    info = rec.raw.info
    assert info["subject_info"] is None and rec.identity == {}
    assert info["meas_date"] is None or info["meas_date"].year == 2000
    assert not any(s in repr(info) + str(dict(info)) for s in SECRETS)
    np.testing.assert_allclose(rec.events.onset_s, [1.0, 4.0, 7.0])  # labels not moved
    kept = read_recording(patient_edf, reader=reader, keep_identity=True)
    joined = " ".join(kept.identity.values())
    assert "Zebulon" in joined and "PCODE-98765" in joined
    assert kept.raw.info["meas_date"].replace(tzinfo=None) == START


def test_keep_identity_never_reaches_the_cache(patient_edf, tmp_path):
    cache = tmp_path / "cache"
    cfg = {"windows": {"mode": "events", "window_s": 1.0},
           "labels": {"source": "annotations", "mapping": {"T1": "left", "T2": "right"}}}
    ws = load_windows([patient_edf], cfg, cache_dir=cache, keep_identity=True)
    assert len(ws) == 3
    _assert_clean([p for p in cache.rglob("*") if p.is_file()])
