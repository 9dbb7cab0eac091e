"""Load an optimised BLAS before MLX on Linux.

The Linux ``mlx[cpu]`` wheel links against a reference (netlib) BLAS that it bundles in
``mlx_cpu.libs``. That BLAS is correct but slow: on a 2-core x86_64 machine a 1024x1024
float32 matmul takes ~0.5-0.7 s with it and ~0.02-0.05 s with OpenBLAS. ``libmlx.so`` resolves
``cblas_sgemm``, ``sgetrf_`` and friends through the dynamic linker, so a library that exports
the same symbols and is already loaded with ``RTLD_GLOBAL`` when ``mlx.core`` is first imported
takes precedence over the bundled one.

:func:`preload_blas` does exactly that, and only that:

* never on macOS (MLX uses Accelerate there) and never on other non-Linux systems;
* only before ``mlx.core`` is imported (afterwards the symbols are already bound);
* only a library that exports both ``cblas_sgemm`` and ``sgetrf_`` (BLAS and LAPACK).

The choice is controlled by the ``EEGSNN_BLAS`` environment variable:

``auto`` (default, also when unset)
    1. An Intel MKL runtime installed into this environment (``sys.prefix/lib/libmkl_rt.so.3``
       or ``.so.2``, i.e. ``pip install mkl`` or conda): eegsnn never installs it, so its
       presence is the user's choice.
    2. The OpenBLAS of the ``scipy-openblas32`` wheel, a dependency of eegsnn on Linux
       x86_64/aarch64: what a plain ``pip install`` gets. Its functions carry a ``scipy_``
       prefix; eegsnn's BLAS shim (``eegsnn/kernels/_blas_shim.c``, built by ``setup.py``
       with a C compiler) exports the standard names and forwards to them. It comes before
       system libraries because it is the BLAS eegsnn declares, bounds and tests in CI,
       the same version on every machine.
    3. If the wheel or the shim is missing: Debian/Ubuntu OpenBLAS (``libopenblas0-pthread``,
       ``-openmp``, ``-serial``), any ``libopenblas.so.0`` the dynamic linker finds, then
       an MKL runtime elsewhere (``$CONDA_PREFIX/lib``, the linker's path).

    Set a path (below) to choose a library explicitly.
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
import importlib.machinery
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
#: The pip wheel whose OpenBLAS eegsnn loads first (through the shim) and its symbol prefix.
PIP_OPENBLAS = "scipy-openblas32"
_PIP_PREFIX = "scipy_"
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
        vendor: ``"scipy-openblas32"`` (the pip wheel, through the shim), ``"openblas"``,
            ``"mkl"``, ``"user"`` or ``None``.
        reason: One sentence explaining the outcome, for ``eegsnn info``.
        tried: Candidate paths that were looked at, in order.
        shim: Path of eegsnn's BLAS shim when it forwards to ``loaded``, else ``None``.
    """

    mode: str = "auto"
    loaded: str | None = None
    vendor: str | None = None
    reason: str = "not attempted"
    tried: list[str] = field(default_factory=list)
    shim: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


STATUS = BlasStatus()


def shim_path() -> Path | None:
    """The built BLAS shim (``eegsnn/kernels/_blas_shim*.so``), or ``None`` if it was not built.

    Found without importing :mod:`eegsnn.kernels`, which must not run before the preload.
    """
    folder = Path(__file__).resolve().parent / "kernels"
    spec = importlib.machinery.PathFinder.find_spec("_blas_shim", [str(folder)])
    return Path(spec.origin) if spec is not None and spec.origin else None


def pip_openblas_path() -> Path | None:
    """The OpenBLAS library of the installed ``scipy-openblas32`` wheel, or ``None``."""
    try:
        import scipy_openblas32  # loads the library (prefixed symbols only) as a side effect

        path = Path(scipy_openblas32.get_lib_dir()) / scipy_openblas32.get_library(fullname=True)
    except (ImportError, OSError, AttributeError, IndexError):
        return None
    return path if path.exists() else None


def _load_pip_openblas(status: BlasStatus) -> bool:
    """Forward the shim's standard names to the ``scipy_``-prefixed functions of the
    ``scipy-openblas32`` wheel, then make the shim global. ``False`` (nothing global
    loaded) when the wheel, the shim or any prefixed function is missing."""
    blas_path = pip_openblas_path()
    status.tried.append(str(blas_path) if blas_path else f"{PIP_OPENBLAS} (not installed)")
    shim = shim_path()
    if blas_path is None or shim is None:
        return False
    try:
        blas = ctypes.CDLL(str(blas_path))
        lib = ctypes.CDLL(str(shim))  # local first: global only once every slot is filled
        lib.eegsnn_blas_shim_name.restype = ctypes.c_char_p
        lib.eegsnn_blas_shim_name.argtypes = [ctypes.c_int]
        names = [lib.eegsnn_blas_shim_name(i).decode()
                 for i in range(int(lib.eegsnn_blas_shim_count()))]
        addresses = (ctypes.c_void_p * len(names))(
            *(ctypes.cast(getattr(blas, _PIP_PREFIX + name), ctypes.c_void_p).value
              for name in names))
        lib.eegsnn_blas_shim_init.argtypes = [ctypes.c_void_p, ctypes.c_int]
        if not names or lib.eegsnn_blas_shim_init(addresses, len(names)) != len(names):
            return False
        ctypes.CDLL(str(shim), mode=ctypes.RTLD_GLOBAL)  # promotes the loaded shim to global
    except (OSError, AttributeError):
        return False
    status.loaded = os.path.realpath(blas_path)
    status.shim = str(shim)
    status.vendor = PIP_OPENBLAS
    return True


