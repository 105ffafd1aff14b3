"""Gradient accumulation over two CPU replicas (MirroredStrategy).

Run by test_gradient_accumulation.py in a fresh process, since logical
devices must be set up before TensorFlow starts:

    python tests/training/accumulation_script.py TMP_DIR

Prints one JSON line: the largest weight differences between two replicas
accumulating 2 batches of 8 (4 + 4 per replica) and one device on batches
of 16; between a run resumed mid-cycle and an uninterrupted one; and what
a NaN batch in the middle of a cycle changed.
"""

import json
import sys

import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasft  # noqa: E402


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (np.abs(x[:, 0] * 2 + x[:, 1]).astype("int64")) % 3
    return x, y


def make_trainer(strategy, steps):
    def build():
        keras.utils.set_random_seed(0)
        return kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=3)

    return kerasft.Trainer(build, optimizer="adam", learning_rate=0.01,
                           strategy=strategy,
                           gradient_accumulation_steps=steps)


def train(strategy, steps, batch, epochs=2, callbacks=None):
    trainer = make_trainer(strategy, steps)
    dataset = tf.data.Dataset.from_tensor_slices(data()).batch(batch)
    trainer.fit(dataset, epochs=epochs, verbose=0, callbacks=callbacks)
    return trainer


def values(variables):
    return [tf.convert_to_tensor(v).numpy().copy() for v in variables]


def largest_difference(a, b):
    return float(max(np.abs(p - q).max() for p, q in zip(a, b)))


def main(directory):
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    default = tf.distribute.get_strategy()
    big = values(train(default, 1, 16).model.weights)
    accumulated = values(train(mirrored, 2, 8).model.weights)

    # 8 batches of 8 per epoch with k=3: epoch 1 ends 2 batches into a
    # cycle; the sums are read across replicas and spread back on resume.
    uninterrupted = values(train(mirrored, 3, 8, epochs=3).model.weights)
    train(mirrored, 3, 8, epochs=1,
          callbacks=[kerasft.Checkpointer(f"{directory}/ckpt")])
    resumed = values(train(mirrored, 3, 8, epochs=3, callbacks=[
        kerasft.Checkpointer(f"{directory}/ckpt")]).model.weights)

    # A NaN in batch 6 of 8 examples: the second of the second cycle of 4.
    x, y = data()
    x[44] = np.nan
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    trainer = make_trainer(mirrored, 4)
    trainer.fit(dataset.take(5), epochs=1, verbose=0)
    state = lambda: values(  # noqa: E731
        trainer.model.weights + trainer.optimizer.variables
        + trainer.gradient_accumulator.variables)
    before = state()
    error = ""
    try:
        trainer.fit(dataset.skip(5), epochs=1, verbose=0)
    except kerasft.training.NonFiniteLossError as e:
        error = str(e)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "accumulated_vs_big_batch": largest_difference(accumulated, big),
        "resumed_vs_uninterrupted": largest_difference(resumed,
                                                       uninterrupted),
        "nan_step_changed": largest_difference(before, state()),
        "nan_error": error,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
