import json
import os
import re

import keras
import keras_hub
import numpy as np
import pytest
from model_test_helper import BASE_CONFIG_KEYS
from model_test_helper import constructor_args

import kerasft
from kerasft.data import make_text_dataset
from kerasft.data import text_preprocessor
from kerasft.models import BertClassifier

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie",
    "film", "was", "is", "good", "bad", "great", "dull", "not", ".", ",",
]
# Three sequences of 8: lengths 6, 5 and 3, then padding (id 0).
TOKEN_IDS = np.array(
    [
        [2, 5, 7, 9, 11, 3, 0, 0],
        [2, 8, 10, 14, 3, 0, 0, 0],
        [2, 12, 3, 0, 0, 0, 0, 0],
    ],
    dtype="int32",
)
PADDING_MASK = (TOKEN_IDS != 0).astype("int32")


def tiny_backbone(**overrides):
    config = dict(
        vocabulary_size=len(VOCAB), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )
    return keras_hub.models.BertBackbone(**{**config, **overrides})


def inputs(token_ids=TOKEN_IDS):
    return {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": PADDING_MASK,
    }


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("pooling", ["cls", "pooled", "mean"])
def test_pooling_by_hand(pooling):
    model = BertClassifier(tiny_backbone(), num_classes=3, pooling=pooling,
                           dropout=0.0)
    logits = numpy(model(inputs()))
    assert logits.shape == (3, 3)

    outputs = model.backbone(inputs())
    sequence = numpy(outputs["sequence_output"])  # (3, 8, 16)
    if pooling == "cls":
        pooled = sequence[:, 0]
    elif pooling == "pooled":
        pooled = numpy(outputs["pooled_output"])
    else:
        mask = PADDING_MASK[..., None]
        pooled = (sequence * mask).sum(1) / mask.sum(1)
    kernel, bias = (numpy(w) for w in model.head.weights)
    np.testing.assert_allclose(logits, pooled @ kernel + bias, atol=1e-5)


@pytest.mark.parametrize("pooling", ["cls", "pooled", "mean"])
def test_padding_is_ignored(pooling):
    model = BertClassifier(tiny_backbone(), num_classes=2, pooling=pooling)
    # Other tokens where padding_mask is 0: the output must not move.
    noisy = np.where(PADDING_MASK == 1, TOKEN_IDS, 13).astype("int32")
    np.testing.assert_allclose(
        numpy(model(inputs(noisy))), numpy(model(inputs())), atol=1e-5
    )
    if pooling == "mean":
        # ...while a plain mean over all positions would see the padding.
        sequence = numpy(model.backbone(inputs())["sequence_output"])
        assert not np.allclose(sequence.mean(1), sequence[:, :3].mean(1))


def test_segment_ids_default_to_zeros():
    model = BertClassifier(tiny_backbone(), dropout=0.0)
    without = {"token_ids": TOKEN_IDS, "padding_mask": PADDING_MASK}
    np.testing.assert_allclose(
        numpy(model(without)), numpy(model(inputs())), atol=1e-6
    )


def test_built_at_construction_with_hand_counted_weights():
    # Backbone (see test_freezing_bert): 800 + 2 * 2,224 + 272; head 16*3+3.
    model = BertClassifier(tiny_backbone(vocabulary_size=30), num_classes=3)
    assert model.built
    assert model.count_params() == 800 + 2 * 2224 + 272 + 51


def test_config_round_trip():
    model = BertClassifier(tiny_backbone(), num_classes=3, pooling="mean",
                           dropout=0.2, name="clf")
    config = model.get_config()
    assert set(config) - BASE_CONFIG_KEYS == constructor_args(BertClassifier)
    assert (config["num_classes"], config["pooling"], config["dropout"]) == (
        3, "mean", 0.2,
    )
    restored = BertClassifier.from_config(config)
    assert restored.get_config() == config
    assert isinstance(restored.backbone, keras_hub.models.BertBackbone)
    assert restored.backbone.num_layers == 2
    assert restored(inputs()).shape == (3, 3)


