import re

import numpy as np
import pytest

from kerasft.data import image_augmentation


def images():
    # A bright bar off-center: rotation, zoom and flips all move it.
    batch = np.zeros((4, 16, 16, 1), np.float32)
    batch[:, 2:6, 3:12, :] = 1.0
    return batch


def test_changes_images_in_training_only():
    augment = image_augmentation(
        rotation_factor=0.2,
        zoom_factor=0.2,
        flip_mode="horizontal_and_vertical",
        noise_stddev=0.1,
        seed=0,
    )
    batch = images()

    trained = np.asarray(augment(batch, training=True))
    inferred = np.asarray(augment(batch, training=False))

    assert trained.shape == batch.shape
    assert np.abs(trained - batch).max() > 0.1
    np.testing.assert_array_equal(inferred, batch)


def test_two_training_calls_differ():
    augment = image_augmentation(rotation_factor=0.2, seed=1)
    first = np.asarray(augment(images(), training=True))
    second = np.asarray(augment(images(), training=True))
    assert not np.allclose(first, second)


def test_layers_follow_arguments():
    augment = image_augmentation(
        rotation_factor=0.1, zoom_factor=0.0, flip_mode="horizontal"
    )
    assert [layer.name for layer in augment.layers] == ["flip", "rotation"]
    assert [layer.name for layer in image_augmentation().layers] == [
        "rotation",
        "zoom",
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"rotation_factor": 1.5},
            "Received: rotation_factor=1.5 (expected 0 <= rotation_factor < 1)",
        ),
        (
            {"zoom_factor": -0.1},
            "Received: zoom_factor=-0.1 (expected 0 <= zoom_factor < 1)",
        ),
        (
            {"noise_stddev": -1.0},
            "Received: noise_stddev=-1.0 (expected 0 <= noise_stddev)",
        ),
        ({"noise_stddev": "big"}, "Received: noise_stddev='big'"),
        ({"flip_mode": "diagonal"}, "Received: flip_mode='diagonal'"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        image_augmentation(**kwargs)
