import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft import freezing
from kerasft.models import BertClassifier

# A tiny BERT: vocabulary V=30, hidden h=16, intermediate i=32, max
# sequence S=16, 2 segments, L layers, 2 classes. By hand:
V, H, I, S = 30, 16, 32, 16
EMBEDDINGS = V * H + S * H + 2 * H + 2 * H  # token, position, segment, norm
# Attention: query, key, value, output (h*h + h each); two layer norms
# (2h each); feed-forward h->i (h*i + i) and i->h (i*h + h).
LAYER = 4 * (H * H + H) + 2 * (2 * H) + (H * I + I) + (I * H + H)
POOLER = H * H + H
HEAD = H * 2 + 2
assert (EMBEDDINGS, LAYER, POOLER, HEAD) == (800, 2224, 272, 34)


def make_model(num_layers=3, pooling="pooled"):
    # "pooled": the pooler is part of the forward pass, so every block
    # trains; under "cls" / "mean" it is unused (see the test below).
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=V, num_layers=num_layers, num_heads=2, hidden_dim=H,
        intermediate_dim=I, max_sequence_length=S,
    )
    return BertClassifier(backbone, num_classes=2, pooling=pooling)


def trainable_by_block(model):
    return {r.block: r.trainable_params for r in freezing.block_report(model)}


def trained_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_block_report_matches_hand_counts():
    model = make_model(num_layers=3)
    rows = freezing.block_report(model)
    total = EMBEDDINGS + 3 * LAYER + POOLER + HEAD
    assert [(r.block, r.depth, r.total_params) for r in rows] == [
        ("embeddings", 0, EMBEDDINGS),
        ("transformer_layer_0", 1, LAYER),
        ("transformer_layer_1", 2, LAYER),
        ("transformer_layer_2", 3, LAYER),
        ("pooler", 4, POOLER),
        ("head", 5, HEAD),
    ]
    assert sum(r.total_params for r in rows) == model.count_params() == total
    assert rows[1].share_percent == pytest.approx(100 * LAYER / total)
    assert all(r.state == "trainable" for r in rows)
    # One transformer layer, checked against keras-hub's own layer.
    assert model.backbone.transformer_layers[0].count_params() == LAYER


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_a_pooler_the_pooling_does_not_use_is_not_trainable(pooling):
    # BERT's pooler (pooled_dense, H*H + H) feeds only pooled_output: under
    # cls or mean pooling it never gets a gradient, so it is not trained,
    # not counted as trainable, and reported as "unused".
    model = make_model(num_layers=3, pooling=pooling)
    total = EMBEDDINGS + 3 * LAYER + POOLER + HEAD
    assert trained_count(model) == total - POOLER
    pooler = model.backbone.get_layer("pooled_dense")
    assert {id(v) for v in model.unused_weights} == {
        id(v) for v in pooler.weights
    }
    rows = {r.block: r for r in freezing.block_report(model)}
    assert rows["pooler"].state == "unused"
    assert rows["pooler"].trainable_params == 0
    assert rows["pooler"].non_trainable_params == POOLER
    # Unfreezing everything does not bring it back: the pooling decides.
    freezing.unfreeze(model)
    assert trained_count(model) == total - POOLER
    # And a training step has a gradient for every variable it trains.
    features = {
        "token_ids": np.array([[2, 5, 6, 3]], "int32"),
        "segment_ids": np.zeros((1, 4), "int32"),
        "padding_mask": np.ones((1, 4), "int32"),
    }
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(features, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in gradients)


def test_freeze_backbone_and_unfreeze_top_layers_under_it():
    model = make_model(num_layers=3)
    backbone = model.backbone
    freezing.freeze_backbone(model)
    assert trained_count(model) == HEAD

    paths = freezing.unfreeze_transformer_layers(model, top=2)
    assert paths == [
        f"{backbone.name}/transformer_layer_1",
        f"{backbone.name}/transformer_layer_2",
    ]
    # The nesting rule, kept consistent: the backbone trains again, only the
    # picked layers under it do.
    assert backbone.trainable
    assert [la.trainable for la in backbone.transformer_layers] == [
        False, True, True,
    ]
    assert not backbone.get_layer("token_embedding").trainable
    assert not backbone.get_layer("pooled_dense").trainable
    assert trained_count(model) == 2 * LAYER + HEAD
    assert {id(v) for v in backbone.trainable_weights} == {
        id(v)
        for layer in backbone.transformer_layers[1:]
        for v in layer.weights
    }
    by_block = {r.block: r for r in freezing.block_report(model)}
    assert by_block["transformer_layer_0"].state == "frozen"
    assert by_block["transformer_layer_0"].non_trainable_params == LAYER
    assert by_block["transformer_layer_2"].state == "trainable"

    freezing.unfreeze_backbone(model)
    assert trained_count(model) == model.count_params()


