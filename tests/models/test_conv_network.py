import keras
import numpy as np
import pytest
from model_test_helper import run_model_test
from model_test_helper import run_training_step

from kerasft.models import ConvNetwork

RNG = np.random.default_rng(0)

SMALL = {"filters": (4, 8), "hidden_dim": 8, "num_classes": 5}


def random(*shape):
    return RNG.normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, input_shape",
    [
        # 8x8 digits: two poolings leave 2x2.
        ({**SMALL, "batch_norm": True, "dropout": 0.1}, (4, 8, 8, 1)),
        # 28x28 MNIST, average pooling, a linear head.
        ({**SMALL, "pooling": "avg", "hidden_dim": 0}, (2, 28, 28, 1)),
        # 32x32 RGB, three blocks, 5x5 kernels.
        ({"filters": [4, 4, 8], "kernel_size": 5, "num_classes": 3},
         (2, 32, 32, 3)),
    ],
)
def test_model_basics(init_kwargs, input_shape):
    run_model_test(
        ConvNetwork, init_kwargs, random(*input_shape),
        (input_shape[0], init_kwargs["num_classes"]),
    )


def test_parameter_counts_by_hand():
    model = ConvNetwork(
        filters=(8,), kernel_size=3, hidden_dim=4, num_classes=3
    )
    model.build((None, 8, 8, 1))
    conv = model.feature_extractor.get_layer("conv_0")
    assert conv.count_params() == 3 * 3 * 1 * 8 + 8  # 80
    assert model.head.get_layer("hidden").count_params() == 8 * 4 + 4
    assert model.head.get_layer("logits").count_params() == 4 * 3 + 3
    assert model.count_params() == 80 + 36 + 15


def test_batch_norm_blocks_have_no_conv_bias():
    model = ConvNetwork(filters=(8,), batch_norm=True, num_classes=2)
    model.build((None, 8, 8, 1))
    names = [layer.name for layer in model.feature_extractor.layers]
    assert names == [
        "conv_0", "batch_norm_0", "relu_0", "pool_0", "global_pool"
    ]
    assert model.feature_extractor.get_layer("conv_0").count_params() == 72
    bn = model.feature_extractor.get_layer("batch_norm_0")
    assert len(bn.trainable_weights) == 2  # gamma, beta (8 each)
    assert len(bn.non_trainable_weights) == 2  # moving mean, variance


def test_pooling_choice():
    avg = ConvNetwork(filters=(4,), pooling="avg", num_classes=2)
    assert isinstance(
        avg.feature_extractor.get_layer("pool_0"), keras.layers.AveragePooling2D
    )
    max_ = ConvNetwork(filters=(4,), pooling="max", num_classes=2)
    assert isinstance(
        max_.feature_extractor.get_layer("pool_0"), keras.layers.MaxPooling2D
    )


def test_linear_head_when_hidden_dim_is_zero():
    model = ConvNetwork(filters=(4, 6), hidden_dim=0, num_classes=3)
    model.build((None, 8, 8, 1))
    assert [layer.name for layer in model.head.layers] == ["logits"]
    assert model.head.count_params() == 6 * 3 + 3


def test_head_layers_with_dropout():
    model = ConvNetwork(filters=(4,), hidden_dim=8, dropout=0.2, num_classes=3)
    assert [layer.name for layer in model.head.layers] == [
        "dropout_0", "hidden", "dropout_1", "logits"
    ]


def test_image_size_may_change_but_channels_may_not():
    model = ConvNetwork(**SMALL)
    model(random(2, 8, 8, 1))
    assert model(random(3, 28, 28, 1)).shape == (3, 5)  # global pooling
    with pytest.raises(
        ValueError,
        match=r"built for images with 1 channel\(s\), input shape "
        r"\(None, 8, 8, 1\).*Received: inputs.shape=\(2, 8, 8, 3\)",
    ):
        model(random(2, 8, 8, 3))


def test_non_image_input_is_a_clear_error():
    model = ConvNetwork(**SMALL)
    with pytest.raises(
        ValueError,
        match=r"\(batch, height, width, channels\).*"
        r"Received: inputs.shape=\(2, 8, 8\)",
    ):
        model(random(2, 8, 8))


