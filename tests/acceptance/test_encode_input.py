"""``eegsnn encode``: what DATA and --out may be, checked before any work; --overwrite
replaces only a spike dataset; duplicate recordings; a damaged window cache (real EDFs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import eegsnn.pipeline.encode as encode_mod
from eegsnn.cli import main
from eegsnn.encode import load_spikes

CONFIG = ("name: enc\n"
          "data: {source: d2}\n"
          "dataset:\n"
          "  windows: {mode: events, window_s: 4.0}\n"
          "  labels: {source: annotations, mapping: {T1: left, T2: right}}\n"
          "  preprocess: [{step: pick, channels: [C3, Cz, C4]}]\n"
          "encoder: {method: delta, spikes_per_s: 80, threshold: 0.5}\n")


@pytest.fixture()
def work(shared_data, tmp_path, monkeypatch) -> Path:
    """tmp_path as the working folder: d2/ (S001R04.edf and NOTES.md), d3/ (S001R08.edf
    and copy04.edf, a copy of S001R04.edf), notes.txt and enc.yaml."""
    src = shared_data / "eegmmidb" / "S001"
    (tmp_path / "d2").mkdir()
    (tmp_path / "d3").mkdir()
    shutil.copy(src / "S001R04.edf", tmp_path / "d2" / "S001R04.edf")
    shutil.copy(src / "S001R08.edf", tmp_path / "d3" / "S001R08.edf")
    shutil.copy(src / "S001R04.edf", tmp_path / "d3" / "copy04.edf")
    (tmp_path / "d2" / "NOTES.md").write_text("notes")
    (tmp_path / "notes.txt").write_text("more notes")
    (tmp_path / "enc.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EEGSNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _run(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["encode", *args])
    return code, capsys.readouterr().err


def _one_error(code: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "cache" not in p.parts}


def test_overwrite_never_replaces_inputs_other_files_or_the_current_folder(work, capsys,
                                                                           monkeypatch):
    before = _snapshot(work)
    cases = [(["d2", "-c", "enc.yaml", "-o", "d2", "--overwrite"], "d2: is the input d2"),
             (["-c", "enc.yaml", "-o", "d2", "--overwrite"], "d2: is the input"),  # data.source
             (["d2", "-c", "enc.yaml", "-o", ".", "--overwrite"],
              ".: is a folder holding the input d2"),
             (["d2", "-c", "enc.yaml", "-o", "d3", "--overwrite"],
              "d3: a folder that is not an eegsnn spike dataset"),
             (["d2", "-c", "enc.yaml", "-o", "notes.txt", "--overwrite"],
              "notes.txt: a file that is not an eegsnn spike dataset")]
    for args, needle in cases:
        _one_error(*_run(args, capsys), needle)
    assert _snapshot(work) == before
    assert sorted(p.name for p in work.iterdir()) == ["d2", "d3", "enc.yaml", "notes.txt"]
    # the current folder, even when it is a spike dataset
    assert _run(["d2", "-c", "enc.yaml", "-o", "a.spikes"], capsys)[0] == 0
    monkeypatch.chdir(work / "a.spikes")
    _one_error(*_run(["../d2", "-c", "../enc.yaml", "-o", ".", "--overwrite"], capsys),
               ".: is the current folder")
    assert load_spikes(work / "a.spikes").num_windows == 15


def test_overwrite_replaces_a_spike_dataset_and_the_message_names_the_flag(work, capsys):
    assert _run(["d2", "-c", "enc.yaml", "-o", "a.spikes"], capsys)[0] == 0
    _one_error(*_run(["d3", "-c", "enc.yaml", "-o", "a.spikes"], capsys),
               "a.spikes: already exists", "--overwrite")
    assert _run(["d3", "-c", "enc.yaml", "-o", "a.spikes", "--overwrite"], capsys)[0] == 0
    assert load_spikes(work / "a.spikes").num_windows == 30
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no temp or old left


def test_out_is_checked_before_anything_is_read(work, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the recordings were read before --out was checked")

    (work / "a.spikes").mkdir()
    monkeypatch.setattr(encode_mod, "load_windows", boom)
    _one_error(*_run(["d2", "-c", "enc.yaml", "-o", "a.spikes"], capsys),
               "a.spikes: already exists")
    _one_error(*_run(["d2", "-c", "enc.yaml", "-o", "nope/a.spikes"], capsys),
               "nope: folder does not exist")
    import eegsnn.encode.storage as storage

    real_access = storage.os.access

    def read_only(path, mode, **kwargs):  # the working folder is read-only
        if Path(path) == work and mode & storage.os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(storage.os, "access", read_only)
    _one_error(*_run(["d2", "-c", "enc.yaml", "-o", "b.spikes"], capsys),
               "folder is not writable (cannot write b.spikes)")


def test_config_with_encoder_from_is_refused(work, capsys):
    _one_error(*_run(["d2", "-c", "enc.yaml", "--encoder-from", "d3", "-o", "a.spikes"],
                     capsys), "--config and --encoder-from cannot be combined")
    assert not (work / "a.spikes").exists()


def test_data_forms_and_duplicates(work, capsys, caplog):
    for args, needle in ((["d2", "d3"], "d2: a folder cannot be combined"),
                         (["d2/S001R04.edf", "d3"], "d3: a folder cannot be combined"),
                         (["d2/S001R04.edf", "enc.yaml"], "enc.yaml: a data manifest cannot")):
        line = _one_error(*_run([*args, "-c", "enc.yaml", "-o", "a.spikes"], capsys), needle)
        assert "DATA takes one folder, one data manifest (.yaml) or one or more recording " \
               "files" in line and "file not found" not in line
    _one_error(*_run(["d2/S001R04.edf", "d2/S001R04.edf", "-c", "enc.yaml", "-o", "a.spikes"],
                     capsys), "d2/S001R04.edf: given twice")
    _one_error(*_run(["d2/S001R04.edf", "./d2/../d2/S001R04.edf", "-c", "enc.yaml", "-o",
                      "a.spikes"], capsys), "given twice (also as d2/S001R04.edf)")
    assert not (work / "a.spikes").exists()
    # the same content under two names: encoded (as train reads it), with a warning
    with caplog.at_level("WARNING", logger="eegsnn.pipeline.encode"):
        code, err = _run(["d2/S001R04.edf", "d3/copy04.edf", "-c", "enc.yaml", "-o",
                          "a.spikes"], capsys)
    assert code == 0, err
    assert "identical content" in caplog.text
    assert "d2/S001R04.edf = d3/copy04.edf" in caplog.text
    ds = load_spikes(work / "a.spikes")
    assert ds.num_windows == 30 and len(ds.meta["identical_recordings"]) == 1


def test_more_events_per_step_than_storage_holds_names_the_config(work, capsys, monkeypatch):
    import mlx.core as mx

    monkeypatch.setattr(encode_mod, "encode_windows",
                        lambda enc, X, seed: mx.full((4, len(X), 2), 70000.0))
    _one_error(*_run(["d2", "-c", "enc.yaml", "-o", "a.spikes"], capsys),
               "enc.yaml: the encoder puts up to 70000 events in one time step",
               "at most 65535", "--set encoder.threshold=")
    assert not (work / "a.spikes").exists()


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_window_cache_entry_is_rebuilt_not_a_crash(work, capsys, damage, caplog):
    assert _run(["d2", "-c", "enc.yaml", "-o", "a.spikes"], capsys)[0] == 0
    (entry,) = (work / "cache").glob("*.npz")
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with caplog.at_level("WARNING", logger="eegsnn.preprocess.cache"):
        code, err = _run(["d2", "-c", "enc.yaml", "-o", "b.spikes"], capsys)
    assert code == 0, err
    assert "damaged window-cache entry" in caplog.text and entry.name in caplog.text
    assert "Aborted" not in err
    np.testing.assert_array_equal(load_spikes(work / "b.spikes").to_dense(),
                                  load_spikes(work / "a.spikes").to_dense())
    assert entry.stat().st_size == len(data)  # replaced by a whole entry
    record = json.loads((work / "b.spikes" / "meta.json").read_text())
    assert record["format"] == "eegsnn-spikes"


def test_a_class_of_the_mapping_that_labels_nothing_is_warned_of(work, capsys, caplog):
    """A labels.mapping entry that names no annotation of the recordings is warned of, as
    `eegsnn train` does (encode kept the empty class without a word)."""
    (work / "t0.yaml").write_text(CONFIG.replace("mapping: {T1: left, T2: right}",
                                                 "mapping: {T1: left, T2: right, T9: rest}"))
    with caplog.at_level("WARNING"):
        assert main(["encode", "--config", "t0.yaml", "-o", "t0.spikes"]) == 0
    assert "T9 (class rest)" in caplog.text, caplog.text
    capsys.readouterr()


def test_out_under_a_file_is_named(work, capsys):
    (work / "afile").write_text("x")
    code, err = _run(["--config", "enc.yaml", "-o", "afile/x.spikes"], capsys)
    _one_error(code, err, "afile is a file, not a folder")
