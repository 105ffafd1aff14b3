import keras

from kerasft.checks import (
    check_choice,
    check_dropout,
    check_int,
    check_int_sequence,
)
from kerasft.models._shapes import format_shape

POOLINGS = ("max", "avg")


@keras.saving.register_keras_serializable(package="kerasft")
class ConvNetwork(keras.Model):
    """A convolutional feature extractor followed by a classification head.

    The model has two named parts, both `keras.Sequential`:

    - `feature_extractor`: for each entry of `filters`, a block
      `Conv2D(padding="same")` -> `BatchNormalization` (if `batch_norm`) ->
      `ReLU` -> `MaxPooling2D(2)` or `AveragePooling2D(2)` (`padding="same"`,
      so small images never shrink below 1x1), then `GlobalAveragePooling2D`.
      Output: `(batch, filters[-1])`, whatever the image size.
    - `head`: `Dropout` -> `Dense(hidden_dim, relu)` -> `Dropout` ->
      `Dense(num_classes)` (the dropouts only when `dropout > 0`; with
      `hidden_dim=0`, only the last Dense). It outputs logits: use losses with
      `from_logits=True`.

    Freeze the extractor with `model.feature_extractor.trainable = False` (or
    `kerasft.freezing.freeze(model, "feature_extractor")`); its BatchNorm
    layers then run in inference mode, with their moving statistics. Put a
    new head on a trained extractor with `with_new_head()`.

    Inputs are images `(batch, height, width, channels)`. Since the extractor
    ends in global pooling, the image size may change between calls; the
    number of channels is fixed when the model is built.

    Args:
        filters: tuple of ints. Number of filters of each conv block; one
            2x2 pooling per block. Defaults to `(32, 64)`.
        kernel_size: int. Height and width of every conv kernel. Defaults to
            `3`.
        pooling: str. `"max"` or `"avg"`: the pooling after each block.
            Defaults to `"max"`.
        batch_norm: bool. Whether each conv is followed by
            `BatchNormalization` (the conv then has no bias). Defaults to
            `False`.
        hidden_dim: int. Width of the head's hidden Dense layer; `0` for a
            head that is a single linear layer. Defaults to `128`.
        dropout: float. Dropout rate in the head, in [0, 1). Defaults to
            `0.0`.
        num_classes: int. Number of outputs (logits). Defaults to `10`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, `trainable`).

    Example:
    ```python
    import numpy as np
    import kerasft

    model = kerasft.models.ConvNetwork(filters=(8, 16), num_classes=5)
    logits = model(np.zeros((2, 8, 8, 1), "float32"))  # (2, 5)
    model.feature_extractor.trainable = False  # train the head only
    new_model = model.with_new_head(num_classes=3)  # same extractor weights
    new_model.summary(expand_nested=True)
    ```
    """

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        pooling="max",
        batch_norm=False,
        hidden_dim=128,
        dropout=0.0,
        num_classes=10,
        **kwargs,
    ):
        filters = check_int_sequence("filters", filters, allow_empty=False)
        kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        pooling = check_choice("pooling", pooling, POOLINGS)
        if not isinstance(batch_norm, bool):
            raise ValueError(
                f"`batch_norm` must be True or False. "
                f"Received: batch_norm={batch_norm!r}"
            )
        hidden_dim = check_int("hidden_dim", hidden_dim, minimum=0)
        dropout = check_dropout(dropout)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        super().__init__(**kwargs)

        # === Layers ===
        dtype = self.dtype_policy
        pool_class = {
            "max": keras.layers.MaxPooling2D,
            "avg": keras.layers.AveragePooling2D,
        }[pooling]
        blocks = []
        for i, num_filters in enumerate(filters):
            blocks.append(
                keras.layers.Conv2D(
                    num_filters,
                    kernel_size,
                    padding="same",
                    use_bias=not batch_norm,  # BN's beta replaces the bias
                    dtype=dtype,
                    name=f"conv_{i}",
                )
            )
            if batch_norm:
                blocks.append(
                    keras.layers.BatchNormalization(
                        dtype=dtype, name=f"batch_norm_{i}"
                    )
                )
            blocks.append(keras.layers.ReLU(dtype=dtype, name=f"relu_{i}"))
            blocks.append(
                pool_class(2, padding="same", dtype=dtype, name=f"pool_{i}")
            )
        blocks.append(
            keras.layers.GlobalAveragePooling2D(dtype=dtype, name="global_pool")
        )
        self.feature_extractor = keras.Sequential(
            blocks, name="feature_extractor"
        )

        head = []
        if hidden_dim:
            if dropout > 0:
                head.append(
                    keras.layers.Dropout(dropout, dtype=dtype, name="dropout_0")
                )
            head.append(
                keras.layers.Dense(
                    hidden_dim, activation="relu", dtype=dtype, name="hidden"
                )
            )
        if dropout > 0:
            head.append(
                keras.layers.Dropout(dropout, dtype=dtype, name="dropout_1")
            )
        head.append(keras.layers.Dense(num_classes, dtype=dtype, name="logits"))
        self.head = keras.Sequential(head, name="head")

        # === Config ===
        self.filters = filters
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.batch_norm = batch_norm
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.num_classes = num_classes
        self._built_input_shape = None  # (None, H, W, C), set by build()

    def _check_input_shape(self, shape):
        shape = tuple(shape)
        if len(shape) != 4:
            raise ValueError(
                f"{self.__class__.__name__} expects images of shape "
                "(batch, height, width, channels); add a channels axis to "
                "grayscale images, e.g. x[..., None]. "
                f"Received: inputs.shape={format_shape(shape)}"
            )
        built = self._built_input_shape
        if (
            built is not None
            and shape[-1] is not None
            and int(shape[-1]) != built[-1]
        ):
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' was built for "
                f"images with {built[-1]} channel(s), input shape "
                f"{format_shape(built)} (height and width may vary). "
                f"Received: inputs.shape={format_shape(shape)}"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        if input_shape[-1] is None:
            raise ValueError(
                f"{self.__class__.__name__} needs the number of channels to "
                "be known to size its first convolution. "
                f"Received: input_shape={format_shape(input_shape)}"
            )
        self._built_input_shape = (
            None,
            *(None if d is None else int(d) for d in tuple(input_shape)[1:]),
        )
        # Built with the real image size so `summary()` shows every shape;
        # other sizes still work (the extractor ends in global pooling).
        self.feature_extractor.build(self._built_input_shape)
        self.head.build((None, self.filters[-1]))

    def call(self, inputs, training=None):
        self._check_input_shape(inputs.shape)
        x = keras.ops.cast(inputs, self.compute_dtype)
        features = self.feature_extractor(x, training=training)  # (batch, F)
        return self.head(features, training=training)  # (batch, num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def with_new_head(self, num_classes, hidden_dim=None, dropout=None):
        """Returns a new `ConvNetwork` with this extractor and a fresh head.

        The new model has the same extractor configuration, a copy of this
        extractor's weights (BatchNorm moving statistics included) and a newly
        initialized head. It is built for the same input shape and fully
        trainable: freeze its `feature_extractor` to train the head alone.

        Args:
            num_classes: int. Number of outputs of the new head.
            hidden_dim: int or None. Hidden width of the new head; None keeps
                this model's `hidden_dim`.
            dropout: float or None. Dropout of the new head; None keeps this
                model's `dropout`.
        """
        if self._built_input_shape is None:
            raise ValueError(
                "with_new_head() copies the extractor's weights, so the model "
                "must be built first: call it on a batch or call "
                "`model.build((None, height, width, channels))`. "
                f"Received: a {self.__class__.__name__} that is not built"
            )
        config = self.get_config()
        for key in ("name", "trainable"):  # a new model, trainable
            config.pop(key, None)
        config["num_classes"] = num_classes
        if hidden_dim is not None:
            config["hidden_dim"] = hidden_dim
        if dropout is not None:
            config["dropout"] = dropout
        model = self.__class__.from_config(config)
        model.build(self._built_input_shape)
        model.feature_extractor.set_weights(
            self.feature_extractor.get_weights()
        )
        return model

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "pooling": self.pooling,
                "batch_norm": self.batch_norm,
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "num_classes": self.num_classes,
            }
        )
        return config
