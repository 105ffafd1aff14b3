"""Masked-LM batches from a corpus: tokenized once, masked every epoch.

The pipeline, all on the host in tf.data (the model only sees int32 ids):

    lines ──tokenize──► word pieces ──windows of sequence_length──► cache
          ──shuffle, batch──► mask (keras-hub MaskedLMMaskGenerator; new
          masks each epoch when read as the Trainer does, one iterator over
          dataset.repeat())

Two ways to make windows:
- one line per example (`pack_lines=False`): `[CLS] line [SEP]` + `[PAD]`;
  a line longer than one window is split into several windows rather than
  truncated, so no text is lost. A corpus of short lines is mostly padding.
- packed (`pack_lines=True`, RoBERTa's "full sentences"): every line's
  tokens then `[SEP]`, one stream cut into full windows, each led by
  `[CLS]`: `[CLS] a [SEP] b [SEP] c...`. A long line runs on over several
  windows, short ones share one; only the very last window is padded.

`packing_stats` measures the padding share of the batches produced.
"""

import math
import os

import keras_hub
import tensorflow as tf

from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_int,
    check_optional_int,
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
    cache=True,
):
    """Builds masked-LM batches `(x, y, sample_weight)` from a corpus.

    Each example is `sequence_length` tokens led by `[CLS]`: one line
    (`[CLS] tokens [SEP]`, padded) or, with `pack_lines=True`, a full
    window of the packed stream `[CLS] a [SEP] b [SEP] ...` (see the
    module docstring). keras-hub's `MaskedLMMaskGenerator` then picks
    `mask_rate` of the real tokens (never `[CLS]`, `[SEP]`, `[PAD]`) in
    every batch; of those, 80% become `[MASK]`, 10% a random token, 10%
    stay (BERT's recipe). The tokenized examples are cached, and the masks
    drawn anew each epoch.

    Args:
        corpus: a text or `.gz` file, a folder of `*.txt` / `*.txt.gz`
            files, a list of those, or a `tf.data.Dataset` of strings (one
            line or document each).
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
        pack_lines: bool. Pack the lines, each ended by `[SEP]`, into full
            windows (a line may then span two windows, and a window hold
            several lines), instead of one example per line. Defaults to
            `False`.
        cache: bool, str or path-like. Keep the tokenized examples in
            memory (`True`), in files at that path prefix (for a corpus
            whose tokens do not fit in memory), or re-tokenize every epoch
            (`False`). Defaults to `True`.

    Returns:
        A `tf.data.Dataset` of `(x, y, sample_weight)`: `x` a dict of int32
        `token_ids`, `padding_mask`, `segment_ids` `(batch, sequence_length)`
        and `mask_positions` `(batch, mask_selection_length)`; `y` the
        original ids at those positions `(batch, mask_selection_length)`;
        `sample_weight` float32, 1 for a real mask slot and 0 for padding.
        When counted (`min_batches` or `shuffle`), the dataset has the
        attributes `num_examples`, `num_tokens` (non-padding positions,
        `[CLS]` and `[SEP]` included) and `padding_fraction`, over one pass
        of the unbatched examples; otherwise they are None.

    Raises:
        ValueError: for a bad argument, an empty corpus, or a corpus that
            does not fill `min_batches` batches.

    Example:
    ```python
    tokenizer = kerasft.pretraining.train_bert_tokenizer("corpus/", 8000)
    train = kerasft.pretraining.make_masked_lm_dataset(
        "corpus/", tokenizer, sequence_length=64, batch_size=32,
        pack_lines=True)
    x, y, sample_weight = next(iter(train))
    train.padding_fraction  # ~0 when packed
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
    _check_cache(cache)
    lines = corpus_lines(corpus)  # checks the paths first

    dataset = lines.batch(TOKENIZE_BATCH_SIZE)
    dataset = dataset.map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    if pack_lines:
        dataset = _packed_windows(dataset, tokenizer, sequence_length)
    else:
        dataset = _line_windows(dataset, tokenizer, sequence_length)
    if cache is True:
        dataset = dataset.cache()
    elif cache is not False:
        dataset = dataset.cache(os.fspath(cache))

    num_examples = num_tokens = padding_fraction = None
    if min_batches or shuffle:
        # One pass over the corpus (it fills the cache); a stream of
        # unknown length cannot be checked or fully shuffled otherwise.
        num_examples, num_tokens = (int(n) for n in dataset.reduce(
            (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
            lambda counts, x: (counts[0] + 1, counts[1] + tf.math.count_nonzero(
                x["token_ids"] != tokenizer.pad_token_id, dtype=tf.int64)),
        ))
        padding_fraction = 1 - num_tokens / max(
            1, num_examples * sequence_length)
    if min_batches and num_examples < min_batches * batch_size:
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

    masker = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size(),
        mask_selection_rate=mask_rate,
        mask_token_id=tokenizer.mask_token_id,
        mask_selection_length=mask_selection_length,
        unselectable_token_ids=list(tokenizer.special_token_ids),
        mask_token_rate=mask_token_rate,
        random_token_rate=random_token_rate,
    )

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
    dataset.num_tokens = num_tokens
    dataset.padding_fraction = padding_fraction
    return dataset


def packing_stats(dataset, num_batches=None):
    """Counts the padding in the first batches of a masked-LM dataset.

    Args:
        dataset: a `tf.data.Dataset` of `(x, y, sample_weight)` batches (as
            `make_masked_lm_dataset` gives) or of `x` dicts; `x` must hold
            `padding_mask` (1 for a real token, `[CLS]`/`[SEP]` included,
            0 for `[PAD]`).
        num_batches: int or None. Batches to read; None reads them all
            (the dataset must end). Defaults to `None`.

    Returns:
        A dict: `padding_fraction` (padded positions / all positions),
        `num_tokens` (real positions), `num_padding`, `num_positions`,
        `num_batches` (batches read).

    Example:
    ```python
    stats = kerasft.pretraining.packing_stats(train, num_batches=50)
    stats["padding_fraction"]  # e.g. 0.0 packed, 0.7 one short line each
    ```
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            "`dataset` must be a tf.data.Dataset of masked-LM batches. "
            f"Received: dataset of type {type(dataset).__name__}"
        )
    num_batches = check_optional_int("num_batches", num_batches)
    spec = dataset.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(x_spec, dict) or "padding_mask" not in x_spec:
        raise ValueError(
            "`dataset` must yield `(x, y, sample_weight)` or `x`, with "
            "x['padding_mask']. Received: a dataset with element_spec="
            f"{spec}"
        )
    if num_batches is not None:
        dataset = dataset.take(num_batches)

    def count(counts, *element):
        mask = element[0]["padding_mask"] if isinstance(
            element[0], dict) else element[0][0]["padding_mask"]
        return (counts[0] + 1,
                counts[1] + tf.math.count_nonzero(mask, dtype=tf.int64),
                counts[2] + tf.size(mask, out_type=tf.int64))

    zero = tf.constant(0, tf.int64)
    batches, tokens, positions = (int(n) for n in dataset.reduce(
        (zero, zero, zero), count))
    return {
        "padding_fraction": 1 - tokens / positions if positions else 0.0,
        "num_tokens": tokens,
        "num_padding": positions - tokens,
        "num_positions": positions,
        "num_batches": batches,
    }


