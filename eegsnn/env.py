"""Run environment: package versions, MLX device and BLAS, for ``eegsnn info`` and run records."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

import eegsnn
from eegsnn import _blas

_PACKAGES = ("mlx", "numpy", "scipy", "mne", "pyedflib", "typer", "pyyaml", "rich",
             "scipy-openblas32")
#: Packages of the optional extras (pyproject.toml: sklearn, plot, nir, eeglab, pandas, bids,
#: moabb, riemann).
EXTRAS = ("scikit-learn", "matplotlib", "nir", "pymatreader", "pandas", "mne-bids", "moabb",
          "pyriemann")
NOT_INSTALLED = "not installed"


def package_versions() -> dict[str, str | None]:
    """Installed versions of eegsnn and its main dependencies (``None`` if missing)."""
    versions: dict[str, str | None] = {"eegsnn": eegsnn.__version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    for backend in ("mlx-cpu", "mlx-metal", "mlx-cuda-12", "mlx-cuda-13"):
        try:
            versions[backend] = metadata.version(backend)
        except metadata.PackageNotFoundError:
            pass
    return versions


def extras_versions() -> dict[str, str]:
    """Versions of the optional extras' packages, ``"not installed"`` for missing ones."""
    out = {}
    for name in EXTRAS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out


def mlx_device() -> str:
    """The default MLX device, e.g. ``"cpu"`` or ``"gpu (cuda)"``."""
    import mlx.core as mx

    device = mx.default_device()
    kind = "gpu" if device.type == mx.DeviceType.gpu else "cpu"
    if kind == "gpu":
        if mx.metal.is_available():
            kind += " (metal)"
        elif hasattr(mx, "cuda") and mx.cuda.is_available():
            kind += " (cuda)"
    return kind


def matmul_seconds(size: int = 1024, repeats: int = 3) -> float:
    """Median wall time in seconds of one ``size x size`` float32 matmul on the default device."""
    import mlx.core as mx

    a = mx.random.normal((size, size), key=mx.random.key(0))
    b = mx.random.normal((size, size), key=mx.random.key(1))
    mx.eval(a @ b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(a @ b)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def environment_record() -> dict:
    """Everything a run records about where it ran (versions, device, BLAS, platform)."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "extras": extras_versions(),
        "mlx_device": mlx_device(),
        "blas": {**_blas.STATUS.as_dict(), "effective": _blas.effective_blas()},
        "kernels": kernels_record(),
    }


def kernels_record() -> dict:
    """Whether eegsnn's C kernels (fused CPU training step) are available, and their threads."""
    from eegsnn import kernels  # on use only: importing it sets GOMP_SPINCOUNT (kernels doc)

    if not kernels.kernels_available():
        return {"available": False, "reason": kernels.unavailable_reason()}
    return {"available": True, "threads": kernels.get_num_threads(),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT")}


def reinstall_command() -> str:
    """The pip command that reinstalls eegsnn from where it was installed (rebuilding its C
    extensions), e.g. ``pip install --no-deps -e /path/to/eegsnn`` from a source checkout."""
    root = Path(eegsnn.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "setup.py").is_file():
        return f"pip install --no-deps -e {_quoted(str(root))}"  # editable, or run from it
    source = "eegsnn"
    for dist in metadata.distributions(name="eegsnn"):
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        except ValueError:
            continue
        if url.startswith("file://"):
            source = url.removeprefix("file://")
            break
    return f"pip install --no-deps --force-reinstall {_quoted(source)}"


def _quoted(text: str) -> str:
    return f'"{text}"' if " " in text else text


def slow_path_note() -> str:
    """One line naming the slow paths in use and the one command that fixes them, or ``""``.

    Slow paths (only when MLX computes on the CPU): MLX's matmuls on the reference BLAS of
    the ``mlx[cpu]`` wheel (:mod:`eegsnn._blas`), and no C kernels, i.e. no fused CPU
    training step (:mod:`eegsnn.kernels`). Printed by ``eegsnn train`` and ``eegsnn mnist``
    and shown in the report's environment section (see :func:`slow_path_note_from_record`).
    """
    from eegsnn import kernels  # on use only: importing it sets GOMP_SPINCOUNT (kernels doc)

    if not mlx_device().startswith("cpu"):
        return ""
    blas = _blas.STATUS
    reference = sys.platform.startswith("linux") and not blas.loaded
    return _note(reference_blas=reference, blas_mode=blas.mode, blas_reason=blas.reason,
                 no_kernels=not kernels.kernels_available(),
                 compiler=shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"),
                 pip_problem=_blas.pip_openblas_problem() if reference else None)


def slow_path_note_from_record(record: dict) -> str:
    """:func:`slow_path_note` for a run's ``environment.json`` (as it was when it ran)."""
    if not str(record.get("mlx_device", "cpu")).startswith("cpu"):
        return ""
    blas = record.get("blas") or {}
    kernels = record.get("kernels") or {}
    return _note(
        reference_blas=str(blas.get("effective", "")).startswith("reference BLAS"),
        blas_mode=blas.get("mode", "auto"), blas_reason=blas.get("reason", ""),
        no_kernels=kernels.get("available") is False, compiler=None,
        pip_problem=_pip_problem_from_reason(str(blas.get("reason", ""))))


def _pip_problem_from_reason(reason: str) -> str | None:
    if f"the {_blas.PIP_OPENBLAS} wheel is not installed" in reason:
        return "wheel"
    return "shim" if "BLAS shim was not built" in reason else None


def _note(*, reference_blas: bool, blas_mode: str, blas_reason: str, no_kernels: bool,
          compiler: str | None, pip_problem: str | None) -> str:
    slow, fixes = [], []
    rebuild = no_kernels
    if reference_blas:
        slow.append("MLX matmuls run on the reference BLAS of the mlx wheel (~10x slower)")
        if blas_mode != "auto":
            fixes.append(f"unset {_blas.ENV_VAR}")
        elif "imported before eegsnn" in blas_reason:
            fixes.append("import eegsnn before mlx.core")
        elif pip_problem == "wheel":
            fixes.append(f"pip install {_blas.PIP_OPENBLAS}")
        elif pip_problem == "shim":
            rebuild = True
        else:  # no scipy-openblas32 wheel for this machine
            fixes.append("apt-get install libopenblas0-pthread")
    if no_kernels:
        slow.append("the fused CPU training step is off (eegsnn's C kernels are unavailable)")
    if not slow:
        return ""
    if rebuild:
        build = reinstall_command()
        fixes.append(build if compiler else f"install a C compiler (gcc), then {build}")
    return f"slow path: {'; '.join(slow)}. Fix: {' && '.join(fixes)}"


def print_slow_path_note() -> None:
    """Print :func:`slow_path_note` to stderr when a slow path is in use (one line)."""
    note = slow_path_note()
    if note:
        print(note, file=sys.stderr, flush=True)


def worker_init(threads: int | None) -> None:
    """Initializer of a spawned worker process (``ProcessPoolExecutor(initializer=...)``):
    cap its BLAS/OpenMP threads at ``threads`` (``None``: leave them as they are), so that
    ``N`` workers use ``N`` cores.

    It lives in this light module because a spawned worker imports the initializer's module
    before running it: the worker's task code (and MLX, the C kernels' OpenMP) is imported
    afterwards, with the limits in place.
    """
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
