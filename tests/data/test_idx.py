import gzip
import re

import numpy as np
import pytest

from kerasft.data import read_idx


def idx_bytes(array, type_code=0x08):
    """Encodes `array` as IDX: magic, big-endian dims, big-endian values."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, array.ndim])
    dims = np.array(array.shape, ">u4").tobytes()
    return header + dims + array.astype(dtype).tobytes()


def test_plain_and_gzip_files_read_back(tmp_path):
    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    plain = tmp_path / "images-idx3-ubyte"
    plain.write_bytes(idx_bytes(images))
    # The name has no .gz: gzip is detected from the content.
    packed = tmp_path / "packed-idx3-ubyte"
    packed.write_bytes(gzip.compress(idx_bytes(images)))

    for path in (plain, packed):
        array = read_idx(path)
        assert array.dtype == np.uint8
        np.testing.assert_array_equal(array, images)


def test_big_endian_values_come_back_native_and_writable(tmp_path):
    values = np.array([[1, -2], [70000, 3]], dtype=np.int32)
    path = tmp_path / "values-idx2-int"
    path.write_bytes(idx_bytes(values, type_code=0x0C))

    array = read_idx(path)

    np.testing.assert_array_equal(array, values)
    assert array.dtype == np.dtype("int32") and array.dtype.isnative
    array[0, 0] = 5  # a copy, not a view of the read-only file bytes


@pytest.mark.shared
def test_reads_real_mnist_images(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")

    assert images.shape == (10000, 28, 28)
    assert images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0


GOOD = idx_bytes(np.zeros((2, 3, 3), np.uint8))


@pytest.mark.parametrize(
    "content, problem",
    [
        (GOOD[:-1], "is truncated: 17 data bytes, but shape (2, 3, 3)"),
        (GOOD + b"\x00", "is too long: 19 data bytes"),
        (b"\x01\x00" + GOOD[2:], "bad magic number 0x01000803"),
        (b"\x00\x00\x07\x03" + GOOD[4:], "bad magic number 0x00000703"),
        (GOOD[:9], "truncated in its header: 9 bytes"),
        (b"\x00\x00", "too short for an IDX header: 2 bytes"),
        (b"\x00\x00\x08\x00", "declares 0 dimensions"),
        (gzip.compress(GOOD)[:-6], "not a valid gzip file"),
    ],
)
def test_corrupt_file_raises_naming_file_and_problem(
    tmp_path, content, problem
):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(content)

    with pytest.raises(ValueError, match=re.escape(problem)) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file_raises_naming_path(tmp_path):
    missing = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"Received: path='{missing}' (does not exist)"),
    ):
        read_idx(missing)


def test_folder_instead_of_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\(not a file\)"):
        read_idx(tmp_path)


def test_non_path_raises_type_error():
    with pytest.raises(TypeError, match=r"Received: path=123 of type int"):
        read_idx(123)
