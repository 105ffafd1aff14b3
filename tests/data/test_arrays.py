import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import check_arrays, dataset_from_arrays


def test_dataset_yields_pairs_in_order_with_keras_dtypes():
    features = np.arange(6, dtype=np.float64).reshape(3, 2)
    labels = np.array([2, 0, 1], dtype=np.int32)

    dataset = dataset_from_arrays(features, labels, num_classes=3)

    assert dataset.element_spec == (
        tf.TensorSpec((2,), tf.float32),
        tf.TensorSpec((), tf.int64),
    )
    pairs = [(x.tolist(), y) for x, y in dataset.as_numpy_iterator()]
    assert pairs == [([0, 1], 2), ([2, 3], 0), ([4, 5], 1)]


def test_uint8_features_keep_their_dtype():
    dataset = dataset_from_arrays(np.zeros((2, 4, 4, 1), np.uint8), [0, 1])
    assert dataset.element_spec[0].dtype == tf.uint8


@pytest.mark.parametrize(
    "features, error, message",
    [
        (
            np.array([["a", "b"]], dtype=object),
            TypeError,
            "Received: features.dtype=object",
        ),
        (np.array([["1.0"]]), TypeError, "Received: features.dtype=<U3"),
        (np.zeros((0, 3)), ValueError, "Received: features with shape (0, 3)"),
        (np.float32(1.0), ValueError, "Received: features with shape ()"),
        ([[1, 2], [3]], ValueError, "Received: features that NumPy cannot"),
        (None, ValueError, "Received: features=None"),
    ],
)
def test_bad_features_raise(features, error, message):
    with pytest.raises(error, match=re.escape(message)):
        dataset_from_arrays(features, [0])


def test_length_mismatch_raises():
    with pytest.raises(
        ValueError,
        match=re.escape("Received: len(features)=3, len(labels)=2"),
    ):
        dataset_from_arrays(np.zeros((3, 2)), [0, 1])


@pytest.mark.parametrize(
    "labels, low, high", [([0, 3], 0, 3), ([-1, 1], -1, 1)]
)
def test_labels_out_of_range_raise(labels, low, high):
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"Received: labels with min={low}, max={high} and num_classes=3 "
            "(expected 0 <= label < 3)"
        ),
    ):
        dataset_from_arrays(np.zeros((2, 2)), labels, num_classes=3)


def test_float_labels_with_num_classes_raise():
    with pytest.raises(TypeError, match=r"Received: labels.dtype=float64"):
        check_arrays(np.zeros((2, 2)), [0.0, 1.0], num_classes=2)


def test_non_numeric_labels_raise():
    with pytest.raises(TypeError, match=r"Received: labels.dtype=<U3"):
        check_arrays(np.zeros((2, 2)), ["cat", "dog"])


def test_bad_num_classes_raises():
    with pytest.raises(
        ValueError,
        match=r"`num_classes` must be an int >= 1\. Received: num_classes=0$",
    ):
        check_arrays(np.zeros((2, 2)), [0, 1], num_classes=0)
