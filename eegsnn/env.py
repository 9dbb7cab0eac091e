"""Run environment: package versions, MLX device and BLAS, for ``eegsnn info`` and run records."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata

import eegsnn
from eegsnn import _blas

_PACKAGES = ("mlx", "numpy", "scipy", "mne", "pyedflib", "typer", "pyyaml", "matplotlib")


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
        "mlx_device": mlx_device(),
        "blas": {**_blas.STATUS.as_dict(), "effective": _blas.effective_blas()},
        "kernels": kernels_record(),
    }


def kernels_record() -> dict:
    """Whether eegsnn's C kernels (fused CPU training step) are available, and their threads."""
    from eegsnn.kernels import _native

    if _native.library() is None:
        return {"available": False, "reason": _native.unavailable_reason()}
    return {"available": True, "threads": _native.get_num_threads(),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT")}
