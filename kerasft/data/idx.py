"""Reads IDX files (the MNIST file format), gzipped or plain.

An IDX file is a 4-byte magic number `0x00 0x00 <type code> <ndim>`, then
`ndim` big-endian uint32 dimension sizes, then the values in C order, big
endian. See http://yann.lecun.com/exdb/mnist/ (section "FILE FORMATS").
"""

import gzip
import zlib

import numpy as np

from kerasft.checks import check_path

# IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Reads an IDX file into a NumPy array, validating it fully first.

    The file may be gzipped (detected from its content, not its name). The
    header is checked (magic number, type code, number of dimensions) and the
    data size must match the dimensions exactly, so a corrupt or truncated
    file raises a `ValueError` that names the file and what is wrong.

    Args:
        path: str or path-like. The `.idx*-ubyte` or `.idx*-ubyte.gz` file.

    Returns:
        A NumPy array in native byte order with the file's dtype and shape,
        e.g. uint8 `(10000, 28, 28)` for MNIST images, `(10000,)` for labels.

    Example:

    ```python
    images = read_idx("../shared/data/mnist/t10k-images-idx3-ubyte.gz")
    images.shape  # (10000, 28, 28)
    ```
    """
    path = check_path("path", path, kind="file")
    content = path.read_bytes()
    if content[:2] == _GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(
                f"IDX file '{path}' is not a valid gzip file (truncated or "
                f"corrupt): {error}"
            ) from None
    return _parse_idx(content, path)


def _parse_idx(content, path):
    if len(content) < 4:
        raise ValueError(
            f"IDX file '{path}' is too short for an IDX header: "
            f"{len(content)} bytes (expected at least 4)"
        )
    zeros, type_code, ndim = content[:2], content[2], content[3]
    if zeros != b"\x00\x00" or type_code not in IDX_DTYPES:
        raise ValueError(
            f"IDX file '{path}' has a bad magic number "
            f"0x{content[:4].hex()} (expected 0x0000 followed by a type code "
            f"in {sorted(hex(code) for code in IDX_DTYPES)} and the number "
            "of dimensions)"
        )
    if ndim == 0:
        raise ValueError(
            f"IDX file '{path}' declares 0 dimensions (expected at least 1)"
        )
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"IDX file '{path}' is truncated in its header: {len(content)} "
            f"bytes, but {ndim} dimensions need {header_size}"
        )
    shape = tuple(
        int(size) for size in np.frombuffer(content, ">u4", ndim, offset=4)
    )
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    received = len(content) - header_size
    if received != expected:
        problem = "truncated" if received < expected else "too long"
        raise ValueError(
            f"IDX file '{path}' is {problem}: {received} data bytes, but "
            f"shape {shape} of {dtype.name} needs {expected}"
        )
    array = np.frombuffer(content, dtype, offset=header_size).reshape(shape)
    # A native-order, writable copy: frombuffer views the read-only bytes.
    return array.astype(dtype.newbyteorder("="))
