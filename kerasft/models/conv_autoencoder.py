import keras

from kerasft.checks import check_choice, check_int, check_int_sequence
from kerasft.models._shapes import format_shape
from kerasft.models.conv_network import POOLINGS, ConvNetwork

# Any scaling (linear); `data.scale(x)`'s [0, 1] (sigmoid); [-1, 1] (tanh).
OUTPUT_ACTIVATIONS = ("linear", "sigmoid", "tanh")
# What the decoder starts from: the last pooled map, or its global average.
BOTTLENECKS = ("global", "spatial")


@keras.saving.register_keras_serializable(package="kerasft")
class ConvAutoencoder(keras.Model):
    """A convolutional autoencoder whose encoder is a `ConvNetwork` extractor.

    Pretrains a conv feature extractor on images without labels: the model
    learns to reconstruct its input, and `to_classifier()` then puts the
    encoder's weights into a `ConvNetwork` with a fresh head.

    The model has two named parts, both `keras.Sequential`:

    - `encoder`: exactly the layers of `ConvNetwork.feature_extractor` for
      the same `filters`, `kernel_size`, `pooling` and `batch_norm` (same
      names, order and weight shapes): per block `Conv2D` (`conv_i`) ->
      `BatchNormalization` (`batch_norm_i`, if `batch_norm`) -> `ReLU` ->
      2x2 pooling (`pool_i`, `padding="same"`); then, with
      `bottleneck="global"`, the `GlobalAveragePooling2D` (`global_pool`).
      Output (the code): `(batch, ceil(H / 2**n), ceil(W / 2**n),
      filters[-1])` for `n = len(filters)` blocks with `"spatial"`,
      `(batch, filters[-1])`, the very features a `ConvNetwork` head
      sees, with `"global"`.
    - `decoder`: with `"global"`, `Dense` (`expand`) and `Reshape` back to
      the last pooled map; then the blocks in reverse, each
      `Conv2DTranspose(strides=2)` (`deconv_i`) -> `BatchNormalization`
      (if `batch_norm`) -> `ReLU`, doubling height and width; then a
      `Conv2D` to the input's channels (`reconstruction`) with
      `output_activation`. Output: `(batch, ceil(H / 2**n) * 2**n, ...,
      channels)`, cropped to the input's `(H, W)`.

    The "same" pooling rounds odd sizes up (28 -> 14 -> 7 -> 4 with three
    blocks), upsampling gives 32, and the output is cropped at the bottom
    and right, where "same" pooling pads, back to 28. A spatial code works
    for any image size (the number of channels is fixed when the model is
    built); a global code's `expand` layer is sized for the built height
    and width, and other sizes are refused.

    Which bottleneck: a spatial code of 28x28 MNIST with `(16, 32, 64)` is
    4 x 4 x 64 = 1,024 numbers for 784 pixels, enough to copy the image
    without learning what a digit is, and the classifier sees only its
    global average. A global code is 64 numbers, the classifier's own
    features, which must describe the whole digit. With 100 labels per
    digit (MNIST validation split, 8 epochs of pretraining, 5 epochs with
    the extractor frozen then 25 unfrozen, Adam 2e-3): a frozen spatial
    encoder gave 32% accuracy, a frozen global one 79%; fine-tuned, 93.4%
    and 95.1%, against 92.6% from scratch.

    Train it with the kerasft `Trainer` and `loss="mse"` on a dataset of
    `(images, images)`. Mean squared error rather than binary cross-entropy:
    the Trainer treats `"binary_crossentropy"` as a classification of labels
    (accuracy, confusion matrix), not of pixel intensities, and MSE works
    for every `output_activation`, including standardized images.

    Args:
        filters: tuple of ints. Number of filters of each encoder block
            (the decoder mirrors them); one 2x2 pooling per block. Defaults
            to `(32, 64)`.
        kernel_size: int. Height and width of every kernel. Defaults to `3`.
        pooling: str. `"max"` or `"avg"`. Defaults to `"max"`.
        batch_norm: bool. `BatchNormalization` after each (transposed)
            convolution, which then has no bias. Defaults to `False`.
        bottleneck: str. `"global"`: the decoder starts from the global
            average of the last pooled map, the features of a
            `ConvNetwork`; `"spatial"`: from the map itself (see above).
            Defaults to `"global"`.
        output_activation: str. `"linear"`, `"sigmoid"` or `"tanh"`.
            Linear reconstructs any scaling and trains reliably with MSE.
            `"sigmoid"` bounds the output to [0, 1] (images from
            `kerasft.data.scale`), `"tanh"` to [-1, 1]; but with MSE their
            gradient vanishes where they saturate: on MNIST, where most
            pixels are 0, a sigmoid decoder settled on black images in
            our runs (MSE stuck at 0.11, linear: 0.02 after 2 epochs).
            Defaults to `"linear"`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, `trainable`).

    Example:
    ```python
    import numpy as np
    import kerasft

    images = np.random.rand(16, 28, 28, 1).astype("float32")  # in [0, 1]
    autoencoder = kerasft.models.ConvAutoencoder(filters=(8, 16))
    trainer = kerasft.Trainer(autoencoder, loss="mse", metrics=["mae"])
    trainer.fit(images, images, epochs=1, verbose=0)  # targets = inputs
    classifier = autoencoder.to_classifier(num_classes=10)  # a ConvNetwork
    kerasft.freeze(classifier, "feature_extractor")  # train the head first
    ```
    """

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        pooling="max",
        batch_norm=False,
        bottleneck="global",
        output_activation="linear",
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
        bottleneck = check_choice("bottleneck", bottleneck, BOTTLENECKS)
        output_activation = check_choice(
            "output_activation", output_activation, OUTPUT_ACTIVATIONS
        )
        super().__init__(**kwargs)

        # === Layers ===
        dtype = self.dtype_policy
        pool_class = {
            "max": keras.layers.MaxPooling2D,
            "avg": keras.layers.AveragePooling2D,
        }[pooling]
        # The same layers, names and order as ConvNetwork.feature_extractor
        # ("global_pool" has no weights), so weights copy one to one.
        encoder = []
        for i, num_filters in enumerate(filters):
            encoder.append(
                keras.layers.Conv2D(
                    num_filters,
                    kernel_size,
                    padding="same",
                    use_bias=not batch_norm,
                    dtype=dtype,
                    name=f"conv_{i}",
                )
            )
            if batch_norm:
                encoder.append(
                    keras.layers.BatchNormalization(
                        dtype=dtype, name=f"batch_norm_{i}"
                    )
                )
            encoder.append(keras.layers.ReLU(dtype=dtype, name=f"relu_{i}"))
            encoder.append(
                pool_class(2, padding="same", dtype=dtype, name=f"pool_{i}")
            )
        if bottleneck == "global":
            encoder.append(
                keras.layers.GlobalAveragePooling2D(
                    dtype=dtype, name="global_pool"
                )
            )
        self.encoder = keras.Sequential(encoder, name="encoder")
        # The decoder's first ("global") and last layers depend on the
        # input's size and channels: it is made in build().
        self.decoder = None

        # === Config ===
        self.filters = filters
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.batch_norm = batch_norm
        self.bottleneck = bottleneck
        self.output_activation = output_activation
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
        if built is None:
            return
        # A spatial code works for any height and width; the Dense layer
        # of a global code was sized for the built ones.
        axes = (1, 2, 3) if self.bottleneck == "global" else (3,)
        if any(
            shape[axis] is not None and int(shape[axis]) != built[axis]
            for axis in axes
        ):
            what = (
                "images of exactly that height, width and channels "
                "(bottleneck='global' sizes its decoder for them)"
                if self.bottleneck == "global"
                else "images with that number of channels (height and "
                "width may vary)"
            )
            raise ValueError(
                f"{self.__class__.__name__} '{self.name}' was built for "
                f"input shape {format_shape(built)} and takes {what}. "
                f"Received: inputs.shape={format_shape(shape)}"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        fixed = (1, 2, 3) if self.bottleneck == "global" else (3,)
        if any(input_shape[axis] is None for axis in fixed):
            needed = (
                "height, width and channels"
                if self.bottleneck == "global"
                else "number of channels"
            )
            raise ValueError(
                f"{self.__class__.__name__} with bottleneck="
                f"'{self.bottleneck}' needs the {needed} of its input to "
                "size its layers. "
                f"Received: input_shape={format_shape(input_shape)}"
            )
        self._built_input_shape = (
            None,
            *(None if d is None else int(d) for d in tuple(input_shape)[1:]),
        )
        self.encoder.build(self._built_input_shape)
        if self.decoder is None:  # not again when build() runs twice
            self.decoder = self._make_decoder(self._built_input_shape)
        self.decoder.build(
            self.encoder.compute_output_shape(self._built_input_shape)
        )

    def _make_decoder(self, input_shape):
        dtype = self.dtype_policy
        decoder = []
        if self.bottleneck == "global":
            # (batch, F) -> (batch, h * w * F) -> (batch, h, w, F): the
            # map the last pooling gave, h = ceil(H / 2**n).
            scale = 2 ** len(self.filters)
            height = -(-input_shape[1] // scale)
            width = -(-input_shape[2] // scale)
            decoder.append(
                keras.layers.Dense(
                    height * width * self.filters[-1],
                    activation="relu",
                    dtype=dtype,
                    name="expand",
                )
            )
            decoder.append(
                keras.layers.Reshape(
                    (height, width, self.filters[-1]),
                    dtype=dtype,
                    name="unflatten",
                )
            )
        # Mirror image of the encoder: the deepest block's filters first,
        # each transposed conv doubling height and width.
        for i, num_filters in enumerate(reversed(self.filters)):
            decoder.append(
                keras.layers.Conv2DTranspose(
                    num_filters,
                    self.kernel_size,
                    strides=2,
                    padding="same",
                    use_bias=not self.batch_norm,
                    dtype=dtype,
                    name=f"deconv_{i}",
                )
            )
            if self.batch_norm:
                decoder.append(
                    keras.layers.BatchNormalization(
                        dtype=dtype, name=f"decoder_batch_norm_{i}"
                    )
                )
            decoder.append(
                keras.layers.ReLU(dtype=dtype, name=f"decoder_relu_{i}")
            )
        decoder.append(
            keras.layers.Conv2D(
                int(input_shape[-1]),
                self.kernel_size,
                padding="same",
                activation=self.output_activation,
                dtype=dtype,
                name="reconstruction",
            )
        )
        return keras.Sequential(decoder, name="decoder")

    def call(self, inputs, training=None):
        self._check_input_shape(inputs.shape)
        x = keras.ops.cast(inputs, self.compute_dtype)
        # Spatial code: (b, H / 2**n, W / 2**n, F); global code: (b, F).
        code = self.encoder(x, training=training)
        outputs = self.decoder(code, training=training)  # (b, H', W', C)
        # H' = ceil(H / 2**n) * 2**n >= H: crop the rows and columns that
        # "same" pooling padded (bottom, right) to get (b, H, W, C) back.
        shape = keras.ops.shape(inputs)
        return outputs[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def to_classifier(self, num_classes, hidden_dim=128, dropout=0.0):
        """Returns a `ConvNetwork` holding this encoder's weights.

        The classifier's `feature_extractor` gets the same configuration and
        a copy of the encoder's weights (BatchNorm moving statistics
        included), layer by layer; its head is new. It is built for the
        input shape this autoencoder was built for and fully trainable.

        Args:
            num_classes: int. Number of outputs of the head, >= 2.
            hidden_dim: int. Hidden width of the head, `0` for a linear
                head. Defaults to `128`.
            dropout: float. Dropout in the head. Defaults to `0.0`.
        """
        if self._built_input_shape is None:
            raise ValueError(
                "to_classifier() copies the encoder's weights, so the model "
                "must be built first: train it, call it on a batch or call "
                "`model.build((None, height, width, channels))`. "
                f"Received: a {self.__class__.__name__} that is not built"
            )
        num_classes = check_int("num_classes", num_classes, minimum=2)
        classifier = ConvNetwork(
            filters=self.filters,
            kernel_size=self.kernel_size,
            pooling=self.pooling,
            batch_norm=self.batch_norm,
            hidden_dim=hidden_dim,
            dropout=dropout,
            num_classes=num_classes,
            dtype=self.dtype_policy,
        )
        classifier.build(self._built_input_shape)
        for layer in self.encoder.layers:
            target = classifier.feature_extractor.get_layer(layer.name)
            target.set_weights(layer.get_weights())
        return classifier

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "pooling": self.pooling,
                "batch_norm": self.batch_norm,
                "bottleneck": self.bottleneck,
                "output_activation": self.output_activation,
            }
        )
        return config
