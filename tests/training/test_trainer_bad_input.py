"""Bad input to the Trainer: every case a clear error, at the step that
meets it, naming the value and where it was found."""

import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft.training import InvalidLabelError, NonFiniteLossError, Trainer

REPO = Path(__file__).resolve().parents[2]


def _mlp(num_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="relu", name="hidden"),
        keras.layers.Dense(num_classes, name="logits"),
    ])


def _data(n=64, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (np.abs(x[:, 0] * 3).astype("int64")) % num_classes
    return x, y


def _dataset(x, y, batch_size=16):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class _Snapshots(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.weights])


# ------------------------------------ labels: every batch, in the step
@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_a_bad_label_in_a_later_batch_names_value_batch_and_step(
        steps_per_execution):
    x, y = _data(64)
    y[37] = 5  # batch 3 (examples 32-47) of a 3-class model
    snapshots = _Snapshots()
    trainer = Trainer(_mlp(), steps_per_execution=steps_per_execution)
    with pytest.raises(InvalidLabelError) as info:
        trainer.fit(_dataset(x, y), epochs=2, verbose=0,
                    callbacks=[snapshots])
    message = str(info.value)
    assert "expected integers in [0, 3)" in message
    assert "label=5 in batch 3 of epoch 1 (step 3)" in message
    assert "Graph execution error" not in message
    # Steps 1 and 2 were applied, the bad step 3 was not.
    assert trainer.global_step == 2
    if steps_per_execution == 1:
        for weight, expected in zip(trainer.model.weights,
                                    snapshots.weights[1]):
            np.testing.assert_array_equal(weight.numpy(), expected)


def test_a_bad_label_in_the_second_epoch_under_xla():
    x, y = _data(48)
    dataset = _dataset(x, y).concatenate(
        _dataset(x[:16], np.full(16, -1, "int64")))
    trainer = Trainer(_mlp(), jit_compile=True)
    trainer.fit(_dataset(x, y), epochs=1, verbose=0)
    with pytest.raises(InvalidLabelError,
                       match=r"label=-1 in batch 4 of epoch 1 \(step 7\)"):
        trainer.fit(dataset, epochs=1, verbose=0)
    assert trainer.global_step == 6


def test_float_labels_that_are_not_class_ids_are_refused():
    x, y = _data(32)
    labels = y.astype("float32")
    labels[20] = 1.5
    trainer = Trainer(_mlp())
    with pytest.raises(InvalidLabelError, match=r"label=1.5 in batch 2"):
        trainer.fit(_dataset(x, labels), verbose=0)


def test_bad_labels_in_evaluate_and_validation_data_name_their_argument():
    x, y = _data(64)
    bad = y.copy()
    bad[50] = 7  # batch 4 of the evaluation data
    trainer = Trainer(_mlp())
    with pytest.raises(InvalidLabelError,
                       match=r"in `x` .*label=7 in batch 4 of the "
                             r"evaluation data"):
        trainer.evaluate(_dataset(x, bad))
    with pytest.raises(InvalidLabelError,
                       match=r"in `validation_data` .*label=7 in batch 4"):
        trainer.fit(_dataset(x, y), validation_data=_dataset(x, bad),
                    verbose=0)


def test_multi_label_targets_out_of_0_1_in_a_later_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    targets = (rng.random((48, 4)) > 0.5).astype("float32")
    targets[40, 2] = 2.0
    trainer = Trainer(_mlp(num_classes=4), loss="binary_crossentropy")
    with pytest.raises(InvalidLabelError,
                       match=r"multi-label targets .*each 0 or 1.*"
                             r"label=2 in batch 3"):
        trainer.fit(_dataset(x, targets), verbose=0)


def test_token_labels_ignore_minus_100_but_not_other_values():
    # (batch, 6) token ids -> (batch, 6, 4) tag logits.
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 50, size=(32, 6)).astype("int32")
    tags = rng.integers(0, 4, size=(32, 6)).astype("int64")
    tags[:, 0] = -100  # the [CLS] position carries no tag
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,), dtype="int32"),
                              keras.layers.Embedding(50, 8),
                              keras.layers.Dense(4)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                      ignore_class=-100)
    trainer = Trainer(model, loss=loss)
    trainer.fit(_dataset(tokens, tags, 8), verbose=0)  # -100 is fine
    tags[29, 3] = 4
    with pytest.raises(InvalidLabelError,
                       match=r"integers in \[0, 4\) or -100 \(ignored\).*"
                             r"label=4 in batch 4"):
        trainer.fit(_dataset(tokens, tags, 8), verbose=0)


