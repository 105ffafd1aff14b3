"""Models: plain `keras.Model` subclasses that output logits (or values),
built from scratch or on a pretrained keras-hub encoder (the text heads:
`TextClassifier`, `MultiLabelClassifier`, `TextRegressor`,
`TokenClassifier`, all on `text_model.TextModel`), and the classic text
baselines trained from word ids (`TextCNNClassifier`, `BiLSTMClassifier`)."""

from kerasft.models.bert_classifier import BertClassifier
from kerasft.models.bilstm_classifier import BiLSTMClassifier
from kerasft.models.conv_autoencoder import ConvAutoencoder
from kerasft.models.conv_network import ConvNetwork
from kerasft.models.feedforward_network import FeedforwardNetwork
from kerasft.models.multi_label_classifier import MultiLabelClassifier
from kerasft.models.text_classifier import TextClassifier
from kerasft.models.text_cnn_classifier import TextCNNClassifier
from kerasft.models.text_model import TextModel
from kerasft.models.text_regressor import TextRegressor
from kerasft.models.token_classifier import TokenClassifier

__all__ = [
    "BertClassifier",
    "BiLSTMClassifier",
    "ConvAutoencoder",
    "ConvNetwork",
    "FeedforwardNetwork",
    "MultiLabelClassifier",
    "TextClassifier",
    "TextCNNClassifier",
    "TextModel",
    "TextRegressor",
    "TokenClassifier",
]
