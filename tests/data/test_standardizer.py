import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import Standardizer


def test_statistics_come_from_train_only():
    x_train = np.array([[1.0, 10.0], [3.0, 30.0]])
    x_val = np.array([[2.0, 40.0], [100.0, -100.0]])

    standardizer = Standardizer().adapt(x_train)

    # By hand: mean (2, 20), population variance (1, 100), std (1, 10).
    np.testing.assert_allclose(standardizer.mean.ravel(), [2.0, 20.0])
    np.testing.assert_allclose(standardizer.variance.ravel(), [1.0, 100.0])
    np.testing.assert_allclose(
        standardizer(x_val), [[0.0, 2.0], [98.0, -12.0]], rtol=1e-6
    )
    np.testing.assert_allclose(
        standardizer(x_train), [[-1.0, -1.0], [1.0, 1.0]], rtol=1e-6
    )


def test_per_channel_statistics_for_images():
    images = np.zeros((2, 2, 2, 2), np.float32)
    images[..., 0] = [[[0, 2], [0, 2]], [[0, 2], [0, 2]]]
    images[..., 1] = 5.0

    standardizer = Standardizer(axis=-1).adapt(images)

    np.testing.assert_allclose(standardizer.mean.ravel(), [1.0, 5.0])
    np.testing.assert_allclose(standardizer.variance.ravel(), [1.0, 0.0])
    out = standardizer(images)
    np.testing.assert_allclose(out[..., 0], images[..., 0] - 1.0)
    # A constant channel maps to 0 (Keras floors the std at epsilon).
    np.testing.assert_allclose(out[..., 1], 0.0)


def test_works_per_sample_and_per_batch_inside_tf_data():
    # One feature column: mean 2, std 2.
    standardizer = Standardizer().adapt(np.array([[0.0], [4.0]]))
    dataset = tf.data.Dataset.from_tensor_slices(np.array([[2.0], [6.0]]))

    per_sample = dataset.map(standardizer)
    per_batch = dataset.batch(2).map(standardizer)

    # Shapes are kept: (1,) per sample, (batch, 1) per batch.
    assert per_sample.element_spec.shape == (1,)
    assert per_batch.element_spec.shape.as_list() == [None, 1]
    values = list(per_sample.as_numpy_iterator())
    np.testing.assert_allclose(np.stack(values), [[0.0], [2.0]])
    np.testing.assert_allclose(next(iter(per_batch)), [[0.0], [2.0]])


def test_single_numpy_sample_keeps_its_shape():
    standardizer = Standardizer().adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
    np.testing.assert_allclose(standardizer(np.array([3.0, 0.0])), [1.0, -2.0])


def test_call_before_adapt_raises():
    with pytest.raises(RuntimeError, match=r"call `adapt\(train_x\)`"):
        Standardizer()(np.zeros((2, 2)))


def test_bad_train_data_raises():
    with pytest.raises(ValueError, match=r"Received: train_x with 1 NaN"):
        Standardizer().adapt(np.array([[1.0], [np.nan]]))
    with pytest.raises(TypeError, match=r"Received: train_x.dtype=<U1"):
        Standardizer().adapt(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"Received: train_x with shape"):
        Standardizer().adapt(np.zeros((0, 3)))