BAD_LABEL_ON_REPLICA_1 = textwrap.dedent("""
    import numpy as np, tensorflow as tf
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2)
    import kerasft, keras
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = np.zeros(64, "int64")
    y[46] = 9  # batch 3, second half: replica 1
    trainer = kerasft.Trainer(
        lambda: kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=3),
        strategy=strategy)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    try:
        trainer.fit(data, epochs=1, verbose=0)
    except kerasft.training.InvalidLabelError as error:
        print("ERROR:", error)
    print("STEP:", trainer.global_step)
""")


def test_a_bad_label_on_the_second_replica_is_reported_by_value():
    result = subprocess.run(
        [sys.executable, "-c", BAD_LABEL_ON_REPLICA_1], cwd=REPO,
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "label=9 in batch 3 of epoch 1 (step 3)" in result.stdout
    assert "STEP: 2" in result.stdout


# --------------------------- NonFiniteLossError: the batch's own numbers
def test_nan_targets_report_the_batch_loss_not_the_running_mean():
    x, _ = _data(64)
    targets = x.sum(axis=1, keepdims=True)
    targets[40] = np.nan
    trainer = Trainer(_mlp(num_classes=1), loss="mse")
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(_dataset(x, targets), verbose=0)
    message = str(info.value)
    assert message.startswith("The loss became nan at step 3 (epoch 1, "
                              "batch 3): that batch's labels hold NaN")


def test_an_overflowing_loss_reports_inf_and_blames_no_label():
    x, _ = _data(64)
    targets = x.sum(axis=1, keepdims=True)
    targets[20] = 1e30  # finite, but its square overflows float32
    trainer = Trainer(_mlp(num_classes=1), loss="mse", steps_per_execution=4)
    with pytest.raises(NonFiniteLossError,
                       match=r"^The loss became inf at step 2 \(epoch 1, "
                             r"batch 2\)\. Training stopped"):
        trainer.fit(_dataset(x, targets), verbose=0)
    assert trainer.global_step == 1


@keras.saving.register_keras_serializable(package="kerasft_tests")
class SqrtOfZero(keras.layers.Layer):
    """Adds sqrt(w) with w = 0: a finite output, an infinite gradient."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="zeros", name="w")

    def call(self, inputs):
        return inputs + tf.sqrt(self.w)


def test_a_non_finite_gradient_with_a_finite_loss_names_the_variable():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3),
                              SqrtOfZero(name="sqrt_of_zero")])
    x, y = _data(32)
    trainer = Trainer(model)
    with pytest.raises(NonFiniteLossError,
                       match=r"^The gradient of '\w+/sqrt_of_zero/w' became "
                             r"NaN or inf at step 1 \(epoch 1, batch 1\), with "
                             r"a finite loss of [0-9.]+\."):
        trainer.fit(_dataset(x, y), verbose=0)
    assert trainer.global_step == 0


# ------------------------------------------------ batch sizes, everywhere
@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8"])
def test_fit_evaluate_predict_refuse_a_bad_batch_size(batch_size):
    x, y = _data(32)
    trainer = Trainer(_mlp())
    pattern = (r"`batch_size` must be an int >= 1 \(examples per batch\)\. "
               rf"Received: batch_size={batch_size!r}")
    with pytest.raises(ValueError, match=pattern.replace("'", "."),):
        trainer.fit(x, y, batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match=r"`batch_size` must be an int"):
        trainer.evaluate(x, y, batch_size=batch_size)
    with pytest.raises(ValueError, match=r"`batch_size` must be an int"):
        trainer.predict(x, batch_size=batch_size)
    with pytest.raises(ValueError, match=r"`batch_size` must be an int"):
        Trainer(_mlp(), batch_size=batch_size)
    assert trainer.global_step == 0


def test_a_batch_size_with_a_dataset_is_refused_not_ignored():
    x, y = _data(32)
    trainer = Trainer(_mlp())
    with pytest.raises(ValueError, match=r"`batch_size` must be None when "
                                         r"`x` is a tf.data.Dataset"):
        trainer.fit(_dataset(x, y), batch_size=8, verbose=0)
    with pytest.raises(ValueError, match=r"when `x` is a tf.data.Dataset"):
        trainer.predict(_dataset(x, y), batch_size=8)
    # With arrays, batch_size applies to them; a validation dataset keeps
    # its own batching.
    history = trainer.fit(x, y, batch_size=8, verbose=0,
                          validation_data=_dataset(x, y))
    assert "val_loss" in history.history and trainer.global_step == 4


# --------------------------------------- features the model does not take
def test_a_dict_for_a_single_input_model_says_what_the_data_yields():
    x, y = _data(32)
    data = tf.data.Dataset.from_tensor_slices(
        ({"x": x, "extra": x[:, :1]}, y)).batch(8)
    trainer = Trainer(kerasft.FeedforwardNetwork(hidden_units=(4,),
                                                 num_classes=3))
    with pytest.raises(ValueError) as info:
        trainer.fit(data, verbose=0)
    message = str(info.value)
    assert "cannot take the features the data yields" in message
    assert ("a dict {'extra': float32 (batch, 1), 'x': float32 (batch, 5)}"
            in message)


def test_flat_vectors_for_a_conv_network_say_what_the_data_yields():
    x = np.zeros((16, 784), "float32")
    y = np.zeros(16, "int64")
    trainer = Trainer(kerasft.ConvNetwork(num_classes=10))
    with pytest.raises(ValueError,
                       match=r"cannot take the features the data yields\. "
                             r"Received: one tensor float32 \(batch, 784\)"):
        trainer.fit(x, y, verbose=0)


def test_other_features_after_the_model_was_built_are_refused():
    x, y = _data(32)
    trainer = Trainer(_mlp())
    trainer.fit(x, y, verbose=0)
    with pytest.raises(ValueError,
                       match=r"yields other features than the model .* was "
                             r"built on\. Received: a dict \{'x': float32 "
                             r"\(batch, 5\)\}; the model takes one tensor "
                             r"float32 \(batch, 5\)"):
        trainer.evaluate({"x": x}, y)
    with pytest.raises(ValueError, match=r"`validation_data` yields other "
                                         r"features"):
        trainer.fit(x, y, verbose=0,
                    validation_data=(x[:, :, None], y))


# -------------------------------------------- the other arguments of fit
@pytest.mark.parametrize("kwargs, pattern", [
    ({"callbacks": keras.callbacks.History()},
     r"`callbacks` must be a list .* one callback, History; pass \[callback"),
    ({"callbacks": ["early_stopping"]},
     r"`callbacks` must be a list .*Received: \['str'\]"),
    ({"verbose": 3}, r"`verbose` must be 0 .*Received: verbose=3"),
    ({"steps_per_epoch": 0}, r"`steps_per_epoch` must be an int >= 1"),
    ({"validation_freq": 0}, r"`validation_freq` must be an int >= 1"),
    ({"initial_epoch": -1}, r"`initial_epoch` must be an int >= 0"),
    ({"epochs": 2.0}, r"`epochs` must be an int >= 1"),
    ({"validation_data": (np.zeros((4, 5)), np.zeros(4), np.ones(4))},
     r"`validation_data` must be .* tuple with 3 items"),
])
def test_fit_arguments_are_checked_before_training(kwargs, pattern):
    x, y = _data(32)
    trainer = Trainer(_mlp())
    with pytest.raises((ValueError, TypeError), match=pattern):
        trainer.fit(x, y, **kwargs)
    assert trainer.global_step == 0


@pytest.mark.parametrize("x, y, pattern", [
    ([[1.0, 2.0], [3.0]], [0, 1], r"must be a rectangular array"),
    (np.zeros((4, 5), "float32"), 1, r"one label per example .* y=1"),
    (np.float32(3.0), [1], r"an array of examples .* scalar x=3.0"),
    ({}, [1], r"`x` is an empty dict"),
    (np.zeros((4, 5), "float32"), np.array(["a", "b", "c", "d"], object),
     r"`y` must be numeric"),
])
def test_bad_arrays_are_clear_errors(x, y, pattern):
    trainer = Trainer(_mlp())
    with pytest.raises((ValueError, TypeError), match=pattern):
        trainer.fit(x, y, verbose=0)


# ------------------------------------------- the Trainer's own arguments
@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"metrics": "accuracy"}, TypeError,
     r"`metrics` must be a list .*Received: metrics='accuracy'; pass "
     r"\['accuracy'\]"),
    ({"metrics": ["accuracy", "f1", "Accuracy"]}, ValueError,
     r"`metrics` names \['accuracy'\] more than once"),
    ({"epochs": 3}, TypeError,
     r"Unknown Trainer argument\(s\) \['epochs'\] \(epochs, callbacks and "
     r"validation data go to fit\(\)\)\. Accepted settings: \['jit_compile'"),
    ({"jit_compile": "yes"}, TypeError,
     r"`jit_compile` must be True or False. Received: jit_compile='yes'"),
    ({"steps_per_execution": 0}, ValueError,
     r"`steps_per_execution` must be an int >= 1"),
])
def test_trainer_arguments_are_checked_before_the_model_is_built(
        kwargs, error, pattern):
    built = []

    def build():
        built.append(True)
        return _mlp()

    with pytest.raises(error, match=pattern):
        Trainer(build, **kwargs)
    assert not built
