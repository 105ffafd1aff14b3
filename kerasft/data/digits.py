"""Loads scikit-learn's bundled 8x8 digits: the offline default data set."""

import numpy as np

from kerasft.data.arrays import dataset_from_arrays


def load_digits_arrays():
    """Loads the 1,797 8x8 handwritten digits bundled with scikit-learn.

    No download: the data ships inside scikit-learn
    (`sklearn.datasets.load_digits`), which makes it the offline default.
    Pixel values are counts 0..16 (scale with `input_range=(0, 16)`).

    Returns:
        A tuple `(images, labels)`: float32 `(1797, 8, 8, 1)` with values
        0..16 and int64 `(1797,)` with values 0..9.

    Example:

    ```python
    images, labels = load_digits_arrays()
    images.shape  # (1797, 8, 8, 1)
    ```
    """
    # Imported here: scikit-learn takes a second to import and only this
    # loader and the splits need it.
    from sklearn.datasets import load_digits as sklearn_load_digits

    digits = sklearn_load_digits()
    # (N, 8, 8) float64 -> (N, 8, 8, 1) float32, channels-last.
    images = digits.images.astype(np.float32)[..., np.newaxis]
    return images, digits.target.astype(np.int64)


def load_digits():
    """Loads scikit-learn's digits as an unbatched `tf.data.Dataset`.

    Returns:
        A `tf.data.Dataset` of `(image, label)`: float32 `(8, 8, 1)` with
        values 0..16 and int64 `()`.

    Example:

    ```python
    dataset = load_digits()
    image, label = next(iter(dataset))
    ```
    """
    images, labels = load_digits_arrays()
    return dataset_from_arrays(images, labels, num_classes=10)
