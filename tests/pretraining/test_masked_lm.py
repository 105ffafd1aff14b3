"""Masked-LM pretraining on the Trainer, presets, and their errors."""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from text_corpus_helper import write_corpus

import kerasft
from kerasft import pretraining


@pytest.fixture(scope="module")
def corpus_and_tokenizer(tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("corpus"))
    return corpus, pretraining.train_bert_tokenizer(corpus, 100)


def tiny_masked_lm(tokenizer, num_layers=1):
    backbone = pretraining.bert_backbone(
        tokenizer.vocabulary_size(), num_layers=num_layers, hidden_dim=16,
        num_heads=2, intermediate_dim=32, max_sequence_length=12)
    return pretraining.masked_lm_model(backbone)


def test_a_few_steps_lower_the_masked_lm_loss(corpus_and_tokenizer):
    corpus, tokenizer = corpus_and_tokenizer
    keras.utils.set_random_seed(0)
    train = pretraining.make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=12, batch_size=20)
    # Fixed masks for a fair before/after comparison.
    fixed = list(train.take(3))
    x = {k: tf.concat([b[0][k] for b in fixed], 0) for k in fixed[0][0]}
    y = tf.concat([b[1] for b in fixed], 0)
    w = tf.concat([b[2] for b in fixed], 0)
    held = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(20)
    trainer = pretraining.masked_lm_trainer(
        tiny_masked_lm(tokenizer), learning_rate=1e-2, steps_per_execution=5)
    before = trainer.evaluate(held)
    history = trainer.fit(train, epochs=3, verbose=0)
    after = trainer.evaluate(held)
    # Uniform guessing over V tokens costs ln(V); the corpus is repetitive.
    assert before["loss"] == pytest.approx(
        np.log(tokenizer.vocabulary_size()), abs=0.5)
    assert after["loss"] < before["loss"] - 1.0
    assert after["accuracy"] > before["accuracy"] + 0.2
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "confusion_matrix" not in after  # (batch, masks, V) outputs
    assert trainer.global_step == 3 * 10


@keras.saving.register_keras_serializable(package="kerasft_tests")
class PositionAsPrediction(keras.Model):
    """Logits that predict, at each mask slot, the token id equal to the
    slot's position: hand-checkable masked-LM outputs."""

    def __init__(self, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.scale = self.add_weight(shape=(), initializer="ones")

    def call(self, inputs):
        positions = inputs["mask_positions"]  # (batch, num_masks)
        # (batch, num_masks, vocabulary_size)
        return 5.0 * self.scale * tf.one_hot(positions, self.vocabulary_size)


def test_masked_token_accuracy_on_a_hand_made_batch():
    vocabulary_size = 8
    positions = np.array([[1, 2, 3], [4, 5, 0]], "int32")
    labels = np.array([[1, 7, 3], [4, 2, 6]], "int32")
    weights = np.array([[1, 1, 1], [1, 1, 0]], "float32")
    # Weighted hits: 1 + 0 + 1 + 1 + 0 = 3 of 5 real masks; the padding
    # slot's miss (label 6, prediction 0) does not count.
    x = {"token_ids": np.zeros((2, 6), "int32"), "mask_positions": positions}
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, labels, weights)).batch(2)
    trainer = kerasft.Trainer(PositionAsPrediction(vocabulary_size),
                              loss=pretraining.masked_lm_loss(),
                              metrics=["accuracy"])
    results = trainer.evaluate(dataset)
    assert results["accuracy"] == pytest.approx(3 / 5)
    # The loss averages over the 5 real masks only.
    logits = 5.0 * np.eye(vocabulary_size)[positions]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    assert results["loss"] == pytest.approx(
        (nll * weights).sum() / weights.sum(), rel=1e-5)
    assert "confusion_matrix" not in results


def test_mask_labels_out_of_the_vocabulary_are_caught():
    x = {"token_ids": np.zeros((2, 6), "int32"),
         "mask_positions": np.zeros((2, 3), "int32")}
    labels = np.array([[1, 2, 3], [4, 9, 0]], "int32")  # 9 >= 8
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, labels, np.ones((2, 3), "float32"))).batch(2)
    trainer = kerasft.Trainer(PositionAsPrediction(8),
                              loss=pretraining.masked_lm_loss())
    with pytest.raises(ValueError, match="out of range.*label=9"):
        trainer.evaluate(dataset)


