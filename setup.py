"""Build the optional C kernels (eegsnn/kernels/_ckernels.c); everything else is in
pyproject.toml. Without a C compiler the build of the extension is skipped (``optional``)
and eegsnn trains with the MLX step instead of the fused CPU step."""

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

setup(ext_modules=[Extension(
    "eegsnn.kernels._ckernels", ["eegsnn/kernels/_ckernels.c"],
    extra_compile_args=compile_args, extra_link_args=link_args, optional=True)])
