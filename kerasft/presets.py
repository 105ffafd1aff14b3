"""Presets: which encoder family a preset is, its backbone and preprocessor.

A preset is what keras-hub's `from_preset` takes: a built-in name
(`"bert_tiny_en_uncased"`), a keras-hub preset folder (`config.json` with a
`class_name`, from `save_to_preset`), a Hugging Face model folder
(`config.json` with a `model_type`, converted on the fly), or a remote
handle (`"hf://org/name"`, `"kaggle://..."`).

kerasft fine-tunes the encoder families keras-hub ships a text classifier
for, plus ELECTRA (backbone only upstream). Each is one row of `FAMILIES`:
the keras-hub backbone, preprocessor and tokenizer classes and the Hugging
Face `model_type` keras-hub converts. Everything family-specific that
kerasft needs is read from the preset's `config.json` or from the backbone
itself, here, without loading weights; data, models and pretraining all
ask this module, which imports none of them.

Example:
```python
from kerasft import presets

family = presets.preset_family("../shared/models/minilm-l6-h384-uncased")
family.name  # "bert"
backbone = presets.load_backbone("../shared/models/minilm-l6-h384-uncased")
```
"""

import dataclasses
import json
import os

import keras_hub

from kerasft.checks import check_int


class UnsupportedPresetError(ValueError):
    """A preset of a family kerasft does not fine-tune (a decoder, an image
    model, ...), or one keras-hub cannot load from that layout."""


@dataclasses.dataclass(frozen=True)
class EncoderFamily:
    """One encoder family: its keras-hub classes and Hugging Face name.

    Attributes:
        name: str. kerasft's name, keras-hub's folder name (`"bert"`).
        backbone: str. The `keras_hub.models` backbone class name.
        preprocessor: str or None. The `keras_hub.models` text classifier
            preprocessor class name; None where keras-hub has none
            (ELECTRA: the generic `TextClassifierPreprocessor` then packs
            `[CLS] a [SEP] b [SEP]` with the family's tokenizer).
        tokenizer: str. The `keras_hub.tokenizers` class name.
        hf_model_types: tuple of str. Hugging Face `model_type` values of
            the family.
        hf_convertible: bool. Whether keras-hub converts Hugging Face
            checkpoints of the family (`from_preset` on an HF folder).
        tokenizer_kind: str. `"wordpiece"`, `"bpe"` or `"sentencepiece"`.
    """

    name: str
    backbone: str
    preprocessor: str | None
    tokenizer: str
    hf_model_types: tuple
    hf_convertible: bool
    tokenizer_kind: str

    @property
    def backbone_class(self):
        return getattr(keras_hub.models, self.backbone)

    @property
    def tokenizer_class(self):
        return getattr(keras_hub.tokenizers, self.tokenizer)

    @property
    def preprocessor_class(self):
        """The keras-hub preprocessor class (the generic one where the
        family has none of its own)."""
        return getattr(
            keras_hub.models,
            self.preprocessor or "TextClassifierPreprocessor",
        )


