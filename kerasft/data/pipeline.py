"""Builds the batched, shuffled, cached, prefetched input pipeline."""

import keras
import tensorflow as tf

from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_int,
    check_seed,
)
from kerasft.data.arrays import dataset_from_arrays
from kerasft.data.checks import check_unbatched

# Shuffle buffer when a dataset's length is unknown (e.g. after `filter`).
DEFAULT_SHUFFLE_BUFFER_SIZE = 10_000


def make_dataset(
    features,
    labels=None,
    batch_size=32,
    shuffle=True,
    seed=0,
    preprocess=None,
    augment=None,
    cache=True,
    drop_remainder=False,
    shuffle_buffer_size=None,
    num_classes=None,
):
    """Makes a training or evaluation `tf.data.Dataset` of batches.

    The order is the tf.data guide's: (preprocess) -> cache -> shuffle ->
    batch -> (augment) -> prefetch. Deterministic preprocessing runs once
    and is cached; shuffling comes after the cache so each epoch gets a new
    order (a fixed sequence of orders for a given `seed`); augmentation
    comes after it so each epoch sees new random transforms, and runs on
    whole batches. Maps use `num_parallel_calls=AUTOTUNE`.

    Pass `augment` for the training split only; for validation and test use
    `shuffle=False, augment=None`.

    Args:
        features: NumPy array `(num_samples, ...)`, or an unbatched
            `tf.data.Dataset` of `(features, label)` (then `labels=None`).
        labels: array-like `(num_samples, ...)`, or None with a dataset.
        batch_size: int. Samples per batch. Defaults to `32`.
        shuffle: bool. Reshuffle every epoch. Defaults to `True`.
        seed: int or None. Shuffle seed. Defaults to `0`.
        preprocess: callable or None. `features -> features` for one sample
            (e.g. `scale` or an adapted `Standardizer`), run before caching.
        augment: callable or None. `batch -> batch`, e.g.
            `image_augmentation(...)`; Keras layers are called with
            `training=True`.
        cache: bool. Cache in memory after `preprocess`. Arrays with no
            `preprocess` are already in memory, so they are not cached
            again. Defaults to `True`.
        drop_remainder: bool. Drop the last partial batch, which gives a
            static batch dimension. Defaults to `False`.
        shuffle_buffer_size: int or None. Defaults to the number of samples
            (a full shuffle), or 10,000 when that is unknown.
        num_classes: int or None. With arrays, checks labels are class ids
            in `[0, num_classes)`.

    Returns:
        A prefetched `tf.data.Dataset` of `(features, labels)` batches.

    Example:

    ```python
    images, labels = load_digits_arrays()
    train = make_dataset(
        images,
        labels,
        batch_size=64,
        preprocess=lambda x: scale(x, input_range=(0, 16)),
        augment=image_augmentation(seed=0),
    )
    x, y = next(iter(train))  # (64, 8, 8, 1), (64,)
    ```
    """
    check_batch_size(batch_size)
    for name, flag in (("shuffle", shuffle), ("cache", cache),
                       ("drop_remainder", drop_remainder)):
        check_bool(name, flag)
    check_seed(seed)
    if shuffle_buffer_size is not None:
        check_int("shuffle_buffer_size", shuffle_buffer_size)
    for name, function in (("preprocess", preprocess), ("augment", augment)):
        if function is not None and not callable(function):
            raise TypeError(
                f"`{name}` must be callable or None. Received: "
                f"{name}={function!r}"
            )

    from_arrays = not isinstance(features, tf.data.Dataset)
    if from_arrays:
        dataset = dataset_from_arrays(features, labels, num_classes)
    else:
        dataset = features
        _check_dataset(dataset, labels)

    if preprocess is not None:
        dataset = dataset.map(
            lambda x, y: (preprocess(x), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if cache and not (from_arrays and preprocess is None):
        dataset = dataset.cache()
    if shuffle:
        if shuffle_buffer_size is None:
            num_samples = int(dataset.cardinality())
            shuffle_buffer_size = (
                num_samples if num_samples > 0 else DEFAULT_SHUFFLE_BUFFER_SIZE
            )
        dataset = dataset.shuffle(
            shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        # Random* layers are the identity unless told they train.
        is_layer = isinstance(augment, keras.layers.Layer)

        def augment_batch(x, y):
            # x: (batch, ...) features; y passes through.
            return (augment(x, training=True) if is_layer else augment(x)), y

        dataset = dataset.map(
            augment_batch, num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _check_dataset(dataset, labels):
    if labels is not None:
        raise ValueError(
            "`labels` must be None when `features` is a tf.data.Dataset "
            "(its elements already hold the labels). Received: labels of "
            f"type {type(labels).__name__}"
        )
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "`features` must be a dataset of (features, label) pairs. "
            f"Received: a dataset with element_spec={spec}"
        )
    check_unbatched(spec, "features")
    if dataset.cardinality() == 0:
        raise ValueError(
            "`features` is an empty dataset. Received: a dataset with "
            "cardinality 0 (expected at least one sample)"
        )
