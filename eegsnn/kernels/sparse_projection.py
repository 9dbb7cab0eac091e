r"""Event-driven projection of sparse (spike) input: ``I = X W + b`` without a dense GEMM.

A pre-encoded spike train ``X [T, B, F]`` (EEG: a few percent ones) enters the first Linear
layer of a network as ``R = T B`` rows. A dense GEMM spends ``F`` multiply-adds on every
output; here each row's nonzeros are listed once (:func:`sparse_rows`, compressed rows:
``row_ptr [R + 1]``, ``col``, ``val``), and

* the forward pass adds, per row, the weight rows of its active inputs:
  ``I[r] = b + sum_{j in row r} val_j W[col_j]`` (a value of exactly 1 adds the row);
* the weight gradient scatter-adds the output gradient of each row into the rows of its
  active inputs: ``dW[i] = sum_r X[r, i] G[r]`` (rows cut into a fixed number of chunks,
  each summed into its own partial, the partials added in chunk order).

Both cost ``nnz * H`` instead of ``R F H``. Rows may hold any float values (a value is
multiplied in), so the result is right for any input, only not faster when it is dense.
Input comes as float32 ``[R, F]`` or as :func:`numpy.packbits` bytes ``[R, ceil(F / 8)]``
(the packed spike storage, unpacked straight into the index lists).

Determinism: every output element is summed in one fixed order (the forward: the row's
nonzeros in ascending input order; the weight gradient: rows ascending within each chunk,
then the chunks in order, the chunks fixed by the sizes alone), and threads split only
independent work (rows; chunks; blocks of ``dW``), so results are bit-identical whatever
the number of threads. The loops are C (``_ckernels.c``); these functions check the
arrays and call them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from eegsnn.kernels._native import pointer, require


@dataclass(frozen=True, eq=False)
class SparseRows:
    """Nonzeros of an input ``[rows, cols]`` by row (made by :func:`sparse_rows`).

    Attributes:
        rows, cols: the input's shape.
        row_ptr: ``int64 [rows + 1]``; row ``r``'s nonzeros are ``row_ptr[r]:row_ptr[r+1]``.
        col: ``int32 [nnz]`` input indices, ascending within a row.
        val: ``float32 [nnz]`` their values (1 for spikes).
    """

    rows: int
    cols: int
    row_ptr: np.ndarray
    col: np.ndarray
    val: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.row_ptr[-1])

    @property
    def density(self) -> float:
        """Fraction of nonzero entries."""
        return self.nnz / max(1, self.rows * self.cols)


#: Index lists made by :func:`sparse_rows` (their indices reach C unchecked: only those are
#: accepted, and their arrays are read-only).
_MADE: weakref.WeakSet = weakref.WeakSet()


def sparse_rows(x: np.ndarray, cols: int | None = None, max_density: float = 1.0,
                ) -> SparseRows | None:
    """Index the nonzeros of ``x``.

    Args:
        x: float32 ``[R, F]`` (any values), or uint8 :func:`numpy.packbits` bytes
            ``[R, ceil(F / 8)]`` along the last axis (big bit order, numpy's default) with
            ``cols = F``.
        cols: ``F`` for packed input; ``None`` for float input.
        max_density: return ``None`` (after counting, before listing) when more than this
            fraction of the entries is nonzero: a dense GEMM is faster there.
    """
    if x.ndim != 2:
        raise ValueError(f"sparse_rows: expected a 2-d input, got shape {list(x.shape)}")
    rows = int(x.shape[0])
    if cols is not None:
        width = int(cols)
        if x.shape[1] != (width + 7) // 8:
            raise ValueError(f"sparse_rows: packed input has {x.shape[1]} bytes per row, "
                             f"expected {(width + 7) // 8} for {width} columns")
        x_ptr, packed_ptr = None, pointer(x, np.uint8, "x (packed)")
    else:
        width = int(x.shape[1])
        x_ptr, packed_ptr = pointer(x, np.float32, "x"), None
    cols = width
    if cols >= 2**31:
        raise ValueError(f"sparse_rows: {cols} columns are too many for 32-bit indices")
    lib = require()
    row_ptr = np.empty(rows + 1, np.int64)
    nnz = int(lib.eegsnn_sparse_rows(x_ptr, packed_ptr, rows, cols, row_ptr.ctypes.data))
    if nnz > max_density * rows * cols:
        return None
    col = np.empty(nnz, np.int32)
    val = np.empty(nnz, np.float32)
    if lib.eegsnn_sparse_fill(x_ptr, packed_ptr, rows, cols, row_ptr.ctypes.data,
                              col.ctypes.data, val.ctypes.data):
        raise MemoryError("sparse_rows: out of memory")
    for array in (row_ptr, col, val):
        array.flags.writeable = False
    index = SparseRows(rows, cols, row_ptr, col, val)
    _MADE.add(index)
    return index


def _pointers(index: SparseRows) -> list[int]:
    if not isinstance(index, SparseRows) or index not in _MADE:
        raise ValueError("index: not made by sparse_rows; call sparse_rows(x)")
    return [pointer(index.row_ptr, np.int64, "index.row_ptr"),
            pointer(index.col, np.int32, "index.col"),
            pointer(index.val, np.float32, "index.val")]


def sparse_forward(index: SparseRows, weight: np.ndarray, bias: np.ndarray,
                   out: np.ndarray) -> None:
    """``out[r] = bias + sum_i x[r, i] weight[i]``.

    Args:
        index: :func:`sparse_rows` of ``x [R, F]``.
        weight: ``float32 [F, H]`` (input-major: row ``i`` is input ``i``'s weights).
        bias: ``float32 [H]`` (zeros for a layer without bias).
        out: ``float32 [R, H]``, written.
    """
    pointers = _pointers(index)
    hidden = int(weight.shape[1]) if weight.ndim == 2 else -1
    if weight.shape != (index.cols, hidden) or bias.shape != (hidden,) or \
            out.shape != (index.rows, hidden):
        raise ValueError(f"sparse_forward: weight {list(weight.shape)}, bias "
                         f"{list(bias.shape)}, out {list(out.shape)} do not fit the input "
                         f"[{index.rows}, {index.cols}]")
    require().eegsnn_sparse_forward(
        *pointers, index.rows, pointer(weight, np.float32, "weight"), hidden,
        pointer(bias, np.float32, "bias"), pointer(out, np.float32, "out", True))


def sparse_weight_grad(index: SparseRows, grad: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_r x[r, i] grad[r]`` (the weight gradient, input-major ``[F, H]``).

    Args:
        index: :func:`sparse_rows` of ``x [R, F]``.
        grad: ``float32 [R, H]``, the loss gradient with respect to the projection.
        out: ``float32 [F, H]``, written.
    """
    pointers = _pointers(index)
    if grad.ndim != 2 or grad.shape[0] != index.rows or \
            out.shape != (index.cols, grad.shape[1]):
        raise ValueError(f"sparse_weight_grad: grad {list(grad.shape)} or out "
                         f"{list(out.shape)} do not fit the input [{index.rows}, "
                         f"{index.cols}]")
    if require().eegsnn_sparse_weight_grad(
            *pointers, index.rows, index.cols, pointer(grad, np.float32, "grad"),
            int(grad.shape[1]), pointer(out, np.float32, "out", True)):
        raise MemoryError("sparse_weight_grad: out of memory")
