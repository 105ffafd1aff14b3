"""Token classification data: words -> windows of word pieces -> batches.

For a `TokenClassifier` (one tag per word, e.g. NER), each sentence, given
as its words, becomes one or more rows of

- `token_ids`, `padding_mask` (and `segment_ids`, all 0, for the families
  whose preprocessor gives them): int32 `(num_windows, seq_len)`, packed
  as the family packs one segment: `[CLS] pieces [SEP]` (BERT, ALBERT,
  DeBERTa-v3, ELECTRA, DistilBERT), `<s> pieces </s>` (RoBERTa,
  XLM-RoBERTa), then the family's pad token;
- `labels`: int32 `(num_windows, seq_len)`, the tag id on the first piece of
  each word the row owns and `IGNORE_INDEX` (-100) everywhere else: special
  tokens, the other pieces of each word, padding, and words another window
  owns (see below), for `SparseCategoricalCrossentropy(from_logits=True,
  ignore_class=-100)`.

Tokenizing. Every word is tokenized once, on the host, with the family's
own tokenizer (`preprocessor.tokenizer`), in one call over the distinct
words of the whole corpus. Word by word, this gives the pieces that
tokenizing the joined sentence (`" ".join(words)`) gives (tested for the
seven families, and on WNUT-17 for WordPiece and BPE):

- WordPiece (BERT, DistilBERT, ELECTRA) and SentencePiece (ALBERT,
  DeBERTa-v3, XLM-R) split on whitespace first, and SentencePiece marks
  each word's first piece with `▁` whether or not a space precedes it;
- byte-level BPE (RoBERTa) folds a leading space into the next piece
  (`Ġword` differs from `word`), so every word but the first is tokenized
  as `" " + word`, as in the running text RoBERTa was trained on (Hugging
  Face's `add_prefix_space=True` adds it to the first word too).

A word that gives no piece at all (e.g. a lone U+FE0F variation selector,
which WordPiece deletes) gets the tokenizer's unknown token, so that every
word has a first piece to carry its tag.

Long sentences. A window holds at most `sequence_length - 2` pieces. A
longer sentence is cut into windows of whole words, each overlapping the
previous one by up to `stride` pieces (the words that end the previous
window, as many as fit). Every word is in at least one window, and is
labelled in exactly one: of the windows that hold it, the one where it has
the most context, `min(pieces before it, pieces after it)` in the window
(the "max context" rule of BERT's SQuAD code, less its small bonus for
longer windows), the first such window on a tie. No word is dropped. A
word longer than a whole window keeps only its first
`sequence_length - 2` pieces (its tag is on the first;
`TokenWindows.num_truncated_words` counts them).

`TokenWindows` keeps, besides the arrays, where every word went (its window
and the position of its first piece), so that predictions map back to words:
`windows.gather_words(model.predict(windows.inputs))`. `words_with_offsets`
splits raw text into words with character offsets, for predicting on
strings.
"""

import itertools
import unicodedata

import keras_hub
import numpy as np
import tensorflow as tf

from kerasft import presets
from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_int,
    check_seed,
)

IGNORE_INDEX = -100
# Room for the start and end tokens in every window.
NUM_SPECIAL_TOKENS = 2


