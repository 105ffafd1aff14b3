"""Models: plain `keras.Model` subclasses that output logits, built from
scratch or on a pretrained keras-hub backbone (`BertClassifier`)."""

from kerasft.models.bert_classifier import BertClassifier
from kerasft.models.conv_autoencoder import ConvAutoencoder
from kerasft.models.conv_network import ConvNetwork
from kerasft.models.feedforward_network import FeedforwardNetwork

__all__ = [
    "BertClassifier",
    "ConvAutoencoder",
    "ConvNetwork",
    "FeedforwardNetwork",
]
