import json
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kerasft.checks import check_choice, check_dropout, check_int

POOLINGS = ("cls", "pooled", "mean")
# The inputs of `keras_hub.models.BertBackbone`, all int32 (batch, seq_len).
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="kerasft")
class BertClassifier(keras.Model):
    """A keras-hub BERT encoder with a classification head; outputs logits.

    The backbone turns `{"token_ids", "segment_ids", "padding_mask"}` (int32,
    `(batch, seq_len)`) into one vector per token; `pooling` reduces them to
    one vector per sequence, then `Dropout` and a `Dense` head (`"logits"`)
    give `(batch, num_classes)` logits. Use losses with `from_logits=True`.

    Inputs are token ids, not strings: tokenize on the host, in `tf.data`
    (see `kerasft.data.make_text_dataset`), so the model runs on any device,
    TPUs included.

    With `pooling="cls"` or `"mean"` the backbone's pooler (`pooled_dense`)
    takes no part in the forward pass: its weights get no gradient and stay
    as loaded (Keras warns that "gradients do not exist" for them).

    Args:
        backbone: a `keras_hub.models.BertBackbone` (pretrained with
            `from_preset`, or built from a config with random weights).
        num_classes: int. Number of classes (logits), at least 2. Defaults
            to `2`.
        pooling: str. How the token vectors become one per sequence:
            `"cls"`, the `[CLS]` (first) token of `sequence_output`, as in
            keras-hub's pretraining setup and most fine-tuning recipes;
            `"pooled"`, the backbone's `pooled_output` (a tanh `Dense` on
            `[CLS]`, as in Hugging Face's `BertForSequenceClassification`);
            `"mean"`, the average over non-padding tokens (`padding_mask`).
            Defaults to `"cls"`.
        dropout: float. Dropout rate before the head, in [0, 1). Defaults to
            `0.1`.
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
    model = kerasft.models.BertClassifier(backbone, num_classes=3)
    inputs = {
        "token_ids": np.array([[2, 10, 11, 3, 0, 0]], "int32"),
        "segment_ids": np.zeros((1, 6), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32"),
    }
    logits = model(inputs)  # (1, 3)

    # Pretrained: a preset name, a keras-hub or Hugging Face folder, hf://.
    model = kerasft.models.BertClassifier.from_preset(
        "../shared/models/minilm-l6-h384-uncased", num_classes=2
    )
    ```
    """

    def __init__(
        self,
        backbone,
        num_classes=2,
        pooling="cls",
        dropout=0.1,
        **kwargs,
    ):
        if not isinstance(backbone, keras_hub.models.BertBackbone):
            raise TypeError(
                "`backbone` must be a keras_hub.models.BertBackbone (e.g. "
                "from `keras_hub.models.BertBackbone.from_preset(...)`). "
                f"Received: backbone={backbone!r} of type "
                f"{type(backbone).__name__}"
            )
        num_classes = check_int("num_classes", num_classes, minimum=2)
        pooling = check_choice("pooling", pooling, POOLINGS)
        dropout = check_dropout(dropout)
        super().__init__(**kwargs)

        # === Layers ===
        self.backbone = backbone
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=0.02
            ),
            dtype=backbone.dtype_policy,
            name="logits",
        )
        # The backbone is built already (a Functional model): build the head
        # too, so the model has all its weights (for parameter reports and
        # freezing) before it is ever called.
        self.head.build((None, backbone.hidden_dim))
        self.built = True

        # === Config ===
        self.num_classes = num_classes
        self.pooling = pooling
        self.dropout = dropout

    def _check_inputs(self, inputs):
        if not isinstance(inputs, dict) or not {
            "token_ids", "padding_mask"
        } <= set(inputs):
            received = (
                sorted(inputs) if isinstance(inputs, dict)
                else type(inputs).__name__
            )
            raise ValueError(
                f"{self.__class__.__name__} takes a dict of int tensors "
                "'token_ids', 'padding_mask' and (optional) 'segment_ids', "
                "each (batch, seq_len); tokenize text in the tf.data "
                "pipeline (kerasft.data.make_text_dataset). "
                f"Received: inputs={received}"
            )
        shape = tuple(inputs["token_ids"].shape)
        if len(shape) != 2:
            raise ValueError(
                "`token_ids` must have shape (batch, seq_len). Received: "
                f"token_ids.shape={shape}"
            )
        maximum = self.backbone.max_sequence_length
        if shape[1] is not None and shape[1] > maximum:
            raise ValueError(
                f"The sequence length is above the backbone's "
                f"max_sequence_length={maximum} (its position embeddings "
                f"stop there). Received: sequence_length={shape[1]} "
                f"(token_ids.shape={shape})"
            )

    def call(self, inputs, training=False):
        x = self.pooled_features(inputs, training=training)
        return self.classify(x, training=training)

    def classify(self, features, training=False):
        """The head alone: dropout then logits, on pooled features.

        Args:
            features: `(batch, hidden_dim)` pooled features, as returned by
                `pooled_features`.
            training: bool. Applies dropout when True.
        """
        x = self.output_dropout(features, training=training)
        return self.head(x)  # (batch, num_classes)

    def pooled_features(self, inputs, training=False):
        """The backbone and the pooling: `(batch, hidden_dim)` features.

        With the backbone frozen, these are all the head ever sees, so they
        can be computed once and cached (`kerasft.finetuning`).

        Args:
            inputs: dict of `token_ids`, `padding_mask` and optional
                `segment_ids`, each `(batch, seq_len)`.
            training: bool. Runs the backbone's dropout when True.
        """
        self._check_inputs(inputs)
        token_ids = inputs["token_ids"]
        features = {
            "token_ids": token_ids,
            "padding_mask": inputs["padding_mask"],
            "segment_ids": inputs.get(
                "segment_ids", keras.ops.zeros_like(token_ids)
            ),
        }
        # A wholly frozen backbone runs in inference mode (dropout off), as
        # keras-io's transfer-learning guide calls a frozen base with
        # training=False: frozen weights should not see training noise, and
        # its features can then be cached (kerasft.finetuning).
        frozen = not self.backbone.trainable_weights
        outputs = self.backbone(features, training=training and not frozen)
        if self.pooling == "pooled":
            x = outputs["pooled_output"]  # (batch, hidden_dim)
        elif self.pooling == "cls":
            sequence = outputs["sequence_output"]  # (batch, seq, hidden)
            x = sequence[:, self.backbone.cls_token_index, :]
        else:
            sequence = outputs["sequence_output"]  # (batch, seq, hidden)
            mask = keras.ops.cast(inputs["padding_mask"], sequence.dtype)
            mask = keras.ops.expand_dims(mask, -1)  # (batch, seq, 1)
            total = keras.ops.sum(sequence * mask, axis=1)
            # At least 1: an all-padding row gives zeros, not NaN.
            count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
            x = total / count  # (batch, hidden_dim)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape["token_ids"][0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "num_classes": self.num_classes,
                "pooling": self.pooling,
                "dropout": self.dropout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)

    @classmethod
    def from_preset(
        cls,
        preset,
        num_classes=2,
        pooling="cls",
        dropout=0.1,
        load_weights=True,
        **kwargs,
    ):
        """Builds a classifier on a pretrained BERT backbone.

        Loads through keras-hub's own preset machinery
        (`keras_hub.models.BertBackbone.from_preset`), so `preset` can be
        anything keras-hub takes: a built-in preset name
        (`"bert_tiny_en_uncased"`, see
        `keras_hub.models.BertBackbone.presets`), a local keras-hub preset
        folder (from `backbone.save_to_preset(folder)`), a local Hugging
        Face folder (`config.json` with `model_type: "bert"` and
        `model.safetensors`, converted on the fly), or a `"hf://org/name"`,
        `"kaggle://..."` handle. The head is new (random).

        The arguments and, for local folders and preset names, the preset's
        architecture are checked before anything is loaded.

        Args:
            preset: str or path-like. See above.
            num_classes: int. Number of classes, at least 2. Defaults to `2`.
            pooling: str. `"cls"`, `"pooled"` or `"mean"`. Defaults to
                `"cls"`.
            dropout: float. Dropout rate before the head. Defaults to `0.1`.
            load_weights: bool. Load the pretrained weights; `False` gives
                the preset's architecture with random weights. Defaults to
                `True`.
            **kwargs: passed to the `BertClassifier` constructor (`name`).

        Returns:
            A `BertClassifier`.

        Raises:
            ValueError: for a bad argument, a folder or name that is no
                preset, or a preset of another architecture than BERT.
            TypeError: if `preset` is not a string or path.
        """
        check_int("num_classes", num_classes, minimum=2)
        check_choice("pooling", pooling, POOLINGS)
        check_dropout(dropout)
        preset = check_bert_preset(preset)
        try:
            backbone = keras_hub.models.BertBackbone.from_preset(
                preset, load_weights=load_weights
            )
        except ValueError as error:
            # Remote handles are only checked by keras-hub itself.
            raise ValueError(
                f"keras-hub could not load a BERT backbone from the preset. "
                f"Received: preset={preset!r} ({error})"
            ) from error
        return cls(
            backbone,
            num_classes=num_classes,
            pooling=pooling,
            dropout=dropout,
            **kwargs,
        )

    def predict_texts(self, texts, preprocessor, batch_size=64):
        """Classifies raw strings: returns `(labels, probabilities)`.

        Tokenization runs in a tf.data pipeline on the host, as in training.

        Args:
            texts: list of strings, or a `(first, second)` tuple of lists
                for sentence pairs.
            preprocessor: the `BertTextClassifierPreprocessor` used in
                training (`kerasft.data.text_preprocessor`).
            batch_size: int. Sentences per forward pass.

        Returns:
            int64 `(num_texts,)` labels and float32
            `(num_texts, num_classes)` probabilities.

        Example:
        >>> labels, probabilities = classifier.predict_texts(
        ...     ["a gripping film"], preprocessor)  # doctest: +SKIP
        """
        # Imported here: kerasft.data imports the models' package.
        from kerasft.data import make_text_dataset

        first = texts[0] if isinstance(texts, tuple) else texts
        if isinstance(first, str) or not len(first):
            raise ValueError(
                "`texts` must be a non-empty list of strings (or a pair of "
                f"lists). Received: texts={texts!r}"
            )
        dataset = make_text_dataset(
            texts, preprocessor=preprocessor, batch_size=batch_size,
            shuffle=False)

        @tf.function(reduce_retracing=True)
        def probabilities_of(inputs):
            logits = tf.cast(self(inputs, training=False), "float32")
            return tf.nn.softmax(logits, axis=-1)

        probabilities = np.concatenate(
            [probabilities_of(batch).numpy() for batch in dataset])
        return probabilities.argmax(axis=-1).astype("int64"), probabilities

    def save_backbone_preset(self, directory, preprocessor):
        """Saves the backbone and its tokenizer as a keras-hub preset.

        `BertClassifier.from_preset(directory)` (and keras-hub's own
        `from_preset`) loads it back, for example to fine-tune a backbone
        after continued pretraining.

        Args:
            directory: str or path-like. The preset folder to write.
            preprocessor: the preprocessor (or tokenizer) whose vocabulary
                the backbone was trained with.
        """
        tokenizer = getattr(preprocessor, "tokenizer", preprocessor)
        if not isinstance(tokenizer, keras_hub.tokenizers.BertTokenizer):
            raise TypeError(
                "`preprocessor` must be a BertTextClassifierPreprocessor or "
                "a keras_hub BertTokenizer. Received: preprocessor of type "
                f"{type(preprocessor).__name__}"
            )
        if tokenizer.vocabulary_size() != self.backbone.vocabulary_size:
            raise ValueError(
                "The tokenizer's vocabulary does not match the backbone's "
                "token embedding. Received: vocabulary_size="
                f"{tokenizer.vocabulary_size()} (tokenizer) vs "
                f"{self.backbone.vocabulary_size} (backbone)"
            )
        directory = str(directory)
        self.backbone.save_to_preset(directory)
        tokenizer.save_to_preset(directory)


