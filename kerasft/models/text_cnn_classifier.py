import keras

from kerasft.checks import (
    check_dropout,
    check_int,
    check_int_sequence,
    check_real,
)
from kerasft.models._word_ids import (
    check_initializer,
    check_word_ids_shape,
    serialize_initializer,
)

# Fills padded positions before the max: below any ReLU output (>= 0).
MASK_VALUE = -1e9






@keras.saving.register_keras_serializable(package="kerasft")
class TextCNNClassifier(keras.Model):
    """Kim's (2014) convolutional sentence classifier, trained from scratch.

    Inputs are word ids `(batch, seq_len)`, 0 for padding (e.g. from
    `kerasft.data.word_id_arrays`). The model, with its layer names:

    - embeddings: `token_embedding`, an `Embedding(vocabulary_size,
      embedding_dim, mask_zero=True)`; padded positions are zeroed;
    - body: one `Conv1D(num_filters, width, relu)` per entry of
      `filter_widths` (`conv_3`, `conv_4`, `conv_5`), a wide convolution as
      in Kim's code (`width - 1` zeros on both sides, so a sentence shorter
      than a filter still has windows), then max-over-time pooling over the
      windows that hold at least one real token: a window made only of
      padding never wins the max, so padding a sentence does not change
      its logits;
    - head: the pooled features concatenated, `(batch, len(filter_widths) *
      num_filters)`, then `dropout` and `logits`, a Dense with `num_classes`
      outputs and no activation (use losses with `from_logits=True`).

    Kim's variants: CNN-rand is this model as built (random embeddings).
    For CNN-non-static, load pretrained vectors into the embedding once the
    model is built (`model.get_layer("token_embedding").set_weights([matrix])`,
    `matrix` of shape `(vocabulary_size, embedding_dim)`, row 0 unused); for
    CNN-static, also freeze it: `kerasft.freeze(model, "token_embedding")`.
    Kim's l2 constraint on the output weights (s = 3) is `logits_max_norm=3`.

    Args:
        vocabulary_size: int. Number of word ids, padding (0) and the
            out-of-vocabulary id included. Defaults to `20000`.
        embedding_dim: int. Size of each word vector. Defaults to `300`.
        filter_widths: tuple of ints. Width, in words, of each group of
            filters. Defaults to `(3, 4, 5)`.
        num_filters: int. Number of filters of each width. Defaults to
            `100`.
        dropout: float. Dropout rate on the pooled features, in [0, 1).
            Defaults to `0.5`.
        num_classes: int. Number of outputs (logits). Defaults to `2`.
        logits_max_norm: float or None. Largest L2 norm of each class's
            weight vector in `logits` (a `keras.constraints.MaxNorm` kernel
            constraint, applied after every update); None for no
            constraint. Kim (2014) used `3.0`. Defaults to `None`.
        embeddings_initializer: str, dict or `keras.initializers.Initializer`.
            Initializer of the embedding matrix. A `Constant` holding a
            pretrained matrix works but stores the matrix in the config:
            prefer `set_weights` (above). Defaults to `"uniform"`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, `trainable`).

    Example:
    ```python
    import numpy as np
    import kerasft

    model = kerasft.TextCNNClassifier(
        vocabulary_size=100, embedding_dim=16, num_filters=8, num_classes=2
    )
    ids = np.array([[5, 9, 42, 0, 0], [7, 3, 0, 0, 0]], "int32")
    logits = model(ids)  # (2, 2)
    kerasft.freeze(model, "token_embedding")  # CNN-static
    print(kerasft.format_parameter_report(kerasft.parameter_report(model)))
    ```

    References:
        Kim, "Convolutional Neural Networks for Sentence Classification",
        EMNLP 2014.
    """

    def __init__(
        self,
        vocabulary_size=20000,
        embedding_dim=300,
        filter_widths=(3, 4, 5),
        num_filters=100,
        dropout=0.5,
        num_classes=2,
        logits_max_norm=None,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        # Ids 0 (padding) and 1 (out of vocabulary) plus at least one word.
        vocabulary_size = check_int("vocabulary_size", vocabulary_size,
                                    minimum=3)
        embedding_dim = check_int("embedding_dim", embedding_dim)
        filter_widths = check_int_sequence("filter_widths", filter_widths,
                                           allow_empty=False)
        if len(set(filter_widths)) != len(filter_widths):
            raise ValueError(
                "`filter_widths` must not repeat a width (each names its "
                f"layer, conv_<width>). Received: filter_widths={filter_widths}"
            )
        num_filters = check_int("num_filters", num_filters)
        dropout = check_dropout(dropout)
        num_classes = check_int("num_classes", num_classes)
        if logits_max_norm is not None:
            logits_max_norm = check_real("logits_max_norm", logits_max_norm,
                                         low=0, low_open=True)
        initializer = check_initializer("embeddings_initializer",
                                        embeddings_initializer)
        super().__init__(**kwargs)

        # === Layers ===
        dtype = self.dtype_policy
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=initializer,
            mask_zero=True,
            dtype=dtype,
            name="token_embedding",
        )
        self.convs = [
            keras.layers.Conv1D(
                num_filters, width, activation="relu", padding="valid",
                dtype=dtype, name=f"conv_{width}",
            )
            for width in filter_widths
        ]
        self.concat = keras.layers.Concatenate(dtype=dtype, name="concat")
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=dtype, name="dropout"
        )
        self.logits = keras.layers.Dense(
            num_classes,
            kernel_constraint=(
                None if logits_max_norm is None
                else keras.constraints.MaxNorm(logits_max_norm, axis=0)
            ),
            dtype=dtype,
            name="logits",
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.filter_widths = filter_widths
        self.num_filters = num_filters
        self.dropout = dropout
        self.num_classes = num_classes
        self.logits_max_norm = logits_max_norm
        self.embeddings_initializer = serialize_initializer(
            embeddings_initializer
        )

    def build(self, input_shape):
        check_word_ids_shape(self, input_shape)
        self.token_embedding.build(input_shape)
        for conv in self.convs:
            conv.build((None, None, self.embedding_dim))
        features = len(self.filter_widths) * self.num_filters
        self.dropout_layer.build((None, features))
        self.logits.build((None, features))

    def call(self, inputs, training=None):
        check_word_ids_shape(self, inputs.shape)
        ids = keras.ops.cast(inputs, "int32")  # (batch, seq_len)
        mask = keras.ops.not_equal(ids, 0)  # (batch, seq_len), True = word
        # Zeroed padding vectors: the wide convolution's own padding is
        # zeros too, so a window sees the same thing past the sentence's
        # end whether the input is padded or not.
        x = self.token_embedding(ids)  # (batch, seq_len, embedding_dim)
        x = x * keras.ops.expand_dims(keras.ops.cast(mask, x.dtype), -1)
        pooled = []
        for width, conv in zip(self.filter_widths, self.convs):
            pad = [[0, 0], [width - 1, width - 1], [0, 0]]
            windows = conv(keras.ops.pad(x, pad))
            # (batch, seq_len + width - 1, num_filters)
            # A window is real when it holds at least one word.
            window_mask = keras.ops.max_pool(
                keras.ops.pad(
                    keras.ops.cast(mask, windows.dtype)[..., None], pad
                ),
                pool_size=width, strides=1, padding="valid",
            )  # (batch, seq_len + width - 1, 1)
            windows = keras.ops.where(
                window_mask > 0, windows,
                keras.ops.cast(MASK_VALUE, windows.dtype),
            )
            # ReLU outputs are >= 0: the floor at 0 changes nothing but an
            # all-padding row (no real window), which then pools to 0.
            pooled.append(
                keras.ops.maximum(keras.ops.max(windows, axis=1), 0)
            )  # (batch, num_filters)
        features = pooled[0] if len(pooled) == 1 else self.concat(pooled)
        # (batch, len(filter_widths) * num_filters)
        features = self.dropout_layer(features, training=training)
        return self.logits(features)  # (batch, num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "filter_widths": self.filter_widths,
                "num_filters": self.num_filters,
                "dropout": self.dropout,
                "num_classes": self.num_classes,
                "logits_max_norm": self.logits_max_norm,
                "embeddings_initializer": self.embeddings_initializer,
            }
        )
        return config
