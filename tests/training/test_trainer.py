"""The Trainer's loop: equivalence with a hand loop, tracing, freezing,
callbacks, NaN handling and the errors bad input gets."""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft.training import NonFiniteLossError, Trainer


def _mlp(num_classes=3, seed=0, hidden=8, l2=0.0):
    keras.utils.set_random_seed(seed)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(hidden, activation="relu", name="hidden",
                               kernel_regularizer=regularizer),
            keras.layers.Dense(num_classes, name="logits"),
        ]
    )


def _data(n=100, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (np.abs(x[:, 0] * 3).astype("int64")) % num_classes
    return x, y


def _dataset(x, y, batch_size=16):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def test_one_epoch_equals_a_hand_written_sgd_loop():
    x, y = _data(40)
    trainer = Trainer(_mlp(l2=0.01), optimizer="sgd", learning_rate=0.1)
    trainer.fit(_dataset(x, y, 16), epochs=1, verbose=0)

    reference = _mlp(l2=0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for xb, yb in _dataset(x, y, 16):  # batches of 16, 16, 8
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, reference(xb, training=True))
            loss += tf.add_n(reference.losses)
        grads = tape.gradient(loss, reference.trainable_variables)
        for var, grad in zip(reference.trainable_variables, grads):
            var.assign_sub(0.1 * grad)
    for ours, theirs in zip(trainer.model.weights, reference.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    assert trainer.global_step == 3


def test_steps_per_execution_gives_the_same_weights_and_traces_once():
    x, y = _data(100)  # 7 batches of 16: the last one has 4 examples
    weights = []
    for steps_per_execution in (1, 3):
        trainer = Trainer(_mlp(), optimizer="adam",
                          steps_per_execution=steps_per_execution,
                          metrics=["accuracy"])
        trainer.fit(_dataset(x, y), epochs=3, verbose=0,
                    validation_data=_dataset(x, y))
        trainer.evaluate(_dataset(x, y))
        # One trace for the short last batch too, none per epoch.
        assert trainer.trace_counts["train"] == 1
        assert trainer.trace_counts["test"] == 1
        assert trainer.global_step == 21
        weights.append([w.numpy() for w in trainer.model.weights])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_metrics_see_probabilities_and_match_numpy():
    x, y = _data(64, num_classes=2)
    trainer = Trainer(_mlp(num_classes=1), loss="binary_crossentropy",
                      metrics=["accuracy", "precision", "recall", "f1"])
    results = trainer.evaluate(_dataset(x, y))
    logits = trainer.predict(x)[:, 0]
    predicted = (logits > 0).astype(int)  # sigmoid(logit) > 0.5
    assert results["accuracy"] == pytest.approx(np.mean(predicted == y))
    true_positives = np.sum((predicted == 1) & (y == 1))
    assert results["recall"] == pytest.approx(true_positives / np.sum(y == 1))
    matrix = results["confusion_matrix"]
    assert matrix.shape == (2, 2) and matrix.sum() == 64
    assert matrix[1, 1] == true_positives
    expected_loss = keras.losses.BinaryCrossentropy(from_logits=True)(
        y[:, None].astype("float32"), logits[:, None]
    )
    assert results["loss"] == pytest.approx(float(expected_loss), rel=1e-5)


def test_evaluate_loss_includes_regularization():
    x, y = _data(32)
    model = _mlp(l2=0.5)
    trainer = Trainer(model)
    results = trainer.evaluate(x, y, batch_size=32)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        y, model(x))
    l2 = 0.5 * np.sum(model.get_layer("hidden").kernel.numpy() ** 2)
    assert results["loss"] == pytest.approx(float(ce) + l2, rel=1e-5)


def test_freezing_between_fits_rebuilds_the_step_and_keeps_frozen_weights():
    x, y = _data(64)
    model = _mlp()
    trainer = Trainer(model, optimizer="adam")
    trainer.fit(_dataset(x, y), epochs=1, verbose=0)
    assert trainer.trace_counts["train"] == 1

    model.get_layer("hidden").trainable = False
    frozen = model.get_layer("hidden").kernel.numpy().copy()
    head = model.get_layer("logits").kernel.numpy().copy()
    trainer.fit(_dataset(x, y), epochs=1, verbose=0)
    assert trainer.trace_counts["train"] == 2
    np.testing.assert_array_equal(model.get_layer("hidden").kernel, frozen)
    assert not np.allclose(model.get_layer("logits").kernel, head)

    # Unfreezing again: the optimizer learns about the layer, keeps its step.
    steps_before = int(trainer.optimizer.iterations)
    model.get_layer("hidden").trainable = True
    trainer.fit(_dataset(x, y), epochs=1, verbose=0)
    assert trainer.trace_counts["train"] == 3
    assert not np.allclose(model.get_layer("hidden").kernel, frozen)
    assert int(trainer.optimizer.iterations) == steps_before + 4


def test_unfreezing_keeps_the_moments_of_already_trained_weights():
    x, y = _data(64)
    model = _mlp()
    model.get_layer("hidden").trainable = False
    trainer = Trainer(model, optimizer="adam")
    trainer.fit(_dataset(x, y), epochs=1, verbose=0)
    head_slots = {v.path: v.numpy().copy() for v in trainer.optimizer.variables
                  if "logits" in v.path}
    assert head_slots and any(np.abs(v).sum() > 0 for v in head_slots.values())

    model.get_layer("hidden").trainable = True
    trainer._sync_trainable_variables()
    new_slots = {v.path: v.numpy() for v in trainer.optimizer.variables}
    for path, value in head_slots.items():
        np.testing.assert_array_equal(new_slots[path], value)
    assert any("hidden" in path for path in new_slots)


def test_a_callback_that_freezes_at_an_epoch_start_takes_effect():
    class FreezeAtEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.get_layer("hidden").trainable = False
                self.snapshot = self.model.get_layer("hidden").kernel.numpy()

    x, y = _data(64)
    callback = FreezeAtEpoch()
    trainer = Trainer(_mlp())
    trainer.fit(_dataset(x, y), epochs=3, verbose=0, callbacks=[callback])
    np.testing.assert_array_equal(
        trainer.model.get_layer("hidden").kernel, callback.snapshot)
    assert trainer.trace_counts["train"] == 2


def test_nan_loss_raises_naming_the_step_and_keeps_last_good_weights():
    # A NaN target in the third batch of 16. (A NaN feature would not do:
    # TF's fused MatMul+BiasAdd+Relu turns NaN into 0 in graph mode.)
    x, y = _data(64)
    y = y.astype("float32")
    y[40] = np.nan
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append([w.numpy().copy() for w in self.model.weights])

    trainer = Trainer(_mlp(num_classes=1), loss="mse")
    with pytest.raises(NonFiniteLossError, match=r"at step 3 \(epoch 1"):
        trainer.fit(_dataset(x, y), epochs=2, verbose=0,
                    callbacks=[Snapshot()])
    last_good = snapshots[1]  # after step 2
    for weight, expected in zip(trainer.model.weights, last_good):
        np.testing.assert_array_equal(weight.numpy(), expected)
    assert trainer.global_step == 2


def test_terminate_on_nan_stops_quietly_with_finite_weights():
    x, y = _data(64)
    y = y.astype("float32")
    y[40] = np.nan
    trainer = Trainer(_mlp(num_classes=1), loss="mse", steps_per_execution=2)
    history = trainer.fit(_dataset(x, y), epochs=3, verbose=0,
                          callbacks=[keras.callbacks.TerminateOnNaN()])
    assert trainer.global_step == 2
    assert all(np.isfinite(w.numpy()).all() for w in trainer.model.weights)
    assert history.epoch == [0]


def test_early_stopping_csv_logger_and_model_checkpoint(tmp_path):
    x, y = _data(64)
    csv_path = tmp_path / "log.csv"
    checkpoint_path = tmp_path / "best.keras"
    trainer = Trainer(_mlp(), optimizer="sgd", learning_rate=1e-9,
                      metrics=["accuracy"])
    history = trainer.fit(
        _dataset(x, y),
        validation_data=_dataset(x, y),
        epochs=20,
        verbose=0,
        callbacks=[
            # With a learning rate of 1e-9 nothing improves by 0.1.
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                          min_delta=0.1),
            keras.callbacks.CSVLogger(str(csv_path)),
            keras.callbacks.ModelCheckpoint(str(checkpoint_path),
                                            monitor="val_loss",
                                            save_best_only=True),
        ],
    )
    assert history.epoch == [0, 1, 2]
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == 3
    assert {"epoch", "loss", "accuracy", "val_loss"} <= set(rows[0])
    assert float(rows[0]["loss"]) == pytest.approx(history.history["loss"][0])
    restored = keras.models.load_model(checkpoint_path)
    np.testing.assert_allclose(restored.predict(x, verbose=0),
                               trainer.predict(x), atol=1e-5)


