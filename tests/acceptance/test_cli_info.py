"""``eegsnn info``: versions, MLX device and BLAS, as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import mlx.core as mx
import pytest

import eegsnn
from eegsnn import _blas
from eegsnn.cli import main
from eegsnn.env import slow_path_note


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_info_json_no_bench_fields(capsys):
    code, out = run_cli(capsys, "info", "--json", "--no-bench")
    assert code == 0
    record = json.loads(out)
    assert set(record) >= {"python", "platform", "machine", "packages", "mlx_device", "blas"}
    assert "matmul_1024_float32_ms" not in record
    assert record["packages"]["eegsnn"] == eegsnn.__version__
    assert record["packages"]["mlx"] == mx.__version__
    assert record["python"] == sys.version.split()[0]
    assert record["mlx_device"].startswith(("cpu", "gpu"))
    blas = record["blas"]
    assert set(blas) >= {"mode", "loaded", "vendor", "reason", "tried", "effective"}
    assert blas["loaded"] == _blas.STATUS.loaded
    assert blas["effective"] == _blas.effective_blas()
    # the optional extras, installed or not
    extras = record["extras"]
    assert set(extras) == {"scikit-learn", "matplotlib", "nir", "pymatreader", "pandas",
                           "mne-bids", "moabb", "pyriemann"}
    for name, version in extras.items():
        try:
            assert version == metadata.version(name)
        except metadata.PackageNotFoundError:
            assert version == "not installed"
    assert record["packages"]["rich"] == metadata.version("rich")
    assert record["slow_path"] in (None, slow_path_note())


def test_info_json_with_bench_reports_a_time(capsys):
    code, out = run_cli(capsys, "info", "--json")
    assert code == 0
    ms = json.loads(out)["matmul_1024_float32_ms"]
    assert isinstance(ms, float) and 0 < ms < 60_000


def test_info_text_output(capsys):
    code, out = run_cli(capsys, "info", "--no-bench")
    assert code == 0
    assert out.startswith(f"eegsnn {eegsnn.__version__}")
    assert "BLAS" in out and "mlx device" in out
    assert _blas.effective_blas() in out
    assert "extras      scikit-learn " in out and "pymatreader " in out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_info_subprocess_with_blas_off_shows_reference_blas_and_hint():
    env = {**os.environ, _blas.ENV_VAR: "off"}
    out = subprocess.run(
        [sys.executable, "-m", "eegsnn", "info", "--no-bench"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "reference BLAS" in out
    assert "disabled by EEGSNN_BLAS=off" in out
    fast = [line for line in out.splitlines() if line.startswith("fast path")]
    assert len(fast) == 1 and fast[0].endswith("Fix: unset EEGSNN_BLAS"), fast
    out_json = subprocess.run(
        [sys.executable, "-m", "eegsnn", "info", "--json", "--no-bench"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    record = json.loads(out_json)
    assert record["blas"]["mode"] == "off"
    assert "reference BLAS" in record["slow_path"]
