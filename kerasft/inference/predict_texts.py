"""`predict_texts`: raw strings in, each text head's answer out."""

import numpy as np
import tensorflow as tf

from kerasft.checks import check_batch_size
from kerasft.data.text_pipeline import make_text_dataset
from kerasft.inference.checks import check_text_model, check_vocabulary_fits
from kerasft.models import (
    MultiLabelClassifier,
    TextRegressor,
    TokenClassifier,
)


def predict_texts(model, texts, preprocessor, batch_size=64):
    """Predicts on raw strings with any kerasft text head.

    Tokenization runs in a tf.data pipeline on the host, as in training.
    What comes back depends on the head:

    - `TextClassifier`: `(labels, probabilities)`, the labels `(num_texts,)`
      being the model's `class_names` (str) when it has them, else int64
      class ids; probabilities float32 `(num_texts, num_classes)`
      (softmax).
    - `MultiLabelClassifier`: `(labels, probabilities)`, `labels[i]` the
      list of `(label, probability)` pairs above the model's
      threshold(s), most probable first (label names, or ids without
      `label_names`); probabilities float32 `(num_texts, num_labels)`
      (sigmoid).
    - `TextRegressor`: float32 values `(num_texts,)`, or `(num_texts,
      num_outputs)` for several outputs, in the targets' units.
    - `TokenClassifier`: one list of entities per text, each a dict with
      `type`, `text`, `start`, `end` (character offsets into the string,
      `text == string[start:end]`) and `score` (the mean probability of
      the entity's word tags); see `kerasft.inference.predict_entities`.

    Args:
        model: a kerasft text head (or any model mapping token-id dicts to
            `(batch, num_classes)` logits, treated as a classifier).
        texts: list of strings, or a `(first, second)` tuple of lists for
            sentence pairs (not for token classification).
        preprocessor: the preprocessor used in training
            (`kerasft.data.text_preprocessor`).
        batch_size: int. Texts per forward pass. Defaults to `64`.

    Example:
    ```python
    labels, probabilities = kerasft.predict_texts(
        classifier, ["a gripping film"], preprocessor)
    ```
    """
    check_text_model(model)
    _check_texts(texts)
    check_batch_size(batch_size)
    check_vocabulary_fits(model, preprocessor)
    if isinstance(model, TokenClassifier):
        from kerasft.inference.predict_entities import predict_entities

        return predict_entities(model, texts, preprocessor, batch_size)
    outputs = _predict_outputs(model, texts, preprocessor, batch_size)
    if isinstance(model, TextRegressor):
        return outputs[:, 0] if outputs.shape[-1] == 1 else outputs
    if isinstance(model, MultiLabelClassifier):
        probabilities = 1.0 / (1.0 + np.exp(-outputs))
        return _label_sets(model, probabilities), probabilities
    shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=-1, keepdims=True)
    ids = probabilities.argmax(axis=-1).astype("int64")
    class_names = getattr(model, "class_names", None)
    if class_names is not None:
        return np.asarray(class_names, dtype=object)[ids], probabilities
    return ids, probabilities


def _check_texts(texts):
    first = texts[0] if isinstance(texts, tuple) and texts else texts
    if isinstance(first, str) or not hasattr(first, "__len__") or not len(
        first
    ):
        raise ValueError(
            "`texts` must be a non-empty list of strings (or a pair of "
            f"lists). Received: texts={texts!r}"
        )


def _predict_outputs(model, texts, preprocessor, batch_size):
    """The model's float32 outputs on every text, in order."""
    dataset = make_text_dataset(
        texts, preprocessor=preprocessor, batch_size=batch_size,
        shuffle=False)

    @tf.function(reduce_retracing=True)
    def outputs_of(inputs):
        return tf.cast(model(inputs, training=False), "float32")

    return np.concatenate([outputs_of(batch).numpy() for batch in dataset])


def _label_sets(model, probabilities):
    names = model.label_names or list(range(model.num_labels))
    thresholds = np.asarray(model.thresholds(), "float32")
    label_sets = []
    for row in probabilities:
        chosen = np.flatnonzero(row > thresholds)
        chosen = chosen[np.argsort(-row[chosen], kind="stable")]
        label_sets.append([(names[i], float(row[i])) for i in chosen])
    return label_sets
