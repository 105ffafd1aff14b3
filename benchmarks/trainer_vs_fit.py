"""Benchmark: kerasft.Trainer against keras.Model.fit, same run.

Same model, data (MNIST IDX, the first 8,000 images of ../shared), batch
size, optimizer (Adam 1e-3) and metric (accuracy) for both; only the loop
differs. Each measurement trains `--epochs` epochs after one warm-up epoch
(tracing excluded); rounds are interleaved so that both loops see the same
machine load, and the median over rounds is reported.

    python benchmarks/trainer_vs_fit.py --rounds 3

Prints steps/second for:
  fit(steps_per_execution=1)   Keras' default
  Trainer(steps_per_execution=1)   equal settings
  fit(steps_per_execution=N) vs Trainer(steps_per_execution=N)
and the ratios Trainer / fit.
"""

import argparse
import statistics
import time

import kerasft  # noqa: F401  (selects the TF backend)
import keras
import tensorflow as tf

from kerasft import data
from kerasft.models import ConvNetwork, FeedforwardNetwork


def build_model(kind):
    keras.utils.set_random_seed(0)
    if kind == "feedforward":
        return FeedforwardNetwork(hidden_units=(256, 128), num_classes=10)
    return ConvNetwork(filters=(32, 64), hidden_dim=128, num_classes=10)


def time_fit(kind, dataset, steps_per_execution, epochs):
    model = build_model(kind)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    model.fit(dataset, epochs=1, verbose=0)  # warm-up: traces
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def time_trainer(kind, dataset, steps_per_execution, epochs):
    trainer = kerasft.Trainer(
        build_model(kind),
        optimizer=keras.optimizers.Adam(1e-3),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    trainer.fit(dataset, epochs=1, verbose=0)
    start = time.perf_counter()
    trainer.fit(dataset, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="feedforward,conv")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps-per-execution", type=int, default=8)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    directory = args.data_dir or data.shared_dir() / "data" / "mnist"
    images, labels = data.load_mnist_arrays(directory)
    images = data.scale(images[:8000].astype("float32"))
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels[:8000]))
        .batch(args.batch_size)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = args.epochs * int(dataset.cardinality())
    n = args.steps_per_execution
    print(f"TF {tf.__version__}, Keras {keras.__version__}; batch "
          f"{args.batch_size}, {steps} timed steps per measurement, "
          f"{args.rounds} interleaved rounds, median steps/s")
    for kind in args.models.split(","):
        runs = {key: [] for key in ("fit_1", "trainer_1", "fit_n",
                                    "trainer_n")}
        for _ in range(args.rounds):
            runs["fit_1"].append(time_fit(kind, dataset, 1, args.epochs))
            runs["trainer_1"].append(
                time_trainer(kind, dataset, 1, args.epochs))
            runs["fit_n"].append(time_fit(kind, dataset, n, args.epochs))
            runs["trainer_n"].append(
                time_trainer(kind, dataset, n, args.epochs))
        rate = {key: steps / statistics.median(v) for key, v in runs.items()}
        print(f"\n{kind}")
        print(f"  fit      steps_per_execution=1 : {rate['fit_1']:8.1f}")
        print(f"  Trainer  steps_per_execution=1 : {rate['trainer_1']:8.1f}"
              f"  ratio {rate['trainer_1'] / rate['fit_1']:.2f}x (equal)")
        print(f"  fit      steps_per_execution={n} : {rate['fit_n']:8.1f}")
        print(f"  Trainer  steps_per_execution={n} : {rate['trainer_n']:8.1f}"
              f"  ratio {rate['trainer_n'] / rate['fit_n']:.2f}x (equal)")
        print(f"  Trainer(spe={n}) vs fit defaults (spe=1): "
              f"{rate['trainer_n'] / rate['fit_1']:.2f}x")


if __name__ == "__main__":
    main()