def check_bert_preset(preset):
    """Checks that `preset` names a BERT preset, without loading it.

    Reads only what is local: a folder's `config.json`, or keras-hub's table
    of built-in presets. Remote handles (`hf://`, `kaggle://`, ...) pass
    unchecked: keras-hub checks them as it downloads.

    Args:
        preset: str or path-like. A preset name, folder or handle.

    Returns:
        `preset` as a str.

    Raises:
        TypeError: if `preset` is not a str or path.
        ValueError: if it is neither a folder nor a known name or handle, a
            folder without `config.json`, or a preset of another
            architecture.
    """
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    if not isinstance(preset, str) or not preset:
        raise TypeError(
            "`preset` must be a preset name, folder or handle (a non-empty "
            f"str or path). Received: preset={preset!r} of type "
            f"{type(preset).__name__}"
        )
    if "://" in preset:
        return preset
    if os.path.exists(preset):
        preset_config(preset)  # raises unless it is a BERT preset
        return preset
    if preset in keras_hub.models.BertBackbone.presets:
        return preset
    if preset in keras_hub.models.Backbone.presets:
        family = keras_hub.models.Backbone.presets[preset]["metadata"].get(
            "path", "another architecture"
        )
        raise ValueError(
            f"The preset is a {family} model, not a BERT: BertClassifier "
            "needs a preset of keras_hub.models.BertBackbone (see "
            "`keras_hub.models.BertBackbone.presets`). "
            f"Received: preset={preset!r}"
        )
    raise ValueError(
        "`preset` is neither an existing folder nor a keras-hub BERT preset "
        "name (e.g. 'bert_tiny_en_uncased', see "
        "`keras_hub.models.BertBackbone.presets`) nor a handle such as "
        f"'hf://org/name'. Received: preset={preset!r} (no such folder)"
    )


