"""Seeded train / validation / test splits of in-memory arrays."""

import numpy as np

from kerasft.checks import check_bool, check_fraction, check_seed
from kerasft.data.arrays import check_arrays


def train_val_test_split(
    features,
    labels,
    val_fraction=0.1,
    test_fraction=0.1,
    seed=0,
    stratify=False,
):
    """Splits arrays into shuffled train, validation and test parts.

    The same `seed` gives the same split, and the three parts are disjoint.
    Sizes are `round(n * fraction)` (at least 1 for a fraction above 0); the
    train part gets the rest. With `stratify=True` each part keeps the class
    proportions of `labels` (via scikit-learn's `train_test_split`).

    Args:
        features: array-like `(num_samples, ...)`, numeric.
        labels: array-like `(num_samples,)`.
        val_fraction: float. Share of samples for validation, in `[0, 1)`.
            Defaults to `0.1`.
        test_fraction: float. Share of samples for test, in `[0, 1)`.
            Defaults to `0.1`.
        seed: int. Seeds the shuffle. Defaults to `0`.
        stratify: bool. Keep class proportions in every part. Defaults to
            `False`.

    Returns:
        `((x_train, y_train), (x_val, y_val), (x_test, y_test))`; a part
        whose fraction is 0 is empty (length 0).

    Example:

    ```python
    images, labels = load_digits_arrays()
    train, val, test = train_val_test_split(images, labels, seed=0)
    len(train[0]), len(val[0]), len(test[0])  # (1437, 180, 180)
    ```
    """
    check_fraction("val_fraction", val_fraction)
    check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            "`val_fraction + test_fraction` must leave samples to train on. "
            f"Received: val_fraction={val_fraction}, test_fraction="
            f"{test_fraction} (expected val_fraction + test_fraction < 1)"
        )
    check_seed(seed, allow_none=False)
    check_bool("stratify", stratify)
    features, labels = check_arrays(features, labels)
    if stratify:
        _check_stratifiable(labels)
    num_samples = len(features)
    num_test = _part_size(num_samples, test_fraction)
    num_val = _part_size(num_samples, val_fraction)
    if num_samples - num_test - num_val < 1:
        raise ValueError(
            f"Too few samples to split: {num_samples} samples leave none to "
            f"train on. Received: val_fraction={val_fraction}, "
            f"test_fraction={test_fraction}"
        )
    rest, test = _split_off(features, labels, num_test, seed, stratify)
    # A different seed for the second cut keeps the two shuffles unrelated.
    train, val = _split_off(*rest, num_val, seed + 1, stratify)
    return train, val, test


class StratifyError(ValueError):
    """A stratified split scikit-learn cannot cut; `reason` is its word."""

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def _check_stratifiable(labels):
    """Raises unless `labels` are class ids, one per sample."""
    if labels.ndim != 1 or (
        labels.dtype.kind == "f" and not np.all(labels == np.round(labels))
    ):
        raise TypeError(
            "`labels` must be class ids, one per sample, with "
            f"stratify=True. Received: labels of dtype {labels.dtype} and "
            f"shape {labels.shape}"
        )


def _part_size(num_samples, fraction):
    if fraction == 0:
        return 0
    return max(1, round(num_samples * fraction))


def _split_off(features, labels, size, seed, stratify):
    """Returns `((x_rest, y_rest), (x_part, y_part))` with `size` in part."""
    if size == 0:
        # scikit-learn refuses test_size=0; an empty slice keeps dtypes.
        return (features, labels), (features[:0], labels[:0])
    # Imported here: scikit-learn takes a second to import.
    from sklearn.model_selection import train_test_split

    try:
        x_rest, x_part, y_rest, y_part = train_test_split(
            features,
            labels,
            test_size=size,
            random_state=seed,
            stratify=labels if stratify else None,
        )
    except ValueError as error:
        if not stratify:
            raise
        classes, counts = np.unique(labels, return_counts=True)
        raise StratifyError(
            "Cannot cut a stratified part of "
            f"{size} from {len(labels)} samples in {len(classes)} classes "
            f"(per class {counts.tolist()}): {error} Received: "
            "stratify=True; pass stratify=False, larger fractions or more "
            "samples",
            reason=str(error),
        ) from None
    return (x_rest, y_rest), (x_part, y_part)
