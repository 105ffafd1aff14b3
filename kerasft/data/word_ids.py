"""Word ids for the from-scratch text baselines (a word-level vocabulary).

`TextCNNClassifier` and `BiLSTMClassifier` read word ids, not word pieces:
`word_id_arrays` learns a vocabulary from the training texts and turns
every split into padded id arrays.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasft.checks import check_int

PADDING_ID = 0
OOV_ID = 1


def _check_texts(name, texts):
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__"):
        raise TypeError(
            f"`{name}` must be a list or array of str (one text each). "
            f"Received: {name} of type {type(texts).__name__}"
        )
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"`{name}` must hold only str. Received: {name}[{i}]="
                f"{text!r} of type {type(text).__name__}"
            )
    return texts


def word_id_arrays(
    train_texts,
    *other_texts,
    vocabulary_size=20000,
    sequence_length=64,
    lowercase=True,
):
    """Builds a word vocabulary from the train texts and maps texts to ids.

    Words are split on whitespace (MR and the other kerasft text sets come
    tokenized, punctuation as separate tokens, which are kept as words) and
    lower-cased unless `lowercase=False`. The vocabulary holds the
    `vocabulary_size - 2` most frequent words of `train_texts` only, so
    evaluating on `other_texts` leaks nothing of them: a word seen only
    there maps to the out-of-vocabulary id 1. Each text becomes its first
    `sequence_length` word ids, padded with 0 at the end.

    Args:
        train_texts: list or array of str. The texts the vocabulary is
            learnt from (and turned into ids).
        *other_texts: lists or arrays of str. More splits (validation,
            test), turned into ids with the same vocabulary.
        vocabulary_size: int. Most ids, padding and out-of-vocabulary
            included (>= 3); fewer when the train texts hold fewer words.
            Defaults to `20000`.
        sequence_length: int. Length of every id sequence: longer texts
            are cut, shorter ones padded. Defaults to `64`.
        lowercase: bool. Whether to lower-case before splitting. Defaults
            to `True`.

    Returns:
        A tuple `(arrays, vocabulary)`: `arrays` a tuple of int32 arrays
        `(num_texts, sequence_length)`, one per texts argument in order
        (train first); `vocabulary` a list of str, the word of each id:
        `""` (padding) at 0, `"[UNK]"` at 1, then by decreasing frequency.
        Give the model `vocabulary_size=len(vocabulary)`.

    Example:
    ```python
    from kerasft.data import load_rt_polarity_arrays, word_id_arrays

    train_texts, train_labels = load_rt_polarity_arrays(split="train")
    test_texts, test_labels = load_rt_polarity_arrays(split="test")
    (train_ids, test_ids), vocabulary = word_id_arrays(
        train_texts, test_texts, vocabulary_size=20000, sequence_length=64
    )
    train_ids.shape, len(vocabulary)  # (9595, 64), 20000 (of 20,244)
    ```
    """
    vocabulary_size = check_int("vocabulary_size", vocabulary_size,
                                minimum=3, why="padding, [UNK] and a word")
    sequence_length = check_int("sequence_length", sequence_length)
    if not isinstance(lowercase, bool):
        raise TypeError(
            "`lowercase` must be True or False. "
            f"Received: lowercase={lowercase!r}"
        )
    train_texts = _check_texts("train_texts", train_texts)
    if not train_texts:
        raise ValueError(
            "`train_texts` must hold at least one text to learn the "
            "vocabulary from. Received: train_texts=[]"
        )
    other_texts = [
        _check_texts(f"other_texts[{i}]", texts)
        for i, texts in enumerate(other_texts)
    ]
    # Keras' TextVectorization rather than a hand-written counter: its ids
    # follow the conventions Embedding(mask_zero=True) expects (0 padding,
    # 1 [UNK]), its frequency ordering and truncation are tested upstream,
    # and the same layer can tokenize inside a tf.data pipeline or model.
    vectorizer = keras.layers.TextVectorization(
        max_tokens=vocabulary_size,
        standardize="lower" if lowercase else None,
        split="whitespace",
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    vectorizer.adapt(tf.constant(train_texts, dtype=tf.string))
    arrays = tuple(
        np.asarray(
            vectorizer(tf.constant(texts, dtype=tf.string)), dtype=np.int32
        ).reshape(len(texts), sequence_length)  # (num_texts, sequence_length)
        for texts in (train_texts, *other_texts)
    )
    return arrays, [str(word) for word in vectorizer.get_vocabulary()]
