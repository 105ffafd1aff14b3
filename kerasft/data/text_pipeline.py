"""Text for encoders: tokenized on the host in tf.data, batched, static
shapes.

Strings never reach the model: the `tf.data` pipeline turns them into
`{"token_ids", "padding_mask"}` plus `"segment_ids"` for the families that
take them (int32, `(batch, seq_len)`) with the family's keras-hub
preprocessor (its tokenizer, WordPiece, BPE or SentencePiece, plus a packer
that adds `[CLS]`/`[SEP]` or `<s>`/`</s>`, truncates and pads), so the model
only sees integers and runs on GPUs and TPUs alike.

Also loaders for text data: a folder of `.txt` files, one subfolder per class
(`load_text_folder`), and TensorFlow Datasets text sets (`load_tfds_text`).
"""

import numbers

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kerasft import presets
from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_choice,
    check_int,
    check_path,
    check_seed,
    is_int,
)
from kerasft.data.checks import check_finite, check_folder_kwargs, check_labels
from kerasft.data.text_file import TASKS
from kerasft.data.tfds_loader import load_tfds

# Shuffle buffer when a dataset's length is unknown.
DEFAULT_SHUFFLE_BUFFER_SIZE = 10_000
# Strings are tokenized this many at a time (WordPiece is vectorized), then
# unbatched so caching, shuffling and bucketing work per example.
TOKENIZE_BATCH_SIZE = 256
# The special tokens a WordPiece vocabulary must hold for BertTokenizer.
WORD_PIECE_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# A packed sequence needs its start and end tokens and one of text.
MIN_SEQUENCE_LENGTH = 3


def text_preprocessor(
    preset=None,
    vocabulary=None,
    sequence_length=128,
    lowercase=None,
    truncate="round_robin",
):
    """Makes the keras-hub preprocessor of a preset: strings -> token ids.

    Exactly one of `preset` and `vocabulary`. With a preset, the family's
    own preprocessor (`BertTextClassifierPreprocessor`,
    `RobertaTextClassifierPreprocessor`, ...: WordPiece, BPE or
    SentencePiece; see `kerasft.presets.load_preprocessor`) comes from it
    through keras-hub's preset loading, which reads keras-hub presets and
    Hugging Face folders alike. With a vocabulary, a BERT WordPiece
    `keras_hub.tokenizers.BertTokenizer` is built on it.

    Args:
        preset: str, path-like or None. A preset name, local folder or
            `hf://` handle of any supported encoder family.
        vocabulary: list of str, path to a `vocab.txt`, or None. WordPiece
            vocabulary; must hold `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and
            `[MASK]`.
        sequence_length: int. Length of every packed sequence, special
            tokens included; longer texts are truncated. For a local preset
            it must not exceed the model's `max_sequence_length`. Defaults
            to `128`.
        lowercase: bool or None. Lower-case before tokenizing; only with
            `vocabulary` (a preset sets it). None means `False`.
        truncate: str. `"round_robin"` or `"waterfall"`: how sentence pairs
            share the length. Defaults to `"round_robin"`.

    Returns:
        A `keras_hub.models.TextClassifierPreprocessor` (the family's
        subclass).

    Example:
    ```python
    preprocessor = text_preprocessor(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"],
        sequence_length=6,
    )
    preprocessor(["a b", "b"])["token_ids"]  # [[2, 5, 6, 3, 0, 0], ...]
    ```
    """
    _check_sequence_length(sequence_length)
    check_choice("truncate", truncate, ("round_robin", "waterfall"))
    if lowercase is not None:
        check_bool("lowercase", lowercase)
    if (preset is None) == (vocabulary is None):
        raise ValueError(
            "Pass exactly one of `preset` and `vocabulary`. Received: "
            f"preset={preset!r}, vocabulary="
            f"{'None' if vocabulary is None else '...'}"
        )
    if vocabulary is not None:
        vocabulary = _check_vocabulary(vocabulary)
        tokenizer = keras_hub.tokenizers.BertTokenizer(
            vocabulary=vocabulary, lowercase=bool(lowercase)
        )
        return keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=sequence_length, truncate=truncate
        )
    if lowercase is not None:
        raise ValueError(
            "`lowercase` comes from the preset's tokenizer; pass it with "
            f"`vocabulary` only. Received: lowercase={lowercase!r}, "
            f"preset={preset!r}"
        )
    return presets.load_preprocessor(
        preset, sequence_length=sequence_length, truncate=truncate
    )


