import gzip
import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import load_mnist, load_mnist_arrays

# The published label counts of the MNIST test split (shared/README.md).
T10K_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def write_mnist(folder, images, labels, split="t10k", compress=False):
    """Writes IDX files as MNIST names them (images idx3, labels idx1)."""
    for kind, array, rank in (("images", images, 3), ("labels", labels, 1)):
        content = (
            bytes([0, 0, 0x08, rank])
            + np.array(array.shape, ">u4").tobytes()
            + array.astype(np.uint8).tobytes()
        )
        name = f"{split}-{kind}-idx{rank}-ubyte"
        if compress:
            content, name = gzip.compress(content), name + ".gz"
        (folder / name).write_bytes(content)


@pytest.mark.shared
def test_real_mnist_test_split(mnist_dir):
    images, labels = load_mnist_arrays(mnist_dir)

    assert images.shape == (10000, 28, 28, 1)
    assert images.dtype == np.uint8
    assert labels.shape == (10000,)
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == T10K_LABEL_COUNTS


@pytest.mark.shared
def test_real_mnist_dataset_matches_arrays(mnist_dir):
    images, labels = load_mnist_arrays(mnist_dir)
    dataset = load_mnist(mnist_dir)

    assert dataset.cardinality() == 10000
    assert dataset.element_spec == (
        tf.TensorSpec((28, 28, 1), tf.uint8),
        tf.TensorSpec((), tf.int64),
    )
    image, label = next(iter(dataset))
    np.testing.assert_array_equal(image.numpy(), images[0])
    assert label.numpy() == labels[0]


@pytest.mark.parametrize("compress", [False, True])
def test_tiny_folder_plain_or_gzipped(tmp_path, compress):
    images = np.arange(3 * 4 * 4).reshape(3, 4, 4) % 256
    write_mnist(tmp_path, images, np.array([7, 0, 9]), compress=compress)

    x, y = load_mnist_arrays(tmp_path)

    np.testing.assert_array_equal(x[..., 0], images)
    assert y.tolist() == [7, 0, 9]


def test_train_split_is_read_from_train_files(tmp_path):
    write_mnist(tmp_path, np.ones((2, 4, 4)), np.array([1, 2]), split="train")

    _, labels = load_mnist_arrays(tmp_path, split="train")

    assert labels.tolist() == [1, 2]


def test_count_mismatch_raises_naming_both_files(tmp_path):
    write_mnist(tmp_path, np.zeros((3, 4, 4)), np.array([1, 2]))
    with pytest.raises(
        ValueError, match=r"3 images in '.*t10k-images.*', 2 labels in"
    ):
        load_mnist_arrays(tmp_path)


def test_labels_above_nine_raise(tmp_path):
    write_mnist(tmp_path, np.zeros((2, 4, 4)), np.array([1, 12]))
    with pytest.raises(ValueError, match=r"max label 12 in '.*labels"):
        load_mnist_arrays(tmp_path)


def test_missing_files_raise_naming_folder(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape("no 't10k-images-idx3-ubyte.gz' or "),
    ):
        load_mnist_arrays(tmp_path)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"Received: directory='.*nope' \(does not"
    ):
        load_mnist_arrays(tmp_path / "nope")


def test_unknown_split_raises(tmp_path):
    with pytest.raises(ValueError, match=r"Received: split='test'"):
        load_mnist_arrays(tmp_path, split="test")
