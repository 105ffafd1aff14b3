import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import OutlierClipper


def test_quantile_bounds_from_train_hand_computed():
    # Column 0 is 0..100, so its 10% / 90% quantiles are 10 / 90;
    # column 1 is ten times that.
    column = np.arange(101, dtype=np.float64)
    x_train = np.stack([column, 10 * column], axis=1)
    x_test = np.array([[-5.0, 2000.0], [50.0, 500.0]])

    clipper = OutlierClipper(lower_quantile=0.1, upper_quantile=0.9)
    clipper.adapt(x_train)

    np.testing.assert_allclose(clipper.lower, [10.0, 100.0])
    np.testing.assert_allclose(clipper.upper, [90.0, 900.0])
    np.testing.assert_allclose(clipper(x_test), [[10.0, 900.0], [50.0, 500.0]])


def test_zscore_bounds_hand_computed():
    # mean 2, population std 2: z_threshold=1 keeps [0, 4].
    x_train = np.array([[1.0], [1.0], [1.0], [1.0], [6.0]])

    clipper = OutlierClipper(method="zscore", z_threshold=1.0).adapt(x_train)

    np.testing.assert_allclose(clipper([[5.0], [-1.0], [3.0]]), [[4], [0], [3]])


def test_nan_ignored_when_fitting_and_kept_when_clipping():
    x_train = np.array([[0.0], [np.nan], [10.0]])
    clipper = OutlierClipper(lower_quantile=0.0, upper_quantile=1.0)

    clipper.adapt(x_train)
    out = clipper(np.array([[np.nan], [20.0]]))

    assert np.isnan(out[0, 0]) and out[1, 0] == 10.0


def test_integer_input_comes_back_float():
    clipper = OutlierClipper(method="zscore", z_threshold=1.0)
    clipper.adapt(np.array([[1.0], [1.0], [1.0], [1.0], [6.0]]))
    out = clipper(np.array([[7], [2]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[4.0], [2.0]])


def test_tensor_input():
    clipper = OutlierClipper(lower_quantile=0.0, upper_quantile=1.0)
    clipper.adapt(np.array([[0.0, 0.0], [1.0, 2.0]]))
    out = clipper(tf.constant([[5.0, 5.0], [-1.0, 1.0]]))
    np.testing.assert_allclose(out.numpy(), [[1.0, 2.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "iqr"}, "Received: method='iqr'"),
        (
            {"lower_quantile": 0.9, "upper_quantile": 0.1},
            "Received: lower_quantile=0.9, upper_quantile=0.1",
        ),
        (
            {"z_threshold": 0},
            "Received: z_threshold=0 (expected z_threshold > 0)",
        ),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        OutlierClipper(**kwargs)


def test_call_before_adapt_raises():
    with pytest.raises(RuntimeError, match=r"call `adapt\(train_x\)`"):
        OutlierClipper()(np.zeros((2, 2)))
