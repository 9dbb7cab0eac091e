"""Data manifests: create/verify, the CLI, and the manifests shipped in data_manifests/."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from eegsnn.cli import main
from eegsnn.errors import ChecksumError, ConfigError, DataError
from eegsnn.manifest import create_manifest, load_manifest, save_manifest, verify_manifest

MANIFESTS = Path(__file__).resolve().parents[2] / "data_manifests"


@pytest.fixture()
def folder(shared_data, tmp_path):
    d = tmp_path / "bonn"
    for letter in ("Z", "N"):
        (d / letter).mkdir(parents=True)
        for i in (1, 2):
            name = f"{letter}{i:03d}.{'TXT' if letter == 'N' else 'txt'}"
            shutil.copy(shared_data / "bonn" / letter / name, d / letter / name)
    return d


def test_create_lists_sizes_and_checksums(folder, tmp_path):
    m = create_manifest(folder, license="research", citation="Andrzejak 2001",
                        label_from_folder=True)
    assert [f.path for f in m.files] == ["N/N001.TXT", "N/N002.TXT", "Z/Z001.txt",
                                         "Z/Z002.txt"]
    f = m.files[0]
    content = (folder / "N" / "N001.TXT").read_bytes()
    assert f.size == len(content) and f.sha256 == hashlib.sha256(content).hexdigest()
    assert f.label == "N" and f.subject == ""
    path = save_manifest(m, tmp_path / "out" / "bonn.yaml")
    back = load_manifest(path)
    assert back.name == "bonn" and back.citation == ["Andrzejak 2001"]
    assert [x.as_dict() for x in back.files] == [x.as_dict() for x in m.files]
    raw = yaml.safe_load(path.read_text())
    assert raw["manifest_version"] == 1 and raw["files"][0]["path"] == "N/N001.TXT"


def test_verify_reports_missing_and_changed(folder, tmp_path):
    path = save_manifest(create_manifest(folder), tmp_path / "m.yaml")
    report = verify_manifest(path, folder)
    assert report.passed and len(report.ok) == 4
    (folder / "Z" / "Z002.txt").unlink()
    with open(folder / "N" / "N001.TXT", "ab") as fh:  # size changes
        fh.write(b"1\r\n")
    data = bytearray((folder / "Z" / "Z001.txt").read_bytes())
    data[0] = ord("9") if data[0] != ord("9") else ord("8")  # same size, new content
    (folder / "Z" / "Z001.txt").write_bytes(bytes(data))
    report = verify_manifest(path, folder)
    assert not report.passed
    assert report.missing == ["Z/Z002.txt"] and report.ok == ["N/N002.TXT"]
    changed = dict(report.changed)
    assert "manifest says" in changed["N/N001.TXT"] and "size" in changed["N/N001.TXT"]
    assert changed["Z/Z001.txt"].startswith("sha256 ")
    with pytest.raises(ChecksumError, match=r"N001\.TXT: size .* and 1 more"):
        report.raise_for_problems()
    lines = report.lines()
    assert "missing: Z/Z002.txt" in lines and lines[-1].startswith("1 ok, 1 missing, 2 changed")


def test_verify_goes_on_past_unreadable_files_and_names_them(folder, tmp_path, monkeypatch,
                                                             capsys):
    """A file that cannot be read (no permission, an I/O error) stopped the check at the
    first one with a traceback from deep inside; every file is now checked, and the
    unreadable ones are named in the report and in one error line."""
    import builtins
    import os

    import eegsnn.io.files as files_module

    path = save_manifest(create_manifest(folder), tmp_path / "m.yaml")

    def no_permission(p, *args, **kwargs):  # (as root, chmod cannot deny a read)
        if Path(p).name in ("N001.TXT", "Z001.txt"):
            raise PermissionError(13, "Permission denied", str(p))
        return builtins.open(p, *args, **kwargs)

    monkeypatch.setattr(files_module, "open", no_permission, raising=False)
    report = verify_manifest(path, folder)
    assert not report.passed and not report.verified
    assert report.ok == ["N/N002.TXT", "Z/Z002.txt"]
    assert report.unreadable == [("N/N001.TXT", "cannot be read (Permission denied)"),
                                 ("Z/Z001.txt", "cannot be read (Permission denied)")]
    assert "unreadable: Z/Z001.txt (cannot be read (Permission denied))" in report.lines()
    assert report.lines()[-1].startswith("2 ok, 0 missing, 0 changed, 2 unreadable")
    with pytest.raises(DataError, match=r"N001\.TXT: cannot be read \(Permission denied\) "
                                        r"and 1 more"):
        report.raise_for_problems()
    assert main(["manifest", "verify", str(path), "--root", str(folder)]) == 3  # bad data
    err = capsys.readouterr()
    assert "Traceback" not in err.err + err.out
    # a pipe where a file is listed: present, not a file to check (it was called missing)
    monkeypatch.undo()
    (folder / "Z" / "Z002.txt").unlink()
    os.mkfifo(folder / "Z" / "Z002.txt")
    report = verify_manifest(path, folder)
    assert dict(report.changed) == {"Z/Z002.txt": "is not a regular file"}
    assert not report.missing and not report.unreadable


def test_cli_create_and_verify(folder, tmp_path, capsys):
    out = tmp_path / "m" / "bonn.yaml"
    assert main(["manifest", "create", str(folder), "-o", str(out), "--license", "research",
                 "--citation", "A", "--citation", "B", "--label-from-folder"]) == 0
    m = load_manifest(out)
    assert m.citation == ["A", "B"] and m.root == "../bonn" and len(m.files) == 4
    assert m.default_root().resolve() == folder.resolve()
    assert main(["manifest", "verify", str(out)]) == 0
    assert "4 ok, 0 missing, 0 changed" in capsys.readouterr().out
    (folder / "Z" / "Z001.txt").write_text("0\n")
    assert main(["manifest", "verify", str(out)]) == 4  # ChecksumError exit code
    captured = capsys.readouterr()
    assert "changed: Z/Z001.txt" in captured.out and "error:" in captured.err
    (folder / "Z" / "Z001.txt").unlink()
    assert main(["manifest", "verify", str(out), "--root", str(folder)]) == 3  # missing
    assert main(["manifest", "verify", str(tmp_path / "nope.yaml")]) == 3
    assert main(["manifest", "verify", str(out), "--allow-missing"]) == 0
    assert "1 absent (allowed)" in capsys.readouterr().out


def test_create_skips_its_own_output(folder):
    out = folder / "bonn.yaml"
    assert main(["manifest", "create", str(folder), "-o", str(out)]) == 0
    assert "bonn.yaml" not in [f.path for f in load_manifest(out).files]
    assert main(["manifest", "verify", str(out)]) == 0


@pytest.mark.parametrize(("text", "err", "match"), [
    ("name: x\nfiles: []\n", ConfigError, "manifest_version must be 1"),
    ("manifest_version: 1\nfiles: []\n", ConfigError, "needs a 'name'"),
    ("manifest_version: 1\nname: x\nlicence: y\n", ConfigError, r"unknown field\(s\) licence"),
    ("manifest_version: 1\nname: x\nfiles: [{path: /etc/passwd}]\n", ConfigError,
     "must be relative"),
    ("manifest_version: 1\nname: x\nfiles: [{path: ../a.edf}]\n", ConfigError,
     "must be relative"),
    ("manifest_version: 1\nname: x\nfiles: [{path: a.edf, sha256: abc}]\n", ConfigError,
     "not 64 hex digits"),
    ("manifest_version: 1\nname: x\nfiles: [{path: a.edf}, {path: a.edf}]\n", ConfigError,
     "listed twice"),
    ("manifest_version: 1\nname: x\nfiles: [{path: a.edf, size: -1}]\n", ConfigError,
     "non-negative integer"),
    ("- a\n- b\n", ConfigError, "a YAML mapping"),
    ("name: [unclosed\n", DataError, "not valid YAML"),
])
def test_invalid_manifests(tmp_path, text, err, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(err, match=r"bad\.yaml: .*" + match):
        load_manifest(p)


def test_missing_checksum_is_reported_unchecked(folder, tmp_path):
    m = create_manifest(folder)
    m.files[0].sha256 = None
    report = verify_manifest(save_manifest(m, tmp_path / "m.yaml"), folder)
    assert report.passed and report.unchecked == ["N/N001.TXT"] and len(report.ok) == 3


@pytest.mark.parametrize(("name", "n_files"), [("eegmmidb_s001.yaml", 16),
                                              ("bonn_shared.yaml", 400)])
def test_shipped_manifests_verify_against_shared_data(shared_data, name, n_files):
    m = load_manifest(MANIFESTS / name)
    assert len(m.files) == n_files and m.license and m.citation and m.source.get("url")
    sub = "eegmmidb" if "eegmmidb" in name else "bonn"
    report = verify_manifest(m, shared_data / sub)
    assert report.passed and len(report.ok) == n_files


def test_full_eegmmidb_manifest_agrees_with_mne_and_shared_copy(shared_data):
    import mne

    full = load_manifest(MANIFESTS / "eegmmidb.yaml")
    partial = verify_manifest(full, shared_data / "eegmmidb", allow_missing=True)
    assert partial.passed and len(partial.ok) == 16 and len(partial.skipped) == 3058 - 16
    mne_sums = dict(line.split() for line in (Path(mne.__file__).parent / "data" /
                                              "eegbci_checksums.txt").read_text().splitlines()
                    if line.strip())
    assert {f.path: f.sha256 for f in full.files} == mne_sums
    s001 = {f.path: f.sha256 for f in load_manifest(MANIFESTS / "eegmmidb_s001.yaml").files}
    for path, sha in s001.items():
        assert mne_sums[path] == sha
    runs = [f for f in full.files if f.path.endswith(".edf")]
    assert len(runs) == 109 * 14 and {f.subject for f in runs} == {f"{i:03d}" for i in
                                                                   range(1, 110)}


@pytest.mark.parametrize("name", ["sleep_edf.yaml", "chbmit.yaml", "bonn.yaml"])
def test_public_dataset_manifests_say_where_and_how(name):
    m = load_manifest(MANIFESTS / name)
    assert m.source["url"].startswith("https://") and m.license and m.citation
    assert m.layout and "eegsnn manifest create" in m.notes


def test_manifest_labels_that_contradict_the_path_labels_are_refused(shared_data, tmp_path):
    """A run labelling Bonn segments by folder (labels.source: path) from a manifest whose
    per-file labels say otherwise is refused, naming the files (the manifest's labels were
    ignored without a word); agreeing labels pass."""
    from eegsnn.preprocess import load_windows

    bonn = shared_data / "bonn"
    files = [{"path": p, "label": p[0]} for p in ("Z/Z001.txt", "Z/Z002.txt", "S/S001.txt",
                                                    "S/S002.txt")]
    config = {"sfreq_hz": 173.61, "windows": {"mode": "sliding", "window_s": 23.6},
              "labels": {"source": "path", "mapping": {"Z": "healthy", "S": "ictal"}}}
    path = tmp_path / "m.yaml"

    def write(entries):
        path.write_text(yaml.safe_dump({"manifest_version": 1, "name": "b",
                                        "root": str(bonn), "files": entries}))

    write(files)
    assert len(load_windows(path, config, cache_dir=tmp_path / "c")) == 4
    files[1]["label"] = "S"
    write(files)
    with pytest.raises(DataError, match=r"m\.yaml: 1 recording\(s\) labelled otherwise than "
                                        r"their path \(Z/Z002\.txt: 'S' in the manifest, 'Z' "
                                        r"by its path\)"):
        load_windows(path, config, cache_dir=tmp_path / "c")