class TokenWindows:
    """Sentences as windows of word pieces, with where every word went.

    Made by `tokenize_words`; `to_dataset` batches it for training and
    evaluation. Words are numbered through the corpus, sentence by
    sentence (word `w` of `num_words`).

    Attributes:
        inputs: dict of int32 NumPy arrays `(num_windows, width)`:
            `token_ids`, `padding_mask` (1 = a real token) and, for the
            families that take it, `segment_ids` (0). `width` is
            `sequence_length` when given, else the longest window's length.
        labels: int32 `(num_windows, width)`: tag ids on the first piece of
            the words each window owns, `IGNORE_INDEX` elsewhere; None
            without tags.
        window_sentence: int32 `(num_windows,)`. The sentence of each
            window; windows are in sentence order.
        window_words: int32 `(num_windows, 2)`. The words `[start, end)`
            (indices in the sentence) each window holds; its owned words
            are a subset.
        word_window: int32 `(num_words,)`. The window that labels each word.
        word_position: int32 `(num_words,)`. The position of each word's
            first piece in that window (1 or more: position 0 holds the
            start token).
        sentence_lengths: int32 `(num_sentences,)`. Words per sentence.
        sequence_length: int or None. The fixed width, or None (each batch
            of `to_dataset` is cut to its longest row).
        num_truncated_words: int. Words longer than a window by themselves,
            whose pieces were truncated.

    Example:
    ```python
    windows = tokenize_words(test.words, None, preprocessor)
    logits = model.predict(windows.inputs)  # (num_windows, width, num_tags)
    tag_ids = windows.gather_words(logits.argmax(-1))  # one per sentence
    tags = [[tag_names[i] for i in ids] for ids in tag_ids]
    ```
    """

    def __init__(self, inputs, labels, window_sentence, window_words,
                 word_window, word_position, sentence_lengths,
                 sequence_length, num_truncated_words):
        self.inputs = inputs
        self.labels = labels
        self.window_sentence = window_sentence
        self.window_words = window_words
        self.word_window = word_window
        self.word_position = word_position
        self.sentence_lengths = sentence_lengths
        self.sequence_length = sequence_length
        self.num_truncated_words = num_truncated_words

    def __len__(self):
        return len(self.window_sentence)

    @property
    def num_sentences(self):
        return len(self.sentence_lengths)

    @property
    def num_words(self):
        return len(self.word_window)

    @property
    def word_sentence(self):
        """int32 `(num_words,)`: the sentence of each word."""
        return np.repeat(
            np.arange(self.num_sentences, dtype=np.int32),
            self.sentence_lengths,
        )

    @property
    def word_index(self):
        """int32 `(num_words,)`: each word's index in its sentence."""
        starts = np.cumsum(self.sentence_lengths) - self.sentence_lengths
        return (np.arange(self.num_words)
                - np.repeat(starts, self.sentence_lengths)).astype(np.int32)

    def gather_words(self, values):
        """Per-token values -> per-word values, sentence by sentence.

        Reads each word's value off its first piece in the window that
        labels it. Predict on `inputs` (one width for all windows) or on a
        `to_dataset` of a fixed `sequence_length`: batches cut to their own
        widths do not concatenate.

        Args:
            values: array-like `(num_windows, width, ...)`, e.g. logits
                `(num_windows, width, num_tags)` or their argmax, rows in
                window order.

        Returns:
            A list of `num_sentences` NumPy arrays `(sentence_length, ...)`.

        Example:
        ```python
        logits = model.predict(windows.inputs)
        tag_ids = windows.gather_words(logits.argmax(-1))  # one per sentence
        ```
        """
        values = np.asarray(values)
        if values.ndim < 2 or values.shape[0] != len(self) or (
            self.num_words and values.shape[1] <= self.word_position.max()
        ):
            raise ValueError(
                "`values` must have one row per window and reach every "
                f"word's first piece: shape ({len(self)}, >= "
                f"{int(self.word_position.max(initial=-1)) + 1}, ...). "
                f"Received: values of shape {values.shape}"
            )
        per_word = values[self.word_window, self.word_position]
        return np.split(per_word, np.cumsum(self.sentence_lengths)[:-1])

    def to_dataset(self, batch_size=32, shuffle=False, seed=None):
        """Batches the windows as a `tf.data.Dataset`.

        Args:
            batch_size: int. Windows per batch. Defaults to `32`.
            shuffle: bool. Reshuffle the windows every epoch. Defaults to
                `False`.
            seed: int or None. The shuffle seed.

        Returns:
            A prefetched dataset of `(inputs, labels)` (inputs alone without
            tags), int32 `(batch, width)`: `width` is `sequence_length`
            when one was given (one static shape, for `jit_compile`), else
            each batch's longest row.
        """
        check_batch_size(batch_size)
        check_bool("shuffle", shuffle)
        check_seed(seed)
        features = dict(self.inputs)
        elements = features if self.labels is None else (
            features, self.labels
        )
        dataset = tf.data.Dataset.from_tensor_slices(elements)
        if shuffle:
            dataset = dataset.shuffle(
                len(self), seed=seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size)
        if self.sequence_length is None:
            dataset = dataset.map(_cut_to_longest_row,
                                  num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)


