"""Predictions on raw strings: the tf.data text pipeline, then the model.

It sits above `kerasft.data` and `kerasft.models` (the models never build
datasets themselves).
"""

import numpy as np
import tensorflow as tf

from kerasft.data.text_pipeline import make_text_dataset


def predict_texts(model, texts, preprocessor, batch_size=64):
    """Classifies raw strings: returns `(labels, probabilities)`.

    Tokenization runs in a tf.data pipeline on the host, as in training.

    Args:
        model: a `kerasft.TextClassifier` (or any model mapping token-id
            dicts to `(batch, num_classes)` logits).
        texts: list of strings, or a `(first, second)` tuple of lists for
            sentence pairs.
        preprocessor: the preprocessor used in training
            (`kerasft.data.text_preprocessor`).
        batch_size: int. Texts per forward pass. Defaults to `64`.

    Returns:
        The labels `(num_texts,)`: the model's `class_names` (str) when it
        has them, else int64 class ids; and float32 `(num_texts,
        num_classes)` probabilities.

    Example:
    ```python
    labels, probabilities = kerasft.predict_texts(
        classifier, ["a gripping film"], preprocessor)
    ```
    """
    first = texts[0] if isinstance(texts, tuple) else texts
    if isinstance(first, str) or not len(first):
        raise ValueError(
            "`texts` must be a non-empty list of strings (or a pair of "
            f"lists). Received: texts={texts!r}"
        )
    dataset = make_text_dataset(
        texts, preprocessor=preprocessor, batch_size=batch_size,
        shuffle=False)

    @tf.function(reduce_retracing=True)
    def probabilities_of(inputs):
        logits = tf.cast(model(inputs, training=False), "float32")
        return tf.nn.softmax(logits, axis=-1)

    probabilities = np.concatenate(
        [probabilities_of(batch).numpy() for batch in dataset])
    ids = probabilities.argmax(axis=-1).astype("int64")
    class_names = getattr(model, "class_names", None)
    if class_names is not None:
        return np.asarray(class_names, dtype=object)[ids], probabilities
    return ids, probabilities
