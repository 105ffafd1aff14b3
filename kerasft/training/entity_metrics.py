"""Entity-level NER metrics, in the graph, equal to seqeval's default mode.

Token accuracy says little about named-entity recognition: what counts is
whole entities (chunks), scored as seqeval does by default (the CoNLL
evaluation): a predicted chunk is right when a true chunk has the same
type, first and last word. These metrics find the chunks inside the
compiled step and keep three count vectors of shape `(num_types,)`: true
positives, predicted chunks and gold chunks per entity type, summed across
replicas (`aggregation="sum"`).

How it works, per batch (shapes for `y_true` of shape (batch, seq_len)):

1. Drop the positions that carry no label (`ignore_index`: special tokens,
   word pieces after the first, padding) from each row, keeping its word
   order, and pad the row with "O" to seq_len + 1. seqeval concatenates the
   sentences with an "O" between them, and with the tags accepted here an
   "O" ends every chunk and a chunk never starts before the sentence, so
   the rows can be scored apart.
2. Look up each tag's prefix (B, I, E, S, O or ".") and entity type in
   constant tables and apply seqeval's `start_of_chunk` / `end_of_chunk`
   rules between neighbours, element-wise (type changes included).
3. A chunk ending at word e began at the last chunk start <= e. A true and
   a predicted chunk match when they end at the same word with the same
   beginning and type.

Every op compiles with XLA (scatters and gathers, no ragged tensors).
"""

import keras
import numpy as np
import tensorflow as tf

from kerasft.checks import is_int

# Prefix codes: the tag letters seqeval's rules test, and "." (a tag that
# neither starts nor ends a chunk).
OUTSIDE, BEGIN, INSIDE, END, SINGLE, DOT = range(6)
PREFIXES = {"B": BEGIN, "I": INSIDE, "E": END, "S": SINGLE}


def _tag_tables(tag_names):
    """Returns `(prefix code per tag, type id per tag, sorted type names)`.

    Types are seqeval's: the text after the first "-" ("B-person" ->
    "person"). "O" and "." get the id `len(types)` (no type).
    """
    if isinstance(tag_names, (str, bytes)) or not hasattr(
            tag_names, "__iter__"):
        raise TypeError(
            "`tag_names` must be a list of tag strings such as ['O', "
            "'B-person', 'I-person']. Received: "
            f"tag_names={tag_names!r} of type {type(tag_names).__name__}"
        )
    tag_names = list(tag_names)
    for tag in tag_names:
        if not isinstance(tag, str):
            raise TypeError(
                "`tag_names` must hold strings. Received: "
                f"tag_names=[..., {tag!r}, ...] ({type(tag).__name__})"
            )
        typed = len(tag) > 2 and tag[0] in PREFIXES and tag[1] == "-"
        # seqeval's type of a typed tag; "_" is what it calls "no type".
        if tag not in ("O", ".") and not (typed and tag[2:] != "_"):
            raise ValueError(
                "Each tag must be 'O', '.' or a prefix B-, I-, E- or S- "
                "followed by an entity type (IOB1, IOB2, IOE, BIOES tags). "
                f"Received: tag_names=[..., {tag!r}, ...]"
            )
    duplicates = sorted({t for t in tag_names if tag_names.count(t) > 1})
    if duplicates:
        raise ValueError(
            f"`tag_names` lists tags more than once: {duplicates}. "
            f"Received: tag_names={tag_names!r}"
        )
    if "O" not in tag_names:
        raise ValueError(
            "`tag_names` must include 'O' (the tag of words outside any "
            f"entity). Received: tag_names={tag_names!r}"
        )
    types = sorted({tag[2:] for tag in tag_names if tag not in ("O", ".")})
    type_ids = {name: i for i, name in enumerate(types)}
    prefixes = [OUTSIDE if t == "O" else DOT if t == "." else PREFIXES[t[0]]
                for t in tag_names]
    ids = [type_ids.get(t[2:], len(types)) if t not in ("O", ".")
           else len(types) for t in tag_names]
    return prefixes, ids, types


