"""Stateless preprocessing: scaling to a fixed range, dropping missing rows.

The fitted transforms (statistics adapted on the training split only) live
in `standardizer.py` and `outlier_clipper.py`.
"""

import numpy as np
import tensorflow as tf

from kerasft.data.checks import check_labels, check_numeric_array, check_range

OUTPUT_RANGES = ((0.0, 1.0), (-1.0, 1.0))


def scale(x, input_range=(0, 255), output_range=(0, 1)):
    """Maps values linearly from `input_range` to `[0, 1]` or `[-1, 1]`.

    `x * scale + offset`, as `keras.layers.Rescaling` does, but for NumPy
    arrays as well as tensors (so it also works inside `tf.data.map`). A
    NumPy input is checked to lie in `input_range`: values outside it mean
    the range is wrong, e.g. data that is already scaled.

    Args:
        x: NumPy array or tensor, numeric.
        input_range: pair `(low, high)`. The range the values can take,
            e.g. `(0, 255)` for uint8 images, `(0, 16)` for digits. Defaults
            to `(0, 255)`.
        output_range: pair. `(0, 1)` or `(-1, 1)`. Defaults to `(0, 1)`.

    Returns:
        float32, same shape and kind (NumPy array or tensor) as `x`.

    Example:

    ```python
    scale(np.array([0, 128, 255], "uint8"), output_range=(-1, 1))
    # array([-1., 0.0039216, 1.], dtype=float32)
    ```
    """
    in_low, in_high = check_range(input_range, "input_range")
    out_low, out_high = check_range(output_range, "output_range")
    if (out_low, out_high) not in OUTPUT_RANGES:
        raise ValueError(
            "`output_range` must be (0, 1) or (-1, 1). Received: "
            f"output_range={output_range!r}"
        )
    factor = (out_high - out_low) / (in_high - in_low)
    offset = out_low - in_low * factor
    if tf.is_tensor(x):
        return tf.cast(x, tf.float32) * factor + offset
    x = check_numeric_array(x, name="x")
    low, high = x.min(), x.max()
    if low < in_low or high > in_high:
        raise ValueError(
            "`x` has values outside `input_range`. Received: x with "
            f"min={low}, max={high} and input_range={input_range!r} "
            f"(expected {in_low} <= x <= {in_high})"
        )
    return (x.astype(np.float32) * factor + offset).astype(np.float32)


def drop_missing_rows(features, labels=None):
    """Drops the rows that hold a missing value (NaN).

    A row goes when any of its features is NaN, or its label is. Fit
    `Standardizer` and `OutlierClipper` after this, since NaN poisons
    means and quantiles.

    Args:
        features: array-like `(num_samples, ...)`, numeric.
        labels: array-like `(num_samples, ...)` or None.

    Returns:
        `(features, labels)` without those rows, or only `features` when
        `labels` is None.

    Example:

    ```python
    x = np.array([[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0]])
    drop_missing_rows(x, np.array([0, 1, 0]))
    # (array([[1., 2.], [4., 5.]]), array([0, 0]))
    ```
    """
    features = check_numeric_array(features, name="features")
    keep = ~_row_has_nan(features)
    if labels is None:
        return features[keep]
    labels = check_labels(labels, len(features))
    keep &= ~_row_has_nan(labels)
    return features[keep], labels[keep]


def _row_has_nan(array):
    if array.dtype.kind != "f":
        return np.zeros(len(array), dtype=bool)
    # (N, ...) -> (N,): any NaN over all but the sample axis.
    return np.isnan(array).reshape(len(array), -1).any(axis=1)
