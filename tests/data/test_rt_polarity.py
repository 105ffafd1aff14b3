import re

import numpy as np
import pytest
import tensorflow as tf

from kerasft.data import load_rt_polarity
from kerasft.data import load_rt_polarity_arrays

POSITIVE = [f"good {i} ." for i in range(7)]
NEGATIVE = [f"bad {i} ." for i in range(6)]


@pytest.fixture
def mr_dir(tmp_path):
    """7 positive lines (one Latin-1, a blank line) and 6 negative ones."""
    pos = "\n".join(POSITIVE[:3]) + "\n\n" + "\n".join(POSITIVE[3:]) + "\n"
    (tmp_path / "rt-polarity.pos").write_bytes(
        pos.encode().replace(b"good 0", b"caf\xe9 0")  # Latin-1 e-acute
    )
    (tmp_path / "rt-polarity.neg").write_text("\n".join(NEGATIVE) + "\n  \n")
    return tmp_path


def test_all_is_positives_then_negatives(mr_dir):
    texts, labels = load_rt_polarity_arrays(mr_dir, split="all")
    assert texts.tolist() == ["caf\ufffd 0 ."] + POSITIVE[1:] + NEGATIVE
    assert labels.dtype == np.int64
    assert labels.tolist() == [1] * 7 + [0] * 6


def test_fixed_split(mr_dir):
    texts, labels = load_rt_polarity_arrays(mr_dir, split="all")
    train_texts, train_labels = load_rt_polarity_arrays(mr_dir)
    test_texts, test_labels = load_rt_polarity_arrays(mr_dir, split="test")
    # 13 sentences: the test split is the last ceil(13 / 10) = 2 of the
    # permutation by default_rng(0), train the first 11.
    order = np.random.default_rng(0).permutation(13)
    assert test_texts.tolist() == texts[order[-2:]].tolist()
    assert train_texts.tolist() == texts[order[:-2]].tolist()
    assert train_labels.tolist() == labels[order[:-2]].tolist()
    assert test_labels.tolist() == labels[order[-2:]].tolist()


def test_dataset(mr_dir):
    dataset = load_rt_polarity(mr_dir, split="test")
    assert dataset.element_spec == (
        tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64),
    )
    texts, labels = load_rt_polarity_arrays(mr_dir, split="test")
    assert [(t.decode(), int(y)) for t, y in dataset.as_numpy_iterator()] == (
        list(zip(texts.tolist(), labels.tolist()))
    )


def test_errors(tmp_path, mr_dir):
    with pytest.raises(FileNotFoundError, match="Received: directory="):
        load_rt_polarity_arrays(tmp_path / "missing")
    (mr_dir / "rt-polarity.neg").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"no 'rt-polarity.neg' (MR needs rt-polarity.pos "
                        f"and rt-polarity.neg). Received: directory="
                        f"'{mr_dir}'"),
    ):
        load_rt_polarity_arrays(mr_dir)
    with pytest.raises(ValueError, match="Received: split='validation'"):
        load_rt_polarity_arrays(mr_dir, split="validation")
    (mr_dir / "rt-polarity.neg").write_text("\n \n")
    with pytest.raises(ValueError, match="holds no sentences"):
        load_rt_polarity_arrays(mr_dir)


@pytest.mark.shared
def test_real_mr_split(rt_polarity_dir):
    texts, labels = load_rt_polarity_arrays(rt_polarity_dir, split="all")
    assert len(texts) == 10_662
    assert labels[:5331].tolist() == [1] * 5331
    assert labels[5331:].tolist() == [0] * 5331
    train_texts, train_labels = load_rt_polarity_arrays(rt_polarity_dir)
    test_texts, test_labels = load_rt_polarity_arrays(
        rt_polarity_dir, split="test"
    )
    assert (len(train_texts), len(test_texts)) == (9595, 1067)
    order = np.random.default_rng(0).permutation(10662)
    assert test_texts.tolist() == texts[order[9595:]].tolist()
    assert train_texts[0] == texts[order[0]]
    # Pins the split: 4,773 positives in train, 558 in test.
    assert (train_labels.sum(), test_labels.sum()) == (4773, 558)
