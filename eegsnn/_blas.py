"""Load an optimised BLAS before MLX on Linux.

The Linux ``mlx[cpu]`` wheel links against a reference (netlib) BLAS that it bundles in
``mlx_cpu.libs``. That BLAS is correct but slow: on a 2-core x86_64 machine a 1024x1024
float32 matmul takes ~0.5-0.7 s with it and ~0.02-0.04 s with OpenBLAS. ``libmlx.so`` resolves
``cblas_sgemm``, ``sgetrf_`` and friends through the dynamic linker, so a library that exports
the same symbols and is already loaded with ``RTLD_GLOBAL`` when ``mlx.core`` is first imported
takes precedence over the bundled one.

:func:`preload_blas` does exactly that, and only that:

* never on macOS (MLX uses Accelerate there) and never on other non-Linux systems;
* only before ``mlx.core`` is imported (afterwards the symbols are already bound);
* only a library that exports both ``cblas_sgemm`` and ``sgetrf_`` (BLAS and LAPACK).

The choice is controlled by the ``EEGSNN_BLAS`` environment variable:

``auto`` (default, also when unset)
    Try Debian/Ubuntu OpenBLAS (``libopenblas0-pthread``, ``-openmp``, ``-serial``), any
    ``libopenblas.so.0`` the dynamic linker finds, then an Intel MKL runtime
    (``libmkl_rt.so.2``, also in ``sys.prefix/lib`` for pip/conda installs of ``mkl``).
``off`` (also ``0``, ``none``, ``false``)
    Do nothing; MLX uses the BLAS its wheel ships.
a path to a shared library
    Load exactly that library; if it is missing or lacks the symbols a warning says so and
    nothing else is tried.

The outcome is kept in :data:`STATUS` and shown by ``eegsnn info``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "EEGSNN_BLAS"
REQUIRED_SYMBOLS = ("cblas_sgemm", "sgetrf_")
_OFF_VALUES = {"0", "off", "none", "false", "no"}

_DEBIAN_MULTIARCH = {
    "x86_64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "ppc64le": "powerpc64le-linux-gnu",
    "s390x": "s390x-linux-gnu",
}


@dataclass
class BlasStatus:
    """What :func:`preload_blas` did and why.

    Attributes:
        mode: ``"auto"``, ``"off"`` or ``"path"`` (from ``EEGSNN_BLAS``).
        loaded: Path of the optimised library that was loaded, or ``None``.
        vendor: ``"openblas"``, ``"mkl"``, ``"user"`` or ``None``.
        reason: One sentence explaining the outcome, for ``eegsnn info``.
        tried: Candidate paths that were looked at, in order.
    """

    mode: str = "auto"
    loaded: str | None = None
    vendor: str | None = None
    reason: str = "not attempted"
    tried: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


STATUS = BlasStatus()


def _candidates() -> list[tuple[str, str]]:
    """Candidate (vendor, path-or-soname) pairs in order of preference."""
    arch = _DEBIAN_MULTIARCH.get(platform.machine(), f"{platform.machine()}-linux-gnu")
    out: list[tuple[str, str]] = []
    for root in (f"/usr/lib/{arch}", "/usr/lib64", "/usr/lib"):
        for flavour in ("openblas-pthread", "openblas-openmp", "openblas-serial"):
            out.append(("openblas", f"{root}/{flavour}/libopenblas.so.0"))
    found = ctypes.util.find_library("openblas")
    if found:
        out.append(("openblas", found))
    out.append(("openblas", "libopenblas.so.0"))
    for prefix in (sys.prefix, os.environ.get("CONDA_PREFIX", "")):
        if prefix:
            out.append(("mkl", str(Path(prefix) / "lib" / "libmkl_rt.so.2")))
    out.append(("mkl", "libmkl_rt.so.2"))
    out.append(("mkl", "libmkl_rt.so"))
    return out


def _try_load(path: str) -> ctypes.CDLL | None:
    """Load ``path`` globally if it exports every required symbol, else return None."""
    if os.sep in path and not Path(path).exists():
        return None
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    if not all(hasattr(lib, sym) for sym in REQUIRED_SYMBOLS):
        return None
    return lib


def _library_path(lib: ctypes.CDLL, fallback: str) -> str:
    """Resolve the file a loaded library came from (via /proc/self/maps), else ``fallback``."""
    name = Path(fallback).name.split(".so")[0]
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and name in Path(parts[-1]).name:
                    return os.path.realpath(parts[-1])
    except OSError:
        pass
    return fallback


def preload_blas() -> BlasStatus:
    """Load an optimised BLAS with ``RTLD_GLOBAL`` so that MLX uses it (Linux only).

    Safe to call more than once; only the first call acts. Returns and stores the outcome
    in :data:`STATUS`.
    """
    global STATUS
    if STATUS.reason != "not attempted":
        return STATUS

    raw = os.environ.get(ENV_VAR, "auto").strip()
    lowered = raw.lower()
    mode = "off" if lowered in _OFF_VALUES else ("auto" if lowered in ("", "auto") else "path")
    status = BlasStatus(mode=mode)

    if not sys.platform.startswith("linux"):
        status.reason = f"not needed on {sys.platform}: MLX's own build uses the system BLAS"
    elif mode == "off":
        status.reason = f"disabled by {ENV_VAR}={raw}; MLX uses the BLAS bundled with its wheel"
    elif "mlx.core" in sys.modules:
        status.reason = (
            "mlx.core was imported before eegsnn, so MLX's BLAS was already bound; "
            "import eegsnn first to get the optimised BLAS"
        )
    else:
        candidates = [("user", raw)] if mode == "path" else _candidates()
        for vendor, path in candidates:
            status.tried.append(path)
            lib = _try_load(path)
            if lib is not None:
                status.loaded = _library_path(lib, path)
                status.vendor = vendor
                status.reason = f"loaded {vendor} BLAS with RTLD_GLOBAL before mlx.core"
                break
        else:
            if mode == "path":
                status.reason = (
                    f"{ENV_VAR}={raw} is not a loadable library exporting "
                    f"{', '.join(REQUIRED_SYMBOLS)}; MLX uses its bundled reference BLAS"
                )
                warnings.warn(f"eegsnn: {status.reason}", RuntimeWarning, stacklevel=3)
            else:
                status.reason = (
                    "no optimised BLAS found; MLX uses its bundled reference BLAS "
                    "(~20-35x slower matmul). Install OpenBLAS, e.g. "
                    "`apt-get install libopenblas0-pthread`"
                )
    STATUS = status
    return status


def loaded_blas_libraries() -> list[str]:
    """Shared libraries with BLAS/LAPACK in their name mapped into this process."""
    seen: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) < 6:
                    continue
                name = Path(parts[-1]).name.lower()
                is_blas = any(key in name for key in ("blas", "lapack", "mkl_rt"))
                if is_blas and parts[-1] not in seen:
                    seen.append(parts[-1])
    except OSError:
        pass
    return seen


def effective_blas() -> str:
    """A one-line description of the BLAS that MLX's matmuls run on."""
    if sys.platform == "darwin":
        return "Accelerate (macOS system BLAS)"
    if STATUS.loaded:
        return f"{STATUS.vendor} ({STATUS.loaded})"
    bundled = [p for p in loaded_blas_libraries() if "mlx" in p and "libblas" in p]
    where = bundled[0] if bundled else "bundled with the mlx wheel"
    return f"reference BLAS ({where})"


