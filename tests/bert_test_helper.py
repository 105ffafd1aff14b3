"""Tiny random BERTs for tests, with parameter counts worked out by hand.

`tests/` is on sys.path (pytest puts the rootdir conftest's folder there):
`from bert_test_helper import tiny_classifier, LAYER`.
"""

import keras_hub
import numpy as np

import kerasft  # noqa: F401  (selects the TF backend before keras loads)
from kerasft.data import make_text_dataset
from kerasft.data import text_preprocessor
from kerasft.models import BertClassifier

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie",
    "film", "was", "is", "good", "bad", "great", "dull", "not", ".", ",",
]
# Vocabulary V, hidden H, intermediate I, max sequence S, 2 segments,
# NUM_HEADS heads of HEAD_DIM, 2 classes.
V, H, I, S, NUM_HEADS = len(VOCAB), 16, 32, 16, 2
HEAD_DIM = H // NUM_HEADS
EMBEDDINGS = V * H + S * H + 2 * H + 2 * H  # token, position, segment, norm
# Query, key, value, output (h*h + h each); two layer norms (2h each);
# feed-forward h->i (h*i + i) and i->h (i*h + h).
LAYER = 4 * (H * H + H) + 2 * (2 * H) + (H * I + I) + (I * H + H)
POOLER = H * H + H
HEAD = H * 2 + 2
assert (EMBEDDINGS, LAYER, POOLER, HEAD) == (608, 2224, 272, 34)
# LoRA of rank R on a query or value projection, whose kernel is
# (H, NUM_HEADS, HEAD_DIM): factors (H, NUM_HEADS, R) and (R, HEAD_DIM).
# Not R * (in + out) = R * 2H, as it would be for a 2-D kernel.
LORA_RANK = 4
LORA_PER_KERNEL = LORA_RANK * H * NUM_HEADS + LORA_RANK * HEAD_DIM
assert LORA_PER_KERNEL == 160 != LORA_RANK * 2 * H

TEXTS = [
    "the movie was good .", "a great film", "good , not dull", "great movie",
    "the film was bad .", "a dull movie", "not good", "bad , dull film",
]
LABELS = [1, 1, 1, 1, 0, 0, 0, 0]


def tiny_backbone(num_layers=2):
    return keras_hub.models.BertBackbone(
        vocabulary_size=V, num_layers=num_layers, num_heads=NUM_HEADS,
        hidden_dim=H, intermediate_dim=I, max_sequence_length=S,
    )


def tiny_classifier(num_layers=2, pooling="pooled", **kwargs):
    # "pooled" so that every block trains and the hand counts above add up;
    # under "cls" / "mean" the pooler is unused (never trained).
    return BertClassifier(tiny_backbone(num_layers), num_classes=2,
                          pooling=pooling, **kwargs)


def tiny_dataset(batch_size=4, sequence_length=8, shuffle=False):
    """The 8 TEXTS, tokenized: batches of (features, labels)."""
    preprocessor = text_preprocessor(vocabulary=VOCAB,
                                     sequence_length=sequence_length)
    return make_text_dataset(TEXTS, LABELS, preprocessor,
                             batch_size=batch_size, shuffle=shuffle)


def tiny_features(sequence_length=8):
    """All TEXTS as one dict of int32 arrays (for predictions)."""
    preprocessor = text_preprocessor(vocabulary=VOCAB,
                                     sequence_length=sequence_length)
    return {k: np.asarray(v).astype("int32")
            for k, v in preprocessor(TEXTS).items()}


def trained_count(model):
    """Scalars in `model.trainable_weights`."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def snapshot(variables):
    return [np.array(v.numpy()) for v in variables]
