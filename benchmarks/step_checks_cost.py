"""Benchmark: the cost of the per-batch label check and the step guard.

The Trainer checks every batch's labels inside the compiled step and
names the first non-finite gradient when a step goes bad. The peer is the
Trainer before those checks (git revision `--base`, default d3cee48),
exported to a temporary folder and run from there; both run the same
models, data and settings in fresh processes, rounds interleaved (base,
current, base, current, ...), and the median steps/second over the rounds
is reported with the ratio current / base.

    python benchmarks/step_checks_cost.py --rounds 3

Settings: a FeedforwardNetwork and a ConvNetwork on 8,000 MNIST images
(batch 64; steps_per_execution 1 and 16, XLA off and on), where a step is
short and any per-step cost shows, and a token tagger (embedding + dense,
batch 32 x 128 tokens, labels with -100), whose labels are a whole
(batch, sequence) array.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = [("feedforward", 1, False), ("feedforward", 16, False),
            ("feedforward", 16, True), ("conv", 16, False),
            ("tagger", 1, False), ("tagger", 16, False)]


def _worker(epochs):
    """Runs in a fresh process; prints {setting: steps/s} as JSON."""
    import keras
    import numpy as np
    import tensorflow as tf

    import kerasft
    from kerasft import data

    images, labels = data.load_mnist_arrays(
        data.shared_dir() / "data" / "mnist")
    images = data.scale(images[:8000].astype("float32"))
    mnist = tf.data.Dataset.from_tensor_slices(
        (images, labels[:8000].astype("int64"))).batch(64).cache()
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 1000, size=(4000, 128)).astype("int32")
    tags = rng.integers(0, 9, size=(4000, 128)).astype("int64")
    tags[:, 0] = -100
    tagged = tf.data.Dataset.from_tensor_slices((tokens, tags)).batch(
        32).cache()

    results = {}
    for kind, spe, jit in SETTINGS:
        keras.utils.set_random_seed(0)
        if kind == "feedforward":
            model, dataset, loss = kerasft.FeedforwardNetwork(
                hidden_units=(256, 128), num_classes=10), mnist, None
        elif kind == "conv":
            model, dataset, loss = kerasft.ConvNetwork(
                filters=(32, 64), hidden_dim=128, num_classes=10), mnist, None
        else:
            model = keras.Sequential([
                keras.Input((128,), dtype="int32"),
                keras.layers.Embedding(1000, 64),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(9)])
            dataset = tagged
            loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=-100)
        trainer = kerasft.Trainer(model, optimizer="adam", loss=loss,
                                  steps_per_execution=spe, jit_compile=jit)
        trainer.fit(dataset, epochs=1, verbose=0)  # warm-up: traces
        steps = trainer.global_step
        start = time.perf_counter()
        trainer.fit(dataset, epochs=epochs, verbose=0)
        elapsed = time.perf_counter() - start
        results[f"{kind} spe={spe} xla={'on' if jit else 'off'}"] = (
            (trainer.global_step - steps) / elapsed)
    print("RESULTS " + json.dumps(results))


def _run(tree, epochs, shared):
    # The base tree lives in a temporary folder: point it at ../shared.
    env = dict(os.environ, PYTHONPATH=str(tree), TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_BACKEND="tensorflow", KERASFT_SHARED=str(shared))
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker",
         "--epochs", str(epochs)],
        cwd=tree, env=env, capture_output=True, text=True)
    if output.returncode:
        sys.exit(f"The run in {tree} failed:\n{output.stderr[-3000:]}")
    line = [x for x in output.stdout.splitlines()
            if x.startswith("RESULTS ")][-1]
    return json.loads(line[len("RESULTS "):])


def _shared_dir():
    from kerasft import data

    return data.shared_dir()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="d3cee48",
                        help="the revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", action="store_true",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.epochs)
        return
    with tempfile.TemporaryDirectory() as base_tree:
        archive = subprocess.run(["git", "archive", args.base, "kerasft"],
                                 cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", base_tree], input=archive.stdout,
                       check=True)
        shared = _shared_dir()
        runs = {"base": [], "current": []}
        for _ in range(args.rounds):
            runs["base"].append(_run(base_tree, args.epochs, shared))
            runs["current"].append(_run(REPO, args.epochs, shared))
    print(f"steps/s, median of {args.rounds} interleaved rounds "
          f"(base = {args.base})")
    print(f"  {'setting':<28} {'base':>8} {'current':>8} {'current/base':>13}")
    for setting in runs["base"][0]:
        base = statistics.median(r[setting] for r in runs["base"])
        current = statistics.median(r[setting] for r in runs["current"])
        print(f"  {setting:<28} {base:8.1f} {current:8.1f} "
              f"{current / base:12.3f}x")


if __name__ == "__main__":
    main()
