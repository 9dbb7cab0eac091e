"""Load the C kernels (``_ckernels``, built by ``setup.py``) and declare their signatures.

The library is an optional extension: a machine without a C compiler at install time has
none, and :func:`library` returns ``None`` with :func:`unavailable_reason` saying why.
Arrays are passed as raw pointers; the wrappers in :mod:`eegsnn.kernels.rate_projection`
and :mod:`eegsnn.kernels.leaky` check dtypes, shapes and contiguity first.
"""

from __future__ import annotations

import ctypes
import importlib.util
from functools import cache

import numpy as np

#: Must equal ``eegsnn_abi_version()`` of the built library (``_ckernels.c``).
ABI_VERSION = 3

_P = ctypes.c_void_p
_I = ctypes.c_int64
_SIGNATURES = {
    "eegsnn_get_threads": (ctypes.c_int, []),
    "eegsnn_set_threads": (None, [ctypes.c_int]),
    "eegsnn_plan": (None, [_P, _I, _I, _P, _P, _P, _P]),
    "eegsnn_rate_spikes": (None, [_P, _I, _I, ctypes.c_uint64, _I, _P]),
    "eegsnn_project_forward": (ctypes.c_int, [_P, _I, _I, _P, _P, _P, _P, ctypes.c_uint64,
                                              _I, _P, _I, _P, _P]),
    "eegsnn_project_weight_grad": (None, [_P, _I, _I, ctypes.c_uint64, _I, _P, _P, _I, _P]),
    "eegsnn_sparse_rows": (ctypes.c_int64, [_P, _P, _I, _I, _P]),
    "eegsnn_sparse_fill": (ctypes.c_int, [_P, _P, _I, _I, _P, _P, _P]),
    "eegsnn_sparse_forward": (None, [_P, _P, _P, _I, _P, _I, _P, _P]),
    "eegsnn_sparse_weight_grad": (ctypes.c_int, [_P, _P, _P, _I, _I, _P, _I, _P]),
    "eegsnn_leaky_forward": (None, [_P, _I, _I, ctypes.c_float, ctypes.c_float, ctypes.c_int,
                                    _P, _P]),
    "eegsnn_leaky_backward": (None, [_P, _P, _P, _I, _I, ctypes.c_float, ctypes.c_float,
                                     ctypes.c_int, ctypes.c_int, ctypes.c_double, _P]),
}
_REASON: list[str] = []


@cache
def library() -> ctypes.CDLL | None:
    """The loaded kernel library, or ``None`` (see :func:`unavailable_reason`)."""
    try:
        spec = importlib.util.find_spec("eegsnn.kernels._ckernels")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        _REASON.append("the C kernels were not built (no C compiler when eegsnn was "
                       "installed); reinstall with one, e.g. `pip install -e .`")
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
        lib.eegsnn_abi_version.restype, lib.eegsnn_abi_version.argtypes = ctypes.c_int, []
        built = int(lib.eegsnn_abi_version())
        if built != ABI_VERSION:
            _REASON.append(f"the C kernels at {spec.origin} were built from another version "
                           f"(ABI {built}, this code expects {ABI_VERSION}); rebuild them: "
                           "`pip install -e .`")
            return None
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
    except (OSError, AttributeError) as exc:
        _REASON.append(f"the C kernels at {spec.origin} cannot be loaded: {exc}")
        return None
    return lib


def unavailable_reason() -> str:
    """Why :func:`library` is ``None`` (empty when it loaded)."""
    library()
    return _REASON[-1] if _REASON else ""


def require() -> ctypes.CDLL:
    lib = library()
    if lib is None:
        raise RuntimeError(f"eegsnn.kernels: {unavailable_reason()}")
    return lib


def pointer(array: np.ndarray, dtype: type, name: str, writable: bool = False) -> int:
    """Address of ``array`` after checking it is a C-contiguous ``dtype`` array."""
    if not isinstance(array, np.ndarray) or array.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected a numpy {np.dtype(dtype)} array, got "
                        f"{getattr(array, 'dtype', type(array))}")
    if not array.flags.c_contiguous or (writable and not array.flags.writeable):
        raise ValueError(f"{name}: expected a C-contiguous{' writable' if writable else ''} "
                         "array")
    return array.ctypes.data


def get_num_threads() -> int:
    """Threads the kernels use (OpenMP; 1 without OpenMP)."""
    return int(require().eegsnn_get_threads())


def set_num_threads(num_threads: int) -> None:
    """Set the kernels' thread count (results do not depend on it)."""
    require().eegsnn_set_threads(int(num_threads))
