"""Data manifests: bad manifests, bad folders and outputs, and what `verify` counts as success."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eegsnn.cli import main
from eegsnn.errors import ConfigError, DataError
from eegsnn.manifest import create_manifest, load_manifest, save_manifest, verify_manifest


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "Z").mkdir(parents=True)
    (d / "Z" / "Z001.txt").write_text("1\n2\n")
    (d / "Z" / "Z002.txt").write_text("3\n4\n")
    return d


def run(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.write_text("manifest_version: 1\nname: x\n" + text)
    return p


def test_unknown_file_key_is_refused(folder, tmp_path, capsys):
    p = write(tmp_path, "files: [{path: Z/Z001.txt, sha: abc, lable: Z}]\n")
    with pytest.raises(ConfigError, match=r"m\.yaml: files\[0\] \(Z/Z001\.txt\): unknown "
                                          r"key\(s\) lable, sha; known keys: path, size, "
                                          r"sha256, subject, session, run, label"):
        load_manifest(p)
    code, _, err = run(["manifest", "verify", p, "--root", folder], capsys)
    assert code == 2 and "unknown key(s) lable, sha" in error_line(err)


@pytest.mark.parametrize("size", ["true", "false", "1.5", "'12'"])
def test_non_integer_size_is_refused(tmp_path, size):
    p = write(tmp_path, f"files: [{{path: Z/Z001.txt, size: {size}}}]\n")
    with pytest.raises(ConfigError, match=r"size of Z/Z001\.txt must be a non-negative "
                                          "integer"):
        load_manifest(p)


def test_allow_missing_fails_when_no_file_is_present(folder, tmp_path, capsys):
    path = save_manifest(create_manifest(folder), tmp_path / "m.yaml")
    code, out, err = run(["manifest", "verify", path, "--root", tmp_path / "elsewhere",
                          "--allow-missing"], capsys)
    assert code == 3 and "elsewhere" in error_line(err)  # the root is not a folder
    (tmp_path / "empty").mkdir()
    code, out, err = run(["manifest", "verify", path, "--root", tmp_path / "empty",
                          "--allow-missing"], capsys)
    line = error_line(err)
    assert code == 3 and "none of the 2 files listed in" in line and "--root" in line
    assert "0 ok, 0 missing, 0 changed, 0 unchecked, 2 absent (allowed)" in out
    report = verify_manifest(path, tmp_path / "empty", allow_missing=True)
    assert report.passed and not report.verified
    report.raise_for_problems()  # without require_checked (load_windows): no error
    with pytest.raises(DataError, match="none of the 2 files"):
        report.raise_for_problems(require_checked=True)
    # One file present is enough for a partial download.
    (tmp_path / "empty" / "Z").mkdir()
    (tmp_path / "empty" / "Z" / "Z001.txt").write_bytes((folder / "Z" / "Z001.txt").read_bytes())
    code, out, _ = run(["manifest", "verify", path, "--root", tmp_path / "empty",
                        "--allow-missing"], capsys)
    assert code == 0 and "1 ok, 0 missing, 0 changed, 0 unchecked, 1 absent (allowed)" in out


def test_empty_file_list_does_not_verify(folder, tmp_path, capsys):
    p = write(tmp_path, "files: []\n")
    code, _, err = run(["manifest", "verify", p, "--root", folder], capsys)
    assert code == 3 and "m.yaml: lists no files; nothing to verify" in error_line(err)


def test_unchecked_files_alone_do_not_verify(folder, tmp_path, capsys):
    p = write(tmp_path, "files: [{path: Z/Z001.txt, size: 4}, {path: Z/Z002.txt}]\n")
    code, out, err = run(["manifest", "verify", p, "--root", folder], capsys)
    line = error_line(err)
    assert code == 3 and "no file could be checked" in line and "2 file(s)" in line
    assert "0 ok, 0 missing, 0 changed, 2 unchecked" in out
    # One checked file verifies; the summary still counts the unchecked one.
    m = create_manifest(folder)
    m.files[1].sha256 = None
    save_manifest(m, p)
    code, out, _ = run(["manifest", "verify", p, "--root", folder], capsys)
    assert code == 0 and "1 ok, 0 missing, 0 changed, 1 unchecked" in out


def test_listed_folder_is_reported_as_a_folder(folder, tmp_path, capsys):
    p = write(tmp_path, "files: [{path: Z}]\n")
    code, out, err = run(["manifest", "verify", p, "--root", folder], capsys)
    assert code == 4 and "changed: Z (is a folder, not a file)" in out
    assert "is a folder, not a file" in error_line(err)
    assert verify_manifest(p, folder).missing == []


def test_create_keeps_an_existing_manifest(folder, tmp_path, capsys):
    out = tmp_path / "m.yaml"
    out.write_text("curated\n")
    code, _, err = run(["manifest", "create", folder, "-o", out], capsys)
    line = error_line(err)
    assert code == 2 and str(out) in line and "--overwrite" in line
    assert out.read_text() == "curated\n"
    code, _, _ = run(["manifest", "create", folder, "-o", out, "--overwrite"], capsys)
    assert code == 0 and len(load_manifest(out).files) == 2


def test_create_output_that_is_a_folder_or_under_a_file(folder, tmp_path, capsys):
    target = tmp_path / "outdir"
    target.mkdir()
    for flag in ([], ["--overwrite"]):
        code, _, err = run(["manifest", "create", folder, "-o", target, *flag], capsys)
        line = error_line(err)
        assert code == 2 and f"--output {target}: is a folder" in line and ".tmp" not in line
    assert os.listdir(target) == [] and sorted(os.listdir(tmp_path)) == ["data", "outdir"]
    (tmp_path / "f").write_text("x")
    code, _, err = run(["manifest", "create", folder, "-o", tmp_path / "f" / "m.yaml"], capsys)
    assert code == 2 and f"{tmp_path / 'f'} is a file, not a folder" in error_line(err)


def test_create_folder_problems_are_named(folder, tmp_path):
    with pytest.raises(DataError, match=r"nope: folder does not exist"):
        create_manifest(tmp_path / "nope")
    with pytest.raises(DataError, match=r"Z001\.txt: is a file, not a folder"):
        create_manifest(folder / "Z" / "Z001.txt")
    with pytest.raises(DataError, match=r"none of its 2 file\(s\) matches --include '\*\.edf'"):
        create_manifest(folder, include=["*.edf"])
    with pytest.raises(DataError, match=r"left out by --exclude 'Z/\*'"):
        create_manifest(folder, exclude=["Z/*"])
    only = tmp_path / "only"
    only.mkdir()
    (only / "m.yaml").write_text("x")  # the manifest being rewritten is not blamed on --exclude
    with pytest.raises(DataError, match=r"holds no \(non-hidden\) files but the manifest "
                                        r"being written$"):
        create_manifest(only, leave_out="m.yaml")


def test_create_refuses_a_broken_symlink(folder, tmp_path, capsys):
    (folder / "Z" / "Z003.txt").symlink_to(tmp_path / "gone.txt")
    code, _, err = run(["manifest", "create", folder, "-o", tmp_path / "m.yaml"], capsys)
    line = error_line(err)
    assert code == 3 and "Z003.txt: broken symbolic link" in line and "--exclude" in line
    assert not (tmp_path / "m.yaml").exists()
    m = create_manifest(folder, exclude=["Z/Z003.txt"])
    assert [f.path for f in m.files] == ["Z/Z001.txt", "Z/Z002.txt"]
