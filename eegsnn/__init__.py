"""eegsnn: spiking neural networks on MLX for EEG and other biomedical recordings.

Importing :mod:`eegsnn` first loads an optimised BLAS on Linux (see :mod:`eegsnn._blas`)
so that MLX's CPU matmuls do not run on the reference BLAS bundled with the ``mlx[cpu]``
wheel. Set ``EEGSNN_BLAS=off`` to turn that off. Import :mod:`eegsnn` before ``mlx.core``.
"""

from __future__ import annotations

from eegsnn._blas import preload_blas as _preload_blas

BLAS_STATUS = _preload_blas()

__version__ = "0.1.0"

__all__ = ["BLAS_STATUS", "__version__"]
