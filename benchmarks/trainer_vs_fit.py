"""Benchmark: kerasft.Trainer against keras.Model.fit, same run.

Same model, data (MNIST IDX, the first 8,000 images of ../shared), batch
size, optimizer (Adam 1e-3) and metric (accuracy) for both; only the loop
differs. Each measurement trains `--epochs` epochs after one warm-up epoch
(tracing excluded); rounds are interleaved so that both loops see the same
machine load, and the median over rounds is reported.

    python benchmarks/trainer_vs_fit.py --rounds 3

Prints steps/second and the ratio Trainer / fit for:
  equal settings: steps_per_execution 1 and N, XLA off and on, both loops;
  fit's defaults (steps_per_execution=1, jit_compile="auto", which is XLA
  on for these models) against the Trainer with steps_per_execution=N.
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


def time_fit(kind, dataset, steps_per_execution, epochs, jit_compile):
    model = build_model(kind)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    model.fit(dataset, epochs=1, verbose=0)  # warm-up: traces
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def time_trainer(kind, dataset, steps_per_execution, epochs, jit_compile):
    trainer = kerasft.Trainer(
        build_model(kind),
        optimizer=keras.optimizers.Adam(1e-3),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
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
    # (loop, steps_per_execution, jit_compile); "auto" is fit's default.
    settings = [("fit", 1, "auto")]
    for spe in (1, n):
        for jit in (False, True):
            settings += [("fit", spe, jit), ("Trainer", spe, jit)]
    timers = {"fit": time_fit, "Trainer": time_trainer}
    for kind in args.models.split(","):
        runs = {setting: [] for setting in settings}
        for _ in range(args.rounds):
            for loop, spe, jit in settings:
                runs[(loop, spe, jit)].append(
                    timers[loop](kind, dataset, spe, args.epochs, jit))
        rate = {key: steps / statistics.median(v) for key, v in runs.items()}
        default = rate[("fit", 1, "auto")]
        print(f"\n{kind}: fit defaults (spe=1, jit_compile='auto'): "
              f"{default:.1f} steps/s")
        print("  steps_per_execution  XLA    fit  Trainer  Trainer/fit  "
              "Trainer/fit-defaults")
        for spe in (1, n):
            for jit in (False, True):
                ours, theirs = rate[("Trainer", spe, jit)], rate[
                    ("fit", spe, jit)]
                print(f"  {spe:>19}  {'on' if jit else 'off':>3}  "
                      f"{theirs:5.1f}  {ours:7.1f}  {ours / theirs:10.2f}x  "
                      f"{ours / default:19.2f}x")

if __name__ == "__main__":
    main()
