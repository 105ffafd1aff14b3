"""TextClassifier on every supported encoder family, on tiny presets saved
with keras-hub's own `save_to_preset` (tests/text_families.py)."""

import json
from pathlib import Path

import keras
import keras_hub
import numpy as np
import pytest
from text_families import FAMILIES, SENTENCE_PAIR, SENTENCES, tiny_preset

import kerasft
from kerasft import data, finetuning, freezing, presets
from kerasft.models import BertClassifier, TextClassifier

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The tiny presets' sizes (tests/text_families.py): hidden H, feed-forward
# F, max sequence S, 2 heads of 8, ALBERT's and ELECTRA's embedding E,
# DeBERTa's position buckets B, 2 layers (ALBERT: one shared group).
H, F, S, E, B, NUM_HEADS = 16, 32, 32, 8, 32, 2
HEAD_DIM = H // NUM_HEADS
# One transformer layer, any family: query, key, value, output (H*H + H
# each), two layer norms (2H each), feed-forward H->F and F->H.
LAYER = 4 * (H * H + H) + 2 * (2 * H) + (H * F + F) + (F * H + H)
POOLER = H * H + H
HEAD = H * 2 + 2  # two classes
# LoRA of rank 4 on a (H, heads, head_dim) query or value kernel.
LORA = 4 * H * NUM_HEADS + 4 * HEAD_DIM
assert (LAYER, POOLER, HEAD, LORA) == (2224, 272, 34, 160)


def embeddings(family, vocabulary_size):
    """The embedding block's size by hand, per family."""
    v = vocabulary_size
    if family == "bert":  # token, position, segment, layer norm
        return v * H + S * H + 2 * H + 2 * H
    if family in ("roberta", "xlm_roberta", "distil_bert"):
        return v * H + S * H + 2 * H  # token and position, layer norm
    if family in ("albert", "electra"):  # ... in E, then projected to H
        return v * E + S * E + 2 * E + 2 * E + (E * H + H)
    if family == "deberta_v3":  # token, norm; relative positions, norm
        return v * H + 2 * H + 2 * B * H + 2 * H
    raise AssertionError(family)


def num_layer_blocks(family):
    return 1 if family == "albert" else 2  # ALBERT shares one group


def has_pooler(family):
    return family in ("bert", "albert", "electra")


def tokenizer_size(family):
    return presets.load_tokenizer(tiny_preset(family)).vocabulary_size()


def classifier(family, **kwargs):
    # Not seeded: keras.utils.set_random_seed would clear TensorFlow's
    # kernel cache, and with it the SentencePiece resources of the cached
    # preprocessors (see kerasft.data.make_text_dataset).
    return TextClassifier.from_preset(tiny_preset(family), num_classes=2,
                                      **kwargs)


_CACHE = {}


def preprocessor(family):
    """The family's preprocessor at length 16, built once per family."""
    key = ("preprocessor", family)
    if key not in _CACHE:
        _CACHE[key] = data.text_preprocessor(tiny_preset(family),
                                             sequence_length=16)
    return _CACHE[key]


def batch(family):
    """SENTENCES tokenized: one batch of features, built once per family."""
    key = ("batch", family)
    if key not in _CACHE:
        dataset = data.make_text_dataset(
            SENTENCES, preprocessor=preprocessor(family),
            batch_size=len(SENTENCES), shuffle=False)
        _CACHE[key] = next(iter(dataset))
    return _CACHE[key]


@pytest.mark.parametrize("family", FAMILIES)
def test_from_preset_blocks_match_hand_counts(family):
    model = classifier(family)
    assert presets.family_of(model.backbone).name == family
    rows = freezing.block_report(model)
    emb = embeddings(family, tokenizer_size(family))
    layers = num_layer_blocks(family)
    expected = [("embeddings", emb)] + [
        (row.block, LAYER) for row in rows[1:1 + layers]
    ] + ([("pooler", POOLER)] if has_pooler(family) else []) + [
        ("head", HEAD)
    ]
    assert [(r.block, r.total_params) for r in rows] == expected
    assert sum(r.total_params for r in rows) == model.count_params()
    # Under the default "cls" pooling the pooler is unused, never trained.
    states = {r.block: r.state for r in rows}
    if has_pooler(family):
        assert states.pop("pooler") == "unused"
    assert set(states.values()) == {"trainable"}