def test_summary_shows_nested_layers_with_shapes():
    model = ConvNetwork(
        filters=(4, 8), batch_norm=True, hidden_dim=8, num_classes=5
    )
    model.build((None, 28, 28, 1))
    lines = []
    model.summary(
        expand_nested=True, print_fn=lambda line, **_: lines.append(line)
    )
    text = "\n".join(lines)
    for name, shape in [
        ("feature_extractor", "(None, 8)"),
        ("conv_0", "(None, 28, 28, 4)"),
        ("pool_0", "(None, 14, 14, 4)"),
        ("conv_1", "(None, 14, 14, 8)"),
        ("pool_1", "(None, 7, 7, 8)"),
        ("global_pool", "(None, 8)"),
        ("head", "(None, 5)"),
        ("hidden", "(None, 8)"),
        ("logits", "(None, 5)"),
    ]:
        row = next(line for line in text.splitlines() if f"{name} " in line)
        assert shape in row, row
    assert "batch_norm_1" in text


def test_frozen_extractor_is_non_trainable_and_batch_norm_uses_moving_stats():
    model = ConvNetwork(
        filters=(4,), batch_norm=True, hidden_dim=8, num_classes=3
    )
    x = random(8, 8, 8, 1) * 3 + 2  # far from the initial stats (0, 1)
    model(x)
    bn = model.feature_extractor.get_layer("batch_norm_0")

    # Trainable: training=True normalizes with batch stats and updates them.
    mean_before = bn.moving_mean.numpy().copy()
    assert not np.allclose(model(x, training=True), model(x, training=False))
    assert not np.allclose(bn.moving_mean.numpy(), mean_before)

    model.feature_extractor.trainable = False
    extractor_ids = {id(v) for v in model.feature_extractor.weights}
    assert not extractor_ids & {id(v) for v in model.trainable_weights}
    assert len(model.trainable_weights) == 4  # head: hidden + logits
    mean_before = bn.moving_mean.numpy().copy()
    np.testing.assert_allclose(
        model(x, training=True), model(x, training=False), rtol=1e-6
    )
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean_before)

    # A training step moves the head only.
    extractor_before = model.feature_extractor.get_weights()
    run_training_step(model, x)
    for before, after in zip(
        extractor_before, model.feature_extractor.get_weights()
    ):
        np.testing.assert_array_equal(before, after)


def test_new_head_on_a_loaded_extractor(tmp_path):
    # Pretrain (one step), save, load: the quickstart's transfer path.
    model = ConvNetwork(
        filters=(4, 8), batch_norm=True, hidden_dim=8, num_classes=5
    )
    x = random(4, 8, 8, 1)
    model(x)
    run_training_step(model, x)
    model.save(tmp_path / "pretrained.keras")
    loaded = keras.saving.load_model(tmp_path / "pretrained.keras")

    new = loaded.with_new_head(num_classes=3, hidden_dim=16)
    assert new is not loaded and new.num_classes == 3 and new.hidden_dim == 16
    assert new(x).shape == (4, 3)
    old_weights = loaded.feature_extractor.get_weights()
    # Per block: kernel, gamma, beta, moving mean, moving variance.
    assert len(old_weights) == 10
    for old, copied in zip(old_weights, new.feature_extractor.get_weights()):
        np.testing.assert_array_equal(old, copied)
    np.testing.assert_allclose(
        new.feature_extractor(x, training=False),
        loaded.feature_extractor(x, training=False),
        rtol=1e-6,
    )
    # A copy, not a share: training the new model leaves the old one alone.
    assert new.feature_extractor.trainable
    new.feature_extractor.trainable = False
    run_training_step(new, x)
    for old, after in zip(old_weights, new.feature_extractor.get_weights()):
        np.testing.assert_array_equal(old, after)
    new.feature_extractor.trainable = True
    run_training_step(new, x)
    for old, kept in zip(old_weights, loaded.feature_extractor.get_weights()):
        np.testing.assert_array_equal(old, kept)


def test_new_head_needs_a_built_model():
    with pytest.raises(ValueError, match="must be built first"):
        ConvNetwork(**SMALL).with_new_head(num_classes=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": ()}, r"at least one value\. Received: filters=\(\)"),
        ({"filters": (8, -1)}, r"Received: filters=\(8, -1\)"),
        ({"kernel_size": 0}, r"`kernel_size`.*Received: kernel_size=0"),
        (
            {"pooling": "min"},
            r"`pooling` must be one of 'max', 'avg'\. Received: pooling='min'",
        ),
        ({"batch_norm": "yes"}, r"Received: batch_norm='yes'"),
        ({"hidden_dim": -1}, r"`hidden_dim`.*>= 0\. Received: hidden_dim=-1"),
        (
            {"dropout": 1.0},
            r"Received: dropout=1.0 \(expected 0 <= dropout < 1\)",
        ),
        ({"num_classes": 0}, r"Received: num_classes=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvNetwork(**kwargs)
