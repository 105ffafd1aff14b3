import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasft.data import load_tfds

NAME = "kerasft_tiny_digits"


class KerasftTinyDigits(tfds.core.GeneratorBasedBuilder):
    """A 4x4 data set generated locally, so `tfds.load` runs offline."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(
                        shape=(4, 4, 1), dtype=np.uint8
                    ),
                    "label": tfds.features.ClassLabel(num_classes=3),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(6),
            "test": self._generate_examples(3),
        }

    def _generate_examples(self, num_examples):
        for i in range(num_examples):
            # Pixel value i identifies the example; its label is i % 3.
            image = np.full((4, 4, 1), i, dtype=np.uint8)
            yield i, {"image": image, "label": i % 3}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    KerasftTinyDigits(data_dir=str(data_dir)).download_and_prepare()
    return data_dir


def test_loads_supervised_pairs(data_dir):
    dataset = load_tfds(NAME, split="train", data_dir=data_dir)

    assert dataset.element_spec == (
        tf.TensorSpec((4, 4, 1), tf.uint8),
        tf.TensorSpec((), tf.int64),
    )
    pairs = sorted(
        (int(image[0, 0, 0]), int(label))
        for image, label in dataset.as_numpy_iterator()
    )
    assert pairs == [(i, i % 3) for i in range(6)]


def test_split_slicing(data_dir):
    dataset = load_tfds(NAME, split="test[:2]", data_dir=data_dir)
    assert len(list(dataset)) == 2


def test_unknown_name_raises(data_dir):
    with pytest.raises(ValueError, match=r"Received: name='no_such_set_xyz'"):
        load_tfds("no_such_set_xyz", data_dir=data_dir)


def test_unprepared_data_dir_raises(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"pass download=True to fetch it. Received: data_dir='{tmp_path}'"
        ),
    ):
        load_tfds(NAME, data_dir=tmp_path)


def test_missing_data_dir_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Received: data_dir='.*nope'"):
        load_tfds(NAME, data_dir=tmp_path / "nope")


def test_empty_name_raises():
    with pytest.raises(ValueError, match=r"Received: name=''"):
        load_tfds("")
