import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import shared_path
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from text_families import FAMILIES, FAMILY_FACTS, WORDS, tiny_preset

from kerasft import presets
from kerasft.data.token_pipeline import (
    IGNORE_INDEX,
    make_token_dataset,
    tokenize_words,
    words_with_offsets,
)
from kerasft.data.wnut17 import WNUT17_TAGS, load_wnut17

TAG_NAMES = ["O", "B-X", "I-X"]
# In-vocabulary words, and one that no tiny vocabulary holds whole: WordPiece
# spells it in letters (z ##e ##b ##r ##a), byte-level BPE in bytes, the
# word-level SentencePiece protos make it one unknown piece.
SENTENCES = [
    "the quick brown fox sees a lazy dog",
    "my old cat sleeps under the big zebra",
    "zebra runs",
    "a",
]
WORDS_ = [sentence.split() for sentence in SENTENCES]
TAGS = [["B-X" if word in ("fox", "cat", "zebra") else "O" for word in words]
        for words in WORDS_]
TAG_ID = {tag: i for i, tag in enumerate(TAG_NAMES)}

_PREPROCESSORS = {}


def preprocessor(family, sequence_length=32):
    """The family's preprocessor, loaded from its tiny preset."""
    key = (family, sequence_length)
    if key not in _PREPROCESSORS:
        _PREPROCESSORS[key] = presets.load_preprocessor(
            tiny_preset(family), sequence_length=sequence_length
        )
    return _PREPROCESSORS[key]


def pieces_of(tokenizer, text):
    return list(tokenizer([text])[0])


def starts_a_word(family, token, position):
    """Whether a piece can begin a word, read off the piece's spelling."""
    kind = FAMILY_FACTS[family]["tokenizer_kind"]
    if kind == "wordpiece":
        return not token.startswith("##")
    if kind == "bpe":  # the first word has no leading space
        return position == 1 or token.startswith("Ġ")
    return token.startswith("▁") or token == FAMILY_FACTS[family][
        "specials"]["unk"]


# --- Packing and labels, every family ----------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_packs_like_the_family_and_labels_first_pieces(family):
    facts = FAMILY_FACTS[family]
    ids = facts["special_ids"]
    tokenizer = preprocessor(family).tokenizer
    windows = tokenize_words(WORDS_, TAGS, preprocessor(family),
                             tag_names=TAG_NAMES)
    assert len(windows) == len(WORDS_)  # every sentence fits one window
    assert set(windows.inputs) == set(facts["inputs"])
    for array in (*windows.inputs.values(), windows.labels):
        assert array.dtype == np.int32

    token_ids = windows.inputs["token_ids"]
    mask = windows.inputs["padding_mask"]
    for row, words in enumerate(WORDS_):
        # The pieces word by word are the pieces of the joined sentence.
        joined = pieces_of(tokenizer, " ".join(words))
        length = len(joined) + 2
        assert token_ids[row, :length].tolist() == (
            [ids["start"]] + joined + [ids["end"]]
        )
        assert (token_ids[row, length:] == ids["pad"]).all()
        assert mask[row].tolist() == [1] * length + [0] * (
            token_ids.shape[1] - length
        )
        labels = windows.labels[row]
        # -100 on the specials and the padding; a tag on the first piece of
        # each word only, in word order.
        assert labels[0] == IGNORE_INDEX
        assert (labels[length - 1:] == IGNORE_INDEX).all()
        labelled = np.flatnonzero(labels != IGNORE_INDEX)
        assert labels[labelled].tolist() == [TAG_ID[t] for t in TAGS[row]]
        for position in range(1, length - 1):
            token = tokenizer.id_to_token(int(token_ids[row, position]))
            assert (position in labelled) == starts_a_word(
                family, token, position
            ), (position, token)
    if "segment_ids" in windows.inputs:
        assert (windows.inputs["segment_ids"] == 0).all()
    assert windows.word_position.tolist() == [
        p for row in windows.labels for p in np.flatnonzero(row != -100)
    ]