def preset_config(preset):
    """Reads a local BERT preset folder's architecture, without weights.

    Args:
        preset: str. A keras-hub preset folder or a Hugging Face folder.

    Returns:
        A dict with the `BertBackbone` arguments found in `config.json`
        (`vocabulary_size`, `num_layers`, `num_heads`, `hidden_dim`,
        `intermediate_dim`, `max_sequence_length`).

    Raises:
        ValueError: if the folder has no readable `config.json` or it
            describes another architecture.
    """
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
    if "model_type" in config:  # Hugging Face layout
        if config["model_type"] != "bert":
            raise ValueError(
                f"The preset is a Hugging Face '{config['model_type']}' "
                "model, not a BERT (config.json needs model_type 'bert'). "
                f"Received: preset={preset!r}"
            )
        names = {
            "vocabulary_size": "vocab_size",
            "num_layers": "num_hidden_layers",
            "num_heads": "num_attention_heads",
            "hidden_dim": "hidden_size",
            "intermediate_dim": "intermediate_size",
            "max_sequence_length": "max_position_embeddings",
        }
        return {ours: config.get(theirs) for ours, theirs in names.items()}
    class_name = config.get("class_name")
    if class_name is None:
        raise ValueError(
            "`preset`'s config.json is neither a keras-hub preset (no "
            "'class_name') nor a Hugging Face config (no 'model_type'). "
            f"Received: preset={preset!r}"
        )
    if class_name != "BertBackbone":
        raise ValueError(
            f"The preset is a keras-hub {class_name}, not a BERT (config.json "
            f"needs class_name 'BertBackbone'). Received: preset={preset!r}"
        )
    return dict(config.get("config", {}))
