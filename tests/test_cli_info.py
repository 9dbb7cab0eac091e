"""``eegsnn info``: versions, MLX device and BLAS, as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlx.core as mx
import pytest

import eegsnn
from eegsnn import _blas
from eegsnn.cli import main


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_info_subprocess_with_blas_off_shows_reference_blas_and_hint():
    env = {**os.environ, _blas.ENV_VAR: "off"}
    out = subprocess.run(
        [sys.executable, "-m", "eegsnn", "info", "--no-bench"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "reference BLAS" in out
    assert "disabled by EEGSNN_BLAS=off" in out
    assert "fast path" in out  # tells the user how to get OpenBLAS
    out_json = subprocess.run(
        [sys.executable, "-m", "eegsnn", "info", "--json", "--no-bench"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert json.loads(out_json)["blas"]["mode"] == "off"
