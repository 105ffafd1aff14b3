"""Standardizes features with statistics adapted on the training split."""

import keras
import numpy as np
import tensorflow as tf

from kerasft.checks import is_int
from kerasft.data.checks import check_numeric_array


class Standardizer:
    """Subtracts the mean and divides by the std seen in `adapt(train_x)`.

    Wraps `keras.layers.Normalization`: `adapt` computes the statistics once,
    on the training features only, and calling the standardizer applies them
    unchanged to train, validation and test, as NumPy arrays or inside
    `tf.data.map`. The adapted layer is `standardizer.layer`, to put at the
    front of a model so it carries the statistics when saved.

    Args:
        axis: int, tuple of ints or None. The axis kept with separate
            statistics: `-1` gives one mean per feature for `(N, F)` tables
            and one per channel for `(N, H, W, C)` images; None gives a
            single mean and std. Defaults to `-1`.

    Example:

    ```python
    x_train = np.array([[1.0, 10.0], [3.0, 30.0]])  # (samples, features)
    standardizer = Standardizer().adapt(x_train)  # mean (2, 20), std (1, 10)
    standardizer(np.array([[2.0, 40.0]]))  # array([[0., 2.]], dtype=float32)
    ```
    """

    def __init__(self, axis=-1):
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if axis is not None and not (axes and all(is_int(a) for a in axes)):
            raise ValueError(
                "`axis` must be an int, a tuple of ints or None (the axes "
                f"with their own statistics). Received: axis={axis!r}"
            )
        self.axis = axis
        self.layer = keras.layers.Normalization(axis=axis)
        self.adapted = False
        # Rank of the batched training data, to spot single samples later.
        self._batch_rank = None

    def adapt(self, train_x):
        """Computes the mean and variance of `train_x`.

        Args:
            train_x: array-like `(num_samples, ...)`, numeric, no NaN.

        Returns:
            `self`, so `Standardizer().adapt(x_train)` reads in one line.
        """
        train_x = check_numeric_array(train_x, name="train_x")
        train_x = train_x.astype(np.float32)
        if np.isnan(train_x).any():
            raise ValueError(
                "`train_x` holds NaN, which would make the mean NaN; drop "
                "those rows first (drop_missing_rows). Received: train_x "
                f"with {int(np.isnan(train_x).sum())} NaN values"
            )
        self.layer.adapt(train_x)
        self.adapted = True
        self._batch_rank = train_x.ndim
        return self

    @property
    def mean(self):
        """The adapted mean, shaped to broadcast against the input."""
        self._check_adapted()
        return keras.ops.convert_to_numpy(self.layer.mean)

    @property
    def variance(self):
        """The adapted variance, shaped to broadcast against the input."""
        self._check_adapted()
        return keras.ops.convert_to_numpy(self.layer.variance)

    def __call__(self, x):
        """Standardizes a batch `(N, ...)` or a single sample `(...)`.

        NumPy in gives NumPy out, a tensor gives a tensor (so it works in
        `tf.data.map`, per sample or per batch); float32 either way.
        """
        self._check_adapted()
        if tf.is_tensor(x):
            return self._standardize(tf.cast(x, tf.float32))
        x = check_numeric_array(x, name="x").astype(np.float32)
        return keras.ops.convert_to_numpy(self._standardize(x))

    def _standardize(self, x):
        if len(x.shape) == self._batch_rank - 1:
            # One sample (...): the layer's statistics are shaped (1, ...)
            # and would broadcast it to (1, ...); add and drop a batch axis.
            return self.layer(x[None])[0]
        return self.layer(x)

    def _check_adapted(self):
        if not self.adapted:
            raise RuntimeError(
                "This Standardizer has no statistics yet: call "
                "`adapt(train_x)` on the training features first."
            )