STRATEGY_COUNTS = {
    # strategy: trainable scalars given (embeddings, layer blocks, family)
    "head_only": lambda emb, n, family: HEAD,
    "gradual": lambda emb, n, family: HEAD,  # its first stage
    "top_k": lambda emb, n, family: LAYER + HEAD,  # top_k=1
    "full": lambda emb, n, family: emb + n * LAYER + HEAD,
    "layerwise_lr": lambda emb, n, family: emb + n * LAYER + HEAD,
    # Query and value of each distinct layer (ALBERT's one group: 1).
    "lora": lambda emb, n, family: n * 2 * LORA + HEAD,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_strategy_trains_the_hand_counted_parameters(family):
    model = classifier(family)
    emb = embeddings(family, tokenizer_size(family))
    n = num_layer_blocks(family)
    # One model for all: each strategy starts from all-trainable, except
    # after "lora" (keras-hub cannot undo it), which comes last.
    assert finetuning.STRATEGIES[-1] == "lora"
    for strategy in finetuning.STRATEGIES:
        plan = finetuning.prepare_finetuning(model, strategy, top_k=1)
        expected = STRATEGY_COUNTS[strategy](emb, n, family)
        assert plan.trainable_params == expected, strategy
        assert sum(
            int(np.prod(v.shape)) for v in model.trainable_variables
        ) == expected, strategy


@pytest.mark.parametrize("family", FAMILIES)
def test_layerwise_factors_decay_from_the_head_to_the_embeddings(family):
    model = classifier(family)
    factors = finetuning.layerwise_learning_rate_factors(model, 0.5)
    blocks = freezing.encoder_blocks(model)
    n = num_layer_blocks(family)
    by_block = {
        b.name: {factors[v.path] for la in b.layers for v in la.weights}
        for b in blocks
    }
    assert by_block["embeddings"] == {0.5 ** (n + 1)}
    assert by_block[blocks[1].name] == {0.5**n}  # the bottom layer
    assert by_block["head"] == {1.0}


@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_and_predict_on_raw_strings(family, tmp_path):
    model = classifier(family, pooling="mean", class_names=["neg", "pos"])
    inputs = batch(family)
    expected = keras.ops.convert_to_numpy(model(inputs))

    # .keras round trip, in this process (a fresh one: tests/test_cli_*).
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is TextClassifier
    assert loaded.class_names == ("neg", "pos")
    assert loaded.pooling == "mean"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(inputs)), expected, atol=1e-6)

    # Raw strings in, the class names out, and sentence pairs.
    labels, probabilities = kerasft.predict_texts(
        loaded, SENTENCES, preprocessor(family), batch_size=2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        probabilities, keras.ops.convert_to_numpy(
            keras.ops.softmax(expected)), atol=1e-5)
    assert list(labels) == [
        ("neg", "pos")[i] for i in probabilities.argmax(axis=1)
    ]
    labels, probabilities = kerasft.predict_texts(
        loaded, SENTENCE_PAIR, preprocessor(family))
    assert probabilities.shape == (len(SENTENCE_PAIR[0]), 2)

    # The backbone as a keras-hub preset of its own family.
    model.save_backbone_preset(tmp_path / "preset", preprocessor(family))
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    assert config["class_name"] == presets.FAMILIES[family].backbone
    again = TextClassifier.from_preset(tmp_path / "preset", num_classes=2,
                                       pooling="mean")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again.pooled_features(inputs)),
        keras.ops.convert_to_numpy(model.pooled_features(inputs)),
        atol=1e-6,
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_adapters_round_trip(family, tmp_path):
    model = classifier(family)
    finetuning.prepare_finetuning(model, "lora", lora_rank=4)
    # Stand-in for training: move every trained variable.
    for variable in model.trainable_variables:
        variable.assign(variable + 0.01 * np.random.default_rng(0).normal(
            size=variable.shape).astype("float32"))
    inputs = batch(family)
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = finetuning.save_lora_weights(model, tmp_path / "a.lora.h5")
    fresh = classifier(family)
    finetuning.load_lora_weights(fresh, path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fresh(inputs)), expected, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_trainer_fits_bucketed_batches_and_caches_features(family):
    model = classifier(family)
    labels = [0, 1] * (len(SENTENCES) // 2) + [0] * (len(SENTENCES) % 2)
    train = data.make_text_dataset(SENTENCES, labels, preprocessor(family),
                                   batch_size=2, bucket_boundaries=(8,))
    before = [v.numpy().copy() for v in model.trainable_variables]
    trainer = kerasft.Trainer(model, optimizer="adamw", learning_rate=1e-2)
    history = trainer.fit(train, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Every trained variable moved, but maybe the attention's key bias: it
    # adds the same to every score of a query, which softmax cancels, so
    # its gradient is zero up to rounding (in BERT-like attention).
    unmoved = [
        v.path for b, v in zip(before, model.trainable_variables)
        if np.allclose(b, v.numpy())
    ]
    assert all(path.endswith("key/bias") for path in unmoved), unmoved
    # Feature caching: the frozen backbone's features, once, in order.
    kerasft.freeze_backbone(model)
    features, cached_labels = finetuning.cache_features(model, train)
    assert features.shape == (len(SENTENCES), H)
    assert sorted(cached_labels.tolist()) == sorted(labels)


def test_pooled_needs_a_family_with_a_pooler():
    with pytest.raises(ValueError, match=(
        r"`pooling='pooled'` needs a backbone with a pooler .* "
        r"RobertaBackbone has none: use 'cls' or 'mean'")):
        classifier("roberta", pooling="pooled")


def write_config(folder, config):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    "config, match",
    [
        ({"model_type": "gpt2"},
         r"Hugging Face 'gpt2' model, not one of the encoder families "
         r"kerasft fine-tunes \(bert, xlm_roberta, roberta, distil_bert, "
         r"albert, deberta_v3, electra\)"),
        ({"class_name": "ResNetBackbone"},
         r"keras-hub ResNetBackbone, not a backbone of one of the encoder "
         r"families"),
        ({"model_type": "deberta-v2"},
         r"'deberta-v2' model \(deberta_v3\), but keras-hub cannot convert "
         r"that family's Hugging Face checkpoints"),
    ],
)
def test_unsupported_presets_name_the_family_found(tmp_path, config, match):
    folder = write_config(tmp_path / "p", config)
    with pytest.raises(presets.UnsupportedPresetError, match=match):
        TextClassifier.from_preset(folder)
    with pytest.raises(presets.UnsupportedPresetError, match=match):
        data.text_preprocessor(folder)


def test_built_in_preset_names_resolve_without_loading():
    assert presets.preset_family("roberta_base_en").name == "roberta"
    assert presets.preset_family("xlm_roberta_base_multi").name == (
        "xlm_roberta")
    assert presets.preset_family("deberta_v3_small_en").name == "deberta_v3"
    with pytest.raises(presets.UnsupportedPresetError,
                       match="keras-hub 'gpt2' model"):
        presets.preset_family("gpt2_base_en")


def test_bert_classifier_keeps_to_bert():
    with pytest.raises(presets.UnsupportedPresetError, match=(
        r"The preset is a roberta model, not a bert: BertClassifier needs a "
        r"preset of keras_hub.models.BertBackbone; kerasft.TextClassifier "
        r"takes every family")):
        BertClassifier.from_preset(tiny_preset("roberta"))
    with pytest.raises(TypeError, match="must be a keras_hub.models.Bert"):
        BertClassifier(classifier("roberta").backbone)
    model = BertClassifier.from_preset(tiny_preset("bert"))
    assert isinstance(model, TextClassifier)


def test_a_keras_file_saved_by_kerasft_0_1_loads_with_the_same_logits():
    # Written by tests/fixtures/make_bert_classifier_v0_1.py at commit
    # ff39388, before TextClassifier existed.
    saved = np.load(FIXTURES / "bert_classifier_v0_1.npz")
    model = keras.saving.load_model(FIXTURES / "bert_classifier_v0_1.keras")
    assert type(model) is BertClassifier
    assert (model.num_classes, model.pooling, model.class_names) == (
        3, "mean", None)
    inputs = {k: saved[k] for k in ("token_ids", "segment_ids",
                                    "padding_mask")}
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(inputs)), saved["logits"],
        atol=1e-6)


def test_bad_class_names():
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=8)
    with pytest.raises(ValueError, match=(
        r"`class_names` must be 2 distinct strings, one per class "
        r"\(num_classes=2\). Received: class_names=\['a', 'a'\]")):
        TextClassifier(backbone, class_names=["a", "a"])
    with pytest.raises(TypeError, match="Received: class_names='ab'"):
        TextClassifier(backbone, class_names="ab")
