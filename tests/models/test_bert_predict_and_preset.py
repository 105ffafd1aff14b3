"""Raw-string prediction and saving the backbone as a keras-hub preset."""

import keras
import keras_hub
import numpy as np
import pytest

from kerasft.data import text_preprocessor
from kerasft.models import BertClassifier

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was",
         "good", "bad", "very"]


def _classifier():
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16)
    return BertClassifier(backbone, num_classes=3, pooling="mean")


def test_predict_texts_returns_labels_and_probabilities():
    classifier = _classifier()
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    texts = ["the film was good", "very bad", "film", "the the bad good"]
    labels, probabilities = classifier.predict_texts(texts, preprocessor,
                                                     batch_size=3)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, probabilities.argmax(axis=1))
    # Same as the model on the same tokens.
    tokens = preprocessor(texts)
    expected = keras.ops.softmax(classifier(tokens), axis=-1)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_predict_texts_rejects_an_empty_list_and_a_bare_string():
    classifier = _classifier()
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    with pytest.raises(ValueError, match=r"non-empty list.*texts=\[\]"):
        classifier.predict_texts([], preprocessor)
    with pytest.raises(ValueError, match=r"texts='the film'"):
        classifier.predict_texts("the film", preprocessor)


def test_backbone_preset_with_tokenizer_reloads(tmp_path):
    classifier = _classifier()
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    classifier.save_backbone_preset(tmp_path / "preset", preprocessor)
    reloaded = BertClassifier.from_preset(str(tmp_path / "preset"),
                                          num_classes=3, pooling="mean")
    for a, b in zip(reloaded.backbone.weights, classifier.backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    tokenizer = keras_hub.tokenizers.BertTokenizer.from_preset(
        str(tmp_path / "preset"))
    assert tokenizer.get_vocabulary() == VOCAB


def test_backbone_preset_refuses_a_mismatched_vocabulary(tmp_path):
    classifier = _classifier()
    other = text_preprocessor(vocabulary=VOCAB + ["extra"], sequence_length=8)
    with pytest.raises(ValueError, match=r"vocabulary_size=12 \(tokenizer\)"):
        classifier.save_backbone_preset(tmp_path / "p", other)
