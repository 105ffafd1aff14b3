"""Shared checks for kerasft models (see STYLE.md §1).

`tests/` is on sys.path (pytest puts the rootdir conftest's folder there), so
test modules import this as `from model_test_helper import run_model_test`.
"""

import inspect
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

import kerasft  # noqa: F401  (selects the TF backend before keras loads)

# Keys `keras.Model.get_config()` adds on top of the constructor arguments.
BASE_CONFIG_KEYS = {"name", "trainable", "dtype"}


def constructor_args(cls):
    """The named arguments of `cls.__init__` (without self and **kwargs)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name
        for p in params
        if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD
    }


def run_training_step(model, input_data, learning_rate=0.1):
    """One plain GradientTape SGD step; asserts every trainable weight moved.

    The loss is the mean squared output plus `model.losses`, so it needs no
    labels and reaches every weight that takes part in the forward pass.
    Returns the values of the trainable variables before the step.
    """
    variables = model.trainable_variables
    assert variables, "the model has no trainable variables"
    before = [v.numpy().copy() for v in variables]
    optimizer = keras.optimizers.SGD(learning_rate)
    with tf.GradientTape() as tape:
        outputs = model(input_data, training=True)
        loss = tf.reduce_mean(tf.square(outputs)) + tf.add_n(
            [tf.constant(0.0), *model.losses]
        )
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    for value, variable in zip(before, variables):
        assert not np.allclose(value, variable.numpy()), (
            f"{variable.path} did not change in a training step"
        )
    return before


def run_model_test(cls, init_kwargs, input_data, expected_output_shape):
    """Checks a model class on one input batch.

    Output shape; `get_config()` holding exactly the constructor arguments
    and round-tripping through `from_config()`; `.keras` save/load giving the
    same class, config and predictions; one training step moving every
    trainable weight. Returns the (trained) model.
    """
    model = cls(**init_kwargs)
    outputs = model(input_data)
    assert tuple(outputs.shape) == tuple(expected_output_shape)

    # get_config: exactly the constructor arguments, with the given values.
    config = model.get_config()
    assert set(config) - BASE_CONFIG_KEYS == constructor_args(cls)
    for key, value in init_kwargs.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert config[key] == expected, key
    restored = cls.from_config(config)
    assert restored.get_config() == config
    assert tuple(restored(input_data).shape) == tuple(expected_output_shape)

    # .keras save/load: same class, config and predictions.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    assert loaded.get_config() == config
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(input_data, training=False)),
        keras.ops.convert_to_numpy(model(input_data, training=False)),
        rtol=1e-6,
        atol=1e-6,
    )

    run_training_step(model, input_data)
    return model