def _is(prefix, *codes):
    return tf.reduce_any(tf.stack([tf.equal(prefix, c) for c in codes]), 0)


def _chunk_rules(previous, current, previous_type, current_type):
    """seqeval's `end_of_chunk` and `start_of_chunk`, element-wise.

    Returns `(ended, started)`: a chunk ended at the previous word / starts
    at the current one. All arguments are int tensors of the same shape.
    """
    type_change = tf.not_equal(previous_type, current_type)
    ended = (
        _is(previous, END, SINGLE)
        | (_is(previous, BEGIN, INSIDE) & _is(current, BEGIN, SINGLE,
                                              OUTSIDE))
        | (~_is(previous, OUTSIDE, DOT) & type_change)
    )
    started = (
        _is(current, BEGIN, SINGLE)
        | (_is(previous, END, SINGLE, OUTSIDE) & _is(current, END, INSIDE))
        | (~_is(current, OUTSIDE, DOT) & type_change)
    )
    return ended, started


class _EntityCounts(keras.metrics.Metric):
    """Per-type counts of matched, predicted and gold entity chunks.

    Subclasses set `_index` (0: precision, 1: recall, 2: F1).
    """

    _index = None
    _default_name = None

    def __init__(self, tag_names, ignore_index=-100, name=None, dtype=None):
        prefixes, type_ids, types = _tag_tables(tag_names)
        if not is_int(ignore_index):
            raise TypeError(
                "`ignore_index` must be an int (the label of positions "
                f"without a tag). Received: ignore_index={ignore_index!r}"
            )
        if 0 <= ignore_index < len(prefixes):
            raise ValueError(
                "`ignore_index` must not be a tag id (0 to "
                f"{len(prefixes) - 1}). Received: ignore_index={ignore_index}"
            )
        super().__init__(name=name or self._default_name, dtype=dtype)
        self.tag_names = list(tag_names)
        self.ignore_index = int(ignore_index)
        self.types = types
        self._prefixes = prefixes
        self._type_ids = type_ids
        self._outside = self.tag_names.index("O")
        self.true_positives, self.predicted, self.gold = (
            self.add_variable(shape=(len(types),), initializer="zeros",
                              dtype="float32", aggregation="sum",
                              name=variable_name)
            for variable_name in ("true_positives", "predicted", "gold")
        )

    def _compact(self, tags, keep):
        """Moves each row's kept tags to its front, pads with "O".

        `tags`, `keep`: (batch, seq_len). Returns (batch, seq_len + 1): at
        least one "O" ends every row.
        """
        batch_size, seq_len = tf.shape(tags)[0], tf.shape(tags)[1]
        column = tf.cumsum(tf.cast(keep, "int32"), axis=1) - 1
        # Dropped tags all write "O" to the extra last column.
        column = tf.where(keep, column, seq_len)
        row = tf.broadcast_to(tf.range(batch_size)[:, None], tf.shape(tags))
        outside = tf.fill([batch_size, seq_len + 1], self._outside)
        return tf.tensor_scatter_nd_update(
            outside, tf.stack([row, column], axis=-1),
            tf.where(keep, tags, self._outside))

    def _chunks(self, tags):
        """Chunks of compacted rows (batch, n + 1), one per last word.

        Returns `(ends, begins, types)`, each (batch, n): whether a chunk
        ends at word e, the word it began at, its type id.
        """
        prefix = tf.gather(tf.constant(self._prefixes, "int32"), tags)
        kind = tf.gather(tf.constant(self._type_ids, "int32"), tags)
        # The word before the first is "O" (seqeval starts from prev "O").
        previous = tf.pad(prefix[:, :-1], [[0, 0], [1, 0]],
                          constant_values=OUTSIDE)
        previous_kind = tf.pad(kind[:, :-1], [[0, 0], [1, 0]],
                               constant_values=len(self.types))
        ended, started = _chunk_rules(previous, prefix, previous_kind, kind)
        # begins[e] = last t <= e with started[t]: number the starts with a
        # running count, scatter each start's position to its number, and
        # read it back by the count at e. Other positions write 0 to slot 0.
        count = tf.cumsum(tf.cast(started, "int32"), axis=1)  # (batch, n+1)
        batch_size, width = tf.shape(tags)[0], tf.shape(tags)[1]
        position = tf.broadcast_to(tf.range(width)[None], tf.shape(tags))
        row = tf.broadcast_to(tf.range(batch_size)[:, None], tf.shape(tags))
        slot = tf.where(started, count, 0)
        start_positions = tf.tensor_scatter_nd_update(
            tf.zeros([batch_size, width + 1], "int32"),
            tf.stack([row, slot], axis=-1),
            tf.where(started, position, 0))
        begins = tf.gather(start_positions, count, batch_dims=1)
        # ended[e + 1]: the chunk ended at word e, of word e's type.
        return ended[:, 1:], begins[:, :-1], kind[:, :-1]

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if y_true.shape.rank != 2 or y_pred.shape.rank not in (2, 3):
            raise ValueError(
                f"{type(self).__name__} expects `y_true` of shape (batch, "
                "seq_len) and `y_pred` of shape (batch, seq_len, num_tags) "
                "or (batch, seq_len). Received: y_true of shape "
                f"{tuple(y_true.shape)}, y_pred of shape "
                f"{tuple(y_pred.shape)}"
            )
        if y_pred.shape.rank == 3:
            if y_pred.shape[-1] not in (None, len(self.tag_names)):
                raise ValueError(
                    f"`y_pred` has {y_pred.shape[-1]} scores per word for "
                    f"{len(self.tag_names)} tag names. Received: y_pred of "
                    f"shape {tuple(y_pred.shape)}"
                )
            y_pred = tf.argmax(y_pred, axis=-1)
        # Labels may arrive as floats (the Trainer casts non-sparse ones).
        y_true = tf.cast(tf.round(tf.cast(y_true, "float32")), "int32") if (
            y_true.dtype.is_floating) else tf.cast(y_true, "int32")
        y_pred = tf.cast(y_pred, "int32")
        keep = tf.not_equal(y_true, self.ignore_index)  # (batch, seq_len)
        if sample_weight is not None:
            weight = tf.convert_to_tensor(sample_weight)
            if weight.shape.rank == 1:
                weight = weight[:, None]  # one weight per sentence
            elif weight.shape.rank == 3:
                weight = tf.squeeze(weight, -1)  # (batch, seq_len, 1)
            keep &= tf.not_equal(weight, 0)
        true_chunks = self._chunks(self._compact(y_true, keep))
        pred_chunks = self._chunks(self._compact(y_pred, keep))
        match = (true_chunks[0] & pred_chunks[0]
                 & tf.equal(true_chunks[1], pred_chunks[1])
                 & tf.equal(true_chunks[2], pred_chunks[2]))

        def per_type(flags, kinds):  # (batch, n) -> (num_types,)
            one_hot = tf.one_hot(kinds, len(self.types) + 1)[..., :-1]
            return tf.reduce_sum(
                one_hot * tf.cast(flags, "float32")[..., None], axis=[0, 1])

        self.true_positives.assign_add(per_type(match, true_chunks[2]))
        self.predicted.assign_add(per_type(pred_chunks[0], pred_chunks[2]))
        self.gold.assign_add(per_type(true_chunks[0], true_chunks[2]))

    def _scores(self, true_positives, predicted, gold):
        precision = tf.math.divide_no_nan(true_positives, predicted)
        recall = tf.math.divide_no_nan(true_positives, gold)
        f1 = tf.math.divide_no_nan(2.0 * true_positives, predicted + gold)
        return precision, recall, f1

    def result(self):
        counts = [tf.reduce_sum(v) for v in (
            self.true_positives, self.predicted, self.gold)]
        return self._scores(*counts)[self._index]

    def per_type(self):
        """Scores of each entity type seen (in the labels or predictions).

        Returns:
            A dict `{type: {"precision", "recall", "f1", "support"}}`, the
            types sorted by name, equal to the per-type rows of seqeval's
            `classification_report(output_dict=True)` (`support`: number of
            gold chunks, an int).
        """
        counts = [np.asarray(tf.convert_to_tensor(v)) for v in (
            self.true_positives, self.predicted, self.gold)]
        precision, recall, f1 = (np.asarray(v) for v in self._scores(
            *[tf.constant(c) for c in counts]))
        return {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(round(counts[2][i])),
            }
            for i, name in enumerate(self.types)
            if counts[1][i] + counts[2][i] > 0
        }

    def get_config(self):
        return {
            **super().get_config(),
            "tag_names": self.tag_names,
            "ignore_index": self.ignore_index,
        }