def _thread_functions() -> tuple[Any, Any] | None:
    """``(get, set)`` thread-count functions of the preloaded OpenBLAS, or ``None``."""
    return _openblas_thread_functions(STATUS.loaded) if STATUS.loaded else None


@functools.cache
def _openblas_thread_functions(path: str) -> tuple[Any, Any] | None:
    try:
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # already mapped: same handle
        get, put = lib.openblas_get_num_threads, lib.openblas_set_num_threads
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    put.restype, put.argtypes = None, [ctypes.c_int]
    return get, put


@contextlib.contextmanager
def blas_threads(num_threads: int) -> Iterator[bool]:
    """Run a block with the preloaded OpenBLAS limited to ``num_threads`` threads
    (``0``: leave the thread count as it is).

    OpenBLAS worker threads keep spinning for a while after a call; when another
    multi-threaded kernel (the C kernels of :mod:`eegsnn.kernels`) runs next, they take
    its cores. The fused training step runs its few small MLX matmuls single-threaded with
    this. Yields whether the limit applied (``False``: no preloaded OpenBLAS, nothing done).
    """
    functions = _thread_functions() if num_threads > 0 else None
    if functions is None:
        yield False
        return
    get, put = functions
    previous = int(get())
    put(int(num_threads))
    try:
        yield True
    finally:
        put(previous)
