"""Gradient accumulation: k batches of b make the update of one batch of k*b.

The update counts (optimizer iterations, learning-rate schedule, EMA,
global_step, TensorBoard's step axis, a Checkpointer's save_freq) count
optimizer updates, not batches, and a run resumed in the middle of an
accumulation cycle continues it exactly. The two-replica runs are in
`accumulation_script.py` (a fresh process with two logical CPUs).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft.training import masked_update

HERE = Path(__file__).resolve().parent


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (np.abs(x[:, 0] * 2 + x[:, 1]).astype("int64")) % 3
    return x, y


def _train(steps, batch, optimizer=None, epochs=2, callbacks=None,
           x=None, y=None, **config):
    """Trains a seeded MLP on unshuffled batches; returns (trainer, weights)."""
    keras.utils.set_random_seed(0)
    if x is None:
        x, y = _data()
    model = kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=3,
                                       dropout=0.0)
    trainer = kerasft.Trainer(
        model, optimizer=optimizer or keras.optimizers.Adam(0.01),
        gradient_accumulation_steps=steps, **config)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    trainer.fit(dataset, epochs=epochs, verbose=0, callbacks=callbacks)
    return trainer, [w.numpy() for w in model.trainable_variables]


def _assert_same(a, b, rtol=1e-5, atol=1e-6):
    for got, expected in zip(a, b):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("config", [
    {},
    {"steps_per_execution": 3},
    {"jit_compile": True},
    {"jit_compile": True, "steps_per_execution": 5},
], ids=["plain", "spe3", "xla", "xla-spe5"])
def test_four_batches_of_4_update_as_one_batch_of_16(config):
    big, big_weights = _train(1, 16, **config)
    small, small_weights = _train(4, 4, **config)
    assert big.global_step == small.global_step == 8  # 4 updates x 2 epochs
    assert int(small.optimizer.iterations) == 8
    _assert_same(small_weights, big_weights)
    # And it is not the same as updating on every batch of 4.
    _, every_batch = _train(1, 4, **config)
    assert not np.allclose(every_batch[0], big_weights[0], atol=1e-4)


def test_mixed_float16_loss_scaling_accumulates_the_same_update():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        _, big = _train(1, 16, optimizer=keras.optimizers.SGD(0.1))
        small, accumulated = _train(4, 4, optimizer=keras.optimizers.SGD(0.1))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert isinstance(small.optimizer, keras.optimizers.LossScaleOptimizer)
    assert small.global_step == 8
    _assert_same(accumulated, big, rtol=1e-2, atol=1e-3)  # float16 forward


def test_float16_overflow_in_one_batch_skips_the_whole_cycle():
    # 2**24 times the loss overflows float16 in the backward pass: as with
    # PyTorch's GradScaler, the cycle holding it is not applied and the
    # scale halves once per cycle, not once per batch.
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        optimizer = keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(0.1), initial_scale=2.0 ** 24)
        trainer, _ = _train(4, 4, optimizer=optimizer, epochs=1)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    scale = float(tf.convert_to_tensor(optimizer.dynamic_scale))
    applied = int(tf.convert_to_tensor(optimizer.iterations))
    halvings = int(round(np.log2(2.0 ** 24 / scale)))
    assert halvings >= 1
    assert applied + halvings == 4  # 4 cycles: skipped or applied


class LinearRate(keras.optimizers.schedules.LearningRateSchedule):
    """0.1 * (step + 1): a schedule counted in micro-batches would differ."""

    def __call__(self, step):
        return 0.1 * tf.cast(step + 1, "float32")

    def get_config(self):
        return {}


def test_learning_rate_schedule_counts_updates_not_batches():
    # Keras' own gradient_accumulation_steps reads the schedule at the
    # batch count (tested in Keras 3.15: lr(1) for the first update).
    _, big = _train(1, 16, optimizer=keras.optimizers.SGD(LinearRate()))
    small, accumulated = _train(4, 4,
                                optimizer=keras.optimizers.SGD(LinearRate()))
    _assert_same(accumulated, big)
    assert small.optimizer.learning_rate.numpy() == pytest.approx(0.9)


def test_ema_counts_updates_not_batches():
    def ema():
        return keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8)

    _, big = _train(1, 16, optimizer=ema())
    _, accumulated = _train(4, 4, optimizer=ema())
    _assert_same(accumulated, big)


def test_keras_optimizer_option_is_taken_over_by_the_trainer():
    optimizer = keras.optimizers.SGD(LinearRate(),
                                     gradient_accumulation_steps=4)
    _, big = _train(1, 16, optimizer=keras.optimizers.SGD(LinearRate()))
    trainer, accumulated = _train(1, 4, optimizer=optimizer)
    assert trainer.gradient_accumulator.steps == 4
    assert optimizer.gradient_accumulation_steps is None  # Keras' is off
    _assert_same(accumulated, big)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
    ({"gradient_accumulation_steps": 2.5}, "Received: gradient_accumulati"),
    ({"gradient_accumulation_steps": "4"}, "must be an int >= 1"),
    ({"gradient_accumulation_steps": 3,
      "optimizer": keras.optimizers.SGD(gradient_accumulation_steps=2)},
     "differ"),
])
def test_bad_accumulation_settings(kwargs, pattern):
    optimizer = kwargs.pop("optimizer", "adam")
    model = kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    with pytest.raises(ValueError, match=pattern):
        kerasft.Trainer(model, optimizer=optimizer, **kwargs)


def test_built_keras_optimizer_with_accumulation_is_refused():
    variable = keras.Variable(np.zeros(2, "float32"))
    optimizer = keras.optimizers.SGD(gradient_accumulation_steps=2)
    optimizer.build([variable])
    model = kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    with pytest.raises(ValueError, match="not built yet"):
        kerasft.Trainer(model, optimizer=optimizer)


def test_tensorboard_step_axis_and_checkpoint_save_freq_count_updates(
        tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    logger = kerasft.TensorBoardLogger(str(tmp_path / "logs"), update_freq=1)
    checkpointer = kerasft.Checkpointer(str(tmp_path / "ckpt"), save_freq=3,
                                        save_on_epoch_end=False,
                                        max_to_keep=10)
    trainer, _ = _train(4, 4, epochs=2, callbacks=[logger, checkpointer])
    assert trainer.global_step == 8
    events = event_accumulator.EventAccumulator(str(tmp_path / "logs" /
                                                    "train"))
    events.Reload()
    steps = [e.step for e in events.Tensors("batch_loss")]
    assert steps == list(range(1, 9))  # one point per update, not per batch
    saved = sorted(
        json.loads(manifest.read_text())["global_step"]
        for manifest in (tmp_path / "ckpt").glob("*/trainer_state.json"))
    assert saved == [3, 6]


def test_resume_in_the_middle_of_a_cycle_is_exact(tmp_path):
    # 64 examples in batches of 8 with k=3: 8 batches per epoch, so epoch 1
    # ends 2 batches into a cycle, and the checkpoint holds their sums.
    def run(epochs, directory):
        checkpointer = kerasft.Checkpointer(str(directory))
        return _train(3, 8, epochs=epochs, callbacks=[checkpointer])

    _, uninterrupted = _train(3, 8, epochs=3)
    first, _ = run(1, tmp_path / "ckpt")
    assert first.gradient_accumulator.position() == 2
    resumed, weights = run(3, tmp_path / "ckpt")  # a new model and Trainer
    assert resumed.global_step == 8  # 24 batches // 3
    _assert_same(weights, uninterrupted, rtol=1e-6, atol=1e-7)
    # Resuming with another setting is refused (a cycle is under way).
    with pytest.raises(ValueError, match="gradient_accumulation_steps=3"):
        _train(2, 8, epochs=4, callbacks=[
            kerasft.Checkpointer(str(tmp_path / "ckpt"))])


def test_nan_batch_mid_cycle_changes_no_weight_slot_or_sum():
    x, y = _data()
    x[20] = np.nan  # batch 5 (index 5): second batch of the second cycle
    keras.utils.set_random_seed(0)
    model = kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=3)
    trainer = kerasft.Trainer(model, optimizer="adam",
                              gradient_accumulation_steps=4)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    trainer.fit(dataset.take(5), epochs=1, verbose=0)  # 1 update + 1 batch
    state = [v.numpy().copy() for v in trainer.model.weights
             + trainer.optimizer.variables
             + trainer.gradient_accumulator.variables]
    with pytest.raises(kerasft.training.NonFiniteLossError,
                       match="(?i)nan"):
        trainer.fit(dataset.skip(5), epochs=1, verbose=0)
    after = [v.numpy() for v in trainer.model.weights
             + trainer.optimizer.variables
             + trainer.gradient_accumulator.variables]
    for old, new in zip(state, after):
        np.testing.assert_array_equal(old, new)
    assert trainer.global_step == 1


@pytest.mark.slow  # a fresh TF process with two logical CPUs: ~30 s
def test_mirrored_two_replicas_accumulate_as_one_device(tmp_path):
    output = subprocess.run(
        [sys.executable, str(HERE / "accumulation_script.py"),
         str(tmp_path)], capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert output.returncode == 0, output.stderr[-4000:]
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["accumulated_vs_big_batch"] < 1e-5
    assert result["resumed_vs_uninterrupted"] < 1e-5
    assert result["nan_step_changed"] == 0.0
    assert "NaN" in result["nan_error"] or "nan" in result["nan_error"]


# ------------------------------------------------- the masked update itself
OPTIMIZERS = {
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9,
                                                 nesterov=True),
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.1, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(0.1, weight_decay=0.1),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.1, momentum=0.5,
                                                centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adadelta": lambda: keras.optimizers.Adadelta(0.1),
    "adamax": lambda: keras.optimizers.Adamax(0.1),
    "nadam": lambda: keras.optimizers.Nadam(0.1),
    "lion": lambda: keras.optimizers.Lion(0.1),
    "lamb": lambda: keras.optimizers.Lamb(0.1),
    "ftrl": lambda: keras.optimizers.Ftrl(0.1, l1_regularization_strength=0.1),
    "adafactor": lambda: keras.optimizers.Adafactor(0.1),
    "ema": lambda: keras.optimizers.Adam(0.1, use_ema=True),
    "loss_scale": lambda: keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(0.1)),
    "layerwise_adamw": lambda: kerasft.finetuning.LayerwiseAdamW(
        0.1, layer_factors={}, default_factor=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_masked_update_skips_exactly_and_applies_exactly(name, jit):
    """Where the flag is False nothing changes, bit for bit (weights, every
    slot, the step count, the EMA, the loss scale); where True the update
    equals the optimizer's own."""
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=(4, 3)).astype("float32"),
               rng.normal(size=(3,)).astype("float32")]
    gradients = [tf.constant(rng.normal(size=(4, 3)).astype("float32")),
                 tf.constant(rng.normal(size=(3,)).astype("float32"))]

    def setup():
        variables = [keras.Variable(v) for v in initial]
        optimizer = OPTIMIZERS[name]()
        optimizer.build(variables)
        return variables, optimizer

    assert masked_update.is_maskable(setup()[1])
    variables, optimizer = setup()
    reference_vars, reference = setup()

    @tf.function(jit_compile=jit)
    def masked(flag):
        with masked_update.masked_updates(optimizer, flag):
            optimizer.apply(gradients, variables)

    @tf.function(jit_compile=jit)
    def plain():
        reference.apply(gradients, reference_vars)

    for flag, apply_reference in [(True, True), (False, False), (True, True),
                                  (False, False)]:
        before = [v.numpy().copy() for v in variables + optimizer.variables]
        masked(tf.constant(flag))
        if apply_reference:
            plain()
        after = [v.numpy() for v in variables + optimizer.variables]
        if not flag:
            for old, new in zip(before, after):
                np.testing.assert_array_equal(old, new)
        for got, expected in zip(variables + optimizer.variables,
                                 reference_vars + reference.variables):
            np.testing.assert_allclose(got.numpy(), expected.numpy(),
                                       rtol=1e-6, atol=1e-7)


def test_optimizer_outside_keras_takes_the_copying_path():
    class Custom(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign(variable - gradient)  # writes directly

    assert not masked_update.is_maskable(Custom())
    assert masked_update.is_maskable(keras.optimizers.SGD())