def test_bpe_words_after_the_first_carry_the_space():
    tokenizer = preprocessor("roberta").tokenizer
    windows = tokenize_words([["the", "dog", "the"]], None,
                             preprocessor("roberta"))
    the, space_the, space_dog = (
        tokenizer.token_to_id(t) for t in ("the", "Ġthe", "Ġdog")
    )
    assert the != space_the
    assert windows.inputs["token_ids"][0, 1:4].tolist() == [
        the, space_dog, space_the
    ]


def test_a_word_without_pieces_gets_the_unknown_token():
    # WordPiece deletes a variation selector: no piece would carry its tag.
    windows = tokenize_words([["the", "\ufe0f", "dog"]], [["O", "B-X", "O"]],
                             preprocessor("bert"), tag_names=TAG_NAMES)
    tokenizer = preprocessor("bert").tokenizer
    the, dog = tokenizer.token_to_id("the"), tokenizer.token_to_id("dog")
    unk = FAMILY_FACTS["bert"]["special_ids"]["unk"]
    assert pieces_of(tokenizer, "\ufe0f") == []
    assert windows.inputs["token_ids"][0, :5].tolist() == [2, the, unk, dog, 3]
    assert windows.labels[0, :5].tolist() == [-100, 0, 1, 0, -100]


# --- Windows over long sentences ---------------------------------------------


def test_windows_overlap_by_stride_and_each_word_has_one_owner():
    # One piece per word, 4 per window (sequence_length 6). Word 2 has
    # context 1 (left 2, right 1) in window 0 and 0 in window 1, and so on.
    words = [["a"] * 10]
    tags = [["O", "B-X"] * 5]
    cases = {
        2: ([[0, 4], [2, 6], [4, 8], [6, 10]],
            [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]),
        1: ([[0, 4], [3, 7], [6, 10]], [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]),
        0: ([[0, 4], [4, 8], [8, 10]], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]),
    }
    for stride, (spans, owners) in cases.items():
        windows = tokenize_words(words, tags, preprocessor("bert"),
                                 tag_names=TAG_NAMES, sequence_length=6,
                                 stride=stride)
        assert windows.window_words.tolist() == spans
        assert windows.word_window.tolist() == owners
        assert (windows.window_sentence == 0).all()
        # Every word labelled once, on its owner's row.
        assert (windows.labels != IGNORE_INDEX).sum() == 10
        assert windows.gather_words(windows.labels)[0].tolist() == [0, 1] * 5
    # The default stride is a quarter of the window: 1 here.
    default = tokenize_words(words, tags, preprocessor("bert"),
                             tag_names=TAG_NAMES, sequence_length=6)
    assert default.window_words.tolist() == cases[1][0]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_word_is_labelled_in_exactly_one_window(family):
    rng = random.Random(FAMILIES.index(family))
    vocabulary = list(WORDS) + ["zebra", "quiz"]
    words = [[rng.choice(vocabulary) for _ in range(rng.randint(1, 20))]
             for _ in range(30)]
    tags = [[rng.choice(TAG_NAMES) for _ in sentence] for sentence in words]
    prep = preprocessor(family, sequence_length=8)
    windows = tokenize_words(words, tags, prep, tag_names=TAG_NAMES,
                             stride=2)
    assert len(windows) > len(words)  # long sentences were cut
    assert windows.num_truncated_words == 0
    gathered = windows.gather_words(windows.labels)
    for i, sentence in enumerate(words):
        assert gathered[i].tolist() == [TAG_ID[t] for t in tags[i]]
        rows = np.flatnonzero(windows.window_sentence == i)
        assert (windows.labels[rows] != IGNORE_INDEX).sum() == len(sentence)
        # Each window is whole words, tokenized as in the running sentence.
        bpe = FAMILY_FACTS[family]["tokenizer_kind"] == "bpe"
        previous_end = 0
        for row in rows:
            start, end = windows.window_words[row]
            assert start <= previous_end < end  # covers, moves on
            previous_end = end
            text = " ".join(sentence[start:end])
            expected = pieces_of(prep.tokenizer,
                                 " " + text if bpe and start else text)
            length = windows.inputs["padding_mask"][row].sum()
            assert windows.inputs["token_ids"][row, 1:length - 1].tolist() == (
                expected
            )
        assert previous_end == len(sentence)
    # Against per-word piece counts: windows take all the words that fit,
    # share at most `stride` pieces, and label each word where its context
    # (min of the pieces before and after it in the window) is largest.
    bpe = FAMILY_FACTS[family]["tokenizer_kind"] == "bpe"
    for i, sentence in enumerate(words):
        counts = [len(pieces_of(prep.tokenizer, " " + w if bpe and j else w))
                  for j, w in enumerate(sentence)]
        prefix = np.concatenate([[0], np.cumsum(counts)])
        rows = np.flatnonzero(windows.window_sentence == i)
        spans = windows.window_words[rows]
        for (start, end), (next_start, _) in zip(spans, spans[1:]):
            assert prefix[end + 1] - prefix[start] > 6  # full
            assert prefix[end] - prefix[next_start] <= 2  # shared
        for j in range(len(sentence)):
            context = [
                min(prefix[j] - prefix[a], prefix[b] - prefix[j + 1])
                if a <= j < b else -1
                for a, b in spans
            ]
            first = sum(windows.sentence_lengths[:i])
            owner = windows.word_window[first + j] - rows[0]
            assert owner == int(np.argmax(context)), (sentence, j, context)


