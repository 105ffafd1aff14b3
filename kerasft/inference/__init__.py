"""Predictions on raw strings: the tf.data text pipeline, then the model.

It sits above `kerasft.data` and `kerasft.models` (the models never build
datasets themselves). `predict_texts` answers for every text head: class
names, label sets, values, or entities with character offsets.
"""

from kerasft.inference.predict_texts import predict_texts

__all__ = ["predict_texts"]
