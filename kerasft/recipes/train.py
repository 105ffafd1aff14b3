"""`kerasft train` / `kerasft evaluate`: a model on a named dataset.

Dataset names:
  - `digits`: scikit-learn's bundled 8x8 digits (offline), seeded
    70/10/20 split.
  - `mnist`: the MNIST IDX files in `data_dir` (default
    `../shared/data/mnist`, the 10,000-image t10k split): the first 8,000
    images train (10% of them validate), the last 2,000 test.
  - `npz:PATH`: a NumPy `.npz` with arrays `x` and `y`, seeded 70/10/20.
  - `tfds:NAME`: a tensorflow-datasets set, its `train` and `test` splits,
    prepared in `data_dir` (default: tfds' own folder); nothing is
    downloaded, and an unknown or unprepared set is a one-line error.
  - `folder:PATH`: an image folder, one subfolder per class, 80/20 split.
"""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasft import data
from kerasft.checks import (
    check_batch_size,
    check_choice,
    check_int,
    check_keras_file,
)
from kerasft.data.tfds_loader import load_tfds_class_names
from kerasft.models import ConvNetwork, FeedforwardNetwork
from kerasft.training import Trainer

MODELS = ("feedforward", "conv")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of a `kerasft train` run.

    Args:
        model: `"feedforward"` or `"conv"`.
        dataset: a dataset name (see the module docstring).
        data_dir: folder of the data, where the dataset needs one.
        epochs: training epochs.
        batch_size: examples per step.
        learning_rate: the optimizer's learning rate.
        optimizer: `"adam"`, `"adamw"`, `"sgd"` or `"rmsprop"`.
        hidden_units: the feed-forward network's hidden layer sizes.
        dropout: dropout rate of the model.
        augment: random rotation / zoom / noise on training images.
        output_dir: where the model, logs and results go.
        seed: seeds splits, weights and shuffling.
        steps_per_execution: steps per compiled call.
    """

    model: str = "feedforward"
    dataset: str = "digits"
    data_dir: str | None = None
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    hidden_units: tuple = (256, 128)
    dropout: float = 0.1
    augment: bool = False
    output_dir: str = "runs/train"
    seed: int = 0
    steps_per_execution: int = 1

    def __post_init__(self):
        check_choice("model", self.model, MODELS)
        check_int("epochs", self.epochs)


@dataclasses.dataclass
class NamedData:
    """Batched train / validation / test datasets and what they hold."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int


def _array_splits(name, data_dir, seed):
    """Returns ((x, y) train, val, test) arrays scaled to [0, 1]."""
    if name == "digits":
        images, labels = data.load_digits_arrays()
        images = data.scale(images, input_range=(0, 16))
        return data.train_val_test_split(images, labels, 0.1, 0.2, seed=seed,
                                         stratify=True)
    if name == "mnist":
        directory = data_dir or data.shared_dir() / "data" / "mnist"
        images, labels = data.load_mnist_arrays(directory)
        images = data.scale(images.astype("float32"))
        (x, y), (x_test, y_test) = (images[:8000], labels[:8000]), (
            images[8000:], labels[8000:])
        train, val, _ = data.train_val_test_split(x, y, 0.1, 0.0, seed=seed)
        return train, val, (x_test, y_test)
    if name.startswith("npz:"):
        path = Path(name[4:])
        if not path.is_file():
            raise FileNotFoundError(
                f"No such .npz file. Received: dataset={name!r}")
        arrays = np.load(path)
        if "x" not in arrays or "y" not in arrays:
            raise ValueError(
                "The .npz file must hold arrays named 'x' and 'y'. "
                f"Received: arrays {sorted(arrays.files)} in {path}"
            )
        return data.train_val_test_split(arrays["x"], arrays["y"], 0.1, 0.2,
                                         seed=seed)
    return None