# The more specific family first: XLMRobertaBackbone subclasses
# RobertaBackbone, so `isinstance` must try it before RoBERTa.
FAMILIES = {
    family.name: family
    for family in (
        EncoderFamily("bert", "BertBackbone",
                      "BertTextClassifierPreprocessor", "BertTokenizer",
                      ("bert",), True, "wordpiece"),
        EncoderFamily("xlm_roberta", "XLMRobertaBackbone",
                      "XLMRobertaTextClassifierPreprocessor",
                      "XLMRobertaTokenizer", ("xlm-roberta",), True,
                      "sentencepiece"),
        EncoderFamily("roberta", "RobertaBackbone",
                      "RobertaTextClassifierPreprocessor", "RobertaTokenizer",
                      ("roberta",), True, "bpe"),
        EncoderFamily("distil_bert", "DistilBertBackbone",
                      "DistilBertTextClassifierPreprocessor",
                      "DistilBertTokenizer", ("distilbert",), True,
                      "wordpiece"),
        EncoderFamily("albert", "AlbertBackbone",
                      "AlbertTextClassifierPreprocessor", "AlbertTokenizer",
                      ("albert",), True, "sentencepiece"),
        EncoderFamily("deberta_v3", "DebertaV3Backbone",
                      "DebertaV3TextClassifierPreprocessor",
                      "DebertaV3Tokenizer", ("deberta-v2",), False,
                      "sentencepiece"),
        EncoderFamily("electra", "ElectraBackbone", None, "ElectraTokenizer",
                      ("electra",), False, "wordpiece"),
    )
}
SUPPORTED = ", ".join(FAMILIES)
_BY_BACKBONE = {family.backbone: family for family in FAMILIES.values()}
_BY_HF_TYPE = {
    model_type: family
    for family in FAMILIES.values()
    for model_type in family.hf_model_types
}
# Hugging Face's RoBERTa-style position tables hold 2 rows before the
# first position (padding offset); keras-hub drops them on conversion.
_HF_POSITION_OFFSET = {"roberta": 2, "xlm_roberta": 2}


def check_preset(preset):
    """Returns `preset` as a str, or raises unless it names a preset.

    Args:
        preset: str or path-like. A built-in name, folder or handle.

    Raises:
        TypeError: if `preset` is not a non-empty str or path.
        ValueError: for a path that does not exist and is no known name or
            handle.
    """
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    if not isinstance(preset, str) or not preset:
        raise TypeError(
            "`preset` must be a preset name, folder or handle (a non-empty "
            f"str or path). Received: preset={preset!r} of type "
            f"{type(preset).__name__}"
        )
    if "://" in preset or os.path.exists(preset):
        return preset
    if preset in keras_hub.models.Backbone.presets:
        return preset
    raise ValueError(
        "`preset` is neither an existing folder nor a keras-hub preset name "
        "(e.g. 'bert_tiny_en_uncased', see `keras_hub.models.Backbone."
        "presets`) nor a handle such as 'hf://org/name'. Received: "
        f"preset={preset!r} (no such folder)"
    )


def is_remote(preset):
    """True for a handle (`hf://`, `kaggle://`, ...): nothing to read
    before keras-hub downloads it."""
    return "://" in os.fspath(preset)


def preset_family(preset):
    """Returns the `EncoderFamily` of a preset, without loading weights.

    Reads a folder's `config.json` (keras-hub `class_name` or Hugging Face
    `model_type`) or keras-hub's table of built-in presets.

    Args:
        preset: str or path-like. A built-in name or folder. Remote handles
            cannot be read before download: they return None (keras-hub
            checks them as it loads; `family_of(backbone)` then tells).

    Raises:
        UnsupportedPresetError: for a preset of another family, naming it
            and the supported ones.
        ValueError: for a folder without a readable `config.json`.
    """
    preset = check_preset(preset)
    if is_remote(preset):
        return None
    if os.path.isdir(preset):
        config = _read_config(preset)
        if "model_type" in config:  # Hugging Face layout
            model_type = config["model_type"]
            family = _BY_HF_TYPE.get(model_type)
            if family is None:
                raise UnsupportedPresetError(
                    f"The preset is a Hugging Face '{model_type}' model, "
                    "not one of the encoder families kerasft fine-tunes "
                    f"({SUPPORTED}). Received: preset={preset!r}"
                )
            if not family.hf_convertible:
                raise UnsupportedPresetError(
                    f"The preset is a Hugging Face '{model_type}' model "
                    f"({family.name}), but keras-hub cannot convert that "
                    "family's Hugging Face checkpoints: use a keras-hub "
                    f"preset of it (see keras_hub.models.{family.backbone}"
                    f".presets). Received: preset={preset!r}"
                )
            return family
        class_name = config.get("class_name")
        if class_name is None:
            raise ValueError(
                "`preset`'s config.json is neither a keras-hub preset (no "
                "'class_name') nor a Hugging Face config (no 'model_type'). "
                f"Received: preset={preset!r}"
            )
        return _family_of_class(class_name, preset)
    for family in FAMILIES.values():
        if preset in family.backbone_class.presets:
            return family
    path = keras_hub.models.Backbone.presets[preset]["metadata"].get(
        "path", "another architecture"
    )
    raise UnsupportedPresetError(
        f"The preset is a keras-hub {path!r} model, not one of the encoder "
        f"families kerasft fine-tunes ({SUPPORTED}). Received: "
        f"preset={preset!r}"
    )


