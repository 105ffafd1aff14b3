import keras

from kerasft.checks import check_dropout, check_int
from kerasft.models._word_ids import (
    check_initializer,
    check_word_ids_shape,
    serialize_initializer,
)

# Fills padded steps before the max: far below any LSTM output (in (-1, 1)).
MASK_VALUE = -1e9


@keras.saving.register_keras_serializable(package="kerasft")
class BiLSTMClassifier(keras.Model):
    """A bidirectional LSTM sentence classifier, trained from scratch.

    Inputs are word ids `(batch, seq_len)`, 0 for padding (e.g. from
    `kerasft.data.word_id_arrays`). The model, with its layer names:

    - embeddings: `token_embedding`, an `Embedding(vocabulary_size,
      embedding_dim, mask_zero=True)`;
    - body: `num_layers` stacked `Bidirectional(LSTM(hidden_dim))`
      (`bilstm_0`, `bilstm_1`, ...), each returning the concatenated
      forward and backward outputs `(batch, seq_len, 2 * hidden_dim)`, the
      padding mask passed to every layer;
    - head: max pooling over time of the last layer's outputs at the real
      (unpadded) positions, `dropout`, then `logits`, a Dense with
      `num_classes` outputs and no activation (use losses with
      `from_logits=True`).

    Pretrained word vectors go in once the model is built:
    `model.get_layer("token_embedding").set_weights([matrix])`; freeze them
    with `kerasft.freeze(model, "token_embedding")`.

    Args:
        vocabulary_size: int. Number of word ids, padding (0) and the
            out-of-vocabulary id included. Defaults to `20000`.
        embedding_dim: int. Size of each word vector. Defaults to `300`.
        hidden_dim: int. LSTM units per direction. Defaults to `150`.
        num_layers: int. Number of stacked bidirectional LSTM layers.
            Defaults to `1`.
        dropout: float. Dropout rate on the pooled features, in [0, 1).
            Defaults to `0.5`.
        num_classes: int. Number of outputs (logits). Defaults to `2`.
        embeddings_initializer: str, dict or `keras.initializers.Initializer`.
            Initializer of the embedding matrix. Defaults to `"uniform"`.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, `trainable`).

    Example:
    ```python
    import numpy as np
    import kerasft

    model = kerasft.BiLSTMClassifier(
        vocabulary_size=100, embedding_dim=16, hidden_dim=8, num_classes=2
    )
    ids = np.array([[5, 9, 42, 0, 0], [7, 3, 0, 0, 0]], "int32")
    logits = model(ids)  # (2, 2)
    print(kerasft.format_parameter_report(kerasft.parameter_report(model)))
    ```
    """

    def __init__(
        self,
        vocabulary_size=20000,
        embedding_dim=300,
        hidden_dim=150,
        num_layers=1,
        dropout=0.5,
        num_classes=2,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        # Ids 0 (padding) and 1 (out of vocabulary) plus at least one word.
        vocabulary_size = check_int("vocabulary_size", vocabulary_size,
                                    minimum=3)
        embedding_dim = check_int("embedding_dim", embedding_dim)
        hidden_dim = check_int("hidden_dim", hidden_dim)
        num_layers = check_int("num_layers", num_layers)
        dropout = check_dropout(dropout)
        num_classes = check_int("num_classes", num_classes)
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
        self.bilstm_layers = [
            keras.layers.Bidirectional(
                keras.layers.LSTM(hidden_dim, return_sequences=True,
                                  dtype=dtype),
                dtype=dtype,
                name=f"bilstm_{i}",
            )
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=dtype, name="dropout"
        )
        self.logits = keras.layers.Dense(num_classes, dtype=dtype,
                                         name="logits")

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.num_classes = num_classes
        self.embeddings_initializer = serialize_initializer(
            embeddings_initializer
        )

    def build(self, input_shape):
        check_word_ids_shape(self, input_shape)
        self.token_embedding.build(input_shape)
        shape = (None, None, self.embedding_dim)
        for bilstm in self.bilstm_layers:
            bilstm.build(shape)
            shape = (None, None, 2 * self.hidden_dim)
        self.dropout_layer.build((None, 2 * self.hidden_dim))
        self.logits.build((None, 2 * self.hidden_dim))

    def call(self, inputs, training=None):
        check_word_ids_shape(self, inputs.shape)
        ids = keras.ops.cast(inputs, "int32")  # (batch, seq_len)
        mask = keras.ops.not_equal(ids, 0)  # (batch, seq_len), True = word
        x = self.token_embedding(ids)  # (batch, seq_len, embedding_dim)
        for bilstm in self.bilstm_layers:
            x = bilstm(x, mask=mask, training=training)
            # (batch, seq_len, 2 * hidden_dim)
        # Pooling: the max over time of the real positions, not the final
        # states. Conneau et al. (2017) found BiLSTM-max ahead of the last
        # states and of mean pooling; every position reaches the head
        # directly (the final states must carry the whole sentence), and
        # it does not depend on which side the padding is.
        x = keras.ops.where(
            mask[..., None], x, keras.ops.cast(MASK_VALUE, x.dtype)
        )
        pooled = keras.ops.max(x, axis=1)  # (batch, 2 * hidden_dim)
        # An all-padding row has no real position: it pools to 0.
        has_words = keras.ops.any(mask, axis=1, keepdims=True)  # (batch, 1)
        pooled = keras.ops.where(has_words, pooled,
                                 keras.ops.zeros_like(pooled))
        pooled = self.dropout_layer(pooled, training=training)
        return self.logits(pooled)  # (batch, num_classes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "dropout": self.dropout,
                "num_classes": self.num_classes,
                "embeddings_initializer": self.embeddings_initializer,
            }
        )
        return config