def test_keras_save_and_load_give_the_same_predictions(tmp_path):
    model = BertClassifier(tiny_backbone(), num_classes=3, pooling="mean")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertClassifier
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        numpy(loaded(inputs(), training=False)),
        numpy(model(inputs(), training=False)),
        rtol=1e-6, atol=1e-6,
    )


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_one_trainer_epoch_changes_the_weights():
    texts = ["the movie was good .", "a dull film", "not great", "good film"]
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    dataset = make_text_dataset(texts, [1, 0, 0, 1], preprocessor,
                                batch_size=2, num_classes=2)
    model = BertClassifier(tiny_backbone(), num_classes=2)
    head = numpy(model.head.kernel).copy()
    query = numpy(model.backbone.transformer_layers[0].weights[0]).copy()
    pooler = numpy(model.backbone.get_layer("pooled_dense").kernel).copy()

    trainer = kerasft.Trainer(model, optimizer="adamw", learning_rate=1e-2)
    history = trainer.fit(dataset, epochs=1, verbose=0)

    assert np.isfinite(history.history["loss"][-1])
    assert trainer.global_step == 2
    assert not np.allclose(head, numpy(model.head.kernel))
    assert not np.allclose(
        query, numpy(model.backbone.transformer_layers[0].weights[0])
    )
    # With pooling="cls" the pooler is not in the forward pass.
    np.testing.assert_array_equal(
        pooler, numpy(model.backbone.get_layer("pooled_dense").kernel)
    )


# --- from_preset -----------------------------------------------------------


@pytest.fixture(scope="module")
def keras_hub_preset(tmp_path_factory):
    """A native keras-hub preset folder of a tiny backbone, and the backbone."""
    folder = tmp_path_factory.mktemp("preset")
    backbone = tiny_backbone()
    backbone.save_to_preset(str(folder))
    return folder, backbone


def test_from_preset_keras_hub_folder(keras_hub_preset):
    folder, saved = keras_hub_preset
    model = BertClassifier.from_preset(folder, num_classes=4, pooling="mean")
    assert model(inputs()).shape == (3, 4)
    assert (model.pooling, model.num_classes) == ("mean", 4)
    for loaded, original in zip(model.backbone.weights, saved.weights):
        np.testing.assert_array_equal(numpy(loaded), numpy(original))

    random = BertClassifier.from_preset(str(folder), load_weights=False)
    assert random.backbone.get_config()["num_layers"] == 2
    assert not np.allclose(
        numpy(random.backbone.get_layer("token_embedding").embeddings),
        numpy(saved.get_layer("token_embedding").embeddings),
    )


def write_config(folder, config):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    "make_preset, error, match",
    [
        (lambda tmp: tmp / "missing", ValueError,
         r"neither an existing folder .* Received: preset='.*missing' "
         r"\(no such folder\)"),
        (lambda tmp: tmp, ValueError, r"no config.json"),
        (lambda tmp: write_config(tmp / "gpt2", {"model_type": "gpt2"}),
         ValueError, r"Hugging Face 'gpt2' model, not one of the encoder "
         r"families kerasft fine-tunes \(bert, xlm_roberta, roberta, "),
        (lambda tmp: write_config(tmp / "k", {"class_name": "GPT2Backbone"}),
         ValueError, r"keras-hub GPT2Backbone, not a backbone of one of the "
         r"encoder families"),
        (lambda tmp: write_config(tmp / "odd", {"foo": 1}), ValueError,
         r"neither a keras-hub preset .* nor a Hugging Face config"),
        (lambda tmp: "gpt2_base_en", ValueError,
         r"'gpt2' model, not one of the encoder families.*Received: "
         r"preset='gpt2_base_en'"),
        (lambda tmp: 123, TypeError, r"Received: preset=123 of type int"),
    ],
)
def test_from_preset_bad_presets(tmp_path, make_preset, error, match):
    with pytest.raises(error, match=match):
        BertClassifier.from_preset(make_preset(tmp_path))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 1}, "Received: num_classes=1"),
        ({"pooling": "max"}, "Received: pooling='max'"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
    ],
)
def test_from_preset_checks_arguments_before_the_preset(kwargs, match):
    # The preset does not exist: the argument error must come first.
    with pytest.raises(ValueError, match=re.escape(match)):
        BertClassifier.from_preset("/no/such/preset", **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"backbone": "bert"}, TypeError,
         "Received: backbone='bert' of type str"),
        ({"num_classes": 1}, ValueError, "Received: num_classes=1"),
        ({"pooling": "max"}, ValueError, "Received: pooling='max'"),
        ({"dropout": -0.1}, ValueError, "Received: dropout=-0.1"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    kwargs = {"backbone": tiny_backbone(), **kwargs}
    with pytest.raises(error, match=re.escape(match)):
        BertClassifier(**kwargs)


def test_sequence_longer_than_the_backbone_raises():
    model = BertClassifier(tiny_backbone(max_sequence_length=16))
    token_ids = np.ones((1, 20), "int32")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "max_sequence_length=16 (its position embeddings stop there). "
            "Received: sequence_length=20"
        ),
    ):
        model({"token_ids": token_ids, "padding_mask": token_ids})