def test_a_word_longer_than_a_window_keeps_its_first_pieces():
    # "zzzzzzzzzz" is ten WordPiece pieces (z ##z ...); a window holds 4.
    windows = tokenize_words([["a", "zzzzzzzzzz", "a"]], [["O", "B-X", "O"]],
                             preprocessor("bert"), tag_names=TAG_NAMES,
                             sequence_length=6)
    tokenizer = preprocessor("bert").tokenizer
    z, zz = tokenizer.token_to_id("z"), tokenizer.token_to_id("##z")
    assert windows.num_truncated_words == 1
    assert windows.window_words.tolist() == [[0, 1], [1, 2], [2, 3]]
    assert windows.inputs["token_ids"][1].tolist() == [2, z, zz, zz, zz, 3]
    assert windows.labels[1].tolist() == [-100, 1, -100, -100, -100, -100]
    assert windows.gather_words(windows.labels)[0].tolist() == [0, 1, 0]


def test_gather_words_maps_logits_back_to_words():
    windows = tokenize_words([["a"] * 10, ["the", "dog"]], None,
                             preprocessor("bert"), sequence_length=6)
    num_windows, width = windows.inputs["token_ids"].shape
    logits = np.random.default_rng(0).normal(size=(num_windows, width, 3))
    per_word = windows.gather_words(logits)
    assert [p.shape for p in per_word] == [(10, 3), (2, 3)]
    for w in range(windows.num_words):
        s, j = windows.word_sentence[w], windows.word_index[w]
        np.testing.assert_array_equal(
            per_word[s][j],
            logits[windows.word_window[w], windows.word_position[w]],
        )
    with pytest.raises(ValueError, match="one row per window"):
        windows.gather_words(logits[:-1])


# --- Datasets ----------------------------------------------------------------


def test_a_fixed_sequence_length_gives_static_shapes():
    dataset = make_token_dataset(WORDS_, TAGS, preprocessor("bert"),
                                 tag_names=TAG_NAMES, sequence_length=16,
                                 batch_size=3)
    features, labels = dataset.element_spec
    assert {name: spec.shape.as_list() for name, spec in features.items()} == {
        "token_ids": [None, 16], "padding_mask": [None, 16],
        "segment_ids": [None, 16],
    }
    assert labels == tf.TensorSpec((None, 16), tf.int32)
    windows = tokenize_words(WORDS_, TAGS, preprocessor("bert"),
                             tag_names=TAG_NAMES, sequence_length=16)
    batches = list(dataset)
    assert [len(labels) for _, labels in batches] == [3, 1]
    np.testing.assert_array_equal(
        np.concatenate([labels for _, labels in batches]), windows.labels
    )


