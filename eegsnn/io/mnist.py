"""Read MNIST from the standard IDX files (LeCun, Cortes & Burges).

The four files of the usual MNIST mirrors, gzipped (``*.gz``) or not::

    train-images-idx3-ubyte   60000 x 28 x 28 uint8
    train-labels-idx1-ubyte   60000 uint8 (0-9)
    t10k-images-idx3-ubyte    10000 x 28 x 28 uint8
    t10k-labels-idx1-ubyte    10000 uint8

IDX layout (big-endian): two zero bytes, a type code (``0x08`` = unsigned byte), the number
of dimensions ``d``, then ``d`` uint32 sizes, then the data in C order.

Every problem (missing file, truncated file, wrong magic, wrong shape, labels out of range,
image/label count mismatch, md5 mismatch) raises :class:`eegsnn.errors.DataError` naming
the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from eegsnn.errors import ChecksumError, ConfigError, DataError

#: ``split -> (images file stem, labels file stem)``
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: md5 of the *uncompressed* original files.
MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: Mirrors tried in order by :func:`download_mnist` (gzipped files).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of one IDX file into a NumPy array (native byte order).

    Args:
        data: the whole (uncompressed) file content.
        name: file name used in error messages.

    Raises:
        DataError: bad magic, unknown type code, or a size that does not match the header.
    """
    if len(data) < 4:
        raise DataError(f"{name}: not an IDX file (only {len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{name}: not an IDX file (magic starts with {data[:2].hex()}, "
                        "expected 0000)")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header ({len(data)} bytes, need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        kind = "truncated" if found < expected else "has trailing bytes"
        raise DataError(f"{name}: IDX file {kind}: header shape {shape} needs {expected} data "
                        f"bytes, found {found}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _find(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / stem, data_dir / f"{stem}.gz",
                      data_dir / stem.replace("-idx", ".idx"),
                      data_dir / f"{stem.replace('-idx', '.idx')}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{data_dir / stem}[.gz]: MNIST file not found in {data_dir} "
                    "(expected the standard IDX files; `eegsnn mnist --download` fetches them)")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def read_idx(path: str | os.PathLike, md5: str | None = None) -> np.ndarray:
    """Read one IDX file (plain or ``.gz``); optionally check the uncompressed md5."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = _read_bytes(path)
    if md5 is not None:
        found = hashlib.md5(data).hexdigest()
        if found != md5:
            raise ChecksumError(f"{path}: md5 of the uncompressed data is {found}, "
                                f"expected {md5}")
    return parse_idx(data, str(path))


def load_mnist(data_dir: str | os.PathLike, split: str = "train", *,
               verify_md5: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split from a folder holding the standard IDX files.

    Args:
        data_dir: folder with ``train-images-idx3-ubyte[.gz]`` etc.
        split: ``"train"`` (60000 images) or ``"test"`` (10000).
        verify_md5: also check the md5 of the uncompressed files against the originals.

    Returns:
        ``(images, labels)``: ``images`` uint8 ``[N, 28, 28]``, ``labels`` uint8 ``[N]``.

    Raises:
        ConfigError: unknown split. DataError: missing/corrupt/inconsistent files.
    """
    if split not in FILES:
        raise ConfigError(f"split={split!r}: expected one of {sorted(FILES)}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: MNIST data folder not found")
    image_stem, label_stem = FILES[split]
    image_path, label_path = _find(data_dir, image_stem), _find(data_dir, label_stem)
    images = read_idx(image_path, MD5[image_stem] if verify_md5 else None)
    labels = read_idx(label_path, MD5[label_stem] if verify_md5 else None)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{image_path}: expected uint8 images [N, 28, 28], found "
                        f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{label_path}: expected uint8 labels [N], found "
                        f"{labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{label_path}: {labels.shape[0]} labels but {image_path.name} has "
                        f"{images.shape[0]} images")
    if labels.size and labels.max() > 9:
        raise DataError(f"{label_path}: label {int(labels.max())} out of range 0-9")
    return images, labels


def download_mnist(data_dir: str | os.PathLike, mirrors: tuple[str, ...] = MIRRORS,
                   timeout_s: float = 60.0) -> Path:
    """Fetch the four gzipped IDX files into ``data_dir`` (skipping ones already there).

    Each file is checked against the original md5 before it is moved into place
    (temp file + ``os.replace``). Raises :class:`DataError` if no mirror works.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for stem, md5 in MD5.items():
        target = data_dir / f"{stem}.gz"
        if target.is_file() or (data_dir / stem).is_file():
            continue
        errors = []
        for mirror in mirrors:
            url = f"{mirror}{stem}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout_s) as response:
                    payload = response.read()
                found = hashlib.md5(gzip.decompress(payload)).hexdigest()
                if found != md5:
                    raise DataError(f"{url}: md5 {found}, expected {md5}")
            except (OSError, EOFError, zlib.error, DataError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{stem}.", suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            break
        else:
            raise DataError(f"{target}: download failed from every mirror: " + "; ".join(errors))
    return data_dir

