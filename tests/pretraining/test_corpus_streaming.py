"""Corpora that scale: gzip and mixed folders streamed, a bounded vocabulary
sample, packed windows and their padding, and bad input refused early."""

import gzip

import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from conftest import shared_path
from text_corpus_helper import corpus_lines as helper_lines
from text_corpus_helper import write_corpus

from kerasft.pretraining import (
    bert_backbone,
    corpus_files,
    corpus_lines,
    make_masked_lm_dataset,
    masked_lm_model,
    packing_stats,
    sample_corpus_lines,
    save_bert_preset,
    train_bert_tokenizer,
)
from kerasft.recipes.pretrain import PretrainConfig, run_pretrain

# Every word one token: token counts known by hand.
WORDS = ["a", "b", "c", "d", "e", "f", "g"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
CLS, SEP, PAD = 2, 3, 0


@pytest.fixture(scope="module")
def word_tokenizer():
    return keras_hub.tokenizers.BertTokenizer(vocabulary=VOCABULARY)


def read(lines):
    return [line.decode() for line in lines.as_numpy_iterator()]


def text(detokenized):
    value = np.asarray(detokenized).item()
    return value.decode() if isinstance(value, bytes) else value


def unmasked(corpus, tokenizer, **kwargs):
    """Batches in corpus order whose token ids are left as they are."""
    return make_masked_lm_dataset(
        corpus, tokenizer, shuffle=False, min_batches=0,
        drop_remainder=False, mask_token_rate=0.0, random_token_rate=0.0,
        **kwargs)


# ------------------------------------------------------------- streaming


def test_gzip_file_streams_the_same_lines_as_plain(tmp_path):
    text = "\n".join(helper_lines(300)) + "\n"
    (tmp_path / "plain.txt").write_text(text)
    with gzip.open(tmp_path / "packed.txt.gz", "wt") as file:
        file.write(text)
    plain = read(corpus_lines(tmp_path / "plain.txt"))
    assert len(plain) == 300
    assert read(corpus_lines(tmp_path / "packed.txt.gz")) == plain


def test_folder_mixes_plain_and_gzip_files_in_sorted_order(tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"three\n\nfour\n"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt.gz").write_bytes(gzip.compress(b"five"))
    (tmp_path / "notes.csv").write_text("not,corpus\n")
    assert [f.rsplit("/", 2)[-1] for f in corpus_files(tmp_path)] == [
        "a.txt", "b.txt.gz", "c.txt.gz"]
    assert read(corpus_lines(tmp_path)) == [
        "one", "two", "three", "four", "five"]
    # A list mixing both kinds keeps its own order.
    assert read(corpus_lines([tmp_path / "b.txt.gz", tmp_path / "a.txt"])) == [
        "three", "four", "one", "two"]


def test_gzip_members_concatenated_are_all_read(tmp_path):
    path = tmp_path / "cat.txt.gz"
    path.write_bytes(gzip.compress(b"first\n") + gzip.compress(b"second\n"))
    assert read(corpus_lines(path)) == ["first", "second"]


# --------------------------------------------------------------- packing


def test_packed_windows_read_back_as_their_lines(tmp_path):
    lines = helper_lines(40, seed=3) + [" ".join(["good"] * 30)]  # one long
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    tokenizer = train_bert_tokenizer(tmp_path, 100)
    dataset = unmasked(tmp_path, tokenizer, sequence_length=16,
                       batch_size=4, pack_lines=True)
    windows = np.concatenate(
        [x["token_ids"].numpy() for x, _, _ in dataset])  # (n, 16)
    assert (windows[:, 0] == tokenizer.cls_token_id).all()
    # Each line tokenized alone, then [SEP]: the windows, [CLS] dropped and
    # joined, are that stream, padded once at the very end.
    stream = np.concatenate([
        np.append(np.asarray(tokenizer(line)), tokenizer.sep_token_id)
        for line in lines])
    joined = windows[:, 1:].reshape(-1)
    np.testing.assert_array_equal(joined[:len(stream)], stream)
    assert (joined[len(stream):] == tokenizer.pad_token_id).all()
    assert len(joined) - len(stream) < 15  # only the last window pads
    # Read back as text: the lines, lowercased, each closed by [SEP].
    assert text(tokenizer.detokenize(joined[:len(stream)])) == " ".join(
        f"{line.lower()} [SEP]" for line in lines)
    first = text(tokenizer.detokenize(windows[0]))
    assert first.startswith(f"[CLS] {lines[0].lower()} [SEP] the")
    # The long line runs on over the last windows.
    assert text(tokenizer.detokenize(windows[-2])).count("good") == 15


def test_padding_fraction_counted_by_hand(tmp_path, word_tokenizer):
    (tmp_path / "corpus.txt").write_text("a b c\nd e\na b c d e f g\nf g\n")
    # sequence_length 6. One line per example, windows of 6 - 2 = 4 tokens:
    #   [CLS] a b c [SEP] + 1 pad; [CLS] d e [SEP] + 2 pad;
    #   "a b c d e f g" -> [CLS] a b c d [SEP] (0 pad), [CLS] e f g [SEP]
    #   + 1 pad; [CLS] f g [SEP] + 2 pad.  5 examples, 30 positions, 6 pad.
    lines = unmasked(tmp_path, word_tokenizer, sequence_length=6,
                     batch_size=2)
    assert packing_stats(lines) == {
        "padding_fraction": pytest.approx(6 / 30), "num_tokens": 24,
        "num_padding": 6, "num_positions": 30, "num_batches": 3}
    # Packed: a b c S d e S a b c d e f g S f g S = 18 tokens in windows of
    # 6 - 1 = 5 after [CLS]: 3 full windows and one of 3 tokens + 2 pad.
    # 4 examples, 24 positions, 2 pad.
    packed = unmasked(tmp_path, word_tokenizer, sequence_length=6,
                      batch_size=2, pack_lines=True)
    assert packing_stats(packed) == {
        "padding_fraction": pytest.approx(2 / 24), "num_tokens": 22,
        "num_padding": 2, "num_positions": 24, "num_batches": 2}
    # The first batch only: 2 full windows.
    assert packing_stats(packed, num_batches=1)["padding_fraction"] == 0
    ids = np.concatenate([x["token_ids"].numpy() for x, _, _ in packed])
    assert ids[:, 0].tolist() == [CLS] * 4
    f, g = VOCABULARY.index("f"), VOCABULARY.index("g")
    assert ids[3].tolist() == [CLS, f, g, SEP, PAD, PAD]
    # The counting pass of make_masked_lm_dataset agrees.
    counted = make_masked_lm_dataset(tmp_path, word_tokenizer,
                                     sequence_length=6, batch_size=2,
                                     pack_lines=True)
    assert counted.num_examples == 4 and counted.num_tokens == 22
    assert counted.padding_fraction == pytest.approx(2 / 24)


def test_packing_stats_needs_a_padding_mask():
    with pytest.raises(ValueError, match="padding_mask"):
        packing_stats(tf.data.Dataset.from_tensors({"token_ids": [1, 2]}))
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        packing_stats([1, 2])


# ------------------------------------------------------ vocabulary sample


def test_vocabulary_learned_from_the_sample_only(tmp_path):
    # The learner keeps a word piece seen at least 10 times: 30 each here.
    (tmp_path / "corpus.txt").write_text(
        "alpha beta gamma\n" * 30 + "zulu yankee xray\n" * 30)
    everything = train_bert_tokenizer(tmp_path, 200).get_vocabulary()
    assert {"alpha", "zulu"} <= set(everything)
    first = train_bert_tokenizer(tmp_path, 200,
                                 sample_lines=30).get_vocabulary()
    assert "alpha" in first and "zulu" not in first


def test_sample_corpus_lines_first_and_reservoir(tmp_path):
    with gzip.open(tmp_path / "numbers.txt.gz", "wt") as file:
        file.write("".join(f"line {i}\n" for i in range(1000)))
    assert read(sample_corpus_lines(tmp_path, 3)) == [
        "line 0", "line 1", "line 2"]
    drawn = read(sample_corpus_lines(tmp_path, 50, method="reservoir"))
    assert len(set(drawn)) == 50
    numbers = [int(line.split()[1]) for line in drawn]
    assert numbers == sorted(numbers) and max(numbers) > 500
    assert drawn == read(sample_corpus_lines(tmp_path, 50, "reservoir"))
    assert drawn != read(sample_corpus_lines(tmp_path, 50, "reservoir",
                                             seed=1))
    assert len(read(sample_corpus_lines(tmp_path, 5000, "reservoir"))) == 1000
    with pytest.raises(ValueError, match="`method` must be one of"):
        sample_corpus_lines(tmp_path, 5, method="random")
    with pytest.raises(ValueError, match=r"Received: num_lines=0"):
        sample_corpus_lines(tmp_path, 0)


# ------------------------------------------------------------- bad input


@pytest.mark.parametrize("name, content, message", [
    ("data.txt", bytes(range(256)), r"not text: it holds NUL bytes \(first "
     r"at byte 0\)"),
    ("latin.txt", "un café noir\n".encode("latin-1"),
     r"not UTF-8: byte 0xe9 at offset 6 .*Windows-1252 / Latin-1"),
    ("wide.txt", "hello\n".encode("utf-16"), "is UTF-16 text"),
    ("hidden.txt", gzip.compress(b"hello\n"),
     "gzip-compressed but its name does not end in .gz"),
    ("fake.txt.gz", b"hello, plain text\n", "named .gz is not gzip"),
    ("binary.txt.gz", gzip.compress(b"ab\x00cd"),
     r"NUL bytes \(first at byte 2 after decompression\)"),
    ("blank.txt.gz", gzip.compress(b"\n  \n\t\n"), "The corpus is empty"),
])
def test_files_that_are_not_a_text_corpus(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        corpus_files(tmp_path / name)
    if "empty" not in message:
        assert f"Received: corpus file '{tmp_path / name}'" in str(error.value)
    # train_bert_tokenizer reads the corpus through the same checks.
    with pytest.raises(ValueError, match=message):
        train_bert_tokenizer(tmp_path, 100)


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_gzip_is_refused(tmp_path, keep):
    # TensorFlow's reader would stop silently at the cut; zlib notices.
    rng = np.random.default_rng(0)
    words = rng.choice(["good", "bad", "movie", "plot"], 100_000)
    data = gzip.compress(" ".join(words).encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"\.gz corpus file is truncated.*"
                       r"Received: corpus file '.*cut\.txt\.gz'"):
        corpus_lines(tmp_path)
    # A tiny truncated file fails on its head already.
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress(b"hello\n")[:-9])
    with pytest.raises(ValueError, match="truncated"):
        corpus_files(tmp_path)


def test_bad_bytes_past_the_checked_head_are_replaced(tmp_path):
    (tmp_path / "late.txt").write_bytes(
        b"fine line\n" * 7000 + b"caf\xe9\n")  # past the first 64 KiB
    assert read(corpus_lines(tmp_path))[-1] == "caf\ufffd"


@pytest.mark.parametrize("settings, message", [
    (dict(vocabulary_size=4), r"larger than the 5 special tokens .*"
     r"Received: vocabulary_size=4"),
    (dict(max_steps=0), r"a budget of 0 steps ends before the first step"
     r"\)\. Received: max_steps=0"),
    (dict(max_seconds=0), r"ends before the first step\)\. Received: "
     r"max_seconds=0"),
    (dict(max_seconds=-5.0), r"Received: max_seconds=-5.0"),
    (dict(sequence_length=128, max_sequence_length=64),
     r"`max_sequence_length` must be at least `sequence_length`"),
    (dict(vocabulary_sample_lines=0), r"Received: vocabulary_sample_lines=0"),
    (dict(vocabulary_sample="last"), r"Received: vocabulary_sample='last'"),
    (dict(pack_lines="yes"), r"`pack_lines` must be True or False"),
])
def test_bad_settings_refused_by_the_config(tmp_path, settings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        PretrainConfig(corpus=str(tmp_path / "nowhere"), **settings)


def test_sequence_length_above_the_presets_maximum(tmp_path):
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=VOCABULARY)
    backbone = bert_backbone(len(VOCABULARY), num_layers=1, hidden_dim=8,
                             num_heads=2, max_sequence_length=32)
    save_bert_preset(masked_lm_model(backbone), tokenizer, tmp_path / "bert")
    # Refused from the preset's config.json: the corpus (missing here) is
    # never opened, no weight read.
    with pytest.raises(ValueError, match=r"at most the preset's "
                       r"max_sequence_length=32 .*Received: "
                       r"sequence_length=33"):
        run_pretrain(PretrainConfig(
            corpus=str(tmp_path / "nowhere"), preset=str(tmp_path / "bert"),
            sequence_length=33, output_dir=str(tmp_path / "run")), verbose=0)
    assert not (tmp_path / "run").exists()


def test_time_budget_stops_after_the_first_step(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", num_lines=400)
    results = run_pretrain(PretrainConfig(
        corpus=str(corpus), output_dir=str(tmp_path / "run"),
        vocabulary_size=100, num_layers=1, hidden_dim=16, num_heads=2,
        intermediate_dim=32, sequence_length=12, batch_size=10, epochs=3,
        max_seconds=1e-6), verbose=0)
    assert results["steps"] == 1  # the budget is checked after each call
    assert results["padding_fraction"] < 0.05
    assert results["num_tokens"] > 0 and results["tokens_per_second"] > 0


# ------------------------------------------------------------- real data


@pytest.mark.shared
def test_imdb_unsup_gzip_first_lines():
    path = shared_path("data", "imdb", "unsup.txt.gz")
    head = sample_corpus_lines(path, 300)
    lines = read(head)
    assert len(lines) == 300
    assert lines[0].startswith("I admit, the great majority of films")
    tokenizer = train_bert_tokenizer(head, 2000)
    vocabulary = tokenizer.get_vocabulary()
    assert {"the", "movie", "film"} <= set(vocabulary)
    assert len(vocabulary) <= 2000
    # Reviews of ~300 tokens: packed, only the last window pads.
    train = make_masked_lm_dataset(head, tokenizer, sequence_length=128,
                                   batch_size=16, pack_lines=True)
    assert train.num_examples > 300
    assert train.padding_fraction < 0.01
    assert packing_stats(train, num_batches=5)["padding_fraction"] == 0
