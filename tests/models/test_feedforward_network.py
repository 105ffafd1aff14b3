import math

import keras
import numpy as np
import pytest
from model_test_helper import run_model_test

from kerasft.models import FeedforwardNetwork

RNG = np.random.default_rng(0)


def random(*shape):
    return RNG.normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, input_shape, expected_output_shape",
    [
        # An MLP with every option on, on flat features.
        (
            {"hidden_units": [8, 4], "num_classes": 3, "activation": "tanh",
             "dropout": 0.1, "l1": 1e-4, "l2": 1e-3},
            (4, 6),
            (4, 3),
        ),
        # Images are flattened; zero hidden layers = logistic regression.
        ({"hidden_units": (), "num_classes": 1}, (4, 8, 8), (4, 1)),
    ],
)
def test_model_basics(init_kwargs, input_shape, expected_output_shape):
    run_model_test(
        FeedforwardNetwork, init_kwargs, random(*input_shape),
        expected_output_shape,
    )


def numpy_activation(name, x):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    # Exact gelu, x * Phi(x), the Keras default (approximate=False).
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_forward_pass_matches_hand_computation(activation):
    model = FeedforwardNetwork(
        hidden_units=(3,), num_classes=2, activation=activation
    )
    model.build((None, 4))
    w1 = np.arange(12, dtype="float32").reshape(4, 3) / 10 - 0.5
    b1 = np.array([0.1, -0.2, 0.3], "float32")
    w2 = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.25]], "float32")
    b2 = np.array([0.05, -0.05], "float32")
    model.set_weights([w1, b1, w2, b2])
    x = np.array([[1.0, 2.0, -1.0, 0.5], [-0.3, 0.0, 0.7, -2.0]], "float32")

    hidden = numpy_activation(activation, x @ w1 + b1)
    expected = hidden @ w2 + b2  # logits: no output activation

    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)


def test_no_hidden_layers_is_linear():
    model = FeedforwardNetwork(hidden_units=(), num_classes=2)
    x = random(5, 2, 3)  # flattened to (5, 6)
    model.build(x.shape)
    assert [layer.name for layer in model.layers] == ["flatten", "logits"]
    w = random(6, 2)
    b = np.array([0.5, -1.0], "float32")
    model.set_weights([w, b])

    np.testing.assert_allclose(
        model(x), x.reshape(5, 6) @ w + b, rtol=1e-5, atol=1e-5
    )


def test_l2_penalty_is_l2_times_sum_of_squared_kernel():
    model = FeedforwardNetwork(hidden_units=(), num_classes=3, l2=0.01)
    model.build((None, 4))
    w = np.arange(12, dtype="float32").reshape(4, 3) / 4
    model.set_weights([w, np.ones(3, "float32")])  # the bias is not penalized

    (penalty,) = model.losses
    np.testing.assert_allclose(penalty, 0.01 * np.sum(w**2), rtol=1e-6)


def test_l1_l2_penalty_on_every_dense_kernel():
    model = FeedforwardNetwork(hidden_units=(3,), num_classes=2, l1=0.1, l2=0.2)
    model.build((None, 4))
    w1, w2 = random(4, 3), random(3, 2)
    model.set_weights([w1, np.zeros(3), w2, np.zeros(2)])

    expected = sum(0.1 * np.abs(w).sum() + 0.2 * (w**2).sum() for w in (w1, w2))
    np.testing.assert_allclose(sum(model.losses), expected, rtol=1e-5)


def test_no_penalty_without_l1_l2():
    model = FeedforwardNetwork(hidden_units=(3,), num_classes=2)
    model.build((None, 4))
    assert model.losses == []


def test_dropout_only_when_training():
    model = FeedforwardNetwork(hidden_units=(64,), num_classes=2, dropout=0.5)
    x = random(8, 4)
    assert [layer.name for layer in model.layers] == [
        "flatten", "dense_0", "dropout_0", "logits"
    ]
    np.testing.assert_allclose(model(x), model(x, training=False))
    assert not np.allclose(model(x, training=True), model(x, training=False))


def test_summary_lists_every_layer_with_shapes():
    model = FeedforwardNetwork(hidden_units=(8, 4), num_classes=3, dropout=0.2)
    model.build((None, 8, 8))
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    for name, shape in [
        ("flatten", "(None, 64)"),
        ("dense_0", "(None, 8)"),
        ("dropout_0", "(None, 8)"),
        ("dense_1", "(None, 4)"),
        ("dropout_1", "(None, 4)"),
        ("logits", "(None, 3)"),
    ]:
        row = next(line for line in text.splitlines() if f"{name} (" in line)
        assert shape in row, row
    assert "Total params: 571" in text  # 64*8+8 + 8*4+4 + 4*3+3


def test_wrong_feature_count_is_a_clear_error():
    model = FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    model(random(2, 64))
    with pytest.raises(
        ValueError,
        match=r"built for inputs of shape \(None, 64\).*"
        r"Received: inputs.shape=\(2, 63\)",
    ):
        model(random(2, 63))


def test_same_size_other_shape_is_an_error():
    # (8, 8) and (64,) flatten alike, but mixing them is almost surely a bug.
    model = FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    model(random(2, 8, 8))
    with pytest.raises(ValueError, match=r"\(None, 8, 8\).*\(2, 64\)"):
        model(random(2, 64))


def test_loaded_model_keeps_its_input_shape(tmp_path):
    model = FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    model(random(2, 6))
    model.save(tmp_path / "ffn.keras")
    loaded = keras.saving.load_model(tmp_path / "ffn.keras")
    with pytest.raises(ValueError, match=r"\(None, 6\).*\(3, 5\)"):
        loaded(random(3, 5))


def test_rank_1_input_is_a_clear_error():
    model = FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    with pytest.raises(
        ValueError, match=r"\(batch, features\).*Received: inputs.shape=\(64,\)"
    ):
        model(random(64))


def test_unknown_feature_dimension_is_a_clear_error():
    model = FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    with pytest.raises(
        ValueError, match=r"Received: input_shape=\(None, None\)"
    ):
        model.build((None, None))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"dropout": 1.5},
            r"Received: dropout=1.5 \(expected 0 <= dropout < 1\)",
        ),
        ({"dropout": 1.0}, r"Received: dropout=1.0 \(expected 0 <= dropout"),
        ({"dropout": -0.1}, r"Received: dropout=-0.1 \(expected 0 <= dropout"),
        (
            {"activation": "swish"},
            r"`activation` must be one of 'relu', 'sigmoid', 'tanh', 'gelu'\. "
            r"Received: activation='swish'",
        ),
        ({"activation": None}, r"Received: activation=None"),
        ({"num_classes": 0}, r"`num_classes`.*>= 1\. Received: num_classes=0"),
        ({"num_classes": 2.0}, r"Received: num_classes=2.0"),
        (
            {"hidden_units": (8, 0)},
            r"`hidden_units`.*Received: hidden_units=\(8, 0\)",
        ),
        ({"hidden_units": (8, -4)}, r"Received: hidden_units=\(8, -4\)"),
        ({"hidden_units": (8.5,)}, r"Received: hidden_units=\(8.5,\)"),
        ({"hidden_units": 8}, r"list or tuple.*Received: hidden_units=8"),
        ({"l1": -0.1}, r"`l1` must be a number >= 0\. Received: l1=-0.1"),
        ({"l2": -1}, r"`l2` must be a number >= 0\. Received: l2=-1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeedforwardNetwork(**kwargs)
