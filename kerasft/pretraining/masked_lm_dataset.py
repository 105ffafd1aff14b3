"""Masked-LM batches from a corpus: tokenized once, masked every epoch.

The pipeline, all on the host in tf.data (the model only sees int32 ids):

    lines ──tokenize──► word pieces ──cut into windows of sequence_length - 2
          ──pack [CLS] window [SEP] + [PAD]──► cache ──shuffle, batch──►
          mask (keras-hub MaskedLMMaskGenerator; new masks each epoch when
          read as the Trainer does, one iterator over dataset.repeat())

A line longer than one window is split into several windows rather than
truncated, so no text is lost; a short line is one (padded) example. With
`pack_lines=True` the lines are joined into one token stream cut into full
windows instead (RoBERTa's "full sentences"): no padding, so a corpus of
short lines costs about half the compute per token.
"""

import math

import keras_hub
import tensorflow as tf

from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_int,
    check_real,
    check_seed,
    is_real,
)
from kerasft.pretraining.corpus import corpus_lines

# How many lines are tokenized per call of the tokenizer (a vectorized op).
TOKENIZE_BATCH_SIZE = 256
DEFAULT_SHUFFLE_BUFFER_SIZE = 10_000


def check_mask_rate(mask_rate):
    """Returns `mask_rate` as a float, or raises unless 0 < mask_rate < 1."""
    if not is_real(mask_rate) or not 0 < mask_rate < 1:
        raise ValueError(
            "`mask_rate` is the share of tokens the model must predict. "
            f"Received: mask_rate={mask_rate!r} (expected 0 < mask_rate < 1)"
        )
    return float(mask_rate)


def default_mask_selection_length(sequence_length, mask_rate):
    """Mask slots per sequence: the expected count of masks, plus slack.

    tensorflow-text's selector picks about `mask_rate` of the real tokens;
    a row with more picks is cut to this length, a row with fewer is
    padded (weight 0). 1.5x the rate over the whole window is a little more
    than a full row ever gets, at most `sequence_length - 2`.
    """
    return max(1, min(sequence_length - 2,
                      math.ceil(1.5 * mask_rate * sequence_length)))