def load_named_dataset(name, data_dir=None, batch_size=64, seed=0,
                       augment=False):
    """Loads a dataset by name into batched, seeded splits.

    Args:
        name: `digits`, `mnist`, `npz:PATH`, `tfds:NAME` or `folder:PATH`.
        data_dir: folder of the data, where the dataset needs one.
        batch_size: int. Examples per batch.
        seed: int. Seeds the split and the shuffling.
        augment: bool. Random rotation / zoom / noise on training images.

    Returns:
        A `NamedData` with `train`, `validation`, `test`, `num_classes`.

    Example:
    >>> splits = load_named_dataset("digits", batch_size=32)
    >>> splits.num_classes
    10
    """
    batch_size = check_batch_size(batch_size)
    augmentation = (
        data.image_augmentation(rotation_factor=0.05, zoom_factor=0.1,
                                noise_stddev=0.02, seed=seed)
        if augment else None
    )
    arrays = _array_splits(name, data_dir, seed)
    if arrays is not None:
        train, val, test = arrays
        num_classes = int(max(part[1].max() for part in arrays)) + 1

        def batches(part, training):
            return data.make_dataset(
                *part, batch_size=batch_size, shuffle=training, seed=seed,
                augment=augmentation if training else None,
            )

        return NamedData(batches(train, True), batches(val, False),
                         batches(test, False), num_classes)
    if name.startswith("tfds:"):
        tfds_name = name[5:]
        # One-line errors for an unknown name (tfds lists all ~450).
        num_classes = len(load_tfds_class_names(tfds_name, data_dir))
        train = data.load_tfds(tfds_name, "train[:90%]", data_dir=data_dir)
        val = data.load_tfds(tfds_name, "train[90%:]", data_dir=data_dir)
        test = data.load_tfds(tfds_name, "test", data_dir=data_dir)
    elif name.startswith("folder:"):
        train, val = data.load_image_folder(
            name[7:], image_size=(64, 64), validation_split=0.2,
            subset="both", seed=seed,
        )
        num_classes = len(train.class_names)
        test = val
    else:
        raise ValueError(
            f"Unknown dataset. Received: dataset={name!r}. Expected "
            "'digits', 'mnist', 'npz:PATH', 'tfds:NAME' or 'folder:PATH'."
        )

    def prepare(dataset, training):
        dataset = dataset.map(
            lambda x, y: (data.scale(tf.cast(x, "float32")), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return data.make_dataset(
            dataset, batch_size=batch_size, shuffle=training, seed=seed,
            augment=augmentation if training else None,
        )

    return NamedData(prepare(train, True), prepare(val, False),
                     prepare(test, False), num_classes)


def build_model(config, num_classes):
    """Builds the model a `TrainConfig` names."""
    if config.model == "feedforward":
        return FeedforwardNetwork(hidden_units=config.hidden_units,
                                  num_classes=num_classes,
                                  dropout=config.dropout)
    return ConvNetwork(filters=(32, 64), hidden_dim=128,
                       dropout=config.dropout, num_classes=num_classes)


def run_train(config=TrainConfig(), verbose=1):
    """Trains, evaluates and saves a model; returns the test metrics.

    Writes `model.keras`, `history.csv`, `results.json` and TensorBoard
    logs (`logs/`) to `config.output_dir`.

    Args:
        config: a `TrainConfig`.
        verbose: 0 silent, 1 progress bars, 2 a line per epoch.

    Example:
    >>> results = run_train(TrainConfig(epochs=1, output_dir="/tmp/t"), 0)
    >>> results["accuracy"] > 0.5
    True
    """
    splits = load_named_dataset(config.dataset, config.data_dir,
                                config.batch_size, config.seed,
                                config.augment)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, splits.num_classes)
    trainer = Trainer(model, optimizer=config.optimizer,
                      learning_rate=config.learning_rate,
                      metrics=["accuracy", "precision", "recall", "f1"],
                      steps_per_execution=config.steps_per_execution)
    trainer.fit(
        splits.train, validation_data=splits.validation,
        epochs=config.epochs, verbose=verbose,
        callbacks=[
            keras.callbacks.TensorBoard(str(output_dir / "logs")),
            keras.callbacks.CSVLogger(str(output_dir / "history.csv")),
        ],
    )
    results = trainer.evaluate(splits.test)
    model.save(output_dir / "model.keras")
    _write_results(output_dir / "results.json", results,
                   dataclasses.asdict(config))
    return results


def run_evaluate(model_path, dataset="digits", data_dir=None, batch_size=64,
                 seed=0):
    """Evaluates a saved `.keras` classifier on a dataset's test split.

    Args:
        model_path: path to a `.keras` file.
        dataset: a dataset name, split as `kerasft train` splits it.
        data_dir: folder of the data, where the dataset needs one.
        batch_size: int. Examples per batch.
        seed: int. The seed the model was trained with (same test split).
    """
    # Checked before any loading: Keras calls a bad file "File not found".
    path = check_keras_file("model_path", model_path)
    check_batch_size(batch_size)
    model = keras.models.load_model(path)
    splits = load_named_dataset(dataset, data_dir, batch_size, seed)
    trainer = Trainer(model, metrics=["accuracy", "precision", "recall",
                                      "f1"])
    return trainer.evaluate(splits.test)


def _write_results(path, results, config):
    serializable = {
        k: (v.tolist() if hasattr(v, "tolist") else v)
        for k, v in results.items()
    }
    path.write_text(json.dumps({"results": serializable, "config": config},
                               indent=2, default=str))
