import numpy as np
import tensorflow as tf

from kerasft.data import load_digits, load_digits_arrays


def test_digits_arrays():
    images, labels = load_digits_arrays()

    assert images.shape == (1797, 8, 8, 1)
    assert images.dtype == np.float32
    assert images.min() == 0 and images.max() == 16
    assert labels.dtype == np.int64
    assert sorted(set(labels.tolist())) == list(range(10))


def test_digits_dataset():
    images, labels = load_digits_arrays()
    dataset = load_digits()

    assert dataset.cardinality() == 1797
    assert dataset.element_spec == (
        tf.TensorSpec((8, 8, 1), tf.float32),
        tf.TensorSpec((), tf.int64),
    )
    image, label = next(iter(dataset.skip(5)))
    np.testing.assert_array_equal(image.numpy(), images[5])
    assert label.numpy() == labels[5]