def test_no_confusion_matrix_above_1000_classes():
    x = np.random.rand(8, 4).astype("float32")
    trainer = kerasft.Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=1001))
    assert "confusion_matrix" not in trainer.evaluate(x, np.arange(8))
    trainer = kerasft.Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=10))
    assert trainer.evaluate(x, np.arange(8))["confusion_matrix"].shape == (
        10, 10)


def test_hidden_dim_not_divisible_by_heads():
    with pytest.raises(ValueError, match="divisible by `num_heads`.*"
                       "hidden_dim=30, num_heads=4"):
        pretraining.bert_backbone(100, hidden_dim=30, num_heads=4)


def test_backbone_vocabulary_too_small():
    with pytest.raises(ValueError, match="larger than the 5 special"):
        pretraining.bert_backbone(5, hidden_dim=16, num_heads=2)


def test_preset_save_and_reload_give_the_same_outputs(
        corpus_and_tokenizer, tmp_path):
    corpus, tokenizer = corpus_and_tokenizer
    masked_lm = tiny_masked_lm(tokenizer, num_layers=2)
    train = pretraining.make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=12, batch_size=20)
    rng = np.random.default_rng(0)
    for weight in masked_lm.weights:  # not the initial values
        weight.assign(rng.normal(0, 0.05, weight.shape).astype("float32"))
    preset = tmp_path / "preset"
    pretraining.save_bert_preset(masked_lm, tokenizer, preset)

    reloaded, reloaded_tokenizer = pretraining.load_masked_lm(preset)
    assert reloaded_tokenizer.get_vocabulary() == tokenizer.get_vocabulary()
    x, _, _ = next(iter(train))
    np.testing.assert_allclose(reloaded(x), masked_lm(x), atol=1e-5)
    # keras-hub's own loader reads the backbone too.
    backbone = keras_hub.models.BertBackbone.from_preset(str(preset))
    for a, b in zip(backbone.weights, masked_lm.backbone.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_bert_classifier_fine_tunes_the_saved_preset(
        corpus_and_tokenizer, tmp_path):
    corpus, tokenizer = corpus_and_tokenizer
    masked_lm = tiny_masked_lm(tokenizer)
    preset = pretraining.save_bert_preset(masked_lm, tokenizer,
                                          tmp_path / "preset")
    classifier = kerasft.BertClassifier.from_preset(preset, num_classes=2)
    token_embedding = classifier.backbone.token_embedding.embeddings.numpy()
    np.testing.assert_array_equal(
        token_embedding, masked_lm.backbone.token_embedding.embeddings)
    # Fine-tune on "good" vs "bad" lines, tokenized by the preset.
    texts = [f"the movie was {w} ." for w in ["good", "bad"] * 16]
    labels = [1, 0] * 16
    train = kerasft.data.make_text_dataset(
        texts, labels, kerasft.data.text_preprocessor(
            str(preset), sequence_length=12), batch_size=8)
    trainer = kerasft.Trainer(classifier, learning_rate=1e-2,
                              metrics=["accuracy"])
    trainer.fit(train, epochs=8, verbose=0)
    assert trainer.evaluate(train)["accuracy"] == 1.0
    # Fine-tuning changed the backbone it loaded.
    assert not np.array_equal(
        classifier.backbone.token_embedding.embeddings.numpy(),
        token_embedding)


def test_preset_whose_vocabulary_does_not_match(corpus_and_tokenizer,
                                                tmp_path):
    _, tokenizer = corpus_and_tokenizer
    preset = pretraining.save_bert_preset(
        tiny_masked_lm(tokenizer), tokenizer, tmp_path / "preset")
    vocabulary = tmp_path / "preset" / "assets" / "tokenizer" / (
        "vocabulary.txt")
    vocabulary.write_text(vocabulary.read_text() + "extra\n")
    size = tokenizer.vocabulary_size()
    with pytest.raises(ValueError, match=f"vocabulary holds {size + 1} "
                       f"tokens but .* vocabulary_size={size}"):
        pretraining.load_masked_lm(preset)


def test_hugging_face_folder_whose_vocab_txt_does_not_match(tmp_path):
    # Checked from config.json and vocab.txt, before any weight is read
    # (there are none here).
    config = {"model_type": "bert", "vocab_size": 40, "hidden_size": 16,
              "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 32, "max_position_embeddings": 16,
              "type_vocab_size": 2, "hidden_act": "gelu"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    tokens = list(pretraining.SPECIAL_TOKENS) + [f"w{i}" for i in range(25)]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens) + "\n")
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True}))
    with pytest.raises(ValueError, match="vocabulary holds 30 tokens but "
                       ".*vocabulary_size=40"):
        pretraining.load_masked_lm(tmp_path)
