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


def check_finite(values, name):
    """Raises naming the first NaN or inf in a float array `values`.

    A NaN in the features or targets makes every loss NaN from the first
    step on; say where it is, before any training starts.
    """
    if values.dtype.kind != "f":
        return values
    finite = np.isfinite(values)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        position = "".join(f"[{i}]" for i in index)
        raise ValueError(
            f"`{name}` must hold finite numbers (a NaN or inf makes every "
            f"loss NaN). Received: {name}{position}="
            f"{values[index].item()!r} in row {index[0]}; drop those rows "
            "first (kerasft.data.drop_missing_rows) or fill them in"
        )
    return values


def check_unbatched(spec, name):
    """Raises if a `(features, label)` element spec looks already batched.

    `make_dataset` batches: a dataset batched before would give batches of
    batches. Batches of unknown size have a leading `None` in both specs;
    unbatched features (images, rows) have known shapes.
    """
    features, labels = spec
    if not all(hasattr(s, "shape") for s in (features, labels)):
        return
    if (
        features.shape.rank is not None and features.shape.rank >= 2
        and labels.shape.rank is not None and labels.shape.rank >= 1
        and features.shape[0] is None and labels.shape[0] is None
    ):
        raise ValueError(
            f"`{name}` must be an unbatched dataset of (features, label) "
            "pairs: it is batched here. Received: a dataset with "
            f"element_spec={spec}, which looks batched already (a leading "
            "None in features and labels); pass `dataset.unbatch()`, or "
            "the loader's output as it is"
        )


def check_folder_kwargs(kwargs, fixed, loader):
    """Raises if `**kwargs` of a folder loader set what the loader sets.

    Args:
        kwargs: dict. The `**kwargs` passed on to Keras.
        fixed: dict. The arguments the loader passes itself, with why.
        loader: str. The loader's name, for the message.
    """
    for key, why in fixed.items():
        if key in kwargs:
            raise ValueError(
                f"`{key}` is set by {loader}: {why}. Received: "
                f"{key}={kwargs[key]!r}"
            )