def test_freeze_embeddings_and_all_but_the_top_layers():
    model = make_model(num_layers=3)
    frozen = freezing.freeze_embeddings(model)
    assert [p.split("/")[-1] for p in frozen] == [
        "token_embedding", "position_embedding", "segment_embedding",
        "embeddings_layer_norm",
    ]
    freezing.freeze_transformer_layers(model, keep_top=1)
    assert trainable_by_block(model) == {
        "embeddings": 0,
        "transformer_layer_0": 0,
        "transformer_layer_1": 0,
        "transformer_layer_2": LAYER,
        "pooler": POOLER,
        "head": HEAD,
    }
    freezing.unfreeze_embeddings(model)
    assert trainable_by_block(model)["embeddings"] == EMBEDDINGS
    assert trainable_by_block(model)["transformer_layer_0"] == 0


@pytest.mark.parametrize(
    "indices, frozen",
    [
        (0, [0]),
        (-1, [2]),
        ([0, -1], [0, 2]),
        (None, [0, 1, 2]),
    ],
)
def test_freeze_transformer_layers_by_index(indices, frozen):
    model = make_model(num_layers=3)
    freezing.freeze_transformer_layers(model, indices=indices)
    layers = model.backbone.transformer_layers
    assert [i for i, la in enumerate(layers) if not la.trainable] == frozen
    assert trained_count(model) == model.count_params() - len(frozen) * LAYER


def test_keep_top_all_freezes_nothing_and_top_zero_unfreezes_nothing():
    model = make_model(num_layers=2)
    assert freezing.freeze_transformer_layers(model, keep_top=2) == []
    freezing.freeze_backbone(model)
    assert freezing.unfreeze_transformer_layers(model, top=0) == []
    assert trained_count(model) == HEAD


def test_functions_work_on_a_bare_backbone():
    backbone = make_model(num_layers=2).backbone
    freezing.freeze_transformer_layers(backbone, keep_top=1)
    assert [r.block for r in freezing.block_report(backbone)] == [
        "embeddings", "transformer_layer_0", "transformer_layer_1", "pooler",
    ]
    freezing.freeze_backbone(backbone)
    assert not backbone.trainable
    freezing.unfreeze_transformer_layers(backbone, indices=-1)
    assert trained_count(backbone) == LAYER


def test_any_layer_by_name_or_glob():
    model = make_model(num_layers=3)
    freezing.freeze(model, "transformer_layer_*")
    assert trained_count(model) == EMBEDDINGS + POOLER + HEAD
    # A sublayer of a frozen layer, by glob over paths: only it trains.
    freezing.unfreeze(model, "*/transformer_layer_2/feedforward_*_dense")
    assert trained_count(model) == (
        EMBEDDINGS + POOLER + HEAD + (H * I + I) + (I * H + H)
    )


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_trainer_updates_only_what_is_unfrozen():
    model = make_model(num_layers=2)
    freezing.freeze_backbone(model)
    freezing.unfreeze_transformer_layers(model, top=1)
    before = {v.path: keras.ops.convert_to_numpy(v).copy()
              for v in model.weights}
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, V, size=(4, 8)).astype("int32")
    features = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": np.ones_like(token_ids),
    }
    dataset = tf.data.Dataset.from_tensor_slices(
        (features, np.array([0, 1, 0, 1]))
    ).batch(4)
    kerasft.Trainer(model, optimizer="adamw", learning_rate=1e-2).fit(
        dataset, epochs=1, verbose=0
    )
    trained = {id(v) for v in model.trainable_weights}
    for variable in model.weights:
        unchanged = np.array_equal(
            before[variable.path], keras.ops.convert_to_numpy(variable)
        )
        # The key bias gets no gradient: softmax ignores a shift per query.
        if id(variable) not in trained:
            assert unchanged, variable.path
        elif "key/bias" not in variable.path:
            assert not unchanged, variable.path


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: freezing.unfreeze_transformer_layers(m, indices=3),
         "Transformer layer index 3 is out of range: the backbone has 3 "
         "transformer layers (indices 0 to 2, or -3 to -1). Received: "
         "indices=3"),
        (lambda m: freezing.freeze_transformer_layers(m, indices=[0, -4]),
         "index -4 is out of range: the backbone has 3 transformer layers"),
        (lambda m: freezing.unfreeze_transformer_layers(m, top=4),
         "`top` must be an int from 0 to 3 (the backbone has 3 transformer "
         "layers). Received: top=4"),
        (lambda m: freezing.freeze_transformer_layers(m, keep_top=-1),
         "Received: keep_top=-1"),
        (lambda m: freezing.freeze_transformer_layers(m, [0], keep_top=1),
         "Pass `indices` or `keep_top`, not both"),
        (lambda m: freezing.unfreeze_transformer_layers(m, indices=[]),
         "Received: indices=[]"),
    ],
)
def test_bad_layer_indices(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call(make_model(num_layers=3))


def test_bad_index_type():
    with pytest.raises(TypeError, match=re.escape("Received: indices='1'")):
        freezing.freeze_transformer_layers(make_model(), indices="1")


def test_a_model_without_a_backbone_raises():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="has no encoder backbone"):
        freezing.freeze_backbone(model)
    with pytest.raises(ValueError, match="has no encoder backbone"):
        freezing.block_report(model)


