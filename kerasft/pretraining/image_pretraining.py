"""Pretrain a conv feature extractor, then fine-tune it as a classifier.

Two ways to pretrain the extractor of a `ConvNetwork`:

- without labels: `pretrain_autoencoder` trains a `ConvAutoencoder` to
  reconstruct the images (optionally from noisy copies: a denoising
  autoencoder);
- with labels of another task: `pretrain_classifier` trains a `ConvNetwork`
  on a source task (e.g. digits 0-4).

Either model is saved and loaded with `model.save("x.keras")` /
`keras.saving.load_model`. `classifier_from_pretrained` puts its extractor
into a `ConvNetwork` with a new head for the target task, and
`finetune_classifier` trains that head with the extractor frozen
(`kerasft.freeze`), then everything with the extractor unfrozen
(`kerasft.unfreeze`), with the kerasft `Trainer`.

Example:
```python
import kerasft
from kerasft import data, pretraining

images, labels = data.load_digits_arrays()
images = data.scale(images, input_range=(0, 16))  # (1797, 8, 8, 1) in [0, 1]
autoencoder = pretraining.pretrain_autoencoder(
    images, kerasft.ConvAutoencoder(filters=(16, 32)), epochs=2)
autoencoder.save("/tmp/autoencoder.keras")
classifier = pretraining.classifier_from_pretrained(
    "/tmp/autoencoder.keras", num_classes=10, hidden_dim=32)
result = pretraining.finetune_classifier(
    classifier, images[:500], labels[:500], frozen_epochs=2,
    unfrozen_epochs=2)
result.trainer.evaluate(images[500:], labels[500:])["accuracy"]
```
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from kerasft import freezing
from kerasft.checks import (
    check_batch_size,
    check_int,
    check_keras_file,
    check_real,
)
from kerasft.data.arrays import check_arrays
from kerasft.data.checks import check_numeric_array
from kerasft.models._shapes import format_shape
from kerasft.models.conv_autoencoder import ConvAutoencoder
from kerasft.models.conv_network import ConvNetwork
from kerasft.training.trainer import Trainer

# The values each output activation of the autoencoder can reproduce.
_OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What `finetune_classifier` returns.

    Attributes:
        trainer: the `Trainer` of the last stage that ran (its `model` is
            the classifier); call `trainer.evaluate(images, labels)` on
            held-out data.
        frozen_history: dict of per-epoch logs of the frozen-extractor
            stage (empty when it had 0 epochs).
        unfrozen_history: dict of per-epoch logs of the unfrozen stage
            (empty when it had 0 epochs).
        frozen_trainable_params: int. Scalars that trained in the frozen
            stage (the head's).
        unfrozen_trainable_params: int. Scalars that trained in the unfrozen
            stage (all of the model's trainable weights).
    """

    trainer: Trainer
    frozen_history: dict
    unfrozen_history: dict
    frozen_trainable_params: int
    unfrozen_trainable_params: int


def pretrain_autoencoder(
    images,
    autoencoder=None,
    epochs=10,
    batch_size=64,
    learning_rate=1e-3,
    noise_stddev=0.0,
    validation_images=None,
    callbacks=None,
    verbose=0,
    seed=0,
):
    """Trains a `ConvAutoencoder` to reconstruct images without labels.

    Uses the kerasft `Trainer` with Adam and `loss="mse"`, on batches of
    `(inputs, images)`; the inputs are the images, plus Gaussian noise when
    `noise_stddev > 0` (a denoising autoencoder, which has to learn the
    shapes of strokes rather than copy pixels).

    Args:
        images: NumPy array `(num_images, height, width, channels)`, scaled
            for the autoencoder's `output_activation` ([0, 1] for
            `"sigmoid"`, [-1, 1] for `"tanh"`).
        autoencoder: a `ConvAutoencoder`, or None for
            `ConvAutoencoder()` (filters `(32, 64)`, linear output).
        epochs: int. Passes over `images`. Defaults to `10`.
        batch_size: int. Images per step. Defaults to `64`.
        learning_rate: float or a Keras `LearningRateSchedule`. Adam's
            rate. Defaults to `1e-3`.
        noise_stddev: float. Std of the noise added to the inputs (not the
            targets). Defaults to `0.0`.
        validation_images: NumPy array or None. Images whose reconstruction
            loss is reported each epoch (`val_loss`, `val_mae`).
        callbacks: list of `keras.callbacks.Callback` (e.g. TensorBoard).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        seed: int. Seeds the shuffling and the noise.

    Returns:
        The trained `ConvAutoencoder`; its per-epoch logs are in
        `autoencoder.history.history` (`loss`, `mae`).
    """
    if autoencoder is None:
        autoencoder = ConvAutoencoder()
    if not isinstance(autoencoder, ConvAutoencoder):
        raise TypeError(
            "`autoencoder` must be a kerasft ConvAutoencoder or None. "
            f"Received: autoencoder of type {type(autoencoder).__name__}"
        )
    images = _check_images(images, "images", autoencoder)
    _check_range(images, "images", autoencoder.output_activation)
    if validation_images is not None:
        validation_images = _check_images(
            validation_images, "validation_images", autoencoder)
    check_int("epochs", epochs, minimum=1)
    check_batch_size(batch_size)
    noise_stddev = check_real("noise_stddev", noise_stddev, low=0)

    train = _reconstruction_dataset(images, batch_size, shuffle=True,
                                    noise_stddev=noise_stddev, seed=seed)
    validation = None
    if validation_images is not None:
        validation = _reconstruction_dataset(
            validation_images, batch_size, shuffle=False)
    trainer = Trainer(autoencoder, optimizer="adam", loss="mse",
                      metrics=["mae"], learning_rate=learning_rate)
    trainer.fit(train, epochs=epochs, validation_data=validation,
                callbacks=callbacks, verbose=verbose)
    return autoencoder


