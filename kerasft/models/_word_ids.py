"""What the word-id models (TextCNNClassifier, BiLSTMClassifier) share:
their embedding initializer argument and their input check."""

import keras

from kerasft.models._shapes import format_shape


def check_initializer(name, value):
    """Returns a Keras initializer for `value`, or raises naming `name`."""
    try:
        return keras.initializers.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"`{name}` must be a Keras initializer, its name (e.g. "
            f"'uniform') or its config dict ({error}). "
            f"Received: {name}={value!r}"
        ) from None


def serialize_initializer(value):
    """A name stays a name; an initializer object becomes its config."""
    if isinstance(value, str):
        return value
    return keras.initializers.serialize(keras.initializers.get(value))


def check_word_ids_shape(model, shape):
    """Word ids must be `(batch, seq_len)`; raises naming the shape."""
    if len(tuple(shape)) != 2:
        raise ValueError(
            f"{model.__class__.__name__} expects word ids of shape "
            "(batch, seq_len), 0 for padding. "
            f"Received: inputs.shape={format_shape(shape)}"
        )
