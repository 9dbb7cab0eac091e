"""Build the optional C extensions; everything else is in pyproject.toml.

* ``eegsnn/kernels/_ckernels.c``: the CPU kernels of the fused training step.
* ``eegsnn/kernels/_blas_shim.c`` (Linux x86_64/aarch64): exports the standard BLAS/LAPACK
  names MLX resolves and forwards them to the ``scipy_``-prefixed OpenBLAS of the
  ``scipy-openblas32`` wheel (see eegsnn/_blas.py). No build-time dependency on that wheel.

Both are ``optional``: without a C compiler their build is skipped, eegsnn trains with the
MLX step and MLX keeps its wheel's reference BLAS (``eegsnn info`` and ``eegsnn train`` say
so, with the command that fixes it)."""

import platform
import sys

from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-adds, so the kernels round the same way on every
# machine (Leaky forward bit-identical to the MLX reference; projection and backward passes
# equal to it to float rounding). -fno-trapping-math only lets the compiler vectorise loops
# with float comparisons (results are unchanged).
compile_args = ["-O3", "-ffp-contract=off", "-fno-trapping-math"]
link_args: list[str] = []
if sys.platform.startswith("linux"):
    compile_args.append("-fopenmp")  # GCC/Clang on Linux ship OpenMP (libgomp/libomp)
    link_args.append("-fopenmp")

ext_modules = [Extension(
    "eegsnn.kernels._ckernels", ["eegsnn/kernels/_ckernels.c"],
    extra_compile_args=compile_args, extra_link_args=link_args, optional=True)]
if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64"):
    ext_modules.append(Extension(
        "eegsnn.kernels._blas_shim", ["eegsnn/kernels/_blas_shim.c"],
        extra_compile_args=["-O2"], optional=True))

setup(ext_modules=ext_modules)