def pretrain_classifier(
    images,
    labels,
    classifier=None,
    epochs=10,
    batch_size=64,
    learning_rate=1e-3,
    augment=None,
    validation_data=None,
    callbacks=None,
    verbose=0,
    seed=0,
):
    """Trains a `ConvNetwork` on a labelled source task (supervised).

    Args:
        images: NumPy array `(num_images, height, width, channels)`.
        labels: int array `(num_images,)`, class ids of the source task.
        classifier: a `ConvNetwork` with `num_classes` > the largest label,
            or None for `ConvNetwork(num_classes=labels.max() + 1)`.
        epochs: int. Passes over the data. Defaults to `10`.
        batch_size: int. Images per step. Defaults to `64`.
        learning_rate: float or a `LearningRateSchedule`. Adam's rate.
            Defaults to `1e-3`.
        augment: callable or None. `batch -> batch` on training images, e.g.
            `kerasft.data.image_augmentation(seed=0)`.
        validation_data: `(images, labels)` or None.
        callbacks: list of `keras.callbacks.Callback`.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        seed: int. Seeds the shuffling.

    Returns:
        The trained `ConvNetwork`; per-epoch logs in
        `classifier.history.history` (`loss`, `accuracy`).
    """
    check_batch_size(batch_size)
    if classifier is None:
        labels_array = np.asarray(labels)
        num_classes = int(labels_array.max()) + 1 if labels_array.size else 2
        classifier = ConvNetwork(num_classes=max(num_classes, 2))
    if not isinstance(classifier, ConvNetwork):
        raise TypeError(
            "`classifier` must be a kerasft ConvNetwork or None. "
            f"Received: classifier of type {type(classifier).__name__}"
        )
    check_int("epochs", epochs, minimum=1)
    train, validation = _classification_datasets(
        classifier, images, labels, validation_data, batch_size, augment,
        seed)
    trainer = _classification_trainer(classifier, learning_rate)
    trainer.fit(train, epochs=epochs, validation_data=validation,
                callbacks=callbacks, verbose=verbose)
    return classifier


def classifier_from_pretrained(pretrained, num_classes, hidden_dim=None,
                               dropout=None):
    """Returns a new `ConvNetwork` with a pretrained extractor, a new head.

    Args:
        pretrained: a `ConvAutoencoder` (its encoder becomes the
            extractor), a `ConvNetwork` (its extractor is copied, as
            `with_new_head` does), or the path of either saved as `.keras`.
            It must be built (trained, or called once).
        num_classes: int >= 2. Classes of the target task.
        hidden_dim: int or None. Hidden width of the new head; None keeps a
            `ConvNetwork`'s own and gives `128` for an autoencoder.
        dropout: float or None. Dropout of the new head; None keeps a
            `ConvNetwork`'s own and gives `0.0` for an autoencoder.

    Returns:
        A built, fully trainable `ConvNetwork` whose `feature_extractor`
        holds a copy of the pretrained weights.
    """
    check_int("num_classes", num_classes, minimum=2)
    if isinstance(pretrained, (str, os.PathLike)):
        # Keras calls a truncated or foreign file "File not found".
        pretrained = keras.saving.load_model(
            check_keras_file("pretrained", pretrained))
    if isinstance(pretrained, ConvAutoencoder):
        return pretrained.to_classifier(
            num_classes,
            hidden_dim=128 if hidden_dim is None else hidden_dim,
            dropout=0.0 if dropout is None else dropout,
        )
    if isinstance(pretrained, ConvNetwork):
        return pretrained.with_new_head(num_classes, hidden_dim=hidden_dim,
                                        dropout=dropout)
    raise TypeError(
        "`pretrained` must be a kerasft ConvAutoencoder, a ConvNetwork or "
        "the path of one saved as .keras. Received: pretrained of type "
        f"{type(pretrained).__name__}"
    )


