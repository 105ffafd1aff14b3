"""make_masked_lm_dataset: tokenized once, masked in tf.data."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from text_corpus_helper import write_corpus

from kerasft.pretraining import make_masked_lm_dataset, train_bert_tokenizer


@pytest.fixture(scope="module")
def corpus_and_tokenizer(tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("corpus"))
    return corpus, train_bert_tokenizer(corpus, 100)


def test_batches_hold_masks_of_real_tokens(corpus_and_tokenizer):
    corpus, tokenizer = corpus_and_tokenizer
    dataset = make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=12, batch_size=8, mask_rate=0.3,
        mask_selection_length=5, mask_token_rate=1.0, random_token_rate=0.0)
    assert dataset.num_examples == 200  # one short line, one example
    x, y, sample_weight = next(iter(dataset))
    assert sorted(x) == ["mask_positions", "padding_mask", "segment_ids",
                         "token_ids"]
    assert x["token_ids"].shape == (8, 12) and x["token_ids"].dtype == tf.int32
    assert x["mask_positions"].shape == (8, 5)
    assert y.shape == (8, 5) and sample_weight.shape == (8, 5)
    token_ids, positions = x["token_ids"].numpy(), x["mask_positions"].numpy()
    weights, labels = sample_weight.numpy(), y.numpy()
    assert (token_ids[:, 0] == tokenizer.cls_token_id).all()
    special = set(tokenizer.special_token_ids)
    assert weights.sum() > 0
    for row in range(8):
        real = weights[row] > 0
        # mask_token_rate=1: every picked token became [MASK]; the labels
        # are the original ids, never special tokens.
        picked = positions[row][real]
        assert (token_ids[row, picked] == tokenizer.mask_token_id).all()
        assert not set(labels[row][real]) & special
        assert set(weights[row]) <= {0.0, 1.0}
        length = x["padding_mask"].numpy()[row].sum()
        assert (picked > 0).all() and (picked < length - 1).all()


def test_masks_change_between_epochs(corpus_and_tokenizer):
    # Even with a global seed (which other tests may have set): the Trainer
    # reads epochs from one iterator over dataset.repeat(), where the
    # masking ops' random state carries on. (A new iter() per epoch under a
    # global seed would replay the same masks, as tf.data does for any
    # seeded random op.)
    keras.utils.set_random_seed(0)
    corpus, tokenizer = corpus_and_tokenizer
    dataset = make_masked_lm_dataset(corpus, tokenizer, sequence_length=12,
                                     batch_size=200, shuffle=False)
    batches_per_epoch = len(list(dataset))
    iterator = iter(dataset.repeat())
    epochs = [[next(iterator) for _ in range(batches_per_epoch)]
              for _ in range(2)]
    first, second = (epoch[0][0]["mask_positions"].numpy()
                     for epoch in epochs)
    assert not np.array_equal(first, second)
    # The tokens are the same; only the masks moved.
    np.testing.assert_array_equal(epochs[0][0][0]["segment_ids"].numpy(),
                                  epochs[1][0][0]["segment_ids"].numpy())


def test_long_lines_are_cut_into_windows(tmp_path, corpus_and_tokenizer):
    _, tokenizer = corpus_and_tokenizer
    (tmp_path / "long.txt").write_text(" ".join(["good"] * 25) + "\n")
    dataset = make_masked_lm_dataset(tmp_path, tokenizer, sequence_length=12,
                                     batch_size=1, shuffle=False)
    # 25 tokens in windows of 12 - 2 = 10: 10 + 10 + 5.
    assert dataset.num_examples == 3
    lengths = [int(x["padding_mask"].numpy().sum()) for x, _, _ in dataset]
    assert lengths == [12, 12, 7]


@pytest.mark.parametrize("mask_rate", [0, 1, 1.5, -0.1, "0.15"])
def test_mask_rate_outside_zero_one(corpus_and_tokenizer, mask_rate):
    corpus, tokenizer = corpus_and_tokenizer
    with pytest.raises(ValueError, match="expected 0 < mask_rate < 1"):
        make_masked_lm_dataset(corpus, tokenizer, mask_rate=mask_rate)


def test_corpus_smaller_than_one_batch(tmp_path, corpus_and_tokenizer):
    _, tokenizer = corpus_and_tokenizer
    write_corpus(tmp_path, num_lines=3)
    with pytest.raises(ValueError, match=r"too small: it gives 3 sequence"
                       r"\(s\) \(\d+ tokens\), fewer than 1 batch"):
        make_masked_lm_dataset(tmp_path, tokenizer, sequence_length=12,
                               batch_size=4)


def test_not_a_bert_tokenizer(corpus_and_tokenizer):
    corpus, _ = corpus_and_tokenizer
    with pytest.raises(TypeError, match="BertTokenizer"):
        make_masked_lm_dataset(corpus, "vocab.txt")
