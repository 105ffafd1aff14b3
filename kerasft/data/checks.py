"""Input checks shared by the loaders, splits and pipeline.

Every check runs on host-side NumPy metadata (dtype, shape, min/max), so bad
input fails with a clear message before any tf.data graph is built or any
file is decoded. Messages end with what was received, Keras style:
`... Received: val_fraction=1.5 (expected 0 <= val_fraction < 1)`.
"""

import numpy as np

from kerasft.checks import check_int

# bool, signed int, unsigned int, float: what a tensor of features can hold.
_NUMERIC_KINDS = "biuf"


def check_numeric_array(values, name="features"):
    """Returns `values` as a non-empty numeric NumPy array, or raises.

    Args:
        values: array-like. Rows along axis 0.
        name: str. The argument name to quote in error messages.

    Returns:
        A NumPy array (no copy when `values` already is one).
    """
    if values is None:
        raise ValueError(f"`{name}` is required. Received: {name}=None")
    try:
        array = np.asarray(values)
    except ValueError as error:
        # Ragged nested lists: NumPy cannot make a rectangular array.
        raise ValueError(
            f"`{name}` must be a rectangular numeric array. Received: "
            f"{name} that NumPy cannot stack ({error})"
        ) from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"`{name}` must be numeric (bool, int or float). Received: "
            f"{name}.dtype={array.dtype} (expected a numeric dtype; encode "
            "strings or categories as numbers first)"
        )
    if array.ndim == 0:
        raise ValueError(
            f"`{name}` must have a leading sample axis. Received: "
            f"{name} with shape () (expected shape (num_samples, ...))"
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"`{name}` is empty. Received: {name} with shape {array.shape} "
            "(expected at least one sample)"
        )
    return array


def check_labels(labels, num_samples, num_classes=None, name="labels"):
    """Returns `labels` as a numeric array matching `num_samples`, or raises.

    Args:
        labels: array-like, one label per sample.
        num_samples: int. The number of feature rows the labels go with.
        num_classes: int or None. When given, labels must be integer class
            ids in `[0, num_classes)`.
        name: str. The argument name to quote in error messages.

    Returns:
        A NumPy array of labels.
    """
    labels = check_numeric_array(labels, name=name)
    if labels.shape[0] != num_samples:
        raise ValueError(
            f"`features` and `{name}` must have the same number of samples. "
            f"Received: len(features)={num_samples}, "
            f"len({name})={labels.shape[0]}"
        )
    if num_classes is None:
        return labels
    check_int("num_classes", num_classes)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"`{name}` must be integer class ids when `num_classes` is "
            f"given. Received: {name}.dtype={labels.dtype}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"`{name}` must be class ids in [0, num_classes). Received: "
            f"{name} with min={low}, max={high} and num_classes={num_classes} "
            f"(expected 0 <= label < {num_classes})"
        )
    return labels


def check_range(value, name):
    """Returns `value` as a `(low, high)` pair of floats with low < high."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a pair of numbers (low, high). Received: "
            f"{name}={value!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"`{name}` must be finite with low < high. Received: "
            f"{name}={value!r} (expected low < high)"
        )
    return low, high