def make_masked_lm_dataset(
    corpus,
    tokenizer,
    sequence_length=128,
    batch_size=32,
    mask_rate=0.15,
    mask_selection_length=None,
    mask_token_rate=0.8,
    random_token_rate=0.1,
    shuffle=True,
    seed=0,
    drop_remainder=True,
    min_batches=1,
    pack_lines=False,
):
    """Builds masked-LM batches `(x, y, sample_weight)` from a corpus.

    Each example is `[CLS] tokens [SEP]` padded to `sequence_length`.
    keras-hub's `MaskedLMMaskGenerator` then picks `mask_rate` of the real
    tokens (never `[CLS]`, `[SEP]`, `[PAD]`) in every batch; of those, 80%
    become `[MASK]`, 10% a random token, 10% stay (BERT's recipe). The
    tokenized examples are cached, and the masks drawn anew each epoch.

    Args:
        corpus: a text file, a folder of `*.txt` files, a list of those, or
            a `tf.data.Dataset` of strings (one line or document each).
        tokenizer: a `keras_hub.tokenizers.BertTokenizer`.
        sequence_length: int. Tokens per example, `[CLS]` and `[SEP]`
            included; at least 3. Defaults to `128`.
        batch_size: int. Examples per batch. Defaults to `32`.
        mask_rate: float in (0, 1). Share of the tokens to predict.
            Defaults to `0.15`.
        mask_selection_length: int or None. Mask slots per example. Defaults
            to `default_mask_selection_length(sequence_length, mask_rate)`.
        mask_token_rate: float. Share of the picked tokens replaced by
            `[MASK]`. Defaults to `0.8`.
        random_token_rate: float. Share replaced by a random token.
            Defaults to `0.1`.
        shuffle: bool. Reshuffle the examples each epoch. Defaults to
            `True`.
        seed: int or None. Shuffle seed. Defaults to `0`.
        drop_remainder: bool. Drop the last partial batch (static shapes).
            Defaults to `True`.
        min_batches: int. Raise unless the corpus gives at least this many
            full batches. Counting takes one pass over the corpus (it fills
            the cache); `0` skips it. Defaults to `1`.
        pack_lines: bool. Join the lines into one token stream cut into
            windows of `sequence_length - 2` tokens (an example may then
            span several lines), instead of one example per line. Defaults
            to `False`.

    Returns:
        A `tf.data.Dataset` of `(x, y, sample_weight)`: `x` a dict of int32
        `token_ids`, `padding_mask`, `segment_ids` `(batch, sequence_length)`
        and `mask_positions` `(batch, mask_selection_length)`; `y` the
        original ids at those positions `(batch, mask_selection_length)`;
        `sample_weight` float32, 1 for a real mask slot and 0 for padding.
        The dataset has a `num_examples` attribute when counted.

    Raises:
        ValueError: for a bad argument, an empty corpus, or a corpus that
            does not fill `min_batches` batches.

    Example:
    ```python
    tokenizer = kerasft.pretraining.train_bert_tokenizer("corpus/", 8000)
    train = kerasft.pretraining.make_masked_lm_dataset(
        "corpus/", tokenizer, sequence_length=64, batch_size=32)
    x, y, sample_weight = next(iter(train))
    ```
    """
    if not isinstance(tokenizer, keras_hub.tokenizers.BertTokenizer):
        raise TypeError(
            "`tokenizer` must be a keras_hub.tokenizers.BertTokenizer (e.g. "
            "from kerasft.pretraining.train_bert_tokenizer). Received: "
            f"tokenizer of type {type(tokenizer).__name__}"
        )
    sequence_length = check_int(
        "sequence_length", sequence_length, minimum=3)
    batch_size = check_batch_size(batch_size)
    mask_rate = check_mask_rate(mask_rate)
    if mask_selection_length is None:
        mask_selection_length = default_mask_selection_length(
            sequence_length, mask_rate)
    mask_selection_length = check_int(
        "mask_selection_length", mask_selection_length,
        maximum=sequence_length - 2,
        why="the real tokens of a sequence of sequence_length="
            f"{sequence_length}, [CLS] and [SEP] aside",
    )
    mask_token_rate = check_real("mask_token_rate", mask_token_rate,
                                 low=0, high=1)
    random_token_rate = check_real("random_token_rate", random_token_rate,
                                   low=0, high=1)
    if mask_token_rate + random_token_rate > 1:
        raise ValueError(
            "`mask_token_rate + random_token_rate` must be at most 1 (they "
            "share the picked tokens; the rest stay as they are). Received: "
            f"mask_token_rate={mask_token_rate}, "
            f"random_token_rate={random_token_rate}"
        )
    for name, flag in (("shuffle", shuffle), ("drop_remainder", drop_remainder),
                       ("pack_lines", pack_lines)):
        check_bool(name, flag)
    check_seed(seed)
    min_batches = check_int("min_batches", min_batches, minimum=0)
    lines = corpus_lines(corpus)  # checks the paths first

    window = sequence_length - 2  # room left by [CLS] and [SEP]
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=sequence_length,
        start_value=tokenizer.cls_token_id,
        end_value=tokenizer.sep_token_id,
        pad_value=tokenizer.pad_token_id,
    )
    masker = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size(),
        mask_selection_rate=mask_rate,
        mask_token_id=tokenizer.mask_token_id,
        mask_selection_length=mask_selection_length,
        unselectable_token_ids=list(tokenizer.special_token_ids),
        mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
    )

    def windows(line_tokens):
        # (num_tokens,) -> a ragged (num_windows, <= window) of the line's
        # tokens, cut every `window` tokens.
        length = tf.shape(line_tokens, out_type=tf.int64)[0]
        starts = tf.range(0, length, window, dtype=tf.int64)
        splits = tf.concat([starts, [length]], axis=0)
        return tf.data.Dataset.from_tensor_slices(
            tf.RaggedTensor.from_row_splits(line_tokens, splits)
        )

    def pack(tokens):
        # tokens: ragged (batch, <= window) -> dense (batch, sequence_length)
        token_ids, segment_ids = packer(tokens)
        return {
            "token_ids": tf.cast(token_ids, tf.int32),
            "segment_ids": tf.cast(segment_ids, tf.int32),
        }

    dataset = lines.batch(TOKENIZE_BATCH_SIZE)
    dataset = dataset.map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch()  # (num_tokens,) per line
    dataset = dataset.filter(lambda tokens: tf.size(tokens) > 0)
    if pack_lines:
        # One token per element, then full windows: a one-off cost, as
        # everything before the cache.
        dataset = dataset.flat_map(tf.data.Dataset.from_tensor_slices)
        dataset = dataset.batch(window)  # (<= window,) per example
    else:
        dataset = dataset.flat_map(windows)  # (<= window,) per example
    dataset = dataset.ragged_batch(TOKENIZE_BATCH_SIZE)
    dataset = dataset.map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch().cache()

    num_examples = None
    if min_batches or shuffle:
        # One pass over the corpus (it fills the cache); a stream of
        # unknown length cannot be checked or fully shuffled otherwise.
        num_examples = int(dataset.reduce(
            tf.constant(0, tf.int64), lambda count, _: count + 1))
    if min_batches and num_examples < min_batches * batch_size:
        num_tokens = int(dataset.reduce(
            tf.constant(0, tf.int64),
            lambda count, x: count + tf.math.count_nonzero(
                x["token_ids"] != tokenizer.pad_token_id) - 2,
        ))
        raise ValueError(
            f"The corpus is too small: it gives {num_examples} sequence(s) "
            f"({num_tokens} tokens), fewer than {min_batches} batch(es) of "
            f"{batch_size} sequences. Received: batch_size={batch_size}, "
            f"sequence_length={sequence_length}; add text or lower "
            "batch_size."
        )
    if shuffle:
        dataset = dataset.shuffle(
            min(num_examples, DEFAULT_SHUFFLE_BUFFER_SIZE) or 1, seed=seed,
            reshuffle_each_iteration=True,
        )
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def mask(features):
        token_ids = features["token_ids"]  # (batch, sequence_length)
        masked = masker(token_ids)
        x = {
            "token_ids": tf.cast(masked["token_ids"], tf.int32),
            "padding_mask": tf.cast(
                token_ids != tokenizer.pad_token_id, tf.int32),
            "segment_ids": features["segment_ids"],
            # (batch, mask_selection_length)
            "mask_positions": tf.cast(masked["mask_positions"], tf.int32),
        }
        y = tf.cast(masked["mask_ids"], tf.int32)
        sample_weight = tf.cast(masked["mask_weights"], tf.float32)
        return x, y, sample_weight

    dataset = dataset.map(mask, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    dataset.num_examples = num_examples
    return dataset
