"""Checks of the model and preprocessor handed to the prediction functions.

They run before any text is tokenized, so that a wrong model or a
preprocessor of another vocabulary fails with a message naming it, rather
than deep in a traced `tf.function` (or, on a GPU, not at all: an
out-of-range gather there returns zeros).
"""

import keras

from kerasft import presets
from kerasft.models import ConvAutoencoder, ConvNetwork, FeedforwardNetwork

# kerasft models that take images or feature rows, never token ids.
_NON_TEXT_MODELS = (ConvAutoencoder, ConvNetwork, FeedforwardNetwork)


def check_text_model(model, expected=None):
    """Raises unless `model` is a Keras model that takes token ids.

    Args:
        model: the model received.
        expected: a class the model must be (e.g. `TokenClassifier`), or
            None for any text model.
    """
    if expected is not None and not isinstance(model, expected):
        raise TypeError(
            f"`model` must be a kerasft.{expected.__name__}. Received: "
            f"model of type {type(model).__name__}"
        )
    if not isinstance(model, keras.Model) or isinstance(
        model, _NON_TEXT_MODELS
    ):
        raise TypeError(
            "`model` must be a kerasft text head (TextClassifier, "
            "MultiLabelClassifier, TextRegressor, TokenClassifier) or a "
            "keras.Model taking token-id dicts. Received: model of type "
            f"{type(model).__name__}"
        )


def check_vocabulary_fits(model, preprocessor):
    """Raises if the preprocessor's tokenizer gives ids the model's token
    embedding does not hold (a preprocessor of another model)."""
    backbone = getattr(model, "backbone", None)
    tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
    if backbone is None or not hasattr(tokenizer, "vocabulary_size"):
        return  # a preset name: the data pipeline resolves and checks it
    try:
        embedding_size = presets.vocabulary_size(backbone)
    except AttributeError:
        return  # not a keras-hub encoder: nothing to compare with
    size = tokenizer.vocabulary_size()
    if size > embedding_size:
        raise ValueError(
            "`preprocessor` does not match the model: its tokenizer has "
            f"{size} tokens, the model's embedding {embedding_size}, so some "
            "ids would point past it. Pass the preprocessor the model was "
            "trained with. Received: preprocessor with vocabulary_size="
            f"{size}, model.backbone vocabulary_size={embedding_size}"
        )
