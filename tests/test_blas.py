"""eegsnn._blas: which BLAS MLX ends up on, decided in a fresh process per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

import eegsnn
from eegsnn import _blas

OPENBLAS_DIR = Path("/usr/lib/x86_64-linux-gnu/openblas-pthread")
HAS_DEBIAN_OPENBLAS = sys.platform.startswith("linux") and (
    OPENBLAS_DIR / "libopenblas.so.0"
).exists()

# Imports eegsnn (or not) in a fresh interpreter, does a matmul and reports as JSON.
PROBE = r"""
import json, sys, warnings
order = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    if order == "mlx-first":
        import mlx.core as mx
        import eegsnn
    else:
        import eegsnn
        import mlx.core as mx
import numpy as np
from eegsnn import _blas
rng = np.random.default_rng(0)
a = rng.standard_normal((300, 200)).astype(np.float32)
b = rng.standard_normal((200, 150)).astype(np.float32)
got = np.array(mx.array(a) @ mx.array(b))
got_t = np.array(mx.array(b).T @ mx.array(a).T)
ref = a.astype(np.float64) @ b.astype(np.float64)
print(json.dumps({
    "status": _blas.STATUS.as_dict(),
    "effective": _blas.effective_blas(),
    "libs": _blas.loaded_blas_libraries(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
    "err": float(np.max(np.abs(got - ref))),
    "err_t": float(np.max(np.abs(got_t - ref.T))),
}))
"""


def probe(blas: str | None, order: str = "eegsnn-first") -> dict:
    env = {k: v for k, v in os.environ.items() if k != _blas.ENV_VAR}
    if blas is not None:
        env[_blas.ENV_VAR] = blas
    out = subprocess.run(
        [sys.executable, "-c", PROBE, order],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_matmul_correct(result: dict) -> None:
    assert result["err"] < 1e-3, result["err"]
    assert result["err_t"] < 1e-3, result["err_t"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_off_loads_nothing_and_uses_bundled_blas():
    result = probe("off")
    status = result["status"]
    assert status["mode"] == "off"
    assert status["loaded"] is None and status["vendor"] is None
    assert "disabled by EEGSNN_BLAS=off" in status["reason"]
    assert status["tried"] == []
    # (numpy's own ``libscipy_openblas64_`` uses suffixed symbols and does not count.)
    assert not any(Path(lib).name.startswith("libopenblas") for lib in result["libs"])
    assert any("mlx" in lib and "libblas" in lib for lib in result["libs"])
    assert result["effective"].startswith("reference BLAS")
    assert_matmul_correct(result)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_bogus_path_warns_and_falls_back(tmp_path):
    bogus = tmp_path / "libnot-a-blas.so"
    result = probe(str(bogus))
    status = result["status"]
    assert status["mode"] == "path"
    assert status["loaded"] is None
    assert status["tried"] == [str(bogus)]
    assert any(str(bogus) in w and "cblas_sgemm" in w for w in result["warnings"])
    assert_matmul_correct(result)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_library_without_blas_symbols_is_rejected():
    libm = "libm.so.6"  # loadable everywhere on glibc, exports no cblas_sgemm
    result = probe(libm)
    assert result["status"]["loaded"] is None
    assert any("libm.so.6" in w for w in result["warnings"])


@pytest.mark.skipif(not HAS_DEBIAN_OPENBLAS, reason=f"needs {OPENBLAS_DIR}")
def test_auto_loads_debian_openblas_and_matmul_is_correct():
    result = probe(None)  # unset means auto
    status = result["status"]
    assert status["mode"] == "auto"
    assert status["vendor"] == "openblas"
    assert "openblas" in status["loaded"].lower()
    assert Path(status["loaded"]).exists()
    assert status["tried"][0] == str(OPENBLAS_DIR / "libopenblas.so.0")
    assert any(Path(lib).name.startswith("libopenblas") for lib in result["libs"])
    assert result["effective"].startswith("openblas")
    assert result["warnings"] == []
    assert_matmul_correct(result)
    # Same answer as the bundled reference BLAS.
    off = probe("off")
    assert abs(result["err"] - off["err"]) < 1e-3


@pytest.mark.skipif(not HAS_DEBIAN_OPENBLAS, reason=f"needs {OPENBLAS_DIR}")
def test_explicit_path_is_loaded_as_user_vendor():
    path = str(OPENBLAS_DIR / "libopenblas.so.0")
    result = probe(path)
    assert result["status"]["mode"] == "path"
    assert result["status"]["vendor"] == "user"
    assert "openblas" in result["status"]["loaded"].lower()
    assert_matmul_correct(result)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_importing_mlx_first_is_reported():
    result = probe(None, order="mlx-first")
    status = result["status"]
    assert status["loaded"] is None
    assert "mlx.core was imported before eegsnn" in status["reason"]
    assert "import eegsnn first" in status["reason"]
    assert_matmul_correct(result)


def test_preload_is_idempotent_in_process():
    first = _blas.STATUS
    again = _blas.preload_blas()
    assert again is first
    assert eegsnn.BLAS_STATUS.as_dict() == again.as_dict()


def test_in_process_sgemm_matches_numpy_with_transposes():
    """The BLAS MLX runs on here (whichever it is) computes correct float32 products."""
    rng = np.random.default_rng(42)
    a = rng.standard_normal((257, 129)).astype(np.float32)
    b = rng.standard_normal((257, 65)).astype(np.float32)
    ref = a.T.astype(np.float64) @ b.astype(np.float64)
    got = np.array(mx.array(a).T @ mx.array(b))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)
    batched = np.array(mx.array(np.stack([a, a])).swapaxes(1, 2) @ mx.array(np.stack([b, b])))
    np.testing.assert_allclose(batched[1], ref, rtol=1e-4, atol=1e-3)


def test_bench_blas_worker_runs_and_reports_times(repo_root):
    """Smoke test of benchmarks/bench_blas.py's measuring half (one repeat, current BLAS)."""
    script = repo_root / "benchmarks" / "bench_blas.py"
    out = subprocess.run(
        [sys.executable, str(script), "--worker", "--warmup", "0", "--repeats", "1",
         "--train-repeats", "1"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result["times"]) == {"matmul_1024_s", "train_step_s"}
    assert all(len(v) == 1 and v[0] > 0 for v in result["times"].values())
    assert result["blas"] == _blas.effective_blas() or os.environ.get(_blas.ENV_VAR)


def test_blas_threads_limits_and_restores_the_openblas_thread_count():
    functions = _blas._thread_functions()
    if functions is None:
        with _blas.blas_threads(1) as applied:
            assert applied is False  # no preloaded OpenBLAS: nothing to limit
        return
    get, _ = functions
    before = get()
    with _blas.blas_threads(1) as applied:
        assert applied is True and get() == 1
        a = mx.random.normal((64, 64))
        np.testing.assert_allclose(np.array(a @ a.T), np.array(a) @ np.array(a).T, rtol=1e-4,
                                   atol=1e-3)
    assert get() == before
    with _blas.blas_threads(0) as applied:  # 0: leave the count alone
        assert applied is False and get() == before