def test_without_sequence_length_each_batch_is_cut_to_its_longest_row():
    words = [["a"], ["a", "dog"], ["the", "quick", "brown", "fox", "sees"],
             ["a"]]
    tags = [["O"] * len(sentence) for sentence in words]
    dataset = make_token_dataset(words, tags, preprocessor("roberta"),
                                 tag_names=TAG_NAMES, batch_size=2)
    assert dataset.element_spec[1].shape.as_list() == [None, None]
    widths = [labels.shape[1] for _, labels in dataset]
    assert widths == [4, 7]  # <s> a dog </s>; <s> 5 words </s>
    features, _ = next(iter(dataset))
    assert set(features) == {"token_ids", "padding_mask"}


def test_shuffling_with_a_seed_repeats_and_keeps_every_window():
    words = [["a"] * n for n in range(1, 21)]
    tags = [["O"] * n for n in range(1, 21)]
    make = lambda: make_token_dataset(  # noqa: E731
        words, tags, preprocessor("bert"), tag_names=TAG_NAMES,
        sequence_length=32, batch_size=5, shuffle=True, seed=3,
    )
    first = [f["padding_mask"].numpy().sum(1) for f, _ in make()]
    again = [f["padding_mask"].numpy().sum(1) for f, _ in make()]
    lengths = np.concatenate(first)
    assert sorted(lengths.tolist()) == [n + 2 for n in range(1, 21)]
    assert lengths.tolist() != sorted(lengths.tolist())  # shuffled
    np.testing.assert_array_equal(lengths, np.concatenate(again))


def test_without_tags_the_dataset_holds_inputs_only():
    dataset = make_token_dataset(WORDS_, None, preprocessor("albert"),
                                 batch_size=4)
    assert isinstance(dataset.element_spec, dict)
    assert set(dataset.element_spec) == {"token_ids", "padding_mask",
                                         "segment_ids"}


def test_the_labels_fit_the_loss_with_ignore_class():
    windows = tokenize_words(WORDS_, TAGS, preprocessor("bert"),
                             tag_names=TAG_NAMES)
    logits = np.random.default_rng(1).normal(
        size=windows.labels.shape + (3,)
    ).astype("float32")
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=IGNORE_INDEX
    )(windows.labels, logits)
    # By hand: the mean negative log-softmax over the labelled positions.
    rows, cols = np.nonzero(windows.labels != IGNORE_INDEX)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -log_probs[rows, cols, windows.labels[rows, cols]].mean()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


# --- Errors ------------------------------------------------------------------


def test_bad_arguments_are_refused_with_what_was_received():
    prep = preprocessor("bert")
    with pytest.raises(ValueError, match=r"tags\[1\]\[2\]='B-Y' \(word 'cat'"):
        tokenize_words([["a"], ["my", "old", "cat"]],
                       [["O"], ["O", "O", "B-Y"]], prep, tag_names=TAG_NAMES)
    with pytest.raises(ValueError, match="`tag_names` is required"):
        tokenize_words(WORDS_, TAGS, prep)
    with pytest.raises(ValueError, match="Sentence 0 has 1 words and 2 tags"):
        tokenize_words([["a"]], [["O", "O"]], prep, tag_names=TAG_NAMES)
    with pytest.raises(ValueError, match=r"Received: words\[0\]\[1\]=' '"):
        tokenize_words([["a", " "]], None, prep)
    with pytest.raises(TypeError, match=r"words\[0\] is a str"):
        tokenize_words(["a dog"], None, prep)
    with pytest.raises(ValueError, match="`words` is empty"):
        tokenize_words([], None, prep)
    with pytest.raises(ValueError, match=r"`sequence_length` must be an int "
                       r"from 3 to 32 \(the preprocessor's"):
        tokenize_words(WORDS_, None, prep, sequence_length=64)
    with pytest.raises(ValueError, match=r"`stride` must be an int from 0 to "
                       r"3 \(a window holds 4 pieces\)"):
        tokenize_words(WORDS_, None, prep, sequence_length=6, stride=4)
    with pytest.raises(TypeError, match="`preprocessor` must be"):
        tokenize_words(WORDS_, None, "bert")


