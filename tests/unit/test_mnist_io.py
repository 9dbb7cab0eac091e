"""MNIST IDX reader: hand-built files, corrupt/missing files, and the real MNIST files."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from eegsnn.errors import ChecksumError, ConfigError, DataError
from eegsnn.io.mnist import FILES, load_mnist, parse_idx, read_idx


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def _write_set(folder, n_images=3, n_labels=3, labels=None, gz=True):
    images = np.arange(n_images * 28 * 28, dtype=np.int64).reshape(n_images, 28, 28) % 256
    labels = np.arange(n_labels) % 10 if labels is None else np.asarray(labels)
    for img_stem, lbl_stem in FILES.values():
        for stem, data in ((img_stem, _idx(images)), (lbl_stem, _idx(labels))):
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)
    return images, labels


def test_parse_idx_uint8_and_big_endian_types():
    a = np.array([[1, 2, 3], [250, 0, 7]], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(_idx(a)), a)
    b = np.array([1, -2, 70000], dtype=np.int32)
    out = parse_idx(_idx(b, 0x0C))
    np.testing.assert_array_equal(out, b)
    assert out.dtype.byteorder in ("=", "|", "<")
    f = np.array([0.5, -1.25], dtype=np.float32)
    np.testing.assert_array_equal(parse_idx(_idx(f, 0x0D)), f)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "not an IDX file"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "trailing"),
])
def test_parse_idx_rejects_corrupt_bytes(data, message):
    with pytest.raises(DataError, match=message):
        parse_idx(data, "x.idx")


def test_load_mnist_from_plain_and_gz_folders(tmp_path):
    for gz in (True, False):
        folder = tmp_path / ("gz" if gz else "plain")
        folder.mkdir()
        images, labels = _write_set(folder, gz=gz)
        x, y = load_mnist(folder, "test")
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
        assert x.dtype == np.uint8 and x.shape == (3, 28, 28)


def test_missing_folder_and_file_name_the_path(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(ConfigError, match="split"):
        load_mnist(tmp_path, "validation")


def test_inconsistent_files_are_data_errors(tmp_path):
    _write_set(tmp_path, n_images=3, n_labels=2)
    with pytest.raises(DataError, match="2 labels but"):
        load_mnist(tmp_path, "train")
    bad = tmp_path / "bad"
    bad.mkdir()
    _write_set(bad, labels=[0, 11, 3])
    with pytest.raises(DataError, match="out of range"):
        load_mnist(bad, "train")


def test_corrupt_gzip_is_a_data_error(tmp_path):
    _write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_mnist(tmp_path, "test")


def test_real_mnist_files(shared_data):
    folder = shared_data / "mnist"
    x, y = load_mnist(folder, "test", verify_md5=True)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958,
                                                   1028, 974, 1009])
    assert x.max() == 255 and x.min() == 0
    y_train = read_idx(folder / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(y_train[:5], [5, 0, 4, 1, 9])
    assert y_train.shape == (60000,)


def test_md5_mismatch_is_a_checksum_error(shared_data, tmp_path):
    src = shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(src.read_bytes()))
    data[-1] = (data[-1] + 1) % 10  # still a valid IDX file, different content
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes(data))
    shutil.copy(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz", tmp_path)
    load_mnist(tmp_path, "test")  # fine without the checksum
    with pytest.raises(ChecksumError, match="md5"):
        load_mnist(tmp_path, "test", verify_md5=True)
