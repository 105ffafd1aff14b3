"""Masked-LM pretraining of a BERT on the kerasft Trainer.

The model is keras-hub's own `BertMaskedLM` (a `BertBackbone` plus an MLM
head tied to the token embedding), without a preprocessor: masking happens
in tf.data (`make_masked_lm_dataset`), so the model takes only int32 ids

    x = {token_ids, padding_mask, segment_ids: (batch, seq_len),
         mask_positions: (batch, num_masks)}
    -> logits (batch, num_masks, vocabulary_size)

and trains on the plain Trainer with `y` = the original ids at the masked
positions and `sample_weight` = 1 for a real mask, 0 for a padding slot.
"""

import os
import warnings

import keras
import keras_hub

from kerasft import presets
from kerasft.checks import check_dropout, check_int
from kerasft.finetuning import LinearWarmupDecay
from kerasft.pretraining.word_piece_vocabulary import check_vocabulary_size
from kerasft.training import Trainer


def bert_backbone(
    vocabulary_size,
    num_layers=4,
    hidden_dim=256,
    num_heads=4,
    intermediate_dim=None,
    max_sequence_length=512,
    dropout=0.1,
    num_segments=2,
):
    """A randomly initialized `keras_hub.models.BertBackbone` of any size.

    The arguments are checked first, with messages naming them (keras-hub
    would, for example, silently give heads of `hidden_dim // num_heads`).

    Args:
        vocabulary_size: int. Token ids the embedding holds; use the
            tokenizer's `vocabulary_size()`. More than the 5 special tokens.
        num_layers: int. Transformer layers. Defaults to `4`.
        hidden_dim: int. Width of the token vectors; a multiple of
            `num_heads`. Defaults to `256`.
        num_heads: int. Attention heads per layer. Defaults to `4`.
        intermediate_dim: int or None. Width of the feed-forward layer.
            Defaults to `4 * hidden_dim`, as in BERT.
        max_sequence_length: int. Longest input (position embeddings).
            Defaults to `512`.
        dropout: float in [0, 1). Defaults to `0.1`.
        num_segments: int. Segment (sentence A/B) ids. Defaults to `2`.

    Returns:
        A `keras_hub.models.BertBackbone`.

    Example:
    ```python
    backbone = kerasft.pretraining.bert_backbone(
        vocabulary_size=8000, num_layers=2, hidden_dim=128, num_heads=2)
    ```
    """
    check_vocabulary_size(vocabulary_size)
    num_layers = check_int("num_layers", num_layers)
    hidden_dim = check_int("hidden_dim", hidden_dim)
    num_heads = check_int("num_heads", num_heads)
    if hidden_dim % num_heads:
        raise ValueError(
            "`hidden_dim` must be divisible by `num_heads`: each head gets "
            "hidden_dim / num_heads dimensions. Received: "
            f"hidden_dim={hidden_dim}, num_heads={num_heads}"
        )
    if intermediate_dim is None:
        intermediate_dim = 4 * hidden_dim
    intermediate_dim = check_int("intermediate_dim", intermediate_dim)
    max_sequence_length = check_int(
        "max_sequence_length", max_sequence_length, minimum=3)
    num_segments = check_int("num_segments", num_segments)
    dropout = check_dropout(dropout)
    return keras_hub.models.BertBackbone(
        vocabulary_size=int(vocabulary_size),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        dropout=float(dropout),
        max_sequence_length=max_sequence_length,
        num_segments=num_segments,
    )


def masked_lm_model(backbone):
    """keras-hub's `BertMaskedLM` on `backbone`, taking token ids.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.

    Returns:
        A `keras_hub.models.BertMaskedLM` without preprocessor: inputs are
        `token_ids`, `padding_mask`, `segment_ids` and `mask_positions`,
        the output `(batch, num_masks, vocabulary_size)` logits.
    """
    if not isinstance(backbone, keras_hub.models.BertBackbone):
        raise TypeError(
            "`backbone` must be a keras_hub.models.BertBackbone. Received: "
            f"backbone of type {type(backbone).__name__}"
        )
    masked_lm = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    _freeze_pooler(masked_lm)
    return masked_lm


def _freeze_pooler(masked_lm):
    # The MLM loss never reaches the pooler (`pooled_dense`, a tanh Dense on
    # [CLS] that BERT trained with next-sentence prediction): frozen, it
    # keeps its weights and the optimizer does not warn that "gradients do
    # not exist" for it. It is saved with the backbone as it is.
    masked_lm.backbone.get_layer("pooled_dense").trainable = False