def tokenize_words(words, tags, preprocessor, tag_names=None,
                   sequence_length=None, stride=None):
    """Tokenizes sentences of words into labelled windows of word pieces.

    See the module docstring for how words are tokenized, packed, labelled
    and cut into windows. An empty sentence gets one window of the start and
    end tokens alone (no labels), so that every sentence has a window.

    Args:
        words: a list of sentences, each a list of non-empty str (e.g.
            `TaggedSentences.words`).
        tags: a list of sentences of tag strings, one per word, or None
            (no labels, to predict).
        preprocessor: a `keras_hub.models.TextClassifierPreprocessor` of
            any family (e.g. `kerasft.data.text_preprocessor(preset)`): its
            tokenizer tokenizes, its packing gives the start, end and pad
            tokens and the input names. A keras-hub tokenizer is wrapped in
            its family's preprocessor.
        tag_names: list of str. The tag of each id (e.g. from
            `tag_names_for`); required with `tags`.
        sequence_length: int or None. The window length, start and end
            tokens included, at most the preprocessor's. With it every row
            is padded to it (static shapes); without, windows go up to the
            preprocessor's `sequence_length` and are padded to the longest.
        stride: int or None. The most pieces consecutive windows of one
            long sentence share (context for the words at the edges), from
            0 to `sequence_length - 3`. Defaults to a quarter of a window,
            `(sequence_length - 2) // 4`.

    Returns:
        A `TokenWindows`.

    Example:
    ```python
    preprocessor = text_preprocessor(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "eu",
                    "rejects", "german", "##s"],
        sequence_length=8, lowercase=True,
    )
    windows = tokenize_words(
        [["EU", "rejects", "Germans"]], [["B-ORG", "O", "B-MISC"]],
        preprocessor, tag_names=["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG"],
    )
    windows.inputs["token_ids"]  # [[2, 5, 6, 7, 8, 3]]: german ##s
    windows.labels  # [[-100, 3, 0, 1, -100, -100]]
    ```
    """
    sentences = _check_words(words)
    preprocessor = _as_preprocessor(preprocessor, sequence_length)
    maximum = int(preprocessor.sequence_length)
    length = maximum if sequence_length is None else check_int(
        "sequence_length", sequence_length, minimum=NUM_SPECIAL_TOKENS + 1,
        maximum=maximum, why="the preprocessor's sequence_length",
    )
    if length <= NUM_SPECIAL_TOKENS:
        raise ValueError(
            "`preprocessor.sequence_length` leaves no room for a word piece "
            "between the start and end tokens. Received: "
            f"preprocessor.sequence_length={maximum}"
        )
    capacity = length - NUM_SPECIAL_TOKENS  # word pieces per window
    stride = capacity // 4 if stride is None else check_int(
        "stride", stride, minimum=0, maximum=capacity - 1,
        why=f"a window holds {capacity} pieces",
    )
    tag_ids = None
    if tags is not None:
        tag_ids = _tag_ids(tags, tag_names, sentences)
    elif tag_names is not None:
        raise ValueError(
            "`tag_names` maps `tags` to ids, but there are no tags. "
            "Received: tags=None, tag_names=[...]"
        )
    specials = _special_tokens(preprocessor)
    sentence_lengths = np.array([len(s) for s in sentences], np.int64)

    # Word pieces of every word, truncated to a window: `pieces` holds them
    # end to end, word w's at pieces[offsets[w]:offsets[w + 1]].
    pieces, piece_counts, num_truncated = _word_pieces(
        sentences, preprocessor.tokenizer, capacity
    )
    offsets = np.concatenate([[0], np.cumsum(piece_counts)])

    # Plan the windows: word ranges and, for every word, its owner.
    sentence_starts = np.concatenate([[0], np.cumsum(sentence_lengths)])
    windows, word_window = [], np.zeros(len(piece_counts), np.int64)
    for s in range(len(sentences)):
        first, end = sentence_starts[s], sentence_starts[s + 1]
        if offsets[end] - offsets[first] <= capacity:
            word_window[first:end] = len(windows)
            windows.append((s, first, end))
            continue
        spans, owners = _plan_windows(
            piece_counts[first:end].tolist(), capacity, stride
        )
        word_window[first:end] = len(windows) + np.array(owners)
        windows.extend((s, first + a, first + b) for a, b in spans)
    window_sentence = np.array([w[0] for w in windows], np.int64)
    window_start = np.array([w[1] for w in windows], np.int64)
    window_end = np.array([w[2] for w in windows], np.int64)

    # Pack: [start] pieces [end] pad..., (num_windows, width).
    piece_start = offsets[window_start]
    num_pieces = offsets[window_end] - piece_start
    row_lengths = num_pieces + NUM_SPECIAL_TOKENS
    width = length if sequence_length is not None else int(row_lengths.max())
    token_ids = np.full((len(windows), width), specials["pad"], np.int32)
    token_ids[:, 0] = specials["start"]
    rows = np.repeat(np.arange(len(windows)), num_pieces)
    within = np.arange(num_pieces.sum()) - np.repeat(
        np.cumsum(num_pieces) - num_pieces, num_pieces
    )
    token_ids[rows, 1 + within] = pieces[np.repeat(piece_start, num_pieces)
                                         + within]
    token_ids[np.arange(len(windows)), row_lengths - 1] = specials["end"]
    padding_mask = (np.arange(width)[None, :]
                    < row_lengths[:, None]).astype(np.int32)
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    if "segment_ids" in specials["keys"]:
        inputs["segment_ids"] = np.zeros_like(token_ids)
    unknown_keys = set(specials["keys"]) - set(inputs)
    if unknown_keys:
        raise ValueError(
            "`preprocessor` gives inputs that token windows cannot fill: "
            f"{sorted(unknown_keys)}. Received: a preprocessor of type "
            f"{type(preprocessor).__name__}"
        )

    # Each word's first piece, in the window that owns it.
    word_position = 1 + offsets[:-1] - piece_start[word_window]
    labels = None
    if tag_ids is not None:
        labels = np.full((len(windows), width), IGNORE_INDEX, np.int32)
        labels[word_window, word_position] = tag_ids
    return TokenWindows(
        inputs=inputs,
        labels=labels,
        window_sentence=window_sentence.astype(np.int32),
        window_words=np.stack(
            [window_start - sentence_starts[window_sentence],
             window_end - sentence_starts[window_sentence]], axis=1
        ).astype(np.int32).reshape(-1, 2),
        word_window=word_window.astype(np.int32),
        word_position=word_position.astype(np.int32),
        sentence_lengths=sentence_lengths.astype(np.int32),
        sequence_length=sequence_length,
        num_truncated_words=num_truncated,
    )


