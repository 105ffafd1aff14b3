import re

import keras
import numpy as np
import pytest
from bert_test_helper import EMBEDDINGS
from bert_test_helper import HEAD
from bert_test_helper import LAYER
from bert_test_helper import POOLER
from bert_test_helper import snapshot
from bert_test_helper import tiny_classifier

from kerasft.finetuning import LayerwiseAdamW
from kerasft.finetuning import LinearWarmupDecay
from kerasft.finetuning import layerwise_learning_rate_factors

LEARNING_RATE = 1e-2


def test_factors_by_hand():
    model = tiny_classifier(num_layers=3)
    factors = layerwise_learning_rate_factors(model, layer_decay=0.5)
    assert set(factors) == {v.path for v in model.weights}
    # L = 3: embeddings 0.5 ** 4, layer i 0.5 ** (3 - i), pooler/head 1.
    assert factors["token_embedding/embeddings"] == 0.5**4
    assert factors["embeddings_layer_norm/gamma"] == 0.5**4
    assert factors["transformer_layer_0/self_attention_layer/query/kernel"] \
        == 0.5**3
    assert factors["transformer_layer_2/feedforward_output_dense/bias"] \
        == 0.5
    assert factors["pooled_dense/kernel"] == factors["logits/kernel"] == 1.0
    scalars = {}
    for variable in model.weights:
        factor = factors[variable.path]
        scalars[factor] = scalars.get(factor, 0) + int(np.prod(variable.shape))
    assert scalars == {0.0625: EMBEDDINGS, 0.125: LAYER, 0.25: LAYER,
                       0.5: LAYER, 1.0: POOLER + HEAD}


def one_step(optimizer, variables, gradients, start):
    """Applies one step from the `start` values; returns the updates."""
    for variable, value in zip(variables, start):
        variable.assign(value)
    optimizer.apply([keras.ops.convert_to_tensor(g) for g in gradients],
                    variables)
    return [v.numpy() - s for v, s in zip(variables, start)]


@pytest.fixture(scope="module")
def setup():
    model = tiny_classifier(num_layers=2)
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    # |g| in [0.5, 1.5]: Adam's first step is lr * g / (|g| + eps), so
    # lr per element when |g| >> eps.
    gradients = [
        (rng.choice([-1.0, 1.0], v.shape) * rng.uniform(0.5, 1.5, v.shape))
        .astype("float32")
        for v in variables
    ]
    factors = layerwise_learning_rate_factors(model, layer_decay=0.5)
    return model, variables, gradients, snapshot(variables), factors


def test_first_adam_step_scales_with_the_factor(setup):
    _, variables, gradients, start, factors = setup
    plain = one_step(
        keras.optimizers.AdamW(LEARNING_RATE, weight_decay=0.0),
        variables, gradients, start)
    layerwise = one_step(
        LayerwiseAdamW(LEARNING_RATE, layer_factors=factors,
                       weight_decay=0.0),
        variables, gradients, start)
    for variable, p, q in zip(variables, plain, layerwise):
        np.testing.assert_allclose(np.abs(p), LEARNING_RATE, rtol=1e-3)
        np.testing.assert_allclose(q, factors[variable.path] * p, rtol=1e-4,
                                   atol=1e-10, err_msg=variable.path)
    # Per block: update sizes in the ratio of the factors (L = 2).
    size = {v.path: np.abs(q).mean() for v, q in zip(variables, layerwise)}
    top = size["transformer_layer_1/self_attention_layer/query/kernel"]
    assert top == pytest.approx(0.5 * LEARNING_RATE, rel=1e-3)
    assert size["transformer_layer_0/self_attention_layer/query/kernel"] \
        == pytest.approx(top / 2, rel=1e-3)
    assert size["token_embedding/embeddings"] == pytest.approx(top / 4,
                                                               rel=1e-3)
    assert size["logits/kernel"] == pytest.approx(LEARNING_RATE, rel=1e-3)


def test_config_round_trip_gives_the_same_steps(setup):
    model, variables, gradients, start, factors = setup
    schedule = LinearWarmupDecay(LEARNING_RATE, warmup_steps=0,
                                 total_steps=10)
    optimizer = LayerwiseAdamW(schedule, layer_factors=factors,
                               default_factor=0.3, weight_decay=0.0)
    # What the Trainer does to extend an optimizer to new variables.
    copy = LayerwiseAdamW.from_config(optimizer.get_config())
    assert copy.layer_factors == factors
    assert copy.default_factor == 0.3
    assert isinstance(copy._learning_rate, LinearWarmupDecay)
    # Registered: deserializes by name.
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert type(restored) is LayerwiseAdamW
    for a, b in zip(one_step(optimizer, variables, gradients, start),
                    one_step(copy, variables, gradients, start)):
        np.testing.assert_array_equal(a, b)
    for variable, value in zip(variables, start):
        variable.assign(value)


def test_unlisted_variables_use_the_default_factor(setup):
    _, variables, gradients, start, _ = setup
    factors = {"logits/kernel": 1.0}
    updates = one_step(
        LayerwiseAdamW(LEARNING_RATE, layer_factors=factors,
                       default_factor=0.1, weight_decay=0.0),
        variables, gradients, start)
    for variable, update in zip(variables, updates):
        expected = 1.0 if variable.path == "logits/kernel" else 0.1
        np.testing.assert_allclose(np.abs(update), expected * LEARNING_RATE,
                                   rtol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layer_factors": {"logits/kernel": -1.0}},
         "`layer_factors['logits/kernel']` must be a number > 0. "
         "Received: layer_factors['logits/kernel']=-1.0"),
        ({"default_factor": 0}, "Received: default_factor=0"),
    ],
)
def test_bad_factors(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        LayerwiseAdamW(**kwargs)


def test_factors_of_another_model_are_refused(setup):
    _, variables, _, _, _ = setup
    optimizer = LayerwiseAdamW(layer_factors={"encoder/layer_0/w": 0.5})
    with pytest.raises(ValueError, match=re.escape(
        "None of the variables' paths is in `layer_factors`: they were "
        "computed for another model. Received: variable paths "
        "['token_embedding/embeddings'"
    )):
        optimizer.build(variables)


@pytest.mark.parametrize("layer_decay", [0, 1.5, "0.8"])
def test_bad_layer_decay(setup, layer_decay):
    with pytest.raises(ValueError, match=re.escape(
        f"`layer_decay` must be a number in (0, 1]. Received: "
        f"layer_decay={layer_decay!r}"
    )):
        layerwise_learning_rate_factors(setup[0], layer_decay)
