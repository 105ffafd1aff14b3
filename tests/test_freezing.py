import keras
import numpy as np
import pytest
from model_test_helper import run_training_step

from kerasft import freezing
from kerasft.models import ConvNetwork
from kerasft.models import FeedforwardNetwork

RNG = np.random.default_rng(0)


def make_model():
    """net: block(conv 3x3 1->8, bn(8)) -> pool -> dense(8->3).

    By hand: conv 3*3*1*8 + 8 = 80; bn 16 trainable (gamma, beta) + 16
    non-trainable (moving mean, variance); dense 8*3 + 3 = 27. Total 139:
    123 trainable, 16 non-trainable.
    """
    block = keras.Sequential(
        [
            keras.layers.Conv2D(8, 3, padding="same", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="block",
    )
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            block,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dense(3, name="dense"),
        ],
        name="net",
    )


def counts(model, max_depth=None):
    """{path: (trainable, non_trainable)} from a parameter report."""
    return {
        r.path: (r.trainable_params, r.non_trainable_params)
        for r in freezing.parameter_report(model, max_depth=max_depth)
    }


def trainable_ids(layer):
    return {id(v) for v in layer.trainable_weights}


def test_report_counts_by_hand():
    rows = freezing.parameter_report(make_model())
    assert [(r.path, r.depth, r.class_name) for r in rows] == [
        ("", 0, "Sequential"),
        ("block", 1, "Sequential"),
        ("block/conv", 2, "Conv2D"),
        ("block/bn", 2, "BatchNormalization"),
        ("pool", 1, "GlobalAveragePooling2D"),
        ("dense", 1, "Dense"),
    ]
    by_path = {r.path: r for r in rows}
    assert by_path[""].name == "net"
    assert counts(make_model()) == {
        "": (123, 16),
        "block": (96, 16),
        "block/conv": (80, 0),
        "block/bn": (16, 16),
        "pool": (0, 0),
        "dense": (27, 0),
    }
    assert by_path[""].total_params == 139
    assert by_path["block/bn"].total_params == 32
    assert by_path[""].share_percent == pytest.approx(100.0)
    assert by_path["dense"].share_percent == pytest.approx(100 * 27 / 139)
    assert not any(r.frozen for r in rows)


def test_report_of_a_feedforward_network():
    model = FeedforwardNetwork(hidden_units=(3,), num_classes=2)
    model.build((None, 4))
    assert counts(model) == {
        "": (23, 0),
        "flatten": (0, 0),
        "dense_0": (15, 0),  # Dense(4 -> 3)
        "logits": (8, 0),  # Dense(3 -> 2)
    }


def test_report_max_depth():
    rows = freezing.parameter_report(make_model(), max_depth=1)
    assert [r.path for r in rows] == ["", "block", "pool", "dense"]
    assert rows[1].trainable_params == 96  # the block still counts it all


def test_report_needs_a_built_model():
    with pytest.raises(ValueError, match="must be built first"):
        freezing.parameter_report(FeedforwardNetwork(hidden_units=(3,)))


def test_freeze_and_unfreeze_whole_model():
    model = make_model()
    assert freezing.freeze(model) == [""]
    assert model.trainable_weights == []
    assert counts(model)[""] == (0, 139)
    assert all(r.frozen for r in freezing.parameter_report(model))
    assert freezing.unfreeze(model) == [""]
    assert counts(model)[""] == (123, 16)