@keras.saving.register_keras_serializable(package="kerasft")
class EntityF1(_EntityCounts):
    """F1 of entity chunks, micro-averaged over all entities.

    Equal to seqeval's `f1_score(y_true, y_pred)` in its default mode (the
    CoNLL rules, for IOB1, IOB2, IOE or BIOES tags), on the word-level tag
    sequences of everything seen since the last reset. `per_type()` gives
    the per-type rows of `classification_report(output_dict=True)`.

    Inputs: `y_true` (batch, seq_len) int tag ids, with `ignore_index` where
    a position has no label (special tokens, word pieces after the first,
    padding); `y_pred` (batch, seq_len, num_tags) probabilities or logits
    (argmax taken) or (batch, seq_len) tag ids. The positions dropped are
    those of `y_true`, in both. `sample_weight`, if given, per sentence
    `(batch,)` or per position `(batch, seq_len)`, works as a mask:
    positions of weight 0 are dropped like `ignore_index`; other weights do
    not weight the counts (seqeval counts each entity once).

    Args:
        tag_names: list of str. The tag of each id, e.g. `["O", "B-person",
            "I-person"]`; must include "O". Each tag is "O", "." or a
            prefix B-, I-, E- or S- and an entity type.
        ignore_index: int. The label of positions without a tag. Defaults
            to `-100` (the Hugging Face convention).
        name: string. Defaults to `"entity_f1"`.

    Example:
    >>> tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    >>> m = EntityF1(tags)
    >>> # [CLS] B-PER I-PER O B-LOC [SEP]: chunks PER(0, 1), LOC(3, 3).
    >>> y_true = [[-100, 1, 2, 0, 3, -100]]
    >>> # B-PER B-PER O I-LOC: PER(0, 0), PER(1, 1), LOC(3, 3).
    >>> y_pred = [[0, 1, 1, 0, 4, 0]]
    >>> m.update_state(y_true, y_pred)
    >>> round(float(m.result()), 4)  # precision 1/3, recall 1/2
    0.4
    >>> m.per_type()["LOC"]
    {'precision': 1.0, 'recall': 1.0, 'f1': 1.0, 'support': 1}
    """

    _index = 2
    _default_name = "entity_f1"


@keras.saving.register_keras_serializable(package="kerasft")
class EntityPrecision(_EntityCounts):
    """Precision of entity chunks (seqeval's `precision_score`), micro over
    all entities; arguments and inputs as for `EntityF1` (default name
    `"entity_precision"`).

    Example:
    >>> m = EntityPrecision(["O", "B-PER", "I-PER"])
    >>> m.update_state([[1, 2, 0]], [[1, 0, 1]])  # PER(0, 1) / PER(0, 0)...
    >>> float(m.result())
    0.0
    """

    _index = 0
    _default_name = "entity_precision"


@keras.saving.register_keras_serializable(package="kerasft")
class EntityRecall(_EntityCounts):
    """Recall of entity chunks (seqeval's `recall_score`), micro over all
    entities; arguments and inputs as for `EntityF1` (default name
    `"entity_recall"`).

    Example:
    >>> m = EntityRecall(["O", "B-PER", "I-PER"])
    >>> m.update_state([[1, 2, 0, 1]], [[1, 2, 0, 0]])
    >>> float(m.result())
    0.5
    """

    _index = 1
    _default_name = "entity_recall"
