import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import drop_missing_rows, scale


def test_scale_to_unit_and_symmetric_ranges():
    x = np.array([0, 51, 255], dtype=np.uint8)

    unit = scale(x)
    symmetric = scale(x, output_range=(-1, 1))

    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [0.0, 0.2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(symmetric, [-1.0, -0.6, 1.0], rtol=1e-6)


def test_scale_uses_the_given_input_range():
    np.testing.assert_allclose(
        scale(np.array([0.0, 4.0, 16.0]), input_range=(0, 16)),
        [0.0, 0.25, 1.0],
    )


def test_scale_on_tensor_inside_tf_data():
    dataset = tf.data.Dataset.from_tensor_slices(np.array([0, 255], "uint8"))
    dataset = dataset.map(lambda x: scale(x, output_range=(-1, 1)))

    assert list(dataset.as_numpy_iterator()) == [-1.0, 1.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_range": (255, 0)}, "Received: input_range=(255, 0)"),
        ({"input_range": (0, 0)}, "Received: input_range=(0, 0)"),
        ({"input_range": 255}, "Received: input_range=255"),
        ({"output_range": (0, 2)}, "Received: output_range=(0, 2)"),
    ],
)
def test_bad_scaling_range_raises(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        scale(np.array([1.0]), **kwargs)


def test_values_outside_input_range_raise():
    # Data that is already in [0, 1] but declared as (0, 255) is fine...
    scale(np.array([0.0, 1.0]))
    # ...but values above the declared range mean the range is wrong.
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received: x with min=0.0, max=2.0 and input_range=(0, 1)"
        ),
    ):
        scale(np.array([0.0, 2.0]), input_range=(0, 1))


def test_scale_rejects_strings():
    with pytest.raises(TypeError, match=r"Received: x.dtype=<U1"):
        scale(np.array(["a"]))


def test_drop_missing_rows_hand_computed():
    features = np.array(
        [[1.0, 2.0], [np.nan, 3.0], [4.0, 5.0], [6.0, np.nan], [7.0, 8.0]]
    )
    labels = np.array([0.0, 1.0, np.nan, 1.0, 0.0])

    kept_x, kept_y = drop_missing_rows(features, labels)

    # Rows 1 and 3 miss a feature, row 2 its label.
    np.testing.assert_array_equal(kept_x, [[1.0, 2.0], [7.0, 8.0]])
    np.testing.assert_array_equal(kept_y, [0.0, 0.0])


def test_drop_missing_rows_features_only_and_integers():
    images = np.ones((3, 2, 2))
    images[1, 0, 1] = np.nan
    assert drop_missing_rows(images).shape == (2, 2, 2)
    # Integers cannot hold NaN: nothing to drop.
    assert drop_missing_rows(np.arange(4).reshape(2, 2)).shape == (2, 2)


def test_drop_missing_rows_bad_input():
    with pytest.raises(TypeError, match=r"Received: features.dtype=object"):
        drop_missing_rows(np.array([[1, None]], dtype=object))
    with pytest.raises(ValueError, match=r"len\(features\)=2, len\(labels\)=1"):
        drop_missing_rows(np.zeros((2, 2)), [0])