@pytest.mark.parametrize(
    "selector, frozen_paths",
    [
        ("bn", ["block/bn"]),  # a nested layer's name
        ("block/conv", ["block/conv"]),  # a path
        ("block/*", ["block/conv", "block/bn"]),  # a glob on paths
        ("d*", ["dense"]),  # a glob on names
        (0, ["block"]),  # a top-level index
        (-1, ["dense"]),
        (np.int64(2), ["dense"]),  # numpy ints too
        (["dense", 0], ["block", "dense"]),  # a list, reported parents first
    ],
)
def test_freeze_selectors(selector, frozen_paths):
    model = make_model()
    assert freezing.freeze(model, selector) == frozen_paths
    rows = freezing.parameter_report(model)
    frozen = {r.path for r in rows if r.frozen}
    expected = {
        p for p in counts(model) if any(
            p == f or p.startswith(f + "/") for f in frozen_paths
        )
    }
    assert frozen == expected
    after = counts(model)
    for path in frozen:
        trainable, non_trainable = after[path]
        assert trainable == 0
        assert non_trainable == sum(counts(make_model())[path])


def test_freeze_nested_batch_norm_by_hand():
    model = make_model()
    freezing.freeze(model, "bn")
    assert counts(model)["block/bn"] == (0, 32)
    assert counts(model)["block"] == (80, 32)
    assert counts(model)[""] == (107, 32)


@pytest.mark.parametrize(
    "selector, match",
    [
        (
            "nope",
            r"No layer matches 'nope'\. Available layers \(paths\): block, "
            r"block/conv, block/bn, pool, dense\. Received: layers='nope'",
        ),
        ("conv_*", r"No layer matches 'conv_\*'"),
        (3, r"out of range.*3 top-level layers \(0: block, 1: pool, 2: dense"),
        (-4, r"Received: layers=-4"),
        (1.5, r"Received: 1.5 \(float\)"),
        (True, r"Received: True \(bool\)"),
        ([], r"at least one layer"),
        (["dense", "nope"], r"No layer matches 'nope'"),
    ],
)
def test_bad_selectors(selector, match):
    model = make_model()
    with pytest.raises(ValueError, match=match):
        freezing.freeze(model, selector)
    with pytest.raises(ValueError, match=match):
        freezing.unfreeze(model, selector)
    assert counts(model)[""] == (123, 16)  # nothing changed on the way


def test_unfreeze_keeps_flags_consistent_unlike_setting_the_child():
    # What unfreeze() avoids: with the child's flag alone, the model trains
    # the conv while its parent says it is frozen and lists no weights.
    model = make_model()
    block = model.get_layer("block")
    conv = block.get_layer("conv")
    block.trainable = False
    conv.trainable = True
    assert trainable_ids(conv) <= trainable_ids(model)
    assert not block.trainable and block.trainable_weights == []
    # The report follows what the optimizer sees.
    assert counts(model)["block"] == (80, 32)

    freezing.unfreeze(model, "block/conv")
    assert block.trainable
    assert trainable_ids(block) == trainable_ids(conv) != set()
    assert not block.get_layer("bn").trainable
    assert counts(model)["block"] == (80, 32)


def test_unfreeze_child_of_frozen_parent():
    model = make_model()
    freezing.freeze(model, "block")
    assert freezing.unfreeze(model, "block/conv") == ["block/conv"]
    block = model.get_layer("block")
    assert block.trainable
    conv, bn = block.get_layer("conv"), block.get_layer("bn")
    assert trainable_ids(model) == trainable_ids(conv) | trainable_ids(
        model.get_layer("dense")
    )
    assert not bn.trainable
    assert counts(model) == {
        "": (107, 32),
        "block": (80, 32),
        "block/conv": (80, 0),
        "block/bn": (0, 32),
        "pool": (0, 0),
        "dense": (27, 0),
    }


def test_unfreeze_one_layer_of_a_frozen_model_trains_only_it():
    model = make_model()
    x = RNG.normal(size=(4, 6, 6, 1)).astype("float32")
    model(x)
    freezing.freeze(model)
    freezing.unfreeze(model, "dense")
    dense = model.get_layer("dense")
    assert model.trainable and not model.get_layer("block").trainable
    assert trainable_ids(model) == trainable_ids(dense) != set()

    block_before = model.get_layer("block").get_weights()
    run_training_step(model, x)  # asserts dense's weights moved
    for before, after in zip(
        block_before, model.get_layer("block").get_weights()
    ):
        np.testing.assert_array_equal(before, after)