def make_token_dataset(words, tags, preprocessor, tag_names=None,
                       sequence_length=None, batch_size=32, shuffle=False,
                       seed=None, stride=None):
    """Makes batches of labelled word-piece windows for token classification.

    `tokenize_words(...).to_dataset(...)`: see both, and the module
    docstring.

    Args:
        words: a list of sentences, each a list of str.
        tags: a list of sentences of tag strings, or None (inputs only).
        preprocessor: the family's `TextClassifierPreprocessor` (or a
            keras-hub tokenizer).
        tag_names: list of str, the tag of each id; required with `tags`.
        sequence_length: int or None. Pad every batch to it (static
            shapes); None pads each batch to its longest row. Defaults to
            None.
        batch_size: int. Windows per batch. Defaults to `32`.
        shuffle: bool. Reshuffle the windows every epoch. Defaults to
            `False`.
        seed: int or None. The shuffle seed.
        stride: int or None. See `tokenize_words`.

    Returns:
        A `tf.data.Dataset` of `(inputs, labels)`: a dict of int32
        `(batch, seq_len)` (`token_ids`, `padding_mask`, and `segment_ids`
        where the family takes them) and int32 `(batch, seq_len)` tag ids
        with -100 where no label is scored.

    Example:
    ```python
    train = load_wnut17("train")
    dataset = make_token_dataset(
        train.words, train.tags, preprocessor, tag_names=WNUT17_TAGS,
        batch_size=16, shuffle=True, seed=0,
    )
    ```
    """
    # Checked before the corpus is tokenized, not after.
    check_batch_size(batch_size)
    check_bool("shuffle", shuffle)
    check_seed(seed)
    windows = tokenize_words(words, tags, preprocessor, tag_names=tag_names,
                             sequence_length=sequence_length, stride=stride)
    return windows.to_dataset(batch_size=batch_size, shuffle=shuffle,
                              seed=seed)


