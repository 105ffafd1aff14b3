import re

import keras

from kerasft.models.text_classifier import check_names
from kerasft.models.text_model import TextModel

#: The label of a position that carries none: special tokens, every word
#: piece but a word's first, padding. The loss and the metrics skip it.
IGNORE_INDEX = -100

_TAG = re.compile(r"^(O|[BIES]-.+)$")


@keras.saving.register_keras_serializable(package="kerasft")
class TokenClassifier(TextModel):
    """Any keras-hub encoder with a per-token head: one tag per word piece.

    For named entities and other word tagging. The backbone's sequence
    output `(batch, seq_len, hidden_dim)` goes through `Dropout` and a
    `Dense` head to `(batch, seq_len, num_tags)` logits, one row per word
    piece. Labels are `(batch, seq_len)` tag ids with `IGNORE_INDEX` (-100)
    wherever no tag is scored: the first piece of each word carries the
    word's tag, the other pieces, the special tokens and the padding are
    ignored by the `default_loss` (sparse cross-entropy on logits with
    `ignore_class=-100`, used by `kerasft.Trainer` when given no loss) and
    by `kerasft.training.EntityF1`. `kerasft.data.make_token_dataset` builds
    such batches from words and tags (long sentences become overlapping
    windows), and `kerasft.predict_texts` returns entities with character
    offsets from raw strings.

    The pooler of BERT, ALBERT and ELECTRA is unused here (left out of
    training, see `TextClassifier`).

    Args:
        backbone: a keras-hub encoder backbone of a supported family.
        tag_names: list of str. The tag of each id, e.g. `["O", "B-person",
            "I-person"]`: `"O"` or a `B-`, `I-`, `E-`, `S-` prefix and a
            type (IOB1, IOB2 / BIO, BIOES), at least two, saved with the
            model.
        dropout: float. Dropout rate before the head, in [0, 1). Defaults
            to `0.1`.
        **kwargs: passed to `keras.Model` (`name`, `trainable`).

    Example:
    ```python
    import numpy as np
    import keras_hub
    import kerasft

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=16,
    )
    model = kerasft.TokenClassifier(
        backbone, tag_names=["O", "B-person", "I-person"])
    inputs = {
        "token_ids": np.array([[2, 10, 11, 3, 0, 0]], "int32"),
        "segment_ids": np.zeros((1, 6), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32"),
    }
    logits = model(inputs)  # (1, 6, 3)
    ```
    """

    def __init__(self, backbone, tag_names, dropout=0.1, **kwargs):
        head = self.check_head_arguments(tag_names=tag_names)
        super().__init__(backbone, dropout=dropout, uses_pooler=False,
                         **kwargs)
        self.tag_names = head["tag_names"]
        self.head = self.build_head(len(self.tag_names), name="tag_logits")

    @property
    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=IGNORE_INDEX
        )

    @property
    def num_tags(self):
        return len(self.tag_names)

    @classmethod
    def check_head_arguments(cls, tag_names=None):
        if tag_names is None or isinstance(tag_names, str) or not hasattr(
            tag_names, "__len__"
        ):
            raise TypeError(
                "`tag_names` must be a list of str, one per tag, e.g. ['O', "
                f"'B-person', 'I-person']. Received: tag_names={tag_names!r}"
            )
        names = check_names("tag_names", tag_names, len(tag_names), "tag",
                            "num_tags")
        bad = [name for name in names if not _TAG.match(name)]
        if bad or len(names) < 2:
            raise ValueError(
                "`tag_names` must hold at least two distinct tags, each 'O' "
                "or a B-, I-, E- or S- prefix and a type (e.g. 'B-person'). "
                f"Received: tag_names={list(tag_names)!r}"
                + (f" ({bad[0]!r} is not a tag)" if bad else "")
            )
        return {"tag_names": names}

    def head_features(self, inputs, training=False):
        """The backbone's sequence output, `(batch, seq_len, hidden_dim)`."""
        sequence, _ = self.encode(inputs, training=training)
        return sequence

    def apply_head(self, features, training=False):
        """Dropout then tag logits: `(batch, seq_len, num_tags)`."""
        x = self.output_dropout(features, training=training)
        return self.head(x)

    def compute_output_shape(self, input_shape):
        batch, length = input_shape["token_ids"][:2]
        return (batch, length, self.num_tags)

    def head_config(self):
        return {"tag_names": list(self.tag_names)}
