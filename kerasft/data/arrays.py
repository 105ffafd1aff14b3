"""Turns in-memory NumPy arrays into a `tf.data.Dataset`."""

import numpy as np
import tensorflow as tf

from kerasft.data.checks import (
    check_finite,
    check_labels,
    check_numeric_array,
)


def check_arrays(features, labels, num_classes=None):
    """Validates features and labels; returns them as NumPy arrays.

    Features must be numeric and non-empty, labels numeric with one per
    sample and, when `num_classes` is given, class ids in `[0, num_classes)`.

    Args:
        features: array-like `(num_samples, ...)`.
        labels: array-like `(num_samples, ...)`.
        num_classes: int or None. Checks the label range when given.

    Returns:
        A tuple `(features, labels)` of NumPy arrays (not copied).

    Example:

    ```python
    x, y = check_arrays(np.zeros((4, 3)), [0, 1, 1, 0], num_classes=2)
    ```
    """
    features = check_numeric_array(features, name="features")
    labels = check_labels(labels, len(features), num_classes=num_classes)
    return features, labels


def dataset_from_arrays(features, labels, num_classes=None):
    """Makes an unbatched `tf.data.Dataset` of `(features, label)` pairs.

    float64 features become float32 (Keras' default float) and integer
    labels become int64, so every loader yields the same label dtype; other
    dtypes (e.g. uint8 images) are kept to save memory until scaling.

    Args:
        features: array-like `(num_samples, ...)`, numeric.
        labels: array-like `(num_samples,)` or `(num_samples, ...)`.
        num_classes: int or None. When given, labels must be class ids in
            `[0, num_classes)`.

    Returns:
        A `tf.data.Dataset` whose elements are `(features[i], labels[i])`.

    Raises:
        ValueError: for empty or mismatched arrays, labels out of range, or
            a NaN or inf in float features or labels (named with its row).

    Example:

    ```python
    dataset = dataset_from_arrays(np.zeros((4, 3)), [0, 1, 1, 0])
    dataset.cardinality()  # 4
    ```
    """
    features, labels = check_arrays(features, labels, num_classes)
    # Checked here, where arrays become training data, not in check_arrays:
    # splitting data with gaps before `drop_missing_rows` is fine.
    check_finite(features, "features")
    check_finite(labels, "labels")
    if features.dtype == np.float64:
        features = features.astype(np.float32)
    if labels.dtype.kind in "iu":
        labels = labels.astype(np.int64)
    elif labels.dtype == np.float64:
        labels = labels.astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((features, labels))