def test_learning_rate_schedule_is_followed_and_logged():
    x, y = _data(64)
    schedule = keras.optimizers.schedules.PolynomialDecay(
        0.1, decay_steps=8, end_learning_rate=0.0)
    trainer = Trainer(_mlp(), optimizer="sgd", learning_rate=schedule)
    history = trainer.fit(_dataset(x, y), epochs=2, verbose=0)
    # After 4 and 8 steps: 0.1 * (1 - 4/8) and 0.
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.0])


def test_jit_compile_matches_the_graph_step():
    x, y = _data(64)
    weights = []
    for jit_compile in (False, True):
        trainer = Trainer(_mlp(), jit_compile=jit_compile,
                          metrics=["accuracy", "f1"])
        trainer.fit(_dataset(x, y), epochs=2, verbose=0)
        weights.append(trainer.model.get_layer("logits").kernel.numpy())
    np.testing.assert_allclose(weights[0], weights[1], atol=1e-4)


def test_model_factory_is_built_under_the_strategy_scope():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    trainer = Trainer(_mlp, strategy=strategy)
    x, y = _data(32)
    trainer.fit(x, y, batch_size=8, verbose=0)
    assert trainer.global_step == 4


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"optimizer": "adamax2"}, ValueError, r"optimizer='adamax2'"),
        ({"loss": "hinge_loss"}, ValueError, r"loss='hinge_loss'"),
        ({"metrics": ["acc2"]}, ValueError, r"'acc2'"),
        ({"learning_rate": -0.1}, ValueError, r"learning_rate=-0.1"),
        ({"steps_per_execution": 0}, ValueError, r"steps_per_execution=0"),
        ({"loss": keras.losses.SparseCategoricalCrossentropy()}, ValueError,
         r"from_logits=False"),
    ],
)
def test_bad_trainer_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Trainer(_mlp(), **kwargs)