def test_inputs_must_be_a_dict_of_token_ids():
    model = BertClassifier(tiny_backbone())
    with pytest.raises(ValueError, match=r"Received: inputs=\w*Tensor"):
        model(TOKEN_IDS)
    with pytest.raises(ValueError, match=r"Received: inputs=\['token_ids'\]"):
        model({"token_ids": TOKEN_IDS})


# --- The real MiniLM (../shared) -------------------------------------------


@pytest.mark.slow
@pytest.mark.shared
def test_from_preset_hugging_face_folder(minilm_dir):
    from safetensors.numpy import load_file

    model = BertClassifier.from_preset(minilm_dir, num_classes=2)
    assert model.backbone.count_params() == 22_713_216
    assert model.count_params() == 22_713_216 + 384 * 2 + 2

    # The pretrained weights were loaded (not random): compare one row.
    tensors = load_file(str(minilm_dir / "model.safetensors"))
    key = next(k for k in tensors if k.endswith("word_embeddings.weight"))
    np.testing.assert_allclose(
        numpy(model.backbone.get_layer("token_embedding").embeddings)[101],
        tensors[key][101],
    )
    preprocessor = text_preprocessor(minilm_dir, sequence_length=16)
    features = preprocessor(["a gripping , funny film"])
    assert model(features).shape == (1, 2)


@pytest.mark.slow
@pytest.mark.shared
def test_from_preset_hf_handle_through_the_hub_cache(
    minilm_dir, tmp_path, monkeypatch
):
    """hf://org/name goes through huggingface_hub; here from a local cache
    (offline mode), so no network is needed."""
    from huggingface_hub import constants

    repo = tmp_path / "models--sentence-transformers--all-MiniLM-L6-v2"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in minilm_dir.iterdir():
        os.symlink(file, snapshot / file.name)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    model = BertClassifier.from_preset(
        "hf://sentence-transformers/all-MiniLM-L6-v2", num_classes=3,
        pooling="pooled",
    )
    assert model.backbone.count_params() == 22_713_216
    with pytest.raises(ValueError, match=r"Received: preset='hf://no/such'"):
        BertClassifier.from_preset("hf://no/such")


def test_trainer_takes_bucketed_batches():
    texts = ["the movie", "a film was good , the movie is not dull"] * 4
    dataset = make_text_dataset(
        texts, [0, 1] * 4, text_preprocessor(vocabulary=VOCAB,
                                             sequence_length=16),
        batch_size=2, bucket_boundaries=(4, 8),
    )
    trainer = kerasft.Trainer(BertClassifier(tiny_backbone()))
    trainer.fit(dataset, epochs=1, verbose=0)
    assert trainer.trace_counts["train"] == 1  # one trace for all widths
