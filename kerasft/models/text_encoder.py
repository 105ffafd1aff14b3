"""The encoder side of the text models: any keras-hub encoder backbone.

keras-hub's encoder backbones differ in what they take and give:

| family                            | inputs                       | output  |
|-----------------------------------|------------------------------|---------|
| BERT, ALBERT, ELECTRA             | token_ids, segment_ids, mask | dict    |
| RoBERTa, XLM-R, DistilBERT, DeBERTa | token_ids, mask            | tensor  |

(dict: `{"sequence_output", "pooled_output"}`; tensor: the sequence
output alone; mask: `padding_mask`). The functions here hide that for every
text head (`TextClassifier`, ...): they check the inputs, feed the backbone
the ones it takes, return the sequence output `(batch, seq_len,
hidden_dim)` and, where the family has one, the pooled output, and pool.
"""

import keras

from kerasft import presets
from kerasft.checks import check_choice

POOLINGS = ("cls", "pooled", "mean")


def backbone_input_names(backbone):
    """The names of the inputs a keras-hub backbone takes, e.g.
    `("token_ids", "padding_mask")`."""
    inputs = backbone.input
    return tuple(inputs) if isinstance(inputs, dict) else ("token_ids",)


def has_pooler(backbone):
    """True when the backbone outputs a `pooled_output` (BERT, ALBERT,
    ELECTRA: a tanh `Dense` on the first token)."""
    outputs = backbone.output
    return isinstance(outputs, dict) and "pooled_output" in outputs


def pooler_layers(backbone):
    """The layers only the pooled output uses (BERT's `pooled_dense`); see
    `kerasft.presets.encoder_parts`."""
    if not has_pooler(backbone):
        return []
    return list(presets.encoder_parts(backbone).pooler)


def cls_token_index(backbone):
    """Where the `[CLS]` / `<s>` token sits (0 for every family today)."""
    for name in ("cls_token_index", "start_token_index"):
        index = getattr(backbone, name, None)
        if index is not None:
            return index
    return 0


def check_pooling(pooling, backbone):
    """Returns `pooling`, or raises if the backbone cannot give it."""
    pooling = check_choice("pooling", pooling, POOLINGS)
    if pooling == "pooled" and not has_pooler(backbone):
        raise ValueError(
            f"`pooling='pooled'` needs a backbone with a pooler (BERT, "
            f"ALBERT, ELECTRA); {type(backbone).__name__} has none: use "
            f"'cls' or 'mean'. Received: pooling={pooling!r}"
        )
    return pooling


def check_text_inputs(inputs, backbone, model_name):
    """Raises unless `inputs` is a dict of `(batch, seq_len)` int tensors
    the backbone can take."""
    if not isinstance(inputs, dict) or not {
        "token_ids", "padding_mask"
    } <= set(inputs):
        received = (
            sorted(inputs) if isinstance(inputs, dict)
            else type(inputs).__name__
        )
        raise ValueError(
            f"{model_name} takes a dict of int tensors 'token_ids', "
            "'padding_mask' and (optional) 'segment_ids', each (batch, "
            "seq_len); tokenize text in the tf.data pipeline "
            f"(kerasft.data.make_text_dataset). Received: inputs={received}"
        )
    dtype = keras.backend.standardize_dtype(inputs["token_ids"].dtype)
    if "int" not in dtype:
        # A float id would be truncated to some other token, silently.
        raise TypeError(
            "`token_ids` must be integer token ids (int32 or int64). "
            f"Received: token_ids.dtype={dtype}"
        )
    shape = tuple(inputs["token_ids"].shape)
    if len(shape) != 2:
        raise ValueError(
            "`token_ids` must have shape (batch, seq_len). Received: "
            f"token_ids.shape={shape}"
        )
    maximum = backbone.max_sequence_length
    if shape[1] is not None and shape[1] > maximum:
        raise ValueError(
            f"The sequence length is above the backbone's "
            f"max_sequence_length={maximum} (its position embeddings "
            f"stop there). Received: sequence_length={shape[1]} "
            f"(token_ids.shape={shape})"
        )


def encode(backbone, inputs, training=False):
    """Runs the backbone on the inputs it takes.

    Args:
        backbone: a keras-hub encoder backbone.
        inputs: dict of `token_ids`, `padding_mask` and optional
            `segment_ids`, each `(batch, seq_len)`; keys the backbone does
            not take are dropped, a missing `segment_ids` is all zeros.
        training: bool. Runs the backbone's dropout when True.

    Returns:
        `(sequence_output, pooled_output)`: `(batch, seq_len, hidden_dim)`
        and `(batch, hidden_dim)`, or None for families without a pooler.
    """
    features = {}
    for name in backbone_input_names(backbone):
        if name == "segment_ids" and name not in inputs:
            features[name] = keras.ops.zeros_like(inputs["token_ids"])
        else:
            features[name] = inputs[name]
    outputs = backbone(features, training=training)
    if isinstance(outputs, dict):
        return outputs["sequence_output"], outputs.get("pooled_output")
    return outputs, None


def pool(sequence, pooled, padding_mask, pooling, cls_index=0):
    """One vector per sequence: `(batch, hidden_dim)`.

    Args:
        sequence: `(batch, seq_len, hidden_dim)` token vectors.
        pooled: `(batch, hidden_dim)` pooled output, or None.
        padding_mask: `(batch, seq_len)`, 1 for real tokens.
        pooling: `"cls"` (the first token), `"pooled"` (the backbone's
            pooler) or `"mean"` (the average over real tokens).
        cls_index: int. The position of the `[CLS]` token.
    """
    if pooling == "pooled":
        return pooled
    if pooling == "cls":
        return sequence[:, cls_index, :]
    mask = keras.ops.cast(padding_mask, sequence.dtype)
    mask = keras.ops.expand_dims(mask, -1)  # (batch, seq, 1)
    total = keras.ops.sum(sequence * mask, axis=1)
    # At least 1: an all-padding row gives zeros, not NaN.
    count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
    return total / count  # (batch, hidden_dim)