def load_masked_lm(preset):
    """Loads a pretrained BERT and its tokenizer for continued pretraining.

    For a local folder (a keras-hub preset, e.g. one written by
    `save_bert_preset`, or a Hugging Face BERT folder) the tokenizer's
    vocabulary is checked against the backbone's `vocabulary_size` before
    any weight is read. A keras-hub preset with MLM head weights
    (`task.weights.h5`, from `save_bert_preset`) gets that head back; other
    presets get a new MLM head on their backbone.

    Args:
        preset: str or path-like. A folder, a keras-hub preset name or a
            handle (see `kerasft.BertClassifier.from_preset`).

    Returns:
        A tuple `(masked_lm, tokenizer)`: a `keras_hub.models.BertMaskedLM`
        without preprocessor, and its `keras_hub.tokenizers.BertTokenizer`.

    Raises:
        ValueError: for a folder that is no BERT preset, or a tokenizer
            whose vocabulary size differs from the backbone's.

    Example:
    ```python
    masked_lm, tokenizer = kerasft.pretraining.load_masked_lm(
        "../shared/models/minilm-l6-h384-uncased")
    ```
    """
    preset = presets.check_family(
        preset, "bert",
        "kerasft's masked-LM pretraining runs keras_hub.models.BertMaskedLM")
    tokenizer = keras_hub.tokenizers.BertTokenizer.from_preset(preset)
    if os.path.isdir(preset):
        expected = presets.preset_config(preset).get("vocabulary_size")
        _check_vocabulary(preset, tokenizer, expected)
    with warnings.catch_warnings():
        # keras-hub compiles a task with a default optimizer, whose unused
        # state differs from the saved one: Keras warns that it skips it.
        warnings.filterwarnings(
            "ignore", message="Skipping variable loading for optimizer")
        masked_lm = keras_hub.models.BertMaskedLM.from_preset(
            preset, preprocessor=None)
    _freeze_pooler(masked_lm)
    _check_vocabulary(preset, tokenizer, masked_lm.backbone.vocabulary_size)
    return masked_lm, tokenizer


def _check_vocabulary(preset, tokenizer, vocabulary_size):
    if vocabulary_size is not None and (
        tokenizer.vocabulary_size() != vocabulary_size
    ):
        raise ValueError(
            "The preset's tokenizer does not match its backbone: the "
            f"vocabulary holds {tokenizer.vocabulary_size()} tokens but the "
            f"backbone's token embedding has vocabulary_size="
            f"{vocabulary_size}. Received: preset={preset!r} (use the "
            "vocab.txt the model was trained with)"
        )


def masked_lm_loss():
    """Cross-entropy over the masked tokens only.

    `mean_with_sample_weight` divides by the number of real masks (the sum
    of the weights), not by every mask slot, so padding slots neither add
    to the loss nor dilute it.
    """
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight",
        name="masked_lm_loss",
    )


def masked_lm_trainer(
    masked_lm,
    learning_rate=1e-3,
    total_steps=None,
    warmup_fraction=0.1,
    weight_decay=0.01,
    **config,
):
    """A `Trainer` for masked-LM pretraining.

    AdamW (weight decay off for biases, layer norms and embeddings would be
    the BERT recipe; Keras' AdamW decays all, which at 0.01 is harmless),
    a linear warmup then linear decay to 0 over `total_steps`, the masked
    cross-entropy (`masked_lm_loss`) and `"accuracy"`, which with the mask
    weights is the masked-token accuracy: the share of real masks whose
    original token is the model's top prediction.

    Args:
        masked_lm: a `keras_hub.models.BertMaskedLM` (from
            `masked_lm_model` or `load_masked_lm`).
        learning_rate: float. Peak learning rate. Defaults to `1e-3`
            (from scratch, small models; use ~5e-5 to 1e-4 to continue
            pretraining a preset).
        total_steps: int or None. Steps of the schedule; None keeps the
            rate constant.
        warmup_fraction: float. Share of `total_steps` warming up.
            Defaults to `0.1`.
        weight_decay: float. AdamW's decay. Defaults to `0.01`.
        **config: `TrainingConfig` fields (`steps_per_execution`,
            `jit_compile`, ...).

    Returns:
        A `kerasft.Trainer`.
    """
    if total_steps is not None:
        total_steps = check_int("total_steps", total_steps)
        warmup_steps = int(round(warmup_fraction * total_steps))
        schedule = LinearWarmupDecay(learning_rate, warmup_steps, total_steps)
    else:
        schedule = learning_rate
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=weight_decay, clipnorm=1.0)
    return Trainer(masked_lm, optimizer=optimizer, loss=masked_lm_loss(),
                   metrics=["accuracy"], **config)


def save_bert_preset(masked_lm, tokenizer, directory):
    """Saves a pretrained BERT with its tokenizer as a keras-hub preset.

    Writes the backbone (`config.json`, `model.weights.h5`), the MLM head
    (`task.json`, `task.weights.h5`, so pretraining can go on later) and
    the tokenizer (`tokenizer.json`, `assets/tokenizer/vocabulary.txt`).
    `kerasft.BertClassifier.from_preset(directory, num_classes=...)`,
    `kerasft.data.text_preprocessor(directory)` and keras-hub's own
    `BertBackbone.from_preset(directory)` load it.

    Args:
        masked_lm: a `keras_hub.models.BertMaskedLM`, or a bare
            `keras_hub.models.BertBackbone`.
        tokenizer: the `keras_hub.tokenizers.BertTokenizer` it was trained
            with.
        directory: str or path-like. The preset folder (created).

    Example:
    ```python
    kerasft.pretraining.save_bert_preset(masked_lm, tokenizer, "my_bert")
    classifier = kerasft.BertClassifier.from_preset("my_bert", num_classes=2)
    ```
    """
    if isinstance(masked_lm, keras_hub.models.BertMaskedLM):
        backbone, task = masked_lm.backbone, masked_lm
    elif isinstance(masked_lm, keras_hub.models.BertBackbone):
        backbone, task = masked_lm, None
    else:
        raise TypeError(
            "`masked_lm` must be a keras_hub.models.BertMaskedLM or "
            "BertBackbone. Received: masked_lm of type "
            f"{type(masked_lm).__name__}"
        )
    return presets.save_preset(directory, backbone, tokenizer, task=task)