def check_family(preset, name, reason):
    """Returns `preset` as a str, or raises unless it is of family `name`.

    Args:
        preset: str or path-like. A built-in name, folder or handle
            (handles pass: keras-hub checks their class as it loads).
        name: str. The family required, a key of `FAMILIES`.
        reason: str. Why, for the message (who needs that family).

    Raises:
        UnsupportedPresetError: for a preset of another family.
    """
    family = preset_family(preset)
    if family is not None and family.name != name:
        raise UnsupportedPresetError(
            f"The preset is a {family.name} model, not a {name}: {reason}. "
            f"Received: preset={os.fspath(preset)!r}"
        )
    return check_preset(preset)


def family_of(backbone):
    """Returns the `EncoderFamily` of a keras-hub backbone instance.

    Raises:
        UnsupportedPresetError: for any other layer, naming its class.
    """
    for family in FAMILIES.values():
        if isinstance(backbone, family.backbone_class):
            return family
    raise UnsupportedPresetError(
        "`backbone` must be a keras-hub encoder backbone of one of the "
        f"families {SUPPORTED} (e.g. keras_hub.models.BertBackbone). "
        f"Received: backbone of type {type(backbone).__name__}"
    )


@dataclasses.dataclass(frozen=True)
class EncoderParts:
    """The weight-holding layers of an encoder backbone, input to output.

    Attributes:
        embeddings: tuple of layers before the transformer layers (token,
            position, segment and relative embeddings, their layer norm,
            ALBERT's and ELECTRA's embedding projection).
        transformer_blocks: tuple of `(name, layers)` pairs, bottom to top:
            one per transformer layer (`("transformer_layer_3", (layer,))`;
            DeBERTa's are `disentangled_attention_encoder_layer_<i>`), or
            for ALBERT one per layer group (`("group_0", inner layers)`),
            whose weights all of its `num_layers // num_groups` repeats
            share.
        pooler: tuple of layers only the pooled output uses (BERT's,
            ALBERT's and ELECTRA's `pooled_dense`); empty for the others.
    """

    embeddings: tuple
    transformer_blocks: tuple
    pooler: tuple


def encoder_parts(backbone):
    """Splits an encoder backbone into embeddings, layers and pooler.

    One rule for every family, read from the backbone's Functional graph
    rather than from layer names (which differ: `token_embedding`,
    `embeddings`, `token_and_position_embedding`, `rel_embedding`, ...):
    `backbone.layers` is in graph order, so the weight-holding layers after
    the last transformer layer are the pooler, and all other
    weight-holding layers that are no transformer layer are embeddings.

    Args:
        backbone: a keras-hub encoder backbone (any layer with a
            `transformer_layers` list and a Functional `layers` list).

    Returns:
        An `EncoderParts`.
    """
    blocks = []
    for i, entry in enumerate(backbone.transformer_layers):
        if isinstance(entry, (list, tuple)):  # ALBERT: a group of layers
            blocks.append((f"group_{i}", tuple(entry)))
        else:
            blocks.append((entry.name, (entry,)))
    ids = {id(layer) for _, group in blocks for layer in group}
    layers = list(backbone.layers)
    last = max(
        (i for i, layer in enumerate(layers) if id(layer) in ids), default=-1
    )
    weighted = [
        (i, layer) for i, layer in enumerate(layers)
        if layer.weights and id(layer) not in ids
    ]
    return EncoderParts(
        embeddings=tuple(layer for i, layer in weighted if i < last),
        transformer_blocks=tuple(blocks),
        pooler=tuple(layer for i, layer in weighted if i > last),
    )


