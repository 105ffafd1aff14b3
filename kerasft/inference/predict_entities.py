"""`predict_entities`: raw strings in, entities with character offsets out."""

import collections.abc

import numpy as np
import tensorflow as tf

from kerasft.checks import check_batch_size
from kerasft.data.tag_schemes import entity_spans
from kerasft.data.token_pipeline import tokenize_words, words_with_offsets
from kerasft.inference.checks import check_text_model, check_vocabulary_fits
from kerasft.models import TokenClassifier


def predict_entities(model, texts, preprocessor, batch_size=64):
    """Tags raw strings with a `kerasft.TokenClassifier`; returns entities.

    Each string is split into words with their character offsets
    (`kerasft.data.words_with_offsets`: at whitespace and around
    punctuation, as BERT's basic tokenizer splits), the words are tokenized
    and packed as in training (`kerasft.data.tokenize_words`; a text longer
    than a window becomes overlapping windows, each word read from the one
    where it has most context), the model tags every word's first piece,
    and the word tags become entities as seqeval reads them
    (`kerasft.data.entity_spans`).

    Args:
        model: a `kerasft.TokenClassifier`.
        texts: list of str.
        preprocessor: the preprocessor used in training.
        batch_size: int. Windows per forward pass. Defaults to `64`.

    Returns:
        A list with one list of entities per text, in order of appearance,
        each a dict: `type` (str), `text` (`string[start:end]`), `start`,
        `end` (character offsets, end exclusive) and `score` (float: the
        mean over the entity's words of the probability of their tag).

    Example:
    ```python
    entities = kerasft.predict_texts(tagger, ["I flew to Paris"],
                                     preprocessor)
    # [[{"type": "location", "text": "Paris", "start": 10, "end": 15,
    #    "score": 0.93}]]
    ```
    """
    check_text_model(model, expected=TokenClassifier)
    check_batch_size(batch_size)
    if not isinstance(texts, (tuple, str, bytes, dict)) and isinstance(
        texts, collections.abc.Iterable
    ):
        texts = list(texts)  # read once: a generator is used up by a look
    if not isinstance(texts, list) or any(
        not isinstance(t, str) for t in texts
    ):
        raise TypeError(
            "Token classification takes a list of str (no sentence pairs). "
            f"Received: texts={texts!r}"
        )
    check_vocabulary_fits(model, preprocessor)
    split = [words_with_offsets(text) for text in texts]
    # Texts without a word (empty, only spaces) have no entities and no
    # window.
    kept = [i for i, (words, _) in enumerate(split) if words]
    results = [[] for _ in texts]
    if not kept:
        return results
    windows = tokenize_words([split[i][0] for i in kept], None, preprocessor)

    @tf.function(reduce_retracing=True)
    def probabilities_of(inputs):
        logits = tf.cast(model(inputs, training=False), "float32")
        return tf.nn.softmax(logits, axis=-1)  # (batch, width, num_tags)

    probabilities = np.concatenate([
        probabilities_of({
            name: values[start:start + batch_size]
            for name, values in windows.inputs.items()
        }).numpy()
        for start in range(0, len(windows), batch_size)
    ])
    tag_names = np.asarray(model.tag_names, dtype=object)
    for i, word_probabilities in zip(
        kept, windows.gather_words(probabilities)
    ):
        text, offsets = texts[i], split[i][1]
        ids = word_probabilities.argmax(axis=-1)  # (num_words,)
        scores = word_probabilities.max(axis=-1)
        for type_, first, last in entity_spans(list(tag_names[ids])):
            start, end = offsets[first][0], offsets[last][1]
            results[i].append({
                "type": type_,
                "text": text[start:end],
                "start": int(start),
                "end": int(end),
                "score": float(scores[first:last + 1].mean()),
            })
    return results