def pip_openblas_problem() -> str | None:
    """Why the ``scipy-openblas32`` route is unavailable here: ``"wheel"`` (not installed),
    ``"shim"`` (not built: no C compiler when eegsnn was installed), or ``None``."""
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "aarch64"):
        return None
    if pip_openblas_path() is None:
        return "wheel"
    if shim_path() is None:
        return "shim"
    return None


_MKL_SONAMES = ("libmkl_rt.so.3", "libmkl_rt.so.2")  # mkl 2025.3+ wheels: .so.3


def _candidates() -> list[tuple[str, str]]:
    """Candidate (vendor, path-or-soname) pairs in order of preference (``auto`` mode);
    ``(PIP_OPENBLAS, "")`` stands for the scipy-openblas32 wheel behind the shim."""
    arch = _DEBIAN_MULTIARCH.get(platform.machine(), f"{platform.machine()}-linux-gnu")
    # MKL installed into this very environment (`pip install mkl`): eegsnn never installs
    # it, so it is there by the user's choice (1.6-2.5x OpenBLAS's matmul speed on an
    # AVX-512 Xeon, benchmarks/README.md).
    out = [("mkl", str(Path(sys.prefix) / "lib" / name)) for name in _MKL_SONAMES]
    out.append((PIP_OPENBLAS, ""))
    for root in (f"/usr/lib/{arch}", "/usr/lib64", "/usr/lib"):
        for flavour in ("openblas-pthread", "openblas-openmp", "openblas-serial"):
            out.append(("openblas", f"{root}/{flavour}/libopenblas.so.0"))
    found = ctypes.util.find_library("openblas")
    if found:
        out.append(("openblas", found))
    out.append(("openblas", "libopenblas.so.0"))
    conda = os.environ.get("CONDA_PREFIX", "")
    if conda and Path(conda) != Path(sys.prefix):
        out += [("mkl", str(Path(conda) / "lib" / name)) for name in _MKL_SONAMES]
    out += [("mkl", name) for name in (*_MKL_SONAMES, "libmkl_rt.so")]
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
        for vendor, path in [("user", raw)] if mode == "path" else _candidates():
            if vendor == PIP_OPENBLAS:
                if _load_pip_openblas(status):
                    status.reason = (f"loaded the OpenBLAS of the {PIP_OPENBLAS} wheel "
                                     "through eegsnn's BLAS shim with RTLD_GLOBAL before "
                                     "mlx.core")
                    break
                continue
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
                # (named by the variable, with no source line: one line on a terminal)
                warnings.warn_explicit(f"eegsnn: {status.reason}", RuntimeWarning,
                                       ENV_VAR, 0)
            else:
                why = {"wheel": f"the {PIP_OPENBLAS} wheel is not installed",
                       "shim": "eegsnn's BLAS shim was not built (no C compiler when eegsnn "
                               "was installed)"}.get(pip_openblas_problem() or "",
                                                     "no OpenBLAS or MKL was found")
                status.reason = (f"no optimised BLAS loaded: {why}; MLX uses its bundled "
                                 "reference BLAS (~10-30x slower matmul)")
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
        via = " via eegsnn's BLAS shim" if STATUS.shim else ""
        return f"{STATUS.vendor} ({STATUS.loaded}{via})"
    bundled = [p for p in loaded_blas_libraries() if "mlx" in p and "libblas" in p]
    where = bundled[0] if bundled else "bundled with the mlx wheel"
    return f"reference BLAS ({where})"


def _thread_functions() -> tuple[Any, Any] | None:
    """``(get, set)`` thread-count functions of the preloaded BLAS, or ``None``."""
    return _blas_thread_functions(STATUS.loaded) if STATUS.loaded else None


#: (get, set) thread-count functions: OpenBLAS, the scipy-openblas32 wheel's, MKL's C API.
_THREAD_FUNCTIONS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    (f"{_PIP_PREFIX}openblas_get_num_threads", f"{_PIP_PREFIX}openblas_set_num_threads"),
    ("MKL_Get_Max_Threads", "MKL_Set_Num_Threads"),
)


@functools.cache
def _blas_thread_functions(path: str) -> tuple[Any, Any] | None:
    try:
        lib = ctypes.CDLL(path)  # already mapped: same library, no new load
    except OSError:
        return None
    for get_name, set_name in _THREAD_FUNCTIONS:
        try:
            get, put = getattr(lib, get_name), getattr(lib, set_name)
            break
        except AttributeError:
            continue
    else:
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    put.restype, put.argtypes = None, [ctypes.c_int]
    return get, put


@contextlib.contextmanager
def blas_threads(num_threads: int) -> Iterator[bool]:
    """Run a block with the preloaded OpenBLAS (or MKL) limited to ``num_threads`` threads
    (``0``: leave the thread count as it is).

    OpenBLAS worker threads keep spinning for a while after a call; when another
    multi-threaded kernel (the C kernels of :mod:`eegsnn.kernels`) runs next, they take
    its cores. The fused training step runs its few small MLX matmuls single-threaded with
    this. Yields whether the limit applied (``False``: no preloaded BLAS, nothing done).
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