def preset_config(preset):
    """The architecture of a local preset folder, read from `config.json`.

    Args:
        preset: str. A keras-hub preset folder or a Hugging Face folder.

    Returns:
        A dict of keras-hub backbone arguments found in the file, with
        kerasft's names: `vocabulary_size`, `num_layers`, `hidden_dim`,
        `max_sequence_length` (a missing one is None).
    """
    family = preset_family(preset)
    config = _read_config(preset)
    if "model_type" in config:
        def first(*names):
            return next(
                (config[n] for n in names if config.get(n) is not None), None
            )

        maximum = first("max_position_embeddings")
        if maximum is not None:
            maximum -= _HF_POSITION_OFFSET.get(family.name, 0)
        return {
            "vocabulary_size": first("vocab_size"),
            "num_layers": first("num_hidden_layers", "n_layers"),
            "hidden_dim": first("hidden_size", "dim"),
            "max_sequence_length": maximum,
        }
    arguments = dict(config.get("config", {}))
    if "vocab_size" in arguments:  # ELECTRA's name for it
        arguments["vocabulary_size"] = arguments.pop("vocab_size")
    return arguments


def load_backbone(preset, load_weights=True):
    """Loads the backbone of a preset through keras-hub.

    Args:
        preset: str or path-like. See the module docstring.
        load_weights: bool. False gives the architecture with random
            weights. Defaults to `True`.

    Returns:
        A keras-hub backbone of one of `FAMILIES`.

    Raises:
        UnsupportedPresetError: for a preset of another family.
    """
    preset = check_preset(preset)
    family = preset_family(preset)
    cls = keras_hub.models.Backbone if family is None else (
        family.backbone_class
    )
    try:
        backbone = cls.from_preset(preset, load_weights=load_weights)
    except ValueError as error:
        raise ValueError(
            "keras-hub could not load a backbone from the preset. Received: "
            f"preset={preset!r} ({error})"
        ) from error
    family_of(backbone)  # a remote handle of another family
    return backbone


def load_tokenizer(preset):
    """Loads the tokenizer of a preset (its family's keras-hub class)."""
    preset = check_preset(preset)
    family = preset_family(preset)
    cls = keras_hub.tokenizers.Tokenizer if family is None else (
        family.tokenizer_class
    )
    return cls.from_preset(preset)


def load_preprocessor(preset, sequence_length=128, truncate="round_robin"):
    """The family's text classifier preprocessor for a preset.

    Args:
        preset: str or path-like. See the module docstring.
        sequence_length: int. Packed length, special tokens included; for a
            local preset at most the model's `max_sequence_length`.
        truncate: str. `"round_robin"` or `"waterfall"`.

    Returns:
        A `keras_hub.models.TextClassifierPreprocessor` (the family's
        subclass).
    """
    sequence_length = check_int("sequence_length", sequence_length)
    preset = check_preset(preset)
    family = preset_family(preset)
    if os.path.isdir(preset):
        maximum = preset_config(preset).get("max_sequence_length")
        if maximum is not None and sequence_length > maximum:
            raise ValueError(
                f"`sequence_length` is above the preset's "
                f"max_sequence_length={maximum} (its position embeddings "
                f"stop there). Received: sequence_length={sequence_length}, "
                f"preset={preset!r}"
            )
    if family is None:
        return keras_hub.models.TextClassifierPreprocessor.from_preset(
            preset, sequence_length=sequence_length, truncate=truncate
        )
    if family.preprocessor is None:
        return preprocessor_for(load_tokenizer(preset), sequence_length,
                                truncate)
    return family.preprocessor_class.from_preset(
        preset, sequence_length=sequence_length, truncate=truncate
    )