# --- words_with_offsets ------------------------------------------------------


def test_words_with_offsets_splits_like_bert():
    text = "Visit Paris, now.  I'm at @home 北京 café😀!"
    words, offsets = words_with_offsets(text)
    assert words == ["Visit", "Paris", ",", "now", ".", "I", "'", "m", "at",
                     "@", "home", "北", "京", "café😀", "!"]
    assert offsets[:3] == [(0, 5), (6, 11), (11, 12)]
    assert all(text[a:b] == w for w, (a, b) in zip(words, offsets))
    assert words_with_offsets("  \t\n") == ([], [])
    with pytest.raises(TypeError, match="`text` must be a str"):
        words_with_offsets(b"bytes")


def test_words_with_offsets_matches_tensorflow_text_basic_tokenizer():
    # Letters, digits, ASCII and Unicode punctuation, CJK, emoji, control
    # and format characters (both split there), ASCII whitespace.
    alphabet = list("abXY09é") + list("!$,-.@[`{~") + ["¿", "«", "—", "…"] + [
        "北", "京", "😀", "\x01", "\x1f", "\x7f", "\u200b", "\u200d", " ",
        "\t", "\n", "\ufffd",
    ]
    rng = random.Random(0)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
             for _ in range(300)]
    expected = BasicTokenizer(lower_case=False).tokenize(texts).to_list()
    for text, reference in zip(texts, expected):
        words, offsets = words_with_offsets(text)
        assert words == [w.decode("utf-8") for w in reference], repr(text)
        assert [text[a:b] for a, b in offsets] == words


# --- WNUT-17 ------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_wnut17_train_every_word_labelled_once(family):
    train = load_wnut17("train", data_dir=shared_path("data", "wnut17"))
    # The tiny preset's tokenizer at 128 pieces (no backbone is involved).
    tokenizer = preprocessor(family).tokenizer
    prep = presets.preprocessor_for(tokenizer, sequence_length=128)
    windows = tokenize_words(train.words, train.tags, prep,
                             tag_names=WNUT17_TAGS)
    assert windows.num_words == 62730
    assert (windows.labels != IGNORE_INDEX).sum() == 62730
    ids = {tag: i for i, tag in enumerate(WNUT17_TAGS)}
    gathered = windows.gather_words(windows.labels)
    assert all(g.tolist() == [ids[t] for t in tags]
               for g, tags in zip(gathered, train.tags))
    # Against the joined sentences, tokenized whole: a sentence of at most
    # 126 pieces is one window holding exactly those pieces.
    joined = tokenizer(tf.constant([" ".join(w) for w in train.words]))
    counts = np.array([len(pieces) for pieces in joined])
    per_sentence = np.bincount(windows.window_sentence,
                               minlength=len(train))
    np.testing.assert_array_equal(per_sentence == 1, counts <= 126)
    for i in np.flatnonzero(counts <= 126)[:500]:
        row = np.flatnonzero(windows.window_sentence == i)[0]
        length = counts[i] + 2
        assert windows.inputs["token_ids"][row, 1:length - 1].tolist() == (
            list(joined[i])
        )
    # A short window length cuts many sentences; still one label per word.
    short = tokenize_words(train.words, train.tags, prep,
                           tag_names=WNUT17_TAGS, sequence_length=16)
    assert len(short) > 2 * len(train)
    assert (short.labels != IGNORE_INDEX).sum() == 62730
    assert all(g.tolist() == [ids[t] for t in tags]
               for g, tags in zip(short.gather_words(short.labels),
                                  train.tags))