def table_rows(text):
    """{first cell: remaining cells} of a formatted table, by whitespace."""
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if cells and not set(line) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_format_and_compare_block_reports():
    model = make_model(num_layers=2)
    reports = {"full": freezing.block_report(model)}
    freezing.freeze_backbone(model)
    reports["head-only"] = freezing.block_report(model)
    freezing.unfreeze_transformer_layers(model, top=1)
    reports["top-1"] = freezing.block_report(model)

    rows = table_rows(freezing.format_block_report(reports["top-1"]))
    assert rows["transformer_layer_1"] == [
        "2", f"{LAYER:,}", "0", f"{LAYER:,}", f"{100 * LAYER / 5554:.1f}",
        "trainable",
    ]
    assert rows["embeddings"][-1] == "frozen"

    text = freezing.compare_block_reports(reports)
    rows = table_rows(text)
    assert rows["block"] == [
        "depth", "trainable:", "full", "trainable:", "head-only",
        "trainable:", "top-1",
    ]
    assert rows["transformer_layer_0"] == ["1", f"{LAYER:,}", "0", "0"]
    assert rows["transformer_layer_1"] == ["2", f"{LAYER:,}", "0",
                                           f"{LAYER:,}"]
    assert rows["head"] == ["4", "34", "34", "34"]
    assert rows["total"] == ["trainable", "5,554", "34", f"{LAYER + 34:,}"]
    assert "top-1: 40.7%" in text  # (2,224 + 34) / 5,554
    with pytest.raises(ValueError, match=r"Received: reports=\{\}"):
        freezing.compare_block_reports({})


@pytest.mark.slow
@pytest.mark.shared
def test_minilm_blocks(minilm_dir):
    model = BertClassifier.from_preset(minilm_dir, num_classes=2)
    h, i, vocab, positions = 384, 1536, 30522, 512
    layer = 4 * (h * h + h) + 4 * h + (h * i + i) + (i * h + h)
    rows = {r.block: r.total_params for r in freezing.block_report(model)}
    assert rows == {
        "embeddings": vocab * h + positions * h + 2 * h + 2 * h,
        **{f"transformer_layer_{k}": layer for k in range(6)},
        "pooler": h * h + h,
        "head": h * 2 + 2,
    }
    assert layer == 1_774_464
    assert sum(rows.values()) - rows["head"] == 22_713_216


def test_unfreeze_everything_reaches_a_frozen_backbone():
    classifier = kerasft.BertClassifier(
        keras_hub.models.BertBackbone(
            vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=8),
        num_classes=2, pooling="pooled")
    total = classifier.count_params()
    kerasft.freeze_backbone(classifier)
    assert classifier.trainable  # the model's own flag never changed
    kerasft.unfreeze(classifier)
    assert sum(v.numpy().size for v in classifier.trainable_weights) == total


def test_freeze_everything_reaches_a_sublayer_unfrozen_under_a_frozen_model():
    classifier = kerasft.BertClassifier(
        keras_hub.models.BertBackbone(
            vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=8),
        num_classes=2)
    classifier.trainable = False
    classifier.head.trainable = True  # set directly, bypassing kerasft
    kerasft.freeze(classifier)
    # Every flag tells the truth afterwards, the head's too.
    assert not classifier.trainable_weights
    assert not classifier.head.trainable
    assert not classifier.head.kernel.trainable
