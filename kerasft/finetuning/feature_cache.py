"""Head-only fine-tuning on cached backbone features.

With the backbone entirely frozen it is a fixed function: running it every
step (as `fit` with `backbone.trainable = False` does) recomputes the same
features epoch after epoch, and it is almost all of the cost. Here it runs
once, in inference mode (dropout off, which is also how a frozen backbone
runs inside `TextClassifier` under the Trainer), and the head trains on the
cached `(num_examples, hidden_dim)` features: the same result, epochs that
cost a few matrix products.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasft import data
from kerasft.checks import check_batch_size
from kerasft.training import Trainer


def _check_pooled(classifier):
    # Token heads read every position of the sequence output: caching it
    # would mean (examples, seq_len, hidden_dim) floats, padding included.
    if not hasattr(classifier, "pooled_features"):
        raise ValueError(
            "Feature caching applies to heads on one pooled vector per text "
            "(TextClassifier, MultiLabelClassifier, TextRegressor). "
            f"Received: a {type(classifier).__name__}; fine-tune it with "
            "the Trainer and a frozen backbone instead."
        )


def _check_frozen(classifier):
    # The backbone weights the classifier trains (a TextClassifier leaves
    # out a pooler its pooling does not use).
    trained = {id(v) for v in classifier.trainable_variables}
    trainable = [v for v in classifier.backbone.weights if id(v) in trained]
    if trainable:
        names = sorted({v.path.split("/")[1] if "/" in v.path else v.path
                        for v in trainable})
        raise ValueError(
            "Feature caching needs a frozen backbone (its features must not "
            "change during training). Received: a backbone with "
            f"{len(trainable)} trainable variables in {names[:5]}. Call "
            "kerasft.freeze_backbone(classifier) first."
        )


def _check_batches(dataset):
    """Raises unless `dataset` gives `(inputs, labels)` batches of token ids
    (a tf.data.Dataset is checked by its spec, before anything runs)."""
    expected = (
        "`dataset` must give batches of (inputs, labels), inputs a dict of "
        "(batch, seq_len) token ids (kerasft.data.make_text_dataset with "
        "labels)"
    )
    if isinstance(dataset, tf.data.Dataset):
        spec = dataset.element_spec
        token_ids = (
            spec[0].get("token_ids")
            if isinstance(spec, tuple) and len(spec) >= 2
            and isinstance(spec[0], dict) else None
        )
        if token_ids is None or token_ids.shape.rank != 2:
            raise ValueError(
                f"{expected}. Received: a dataset with element_spec={spec}"
            )
        return
    if not hasattr(dataset, "__iter__") or isinstance(
        dataset, (str, bytes, dict)
    ):
        raise TypeError(
            f"{expected}. Received: dataset of type "
            f"{type(dataset).__name__}"
        )
    if isinstance(dataset, (list, tuple)):
        for index, batch in enumerate(dataset):
            _check_batch(batch, index)


def _check_batch(batch, index):
    if not (
        isinstance(batch, (tuple, list)) and len(batch) >= 2
        and isinstance(batch[0], dict) and "token_ids" in batch[0]
    ):
        raise ValueError(
            "`dataset` must give batches of (inputs, labels), inputs a dict "
            "of token ids (kerasft.data.make_text_dataset with labels). "
            f"Received: batch {index} of type {type(batch).__name__}"
        )


def cache_features(classifier, dataset):
    """Runs the frozen backbone once over `dataset`.

    Args:
        classifier: a `kerasft.TextClassifier`, `MultiLabelClassifier` or
            `TextRegressor` (anything with `pooled_features(inputs,
            training)` and a `backbone`).
        dataset: batches of `(inputs, labels)` from
            `kerasft.data.make_text_dataset` (any batch size, bucketed or
            not).

    Returns:
        A tuple `(features, labels)` of NumPy arrays: float32
        `(num_examples, hidden_dim)` and the labels, in dataset order.

    Example:
    >>> feats, labels = cache_features(classifier, train_ds)  # doctest: +SKIP
    """
    _check_pooled(classifier)
    _check_frozen(classifier)
    _check_batches(dataset)

    @tf.function(reduce_retracing=True)
    def extract(inputs):
        features = classifier.pooled_features(inputs, training=False)
        return tf.cast(features, "float32")

    features, labels = [], []
    for index, batch in enumerate(dataset):
        _check_batch(batch, index)
        inputs, batch_labels = batch[0], batch[1]
        features.append(extract(inputs).numpy())
        labels.append(np.asarray(batch_labels))
    if not features:
        raise ValueError(
            "The dataset passed as `dataset` is empty: no batches to "
            "extract features from."
        )
    return np.concatenate(features), np.concatenate(labels)


def head_model(classifier):
    """A model of the classifier's head alone, sharing its layers.

    Training it trains the classifier's own head weights.
    """
    inputs = keras.Input((classifier.backbone.hidden_dim,), name="features")
    outputs = classifier.apply_head(inputs)
    return keras.Model(inputs, outputs, name="cached_feature_head")


def fit_head_on_cached_features(
    classifier,
    train_data,
    validation_data=None,
    epochs=3,
    batch_size=32,
    optimizer="adamw",
    learning_rate=1e-3,
    loss=None,
    metrics=("accuracy",),
    callbacks=None,
    shuffle=True,
    seed=0,
    verbose=1,
):
    """Trains a frozen-backbone classifier's head on cached features.

    Args:
        classifier: a `kerasft.TextClassifier`, `MultiLabelClassifier` or
            `TextRegressor` whose backbone is frozen.
        train_data: batches of `(inputs, labels)` (text pipeline output).
        validation_data: the same for validation, or None.
        epochs: int. Epochs over the cached features.
        batch_size: int. Batch size of the head's training.
        optimizer: optimizer name or instance, as for `Trainer`.
        learning_rate: float or schedule.
        loss: as for `Trainer`; defaults to the classifier's
            `default_loss` (the head model shares its layers, not its
            attributes).
        metrics: metric names or instances, as for `Trainer`.
        callbacks: Keras callbacks.
        shuffle: bool. Reshuffle the cached features every epoch.
        seed: int. Shuffle seed.
        verbose: 0, 1 or 2, as for `Trainer.fit`.

    Returns:
        A tuple `(trainer, history)`; `trainer.evaluate` takes cached
        features, `classifier` itself predicts from text as before.

    Example:
    >>> kerasft.freeze_backbone(classifier)  # doctest: +SKIP
    >>> trainer, history = fit_head_on_cached_features(
    ...     classifier, train_ds, val_ds, epochs=3)  # doctest: +SKIP
    """
    # Checked before the backbone runs over the data, not after.
    check_batch_size(batch_size)
    _check_pooled(classifier)
    _check_frozen(classifier)
    _check_batches(train_data)
    if validation_data is not None:
        _check_batches(validation_data)
    features, labels = cache_features(classifier, train_data)
    train = data.make_dataset(features, labels, batch_size=batch_size,
                              shuffle=shuffle, seed=seed)
    validation = None
    if validation_data is not None:
        val_features, val_labels = cache_features(classifier, validation_data)
        validation = data.make_dataset(val_features, val_labels,
                                       batch_size=batch_size, shuffle=False)
    if loss is None:
        loss = getattr(classifier, "default_loss", None)
    trainer = Trainer(head_model(classifier), optimizer=optimizer,
                      learning_rate=learning_rate, loss=loss,
                      metrics=list(metrics))
    history = trainer.fit(train, validation_data=validation, epochs=epochs,
                          callbacks=callbacks, verbose=verbose)
    return trainer, history