def test_labels_out_of_range_fail_before_training():
    x, y = _data(32)
    model = _mlp()
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match=r"out of range.*label=3"):
        Trainer(model).fit(x, y + 1, verbose=0)  # 1-based labels
    for weight, value in zip(model.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_empty_and_unbatched_and_non_numeric_input():
    trainer = Trainer(_mlp())
    x, y = _data(8)
    with pytest.raises(ValueError, match=r"empty"):
        trainer.fit(_dataset(x, y).take(0), verbose=0)
    with pytest.raises(ValueError, match=r"not batched"):
        trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)), verbose=0)
    with pytest.raises(TypeError, match=r"must be numeric.*dtype <U"):
        trainer.fit(np.array([["a"] * 5] * 8), y, verbose=0)
    with pytest.raises(ValueError, match=r"len\(x\)=8, len\(y\)=7"):
        trainer.fit(x, y[:7], verbose=0)
    with pytest.raises(ValueError, match=r"epochs=0"):
        trainer.fit(x, y, epochs=0, verbose=0)


def test_fully_frozen_model_is_an_error():
    model = _mlp()
    model.trainable = False
    x, y = _data(8)
    with pytest.raises(ValueError, match=r"no trainable variables"):
        Trainer(model).fit(x, y, verbose=0)


def test_trainer_is_exported_at_top_level():
    assert kerasft.Trainer is Trainer


def test_nan_step_is_skipped_under_xla_too():
    x, y = _data(64)
    y = y.astype("float32")
    y[40] = np.nan  # third batch
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append([w.numpy().copy() for w in self.model.weights])

    trainer = Trainer(_mlp(num_classes=1), loss="mse", jit_compile=True)
    with pytest.raises(NonFiniteLossError, match=r"at step 3 "):
        trainer.fit(_dataset(x, y), epochs=1, verbose=0,
                    callbacks=[Snapshot()])
    for weight, expected in zip(trainer.model.weights, snapshots[1]):
        np.testing.assert_array_equal(weight.numpy(), expected)
    assert int(trainer.optimizer.iterations) == 2  # the bad step undone
