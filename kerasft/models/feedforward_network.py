import math

import keras

from kerasft.checks import (
    check_choice,
    check_dropout,
    check_int,
    check_int_sequence,
    check_real,
)
from kerasft.models._shapes import format_shape, shapes_compatible

ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")


@keras.saving.register_keras_serializable(package="kerasft")
class FeedforwardNetwork(keras.Model):
    """A stack of Dense layers that outputs logits (an MLP).

    Inputs of any rank >= 2 are flattened to `(batch, features)` first, so
    images can be fed as they are. Each hidden layer is a `Dense` with
    `activation`, followed by `Dropout` when `dropout > 0`; the last layer,
    `logits`, has no activation. Use losses with `from_logits=True`.

    With `hidden_units=()` the network is a single `Dense`: linear regression
    (`num_classes=1`, mean squared error), logistic regression (`num_classes=1`,
    binary cross-entropy) or softmax regression (`num_classes > 1`).

    The network is built for one input shape (on its first call, or by
    `build`); inputs of another shape raise a `ValueError` naming both.

    Args:
        hidden_units: tuple of ints. Width of each hidden Dense layer, in
            order. Defaults to `(256, 128)`.
        num_classes: int. Number of outputs (logits); 1 for regression or
            binary classification. Defaults to `10`.
        activation: str. Activation of the hidden layers, one of `"relu"`,
            `"sigmoid"`, `"tanh"`, `"gelu"`. Defaults to `"relu"`.
        dropout: float. Dropout rate after each hidden layer, in [0, 1).
            Defaults to `0.0`.
        l1: float. L1 penalty on every Dense kernel (added to `model.losses`).
            Defaults to `0.0`.
        l2: float. L2 penalty on every Dense kernel, `l2 * sum(kernel ** 2)`.
            Defaults to `0.0`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, `trainable`).

    Example:
    ```python
    import numpy as np
    import kerasft

    model = kerasft.models.FeedforwardNetwork(hidden_units=(32,), num_classes=3)
    logits = model(np.zeros((4, 8, 8), "float32"))  # (4, 3)
    model.summary()
    ```
    """

    def __init__(
        self,
        hidden_units=(256, 128),
        num_classes=10,
        activation="relu",
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        **kwargs,
    ):
        hidden_units = check_int_sequence("hidden_units", hidden_units)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        activation = check_choice("activation", activation, ACTIVATIONS)
        dropout = check_dropout(dropout)
        l1 = check_real("l1", l1, low=0)
        l2 = check_real("l2", l2, low=0)
        super().__init__(**kwargs)

        # === Layers ===
        def regularizer():
            # One object per layer, and none at all when there is no penalty
            # (so `model.losses` stays empty).
            if l1 or l2:
                return keras.regularizers.L1L2(l1=l1, l2=l2)
            return None

        self.flatten = keras.layers.Flatten(
            dtype=self.dtype_policy, name="flatten"
        )
        # Appended one by one so `model.layers` (and `summary()`) list them in
        # call order: dense_0, dropout_0, dense_1, ...
        self.hidden_layers = []
        self.dropout_layers = []
        for i, units in enumerate(hidden_units):
            self.hidden_layers.append(
                keras.layers.Dense(
                    units,
                    activation=activation,
                    kernel_regularizer=regularizer(),
                    dtype=self.dtype_policy,
                    name=f"dense_{i}",
                )
            )
            if dropout > 0:
                self.dropout_layers.append(
                    keras.layers.Dropout(
                        dropout, dtype=self.dtype_policy, name=f"dropout_{i}"
                    )
                )
        self.logits = keras.layers.Dense(
            num_classes,
            kernel_regularizer=regularizer(),
            dtype=self.dtype_policy,
            name="logits",
        )

        # === Config ===
        self.hidden_units = hidden_units
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self._built_input_shape = None  # (None, *features), set by build()

    def _check_input_shape(self, shape):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of shape "
                "(batch, features) or (batch, *feature_dims) such as images. "
                f"Received: inputs.shape={format_shape(shape)}"
            )
        built = self._built_input_shape
        if built is not None and not shapes_compatible(built[1:], shape[1:]):
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' was built for "
                f"inputs of shape {format_shape(built)} and cannot take "
                "inputs of another shape. "
                f"Received: inputs.shape={format_shape(shape)}"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        feature_dims = tuple(input_shape)[1:]
        if any(d is None for d in feature_dims):
            raise ValueError(
                f"{self.__class__.__name__} needs every non-batch input "
                "dimension to be known to size its first Dense layer. "
                f"Received: input_shape={format_shape(input_shape)}"
            )
        self._built_input_shape = (None, *(int(d) for d in feature_dims))
        # Build every sublayer with its shape so `summary()` shows them all.
        shape = (None, math.prod(self._built_input_shape[1:]))
        self.flatten.build(self._built_input_shape)
        for i, dense in enumerate(self.hidden_layers):
            dense.build(shape)
            shape = dense.compute_output_shape(shape)
            if self.dropout_layers:
                self.dropout_layers[i].build(shape)
        self.logits.build(shape)

    def call(self, inputs, training=None):
        self._check_input_shape(inputs.shape)
        x = keras.ops.cast(inputs, self.compute_dtype)
        x = self.flatten(x)  # (batch, features)
        for i, dense in enumerate(self.hidden_layers):
            x = dense(x)  # (batch, hidden_units[i])
            if self.dropout_layers:
                x = self.dropout_layers[i](x, training=training)
        return self.logits(x)  # (batch, num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_units": self.hidden_units,
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout": self.dropout,
                "l1": self.l1,
                "l2": self.l2,
            }
        )
        return config