def finetune_classifier(
    classifier,
    images,
    labels,
    frozen_epochs=5,
    unfrozen_epochs=5,
    learning_rate=1e-3,
    unfrozen_learning_rate=None,
    batch_size=32,
    augment=None,
    validation_data=None,
    callbacks=None,
    verbose=0,
    seed=0,
):
    """Fine-tunes a classifier: head alone, then the whole network.

    Stage 1 freezes `feature_extractor` (`kerasft.freeze`; its BatchNorm
    layers then keep their pretrained statistics) and trains the head, so
    that a random head does not send large gradients into the pretrained
    weights. Stage 2 unfreezes it (`kerasft.unfreeze`) and trains
    everything, usually at a lower rate. Each stage gets its own `Trainer`
    and Adam, so a learning-rate schedule starts at step 0 in each stage.
    (One Trainer could run both stages: it notices a changed trainable set
    and extends its optimizer; but its schedule would continue counting
    from stage 1's steps.)

    Args:
        classifier: a `ConvNetwork`, e.g. from `classifier_from_pretrained`.
        images: NumPy array `(num_images, height, width, channels)`.
        labels: int array `(num_images,)` in `[0, classifier.num_classes)`.
        frozen_epochs: int >= 0. Epochs of stage 1. Defaults to `5`.
        unfrozen_epochs: int >= 0. Epochs of stage 2. Defaults to `5`.
        learning_rate: float or a Keras `LearningRateSchedule` (e.g.
            `keras.optimizers.schedules.CosineDecay(2e-3, steps)`). Adam's
            rate in stage 1. Defaults to `1e-3`.
        unfrozen_learning_rate: float, schedule or None. Adam's rate in
            stage 2. None gives `learning_rate / 10` (a float
            `learning_rate` only).
        batch_size: int. Images per step. Defaults to `32`.
        augment: callable or None. `batch -> batch` on training images.
        validation_data: `(images, labels)` or None.
        callbacks: list of `keras.callbacks.Callback`, used in both stages.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        seed: int. Seeds the shuffling.

    Returns:
        A `FinetuneResult`: the stage-2 trainer (stage 1's without stage
        2), each stage's history and trainable parameter count. The
        classifier is left unfrozen.
    """
    if not isinstance(classifier, ConvNetwork):
        raise TypeError(
            "`classifier` must be a kerasft ConvNetwork. Received: "
            f"classifier of type {type(classifier).__name__}"
        )
    check_int("frozen_epochs", frozen_epochs, minimum=0)
    check_int("unfrozen_epochs", unfrozen_epochs, minimum=0)
    if frozen_epochs + unfrozen_epochs == 0:
        raise ValueError(
            "`frozen_epochs` + `unfrozen_epochs` must be at least 1. "
            f"Received: frozen_epochs={frozen_epochs}, "
            f"unfrozen_epochs={unfrozen_epochs}"
        )
    _check_learning_rate("learning_rate", learning_rate)
    if unfrozen_learning_rate is None:
        if not isinstance(learning_rate, (int, float)):
            raise ValueError(
                "`unfrozen_learning_rate` is needed when `learning_rate` is "
                "a schedule. Received: unfrozen_learning_rate=None, "
                f"learning_rate={learning_rate!r}"
            )
        unfrozen_learning_rate = learning_rate / 10
    _check_learning_rate("unfrozen_learning_rate", unfrozen_learning_rate)
    train, validation = _classification_datasets(
        classifier, images, labels, validation_data, batch_size, augment,
        seed)
    if not classifier.built:  # so that freezing can count its weights
        classifier.build((None, *train.element_spec[0].shape[1:]))

    def fit(epochs, rate):
        trainer = _classification_trainer(classifier, rate)
        history = trainer.fit(train, epochs=epochs, validation_data=validation,
                              callbacks=callbacks, verbose=verbose)
        return trainer, dict(history.history)

    frozen_history, unfrozen_history = {}, {}
    freezing.freeze(classifier, "feature_extractor")
    frozen_params = _count(classifier.trainable_weights)
    if frozen_epochs:
        trainer, frozen_history = fit(frozen_epochs, learning_rate)
    freezing.unfreeze(classifier, "feature_extractor")
    unfrozen_params = _count(classifier.trainable_weights)
    if unfrozen_epochs:
        trainer, unfrozen_history = fit(unfrozen_epochs,
                                        unfrozen_learning_rate)
    return FinetuneResult(
        trainer=trainer,
        frozen_history=frozen_history,
        unfrozen_history=unfrozen_history,
        frozen_trainable_params=frozen_params,
        unfrozen_trainable_params=unfrozen_params,
    )


