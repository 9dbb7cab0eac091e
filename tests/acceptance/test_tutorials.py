"""The tutorials in docs/tutorials/ run end to end on the shared data and print what their
docstrings promise (each in a subprocess, as a reader would run it)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


def _run(repo_root, shared_data, name: str, timeout: int = 300) -> str:
    proc = subprocess.run([sys.executable, str(repo_root / "docs" / "tutorials" / name),
                           str(shared_data)], capture_output=True, text=True,
                          timeout=timeout, cwd=repo_root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_tutorials_are_listed_in_the_readme(repo_root):
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    for path in sorted((repo_root / "docs" / "tutorials").glob("[0-9][0-9]_*.py")):
        assert f"docs/tutorials/{path.name}" in readme, path.name
        assert path.read_text(encoding="utf-8").startswith('"""Tutorial ')


def test_01_custom_model_per_step_loop(repo_root, shared_data):
    out = _run(repo_root, shared_data, "01_custom_model_per_step_loop.py")
    accuracy = float(out.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert accuracy >= 0.8, out  # Z vs S separates well even for a tiny network


@pytest.mark.slow
def test_02_pipeline_on_mne_objects(repo_root, shared_data):
    out = _run(repo_root, shared_data, "02_pipeline_on_mne_objects.py")
    assert "windows (30, 64, 640) from ['S001R04.edf', 'S001R08.edf']" in out
    assert "windows (15, 64, 640) from Epochs" in out
    assert "data.json source: mne:raw:S001R04.edf:sha256:" in out
    assert "spikes of the whole Raw: (32, 24, 128)" in out


def test_03_export_nir_and_energy(repo_root, shared_data):
    pytest.importorskip("nir")
    pytest.importorskip("sklearn")
    out = _run(repo_root, shared_data, "03_export_nir_and_energy.py")
    assert "same predictions after the NIR round trip: 1.000" in out
    assert "ACs" in out and "Horowitz" in out


def test_04_moabb_is_importable_without_running(repo_root):
    # run in full by tests/acceptance/test_moabb.py
    pytest.importorskip("moabb")
    spec = importlib.util.spec_from_file_location(
        "t04", repo_root / "docs" / "tutorials" / "04_moabb.py")
    assert spec is not None and spec.loader is not None
