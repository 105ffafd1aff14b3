import re

import keras
import numpy as np
import pytest
from bert_test_helper import HEAD
from bert_test_helper import HEAD_DIM
from bert_test_helper import LORA_PER_KERNEL
from bert_test_helper import LORA_RANK
from bert_test_helper import NUM_HEADS
from bert_test_helper import H
from bert_test_helper import snapshot
from bert_test_helper import tiny_classifier
from bert_test_helper import tiny_dataset
from bert_test_helper import tiny_features
from bert_test_helper import trained_count

import kerasft
from kerasft.finetuning import enable_lora
from kerasft.finetuning import load_lora_weights
from kerasft.finetuning import lora_layers
from kerasft.finetuning import prepare_finetuning
from kerasft.finetuning import save_lora_weights
from kerasft.models import BertClassifier


def test_only_the_lora_factors_and_the_head_train():
    model = tiny_classifier(num_layers=2)
    paths = enable_lora(model, rank=LORA_RANK)
    # keras-hub's default targets: the attention's query and value.
    assert paths == [
        f"{model.backbone.name}/transformer_layer_{i}/self_attention_layer/"
        f"{name}"
        for i in range(2) for name in ("query", "value")
    ]
    assert trained_count(model) == 2 * 2 * LORA_PER_KERNEL + HEAD
    assert sorted(v.path for v in model.trainable_weights) == sorted(
        [f"transformer_layer_{i}/self_attention_layer/{name}/lora_kernel_{ab}"
         for i in range(2) for name in ("query", "value") for ab in "ab"]
        + ["logits/kernel", "logits/bias"]
    )
    _, query = lora_layers(model)[0]
    assert tuple(query.lora_kernel_a.shape) == (H, NUM_HEADS, LORA_RANK)
    assert tuple(query.lora_kernel_b.shape) == (LORA_RANK, HEAD_DIM)
    # keras-hub alone would train the query/value biases too.
    assert not query.bias.trainable


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """A LoRA fine-tuned classifier, its base weights, and its saved file."""
    keras.utils.set_random_seed(0)
    model = tiny_classifier(num_layers=2, dropout=0.0)
    config = model.get_config()
    base = snapshot(model.weights)  # before LoRA: the same list, in order
    base_by_path = {v.path: b for v, b in zip(model.weights, base)}
    prepare_finetuning(model, "lora", lora_rank=LORA_RANK)
    trainer = kerasft.Trainer(model, optimizer="adam", learning_rate=1e-2)
    trainer.fit(tiny_dataset(batch_size=4), epochs=1, verbose=0)
    path = save_lora_weights(
        model, tmp_path_factory.mktemp("lora") / "adapter.lora.h5")
    return model, config, base, base_by_path, path


def fresh_classifier(config, base):
    """A classifier with the base weights, as from the same preset."""
    model = BertClassifier.from_config(config)
    model.set_weights(base)
    return model


def test_training_moves_only_lora_and_head(fine_tuned):
    model, _, _, base_by_path, _ = fine_tuned
    trained = {id(v) for v in model.trainable_weights}
    for variable in model.weights:
        if id(variable) in trained:
            if "lora_kernel_b" in variable.path or "logits" in variable.path:
                assert not np.allclose(variable.numpy(), 0.0), variable.path
        else:
            np.testing.assert_array_equal(
                variable.numpy(), base_by_path[variable.path],
                err_msg=variable.path)


def test_saved_then_loaded_into_a_fresh_classifier_predicts_the_same(
    fine_tuned,
):
    model, config, base, _, path = fine_tuned
    features = tiny_features()
    expected = model(features, training=False).numpy()
    fresh = fresh_classifier(config, base)
    assert not np.allclose(fresh(features, training=False).numpy(), expected,
                           atol=1e-4)
    enable_lora(fresh, rank=LORA_RANK)  # as the user would; else automatic
    assert load_lora_weights(fresh, path) == ["logits/bias", "logits/kernel"]
    np.testing.assert_allclose(fresh(features, training=False).numpy(),
                               expected, rtol=1e-6, atol=1e-6)

    # keras-hub reads the same file (the factors; the head it ignores).
    other = fresh_classifier(config, base)
    other.backbone.load_lora_weights(str(path))
    np.testing.assert_allclose(
        other.backbone(features)["sequence_output"].numpy(),
        model.backbone(features)["sequence_output"].numpy(),
        rtol=1e-6, atol=1e-6,
    )


def test_load_enables_lora_with_the_file_rank(fine_tuned):
    model, config, base, _, path = fine_tuned
    fresh = fresh_classifier(config, base)
    load_lora_weights(fresh, path)
    assert trained_count(fresh) == trained_count(model)
    features = tiny_features()
    np.testing.assert_allclose(fresh(features).numpy(),
                               model(features).numpy(), atol=1e-6)


def test_load_with_another_rank_or_head_is_refused(fine_tuned):
    _, config, base, _, path = fine_tuned
    other_rank = fresh_classifier(config, base)
    enable_lora(other_rank, rank=2)
    with pytest.raises(ValueError, match="rank=4, but the model was called "
                                         r"with `.enable_lora\(rank=2\)`"):
        load_lora_weights(other_rank, path)
    three_classes = BertClassifier(
        BertClassifier.from_config(config).backbone, num_classes=3)
    with pytest.raises(ValueError, match=re.escape(
        "Variable 'logits/bias' has shape (3,) in the model but (2,) in "
        "the file (e.g. another num_classes)"
    )):
        load_lora_weights(three_classes, path)
    assert not lora_layers(three_classes)  # checked before any change


def test_save_needs_lora_and_the_keras_hub_suffix(tmp_path):
    model = tiny_classifier()
    with pytest.raises(ValueError, match=re.escape(
        "The model has no LoRA layers: call enable_lora(classifier, rank)"
    )):
        save_lora_weights(model, tmp_path / "a.lora.h5")
    enable_lora(model, rank=2)
    with pytest.raises(ValueError, match=re.escape(
        "The LoRA file name must end in '.lora.h5' (keras-hub needs it). "
        f"Received: path='{tmp_path / 'a.h5'}'"
    )):
        save_lora_weights(model, tmp_path / "a.h5")
    with pytest.raises(FileNotFoundError, match="Received: path='.*missing"):
        load_lora_weights(model, tmp_path / "missing.lora.h5")


def test_enable_lora_checks(tmp_path):
    model = tiny_classifier()
    with pytest.raises(ValueError, match=re.escape(
        "`rank` must be an int >= 1. Received: rank=0")):
        enable_lora(model, rank=0)
    enable_lora(model, rank=2)
    with pytest.raises(ValueError, match=re.escape(
        "LoRA is already enabled on this model")):
        enable_lora(model, rank=2)
    with pytest.raises(TypeError, match=re.escape(
        "Received: classifier of type Sequential")):
        enable_lora(keras.Sequential([keras.layers.Dense(2)]))