def words_with_offsets(text):
    """Splits raw text into words with their character offsets.

    Splits as BERT's `BasicTokenizer` does (and keras-hub's WordPiece
    tokenizer before it looks words up), without changing the characters:
    at whitespace and at control and format characters (Unicode Cc, Cf,
    e.g. U+200B), which belong to no word, and around every punctuation
    character (ASCII symbols such as `$ , - . @` and Unicode punctuation,
    category `P*`) and every CJK ideograph, each of which is a word of its
    own. Other characters (letters, digits, emoji) stay in their word.
    So `"Paris, 2024!"` gives `"Paris"`, `","`, `"2024"`, `"!"`, and
    `"don't"` gives `"don"`, `"'"`, `"t"` (WNUT-17 and CoNLL-2003 keep
    `"'s"` whole: a model fine-tuned on them sees two words here).

    Args:
        text: str.

    Returns:
        A tuple `(words, offsets)`: a list of str and a list of
        `(start, end)` int tuples with `text[start:end] == word`.

    Example:
    ```python
    words_with_offsets("Visit Paris, now.")
    # (["Visit", "Paris", ",", "now", "."],
    #  [(0, 5), (6, 11), (11, 12), (13, 16), (16, 17)])
    ```
    """
    if not isinstance(text, str):
        raise TypeError(
            f"`text` must be a str. Received: text of type "
            f"{type(text).__name__}"
        )
    words, offsets = [], []
    start = None  # of the word being read
    for i, char in enumerate(text):
        if _is_separator(char):
            if start is not None:
                words.append(text[start:i])
                offsets.append((start, i))
                start = None
        elif _is_punctuation(char) or _is_cjk(char):
            if start is not None:
                words.append(text[start:i])
                offsets.append((start, i))
                start = None
            words.append(char)
            offsets.append((i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        words.append(text[start:])
        offsets.append((start, len(text)))
    return words, offsets


# --- Helpers ------------------------------------------------------------------


def _check_words(words):
    """`words` as a list of lists of str, or raises naming the bad item."""
    if isinstance(words, str) or not hasattr(words, "__iter__"):
        raise TypeError(
            "`words` must be a list of sentences, each a list of str. "
            f"Received: words of type {type(words).__name__}"
        )
    sentences = [list(s) if not isinstance(s, str) else s for s in words]
    if not sentences:
        raise ValueError(
            "`words` is empty. Received: words=[] (expected at least one "
            "sentence)"
        )
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise TypeError(
                f"`words` must be a list of sentences, each a list of str; "
                f"words[{i}] is a str. Received: words[{i}]={sentence!r}"
            )
        for j, word in enumerate(sentence):
            if not isinstance(word, str) or not word.strip():
                raise ValueError(
                    "Every word must be a non-blank str. Received: "
                    f"words[{i}][{j}]={word!r}"
                )
    return sentences


def _tag_ids(tags, tag_names, sentences):
    """Tag strings -> int64 ids (num_words,), checked against `words`."""
    if tag_names is None:
        raise ValueError(
            "`tag_names` is required with `tags`: the id of each tag (e.g. "
            "`tag_names_from(train_tags, 'IOB2')`, the same list for every "
            "split). Received: tag_names=None"
        )
    if isinstance(tag_names, str) or not all(
        isinstance(name, str) for name in tag_names
    ):
        raise TypeError(
            "`tag_names` must be a list of str. Received: "
            f"tag_names={tag_names!r}"
        )
    ids = {name: i for i, name in enumerate(tag_names)}
    if len(ids) != len(tag_names):
        raise ValueError(
            f"`tag_names` has duplicates. Received: tag_names={tag_names!r}"
        )
    tags = list(tags)
    if len(tags) != len(sentences):
        raise ValueError(
            "`tags` must have one sentence per sentence of `words`. "
            f"Received: len(tags)={len(tags)}, len(words)={len(sentences)}"
        )
    flat = []
    for i, (sentence_tags, sentence) in enumerate(zip(tags, sentences)):
        sentence_tags = list(sentence_tags)
        if len(sentence_tags) != len(sentence):
            raise ValueError(
                f"Sentence {i} has {len(sentence)} words and "
                f"{len(sentence_tags)} tags. Received: tags[{i}]="
                f"{sentence_tags!r}"
            )
        for j, tag in enumerate(sentence_tags):
            if tag not in ids:
                raise ValueError(
                    f"tags[{i}][{j}]={tag!r} (word {sentence[j]!r}) is not "
                    f"in `tag_names`. Received: tag_names={tag_names!r}"
                )
            flat.append(ids[tag])
    return np.array(flat, np.int64)


def _as_preprocessor(preprocessor, sequence_length):
    if isinstance(preprocessor, keras_hub.models.TextClassifierPreprocessor):
        return preprocessor
    if isinstance(preprocessor, keras_hub.tokenizers.Tokenizer):
        return presets.preprocessor_for(preprocessor, sequence_length or 128)
    raise TypeError(
        "`preprocessor` must be a keras_hub.models.TextClassifierPreprocessor "
        "(see kerasft.data.text_preprocessor) or a keras-hub tokenizer. "
        f"Received: preprocessor of type {type(preprocessor).__name__}"
    )


def _special_tokens(preprocessor):
    """The start, end and pad ids and the input names, read off a packing.

    An empty string packs as `[start, end, pad, ...]` in every family.
    """
    packed = preprocessor(tf.constant([""]))
    token_ids = np.asarray(packed["token_ids"])[0]
    mask = np.asarray(packed["padding_mask"])[0].astype(bool)
    if mask.sum() != NUM_SPECIAL_TOKENS:
        raise ValueError(
            "`preprocessor` must pack a text between one start and one end "
            "token. Received: a preprocessor that packs an empty string as "
            f"{token_ids[mask].tolist()}"
        )
    start, end = token_ids[mask].tolist()
    if (~mask).any():
        pad = int(token_ids[~mask][0])
    else:
        pad = int(preprocessor.tokenizer.pad_token_id)
    return {"start": start, "end": end, "pad": pad, "keys": tuple(packed)}


def _word_pieces(sentences, tokenizer, capacity):
    """Tokenizes every distinct word once.

    Returns:
        `(pieces, piece_counts, num_truncated)`: int32 `(total_pieces,)`
        the pieces of all words end to end, int64 `(num_words,)` pieces per
        word (at most `capacity`), and the number of words truncated.
    """
    # Byte-level BPE folds a leading space into the word's first piece.
    prefix_space = isinstance(
        tokenizer, keras_hub.tokenizers.BytePairTokenizer
    ) and not getattr(tokenizer, "add_prefix_space", False)
    distinct, word_ids = {}, []
    for sentence in sentences:
        for j, word in enumerate(sentence):
            string = " " + word if prefix_space and j > 0 else word
            word_ids.append(distinct.setdefault(string, len(distinct)))
    word_ids = np.array(word_ids, np.int64)
    if not len(word_ids):
        return np.zeros(0, np.int32), np.zeros(0, np.int64), 0

    # One call over all distinct words, eagerly: keras-hub then hands the
    # ragged result back as lists of lists (in a tf.function it would be a
    # tf.RaggedTensor, but tracing RoBERTa's BPE graph takes seconds).
    flat, splits = _flatten_pieces(
        tokenizer(tf.constant(list(distinct))), tokenizer
    )
    starts, counts = splits[:-1].copy(), np.diff(splits)
    empty = counts == 0
    if empty.any():
        # Words that tokenize to nothing get one unknown token, appended.
        unknown = _unknown_id(tokenizer, next(
            s for s, e in zip(distinct, empty) if e
        ))
        starts[empty] = len(flat) + np.arange(empty.sum())
        flat = np.concatenate(
            [flat, np.full(empty.sum(), unknown, np.int32)]
        )
        counts[empty] = 1

    word_counts = counts[word_ids]
    num_truncated = int((word_counts > capacity).sum())
    word_counts = np.minimum(word_counts, capacity)
    # Gather each word's (first `capacity`) pieces, end to end.
    within = np.arange(word_counts.sum()) - np.repeat(
        np.cumsum(word_counts) - word_counts, word_counts
    )
    pieces = flat[np.repeat(starts[word_ids], word_counts) + within]
    return pieces, word_counts, num_truncated


def _flatten_pieces(output, tokenizer):
    """Ragged pieces (lists of lists or a tf.RaggedTensor) -> flat, splits."""
    if isinstance(output, tf.RaggedTensor):
        return (output.flat_values.numpy().astype(np.int32),
                output.row_splits.numpy().astype(np.int64))
    if isinstance(output, list) and all(
        isinstance(row, list) for row in output
    ):
        counts = np.fromiter(map(len, output), np.int64, len(output))
        flat = np.fromiter(itertools.chain.from_iterable(output), np.int32,
                           int(counts.sum()))
        return flat, np.concatenate([[0], np.cumsum(counts)])
    raise ValueError(
        "`preprocessor.tokenizer` must return word pieces of varying "
        "length (a tokenizer without a sequence_length). Received: a "
        f"tokenizer of type {type(tokenizer).__name__} returning "
        f"{type(output).__name__}"
    )


def _unknown_id(tokenizer, word):
    """The id of the tokenizer's unknown token, or raises naming `word`."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is not None:
        return int(unknown)
    candidates = [getattr(tokenizer, "oov_token", None),
                  getattr(tokenizer, "unk_token", None), "[UNK]", "<unk>"]
    for token in candidates:
        if not token:
            continue
        try:
            token_id = int(tokenizer.token_to_id(token))
            if tokenizer.id_to_token(token_id) == token:
                return token_id
        except (KeyError, ValueError, TypeError, IndexError):
            continue
    raise ValueError(
        f"`words` holds a word that the tokenizer turns into no piece, and "
        f"the tokenizer has no unknown token to stand for it. Received: "
        f"{word!r} (tokenizer {type(tokenizer).__name__})"
    )


def _plan_windows(counts, capacity, stride):
    """Windows of whole words over one long sentence, and each word's owner.

    Args:
        counts: list of int. Pieces per word, each at most `capacity`.
        capacity: int. Pieces per window.
        stride: int. The most pieces consecutive windows share.

    Returns:
        `(spans, owners)`: the windows as `[start, end)` word ranges, in
        order, and for each word the index of the window that labels it.
    """
    n = len(counts)
    prefix = [0]
    for count in counts:
        prefix.append(prefix[-1] + count)
    spans, start = [], 0
    while True:
        end = start
        while end < n and prefix[end + 1] - prefix[start] <= capacity:
            end += 1
        spans.append((start, end))  # end > start: a word fits a window
        if end == n:
            break
        # Back up over the last words of this window, up to `stride`
        # pieces of them, but always move on by at least one word and
        # leave room for word `end`, so every window holds a new word.
        room = min(stride, capacity - counts[end])
        next_start = end
        while (next_start - 1 > start
               and prefix[end] - prefix[next_start - 1] <= room):
            next_start -= 1
        start = next_start
    owners, best = [0] * n, [-1] * n
    for k, (a, b) in enumerate(spans):
        for j in range(a, b):
            # Context: pieces before and after word j inside this window.
            context = min(prefix[j] - prefix[a], prefix[b] - prefix[j + 1])
            if context > best[j]:
                best[j], owners[j] = context, k
    return spans, owners


def _cut_to_longest_row(features, *labels):
    """Drops the columns that are padding in every row of the batch."""
    width = tf.reduce_max(tf.reduce_sum(features["padding_mask"], axis=1))
    features = {name: value[:, :width] for name, value in features.items()}
    if not labels:
        return features
    return features, labels[0][:, :width]


def _is_separator(char):
    """Whitespace, control (Cc) and format (Cf) characters.

    keras-hub's WordPiece splitting and tensorflow_text's BasicTokenizer
    treat Cc and Cf (e.g. U+200B, U+200D) as whitespace too.
    """
    return char.isspace() or unicodedata.category(char) in ("Zs", "Cc", "Cf")


def _is_punctuation(char):
    """BERT's punctuation: ASCII non-alphanumeric symbols, and Unicode P*."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or (
        123 <= code <= 126
    ):
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(char):
    """The CJK Unified Ideographs blocks, as in BERT's `_is_chinese_char`."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F
    )
