"""Benchmark: replicas, steps per call, XLA and bfloat16 in the Trainer.

Same model, data and global batch for every setting; one thing changes at a
time against the baseline (one device, steps_per_execution 1, XLA off,
float32):

  two devices      MirroredStrategy over two logical CPU devices
                   (`kerasft.distribute.split_cpu(2)`, same cores);
  spe 8            steps_per_execution=8 (8 steps per tf.function call);
  XLA              jit_compile=True;
  mixed_bfloat16   bfloat16 compute, float32 weights.

Models: the feed-forward network on MNIST (the first 8,000 test images of
../shared) and a small random BERT (2 layers, hidden 128, sequence 64) on
random token ids. Each measurement trains `--epochs` epochs after one
warm-up epoch (tracing and compilation excluded); rounds are interleaved so
that all settings see the same machine load, and the median is reported.
Not run in CI.

    python benchmarks/distribute_and_precision.py --rounds 3
"""

import argparse
import statistics
import time

import kerasft  # noqa: F401  (selects the TF backend)

# Logical devices must exist before TensorFlow starts.
kerasft.distribute.split_cpu(2)

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kerasft import data  # noqa: E402
from kerasft.models import BertClassifier, FeedforwardNetwork  # noqa: E402

# name: (two devices, steps_per_execution, jit_compile, dtype policy)
SETTINGS = {
    "baseline": (False, 1, False, "float32"),
    "two devices": (True, 1, False, "float32"),
    "spe 8": (False, 8, False, "float32"),
    "XLA": (False, 1, True, "float32"),
    "mixed_bfloat16": (False, 1, False, "mixed_bfloat16"),
}


def feedforward_data(batch_size, directory):
    images, labels = data.load_mnist_arrays(directory)
    images = data.scale(images[:8000].astype("float32"))
    return (tf.data.Dataset.from_tensor_slices((images, labels[:8000]))
            .batch(batch_size, drop_remainder=True).cache()
            .prefetch(tf.data.AUTOTUNE))


def bert_data(batch_size, num_examples=1024, sequence_length=64):
    rng = np.random.default_rng(0)
    features = {
        "token_ids": rng.integers(5, 1000, (num_examples, sequence_length)),
        "padding_mask": np.ones((num_examples, sequence_length)),
        "segment_ids": np.zeros((num_examples, sequence_length)),
    }
    features = {k: v.astype("int32") for k, v in features.items()}
    labels = rng.integers(0, 2, num_examples)
    return (tf.data.Dataset.from_tensor_slices((features, labels))
            .batch(batch_size, drop_remainder=True).cache()
            .prefetch(tf.data.AUTOTUNE))


def build_model(kind):
    keras.utils.set_random_seed(0)
    if kind == "feedforward":
        return FeedforwardNetwork(hidden_units=(256, 128), num_classes=10)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=128,
        intermediate_dim=512, max_sequence_length=64)
    return BertClassifier(backbone, num_classes=2)


def time_setting(kind, dataset, setting, epochs, strategies):
    two_devices, steps_per_execution, jit_compile, policy = setting
    strategy = strategies[two_devices]
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        trainer = kerasft.Trainer(
            lambda: build_model(kind), optimizer="adam",
            metrics=["accuracy"], strategy=strategy, jit_compile=jit_compile,
            steps_per_execution=steps_per_execution)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    trainer.fit(dataset, epochs=1, verbose=0)  # warm-up: traces, compiles
    start = time.perf_counter()
    trainer.fit(dataset, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="feedforward,bert")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="global batch of the feed-forward model")
    parser.add_argument("--bert-batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    strategies = {False: tf.distribute.OneDeviceStrategy("/cpu:0"),
                  True: kerasft.get_strategy("mirrored")}
    assert strategies[True].num_replicas_in_sync == 2
    print(f"TF {tf.__version__}, Keras {keras.__version__}; "
          f"{args.rounds} interleaved rounds, median steps/s over "
          f"{args.epochs} epochs after a warm-up epoch")
    for kind in args.models.split(","):
        if kind == "feedforward":
            dataset = feedforward_data(
                args.batch_size,
                args.data_dir or data.shared_dir() / "data" / "mnist")
            batch = args.batch_size
        else:
            dataset = bert_data(args.bert_batch_size)
            batch = args.bert_batch_size
        steps = args.epochs * int(dataset.cardinality())
        runs = {name: [] for name in SETTINGS}
        for _ in range(args.rounds):
            for name, setting in SETTINGS.items():
                runs[name].append(time_setting(kind, dataset, setting,
                                               args.epochs, strategies))
        rate = {name: steps / statistics.median(v)
                for name, v in runs.items()}
        print(f"\n{kind} (global batch {batch}, {steps} timed steps):")
        print("  setting           steps/s   vs baseline")
        for name in SETTINGS:
            print(f"  {name:<16} {rate[name]:8.1f}   "
                  f"{rate[name] / rate['baseline']:9.2f}x")


if __name__ == "__main__":
    main()
