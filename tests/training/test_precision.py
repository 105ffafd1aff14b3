"""Mixed precision in the Trainer: bfloat16 (TPUs), float16 with loss
scaling (GPUs), proved on the CPU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft.training import NonFiniteLossError, Trainer, components


@pytest.fixture
def policy(request):
    """Sets the global dtype policy for one test, then restores float32."""
    keras.mixed_precision.set_dtype_policy(request.param)
    yield request.param
    keras.mixed_precision.set_dtype_policy("float32")


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    return x, y


def _model():
    keras.utils.set_random_seed(0)
    return kerasft.FeedforwardNetwork(hidden_units=(32,), num_classes=2)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"],
                         indirect=True)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_mixed_precision_trains_with_float32_weights(policy, jit_compile):
    x, y = _data()
    trainer = Trainer(_model(), optimizer="adam", learning_rate=1e-2,
                      jit_compile=jit_compile, steps_per_execution=4,
                      metrics=["accuracy"])
    history = trainer.fit(x, y, batch_size=16, epochs=4, verbose=0)

    compute = policy.split("_")[1]
    assert {w.dtype for w in trainer.model.weights} == {"float32"}
    assert trainer.model(x[:2]).dtype == compute  # logits in low precision
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0]
    assert trainer.evaluate(x, y)["accuracy"] > 0.85
    # Loss scaling for float16 only: bfloat16 has float32's exponent range.
    scaled = isinstance(trainer.optimizer,
                        keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")


def test_get_optimizer_wraps_for_float16_only():
    assert isinstance(components.get_optimizer("sgd", loss_scale=True),
                      keras.optimizers.LossScaleOptimizer)
    assert isinstance(components.get_optimizer("sgd"), keras.optimizers.SGD)
    inner = keras.optimizers.Adam()
    wrapped = keras.optimizers.LossScaleOptimizer(inner)
    # An optimizer that already scales is not wrapped twice.
    assert components.get_optimizer(wrapped, loss_scale=True) is wrapped


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_float16_overflow_steps_are_skipped_and_training_goes_on(
        policy, jit_compile):
    x, y = _data()
    # 2**24 times the loss overflows float16 (max 65504) in the backward
    # pass: the first steps' gradients are inf. Each such step is skipped
    # and halves the scale, until the gradients fit.
    initial_scale = 2.0 ** 24
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.5), initial_scale=initial_scale)
    model = _model()
    start = [w.numpy().copy() for w in model.weights]
    after_first_step = []

    class FirstStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                after_first_step.extend(
                    w.numpy().copy() for w in self.model.weights)

    trainer = Trainer(model, optimizer=optimizer, jit_compile=jit_compile)
    history = trainer.fit(x, y, batch_size=8, epochs=3, verbose=0,
                          callbacks=[FirstStep()])  # no NonFiniteLossError

    skipped = int(round(np.log2(initial_scale /
                                float(optimizer.dynamic_scale))))
    assert skipped >= 1
    assert trainer.global_step == 36  # 12 batches x 3 epochs, all run
    # The inner optimizer counted only the steps it applied.
    assert int(optimizer.iterations) == 36 - skipped
    for before, after in zip(start, after_first_step):  # step 1 overflowed
        np.testing.assert_array_equal(before, after)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert all(np.all(np.isfinite(w.numpy())) for w in model.weights)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_float16_nan_loss_still_raises(policy):
    x, _ = _data(32)
    y = np.zeros(32, "float32")
    y[20] = np.nan  # third batch of 8
    keras.utils.set_random_seed(0)
    trainer = Trainer(kerasft.FeedforwardNetwork(hidden_units=(8,),
                                                 num_classes=1), loss="mse")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(NonFiniteLossError, match=r"at step 3 "):
        trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_float16_model_policy_alone_turns_loss_scaling_on():
    keras.utils.set_random_seed(0)
    model = kerasft.FeedforwardNetwork(hidden_units=(8,), num_classes=2,
                                       dtype="mixed_float16")
    trainer = Trainer(model, optimizer="sgd")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    x, y = _data(32)
    trainer.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert tf.dtypes.as_dtype(model(x[:1]).dtype) == tf.float16
