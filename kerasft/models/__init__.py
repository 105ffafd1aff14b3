"""Models built from scratch: plain `keras.Model` subclasses that output
logits."""

from kerasft.models.conv_network import ConvNetwork
from kerasft.models.feedforward_network import FeedforwardNetwork

__all__ = ["ConvNetwork", "FeedforwardNetwork"]