# --- Helpers -----------------------------------------------------------------


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def _check_learning_rate(name, value):
    if isinstance(value, keras.optimizers.schedules.LearningRateSchedule):
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
    ):
        raise ValueError(
            f"`{name}` must be a positive number or a keras "
            f"LearningRateSchedule. Received: {name}={value!r}"
        )


def _check_images(images, name, model):
    """Returns images as a float32 array `(n, h, w, c)` the model accepts."""
    images = check_numeric_array(images, name=name)
    if images.ndim != 4:
        raise ValueError(
            f"`{name}` must be images of shape (num_images, height, width, "
            "channels); add a channels axis to grayscale images, e.g. "
            f"x[..., None]. Received: {name} with shape {images.shape}"
        )
    built = model._built_input_shape  # (None, H, W, C) once built
    if built is not None and images.shape[-1] != built[-1]:
        raise ValueError(
            f"`{name}` must have {built[-1]} channel(s), as the "
            f"{model.__class__.__name__} was built for input shape "
            f"{format_shape(built)}. Received: {name} with shape "
            f"{images.shape}"
        )
    if (
        built is not None
        and getattr(model, "bottleneck", None) == "global"
        and images.shape[1:3] != built[1:3]
    ):
        raise ValueError(
            f"`{name}` must be {built[1]}x{built[2]} images: the "
            "autoencoder's decoder (bottleneck='global') was sized for "
            f"input shape {format_shape(built)}. Received: {name} with "
            f"shape {images.shape}"
        )
    if images.dtype != np.float32:
        images = images.astype(np.float32)
    return images


def _check_range(images, name, output_activation):
    """The sigmoid / tanh output cannot reconstruct values out of range."""
    if output_activation not in _OUTPUT_RANGES:
        return  # "linear" reproduces any value
    low, high = _OUTPUT_RANGES[output_activation]
    found_low, found_high = float(images.min()), float(images.max())
    if found_low < low or found_high > high:
        raise ValueError(
            f"`{name}` must lie in [{low:g}, {high:g}], the range of the "
            f"autoencoder's output_activation='{output_activation}'. "
            f"Received: {name} with values in [{found_low:g}, "
            f"{found_high:g}]. Scale them first (kerasft.data.scale) or "
            "use output_activation='linear'."
        )


def _reconstruction_dataset(images, batch_size, shuffle, noise_stddev=0.0,
                            seed=0):
    """Batches of `(inputs, targets)`, both `(batch, h, w, c)`.

    The targets are the images themselves: built in the map rather than
    stored twice with `from_tensor_slices((images, images))`.
    """
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed,
                                  reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if noise_stddev > 0:
        generator = tf.random.Generator.from_seed(seed)

        def corrupt(x):
            noise = generator.normal(tf.shape(x), stddev=noise_stddev)
            return x + noise, x

        dataset = dataset.map(corrupt)
    else:
        dataset = dataset.map(lambda x: (x, x))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _classification_trainer(classifier, learning_rate):
    return Trainer(classifier, optimizer="adam", learning_rate=learning_rate,
                   metrics=["accuracy"])


def _classification_datasets(classifier, images, labels, validation_data,
                             batch_size, augment, seed):
    """Checks arrays and labels up front; returns (train, validation)."""
    check_batch_size(batch_size)
    if augment is not None and not callable(augment):
        raise TypeError(
            f"`augment` must be callable or None. Received: augment={augment!r}"
        )
    images = _check_images(images, "images", classifier)
    images, labels = check_arrays(images, labels,
                                  num_classes=classifier.num_classes)
    train = tf.data.Dataset.from_tensor_slices((images, labels))
    train = train.shuffle(len(images), seed=seed,
                          reshuffle_each_iteration=True).batch(batch_size)
    if augment is not None:
        is_layer = isinstance(augment, keras.layers.Layer)

        def augment_batch(x, y):  # x: (batch, h, w, c)
            return (augment(x, training=True) if is_layer else augment(x)), y

        train = train.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
    train = train.prefetch(tf.data.AUTOTUNE)
    validation = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list))
                and len(validation_data) == 2):
            raise TypeError(
                "`validation_data` must be an (images, labels) pair. "
                "Received: validation_data of type "
                f"{type(validation_data).__name__}"
            )
        val_images = _check_images(validation_data[0], "validation_data",
                                   classifier)
        val_images, val_labels = check_arrays(
            val_images, validation_data[1],
            num_classes=classifier.num_classes)
        validation = tf.data.Dataset.from_tensor_slices(
            (val_images, val_labels)).batch(256)
    return train, validation
