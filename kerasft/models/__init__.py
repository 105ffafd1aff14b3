"""Models: plain `keras.Model` subclasses that output logits, built from
scratch or on a pretrained keras-hub encoder (`TextClassifier`)."""

from kerasft.models.bert_classifier import BertClassifier
from kerasft.models.conv_autoencoder import ConvAutoencoder
from kerasft.models.conv_network import ConvNetwork
from kerasft.models.feedforward_network import FeedforwardNetwork
from kerasft.models.text_classifier import TextClassifier

__all__ = [
    "BertClassifier",
    "ConvAutoencoder",
    "ConvNetwork",
    "FeedforwardNetwork",
    "TextClassifier",
]
