"""Clips outliers to bounds fitted on the training split."""

import numpy as np
import tensorflow as tf

from kerasft.data.checks import check_numeric_array

METHODS = ("quantile", "zscore")


class OutlierClipper:
    """Clips each feature to bounds learned by `adapt(train_x)`.

    With `method="quantile"` the bounds are the `lower_quantile` and
    `upper_quantile` of each feature (column, axis 0) in the training data;
    with `method="zscore"` they are `mean -/+ z_threshold * std`. Bounds come
    from the training split only and are then applied unchanged to
    validation and test. NaN is ignored when fitting and kept when clipping.

    Args:
        method: str. `"quantile"` or `"zscore"`. Defaults to `"quantile"`.
        lower_quantile: float. Lower bound quantile, in `[0, 1]`. Defaults
            to `0.01`.
        upper_quantile: float. Upper bound quantile, above
            `lower_quantile`. Defaults to `0.99`.
        z_threshold: float. Standard deviations kept on each side of the
            mean, above 0. Defaults to `3.0`.

    Example:

    ```python
    x_train = np.array([[1.0], [1.0], [1.0], [1.0], [6.0]])  # mean 2, std 2
    clipper = OutlierClipper(method="zscore", z_threshold=1.0).adapt(x_train)
    clipper(np.array([[5.0], [-1.0]]))  # array([[4.], [0.]])
    ```
    """

    def __init__(
        self,
        method="quantile",
        lower_quantile=0.01,
        upper_quantile=0.99,
        z_threshold=3.0,
    ):
        if method not in METHODS:
            raise ValueError(
                f"`method` must be one of {METHODS}. Received: "
                f"method={method!r}"
            )
        if not 0 <= lower_quantile < upper_quantile <= 1:
            raise ValueError(
                "`lower_quantile` and `upper_quantile` must satisfy "
                "0 <= lower_quantile < upper_quantile <= 1. Received: "
                f"lower_quantile={lower_quantile!r}, "
                f"upper_quantile={upper_quantile!r}"
            )
        if not z_threshold > 0:
            raise ValueError(
                "`z_threshold` must be positive. Received: "
                f"z_threshold={z_threshold!r} (expected z_threshold > 0)"
            )
        self.method = method
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile
        self.z_threshold = z_threshold
        # (features...) bounds, set by adapt.
        self.lower = None
        self.upper = None

    def adapt(self, train_x):
        """Fits the per-feature bounds on `train_x`.

        Args:
            train_x: array-like `(num_samples, ...)`, numeric.

        Returns:
            `self`.
        """
        train_x = check_numeric_array(train_x, name="train_x")
        train_x = train_x.astype(np.float64)
        if self.method == "quantile":
            self.lower, self.upper = np.nanquantile(
                train_x, [self.lower_quantile, self.upper_quantile], axis=0
            )
        else:
            mean = np.nanmean(train_x, axis=0)
            spread = self.z_threshold * np.nanstd(train_x, axis=0)
            self.lower, self.upper = mean - spread, mean + spread
        return self

    def __call__(self, x):
        """Clips `x`; NumPy in gives NumPy out, tensor gives tensor.

        Float inputs keep their dtype; integer inputs come back float32.
        """
        if self.lower is None:
            raise RuntimeError(
                "This OutlierClipper has no bounds yet: call "
                "`adapt(train_x)` on the training features first."
            )
        if tf.is_tensor(x):
            if not x.dtype.is_floating:
                x = tf.cast(x, tf.float32)
            lower = tf.constant(self.lower, x.dtype)
            upper = tf.constant(self.upper, x.dtype)
            return tf.clip_by_value(x, lower, upper)
        x = check_numeric_array(x, name="x")
        # Bounds are fractional: integer features come back as float32.
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        # np.clip keeps NaN, so missing values stay visible downstream.
        return np.clip(x, self.lower, self.upper).astype(dtype)
