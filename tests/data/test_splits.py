import re

import numpy as np
import pytest

from kerasft.data import train_val_test_split


def make_data(num_samples=100, num_classes=4):
    # Feature i is the sample id i, so parts can be compared by ids.
    features = np.arange(num_samples).reshape(num_samples, 1)
    labels = np.arange(num_samples) % num_classes
    return features, labels


def ids(part):
    return part[0][:, 0].tolist()


def test_sizes_and_disjoint_cover():
    features, labels = make_data()

    train, val, test = train_val_test_split(
        features, labels, val_fraction=0.2, test_fraction=0.1, seed=0
    )

    assert [len(part[0]) for part in (train, val, test)] == [70, 20, 10]
    all_ids = ids(train) + ids(val) + ids(test)
    assert sorted(all_ids) == list(range(100))  # disjoint and complete
    for x, y in (train, val, test):
        # Labels still travel with their rows.
        np.testing.assert_array_equal(y, x[:, 0] % 4)


def test_same_seed_same_split_other_seed_other_split():
    features, labels = make_data()

    first = train_val_test_split(features, labels, seed=3)
    again = train_val_test_split(features, labels, seed=3)
    other = train_val_test_split(features, labels, seed=4)

    assert [ids(p) for p in first] == [ids(p) for p in again]
    assert ids(first[2]) != ids(other[2])
    # Shuffled, not a plain head/tail cut.
    assert ids(first[2]) != list(range(90, 100))


def test_stratified_parts_keep_class_proportions():
    features = np.arange(100).reshape(100, 1)
    labels = np.array([0] * 80 + [1] * 20)

    train, val, test = train_val_test_split(
        features, labels, val_fraction=0.2, test_fraction=0.2, stratify=True
    )

    for part, size in ((train, 60), (val, 20), (test, 20)):
        assert np.bincount(part[1]).tolist() == [size * 4 // 5, size // 5]


def test_zero_fraction_gives_empty_part():
    features, labels = make_data(10)

    train, val, test = train_val_test_split(
        features, labels, val_fraction=0.0, test_fraction=0.3
    )

    assert len(val[0]) == 0 and val[0].shape[1:] == (1,)
    assert len(train[0]) == 7 and len(test[0]) == 3


def test_small_positive_fraction_gets_at_least_one_sample():
    features, labels = make_data(5)
    _, val, _ = train_val_test_split(features, labels, val_fraction=0.01)
    assert len(val[0]) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"val_fraction": 1.5},
            "Received: val_fraction=1.5 (expected 0 <= val_fraction < 1)",
        ),
        (
            {"test_fraction": -0.1},
            "Received: test_fraction=-0.1 (expected 0 <= test_fraction < 1)",
        ),
        ({"val_fraction": "0.1"}, "Received: val_fraction='0.1'"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            "Received: val_fraction=0.5, test_fraction=0.5 (expected "
            "val_fraction + test_fraction < 1)",
        ),
        ({"seed": 1.5}, "Received: seed=1.5"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    features, labels = make_data()
    with pytest.raises(ValueError, match=re.escape(message)):
        train_val_test_split(features, labels, **kwargs)


def test_too_few_samples_raise():
    features, labels = make_data(2)
    with pytest.raises(ValueError, match=r"2 samples leave none to train"):
        train_val_test_split(features, labels, 0.4, 0.4)


def test_bad_arrays_raise_before_splitting():
    with pytest.raises(TypeError, match=r"Received: features.dtype=object"):
        train_val_test_split(np.array([None, 1], dtype=object), [0, 1])
    with pytest.raises(ValueError, match=r"len\(features\)=3, len\(labels\)=2"):
        train_val_test_split(np.zeros((3, 1)), [0, 1])
