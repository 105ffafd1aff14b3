import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kerasft.data import load_image_folder

# Class folder -> the gray level of its images.
CLASS_LEVELS = {"cat": 40, "dog": 200}


@pytest.fixture
def image_folder(tmp_path):
    for class_name, level in CLASS_LEVELS.items():
        (tmp_path / class_name).mkdir()
        for i in range(3):
            pixels = np.full((8, 8), level + i, dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / class_name / f"{i}.png")
    return tmp_path


def test_loads_pngs_with_labels_from_folder_names(image_folder):
    dataset = load_image_folder(
        image_folder, image_size=(8, 8), color_mode="grayscale"
    )

    assert dataset.class_names == ["cat", "dog"]
    assert dataset.element_spec == (
        tf.TensorSpec((8, 8, 1), tf.float32),
        tf.TensorSpec((), tf.int64),
    )
    pairs = sorted(
        (int(image[0, 0, 0]), int(label))
        for image, label in dataset.as_numpy_iterator()
    )
    # Each image's gray level says which folder it came from.
    assert pairs == [(40, 0), (41, 0), (42, 0), (200, 1), (201, 1), (202, 1)]


def test_validation_split_both_returns_two_parts(image_folder):
    train, val = load_image_folder(
        image_folder,
        image_size=(8, 8),
        color_mode="grayscale",
        shuffle=True,
        seed=0,
        validation_split=0.5,
        subset="both",
    )

    assert train.class_names == val.class_names == ["cat", "dog"]
    assert len(list(train)) + len(list(val)) == 6
    assert val.element_spec[1].dtype == tf.int64


def test_missing_folder_raises(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"Received: directory='{missing}' (does not exist)"),
    ):
        load_image_folder(missing)


def test_file_instead_of_folder_raises(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"\(not a directory\)"):
        load_image_folder(path)
