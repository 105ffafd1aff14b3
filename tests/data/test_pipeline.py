import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import image_augmentation, make_dataset


def arrays(num_samples=10):
    # Feature row i holds the value i, so batches show the sample order.
    features = np.repeat(np.arange(num_samples, dtype=np.float32), 3)
    return features.reshape(num_samples, 3), np.arange(num_samples) % 2


def epoch_order(dataset):
    return [int(v) for x, _ in dataset for v in x[:, 0].numpy()]


def test_batch_shapes_with_and_without_remainder():
    features, labels = arrays(10)

    kept = make_dataset(features, labels, batch_size=4, shuffle=False)
    dropped = make_dataset(
        features, labels, batch_size=4, shuffle=False, drop_remainder=True
    )

    assert [tuple(x.shape) for x, _ in kept] == [(4, 3), (4, 3), (2, 3)]
    assert [tuple(y.shape) for _, y in dropped] == [(4,), (4,)]
    # drop_remainder gives a static batch dimension.
    assert dropped.element_spec[0].shape == (4, 3)
    assert kept.element_spec[0].shape.as_list() == [None, 3]


def test_unshuffled_keeps_order():
    features, labels = arrays(10)
    dataset = make_dataset(features, labels, batch_size=3, shuffle=False)
    assert epoch_order(dataset) == list(range(10))


def test_shuffle_order_set_by_seed_and_new_each_epoch():
    features, labels = arrays(20)

    def build(seed):
        return make_dataset(features, labels, batch_size=5, seed=seed)

    first, again, other = build(0), build(0), build(1)
    epoch_1 = epoch_order(first)
    epoch_2 = epoch_order(first)

    assert sorted(epoch_1) == list(range(20))
    assert epoch_1 != list(range(20))
    assert epoch_1 == epoch_order(again)  # same seed, same order
    assert epoch_2 == epoch_order(again)  # ...epoch after epoch
    assert epoch_1 != epoch_order(other)  # other seed, other order
    assert epoch_1 != epoch_2  # reshuffled each epoch


def test_preprocess_runs_once_when_cached():
    features, labels = arrays(6)
    calls = []

    def preprocess(x):
        # Counts executions: tf.py_function runs on every element it sees.
        def count(value):
            calls.append(1)
            return value * 2

        doubled = tf.py_function(count, [x], tf.float32)
        return tf.ensure_shape(doubled, x.shape)

    for cache, expected_calls in ((True, 6), (False, 12)):
        calls.clear()
        dataset = make_dataset(
            features, labels, batch_size=6, preprocess=preprocess, cache=cache
        )
        epoch_1 = sorted(v for x, _ in dataset for v in x[:, 0].numpy())
        list(dataset)
        assert epoch_1 == [0, 2, 4, 6, 8, 10]
        assert len(calls) == expected_calls


def test_augmentation_after_cache_varies_per_epoch():
    images = np.zeros((4, 8, 8, 1), np.float32)
    images[:, 1:3, 2:6] = 1.0
    augment = image_augmentation(rotation_factor=0.2, noise_stddev=0.1, seed=0)
    dataset = make_dataset(
        images,
        np.zeros(4, np.int64),
        batch_size=4,
        shuffle=False,
        preprocess=lambda x: x * 1.0,
        augment=augment,
    )

    epoch_1 = next(iter(dataset))[0].numpy()
    epoch_2 = next(iter(dataset))[0].numpy()

    assert np.abs(epoch_1 - images).max() > 0.05  # augmented...
    assert not np.allclose(epoch_1, epoch_2)  # ...afresh each epoch
    # Without augment the same pipeline yields the images unchanged.
    plain = make_dataset(images, np.zeros(4), batch_size=4, shuffle=False)
    np.testing.assert_array_equal(next(iter(plain))[0].numpy(), images)


def test_plain_function_augment_is_applied_to_batches():
    features, labels = arrays(4)
    dataset = make_dataset(
        features, labels, batch_size=4, shuffle=False, augment=lambda x: -x
    )
    assert next(iter(dataset))[0].numpy()[:, 0].tolist() == [0, -1, -2, -3]


def test_from_unbatched_dataset():
    features, labels = arrays(7)
    source = tf.data.Dataset.from_tensor_slices((features, labels))

    dataset = make_dataset(source, batch_size=3, seed=0)

    assert sorted(epoch_order(dataset)) == list(range(7))
    assert [int(x.shape[0]) for x, _ in dataset] == [3, 3, 1]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 0}, ValueError, "Received: batch_size=0"),
        ({"batch_size": 2.5}, ValueError, "Received: batch_size=2.5"),
        (
            {"shuffle_buffer_size": -1},
            ValueError,
            "Received: shuffle_buffer_size=-1",
        ),
        ({"augment": "flip"}, TypeError, "Received: augment='flip'"),
        (
            {"num_classes": 1},
            ValueError,
            "Received: labels with min=0, max=1 and num_classes=1",
        ),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    features, labels = arrays(4)
    with pytest.raises(error, match=re.escape(message)):
        make_dataset(features, labels, **kwargs)


def test_bad_arrays_raise():
    with pytest.raises(TypeError, match=r"Received: features.dtype=<U1"):
        make_dataset(np.array([["a"]]), [0])
    with pytest.raises(ValueError, match=r"len\(features\)=2, len\(labels\)=3"):
        make_dataset(np.zeros((2, 1)), [0, 1, 0])
    with pytest.raises(ValueError, match=r"Received: features with shape \(0"):
        make_dataset(np.zeros((0, 1)), np.zeros(0))


def test_bad_datasets_raise():
    features, labels = arrays(4)
    pairs = tf.data.Dataset.from_tensor_slices((features, labels))
    with pytest.raises(ValueError, match=r"Received: labels of type ndarray"):
        make_dataset(pairs, labels)
    with pytest.raises(ValueError, match=r"Received: a dataset with element"):
        make_dataset(tf.data.Dataset.from_tensor_slices(features))
    with pytest.raises(ValueError, match=r"Received: a dataset with cardin"):
        make_dataset(pairs.take(0))
