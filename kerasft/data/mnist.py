"""Loads MNIST-format IDX files from a folder (e.g. ../shared/data/mnist)."""

import numpy as np

from kerasft.checks import check_path
from kerasft.data.arrays import dataset_from_arrays
from kerasft.data.idx import read_idx

MNIST_SPLITS = ("train", "t10k")


def load_mnist_arrays(directory, split="t10k"):
    """Loads one MNIST split from its IDX files as NumPy arrays.

    Looks for `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte`,
    gzipped (`.gz`) or plain. Works for any MNIST-format data set
    (Fashion-MNIST, KMNIST) with the same file names.

    Args:
        directory: str or path-like. The folder holding the IDX files.
        split: str. `"t10k"` (the 10,000 test images) or `"train"`.
            Defaults to `"t10k"`, the split available offline.

    Returns:
        A tuple `(images, labels)`: uint8 `(N, 28, 28, 1)` with values
        0..255 and int64 `(N,)` with values 0..9.

    Example:

    ```python
    images, labels = load_mnist_arrays(shared_dir() / "data" / "mnist")
    images.shape  # (10000, 28, 28, 1)
    ```
    """
    directory = check_path("directory", directory, kind="directory")
    if split not in MNIST_SPLITS:
        raise ValueError(
            f"`split` must be one of {MNIST_SPLITS}. Received: split={split!r}"
        )
    images_path = _find_idx(directory, f"{split}-images-idx3-ubyte")
    labels_path = _find_idx(directory, f"{split}-labels-idx1-ubyte")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f"MNIST files must hold images (N, rows, cols) and labels (N,). "
            f"Received: images of shape {images.shape} from '{images_path}', "
            f"labels of shape {labels.shape} from '{labels_path}'"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST files disagree on the number of samples. Received: "
            f"{len(images)} images in '{images_path}', {len(labels)} labels "
            f"in '{labels_path}'"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(
            f"MNIST labels must be digits 0..9. Received: max label "
            f"{labels.max()} in '{labels_path}'"
        )
    # (N, 28, 28) -> (N, 28, 28, 1): channels-last, as Conv2D expects.
    return images[..., np.newaxis], labels.astype(np.int64)


def load_mnist(directory, split="t10k"):
    """Loads one MNIST split as an unbatched `tf.data.Dataset`.

    Args:
        directory: str or path-like. The folder holding the IDX files.
        split: str. `"t10k"` or `"train"`. Defaults to `"t10k"`.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: uint8 `(28, 28, 1)` and
        int64 `()`.

    Example:

    ```python
    dataset = load_mnist(shared_dir() / "data" / "mnist")
    image, label = next(iter(dataset))
    ```
    """
    images, labels = load_mnist_arrays(directory, split=split)
    return dataset_from_arrays(images, labels, num_classes=10)


def _find_idx(directory, stem):
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"`directory` has no '{stem}.gz' or '{stem}'. Received: "
        f"directory='{directory}'"
    )
