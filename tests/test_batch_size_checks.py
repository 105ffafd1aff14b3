"""Every public function that takes a batch size checks it the same way.

`check_batch_size` (kerasft/checks.py) runs at each entry, before any data
is read, tokenized or run through a model: 0, a negative, a float, a bool
or a str is a `ValueError` naming `batch_size`, never a silent default or a
tf.data error. Each entry point also gets one valid call that works.
"""

import keras
import keras_hub
import numpy as np
import pytest
from bert_test_helper import (
    LABELS,
    TEXTS,
    VOCAB,
    tiny_backbone,
    tiny_classifier,
    tiny_dataset,
)

import kerasft
from kerasft import data, finetuning, pretraining
from kerasft.inference import predict_texts
from kerasft.inference.predict_entities import predict_entities
from kerasft.models import ConvAutoencoder, ConvNetwork, TokenClassifier
from kerasft.recipes.finetune import FinetuneConfig
from kerasft.recipes.pretrain import PretrainConfig

BAD_BATCH_SIZES = [0, -1, 2.5, True, "8"]
TAG_NAMES = ["O", "B-x", "I-x"]
WORDS = [["the", "movie"], ["a", "good", "film"]]
TAGS = [["O", "B-x"], ["O", "O", "B-x"]]


def preprocessor():
    return data.text_preprocessor(vocabulary=VOCAB, sequence_length=8)


def images(num=4):
    return np.random.default_rng(0).random((num, 8, 8, 1), "float32")


def frozen_classifier():
    classifier = tiny_classifier(pooling="cls")
    kerasft.freeze_backbone(classifier)
    return classifier


def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the movie was good .\na dull film\n" * 4)
    return path


def tokenizer():
    return keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB)


def first_batch(dataset):
    return next(iter(dataset))


# Each entry: batch_size -> a call taking it. `tmp_path` for the ones that
# read files. A valid batch size must give a working result.
ENTRY_POINTS = {
    "make_dataset": lambda b, tmp: first_batch(data.make_dataset(
        np.zeros((4, 3), "float32"), [0, 1, 0, 1], batch_size=b)),
    "make_text_dataset": lambda b, tmp: first_batch(data.make_text_dataset(
        TEXTS, LABELS, preprocessor(), batch_size=b)),
    "TokenWindows.to_dataset": lambda b, tmp: first_batch(
        data.tokenize_words(WORDS, TAGS, preprocessor(), tag_names=TAG_NAMES)
        .to_dataset(batch_size=b)),
    "make_token_dataset": lambda b, tmp: first_batch(data.make_token_dataset(
        WORDS, TAGS, preprocessor(), tag_names=TAG_NAMES, batch_size=b)),
    "predict_texts": lambda b, tmp: predict_texts(
        tiny_classifier(), TEXTS[:3], preprocessor(), batch_size=b),
    "TextModel.predict_texts": lambda b, tmp: tiny_classifier().predict_texts(
        TEXTS[:3], preprocessor(), batch_size=b),
    "predict_entities": lambda b, tmp: predict_entities(
        TokenClassifier(tiny_backbone(), tag_names=TAG_NAMES),
        ["the good movie"], preprocessor(), batch_size=b),
    "fit_head_on_cached_features": lambda b, tmp: (
        finetuning.fit_head_on_cached_features(
            frozen_classifier(), tiny_dataset(), epochs=1, batch_size=b,
            verbose=0)),
    "make_masked_lm_dataset": lambda b, tmp: first_batch(
        pretraining.make_masked_lm_dataset(
            corpus(tmp), tokenizer(), sequence_length=8, batch_size=b)),
    "pretrain_autoencoder": lambda b, tmp: pretraining.pretrain_autoencoder(
        images(), ConvAutoencoder(filters=(4,)), epochs=1, batch_size=b),
    "pretrain_classifier": lambda b, tmp: pretraining.pretrain_classifier(
        images(), np.array([0, 1, 0, 1]),
        ConvNetwork(filters=(4,), hidden_dim=0, num_classes=2), epochs=1,
        batch_size=b),
    "finetune_classifier": lambda b, tmp: pretraining.finetune_classifier(
        ConvNetwork(filters=(4,), hidden_dim=0, num_classes=2), images(),
        np.array([0, 1, 0, 1]), frozen_epochs=1, unfrozen_epochs=0,
        batch_size=b),
    "FinetuneConfig": lambda b, tmp: FinetuneConfig(
        preset="bert_tiny_en_uncased", batch_size=b),
    "PretrainConfig": lambda b, tmp: PretrainConfig(
        corpus=str(corpus(tmp)), batch_size=b),
}


@pytest.mark.parametrize("batch_size", BAD_BATCH_SIZES, ids=repr)
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_bad_batch_size_is_a_value_error_naming_it(entry, batch_size,
                                                   tmp_path):
    message = (
        "`batch_size` must be an int >= 1 (examples per batch). "
        f"Received: batch_size={batch_size!r}"
    )
    with pytest.raises(ValueError) as error:
        ENTRY_POINTS[entry](batch_size, tmp_path)
    # The one message of check_batch_size, not an error from deeper down.
    assert str(error.value) == message


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_valid_batch_size_works(entry, tmp_path):
    keras.utils.set_random_seed(0)
    result = ENTRY_POINTS[entry](2, tmp_path)
    assert result is not None
    if entry in ("FinetuneConfig", "PretrainConfig"):
        assert result.batch_size == 2
    if entry in ("make_dataset", "make_text_dataset"):
        features, labels = result
        assert labels.shape[0] == 2
    if entry in ("predict_texts", "TextModel.predict_texts"):
        ids, probabilities = result
        assert probabilities.shape == (3, 2)
