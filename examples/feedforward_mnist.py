"""
Title: A feed-forward network on MNIST
What it shows: a `FeedforwardNetwork` (an MLP, 784 -> 256 -> 128 -> 10)
    trained with the kerasft `Trainer` on real MNIST digits read from the IDX
    files, with a cosine-decayed Adam learning rate, then test accuracy,
    macro F1 and the confusion matrix.
Data: the 10,000-image MNIST t10k split in `../shared/data/mnist` (the
    60,000-image training split is not available offline). Fixed split: the
    first 8,000 images train, the last 2,000 test. Figures quoted below are
    on those 2,000 test images.
Time on CPU: about 10 s with the defaults (12 epochs) on 2 cores, plus
    TensorFlow's start-up.
Result: about 97% test accuracy (96.7-97.1% over the seeds tried).

    python examples/feedforward_mnist.py
    python examples/feedforward_mnist.py --epochs 30 --dropout 0.3
"""

# ## Setup
import argparse
import time

import kerasft  # first: selects the TensorFlow backend for Keras

# isort: split
import keras

from kerasft import data

NUM_TRAIN = 8000  # first 8,000 t10k images train, the last 2,000 test


# ## Data
def load_splits(data_dir, batch_size, seed):
    """Returns (train, test) batched datasets of the fixed 8,000 / 2,000
    split; pixels scaled from 0..255 to [0, 1]."""
    images, labels = data.load_mnist_arrays(data_dir)  # (10000, 28, 28, 1)
    images = data.scale(images)  # uint8 0..255 -> float32 [0, 1]
    train = data.make_dataset(
        images[:NUM_TRAIN], labels[:NUM_TRAIN], batch_size=batch_size,
        shuffle=True, seed=seed,
    )
    test = data.make_dataset(
        images[NUM_TRAIN:], labels[NUM_TRAIN:], batch_size=512, shuffle=False
    )
    return train, test


# ## Model
def build_model(dropout):
    # Flattens (batch, 28, 28, 1) to (batch, 784) itself; outputs logits.
    return kerasft.FeedforwardNetwork(
        hidden_units=(256, 128), num_classes=10, dropout=dropout
    )


# ## Train
def train(model, train_ds, epochs, learning_rate, verbose):
    # Cosine decay to 0 over the whole run: the last epochs take small
    # steps, so the final weights do not jump around between epochs.
    steps = epochs * int(train_ds.cardinality())
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    trainer = kerasft.Trainer(
        model,
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", "f1"],
        learning_rate=schedule,
        steps_per_execution=8,  # 8 steps per tf.function call
    )
    trainer.fit(train_ds, epochs=epochs, verbose=verbose)
    return trainer


# ## Evaluate
def evaluate(trainer, test_ds):
    results = trainer.evaluate(test_ds)
    print(f"Test accuracy (last 2,000 t10k images): {results['accuracy']:.4f}")
    print(f"Test macro F1:                          {results['f1']:.4f}")
    print("Confusion matrix (rows = true digit, columns = predicted):")
    print("       " + " ".join(f"{d:4d}" for d in range(10)))
    for digit, row in enumerate(results["confusion_matrix"].astype(int)):
        print(f"  {digit:2d}:  " + " ".join(f"{v:4d}" for v in row))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument(
        "--data-dir", default=str(data.shared_dir() / "data" / "mnist"),
        help="folder of the MNIST t10k IDX files (default: %(default)s)",
    )
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)

    start = time.time()
    keras.utils.set_random_seed(args.seed)  # weights, dropout, shuffling
    try:
        train_ds, test_ds = load_splits(args.data_dir, args.batch_size,
                                        args.seed)
    except FileNotFoundError as error:
        parser.error(str(error))
    model = build_model(args.dropout)
    trainer = train(model, train_ds, args.epochs, args.learning_rate,
                    args.verbose)
    results = evaluate(trainer, test_ds)
    print(f"Done in {time.time() - start:.0f} s.")
    return results


if __name__ == "__main__":
    main()