def _check_cache(cache):
    if not isinstance(cache, (bool, str, os.PathLike)) or cache == "":
        raise TypeError(
            "`cache` must be True (in memory), False (none) or a file path "
            f"prefix. Received: cache={cache!r} of type "
            f"{type(cache).__name__}"
        )


def _line_windows(dataset, tokenizer, sequence_length):
    """Ragged token batches -> one `[CLS] window [SEP]` example per window
    of each line (a long line gives several), padded."""
    window = sequence_length - 2  # room left by [CLS] and [SEP]
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=sequence_length,
        start_value=tokenizer.cls_token_id,
        end_value=tokenizer.sep_token_id,
        pad_value=tokenizer.pad_token_id,
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

    dataset = dataset.unbatch()  # (num_tokens,) per line
    dataset = dataset.filter(lambda tokens: tf.size(tokens) > 0)
    dataset = dataset.flat_map(windows)  # (<= window,) per example
    dataset = dataset.ragged_batch(TOKENIZE_BATCH_SIZE)
    dataset = dataset.map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.unbatch()


def _packed_windows(dataset, tokenizer, sequence_length):
    """Ragged token batches -> full windows `[CLS] a [SEP] b [SEP] ...`.

    Vectorized per batch of lines: each batch becomes one flat stream (every
    line followed by `[SEP]`); a `scan` carries the tokens that do not fill
    a window on to the next batch, and a last element flushes them as the
    one padded window.
    """
    window = sequence_length - 1  # after [CLS]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    pad_id = tokenizer.pad_token_id

    def stream(tokens):
        # ragged (lines, None) -> (stream_length,), [SEP] after each line
        tokens = tf.ragged.boolean_mask(tokens, tokens.row_lengths() > 0)
        seps = tf.fill([tokens.nrows(), 1], tf.cast(sep_id, tokens.dtype))
        tokens = tf.concat([tokens, seps], axis=1)
        return tf.cast(tokens.flat_values, tf.int32), False

    def cut(carry, element):
        # carry: (< window,) tokens left over; -> full (rows, window)
        tokens, last = element
        buffer = tf.concat([carry, tokens], axis=0)
        size = tf.size(buffer)
        rows = tf.where(last, (size + window - 1) // window, size // window)
        used = tf.minimum(rows * window, size)
        windows = tf.pad(buffer[:used], [[0, rows * window - used]],
                         constant_values=pad_id)
        return buffer[used:], tf.reshape(windows, [rows, window])

    def lead(windows):
        # (rows, window) -> (rows, sequence_length) with [CLS] first
        rows = tf.shape(windows)[0]
        token_ids = tf.concat(
            [tf.fill([rows, 1], tf.cast(cls_id, tf.int32)), windows], axis=1)
        return {"token_ids": token_ids,
                "segment_ids": tf.zeros_like(token_ids)}

    dataset = dataset.map(stream, num_parallel_calls=tf.data.AUTOTUNE)
    flush = tf.data.Dataset.from_tensors((tf.zeros([0], tf.int32), True))
    dataset = dataset.concatenate(flush)
    dataset = dataset.scan(tf.zeros([0], tf.int32), cut)
    dataset = dataset.map(lead, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.unbatch()
