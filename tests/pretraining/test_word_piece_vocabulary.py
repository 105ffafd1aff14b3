"""train_bert_tokenizer: a WordPiece vocabulary learned from text files."""

import collections

import keras_hub
import pytest
import tensorflow as tf
from text_corpus_helper import corpus_lines, write_corpus

from kerasft.pretraining import SPECIAL_TOKENS, train_bert_tokenizer


def test_vocabulary_from_a_small_text(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    tokenizer = train_bert_tokenizer(corpus, 100, output_dir=tmp_path / "out")
    vocabulary = tokenizer.get_vocabulary()
    assert isinstance(tokenizer, keras_hub.tokenizers.BertTokenizer)
    # The special tokens come first, [PAD] at id 0.
    assert vocabulary[:5] == list(SPECIAL_TOKENS)
    assert tokenizer.pad_token_id == 0
    assert len(vocabulary) <= 100
    # The most frequent words are whole tokens; lowercased ("The" -> the).
    words = collections.Counter(
        w.lower() for line in corpus_lines() for w in line.split())
    for word, _ in words.most_common(3):
        assert word in vocabulary, word
    assert "The" not in vocabulary
    ids = list(tokenizer(tf.constant(["The movie"]))[0])
    assert [vocabulary[i] for i in ids] == ["the", "movie"]
    # vocab.txt: one token per line, id = line number.
    written = (tmp_path / "out" / "vocab.txt").read_text().splitlines()
    assert written == vocabulary


def test_vocabulary_keeps_case_when_asked(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    tokenizer = train_bert_tokenizer(corpus, 100, lowercase=False)
    assert "The" in tokenizer.get_vocabulary()


def test_a_dataset_of_strings_is_a_corpus():
    lines = tf.data.Dataset.from_tensor_slices(corpus_lines())
    tokenizer = train_bert_tokenizer(lines, 100)
    assert "movie" in tokenizer.get_vocabulary()


@pytest.mark.parametrize("size", [5, 3, 0, 2.5, True])
def test_vocabulary_too_small_for_the_special_tokens(tmp_path, size):
    corpus = write_corpus(tmp_path / "corpus")
    with pytest.raises(ValueError, match="larger than the 5 special tokens"):
        train_bert_tokenizer(corpus, size)


def test_missing_corpus(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="corpus path does not exist.*nowhere"):
        train_bert_tokenizer(tmp_path / "nowhere", 100)


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(ValueError, match="corpus is empty"):
        train_bert_tokenizer(tmp_path, 100)
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match="holds no .txt files"):
        train_bert_tokenizer(tmp_path / "sub", 100)