def preprocessor_for(tokenizer, sequence_length=128, truncate="round_robin"):
    """Wraps a keras-hub tokenizer in its family's preprocessor.

    Args:
        tokenizer: a keras-hub tokenizer of one of `FAMILIES`.
        sequence_length: int. Packed length, special tokens included.
        truncate: str. `"round_robin"` or `"waterfall"`.
    """
    for family in FAMILIES.values():
        if type(tokenizer) is family.tokenizer_class:
            return family.preprocessor_class(
                tokenizer, sequence_length=sequence_length, truncate=truncate
            )
    raise TypeError(
        "`tokenizer` must be the keras-hub tokenizer of one of the families "
        f"{SUPPORTED} (e.g. keras_hub.tokenizers.BertTokenizer). Received: "
        f"tokenizer of type {type(tokenizer).__name__}"
    )


def vocabulary_size(backbone):
    """The number of token ids a backbone's embedding holds."""
    # ELECTRA calls it `vocab_size`, every other family `vocabulary_size`.
    return getattr(backbone, "vocabulary_size", None) or backbone.vocab_size


def save_preset(directory, backbone, tokenizer, task=None):
    """Saves a backbone and its tokenizer (and a task) as a keras-hub preset.

    The folder loads back with `kerasft.TextClassifier.from_preset`,
    `kerasft.data.text_preprocessor` and keras-hub's own `from_preset`.

    Args:
        directory: str or path-like. The preset folder (created).
        backbone: a keras-hub backbone of one of `FAMILIES`.
        tokenizer: its keras-hub tokenizer (or a preprocessor holding it).
        task: a keras-hub task on `backbone` (e.g. a `BertMaskedLM`) to save
            with it (`task.json`, `task.weights.h5`), or None.

    Returns:
        The folder, as a str.

    Raises:
        TypeError: for a tokenizer of the wrong kind.
        ValueError: if the tokenizer's vocabulary does not match the
            backbone's token embedding.
    """
    family = family_of(backbone)
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    if not isinstance(tokenizer, family.tokenizer_class):
        raise TypeError(
            f"`tokenizer` must be a keras_hub.tokenizers.{family.tokenizer} "
            f"(or a preprocessor holding one) for a {family.name} backbone. "
            f"Received: tokenizer of type {type(tokenizer).__name__}"
        )
    if tokenizer.vocabulary_size() != vocabulary_size(backbone):
        raise ValueError(
            "The tokenizer's vocabulary does not match the backbone's token "
            "embedding. Received: vocabulary_size="
            f"{tokenizer.vocabulary_size()} (tokenizer) vs "
            f"{vocabulary_size(backbone)} (backbone)"
        )
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    if task is None:
        backbone.save_to_preset(directory)
    else:
        # The Trainer sets `task.optimizer`; keras-hub would save its state
        # with the task's weights and warn at every load that it skips it.
        optimizer = getattr(task, "optimizer", None)
        task.optimizer = None
        try:
            task.save_to_preset(directory)
        finally:
            task.optimizer = optimizer
    tokenizer.save_to_preset(directory)
    return directory


def _read_config(preset):
    path = os.path.join(preset, "config.json")
    if not os.path.isfile(path):
        raise ValueError(
            "`preset` must be a preset folder with a config.json (a "
            "keras-hub preset or a Hugging Face model folder). Received: "
            f"preset={preset!r} (no config.json in it)"
        )
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"`preset`'s config.json cannot be read as JSON. Received: "
            f"preset={preset!r} ({error})"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            "`preset`'s config.json must hold a JSON object. Received: "
            f"preset={preset!r}"
        )
    return config


def _family_of_class(class_name, preset):
    family = _BY_BACKBONE.get(class_name)
    if family is None:
        raise UnsupportedPresetError(
            f"The preset is a keras-hub {class_name}, not a backbone of one "
            f"of the encoder families kerasft fine-tunes ({SUPPORTED}). "
            f"Received: preset={preset!r}"
        )
    return family