def make_text_dataset(
    texts,
    labels=None,
    preprocessor=None,
    sequence_length=None,
    batch_size=32,
    shuffle=True,
    seed=0,
    bucket_boundaries=None,
    num_classes=None,
    cache=True,
    drop_remainder=False,
    shuffle_buffer_size=None,
    task=None,
):
    """Makes a dataset of tokenized, padded batches from strings.

    The order: tokenize (on the host, `TOKENIZE_BATCH_SIZE` strings at a
    time) -> cache -> shuffle -> batch (or bucket) -> prefetch. Each example
    is packed as `[CLS] text [SEP]` (or `[CLS] a [SEP] b [SEP]` for pairs,
    with `segment_ids` 0 then 1), truncated and padded to `sequence_length`.

    Seed first (`keras.utils.set_random_seed`), then build preprocessors
    and datasets: seeding calls `tf.random.set_seed`, which clears
    TensorFlow's kernel cache, and with it the model resource of a
    SentencePiece tokenizer (ALBERT, DeBERTaV3, XLM-RoBERTa), so a dataset
    built before then fails with "SentencepieceOp ... does not exist".

    Without buckets every batch has the static shape
    `(batch, sequence_length)`. With `bucket_boundaries`, examples are
    grouped by their length (`[CLS]`/`[SEP]` included) and each batch is cut
    to its bucket's length, e.g. boundaries `(16, 32, 64)` and
    `sequence_length=128` give batches of width 16, 32, 64 or 128: less
    padding to compute on, and only that many shapes to compile for (the
    dataset's spec shows the width as `None`).

    Args:
        texts: a list (or 1-D array) of strings; a tuple `(first, second)`
            of two such lists for sentence pairs; or an unbatched
            `tf.data.Dataset` of strings, `(text, label)` or
            `((first, second), label)` (e.g. from `load_rt_polarity`).
        labels: array-like, one row per text: class ids (ints) `(N,)`;
            float targets `(N,)` or `(N, k)` for regression; multi-hot 0/1
            rows `(N, num_labels)` for multi-label (as `load_text_file`
            gives them). Or None (no labels, for prediction; also None with
            a dataset, which holds them).
        preprocessor: a `keras_hub.models.TextClassifierPreprocessor` of
            any family (e.g. from `text_preprocessor`), a keras-hub
            tokenizer of one (`BertTokenizer`, `RobertaTokenizer`, ...), or
            a preset (str or path) to build one from.
        sequence_length: int or None. Padded length. Defaults to the
            preprocessor's own, or 128 for a preset or tokenizer.
        batch_size: int. Examples per batch. Defaults to `32`.
        shuffle: bool. Reshuffle every epoch. Defaults to `True`.
        seed: int or None. Shuffle seed. Defaults to `0`.
        bucket_boundaries: sequence of ints or None. Bucket widths in
            increasing order; those at or above `sequence_length` are
            dropped and `sequence_length` is always the last bucket.
            Defaults to None (no bucketing).
        num_classes: int or None. With `labels`, checks they are class ids
            in `[0, num_classes)` (for `task="multi_label"`: that the rows
            are `num_classes` wide).
        cache: bool. Cache the tokenized examples in memory. Defaults to
            `True`.
        drop_remainder: bool. Drop partial batches (per bucket), for a
            static batch dimension. Defaults to `False`.
        shuffle_buffer_size: int or None. Defaults to the number of
            examples (a full shuffle), or 10,000 when unknown.
        task: str or None. What `labels` are, checked before anything is
            tokenized: `"classification"` (integer class ids >= 0, one per
            text), `"multi_label"` (rows of 0/1, all one width: the first
            bad value is named with its row) or `"regression"` (numbers,
            `(N,)` or `(N, k)`: a string is a `TypeError` naming it, NaN or
            inf a `ValueError`). Multi-label and regression targets become
            float32; a dataset's labels are checked by their spec and cast.
            Defaults to None: inferred from the dtype, integers as class
            ids, floats kept as float targets.

    Returns:
        A prefetched `tf.data.Dataset` of `(features, labels)` batches
        (features alone without labels): features a dict of int32
        `token_ids`, `padding_mask` (1 = real token), `segment_ids`; labels
        int64 `(batch,)` for class ids, float32 `(batch,)` / `(batch, k)`
        for float or multi-hot targets.

    Example:
    ```python
    preprocessor = text_preprocessor("../shared/models/minilm-l6-h384-uncased",
                                     sequence_length=64)
    train = make_text_dataset(["a fine film", "dull"], [1, 0], preprocessor,
                              batch_size=2, bucket_boundaries=(16, 32))
    features, labels = next(iter(train))  # token_ids (2, 16)
    # Multi-label: multi-hot float32 rows, here 2 texts and 3 labels.
    tagged = make_text_dataset(["a fine film", "dull"],
                               [[1, 0, 1], [0, 1, 0]], preprocessor,
                               task="multi_label")
    ```
    """
    check_batch_size(batch_size)
    for name, flag in (("shuffle", shuffle), ("cache", cache),
                       ("drop_remainder", drop_remainder)):
        check_bool(name, flag)
    check_seed(seed)
    if task is not None:
        check_choice("task", task, TASKS)
    if shuffle_buffer_size is not None:
        check_int("shuffle_buffer_size", shuffle_buffer_size)
    preprocessor = _as_preprocessor(preprocessor, sequence_length)
    sequence_length = preprocessor.sequence_length
    boundaries = _check_boundaries(bucket_boundaries, sequence_length)

    if isinstance(texts, tf.data.Dataset):
        dataset, has_labels = _check_text_dataset(texts, labels, task)
    else:
        dataset, has_labels = _dataset_from_lists(
            texts, labels, num_classes, task
        )

    dataset = _tokenize(dataset, preprocessor, has_labels)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        if shuffle_buffer_size is None:
            num_examples = int(dataset.cardinality())
            shuffle_buffer_size = (
                num_examples if num_examples > 0
                else DEFAULT_SHUFFLE_BUFFER_SIZE
            )
        dataset = dataset.shuffle(
            shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True
        )
    if boundaries is None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    else:
        dataset = _bucket(dataset, boundaries, batch_size, drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_text_folder(directory, shuffle=False, seed=None, **kwargs):
    """Loads `directory/<class_name>/<file>.txt` as an unbatched dataset.

    A thin wrapper over `keras.utils.text_dataset_from_directory` with
    `batch_size=None` and int64 labels, like the other loaders. Class ids
    follow the alphabetical order of the subfolder names, kept in
    `dataset.class_names`.

    Args:
        directory: str or path-like. One subfolder per class.
        shuffle: bool. Shuffle the file order once. Defaults to `False`
            (`make_text_dataset` shuffles each epoch).
        seed: int or None. Seed for `shuffle` and `validation_split`.
        **kwargs: passed on to `keras.utils.text_dataset_from_directory`,
            e.g. `validation_split=0.2, subset="both"` (returns a pair).

    Returns:
        A `tf.data.Dataset` of `(text, label)`: string `()` and int64 `()`,
        with a `class_names` attribute (a pair of them for
        `subset="both"`).

    Example:
    ```python
    dataset = load_text_folder("aclImdb/train", class_names=["neg", "pos"])
    ```
    """
    directory = check_path("directory", directory, kind="directory")
    check_bool("shuffle", shuffle)
    check_seed(seed)
    check_folder_kwargs(kwargs, {
        "batch_size": "it loads unbatched examples; batch them with "
                      "make_text_dataset(..., batch_size=...)",
        "verbose": "it loads quietly",
    }, "load_text_folder")
    datasets = keras.utils.text_dataset_from_directory(
        str(directory), batch_size=None, shuffle=shuffle, seed=seed,
        verbose=False, **kwargs,
    )
    if isinstance(datasets, (list, tuple)):
        return tuple(_with_int64_labels(dataset) for dataset in datasets)
    return _with_int64_labels(datasets)


def load_tfds_text(name, split="train", data_dir=None, download=False):
    """Loads a TensorFlow Datasets text classification split.

    `kerasft.data.load_tfds` (`as_supervised=True`), checked to yield
    `(string, int label)` pairs, with labels cast to int64; e.g.
    `imdb_reviews`. Feed it to `make_text_dataset` to tokenize and batch it.

    Args:
        name: str. The registered name, e.g. `"imdb_reviews"`.
        split: str. A split or slice. Defaults to `"train"`.
        data_dir: str, path-like or None. Where prepared data lives.
        download: bool. Download and prepare if missing. Defaults to `False`.

    Returns:
        A `tf.data.Dataset` of `(text, label)`: string `()`, int64 `()`.

    Example:
    ```python
    train = load_tfds_text("imdb_reviews", split="train", download=True)
    ```
    """
    dataset = load_tfds(name, split=split, data_dir=data_dir,
                        download=download)
    spec = dataset.element_spec
    if spec[0].dtype != tf.string or spec[0].shape.rank != 0:
        raise TypeError(
            f"`name` must be a text data set whose supervised features are "
            f"single strings. Received: name={name!r} with features "
            f"{spec[0]}"
        )
    if not spec[1].dtype.is_integer:
        raise TypeError(
            f"`name` must be a classification data set with integer "
            f"labels. Received: name={name!r} with labels {spec[1]}"
        )
    return dataset.map(
        lambda text, label: (text, tf.cast(label, tf.int64)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


# --- Targets ------------------------------------------------------------------


def _check_targets(labels, num_examples, num_classes, task):
    """The labels of `num_examples` texts as an array checked for `task`."""
    if task in ("multi_label", "regression"):
        if task == "regression" and num_classes is not None:
            raise ValueError(
                "`num_classes` checks class ids; task='regression' has "
                f"none. Received: num_classes={num_classes!r}, "
                "task='regression'"
            )
        _check_row_widths(labels, task)
        if task == "regression":
            _check_numbers(labels)
        return _float_targets(check_labels(labels, num_examples), num_classes,
                              task)
    labels = check_labels(labels, num_examples, num_classes=num_classes)
    if task == "classification" and (
        labels.dtype.kind not in "iu" or labels.ndim != 1
    ):
        raise TypeError(
            "`labels` must be integer class ids, one per text, for "
            f"task='classification'. Received: labels.dtype={labels.dtype}, "
            f"shape={labels.shape} (for float or multi-hot targets pass "
            "task='regression' or 'multi_label')"
        )
    if labels.dtype.kind in "iu":
        if labels.min() < 0:
            raise ValueError(
                "`labels` must be class ids >= 0. Received: labels with "
                f"min={int(labels.min())}"
            )
        return labels.astype(np.int64)
    check_finite(labels, "labels")  # float targets, task inferred
    if labels.dtype == np.float64:
        return labels.astype(np.float32)
    return labels


def _check_row_widths(labels, task):
    """Raises naming two rows of different widths in nested label lists."""
    if isinstance(labels, np.ndarray) and labels.dtype != object:
        return  # rectangular by construction
    try:
        rows = list(labels)
    except TypeError:
        return  # not a sequence: check_labels says so

    def width(row):
        if isinstance(row, (list, tuple)) or (
            isinstance(row, np.ndarray) and row.ndim
        ):
            return len(row)
        return None  # a single value

    widths = [width(row) for row in rows]
    for index, row_width in enumerate(widths):
        if row_width != widths[0]:
            what = (
                "one value per label name" if task == "multi_label"
                else "the same number of targets"
            )

            def shown(w):
                if w is None:
                    return "a single value"
                return f"{w} value{'' if w == 1 else 's'}"

            raise ValueError(
                f"`labels` rows must all have the same width for "
                f"task={task!r} ({what}). Received: labels[0] has "
                f"{shown(widths[0])}, labels[{index}] has {shown(row_width)}"
            )


def _check_numbers(labels):
    """Raises a TypeError naming the first regression target not a number."""
    try:
        if np.asarray(labels).dtype.kind in "biuf":
            return
    except ValueError:
        return  # ragged: check_labels says so
    values = np.asarray(labels, dtype=object)
    for index in np.ndindex(values.shape):
        value = values[index]
        if not isinstance(value, numbers.Real):
            position = "".join(f"[{i}]" for i in index)
            raise TypeError(
                "`labels` must be numbers for task='regression'. Received: "
                f"labels{position}={value!r} of type {type(value).__name__} "
                "(convert the targets with float() first)"
            )


def _float_targets(labels, num_classes, task):
    """Checks multi-hot / regression targets; returns them as float32."""
    if labels.ndim > 2 or (task == "multi_label" and (
        labels.ndim != 2 or labels.shape[1] == 0
    )):
        expected = (
            "(num_examples, num_labels)" if task == "multi_label"
            else "(num_examples,) or (num_examples, num_outputs)"
        )
        raise ValueError(
            f"`labels` for task={task!r} must have shape {expected}. "
            f"Received: labels with shape {labels.shape}"
        )
    if task == "multi_label":
        if num_classes is not None and labels.shape[1] != num_classes:
            raise ValueError(
                "`labels` rows must be `num_classes` wide (one column per "
                f"label). Received: labels with shape {labels.shape}, "
                f"num_classes={num_classes}"
            )
        # NaN is neither 0 nor 1: caught too.
        bad = np.argwhere((labels != 0) & (labels != 1))
        if len(bad):
            row, column = bad[0]
            raise ValueError(
                "`labels` must be multi-hot (each 0 or 1) for "
                "task='multi_label'. Received: "
                f"labels[{row}][{column}]={labels[row, column].item()!r} "
                f"in row {row}"
            )
    else:
        bad = np.argwhere(~np.isfinite(labels.astype(np.float64)))
        if len(bad):
            index = tuple(bad[0])
            position = "".join(f"[{i}]" for i in index)
            raise ValueError(
                "`labels` must be finite numbers for task='regression' (NaN "
                "or inf would make every loss NaN). Received: "
                f"labels{position}={labels[index].item()!r} in row "
                f"{index[0]}"
            )
    return labels.astype(np.float32)


def _cast_dataset_targets(dataset, label_spec, task):
    """Checks a dataset's label spec for `task`; float targets -> float32."""
    dtype = getattr(label_spec, "dtype", None)
    rank = label_spec.shape.rank if dtype is not None else None
    numeric = dtype is not None and (
        dtype.is_integer or dtype.is_floating or dtype == tf.bool
    )
    ranks = {"classification": (0,), "multi_label": (1,),
             "regression": (0, 1)}[task]
    if (
        not numeric
        or (task == "classification" and not dtype.is_integer)
        or rank not in ranks
    ):
        expected = {
            "classification": "integer class ids, shape ()",
            "multi_label": "multi-hot rows of numbers, shape (num_labels,)",
            "regression": "numbers, shape () or (num_outputs,)",
        }[task]
        raise TypeError(
            f"`texts` must hold labels of {expected} for task={task!r}. "
            f"Received: a dataset with labels {label_spec}"
        )
    if task == "classification":
        return dataset  # cast to int64 with the tokens

    def to_float32(text, label):
        return text, tf.cast(label, tf.float32)

    return dataset.map(to_float32, num_parallel_calls=tf.data.AUTOTUNE)


# --- Helpers ------------------------------------------------------------------


def _check_sequence_length(sequence_length):
    return check_int(
        "sequence_length", sequence_length, minimum=MIN_SEQUENCE_LENGTH,
        why="room for the start and end tokens and one of text",
    )


def _check_vocabulary(vocabulary):
    """Returns `vocabulary` (a list of str or a file path), checked to hold
    the WordPiece special tokens, or raises naming what is missing."""
    if isinstance(vocabulary, (str, bytes)) or hasattr(
        vocabulary, "__fspath__"
    ):
        path = check_path("vocabulary", vocabulary)
        with open(path, encoding="utf-8") as file:
            tokens = file.read().splitlines()
        vocabulary, shown = str(path), f"'{path}'"
    elif isinstance(vocabulary, (list, tuple)):
        tokens = list(vocabulary)
        bad = [t for t in tokens if not isinstance(t, str)][:1]
        if bad:
            bad = bad[0]
            raise TypeError(
                "`vocabulary` must be a list of str (word pieces). "
                f"Received: vocabulary holding {bad!r} of type "
                f"{type(bad).__name__}"
            )
        shown = (repr(tokens) if len(tokens) <= 10
                 else f"a list of {len(tokens)} tokens")
    else:
        raise TypeError(
            "`vocabulary` must be a list of str or the path of a vocab.txt. "
            f"Received: vocabulary of type {type(vocabulary).__name__}"
        )
    if not tokens:
        raise ValueError(
            f"`vocabulary` is empty. Received: vocabulary={shown}"
        )
    missing = [t for t in WORD_PIECE_SPECIALS if t not in set(tokens)]
    if missing:
        raise ValueError(
            "`vocabulary` must hold the special tokens "
            f"{list(WORD_PIECE_SPECIALS)}. Received: vocabulary={shown}, "
            f"without {missing}"
        )
    return vocabulary


def _as_preprocessor(preprocessor, sequence_length):
    if sequence_length is not None:
        _check_sequence_length(sequence_length)
    if isinstance(preprocessor, keras_hub.models.TextClassifierPreprocessor):
        if (
            sequence_length is not None
            and sequence_length != preprocessor.sequence_length
        ):
            raise ValueError(
                "`sequence_length` disagrees with the preprocessor's. Pass "
                "one or the other. Received: sequence_length="
                f"{sequence_length}, preprocessor.sequence_length="
                f"{preprocessor.sequence_length}"
            )
        return preprocessor
    sequence_length = sequence_length or 128
    if isinstance(preprocessor, keras_hub.tokenizers.Tokenizer):
        return presets.preprocessor_for(preprocessor, sequence_length)
    if isinstance(preprocessor, str) or hasattr(preprocessor, "__fspath__"):
        return text_preprocessor(preprocessor,
                                 sequence_length=sequence_length)
    raise TypeError(
        "`preprocessor` must be a keras_hub.models.TextClassifierPreprocessor "
        "(see kerasft.data.text_preprocessor), a keras-hub tokenizer or a "
        f"preset. Received: preprocessor={preprocessor!r} of type "
        f"{type(preprocessor).__name__}"
    )


def _check_boundaries(bucket_boundaries, sequence_length):
    """Returns the bucket widths ending with `sequence_length`, or None."""
    if bucket_boundaries is None:
        return None
    values = (
        list(bucket_boundaries)
        if isinstance(bucket_boundaries, (list, tuple, np.ndarray))
        else None
    )
    if not values or not all(
        is_int(v) and v > 0
        for v in values
    ) or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(
            "`bucket_boundaries` must be a non-empty, strictly increasing "
            "list of positive ints (bucket widths). Received: "
            f"bucket_boundaries={bucket_boundaries!r}"
        )
    return [int(v) for v in values if v < sequence_length] + [
        sequence_length
    ]


def _as_strings(values, name):
    """Returns `values` as a list of str, or raises naming `name`."""
    if isinstance(values, dict):
        raise TypeError(
            f"`{name}` must be a list of strings, not a dict (its keys would "
            f"be read as the texts). Received: {name} of type dict with keys "
            f"{list(values)[:5]!r}"
        )
    if isinstance(values, (str, bytes)):
        raise TypeError(
            f"`{name}` must be a list of strings, not one string. Received: "
            f"{name}={values[:40]!r}"
        )
    try:
        values = list(values)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a list of strings. Received: {name} of type "
            f"{type(values).__name__}"
        ) from None
    if not values:
        raise ValueError(
            f"`{name}` is empty. Received: {name}=[] (expected at least one "
            "string)"
        )
    strings = []
    for i, value in enumerate(values):
        if isinstance(value, (bytes, np.bytes_)):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, str):
            raise TypeError(
                f"`{name}` must hold only strings. Received: {name}[{i}]="
                f"{value!r} of type {type(value).__name__}"
            )
        strings.append(str(value))
    return strings


def _dataset_from_lists(texts, labels, num_classes, task):
    is_pair = (
        isinstance(texts, tuple)
        and len(texts) == 2
        and not isinstance(texts[0], (str, bytes))
    )
    if is_pair:
        first = _as_strings(texts[0], "texts[0]")
        second = _as_strings(texts[1], "texts[1]")
        if len(first) != len(second):
            raise ValueError(
                "The two lists of a sentence pair must have the same length. "
                f"Received: len(texts[0])={len(first)}, "
                f"len(texts[1])={len(second)}"
            )
        features = (first, second)
        num_examples = len(first)
    else:
        features = _as_strings(texts, "texts")
        num_examples = len(features)
    if labels is None:
        if num_classes is not None:
            raise ValueError(
                "`num_classes` checks `labels`, but there are none. "
                f"Received: labels=None, num_classes={num_classes!r}"
            )
        return tf.data.Dataset.from_tensor_slices(features), False
    labels = _check_targets(labels, num_examples, num_classes, task)
    return tf.data.Dataset.from_tensor_slices((features, labels)), True


def _check_text_dataset(dataset, labels, task):
    if labels is not None:
        raise ValueError(
            "`labels` must be None when `texts` is a tf.data.Dataset (its "
            "elements hold the labels). Received: labels of type "
            f"{type(labels).__name__}"
        )
    spec = dataset.element_spec
    has_labels = isinstance(spec, tuple) and len(spec) == 2 and not all(
        isinstance(s, tf.TensorSpec) and s.dtype == tf.string for s in spec
    )
    text_spec = spec[0] if has_labels else spec
    text_specs = (
        list(text_spec) if isinstance(text_spec, tuple) else [text_spec]
    )
    if len(text_specs) > 2 or not all(
        isinstance(s, tf.TensorSpec) and s.dtype == tf.string
        and s.shape.rank == 0
        for s in text_specs
    ):
        raise ValueError(
            "`texts` must be an unbatched dataset of strings, "
            "(text, label) or ((first, second), label). Received: a dataset "
            f"with element_spec={spec}"
        )
    if dataset.cardinality() == 0:
        raise ValueError(
            "`texts` is an empty dataset. Received: a dataset with "
            "cardinality 0 (expected at least one example)"
        )
    if has_labels and task is not None:
        dataset = _cast_dataset_targets(dataset, spec[1], task)
    return dataset, has_labels


def _tokenize(dataset, preprocessor, has_labels):
    """Strings -> per-example int32 features of shape (sequence_length,)."""

    def tokenize(x):
        # x: (batch,) strings, or a pair of them.
        # x= by keyword: a positional tuple would read as (x, y).
        packed = preprocessor(x=x)  # {name: (batch, sequence_length)}
        # Every key the family's preprocessor gives (RoBERTa, DistilBERT,
        # DeBERTa give no segment_ids), as int32: bools (padding_mask) and
        # int64 alike, so every family's batches have one dtype.
        return {name: tf.cast(value, tf.int32)
                for name, value in packed.items()}

    def tokenize_with_label(x, y):
        y = tf.cast(y, tf.int64) if y.dtype.is_integer else y
        return tokenize(tuple(x) if isinstance(x, (tuple, list)) else x), y

    def tokenize_without_label(*x):
        return tokenize(x[0] if len(x) == 1 else tuple(x))

    dataset = dataset.batch(TOKENIZE_BATCH_SIZE)
    dataset = dataset.map(
        tokenize_with_label if has_labels else tokenize_without_label,
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.unbatch()


def _bucket(dataset, boundaries, batch_size, drop_remainder):
    """Batches examples of similar length, each batch cut to its bucket."""
    widths = tf.constant(boundaries, tf.int64)

    def bucket_id(features, *label):
        length = tf.reduce_sum(tf.cast(features["padding_mask"], tf.int64))
        # The first bucket at least as wide as the example.
        return tf.searchsorted(
            widths, [length], side="left", out_type=tf.int64
        )[0]

    def batch_bucket(key, window):
        width = widths[key]

        def cut(features, *label):
            # (batch, sequence_length) -> (batch, width): only padding goes.
            return ({k: v[:, :width] for k, v in features.items()}, *label)

        batches = window.batch(batch_size, drop_remainder=drop_remainder)
        return batches.map(cut)

    return dataset.group_by_window(
        bucket_id, batch_bucket, window_size=batch_size
    )


def _with_int64_labels(dataset):
    class_names = dataset.class_names
    spec = dataset.element_spec
    if isinstance(spec, tuple) and spec[1].dtype.is_integer:
        dataset = dataset.map(
            lambda text, label: (text, tf.cast(label, tf.int64)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    # `map` returns a new dataset without the attribute Keras set.
    dataset.class_names = class_names
    return dataset
