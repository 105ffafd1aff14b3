"""Head-only training on cached features equals the uncached run."""

import keras
import keras_hub
import numpy as np
import pytest

import kerasft
from kerasft.data import make_text_dataset, text_preprocessor
from kerasft.finetuning.feature_cache import (
    cache_features,
    fit_head_on_cached_features,
)
from kerasft.models import BertClassifier

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was",
         "good", "bad", "great", "dull", "not", "very"]
TEXTS = ["the film was good", "the film was bad", "very good", "very dull",
         "not good", "great film", "dull film", "the film was great",
         "not bad", "very bad", "good", "bad"]
LABELS = [1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0]


def _classifier(seed=0, dropout=0.0, pooling="mean"):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16)
    return BertClassifier(backbone, num_classes=2, pooling=pooling,
                          dropout=dropout)


def _dataset():
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    return make_text_dataset(TEXTS, LABELS, preprocessor=preprocessor,
                             batch_size=4, shuffle=False)


def test_cached_features_equal_the_frozen_backbone_output():
    classifier = _classifier()
    kerasft.freeze_backbone(classifier)
    features, labels = cache_features(classifier, _dataset())
    assert features.shape == (12, 16)
    np.testing.assert_array_equal(labels, LABELS)
    batch = next(iter(_dataset()))[0]
    expected = classifier.pooled_features(batch, training=False)
    np.testing.assert_allclose(features[:4], expected, atol=1e-6)


def test_head_training_on_cache_equals_the_uncached_frozen_run():
    uncached = _classifier()
    kerasft.freeze_backbone(uncached)
    trainer = kerasft.Trainer(uncached, optimizer="sgd", learning_rate=0.5)
    trainer.fit(_dataset(), epochs=3, verbose=0)

    cached = _classifier()
    kerasft.freeze_backbone(cached)
    fit_head_on_cached_features(cached, _dataset(), epochs=3, batch_size=4,
                                optimizer="sgd", learning_rate=0.5,
                                shuffle=False, verbose=0)
    head = cached.head.kernel.numpy()
    assert not np.allclose(head, _classifier().head.kernel.numpy())
    np.testing.assert_allclose(head, uncached.head.kernel.numpy(), atol=1e-5)
    np.testing.assert_allclose(cached.head.bias.numpy(),
                               uncached.head.bias.numpy(), atol=1e-5)
    # The backbone did not move, and the classifier predicts from text.
    for a, b in zip(cached.backbone.weights, _classifier().backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    batch = next(iter(_dataset()))[0]
    np.testing.assert_allclose(cached(batch), uncached(batch), atol=1e-5)


def test_a_trainable_backbone_is_refused():
    classifier = _classifier()
    with pytest.raises(ValueError, match=r"frozen backbone.*trainable"):
        cache_features(classifier, _dataset())


def test_a_frozen_backbone_runs_without_dropout_in_training():
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16, dropout=0.5)
    classifier = BertClassifier(backbone, num_classes=2, dropout=0.0)
    batch = next(iter(_dataset()))[0]
    noisy = [classifier(batch, training=True).numpy() for _ in range(2)]
    assert not np.allclose(noisy[0], noisy[1])
    kerasft.freeze_backbone(classifier)
    runs = [classifier(batch, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0], classifier(batch, training=False),
                               atol=1e-6)
