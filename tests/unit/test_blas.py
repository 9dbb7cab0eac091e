"""eegsnn._blas: which BLAS MLX ends up on, decided in a fresh process per case."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import shutil
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
#: Where eegsnn depends on scipy-openblas32 (pyproject.toml) and setup.py builds the shim.
PIP_PLATFORM = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")
#: A `pip install mkl` in this environment comes first in auto mode (by the user's choice).
HAS_ENV_MKL = any((Path(sys.prefix) / "lib" / n).exists() for n in _blas._MKL_SONAMES)

# Imports eegsnn (or not) in a fresh interpreter, does a matmul and reports as JSON.
PROBE = r"""
import json, sys, warnings
order = sys.argv[1]
if order == "no-pip-wheel":  # as if scipy-openblas32 were not installed
    sys.modules["scipy_openblas32"] = None
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
# LAPACK through MLX (CPU only): routines with Fortran character arguments (hidden lengths)
s = rng.standard_normal((40, 40)).astype(np.float32)
spd = s @ s.T + 40 * np.eye(40, dtype=np.float32)
cpu = mx.cpu
inv = np.array(mx.linalg.inv(mx.array(spd), stream=cpu))
u, sv, vt = (np.array(t) for t in mx.linalg.svd(mx.array(s), stream=cpu))
w = np.array(mx.linalg.eigvalsh(mx.array(spd), stream=cpu))
chol = np.array(mx.linalg.cholesky(mx.array(spd), stream=cpu))
zc = (a[:50, :60] + 1j * a[50:100, :60]).astype(np.complex64)
zd = (b[:60, :40] - 1j * b[60:120, :40]).astype(np.complex64)
cgot = np.array(mx.array(zc) @ mx.array(zd))
from eegsnn.env import slow_path_note
print(json.dumps({
    "status": _blas.STATUS.as_dict(),
    "effective": _blas.effective_blas(),
    "libs": _blas.loaded_blas_libraries(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
    "err": float(np.max(np.abs(got - ref))),
    "err_t": float(np.max(np.abs(got_t - ref.T))),
    "err_lapack": max(
        float(np.max(np.abs(inv @ spd - np.eye(40)))),
        float(np.max(np.abs((u[:, :40] * sv) @ vt - s))),
        float(np.max(np.abs(w - np.linalg.eigvalsh(spd.astype(np.float64))))),
        float(np.max(np.abs(chol @ chol.T - spd))),
        float(np.max(np.abs(cgot - zc.astype(np.complex128) @ zd)))),
    "note": slow_path_note(),
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
    assert result["err_lapack"] < 2e-3, result["err_lapack"]


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
    assert not any("_blas_shim" in lib for lib in result["libs"])
    assert result["note"].endswith("Fix: unset EEGSNN_BLAS")
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
    # on a terminal: one line, named by the variable (the console script's source line
    # followed it)
    proc = subprocess.run([sys.executable, "-c", "import eegsnn"], capture_output=True,
                          text=True, env={**os.environ, "EEGSNN_BLAS": str(bogus)})
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("EEGSNN_BLAS:0: RuntimeWarning: eegsnn: "), \
        proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
def test_library_without_blas_symbols_is_rejected():
    libm = "libm.so.6"  # loadable everywhere on glibc, exports no cblas_sgemm
    result = probe(libm)
    assert result["status"]["loaded"] is None
    assert any("libm.so.6" in w for w in result["warnings"])


def _require_pip_route() -> None:
    """The pip wheel and the shim must be there on Linux x86_64/aarch64 (a failure in CI)."""
    problem = _blas.pip_openblas_problem()
    if problem is not None:
        message = {"wheel": "scipy-openblas32 is not installed",
                   "shim": "eegsnn's BLAS shim was not built (no C compiler at install)"}[problem]
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.skipif(not PIP_PLATFORM, reason="scipy-openblas32 route: Linux x86_64/aarch64")
@pytest.mark.skipif(HAS_ENV_MKL, reason="an mkl wheel in this environment comes first")
def test_auto_loads_pip_openblas_through_the_shim():
    """What a plain `pip install` gives: the scipy-openblas32 wheel behind eegsnn's shim."""
    _require_pip_route()
    result = probe(None)  # unset means auto
    status = result["status"]
    assert status["mode"] == "auto"
    assert status["vendor"] == "scipy-openblas32"
    assert Path(status["loaded"]).name.startswith("libscipy_openblas")
    assert Path(status["loaded"]).exists() and Path(status["shim"]).exists()
    assert "_blas_shim" in Path(status["shim"]).name
    assert any(Path(lib).name.startswith("libscipy_openblas") for lib in result["libs"])
    assert any("_blas_shim" in lib for lib in result["libs"])
    assert result["effective"].startswith("scipy-openblas32 (")
    assert result["warnings"] == [] and result["note"] == ""
    assert_matmul_correct(result)


@pytest.mark.skipif(not PIP_PLATFORM, reason="scipy-openblas32 route: Linux x86_64/aarch64")
@pytest.mark.skipif(HAS_ENV_MKL, reason="an mkl wheel in this environment comes first")
def test_mlx_binds_its_blas_symbols_to_the_shim():
    """The dynamic linker's own record: libmlx.so's cblas_sgemm and sgetrf_ resolve to the
    shim with the default settings and to the wheel's bundled libblas with EEGSNN_BLAS=off."""
    _require_pip_route()
    code = ("import eegsnn, mlx.core as mx\n"
            "a = mx.ones((64, 64)) + 64 * mx.eye(64)\n"
            "mx.eval(a @ a, mx.linalg.inv(a, stream=mx.cpu))\n")

    def bindings(blas: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != _blas.ENV_VAR}
        env.update({"LD_DEBUG": "bindings"} | ({_blas.ENV_VAR: blas} if blas else {}))
        err = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120, check=True).stderr
        found = {}
        for m in re.finditer(r"binding file \S*libmlx\.so \[\d+\] to (\S+) \[\d+\]: "
                             r"normal symbol `(cblas_sgemm|sgetrf_)'", err):
            found[m.group(2)] = Path(m.group(1)).name
        return found

    auto = bindings(None)
    assert set(auto) == {"cblas_sgemm", "sgetrf_"}, auto
    assert all(name.startswith("_blas_shim") for name in auto.values()), auto
    off = bindings("off")
    assert off["cblas_sgemm"].startswith("libblas"), off
    assert not any(name.startswith("_blas_shim") for name in off.values()), off


@pytest.mark.skipif(not PIP_PLATFORM, reason="scipy-openblas32 route: Linux x86_64/aarch64")
def test_shim_exports_every_blas_symbol_libmlx_imports():
    _require_pip_route()
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("needs nm (binutils)")
    libmlx = Path(mx.__file__).resolve().parent / "lib" / "libmlx.so"
    undefined = subprocess.run([nm, "-D", "--undefined-only", str(libmlx)], capture_output=True,
                               text=True, check=True).stdout.split()
    wanted = {s for s in undefined if re.fullmatch(r"cblas_\w+|[sdcz][a-z0-9]{3,6}_", s)}
    assert {"cblas_sgemm", "sgetrf_", "sgesdd_"} <= wanted  # the pattern finds them
    shim = ctypes.CDLL(str(_blas.shim_path()))
    shim.eegsnn_blas_shim_name.restype = ctypes.c_char_p
    names = {shim.eegsnn_blas_shim_name(i).decode() for i in range(shim.eegsnn_blas_shim_count())}
    assert shim.eegsnn_blas_shim_name(len(names)) is None
    exported = set(subprocess.run([nm, "-D", "--defined-only", str(_blas.shim_path())],
                                  capture_output=True, text=True, check=True).stdout.split())
    assert wanted - names == set(), "add these to EEGSNN_BLAS_SYMBOLS in _blas_shim.c"
    assert names <= exported


@pytest.mark.skipif(not PIP_PLATFORM, reason="scipy-openblas32 route: Linux x86_64/aarch64")
def test_shim_forwards_sgemm_and_sgetrf_directly():
    """Call the shim's standard names through ctypes (C and Fortran calling conventions)."""
    _require_pip_route()
    if _blas.STATUS.shim is None:
        pytest.skip(f"this process runs on {_blas.effective_blas()}")
    shim = ctypes.CDLL(_blas.STATUS.shim)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((6, 7)).astype(np.float32)
    c = np.full((5, 6), 2.0, np.float32)
    f, i, p = ctypes.c_float, ctypes.c_int, ctypes.c_void_p
    shim.cblas_sgemm.argtypes = [i, i, i, i, i, i, f, p, i, p, i, f, p, i]
    # row-major C = 0.5 * A @ B^T + 3 * C
    shim.cblas_sgemm(101, 111, 112, 5, 6, 7, 0.5, a.ctypes.data, 7, b.ctypes.data, 7, 3.0,
                     c.ctypes.data, 6)
    np.testing.assert_allclose(c, 0.5 * a @ b.T + 6.0, rtol=1e-5, atol=1e-5)

    m = np.asfortranarray(rng.standard_normal((4, 4)).astype(np.float32))
    lu, ipiv, info = m.copy(order="F"), np.zeros(4, np.int32), ctypes.c_int(-1)
    n = ctypes.c_int(4)
    shim.sgetrf_(ctypes.byref(n), ctypes.byref(n), p(lu.ctypes.data), ctypes.byref(n),
                 p(ipiv.ctypes.data), ctypes.byref(info))
    assert info.value == 0
    lower = np.tril(lu, -1) + np.eye(4, dtype=np.float32)
    perm = np.arange(4)
    for k, piv in enumerate(ipiv - 1):  # LAPACK's 1-based row interchanges
        perm[[k, piv]] = perm[[piv, k]]
    np.testing.assert_allclose(lower @ np.triu(lu), m[perm], rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not PIP_PLATFORM, reason="scipy-openblas32 route: Linux x86_64/aarch64")
def test_without_the_pip_wheel_the_note_names_the_fix():
    result = probe(None, order="no-pip-wheel")
    status = result["status"]
    assert "scipy-openblas32 (not installed)" in status["tried"]
    assert status["vendor"] != "scipy-openblas32" and status["shim"] is None
    if status["loaded"] is None:  # no Debian OpenBLAS / MKL on this machine either
        assert "the scipy-openblas32 wheel is not installed" in status["reason"]
        assert result["note"].startswith("slow path: MLX matmuls run on the reference BLAS")
        assert result["note"].endswith("Fix: pip install scipy-openblas32")
    assert_matmul_correct(result)


@pytest.mark.skipif(not HAS_DEBIAN_OPENBLAS, reason=f"needs {OPENBLAS_DIR}")
def test_auto_loads_debian_openblas_without_the_pip_wheel():
    result = probe(None, order="no-pip-wheel")
    status = result["status"]
    assert status["mode"] == "auto"
    assert status["vendor"] == "openblas"
    assert "openblas" in status["loaded"].lower()
    assert Path(status["loaded"]).exists()
    assert str(OPENBLAS_DIR / "libopenblas.so.0") in status["tried"]
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


def test_slow_path_note_text():
    """One line: what is slow, then the one command that fixes it."""
    from eegsnn import env

    def note(**kw):
        args = {"reference_blas": False, "blas_mode": "auto", "blas_reason": "",
                "no_kernels": False, "compiler": "/usr/bin/cc", "pip_problem": None}
        return env._note(**(args | kw))

    assert note() == ""
    build = env.reinstall_command()
    assert build.startswith("pip install --no-deps")
    both = note(reference_blas=True, no_kernels=True, pip_problem="shim", compiler=None)
    assert both == ("slow path: MLX matmuls run on the reference BLAS of the mlx wheel (~10x "
                    "slower); the fused CPU training step is off (eegsnn's C kernels are "
                    f"unavailable). Fix: install a C compiler (gcc), then {build}")
    assert "\n" not in both
    assert note(no_kernels=True).endswith(f"Fix: {build}")
    assert note(reference_blas=True, pip_problem="wheel").endswith(
        "Fix: pip install scipy-openblas32")
    assert note(reference_blas=True, blas_mode="off").endswith("Fix: unset EEGSNN_BLAS")
    assert note(reference_blas=True, blas_mode="off", no_kernels=True).endswith(
        f"Fix: unset EEGSNN_BLAS && {build}")
    # From a run's environment.json, as the report shows it
    record = {"mlx_device": "cpu", "kernels": {"available": True},
              "blas": {"mode": "auto", "effective": "reference BLAS (bundled)",
                       "reason": "no optimised BLAS loaded: the scipy-openblas32 wheel is not "
                                 "installed; MLX uses its bundled reference BLAS"}}
    assert env.slow_path_note_from_record(record).endswith("Fix: pip install scipy-openblas32")
    assert env.slow_path_note_from_record({**record, "mlx_device": "gpu (cuda)"}) == ""
    fast = {**record, "blas": {"mode": "auto", "effective": "scipy-openblas32 (x)"}}
    assert env.slow_path_note_from_record(fast) == ""


def test_report_environment_section_shows_blas_extras_and_slow_path(tmp_path):
    """The report's environment section: BLAS, optional extras and the one-line note."""
    from eegsnn import env
    from eegsnn.report.report import build_report

    (tmp_path / "metrics.json").write_text('{"class_names": ["a", "b"], "snn": {}}')
    (tmp_path / "config.yaml").write_text("name: fake\n")
    (tmp_path / "data.json").write_text('{"files": []}')
    record = env.environment_record()
    record["mlx_device"] = "cpu"
    record["blas"] = {"mode": "off", "effective": "reference BLAS (libblas.so)",
                      "reason": "disabled by EEGSNN_BLAS=off"}
    (tmp_path / "environment.json").write_text(json.dumps(record))
    text = build_report(tmp_path, "md")
    section = text[text.index("Environment"):]
    assert "BLAS: reference BLAS (libblas.so)." in section
    assert "Optional extras: scikit-learn " in section and "pymatreader " in section
    notes = [line for line in section.splitlines() if line.startswith("slow path:")]
    assert notes == [env.slow_path_note_from_record(record)]
    assert notes[0].endswith("Fix: unset EEGSNN_BLAS")
    record["blas"] = {"mode": "auto", "effective": "scipy-openblas32 (x)", "reason": "loaded"}
    record["kernels"] = {"available": True}
    (tmp_path / "environment.json").write_text(json.dumps(record))
    assert "slow path:" not in build_report(tmp_path, "md")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BLAS preload is Linux-only")
@pytest.mark.parametrize("command", ["train", "mnist"])
def test_train_and_mnist_print_the_slow_path_note_once(repo_root, tmp_path, command):
    """The note comes before training starts (here: before the missing data is noticed)."""
    from eegsnn.env import slow_path_note

    missing = tmp_path / "missing"
    args = {"train": ["train", "--config", str(repo_root / "configs" / "bonn_example.yaml"),
                      "--set", f"data.source={missing}", "--set", "baseline=null",
                      "--out", str(tmp_path / "run")],
            "mnist": ["mnist", "--data-dir", str(missing), "--out", str(tmp_path / "run")]}
    for blas in ("off", None):
        env = {k: v for k, v in os.environ.items() if k != _blas.ENV_VAR}
        env.update({_blas.ENV_VAR: blas} if blas else {})
        proc = subprocess.run([sys.executable, "-m", "eegsnn", *args[command]], env=env,
                              capture_output=True, text=True, timeout=120, cwd=repo_root)
        assert proc.returncode == 3, proc.stderr  # the missing data
        notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("slow path:")]
        if blas == "off":
            assert len(notes) == 1 and notes[0].endswith("Fix: unset EEGSNN_BLAS"), proc.stderr
        else:  # default settings: a note exactly when this machine has a slow path
            assert notes == ([slow_path_note()] if slow_path_note() else []), proc.stderr