def test_unfreeze_parent_unfreezes_its_whole_subtree():
    model = make_model()
    freezing.freeze(model, "block/bn")
    freezing.unfreeze(model, "block")
    assert counts(model)[""] == (123, 16)


def test_unfreeze_keeps_other_frozen_siblings():
    model = make_model()
    freezing.freeze(model, ["dense", "block"])
    freezing.unfreeze(model, "conv")
    assert not model.get_layer("dense").trainable
    assert counts(model)[""] == (80, 59)


def test_frozen_batch_norm_runs_in_inference_mode():
    model = make_model()
    x = RNG.normal(loc=3.0, size=(8, 6, 6, 1)).astype("float32")
    model(x)
    bn = model.get_layer("block").get_layer("bn")
    freezing.freeze(model, "bn")
    mean = bn.moving_mean.numpy().copy()
    np.testing.assert_allclose(
        model(x, training=True), model(x, training=False), rtol=1e-6
    )
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean)
    freezing.unfreeze(model, "bn")
    model(x, training=True)
    assert not np.allclose(bn.moving_mean.numpy(), mean)


def test_freeze_conv_network_extractor():
    model = ConvNetwork(filters=(8,), hidden_dim=4, num_classes=3)
    model.build((None, 8, 8, 1))
    freezing.freeze(model, "feature_extractor")
    assert not model.feature_extractor.trainable
    assert counts(model, max_depth=1) == {
        "": (36 + 15, 80),
        "feature_extractor": (0, 80),
        "head": (36 + 15, 0),
    }


def table_rows(text):
    """{first cell: remaining cells} of a formatted table, by whitespace."""
    rows = {}
    for line in text.splitlines():
        cells = line.replace(" *", "").split()
        if cells and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_format_parameter_report():
    model = make_model()
    freezing.freeze(model, "bn")
    text = freezing.format_parameter_report(freezing.parameter_report(model))
    rows = table_rows(text)
    assert rows["layer"] == [
        "class", "trainable", "non-trainable", "total", "%"
    ]
    assert rows["conv"] == ["Conv2D", "80", "0", "80", "57.6"]
    assert rows["bn"] == ["BatchNormalization", "0", "32", "32", "23.0"]
    assert rows["dense"] == ["Dense", "27", "0", "27", "19.4"]
    assert rows["total"] == ["(net)", "107", "32", "139", "100.0"]
    assert "bn *" in text and "conv *" not in text  # frozen marker
    assert "  conv" in text  # nested layers are indented


def test_format_thousands_and_rows_without_model_row():
    model = keras.Sequential(
        [keras.Input((100,)), keras.layers.Dense(50, name="big")], name="m"
    )
    rows = freezing.parameter_report(model)[1:]  # drop the model row
    rows_by_name = table_rows(freezing.format_parameter_report(rows))
    assert rows_by_name["big"][1:] == ["5,050", "0", "5,050", "100.0"]
    assert rows_by_name["total"] == ["5,050", "0", "5,050", "100.0"]


def test_compare_parameter_reports():
    model = make_model()
    before = freezing.parameter_report(model)
    freezing.freeze(model, "block")
    after = freezing.parameter_report(model, max_depth=1)
    text = freezing.compare_parameter_reports(
        {"before freeze": before, "after freeze": after}
    )
    rows = table_rows(text)
    assert "trainable: before freeze" in text
    assert "trainable: after freeze" in text
    assert rows["block"] == ["96", "0"]
    assert rows["conv"] == ["80", "-"]  # not in the max_depth=1 report
    assert rows["dense"] == ["27", "27"]
    assert rows["total"] == ["trainable", "123", "27"]
    assert "non-trainable: before freeze: 16  after freeze: 112" in text


def test_compare_needs_reports():
    with pytest.raises(ValueError, match="at least one label"):
        freezing.compare_parameter_reports({})
